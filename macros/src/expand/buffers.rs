//! The buffer types of a training network: `NetActivations<B>` (one field per node whose
//! values are kept), `NetWorkspace<B>` (the layers' scratch) and the `NetTargets<B>` alias, each
//! with what it counts toward `tape_bytes`.

use proc_macro2::{Ident, TokenStream};
use quote::quote;

use super::layers::{self, rt};
use super::plan::Plan;
use super::{frozen, inputs};
use crate::graph::ops::Loss;
use crate::graph::Op;

/// `NetActivations<B>` and its `zeroed()`.
pub fn activations(plan: &Plan, activations: &Ident) -> TokenStream {
    let (rt, t, graph) = (rt(), &plan.t, plan.graph);
    let (vis, name) = (&graph.vis, &graph.name);
    let buffered: Vec<usize> = plan.buffered().collect();
    let fields = buffered.iter().map(|&i| {
        let field = plan.field(i);
        let n = plan.numel(i);
        let node = &graph.nodes[i];
        let doc = format!("`{}`: {} per sample.", node.name, node.shape);
        quote!(#[doc = #doc] pub #field: #rt::Buffer<[[#t; #n]; B]>,)
    });
    let inits = buffered.iter().map(|&i| {
        let field = plan.field(i);
        quote!(#field: #rt::Buffer::zeroed(),)
    });
    let doc = format!(
        "The output of every node of [`{name}`] for a batch of `B` samples (one field per node, \
         named after it), or the gradient of the loss with respect to it."
    );
    quote! {
        #[doc = #doc]
        #vis struct #activations<const B: usize> {
            #(#fields)*
        }

        impl<const B: usize> #activations<B> {
            /// All-zero buffers (heap-allocated with feature `alloc`).
            pub fn zeroed() -> Self {
                Self { #(#inits)* }
            }
        }
    }
}

/// Elements per sample of `NetActivations`.
fn activations_per_sample(plan: &Plan) -> usize {
    plan.buffered().map(|i| plan.numel(i)).sum()
}

/// The names of the generated buffer types.
pub struct Names<'a> {
    pub activations: &'a Ident,
    pub workspace: &'a Ident,
    pub tape: &'a Ident,
}

/// `NetTape<B>`, everything a training step needs, and its `new()` (also its `Default`).
pub fn tape(plan: &Plan, names: &Names) -> TokenStream {
    let (rt, t, graph) = (rt(), &plan.t, plan.graph);
    let (vis, name) = (&graph.vis, &graph.name);
    let Names {
        activations,
        workspace,
        tape,
    } = names;
    let (p, s) = (plan.param_count, plan.state_count);
    let frozen = frozen::items(plan);
    let (frozen_tape_field, frozen_tape_init) = (&frozen.tape_field, &frozen.tape_init);
    let dropout = layers::dropout_rng(graph);
    let (dropout_tape_field, dropout_tape_init) = (&dropout.tape_field, &dropout.tape_init);
    let (input_grad_ty, input_grad_init) =
        (inputs::input_grad_ty(plan), inputs::input_grad_init(plan));
    let pack_len_b = layers::gemm_pack_len(plan, &quote!(B));
    let tape_doc = format!(
        "Everything a training step of [`{name}`] needs for a batch of `B` samples, allocated \
         once: node outputs, their gradients, the parameter gradient and layer scratch space. \
         Reuse one tape for every step of the same batch size."
    );
    quote! {
        #[doc = #tape_doc]
        #vis struct #tape<const B: usize> {
            /// Node outputs of the last forward pass.
            pub values: #activations<B>,
            /// Gradients of the loss with respect to node outputs, from the last backward pass.
            pub grads: #activations<B>,
            /// Gradient of the loss with respect to every parameter, laid out like `params`.
            pub param_grads: #rt::Buffer<[#t; #p]>,
            /// Layer scratch space.
            pub workspace: #workspace<B>,
            /// The network's state as it was before the last `forward_train`, so that a failed
            /// training step can put it back.
            pub state_before_forward: #rt::Buffer<[#t; #s]>,
            #dropout_tape_field
            #frozen_tape_field
            /// Gradient with respect to the input, from the last
            /// `input_grad_from` / `backward_with_input_grad`.
            pub input_grad: #input_grad_ty,
            /// Packing scratch of the layers' GEMMs (allocated once; empty without a heap).
            pub gemm_pack: #rt::ScratchBuffer<#t>,
        }

        impl<const B: usize> #tape<B> {
            /// A zeroed tape for batches of `B` samples.
            pub fn new() -> Self {
                Self {
                    values: #activations::zeroed(),
                    grads: #activations::zeroed(),
                    param_grads: #rt::Buffer::zeroed(),
                    workspace: #workspace::zeroed(),
                    state_before_forward: #rt::Buffer::zeroed(),
                    #dropout_tape_init
                    #frozen_tape_init
                    input_grad: #input_grad_init,
                    gemm_pack: #rt::ScratchBuffer::zeroed(#pack_len_b),
                }
            }
        }

        impl<const B: usize> ::core::default::Default for #tape<B> {
            fn default() -> Self {
                Self::new()
            }
        }

    }
}

/// `Net::tape_bytes(batch)`: what [`tape`] holds, in bytes.
pub fn tape_bytes(plan: &Plan) -> TokenStream {
    let (rt, t) = (rt(), &plan.t);
    let (p, s) = (plan.param_count, plan.state_count);
    let act_per_sample = activations_per_sample(plan);
    let (ws_per_sample, ws_fixed) = workspace_elements(plan);
    let frozen_len = plan.frozen_len();
    let input_n = plan.input_numel();
    let pack_len_batch = layers::gemm_pack_len(plan, &quote!(batch));
    let elements = quote! {
        (2 * batch * #act_per_sample + #p + #s + batch * #ws_per_sample + #ws_fixed
            + #frozen_len + batch * #input_n
            + #rt::ScratchBuffer::<#t>::held_len(#pack_len_batch))
            * ::core::mem::size_of::<#t>()
    };
    // The copy of the dropout generator is a field of its own, whose alignment pads the tape.
    let bytes = match layers::dropout_rng(plan.graph).tape_field.is_empty() {
        true => elements,
        false => quote! {
            (#elements + ::core::mem::size_of::<::core::option::Option<#rt::Rng>>())
                .next_multiple_of(::core::mem::align_of::<::core::option::Option<#rt::Rng>>())
        },
    };
    quote! {
        /// Bytes of the buffers a `Tape<batch>` holds: node outputs and their gradients, the
        /// parameter gradient, a copy of the state (and of the dropout generator, if any),
        /// layer scratch space and GEMM packing scratch. On the heap with feature `alloc`;
        /// without it the buffers are inline and this is exactly `size_of::<Tape<batch>>()`
        /// (no packing scratch).
        #[inline]
        pub const fn tape_bytes(batch: usize) -> usize {
            #bytes
        }
    }
}

/// `NetWorkspace<B>` and its `zeroed()`.
pub fn workspace(plan: &Plan, workspace: &Ident) -> TokenStream {
    let graph = plan.graph;
    let (vis, name) = (&graph.vis, &graph.name);
    let doc = format!("Scratch buffers of [`{name}`] layers for a batch of `B` samples.");
    let items = layers::all_workspace(plan);
    let fields = items.iter().map(|item| {
        let (field, ty) = (&item.field, &item.ty);
        quote!(#[doc = "Layer scratch."] pub #field: #ty,)
    });
    let inits = items.iter().map(|item| {
        let (field, init) = (&item.field, &item.init);
        quote!(#field: #init,)
    });
    quote! {
        #[doc = #doc]
        #vis struct #workspace<const B: usize> {
            #(#fields)*
        }

        impl<const B: usize> #workspace<B> {
            /// All-zero buffers.
            pub fn zeroed() -> Self {
                Self { #(#inits)* }
            }
        }
    }
}

/// Elements of `NetWorkspace`: per sample of the batch, and fixed.
fn workspace_elements(plan: &Plan) -> (usize, usize) {
    layers::all_workspace(plan)
        .iter()
        .fold((0, 0), |(per_sample, fixed), item| {
            (per_sample + item.per_sample, fixed + item.fixed)
        })
}

/// One sample's target and the docs of `NetTargets`: a class label for softmax cross-entropy,
/// an array like the output otherwise.
fn target(plan: &Plan) -> (TokenStream, String) {
    let (t, graph) = (&plan.t, plan.graph);
    let name = &graph.name;
    let output_n = plan.numel(graph.output_index());
    let Op::Loss(loss_kind) = graph.nodes[plan.loss_index()].op else {
        unreachable!("checked: the last node is the loss")
    };
    let (target_ty, targets_doc) = match loss_kind {
        Loss::SoftmaxCrossEntropy => (
            quote!(usize),
            format!("Class labels for a batch of `B` samples of [`{name}`]: one `usize` in `0..{output_n}` per sample."),
        ),
        Loss::Logistic { signed: false } => (
            quote!([#t; #output_n]),
            format!("Binary targets in [0, 1] (one per output) for a batch of `B` samples of [`{name}`]."),
        ),
        Loss::Logistic { signed: true } => (
            quote!([#t; #output_n]),
            format!("Labels in {{-1, +1}} (one per output) for a batch of `B` samples of [`{name}`]."),
        ),
        Loss::Mse => (
            quote!([#t; #output_n]),
            format!("Regression targets (one per output) for a batch of `B` samples of [`{name}`]."),
        ),
    };
    (target_ty, targets_doc)
}

/// The type of one sample's target (`Network::Target`).
pub fn target_ty(plan: &Plan) -> TokenStream {
    target(plan).0
}

/// `NetTargets<B>`: what the loss compares the output with.
pub fn targets(plan: &Plan, targets_ty: &Ident) -> TokenStream {
    let vis = &plan.graph.vis;
    let (target_ty, targets_doc) = target(plan);
    quote! {
        #[doc = #targets_doc]
        #vis type #targets_ty<const B: usize> = [#target_ty; B];
    }
}
