//! Forward pass: one runtime call per node, in evaluation order.

use proc_macro2::TokenStream;
use quote::quote;

use super::access::Access;
use super::plan::Plan;
use crate::graph::ops::{Activation, Linear};
use crate::graph::Op;

/// Whether normalization layers use batch statistics (and update running ones) or running ones.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Train,
    Eval,
}

const RT: &str = "::monograd::runtime";

/// The runtime crate's path, for `quote!`.
pub fn rt() -> TokenStream {
    RT.parse().expect("a valid path")
}

/// Statements computing every node's values from `x`, `params` (and `state`).
pub fn forward_body(plan: &Plan, access: &Access, mode: Mode) -> TokenStream {
    let steps = (1..plan.node_count()).map(|i| node_forward(plan, access, mode, i));
    quote!(#(#steps)*)
}

/// A typed literal of the element type.
pub fn literal(plan: &Plan, value: f64) -> TokenStream {
    let text = format!("{value:?}{}", plan.t);
    text.parse().expect("a float literal")
}

fn node_forward(plan: &Plan, access: &Access, mode: Mode, i: usize) -> TokenStream {
    let rt = rt();
    let t = &plan.t;
    let node = &plan.graph.nodes[i];
    let n = plan.numel(i);
    let input = |k: usize| access.value(plan, node.inputs[k]);
    let out = access.value_mut(plan, i);
    let _ = mode;
    match &node.op {
        Op::Input | Op::Loss(_) | Op::Flatten => quote!(),
        Op::Linear(linear) => {
            let x = input(0);
            let (weight, bias) = linear_params(plan, i, linear, quote!(params));
            let inp = plan.numel(node.inputs[0]);
            quote! {
                #rt::ops::dense::dense_forward::<#t, B, #inp, #n>(#x, #weight, #bias, #out);
            }
        }
        Op::Activation(act) => {
            let x = input(0);
            let act = activation(plan, act);
            quote! {
                #rt::ops::activation::activation_forward::<#t, _, B, #n>(&#act, #x, #out);
            }
        }
        Op::Softmax => {
            let x = input(0);
            quote!(#rt::ops::activation::softmax_forward::<#t, B, #n>(#x, #out);)
        }
        Op::Add => {
            let (a, b) = (input(0), input(1));
            quote!(#rt::ops::combine::add_forward::<#t, B, #n>(#a, #b, #out);)
        }
        Op::Concat => {
            let (a, b) = (input(0), input(1));
            let na = plan.numel(node.inputs[0]);
            let nb = plan.numel(node.inputs[1]);
            quote!(#rt::ops::combine::concat_forward::<#t, B, #na, #nb, #n>(#a, #b, #out);)
        }
        other => {
            let message = format!("monograd: code generation for {other:?} is not available yet");
            quote!(::core::compile_error!(#message);)
        }
    }
}

/// `(weight, bias)` expressions of a linear layer: `&[[T; IN]; OUT]` and `Option<&[T; OUT]>`.
pub fn linear_params(
    plan: &Plan,
    i: usize,
    linear: &Linear,
    params: TokenStream,
) -> (TokenStream, TokenStream) {
    let rt = rt();
    let t = &plan.t;
    let block = &plan.params[i];
    let out = linear.out;
    let inp = plan.numel(plan.graph.nodes[i].inputs[0]);
    let weight = match block.tensor("weight") {
        Some(w) => {
            let off = w.offset;
            quote!(#rt::view::matrix::<#t, #out, #inp>(&#params[#off..]))
        }
        None => quote!(::core::compile_error!("weight norm: not available yet")),
    };
    let bias = match block.tensor("bias") {
        Some(b) => {
            let off = b.offset;
            quote!(::core::option::Option::Some(#rt::view::array::<#t, #out>(&#params[#off..])))
        }
        None => quote!(::core::option::Option::None),
    };
    (weight, bias)
}

/// The runtime value implementing `Activation` for `act`.
pub fn activation(plan: &Plan, act: &Activation) -> TokenStream {
    let rt = rt();
    let a = quote!(#rt::ops::activation);
    match act {
        Activation::Relu => quote!(#a::Relu),
        Activation::Tanh => quote!(#a::Tanh),
        Activation::Sigmoid => quote!(#a::Sigmoid),
        Activation::Gelu => quote!(#a::Gelu),
        Activation::GeluTanh => quote!(#a::GeluTanh),
        Activation::LeakyRelu(slope) => {
            let slope = literal(plan, *slope);
            quote!(#a::LeakyRelu { negative_slope: #slope })
        }
    }
}
