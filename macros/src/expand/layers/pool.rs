//! Pooling (PyTorch `nn.MaxPool2d`, `nn.AvgPool2d`, their 1-D forms, and global average
//! pooling) over per-sample `[C, H, W]` images. As for convolutions, each layer's geometry is a
//! named constant of the network (`Net::P_GEOMETRY: Pool2dShape`), which the kernels take as the
//! zero-sized type `NetworkPool2d<Net, NODE>`.

use proc_macro2::TokenStream;
use quote::quote;

use super::{input_grads, input_image, rt};
use crate::expand::access::{grad, Access};
use crate::expand::plan::Plan;
use crate::graph::ops::Pool2d;
use crate::graph::Op;

/// The geometry type of node `i` for the kernels, `NetworkPool2d<Net, i>`, which reads the
/// constant [`geometries`] declares.
fn pool_geometry(plan: &Plan, i: usize) -> TokenStream {
    let (rt, name) = (rt(), &plan.graph.name);
    quote!(#rt::ops::pool::NetworkPool2d<#name, #i>)
}

/// For every max or average pooling node, its geometry as a named constant (`Net::P_GEOMETRY`,
/// an item of the network's `impl`) and the `Pool2dLayer<NODE>` impl through which the kernels
/// read it: `(consts, impls)`.
pub fn geometries(plan: &Plan) -> (Vec<TokenStream>, Vec<TokenStream>) {
    let (rt, name) = (rt(), &plan.graph.name);
    let pools = (0..plan.node_count()).filter_map(|i| match &plan.graph.nodes[i].op {
        Op::MaxPool2d(pool) | Op::AvgPool2d(pool) => Some((i, pool)),
        _ => None,
    });
    pools
        .map(|(i, pool): (usize, &Pool2d)| {
            let (channels, h, w) = input_image(plan, i);
            let ((kh, kw), (sh, sw), (ph, pw)) = (pool.kernel, pool.stride, pool.padding);
            let ceil_mode = pool.ceil_mode;
            let geometry = plan.geometry_const(i);
            let doc = format!(
                "The geometry of `{}`, as the pooling kernels read it.",
                plan.graph.nodes[i].name
            );
            let shape = quote!(#rt::ops::pool::Pool2dShape);
            (
                quote! {
                    #[doc = #doc]
                    pub const #geometry: #shape = #shape {
                        channels: #channels,
                        height: #h,
                        width: #w,
                        kernel: [#kh, #kw],
                        stride: [#sh, #sw],
                        padding: [#ph, #pw],
                        dilation: [1, 1],
                        ceil_mode: #ceil_mode,
                    };
                },
                quote! {
                    impl #rt::ops::pool::Pool2dLayer<#i> for #name {
                        const SHAPE: #shape = #name::#geometry;
                    }
                },
            )
        })
        .unzip()
}

pub fn forward(plan: &Plan, access: &Access, i: usize) -> TokenStream {
    let (rt, t) = (rt(), &plan.t);
    let node = &plan.graph.nodes[i];
    let x = access.value(plan, node.inputs[0]);
    let y = access.value_mut(plan, i);
    let (in_len, out_len) = (plan.numel(node.inputs[0]), plan.numel(i));
    match &node.op {
        Op::MaxPool2d(_) => {
            let geometry = pool_geometry(plan, i);
            quote!(#rt::ops::pool::max_pool2d_forward::<#t, #geometry, B, #in_len, #out_len>(#x, #y);)
        }
        Op::AvgPool2d(_) => {
            let geometry = pool_geometry(plan, i);
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
        Op::MaxPool2d(_) => {
            let geometry = pool_geometry(plan, i);
            let calls = input_grad(
                &|dx, store| quote!(#rt::ops::pool::max_pool2d_backward::<#t, #geometry, B, #in_len, #out_len>(#x, #dy, #dx, #store);),
            );
            quote!(#(#calls)*)
        }
        Op::AvgPool2d(_) => {
            let geometry = pool_geometry(plan, i);
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
