//! Activations and softmax (`runtime/src/ops/activation.rs`): no parameters, element by
//! element (softmax row by row).

use proc_macro2::TokenStream;
use quote::quote;

use super::{grad_targets, literal, rt};
use crate::expand::access::{grad, grad_mut, Access};
use crate::expand::plan::Plan;
use crate::graph::ops::Activation;
use crate::graph::Op;

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

pub fn forward(plan: &Plan, access: &Access, i: usize) -> TokenStream {
    // A ReLU before a max pooling is computed by the pooling's call.
    if super::pool::fused_relu_forward(plan, i + 1) == Some(i) {
        return quote!();
    }
    let (rt, t) = (rt(), &plan.t);
    let node = &plan.graph.nodes[i];
    let n = plan.numel(i);
    let input = |k: usize| access.value(plan, node.inputs[k]);
    let y = access.value_mut(plan, i);
    match &node.op {
        Op::Activation(act) => {
            let (x, act) = (input(0), activation(plan, act));
            quote!(#rt::ops::activation::activation_forward::<#t, _, B, #n>(&#act, #x, #y);)
        }
        Op::Softmax => {
            let x = input(0);
            quote!(#rt::ops::activation::softmax_forward::<#t, B, #n>(#x, #y);)
        }
        _ => unreachable!("dispatched by op"),
    }
}

pub fn backward(plan: &Plan, i: usize) -> TokenStream {
    // A ReLU before a max pooling may have its backward done by the pooling's call.
    let consumer = i + 1;
    if consumer < plan.node_count() && super::pool::fused_relu(plan, consumer).is_some() {
        return quote!();
    }
    let (rt, t) = (rt(), &plan.t);
    let access = Access::Tape;
    let node = &plan.graph.nodes[i];
    let n = plan.numel(i);
    let dy = grad(plan, i);
    let y = access.value(plan, i);
    let calls = grad_targets(plan, i).into_iter().map(|(k, j)| {
        let dx = grad_mut(plan, j);
        let store = plan.store(i, k);
        match &node.op {
            Op::Activation(act) => {
                let x = access.value(plan, j);
                let act = activation(plan, act);
                quote!(#rt::ops::activation::activation_backward::<#t, _, B, #n>(&#act, #x, #y, #dy, #dx, #store);)
            }
            Op::Softmax => quote!(#rt::ops::activation::softmax_backward::<#t, B, #n>(#y, #dy, #dx, #store);),
            _ => unreachable!("dispatched by op"),
        }
    });
    quote!(#(#calls)*)
}
