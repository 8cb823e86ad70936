//! `dropout(x, p)` (runtime `ops/dropout.rs`): in training a fresh mask from the network's
//! `dropout_rng` kept in the workspace for the backward pass; in evaluation a copy.

use proc_macro2::TokenStream;
use quote::quote;

use super::{grad_targets, rt, Mode, WorkspaceItem};
use crate::expand::access::{grad, grad_mut, Access};
use crate::expand::plan::Plan;

/// The network field holding the generator that every dropout layer draws its masks from.
pub const RNG_FIELD: &str = "dropout_rng";

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
