//! The loss at the end of a training network (`runtime/src/ops/loss.rs`): its mean over the
//! batch and, in a training step, its gradient with respect to the output.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use crate::expand::access::{grad_mut, Access};
use crate::expand::emit::rt;
use crate::expand::plan::Plan;
use crate::graph::ops::Loss;
use crate::graph::Op;

/// The loss kernel call: the mean loss of the output against `targets` and, when the output
/// needs a gradient, the gradient. Evaluates to `Result<T, Error>`.
pub fn call(plan: &Plan, access: &Access, with_grad: bool) -> TokenStream {
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
        Loss::Logistic { signed: false } => "logistic_loss",
        Loss::Logistic { signed: true } => "logistic_loss_signed",
        Loss::Mse => "mse",
    };
    if with_grad && plan.needs_grad[output] {
        let f = format_ident!("{}_with_grad", name);
        let dy = grad_mut(plan, output);
        let store = plan.store(loss, 0);
        quote!(#rt::ops::loss::#f::<#t, B, #n>(#y, targets, #dy, #store))
    } else {
        let f = format_ident!("{}", name);
        quote!(#rt::ops::loss::#f::<#t, B, #n>(#y, targets))
    }
}
