//! `add`, `concat`, `sub`, `mul` and `scale`: the operations of `runtime/src/ops/combine.rs`
//! that join two nodes (or scale one) element by element, without parameters.

use proc_macro2::TokenStream;
use quote::quote;

use super::{grad_targets, literal, rt};
use crate::expand::access::{grad, grad_mut, Access};
use crate::expand::plan::Plan;
use crate::graph::Op;

pub fn forward(plan: &Plan, access: &Access, i: usize) -> TokenStream {
    let (rt, t) = (rt(), &plan.t);
    let node = &plan.graph.nodes[i];
    let n = plan.numel(i);
    let input = |k: usize| access.value(plan, node.inputs[k]);
    let y = access.value_mut(plan, i);
    match &node.op {
        Op::Add => {
            let (a, b) = (input(0), input(1));
            quote!(#rt::ops::combine::add_forward::<#t, B, #n>(#a, #b, #y);)
        }
        Op::Concat => {
            let (a, b) = (input(0), input(1));
            let na = plan.numel(node.inputs[0]);
            let nb = plan.numel(node.inputs[1]);
            quote!(#rt::ops::combine::concat_forward::<#t, B, #na, #nb, #n>(#a, #b, #y);)
        }
        Op::Sub => {
            let (a, b) = (input(0), input(1));
            quote!(#rt::ops::combine::sub_forward::<#t, B, #n>(#a, #b, #y);)
        }
        Op::Mul => {
            let (a, b) = (input(0), input(1));
            quote!(#rt::ops::combine::mul_forward::<#t, B, #n>(#a, #b, #y);)
        }
        Op::Scale(k) => {
            let (x, k) = (input(0), literal(plan, *k));
            quote!(#rt::ops::combine::scale_forward::<#t, B, #n>(#x, #k, #y);)
        }
        _ => unreachable!("dispatched by op"),
    }
}

pub fn backward(plan: &Plan, i: usize) -> TokenStream {
    let (rt, t) = (rt(), &plan.t);
    let node = &plan.graph.nodes[i];
    let n = plan.numel(i);
    let dy = grad(plan, i);
    let calls = grad_targets(plan, i).into_iter().map(|(k, j)| {
        let dx = grad_mut(plan, j);
        let store = plan.store(i, k);
        match (&node.op, k) {
            (Op::Add, _) => quote!(#rt::ops::combine::add_backward::<#t, B, #n>(#dy, #dx, #store);),
            (Op::Concat, _) => {
                let na = plan.numel(node.inputs[0]);
                let nb = plan.numel(node.inputs[1]);
                let f = if k == 0 {
                    quote!(concat_backward_first)
                } else {
                    quote!(concat_backward_second)
                };
                quote!(#rt::ops::combine::#f::<#t, B, #na, #nb, #n>(#dy, #dx, #store);)
            }
            (Op::Sub, 0) => quote!(#rt::ops::combine::add_backward::<#t, B, #n>(#dy, #dx, #store);),
            (Op::Sub, _) => {
                quote!(#rt::ops::combine::sub_backward_second::<#t, B, #n>(#dy, #dx, #store);)
            }
            (Op::Mul, _) => {
                // The other input's values: `b` for `da`, `a` for `db`.
                let other = Access::Tape.value(plan, node.inputs[1 - k]);
                quote!(#rt::ops::combine::mul_backward::<#t, B, #n>(#dy, #other, #dx, #store);)
            }
            (Op::Scale(factor), _) => {
                let factor = literal(plan, *factor);
                quote!(#rt::ops::combine::scale_backward::<#t, B, #n>(#dy, #factor, #dx, #store);)
            }
            _ => unreachable!("dispatched by op"),
        }
    });
    quote!(#(#calls)*)
}
