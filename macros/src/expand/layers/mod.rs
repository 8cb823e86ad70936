//! Per-layer code generation: for every operation, the forward call, the backward calls and the
//! workspace buffers it needs, one file per family of layers named as the runtime's
//! `ops/` modules (`linear`, `conv`, `pool`, `activation`, `combine`, `norm`, `dropout`,
//! `loss`). `expand` walks the graph and asks this module for each node's code; the helpers
//! every family shares live in `expand/emit.rs`.

mod activation;
mod combine;
mod conv;
mod dropout;
mod linear;
mod loss;
mod norm;
mod pool;
mod recurrent;

pub use activation::activation;
pub use pool::fused_relu_forward;

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::access::Access;
use super::plan::Plan;
pub use crate::expand::emit::{
    grad_targets, input_image, literal, param_grad_views, rt, workspace_field, Mode, WorkspaceItem,
};
use crate::graph::Op;
pub use loss::call as loss_call;

/// Every workspace buffer of the network: each node's, then those shared by several layers.
pub fn all_workspace(plan: &Plan) -> Vec<WorkspaceItem> {
    let mut items: Vec<WorkspaceItem> = (0..plan.node_count())
        .flat_map(|i| workspace(plan, i))
        .collect();
    items.extend(conv::shared_workspace(plan));
    items.extend(conv::shared_weight_workspace(plan));
    items
}

/// The workspace buffers of node `i`.
fn workspace(plan: &Plan, i: usize) -> Vec<WorkspaceItem> {
    match &plan.graph.nodes[i].op {
        Op::Linear(linear) => linear::workspace(plan, i, linear),
        Op::Conv2d(conv) => conv::workspace(plan, i, conv),
        Op::Recurrent(rnn) => recurrent::workspace(plan, i, rnn),
        Op::Dropout { .. } => dropout::workspace(plan, i),
        Op::BatchNorm(_)
        | Op::BatchRenorm(_)
        | Op::LayerNorm(_)
        | Op::InstanceNorm(_)
        | Op::GroupNorm { .. } => norm::workspace(plan, i),
        Op::Loss(_) => loss::workspace(plan, i),
        _ => Vec::new(),
    }
}

/// The network's dropout generator and the tape's copy of it, when it has a `dropout` layer.
pub fn dropout_rng(graph: &crate::graph::Graph) -> dropout::Generator {
    dropout::Generator::new(graph)
}

/// The field of the network's dropout generator, when it has a `dropout` layer.
pub fn dropout_rng_field(graph: &crate::graph::Graph) -> Option<TokenStream> {
    let field = format_ident!("{}", dropout::RNG_FIELD);
    graph
        .nodes
        .iter()
        .any(|n| matches!(n.op, Op::Dropout { .. }))
        .then(|| quote!(#field))
}

/// The geometry of every convolution and pooling layer as a named constant of the network
/// (`Net::C_GEOMETRY`), with the impls through which the kernels read them.
pub fn geometries(plan: &Plan) -> TokenStream {
    let (mut consts, mut impls) = conv::geometries(plan);
    let (pool_consts, pool_impls) = pool::geometries(plan);
    consts.extend(pool_consts);
    impls.extend(pool_impls);
    if consts.is_empty() {
        return quote!();
    }
    let name = &plan.graph.name;
    quote! {
        impl #name {
            #(#consts)*
        }
        #(#impls)*
    }
}

/// An expression for the elements of GEMM packing scratch the network's layers need at batch
/// `batch` (the largest of them), sizing the `gemm_pack` buffer of tapes and evaluation buffers.
pub fn gemm_pack_len(plan: &Plan, batch: &TokenStream) -> TokenStream {
    let rt = rt();
    let terms: Vec<TokenStream> = (0..plan.node_count())
        .filter_map(|i| match &plan.graph.nodes[i].op {
            Op::Linear(linear) => Some(linear::pack_len(plan, i, linear, batch)),
            Op::Conv2d(_) => Some(conv::pack_len(plan, i)),
            _ => None,
        })
        .collect();
    quote!(#rt::buffer::max_len(&[#(#terms),*]))
}

/// The statement computing node `i`'s values. In [`Mode::Train`] it sits in a block labelled
/// `'layers` of a method with a `collective`, which batch normalization layers sum their
/// statistics over (`break 'layers Err(error)` when it fails).
pub fn forward(plan: &Plan, access: &Access, mode: Mode, i: usize) -> TokenStream {
    let node = &plan.graph.nodes[i];
    match &node.op {
        Op::Input => super::inputs::copy_in(plan, access, i),
        Op::Loss(_) | Op::Flatten | Op::Reshape(_) | Op::Identity => quote!(),
        Op::Linear(linear) => linear::forward(plan, access, i, linear),
        Op::Activation(_) | Op::Softmax => activation::forward(plan, access, i),
        Op::Add | Op::Concat | Op::Sub | Op::Mul | Op::Scale(_) => {
            combine::forward(plan, access, i)
        }
        Op::Dropout { p } => dropout::forward(plan, access, mode, i, *p),
        Op::Recurrent(rnn) => recurrent::forward(plan, access, i, rnn),
        Op::Conv2d(_) => conv::forward(plan, access, i),
        Op::MaxPool2d(_) | Op::AvgPool2d(_) | Op::GlobalAvgPool => pool::forward(plan, access, i),
        Op::BatchNorm(_)
        | Op::BatchRenorm(_)
        | Op::LayerNorm(_)
        | Op::InstanceNorm(_)
        | Op::GroupNorm { .. } => norm::forward(plan, access, mode, i),
    }
}

/// The statements propagating the gradient of node `i` (training mode, in the tape) to its
/// parameters and to those inputs that need a gradient, for this participant's batch alone.
pub fn backward(plan: &Plan, i: usize) -> TokenStream {
    backward_in(plan, i, false)
}

/// As [`backward`], inside a block labelled `'layers` of a method with a `collective`: batch
/// normalization layers sum their statistics' gradients over its participants, and `break
/// 'layers Err(error)` when it fails.
pub fn backward_with_collective(plan: &Plan, i: usize) -> TokenStream {
    backward_in(plan, i, true)
}

fn backward_in(plan: &Plan, i: usize, collective: bool) -> TokenStream {
    let node = &plan.graph.nodes[i];
    match &node.op {
        Op::Loss(_) => loss::backward(plan, i),
        Op::Input | Op::Flatten | Op::Reshape(_) | Op::Identity => quote!(),
        Op::Linear(linear) => linear::backward(plan, i, linear),
        Op::Activation(_) | Op::Softmax => activation::backward(plan, i),
        Op::Add | Op::Concat | Op::Sub | Op::Mul | Op::Scale(_) => combine::backward(plan, i),
        Op::Dropout { .. } => dropout::backward(plan, i),
        Op::Recurrent(rnn) => recurrent::backward(plan, i, rnn),
        Op::Conv2d(_) => conv::backward(plan, i),
        Op::MaxPool2d(_) | Op::AvgPool2d(_) | Op::GlobalAvgPool => pool::backward(plan, i),
        Op::BatchNorm(_)
        | Op::BatchRenorm(_)
        | Op::LayerNorm(_)
        | Op::InstanceNorm(_)
        | Op::GroupNorm { .. } => norm::backward(plan, i, collective),
    }
}

/// One statement per input of node `i` that needs a gradient: `call(dx, store)` with that
/// input's gradient buffer and whether it is overwritten or accumulated.
pub fn input_grads(
    plan: &Plan,
    i: usize,
    call: &dyn Fn(TokenStream, TokenStream) -> TokenStream,
) -> Vec<TokenStream> {
    grad_targets(plan, i)
        .into_iter()
        .map(|(k, j)| call(super::access::grad_mut(plan, j), plan.store(i, k)))
        .collect()
}
