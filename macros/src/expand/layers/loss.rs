//! The loss at the end of a training network (`runtime/src/ops/loss.rs`): its mean over the
//! batch and, in a training step, its gradient with respect to the output.
//!
//! Auxiliary losses: every loss before the network's own (the last node), each weighed by its
//! `weight = w`, as Inception's `loss = criterion(logits, y) + 0.4 * criterion(aux, y)`. They
//! take the network's targets (checked: the same loss on as many values). Their values join the
//! loss wherever it is computed (`backward`, `loss`, `train_step`); their gradients, `w` times the
//! loss's, are added at their place in the backward pass through a scratch buffer that the
//! kernel overwrites and `scale_backward` adds from, so the plan's overwrite/accumulate order
//! holds.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use crate::expand::access::{grad_mut, Access};
use crate::expand::emit::{literal, rt, workspace_field, WorkspaceItem};
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
    let name = kernel_name(kind);
    let call = if with_grad && plan.needs_grad[output] {
        let f = format_ident!("{}_with_grad", name);
        let dy = grad_mut(plan, output);
        let store = plan.store(loss, 0);
        quote!(#rt::ops::loss::#f::<#t, B, #n>(#y, targets, #dy, #store))
    } else {
        let f = format_ident!("{}", name);
        quote!(#rt::ops::loss::#f::<#t, B, #n>(#y, targets))
    };
    with_aux(plan, access, call)
}

/// The runtime's name of loss `kind` (without the `_with_grad` suffix).
fn kernel_name(kind: Loss) -> &'static str {
    match kind {
        Loss::SoftmaxCrossEntropy => "softmax_cross_entropy",
        Loss::Logistic { signed: false } => "logistic_loss",
        Loss::Logistic { signed: true } => "logistic_loss_signed",
        Loss::Mse => "mse",
    }
}

fn kind(plan: &Plan, i: usize) -> Loss {
    match plan.graph.nodes[i].op {
        Op::Loss(kind) => kind,
        _ => unreachable!("an auxiliary loss is a loss"),
    }
}

/// `main` (an expression of type `Result<T, Error>`: the network's loss) plus every auxiliary
/// loss times its weight.
pub fn with_aux(plan: &Plan, access: &Access, main: TokenStream) -> TokenStream {
    let (rt, t) = (rt(), &plan.t);
    let terms: Vec<TokenStream> = plan
        .graph
        .aux_losses()
        .map(|(i, weight)| {
            let input = plan.graph.nodes[i].inputs[0];
            let (n, y) = (plan.numel(input), access.value(plan, input));
            let f = format_ident!("{}", kernel_name(kind(plan, i)));
            let w = literal(plan, weight);
            quote!(+ #w * #rt::ops::loss::#f::<#t, B, #n>(#y, targets)?)
        })
        .collect();
    if terms.is_empty() {
        return main;
    }
    quote!((#main).and_then(|loss| ::core::result::Result::Ok(loss #(#terms)*)))
}

/// The scratch buffer receiving an auxiliary loss's unweighted gradient (training only).
pub fn workspace(plan: &Plan, i: usize) -> Vec<WorkspaceItem> {
    if i + 1 == plan.node_count() {
        return Vec::new();
    }
    let n = plan.numel(plan.graph.nodes[i].inputs[0]);
    vec![WorkspaceItem::batch(plan, i, "grad", n, false)]
}

/// The statements adding `weight` times an auxiliary loss's gradient to its input's.
pub fn backward(plan: &Plan, i: usize) -> TokenStream {
    let (rt, t) = (rt(), &plan.t);
    let input = plan.graph.nodes[i].inputs[0];
    if !plan.needs_grad[input] {
        return quote!();
    }
    let n = plan.numel(input);
    let y = Access::Tape.value(plan, input);
    let f = format_ident!("{}_with_grad", kernel_name(kind(plan, i)));
    let w = literal(plan, plan.graph.nodes[i].weight);
    let scratch = workspace_field(plan, i, "grad");
    let dx = grad_mut(plan, input);
    let store = plan.store(i, 0);
    quote! {
        #rt::ops::loss::#f::<#t, B, #n>(#y, targets, &mut tape.workspace.#scratch, #rt::Store::Overwrite)?;
        #rt::ops::combine::scale_backward::<#t, B, #n>(&tape.workspace.#scratch, #w, #dx, #store);
    }
}
