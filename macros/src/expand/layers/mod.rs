//! Per-layer code generation: for every operation, the forward call, the backward calls and the
//! workspace buffers it needs, one file per family of layers. `expand` walks the graph and asks
//! this module for each node's code.

mod combine;
mod conv;
mod dense;
mod dropout;
mod norm;
mod pointwise;

use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};

use super::access::Access;
use super::plan::Plan;
use crate::graph::ops::Loss;
use crate::graph::Op;

/// Whether normalization layers use batch statistics (and update running ones) or running ones.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Train,
    Eval,
}

/// The runtime crate's path, for `quote!`.
pub fn rt() -> TokenStream {
    quote!(::monograd::runtime)
}

/// A typed literal of the element type, e.g. `0.01f32`.
pub fn literal(plan: &Plan, value: f64) -> TokenStream {
    let text = format!("{value:?}{}", plan.t);
    text.parse().expect("a float literal")
}

/// A scratch buffer a layer needs, a field of the generated workspace struct (or a local of
/// `infer`).
pub struct WorkspaceItem {
    pub field: Ident,
    /// Its type (may mention the batch size `B`).
    pub ty: TokenStream,
    /// An expression creating it zeroed (on the heap where it is a `Buffer`).
    pub init: TokenStream,
    /// An expression creating it zeroed on the stack, for `infer`.
    pub stack_init: TokenStream,
    /// Needed in evaluation mode (and so by `infer`), not only for training.
    pub eval: bool,
    /// Elements per sample of the batch and fixed elements, for the byte counts.
    pub per_sample: usize,
    pub fixed: usize,
}

impl WorkspaceItem {
    /// A heap buffer `[[T; n]; B]`.
    fn batch(plan: &Plan, i: usize, what: &str, n: usize, eval: bool) -> Self {
        let (rt, t, zero) = (rt(), &plan.t, literal(plan, 0.0));
        WorkspaceItem {
            field: workspace_field(plan, i, what),
            ty: quote!(#rt::Buffer<[[#t; #n]; B]>),
            init: quote!(#rt::Buffer::zeroed()),
            stack_init: quote!([[#zero; #n]; B]),
            eval,
            per_sample: n,
            fixed: 0,
        }
    }

    /// A heap buffer `[[T; cols]; rows]` independent of the batch size.
    fn matrix(plan: &Plan, i: usize, what: &str, rows: usize, cols: usize, eval: bool) -> Self {
        let (rt, t, zero) = (rt(), &plan.t, literal(plan, 0.0));
        WorkspaceItem {
            field: workspace_field(plan, i, what),
            ty: quote!(#rt::Buffer<[[#t; #cols]; #rows]>),
            init: quote!(#rt::Buffer::zeroed()),
            stack_init: quote!([[#zero; #cols]; #rows]),
            eval,
            per_sample: 0,
            fixed: rows * cols,
        }
    }

    /// An inline value of type `ty`, created by `init` (no heap).
    fn inline(
        plan: &Plan,
        i: usize,
        what: &str,
        ty: TokenStream,
        init: TokenStream,
        elements: (usize, usize),
        eval: bool,
    ) -> Self {
        WorkspaceItem {
            field: workspace_field(plan, i, what),
            stack_init: init.clone(),
            init,
            ty,
            eval,
            per_sample: elements.0,
            fixed: elements.1,
        }
    }
}

/// Name of a workspace buffer: `<node>_<what>`.
pub fn workspace_field(plan: &Plan, i: usize, what: &str) -> Ident {
    format_ident!("{}_{}", plan.graph.nodes[i].name, what)
}

/// Every workspace buffer of the network: each node's, then those shared by several layers.
pub fn all_workspace(plan: &Plan) -> Vec<WorkspaceItem> {
    let mut items: Vec<WorkspaceItem> = (0..plan.node_count())
        .flat_map(|i| workspace(plan, i))
        .collect();
    items.extend(conv::shared_workspace(plan));
    items
}

/// The workspace buffers of node `i`.
fn workspace(plan: &Plan, i: usize) -> Vec<WorkspaceItem> {
    match &plan.graph.nodes[i].op {
        Op::Linear(linear) => dense::workspace(plan, i, linear),
        Op::Conv2d(conv) => conv::workspace(plan, i, conv),
        Op::Dropout { .. } => dropout::workspace(plan, i),
        Op::BatchNorm(_)
        | Op::BatchRenorm(_)
        | Op::LayerNorm(_)
        | Op::InstanceNorm(_)
        | Op::GroupNorm { .. } => norm::workspace(plan, i),
        _ => Vec::new(),
    }
}

/// The network's dropout generator, when it has a `dropout` layer: its field declaration, its
/// initializer in `zeroed()` and the statement seeding it in `new(seed)`.
pub fn dropout_rng(graph: &crate::graph::Graph) -> (TokenStream, TokenStream, TokenStream) {
    if !graph
        .nodes
        .iter()
        .any(|n| matches!(n.op, Op::Dropout { .. }))
    {
        return (quote!(), quote!(), quote!());
    }
    let rt = rt();
    let field = format_ident!("{}", dropout::RNG_FIELD);
    // Initializers draw from streams `4 * node + tensor`; this one is far from them.
    let stream = u64::MAX;
    (
        quote! {
            /// The generator every `dropout` layer draws its training masks from: seeded by
            /// `new(seed)`, so a seeded run is reproducible. Checkpoints save and restore it
            /// (and `Rng::state` / `Rng::from_state` expose it), so a run resumes exactly. It
            /// is not part of a training step's transaction: a failed step still used its
            /// masks' draws.
            pub #field: #rt::Rng,
        },
        quote!(#field: #rt::Rng::new(0),),
        quote!(net.#field = rng.fork(#stream);),
    )
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

/// An expression for the elements of GEMM packing scratch the network's layers need at batch
/// `batch` (the largest of them), sizing the `gemm_pack` buffer of tapes and evaluation buffers.
pub fn gemm_pack_len(plan: &Plan, batch: &TokenStream) -> TokenStream {
    let rt = rt();
    let terms: Vec<TokenStream> = (0..plan.node_count())
        .filter_map(|i| match &plan.graph.nodes[i].op {
            Op::Linear(linear) => Some(dense::pack_len(plan, i, linear, batch)),
            Op::Conv2d(conv) => Some(conv::pack_len(plan, i, conv)),
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
        Op::Input | Op::Loss(_) | Op::Flatten | Op::Reshape(_) | Op::Identity => quote!(),
        Op::Linear(linear) => dense::forward(plan, access, i, linear),
        Op::Activation(_) | Op::Softmax | Op::Add | Op::Concat => {
            pointwise::forward(plan, access, i)
        }
        Op::Sub | Op::Mul | Op::Scale(_) => combine::forward(plan, access, i),
        Op::Dropout { p } => dropout::forward(plan, access, mode, i, *p),
        Op::Conv2d(_) | Op::MaxPool2d(_) | Op::AvgPool2d(_) | Op::GlobalAvgPool => {
            conv::forward(plan, access, i)
        }
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
        Op::Input | Op::Loss(_) | Op::Flatten | Op::Reshape(_) | Op::Identity => quote!(),
        Op::Linear(linear) => dense::backward(plan, i, linear),
        Op::Activation(_) | Op::Softmax | Op::Add | Op::Concat => pointwise::backward(plan, i),
        Op::Sub | Op::Mul | Op::Scale(_) => combine::backward(plan, i),
        Op::Dropout { .. } => dropout::backward(plan, i),
        Op::Conv2d(_) | Op::MaxPool2d(_) | Op::AvgPool2d(_) | Op::GlobalAvgPool => {
            conv::backward(plan, i)
        }
        Op::BatchNorm(_)
        | Op::BatchRenorm(_)
        | Op::LayerNorm(_)
        | Op::InstanceNorm(_)
        | Op::GroupNorm { .. } => norm::backward(plan, i, collective),
    }
}

/// `(argument position, input node)` of the inputs of node `i` that need a gradient.
pub fn grad_targets(plan: &Plan, i: usize) -> Vec<(usize, usize)> {
    plan.graph.nodes[i]
        .inputs
        .iter()
        .enumerate()
        .filter(|(_, &j)| plan.needs_grad[j])
        .map(|(k, &j)| (k, j))
        .collect()
}

/// The loss kernel call: the mean loss of the output against `targets` and, when the output
/// needs a gradient, the gradient. Evaluates to `Result<T, Error>`.
pub fn loss_call(plan: &Plan, access: &Access, with_grad: bool) -> TokenStream {
    let rt = rt();
    let t = &plan.t;
    let loss = plan.loss_index();
    let Op::Loss(kind) = plan.graph.nodes[loss].op else {
        unreachable!("the last node is the loss")
    };
    let output = plan.graph.output_index();
    let n = plan.numel(output);
    let y = access.value(plan, output);
    let name = match kind {
        Loss::SoftmaxCrossEntropy => "softmax_cross_entropy",
        Loss::Logistic { signed: false } => "binary_cross_entropy_with_logits",
        Loss::Logistic { signed: true } => "logistic_loss_signed",
        Loss::Mse => "mse",
    };
    if with_grad && plan.needs_grad[output] {
        let f = format_ident!("{}", name);
        let dy = super::access::grad_mut(plan, output);
        let store = plan.store(loss, 0);
        quote!(#rt::ops::loss::#f::<#t, B, #n>(#y, targets, #dy, #store))
    } else {
        let f = format_ident!("{}_loss", name);
        quote!(#rt::ops::loss::#f::<#t, B, #n>(#y, targets))
    }
}

/// `let` statements binding a mutable typed view of each tensor of node `i`'s parameter
/// gradient block, named `grad_<suffix>` (e.g. `grad_weight`, `grad_bias`), splitting the flat
/// buffer so that the views can be used together.
pub fn param_grad_views(plan: &Plan, i: usize, typed: &[(&str, TokenStream)]) -> TokenStream {
    let block = &plan.params[i];
    let off = block.offset;
    let mut statements = vec![quote!(let rest = &mut tape.param_grads[#off..];)];
    for tensor in &block.tensors {
        let name = format_ident!("grad_{}", tensor.suffix);
        let len = tensor.len();
        let view = typed
            .iter()
            .find(|(s, _)| *s == tensor.suffix)
            .map(|(_, v)| v.clone())
            .expect("a view for every tensor");
        statements.push(quote! {
            let (#name, rest) = rest.split_at_mut(#len);
            let #name = #view(#name);
        });
    }
    statements.push(quote!(let _ = rest;));
    quote!(#(#statements)*)
}
