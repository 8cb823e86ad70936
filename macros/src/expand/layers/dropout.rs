//! `dropout(x, p)` (runtime `ops/dropout.rs`): in training a fresh mask from the network's
//! `dropout_rng` kept in the workspace for the backward pass; in evaluation a copy.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::{grad_targets, rt, Mode, WorkspaceItem};
use crate::expand::access::{grad, grad_mut, Access};
use crate::expand::plan::Plan;

/// The network field holding the generator that every dropout layer draws its masks from.
pub const RNG_FIELD: &str = "dropout_rng";

/// The tape field keeping the generator as it was before the last training forward pass.
const SAVED_FIELD: &str = "dropout_rng_before_forward";

/// The generated pieces of the network's dropout generator, each empty when the network has no
/// `dropout` layer.
///
/// A training step is a transaction for the generator as for the state: `forward_train` keeps
/// a copy in the tape before drawing the masks, and puts it back when it fails; a step that
/// fails after it (in `backward` or the optimizer) puts it back through
/// `Network::restore_rng_before_forward`, as it puts back the state.
pub struct Generator {
    /// The network field's declaration.
    pub field: TokenStream,
    /// Its value in `zeroed()` (`field: value,`).
    pub init: TokenStream,
    /// The statement seeding it in `new(seed)`.
    pub seed: TokenStream,
    /// The tape field holding the copy.
    pub tape_field: TokenStream,
    /// Its value in the tape's constructors (a constant expression).
    pub tape_init: TokenStream,
    /// The statement of `forward_train` keeping the copy.
    pub save: TokenStream,
    /// The statement putting the generator back from the copy.
    pub restore: TokenStream,
    /// `Network::restore_rng_before_forward`.
    pub trait_restore: TokenStream,
}

impl Generator {
    pub fn new(graph: &crate::graph::Graph) -> Self {
        if !graph
            .nodes
            .iter()
            .any(|n| matches!(n.op, crate::graph::Op::Dropout { .. }))
        {
            return Generator {
                field: quote!(),
                init: quote!(),
                seed: quote!(),
                tape_field: quote!(),
                tape_init: quote!(),
                save: quote!(),
                restore: quote!(),
                trait_restore: quote!(),
            };
        }
        let rt = rt();
        let field = format_ident!("{}", RNG_FIELD);
        let saved = format_ident!("{}", SAVED_FIELD);
        // Initializers draw from streams `4 * node + tensor`; this one is far from them.
        let stream = u64::MAX;
        let restore = quote! {
            if let ::core::option::Option::Some(rng) = &tape.#saved {
                self.#field.clone_from(rng);
            }
        };
        Generator {
            field: quote! {
                /// The generator every `dropout` layer draws its training masks from: seeded by
                /// `new(seed)`, so a seeded run is reproducible. Checkpoints save and restore it
                /// (and `Rng::state` / `Rng::from_state` expose it), so a run resumes exactly. A
                /// failed training step puts it back, like the running statistics: the next
                /// step draws the masks it would have drawn without the failed one.
                pub #field: #rt::Rng,
            },
            init: quote!(#field: #rt::Rng::new(0),),
            seed: quote!(net.#field = rng.fork(#stream);),
            tape_field: quote! {
                /// The network's dropout generator as it was before the last `forward_train`,
                /// so that a failed training step can put it back (`None` before the first).
                pub #saved: ::core::option::Option<#rt::Rng>,
            },
            tape_init: quote!(#saved: ::core::option::Option::None,),
            save: quote!(tape.#saved = ::core::option::Option::Some(self.#field.clone());),
            trait_restore: quote! {
                fn restore_rng_before_forward<const B: usize>(&mut self, tape: &Self::Tape<B>) {
                    #restore
                }
            },
            restore,
        }
    }
}

/// The mask (`0` or `1 / (1 - p)` per element) of the last training forward pass.
pub fn workspace(plan: &Plan, i: usize) -> Vec<WorkspaceItem> {
    vec![WorkspaceItem::batch(plan, i, "mask", plan.numel(i), false)]
}

pub fn forward(plan: &Plan, access: &Access, mode: Mode, i: usize, p: f64) -> TokenStream {
    let (rt, t) = (rt(), &plan.t);
    let node = &plan.graph.nodes[i];
    let n = plan.numel(i);
    let x = access.value(plan, node.inputs[0]);
    let y = access.value_mut(plan, i);
    match mode {
        Mode::Train => {
            let mask = access.workspace(plan, i, "mask");
            let rng = quote::format_ident!("{}", RNG_FIELD);
            quote! {
                #rt::ops::dropout::dropout_train_forward::<#t, B, #n>(
                    &const { #rt::ops::dropout::Dropout::new_const(#p) },
                    &mut self.#rng,
                    #x,
                    #mask,
                    #y,
                );
            }
        }
        Mode::Eval => quote!(#rt::ops::dropout::dropout_eval_forward::<#t, B, #n>(#x, #y);),
    }
}

pub fn backward(plan: &Plan, i: usize) -> TokenStream {
    let (rt, t) = (rt(), &plan.t);
    let n = plan.numel(i);
    let dy = grad(plan, i);
    let mask = Access::Tape.scratch_ref(&super::workspace_field(plan, i, "mask"));
    let calls = grad_targets(plan, i).into_iter().map(|(k, j)| {
        let dx = grad_mut(plan, j);
        let store = plan.store(i, k);
        quote!(#rt::ops::dropout::dropout_backward::<#t, B, #n>(#dy, #mask, #dx, #store);)
    });
    quote!(#(#calls)*)
}
