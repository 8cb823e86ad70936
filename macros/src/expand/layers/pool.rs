//! Pooling (PyTorch `nn.MaxPool2d`, `nn.AvgPool2d`, their 1-D forms, and global average
//! pooling) over per-sample `[C, H, W]` images. As for convolutions, the geometry is a
//! zero-sized type whose const parameters are the literals computed here.

use proc_macro2::TokenStream;
use quote::quote;

use super::{input_grads, input_image, rt};
use crate::expand::access::{grad, Access};
use crate::expand::plan::Plan;
use crate::graph::ops::Pool2d;
use crate::graph::Op;

fn pool_geometry(plan: &Plan, i: usize, pool: &Pool2d) -> TokenStream {
    let rt = rt();
    let (c, h, w) = input_image(plan, i);
    let ((kh, kw), (sh, sw), (ph, pw)) = (pool.kernel, pool.stride, pool.padding);
    let ty = if pool.ceil_mode {
        quote!(Pool2dCeil)
    } else {
        quote!(Pool2d)
    };
    quote!(#rt::ops::pool::#ty<#c, #h, #w, #kh, #kw, #sh, #sw, #ph, #pw, 1, 1>)
}

pub fn forward(plan: &Plan, access: &Access, i: usize) -> TokenStream {
    let (rt, t) = (rt(), &plan.t);
    let node = &plan.graph.nodes[i];
    let x = access.value(plan, node.inputs[0]);
    let y = access.value_mut(plan, i);
    let (in_len, out_len) = (plan.numel(node.inputs[0]), plan.numel(i));
    match &node.op {
        Op::MaxPool2d(pool) => {
            let geometry = pool_geometry(plan, i, pool);
            quote!(#rt::ops::pool::max_pool2d_forward::<#t, #geometry, B, #in_len, #out_len>(#x, #y);)
        }
        Op::AvgPool2d(pool) => {
            let geometry = pool_geometry(plan, i, pool);
            quote!(#rt::ops::pool::avg_pool2d_forward::<#t, #geometry, B, #in_len, #out_len>(#x, #y);)
        }
        Op::GlobalAvgPool => {
            let (c, h, w) = input_image(plan, i);
            quote!(#rt::ops::pool::global_avg_pool_forward::<#t, B, #c, #h, #w, #in_len>(#x, #y);)
        }
        _ => unreachable!("dispatched by op"),
    }
}

pub fn backward(plan: &Plan, i: usize) -> TokenStream {
    let (rt, t) = (rt(), &plan.t);
    let node = &plan.graph.nodes[i];
    let dy = grad(plan, i);
    let x = Access::Tape.value(plan, node.inputs[0]);
    let (in_len, out_len) = (plan.numel(node.inputs[0]), plan.numel(i));
    let input_grad =
        |call: &dyn Fn(TokenStream, TokenStream) -> TokenStream| input_grads(plan, i, call);
    match &node.op {
        Op::MaxPool2d(pool) => {
            let geometry = pool_geometry(plan, i, pool);
            let calls = input_grad(
                &|dx, store| quote!(#rt::ops::pool::max_pool2d_backward::<#t, #geometry, B, #in_len, #out_len>(#x, #dy, #dx, #store);),
            );
            quote!(#(#calls)*)
        }
        Op::AvgPool2d(pool) => {
            let geometry = pool_geometry(plan, i, pool);
            let calls = input_grad(
                &|dx, store| quote!(#rt::ops::pool::avg_pool2d_backward::<#t, #geometry, B, #in_len, #out_len>(#dy, #dx, #store);),
            );
            quote!(#(#calls)*)
        }
        Op::GlobalAvgPool => {
            let (c, h, w) = input_image(plan, i);
            let calls = input_grad(
                &|dx, store| quote!(#rt::ops::pool::global_avg_pool_backward::<#t, B, #c, #h, #w, #in_len>(#dy, #dx, #store);),
            );
            quote!(#(#calls)*)
        }
        _ => unreachable!("dispatched by op"),
    }
}
