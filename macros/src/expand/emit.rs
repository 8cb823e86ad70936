//! What every layer's code generation shares: the runtime's path, typed literals, workspace
//! buffers and their names, and the gradient plumbing between a node and its inputs. One place
//! for these, so that `access` and `layers` both build on it without importing each other.

use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};

use super::plan::{KernelLayout, Plan, Weight};

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
    /// A constant expression for it without a heap (`Buffer::ZEROED`, an array literal), for
    /// the `const` constructors of heap-free tapes; `None` when it is built by a function.
    pub const_init: Option<TokenStream>,
    /// Needed in evaluation mode (and so by `infer`), not only for training.
    pub eval: bool,
    /// Elements per sample of the batch and fixed elements, for the byte counts.
    pub per_sample: usize,
    pub fixed: usize,
}

impl WorkspaceItem {
    /// A heap buffer `[[T; n]; B]`.
    pub fn batch(plan: &Plan, i: usize, what: &str, n: usize, eval: bool) -> Self {
        let (rt, t, zero) = (rt(), &plan.t, literal(plan, 0.0));
        WorkspaceItem {
            field: workspace_field(plan, i, what),
            ty: quote!(#rt::Buffer<[[#t; #n]; B]>),
            init: quote!(#rt::Buffer::zeroed()),
            stack_init: quote!([[#zero; #n]; B]),
            const_init: Some(quote!(#rt::Buffer::ZEROED)),
            eval,
            per_sample: n,
            fixed: 0,
        }
    }

    /// A heap buffer `[[T; cols]; rows]` independent of the batch size.
    pub fn matrix(plan: &Plan, i: usize, what: &str, rows: usize, cols: usize, eval: bool) -> Self {
        let (rt, t, zero) = (rt(), &plan.t, literal(plan, 0.0));
        WorkspaceItem {
            field: workspace_field(plan, i, what),
            ty: quote!(#rt::Buffer<[[#t; #cols]; #rows]>),
            init: quote!(#rt::Buffer::zeroed()),
            stack_init: quote!([[#zero; #cols]; #rows]),
            const_init: Some(quote!(#rt::Buffer::ZEROED)),
            eval,
            per_sample: 0,
            fixed: rows * cols,
        }
    }

    /// An inline value of type `ty`, created by `init` (no heap); constant when `init` is an
    /// array literal (`[[1.0f32; 4], [0.0f32; 4]]`).
    pub fn inline(
        plan: &Plan,
        i: usize,
        what: &str,
        ty: TokenStream,
        init: TokenStream,
        elements: (usize, usize),
        eval: bool,
    ) -> Self {
        let literal = matches!(
            init.clone().into_iter().next(),
            Some(proc_macro2::TokenTree::Group(group))
                if group.delimiter() == proc_macro2::Delimiter::Bracket
        );
        WorkspaceItem {
            field: workspace_field(plan, i, what),
            stack_init: init.clone(),
            const_init: literal.then(|| init.clone()),
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

/// `let` statements binding a mutable typed view of each tensor of node `i`'s parameter
/// gradient block, named `grad_<suffix>` (e.g. `grad_weight`, `grad_bias`), splitting the flat
/// buffer so that the views can be used together.
pub fn param_grad_views(plan: &Plan, i: usize, typed: &[(&str, TokenStream)]) -> TokenStream {
    let block = &plan.params[i];
    let off = plan.param_block_offset(i);
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

/// `(c_in, h, w)` of node `i`'s input image; a sequence `[C, L]` is the image `[C, 1, L]`.
pub fn input_image(plan: &Plan, i: usize) -> (usize, usize, usize) {
    plan.graph.nodes[plan.graph.nodes[i].inputs[0]]
        .shape
        .as_image()
        .expect("checked: an image or a sequence")
}

/// Statements writing Weight Norm's weight `g * v / ||v||` (one row per output) of the layer
/// whose weight is `Normed { g, v }` into `dest`, an expression of type `&mut [[T; K]; OUT]`.
/// A zero row of `v` has no direction: the weight becomes NaN, which the loss (or the caller's
/// finite check) then reports.
pub fn weight_norm_forward(
    plan: &Plan,
    i: usize,
    layout: &KernelLayout,
    dest: TokenStream,
) -> TokenStream {
    let (rt, t) = (rt(), &plan.t);
    let Weight::Normed = layout.weight else {
        return quote!();
    };
    let (g, v) = (
        plan.param_offset(i, "weight_g"),
        plan.param_offset(i, "weight_v"),
    );
    let (out, k) = (layout.out, layout.per_out);
    quote! {
        {
            let weight: &mut [[#t; #k]; #out] = #dest;
            if #rt::ops::norm::weight_norm_forward::<#t, #out, #k>(
                #rt::view::array::<#t, #out>(&params[#g..]),
                #rt::view::matrix::<#t, #out, #k>(&params[#v..]),
                weight,
            )
            .is_err()
            {
                weight.as_flattened_mut().fill(#t::NAN);
            }
        }
    }
}

/// Statements mapping the gradient `dw` of Weight Norm's weight (an expression of type
/// `&[[T; K]; OUT]`) to the gradients of `g` and `v` (expressions of types `&mut [T; OUT]` and
/// `&mut [[T; K]; OUT]`), overwriting them.
pub fn weight_norm_backward(
    plan: &Plan,
    i: usize,
    layout: &KernelLayout,
    dw: TokenStream,
    grad_g: TokenStream,
    grad_v: TokenStream,
) -> TokenStream {
    let (rt, t) = (rt(), &plan.t);
    let Weight::Normed = layout.weight else {
        return quote!();
    };
    let (g, v) = (
        plan.param_offset(i, "weight_g"),
        plan.param_offset(i, "weight_v"),
    );
    let (out, k) = (layout.out, layout.per_out);
    quote! {
        #rt::ops::norm::weight_norm_backward::<#t, #out, #k>(
            #rt::view::array::<#t, #out>(&params[#g..]),
            #rt::view::matrix::<#t, #out, #k>(&params[#v..]),
            #dw,
            #grad_g,
            #grad_v,
            #rt::Store::Overwrite,
        );
    }
}
