//! Backward pass: the loss's gradient, then one or two runtime calls per node from the last to
//! the first, each writing parameter gradients (overwrite) and input gradients (overwrite for the
//! first contribution to a buffer, accumulate for later ones).

use proc_macro2::TokenStream;
use quote::quote;

use super::access::{grad, grad_mut, Access};
use super::forward::{activation, rt};
use super::plan::Plan;
use crate::graph::ops::Loss;
use crate::graph::Op;

/// The loss kernel call: computes the mean loss of `values` against `targets` and, when the
/// output needs a gradient, writes it. Evaluates to `Result<T, Error>`.
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
        let f = quote::format_ident!("{}", name);
        let dy = grad_mut(plan, output);
        let store = plan.store(loss, 0);
        quote!(#rt::ops::loss::#f::<#t, B, #n>(#y, targets, #dy, #store))
    } else {
        let f = quote::format_ident!("{}_loss", name);
        quote!(#rt::ops::loss::#f::<#t, B, #n>(#y, targets))
    }
}

/// Statements propagating gradients from the output back to every parameter.
pub fn backward_body(plan: &Plan) -> TokenStream {
    let steps = (1..plan.loss_index())
        .rev()
        .filter(|&i| plan.needs_grad[i])
        .map(|i| node_backward(plan, i));
    quote!(#(#steps)*)
}

fn node_backward(plan: &Plan, i: usize) -> TokenStream {
    let rt = rt();
    let t = &plan.t;
    let access = Access::Tape;
    let node = &plan.graph.nodes[i];
    let n = plan.numel(i);
    let dy = grad(plan, i);
    let y = access.value(plan, i);
    // (argument position, input node) pairs whose gradient is needed.
    let targets: Vec<(usize, usize)> = node
        .inputs
        .iter()
        .enumerate()
        .filter(|(_, &j)| plan.needs_grad[j])
        .map(|(k, &j)| (k, j))
        .collect();
    match &node.op {
        Op::Input | Op::Loss(_) | Op::Flatten => quote!(),
        Op::Linear(linear) => {
            let x = access.value(plan, node.inputs[0]);
            let inp = plan.numel(node.inputs[0]);
            let out = linear.out;
            let block = &plan.params[i];
            let params_grad = match (block.tensor("weight"), block.tensor("bias")) {
                (Some(w), bias) => {
                    let off = w.offset;
                    let bias_grad = if bias.is_some() {
                        quote!(::core::option::Option::Some(#rt::view::array_mut::<#t, #out>(bias_grad)))
                    } else {
                        quote!(::core::option::Option::None)
                    };
                    quote! {
                        let (weight_grad, bias_grad) = tape.param_grads[#off..].split_at_mut(#out * #inp);
                        let _ = &bias_grad;
                        #rt::ops::dense::dense_backward_params::<#t, B, #inp, #out>(
                            #x,
                            #dy,
                            #rt::view::matrix_mut::<#t, #out, #inp>(weight_grad),
                            #bias_grad,
                            #rt::Store::Overwrite,
                        );
                    }
                }
                _ => quote!(::core::compile_error!("weight norm: not available yet");),
            };
            let input_grad = targets.iter().map(|&(k, j)| {
                let dx = grad_mut(plan, j);
                let store = plan.store(i, k);
                let (weight, _) = super::forward::linear_params(plan, i, linear, quote!(params));
                quote! {
                    #rt::ops::dense::dense_backward_input::<#t, B, #inp, #out>(#dy, #weight, #dx, #store);
                }
            });
            quote!({ #params_grad #(#input_grad)* })
        }
        Op::Activation(act) => {
            let act = activation(plan, act);
            let calls = targets.iter().map(|&(k, j)| {
                let x = access.value(plan, j);
                let dx = grad_mut(plan, j);
                let store = plan.store(i, k);
                quote! {
                    #rt::ops::activation::activation_backward::<#t, _, B, #n>(&#act, #x, #y, #dy, #dx, #store);
                }
            });
            quote!(#(#calls)*)
        }
        Op::Softmax => {
            let calls = targets.iter().map(|&(k, j)| {
                let dx = grad_mut(plan, j);
                let store = plan.store(i, k);
                quote!(#rt::ops::activation::softmax_backward::<#t, B, #n>(#y, #dy, #dx, #store);)
            });
            quote!(#(#calls)*)
        }
        Op::Add => {
            let calls = targets.iter().map(|&(k, j)| {
                let dx = grad_mut(plan, j);
                let store = plan.store(i, k);
                quote!(#rt::ops::combine::add_backward::<#t, B, #n>(#dy, #dx, #store);)
            });
            quote!(#(#calls)*)
        }
        Op::Concat => {
            let na = plan.numel(node.inputs[0]);
            let nb = plan.numel(node.inputs[1]);
            let calls = targets.iter().map(|&(k, j)| {
                let dx = grad_mut(plan, j);
                let store = plan.store(i, k);
                let f = if k == 0 {
                    quote!(concat_backward_first)
                } else {
                    quote!(concat_backward_second)
                };
                quote!(#rt::ops::combine::#f::<#t, B, #na, #nb, #n>(#dy, #dx, #store);)
            });
            quote!(#(#calls)*)
        }
        other => {
            let message = format!("monograd: backward for {other:?} is not available yet");
            quote!(::core::compile_error!(#message);)
        }
    }
}
