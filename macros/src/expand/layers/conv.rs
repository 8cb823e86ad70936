//! Convolution (PyTorch `nn.Conv2d` and `nn.Conv1d`, optionally with Weight Norm) over
//! per-sample `[C, H, W]` images (a sequence `[C, L]` is the image `[C, 1, L]`). Each layer's
//! geometry is a named constant of the network (`Net::C_GEOMETRY: Conv2dShape`, `in_channels`,
//! `kernel`, `stride`, ...), which the kernels take as the zero-sized type
//! `NetworkConv2d<Net, NODE>`, so the runtime checks every length at compile time.

use proc_macro2::TokenStream;
use quote::quote;

use super::{input_grads, input_image, rt, workspace_field, WorkspaceItem};
use crate::expand::access::{grad, Access};
use crate::expand::emit::{weight_norm_backward, weight_norm_forward};
use crate::expand::plan::Plan;
use crate::graph::ops::Conv2d;
use crate::graph::Op;

/// Name of the workspace buffer that every convolution of a network shares (sized for the
/// largest).
pub const COLUMNS: &str = "conv_columns";

/// Workspace length of a convolution, as the runtime's `conv2d_workspace_len` computes it: the
/// column matrix `(C_IN / G) KH KW OH OW`, then, when the convolution pads, a zero-padded copy
/// of one group's image `(C_IN / G) (H + 2 PH) (W + 2 PW)`. (The runtime checks the length at
/// compile time, so a mismatch fails to build rather than misbehaving.)
fn columns_len(plan: &Plan, i: usize, conv: &Conv2d) -> usize {
    let (c_in, h, w) = input_image(plan, i);
    let (_, oh, ow) = conv_output(plan, i, conv);
    let group_in = c_in / conv.groups;
    let columns = group_in * conv.kernel.0 * conv.kernel.1 * oh * ow;
    let (ph, pw) = conv.padding;
    if ph == 0 && pw == 0 {
        columns
    } else {
        columns + group_in * (h + 2 * ph) * (w + 2 * pw)
    }
}

/// `(c_out, oh, ow)` the convolution kernel computes: the node's shape, except for a causal
/// `conv1d`, computed as the symmetric convolution `[C, 1, L + pad]` whose first `L` outputs
/// the node keeps (`ops::causal`).
fn conv_output(plan: &Plan, i: usize, conv: &Conv2d) -> (usize, usize, usize) {
    let (c, oh, ow) = plan.graph.nodes[i].shape.as_image().expect("checked");
    if conv.causal {
        (c, oh, ow + conv.padding.1)
    } else {
        (c, oh, ow)
    }
}

/// The shared column buffer, if the network has a convolution.
pub fn shared_workspace(plan: &Plan) -> Option<WorkspaceItem> {
    let len = max_over_convs(plan, columns_len)?;
    Some(shared_item(plan, COLUMNS, len, true))
}

/// The largest `len` of the network's convolutions (`None` without one).
fn max_over_convs(plan: &Plan, len: fn(&Plan, usize, &Conv2d) -> usize) -> Option<usize> {
    (0..plan.node_count())
        .filter_map(|i| match &plan.graph.nodes[i].op {
            Op::Conv2d(conv) => Some(len(plan, i, conv)),
            _ => None,
        })
        .max()
}

/// A buffer of `len` elements that every convolution shares, needed in evaluation mode too
/// when `eval`.
fn shared_item(plan: &Plan, name: &str, len: usize, eval: bool) -> WorkspaceItem {
    let (rt, t) = (rt(), &plan.t);
    let zero = super::literal(plan, 0.0);
    WorkspaceItem {
        field: quote::format_ident!("{}", name),
        ty: quote!(#rt::Buffer<[#t; #len]>),
        init: quote!(#rt::Buffer::zeroed()),
        stack_init: quote!([#zero; #len]),
        const_init: Some(quote!(#rt::Buffer::ZEROED)),
        eval,
        per_sample: 0,
        fixed: len,
    }
}

fn columns(access: &Access) -> TokenStream {
    access.scratch(&quote::format_ident!("{}", COLUMNS))
}

/// Name of the training-only buffer in which the convolutions' weight gradients gather the
/// columns of several samples (sized for the largest; absent when no layer batches).
pub const WEIGHT_COLUMNS: &str = "conv_weight_columns";

/// Elements the runtime gives the batched weight-gradient columns at most
/// (`ops::conv::CONV2D_WEIGHT_BATCH_BUDGET`, 512 KB of `f32`).
const WEIGHT_BATCH_BUDGET: usize = 1 << 17;

/// Samples per batched weight-gradient product at most (the runtime's `WEIGHT_BATCH_MAX`).
const WEIGHT_BATCH_MAX: usize = 8;

/// Samples whose shifted copies a weight-gradient product reads at most (the runtime's
/// `COPY_BATCH_MAX`).
const COPY_BATCH_MAX: usize = 4;

/// Workspace at which a convolution's weight gradient runs several samples per product, as the
/// runtime's `conv2d_weight_workspace_len` computes it (0 when it does not batch): stride 1, not
/// a pointwise convolution, and
/// - where the output keeps the image size and the product stays on the dot-product kernels
///   (the runtime's `im2col_gemm::weight_from_copies`), [`COPY_BATCH_MAX`] samples' shifted
///   copies of the input channels (`KW` per channel, each the image with `PH W + PW` zeros
///   either side);
/// - else [`WEIGHT_BATCH_MAX`] samples' columns and upstream gradients;
///
/// or as many as fit in [`WEIGHT_BATCH_BUDGET`] if at least two do. A single-channel layer that
/// keeps the image size runs its weight gradient on shifted copies, which do not batch (the
/// runtime's `shifted::applies`, less its limits on taps and workspace: such a layer past them
/// runs fewer samples per product). The runtime batches as many samples as the buffer it is
/// given holds, so a mismatch costs speed, never correctness.
fn weight_columns_len(plan: &Plan, i: usize, conv: &Conv2d) -> usize {
    let (c_in, h, w) = input_image(plan, i);
    let (c_out, oh, ow) = conv_output(plan, i, conv);
    let pointwise = conv.kernel == (1, 1) && conv.padding == (0, 0);
    let same_size = (oh, ow) == (h, w);
    let shifted = c_in == 1 && conv.groups == 1 && same_size;
    if conv.stride != (1, 1) || pointwise || shifted {
        return 0;
    }
    let (group_in, group_out) = (c_in / conv.groups, c_out / conv.groups);
    let ((kh, kw), (ph, pw)) = (conv.kernel, conv.padding);
    let (ck, ohw) = (group_in * kh * kw, oh * ow);
    // The runtime's `kernels::gemm::gemm_nt_packs(group_out, ck, ohw)`.
    let packs = ck >= 32
        && (group_out >= 32 || (group_out >= 8 && ohw <= 64) || (group_out >= 4 && ohw <= 16));
    let copies = same_size && pw < w && ohw >= 8 && !packs;
    let (per_sample, most) = if copies {
        (group_in * kw * (h * w + 2 * (ph * w + pw)), COPY_BATCH_MAX)
    } else {
        ((ck + group_out) * ohw, WEIGHT_BATCH_MAX)
    };
    let samples = (WEIGHT_BATCH_BUDGET / per_sample).min(most);
    if samples >= 2 {
        samples * per_sample
    } else {
        0
    }
}

/// The shared buffer of the batched weight gradients, when one is longer than the columns'.
pub fn shared_weight_workspace(plan: &Plan) -> Option<WorkspaceItem> {
    let len = max_over_convs(plan, weight_columns_len)?;
    (len > shared_columns_len(plan)).then(|| shared_item(plan, WEIGHT_COLUMNS, len, false))
}

fn block_len(plan: &Plan, i: usize) -> usize {
    plan.params[i].len()
}

/// Length of the kernel's parameter block `[weight | bias]` (with Weight Norm, the effective
/// weight's block, which lives in the workspace).
fn kernel_block_len(plan: &Plan, i: usize, conv: &Conv2d) -> usize {
    let (c_in, _, _) = input_image(plan, i);
    let weight = conv.out_channels * (c_in / conv.groups) * conv.kernel.0 * conv.kernel.1;
    weight + if conv.bias { conv.out_channels } else { 0 }
}

pub fn workspace(plan: &Plan, i: usize, conv: &Conv2d) -> Vec<WorkspaceItem> {
    let mut items = Vec::new();
    if conv.causal {
        let (c, oh, ow) = conv_output(plan, i, conv);
        items.push(WorkspaceItem::batch(plan, i, "full", c * oh * ow, true));
        items.push(WorkspaceItem::batch(
            plan,
            i,
            "full_grad",
            c * oh * ow,
            false,
        ));
    }
    if conv.weight_norm {
        let len = kernel_block_len(plan, i, conv);
        items.push(WorkspaceItem::matrix(plan, i, "weight", 1, len, true));
        items.push(WorkspaceItem::matrix(plan, i, "weight_grad", 1, len, false));
    }
    items
}

/// `(c, full_l, l, full_len)` of a causal convolution: channels, the symmetric convolution's
/// length, the node's, and the symmetric output's elements per sample.
fn causal_dims(plan: &Plan, i: usize, conv: &Conv2d) -> (usize, usize, usize, usize) {
    let (c, _, full_l) = conv_output(plan, i, conv);
    let l = full_l - conv.padding.1;
    (c, full_l, l, c * full_l)
}

/// The geometry type of node `i` for the kernels, `NetworkConv2d<Net, i>`, which reads the
/// constant [`geometries`] declares.
fn conv_geometry(plan: &Plan, i: usize) -> TokenStream {
    let (rt, name) = (rt(), &plan.graph.name);
    quote!(#rt::ops::conv::NetworkConv2d<#name, #i>)
}

/// For every convolution node, its geometry as a named constant (`Net::C_GEOMETRY`, an item of
/// the network's `impl`) and the `Conv2dLayer<NODE>` impl through which the kernels read it:
/// `(consts, impls)`.
pub fn geometries(plan: &Plan) -> (Vec<TokenStream>, Vec<TokenStream>) {
    let (rt, name) = (rt(), &plan.graph.name);
    let convs = (0..plan.node_count()).filter_map(|i| match &plan.graph.nodes[i].op {
        Op::Conv2d(conv) => Some((i, conv)),
        _ => None,
    });
    convs
        .map(|(i, conv): (usize, &Conv2d)| {
            let (c_in, h, w) = input_image(plan, i);
            let out_channels = conv.out_channels;
            let ((kh, kw), (sh, sw), (ph, pw), (dh, dw)) =
                (conv.kernel, conv.stride, conv.padding, conv.dilation);
            let (groups, bias) = (conv.groups, conv.bias);
            let geometry = plan.geometry_const(i);
            let doc = format!(
                "The geometry of `{}`, as the convolution kernels read it.",
                plan.graph.nodes[i].name
            );
            let shape = quote!(#rt::ops::conv::Conv2dShape);
            (
                quote! {
                    #[doc = #doc]
                    pub const #geometry: #shape = #shape {
                        in_channels: #c_in,
                        height: #h,
                        width: #w,
                        out_channels: #out_channels,
                        kernel: [#kh, #kw],
                        stride: [#sh, #sw],
                        padding: [#ph, #pw],
                        dilation: [#dh, #dw],
                        groups: #groups,
                        bias: #bias,
                    };
                },
                quote! {
                    impl #rt::ops::conv::Conv2dLayer<#i> for #name {
                        const SHAPE: #shape = #name::#geometry;
                    }
                },
            )
        })
        .unzip()
}

/// Statements preparing the kernel's parameter block, and an expression `&[T; LEN]` for it.
/// With Weight Norm the block is rebuilt in the workspace from `g`, `v` and the bias.
fn kernel_params(
    plan: &Plan,
    access: &Access,
    i: usize,
    conv: &Conv2d,
) -> (TokenStream, TokenStream) {
    let (rt, t) = (rt(), &plan.t);
    let block = &plan.params[i];
    let len = kernel_block_len(plan, i, conv);
    if !conv.weight_norm {
        // The kernel block is the weight followed by the bias.
        let off = plan.param_offset(i, "weight");
        return (
            quote!(),
            quote!(#rt::view::array::<#t, #len>(&params[#off..])),
        );
    }
    let layout = block.kernel();
    let (out, k) = (layout.out, layout.per_out);
    let bias_copy = layout.bias.map(|_| {
        let start = out * k;
        let off = plan.param_offset(i, "bias");
        quote!(kernel_block[#start..].copy_from_slice(&params[#off..][..#out]);)
    });
    let workspace = access.workspace(plan, i, "weight");
    let weight = weight_norm_forward(
        plan,
        i,
        &layout,
        quote!(#rt::view::matrix_mut::<#t, #out, #k>(&mut kernel_block[..])),
    );
    let prepare = quote! {
        let kernel_block: &mut [[#t; #len]; 1] = #workspace;
        let kernel_block: &mut [#t; #len] = &mut kernel_block[0];
        #weight
        #bias_copy
    };
    (prepare, quote!(&*kernel_block))
}

/// Elements of GEMM packing scratch the convolution needs (independent of the batch: its
/// products are per sample).
pub fn pack_len(plan: &Plan, i: usize) -> TokenStream {
    let (rt, t) = (rt(), &plan.t);
    let geometry = conv_geometry(plan, i);
    quote!(#rt::ops::conv::conv2d_pack_len::<#t, #geometry>())
}

pub fn forward(plan: &Plan, access: &Access, i: usize) -> TokenStream {
    let (rt, t) = (rt(), &plan.t);
    let node = &plan.graph.nodes[i];
    let x = access.value(plan, node.inputs[0]);
    let y = access.value_mut(plan, i);
    let (in_len, out_len) = (plan.numel(node.inputs[0]), plan.numel(i));
    match &node.op {
        Op::Conv2d(conv) => {
            let geometry = conv_geometry(plan, i);
            let (prepare, params) = kernel_params(plan, access, i, conv);
            let len = kernel_block_len(plan, i, conv);
            let cols = columns(access);
            let cols_len = shared_columns_len(plan);
            let pack = access.pack();
            let (y, out_len, crop) = if conv.causal {
                let (c, full_l, l, full_len) = causal_dims(plan, i, conv);
                let full = access.workspace(plan, i, "full");
                let full_ref = access.scratch_ref(&workspace_field(plan, i, "full"));
                (
                    full,
                    full_len,
                    quote!(#rt::ops::causal::causal_crop::<#t, B, #c, #full_l, #l, #full_len, #out_len>(#full_ref, #y);),
                )
            } else {
                (y, out_len, quote!())
            };
            quote!({
                #prepare
                #rt::ops::conv::conv2d_forward_packed::<#t, #geometry, B, #in_len, #out_len, #len, #cols_len>(
                    #x, #params, #y, #cols, #pack,
                );
                #crop
            })
        }
        _ => unreachable!("dispatched by op"),
    }
}

fn shared_columns_len(plan: &Plan) -> usize {
    shared_workspace(plan).map_or(0, |item| item.fixed)
}

pub fn backward(plan: &Plan, i: usize) -> TokenStream {
    let (rt, t) = (rt(), &plan.t);
    let access = Access::Tape;
    let node = &plan.graph.nodes[i];
    let dy = grad(plan, i);
    let x = access.value(plan, node.inputs[0]);
    let (in_len, out_len) = (plan.numel(node.inputs[0]), plan.numel(i));
    let input_grad =
        |call: &dyn Fn(TokenStream, TokenStream) -> TokenStream| input_grads(plan, i, call);
    match &node.op {
        Op::Conv2d(conv) => {
            // Causal: the gradient of the symmetric convolution's output, zero where it was cut.
            let (dy, out_len, pad) = if conv.causal {
                let (c, full_l, l, full_len) = causal_dims(plan, i, conv);
                let field = workspace_field(plan, i, "full_grad");
                (
                    quote!(&*tape.workspace.#field),
                    full_len,
                    quote!(#rt::ops::causal::causal_crop_backward::<#t, B, #c, #full_l, #l, #full_len, #out_len>(#dy, &mut tape.workspace.#field);),
                )
            } else {
                (dy, out_len, quote!())
            };
            let geometry = conv_geometry(plan, i);
            let len = kernel_block_len(plan, i, conv);
            let cols = columns(&access);
            let cols_len = shared_columns_len(plan);
            // The weight gradient batches samples in its own, larger buffer where there is one.
            let (weight_cols, weight_cols_len) = match shared_weight_workspace(plan) {
                Some(item) => (access.scratch(&item.field), item.fixed),
                None => (cols.clone(), cols_len),
            };
            let block = &plan.params[i];
            let off = plan.param_block_offset(i);
            let plen = block_len(plan, i);
            let layout = block.kernel();
            let params_grad = if conv.weight_norm {
                let (out, k) = (layout.out, layout.per_out);
                let dw_field = workspace_field(plan, i, "weight_grad");
                let bias_grad = layout.bias.map(|_| {
                    let start = out * k;
                    let off = plan.param_offset(i, "bias");
                    quote! {
                        #rt::view::array_mut::<#t, #out>(&mut tape.param_grads[#off..])
                            .copy_from_slice(&kernel_grad[#start..]);
                    }
                });
                let g_off = plan.param_offset(i, "weight_g");
                let to_g_and_v = weight_norm_backward(
                    plan,
                    i,
                    &layout,
                    quote!(#rt::view::matrix::<#t, #out, #k>(&kernel_grad[..])),
                    quote!(#rt::view::array_mut::<#t, #out>(grad_g)),
                    quote!(#rt::view::matrix_mut::<#t, #out, #k>(grad_v)),
                );
                let (g_len, v_len) = (out, out * k);
                quote! {
                    let kernel_grad: &mut [[#t; #len]; 1] = &mut tape.workspace.#dw_field;
                    let kernel_grad: &mut [#t; #len] = &mut kernel_grad[0];
                    #rt::ops::conv::conv2d_backward_params_packed::<#t, #geometry, B, #in_len, #out_len, #len, #weight_cols_len>(
                        #x, #dy, kernel_grad, #weight_cols, #rt::Store::Overwrite, &mut tape.gemm_pack[..],
                    );
                    // Weight Norm's g and v are stored one after the other.
                    let (grad_g, grad_v) = tape.param_grads[#g_off..][..#g_len + #v_len].split_at_mut(#g_len);
                    #to_g_and_v
                    #bias_grad
                }
            } else {
                quote! {
                    #rt::ops::conv::conv2d_backward_params_packed::<#t, #geometry, B, #in_len, #out_len, #plen, #weight_cols_len>(
                        #x, #dy, #rt::view::array_mut::<#t, #plen>(&mut tape.param_grads[#off..]), #weight_cols, #rt::Store::Overwrite,
                        &mut tape.gemm_pack[..],
                    );
                }
            };
            let kernel_block = if conv.weight_norm {
                let w_field = workspace_field(plan, i, "weight");
                quote!(&tape.workspace.#w_field[0])
            } else {
                let off = plan.param_offset(i, "weight");
                quote!(#rt::view::array::<#t, #len>(&params[#off..]))
            };
            let inputs = input_grad(&|dx, store| {
                quote! {
                    #rt::ops::conv::conv2d_backward_input_packed::<#t, #geometry, B, #in_len, #out_len, #len, #cols_len>(
                        #dy, #kernel_block, #dx, #cols, #store, &mut tape.gemm_pack[..],
                    );
                }
            });
            quote!({ #pad #params_grad #(#inputs)* })
        }
        _ => unreachable!("dispatched by op"),
    }
}

#[cfg(test)]
mod tests {
    use super::{shared_weight_workspace, shared_workspace};
    use crate::expand::plan::Plan;
    use crate::graph::build;
    use crate::parse::NetworkDef;

    /// The lengths of the shared column buffer and of the weight gradients' batch buffer.
    fn buffers(body: &str) -> (Option<usize>, Option<usize>) {
        let def: NetworkDef = syn::parse_str(&format!("struct Net {{ {body} }}")).unwrap();
        let graph = build(&def).unwrap_or_else(|e| panic!("{e}"));
        let plan = Plan::new(&graph);
        let len = |item: Option<crate::expand::emit::WorkspaceItem>| item.map(|i| i.fixed);
        (
            len(shared_workspace(&plan)),
            len(shared_weight_workspace(&plan)),
        )
    }

    /// The batch buffer follows the runtime's `conv2d_weight_workspace_len`: W4's second layer
    /// and a small layer that keep the image size hold 4 samples' shifted copies (3 per input
    /// channel, with `PH W + PW` zeros either side), a layer with a narrower output 8 samples'
    /// columns and upstream gradients, one whose product packs (32 x 36) too; a strided, a
    /// pointwise or a single-channel same-size layer (shifted copies) does not batch.
    #[test]
    fn weight_gradient_batch_buffer() {
        let w4 = "input x: [1, 28, 28];
            c1 = conv2d(x, 8, kernel = 3, padding = 1);
            p1 = max_pool2d(c1, 2);
            c2 = conv2d(p1, 16, kernel = 3, padding = 1);
            f = flatten(c2);
            loss = mse(f);";
        assert_eq!(buffers(w4).1, Some(4 * 8 * 3 * (196 + 2 * 15)));
        let small = "input x: [2, 5, 5];
            c = conv2d(x, 3, kernel = 3, padding = 1);
            f = flatten(c);
            loss = mse(f);";
        assert_eq!(buffers(small).1, Some(4 * 2 * 3 * (25 + 2 * 6)));
        let narrower = "input x: [2, 6, 6];
            c = conv2d(x, 3, kernel = 3);
            f = flatten(c);
            loss = mse(f);";
        assert_eq!(buffers(narrower).1, Some(8 * (18 + 3) * 16));
        let packs = "input x: [4, 6, 6];
            c = conv2d(x, 32, kernel = 3, padding = 1);
            f = flatten(c);
            loss = mse(f);";
        assert_eq!(buffers(packs).1, Some(8 * (36 + 32) * 36));
        for layer in [
            "c = conv2d(x, 3, kernel = 3, padding = 1, stride = 2);",
            "c = conv2d(x, 3, kernel = 1);",
        ] {
            let body = format!("input x: [2, 6, 6]; {layer} f = flatten(c); loss = mse(f);");
            let (columns, batch) = buffers(&body);
            assert_eq!(batch, None, "{layer}");
            assert!(columns.is_some(), "{layer}");
        }
        let first = "input x: [1, 28, 28];
            c = conv2d(x, 8, kernel = 3, padding = 1);
            f = flatten(c);
            loss = mse(f);";
        assert_eq!(buffers(first).1, None);
    }
}
