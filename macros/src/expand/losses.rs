//! Auxiliary losses: every loss before the network's own (the last node), each weighed by its
//! `weight = w`, as Inception's `loss = criterion(logits, y) + 0.4 * criterion(aux, y)`. They
//! take the network's targets (checked: the same loss on as many values). Their values join
//! the loss wherever it is computed (`backward`, `loss`, `train_step`); their gradients, `w`
//! times the loss's, are added at their place in the backward pass, through a scratch buffer
//! that the kernel overwrites and `scale_backward` adds from.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::access::{grad_mut, Access};
use super::layers::{literal, rt, workspace_field, WorkspaceItem};
use super::plan::Plan;
use crate::graph::ops::Loss;
use crate::graph::Op;

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
    let (rt, t, zero) = (rt(), &plan.t, literal(plan, 0.0));
    let n = plan.numel(plan.graph.nodes[i].inputs[0]);
    vec![WorkspaceItem {
        field: workspace_field(plan, i, "grad"),
        ty: quote!(#rt::Buffer<[[#t; #n]; B]>),
        init: quote!(#rt::Buffer::zeroed()),
        stack_init: quote!([[#zero; #n]; B]),
        eval: false,
        per_sample: n,
        fixed: 0,
    }]
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
