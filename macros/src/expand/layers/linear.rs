//! `linear`: `y = x W^T + b` (PyTorch `nn.Linear`), optionally with Weight Norm
//! (`W = g * v / ||v||` per output row, recomputed into a workspace at every forward).

use proc_macro2::TokenStream;
use quote::quote;

use super::{grad_targets, param_grad_views, rt, workspace_field, WorkspaceItem};
use crate::expand::access::{grad, grad_mut, Access};
use crate::expand::emit::{weight_norm_backward, weight_norm_forward};
use crate::expand::plan::{Plan, Weight};
use crate::graph::ops::Linear;

pub fn workspace(plan: &Plan, i: usize, linear: &Linear) -> Vec<WorkspaceItem> {
    if !linear.weight_norm {
        return Vec::new();
    }
    let inp = plan.numel(plan.graph.nodes[i].inputs[0]);
    vec![
        WorkspaceItem::matrix(plan, i, "weight", linear.out, inp, true),
        WorkspaceItem::matrix(plan, i, "weight_grad", linear.out, inp, false),
    ]
}

/// `(statements, weight, bias)`: statements to run first (Weight Norm's reparametrisation), an
/// expression for the weight `&[[T; IN]; OUT]` and one for the bias `Option<&[T; OUT]>`.
fn weight_and_bias(
    plan: &Plan,
    access: &Access,
    i: usize,
    linear: &Linear,
) -> (TokenStream, TokenStream, TokenStream) {
    let (rt, t) = (rt(), &plan.t);
    let layout = plan.params[i].kernel();
    let out = linear.out;
    let inp = plan.numel(plan.graph.nodes[i].inputs[0]);
    let bias = match layout.bias {
        Some(_) => {
            let off = plan.param_offset(i, "bias");
            quote!(::core::option::Option::Some(#rt::view::array::<#t, #out>(&params[#off..])))
        }
        None => quote!(::core::option::Option::None),
    };
    match layout.weight {
        Weight::Plain => (
            quote!(),
            {
                let offset = plan.param_offset(i, "weight");
                quote!(#rt::view::matrix::<#t, #out, #inp>(&params[#offset..]))
            },
            bias,
        ),
        Weight::Normed => {
            let workspace = access.workspace(plan, i, "weight");
            let compute = weight_norm_forward(plan, i, &layout, quote!(&mut *weight));
            let prepare = quote! {
                let weight: &mut [[#t; #inp]; #out] = #workspace;
                #compute
            };
            (prepare, quote!(&*weight), bias)
        }
    }
}

/// Elements of GEMM packing scratch the layer needs at batch `batch`.
pub fn pack_len(plan: &Plan, i: usize, linear: &Linear, batch: &TokenStream) -> TokenStream {
    let (rt, t) = (rt(), &plan.t);
    let inp = plan.numel(plan.graph.nodes[i].inputs[0]);
    let out = linear.out;
    quote!(#rt::ops::linear::linear_pack_len::<#t>(#batch, #inp, #out))
}

pub fn forward(plan: &Plan, access: &Access, i: usize, linear: &Linear) -> TokenStream {
    let (rt, t) = (rt(), &plan.t);
    let node = &plan.graph.nodes[i];
    let inp = plan.numel(node.inputs[0]);
    let out = linear.out;
    let x = access.value(plan, node.inputs[0]);
    let y = access.value_mut(plan, i);
    let (prepare, weight, bias) = weight_and_bias(plan, access, i, linear);
    let pack = access.pack();
    quote!({
        #prepare
        #rt::ops::linear::linear_forward_packed::<#t, B, #inp, #out>(#x, #weight, #bias, #y, #pack);
    })
}

pub fn backward(plan: &Plan, i: usize, linear: &Linear) -> TokenStream {
    let (rt, t) = (rt(), &plan.t);
    let access = Access::Tape;
    let node = &plan.graph.nodes[i];
    let inp = plan.numel(node.inputs[0]);
    let out = linear.out;
    let x = access.value(plan, node.inputs[0]);
    let dy = grad(plan, i);
    let views = [
        ("weight", quote!(#rt::view::matrix_mut::<#t, #out, #inp>)),
        ("weight_g", quote!(#rt::view::array_mut::<#t, #out>)),
        ("weight_v", quote!(#rt::view::matrix_mut::<#t, #out, #inp>)),
        ("bias", quote!(#rt::view::array_mut::<#t, #out>)),
    ];
    let split = param_grad_views(plan, i, &views);
    let layout = plan.params[i].kernel();
    let bias_grad = if layout.bias.is_some() {
        quote!(::core::option::Option::Some(grad_bias))
    } else {
        quote!(::core::option::Option::None)
    };
    let (params_grad, weight_for_input) = match layout.weight {
        Weight::Normed => {
            let w_field = workspace_field(plan, i, "weight");
            let dw_field = workspace_field(plan, i, "weight_grad");
            let dw = quote!(&mut tape.workspace.#dw_field);
            let to_g_and_v = weight_norm_backward(
                plan,
                i,
                &layout,
                quote!(&tape.workspace.#dw_field),
                quote!(grad_weight_g),
                quote!(grad_weight_v),
            );
            (
                quote! {
                    #rt::ops::linear::linear_backward_params_packed::<#t, B, #inp, #out>(
                        #x, #dy, #dw, #bias_grad, #rt::Store::Overwrite,
                        &mut tape.gemm_pack[..],
                    );
                    #to_g_and_v
                },
                quote!(&tape.workspace.#w_field),
            )
        }
        Weight::Plain => (
            quote! {
                #rt::ops::linear::linear_backward_params_packed::<#t, B, #inp, #out>(
                    #x, #dy, grad_weight, #bias_grad, #rt::Store::Overwrite,
                    &mut tape.gemm_pack[..],
                );
            },
            {
                let offset = plan.param_offset(i, "weight");
                quote!(#rt::view::matrix::<#t, #out, #inp>(&params[#offset..]))
            },
        ),
    };
    let input_grads = grad_targets(plan, i).into_iter().map(|(k, j)| {
        let dx = grad_mut(plan, j);
        let store = plan.store(i, k);
        quote! {
            #rt::ops::linear::linear_backward_input_packed::<#t, B, #inp, #out>(
                #dy, #weight_for_input, #dx, #store, &mut tape.gemm_pack[..],
            );
        }
    });
    quote!({
        #split
        #params_grad
        #(#input_grads)*
    })
}
