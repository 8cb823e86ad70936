//! Pooling (PyTorch `nn.MaxPool2d`, `nn.AvgPool2d`, their 1-D forms, and global average
//! pooling) over per-sample `[C, H, W]` images. As for convolutions, each layer's geometry is a
//! named constant of the network (`Net::P_GEOMETRY: Pool2dShape`), which the kernels take as the
//! zero-sized type `NetworkPool2d<Net, NODE>`.

use proc_macro2::TokenStream;
use quote::quote;

use super::{input_grads, input_image, rt};
use crate::expand::access::{grad, grad_mut, Access};
use crate::expand::plan::Plan;
use crate::graph::ops::{Activation, Pool2d};
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
            if let Some(relu) = fused_relu_forward(plan, i) {
                let (x, relu_y) = (
                    access.value(plan, plan.graph.nodes[relu].inputs[0]),
                    access.value_mut(plan, relu),
                );
                return quote!(#rt::ops::pool::max_pool2d_relu_forward::<#t, #geometry, B, #in_len, #out_len>(#x, #relu_y, #y););
            }
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

/// When node `i` is a max pooling of the output of a ReLU computed right before it (node
/// `i - 1`), that ReLU: the pooling's forward call `max_pool2d_relu_forward` computes both (the
/// ReLU's output written as its own call writes it, and pooled without being read back), and
/// the ReLU's forward emits nothing. Other readers of the ReLU's output come after the
/// pooling, so they find it written; where inference would skip the pooling, it is computed
/// anyway (`outputs::needed`).
pub fn fused_relu_forward(plan: &Plan, i: usize) -> Option<usize> {
    let node = plan.graph.nodes.get(i)?;
    let relu = *node.inputs.first()?;
    let fuses = matches!(node.op, Op::MaxPool2d(_))
        && relu + 1 == i
        && matches!(plan.graph.nodes[relu].op, Op::Activation(Activation::Relu));
    fuses.then_some(relu)
}

/// When max-pooling node `i` takes the output of a ReLU that nothing else reads and whose
/// backward would run right after the pooling's, `(relu, below)`: the ReLU's node and its
/// input's, whose gradient then comes from the pooling's backward call through
/// `max_pool2d_relu_backward` (the same values as the two calls, in one pass), the ReLU's own
/// backward emitting nothing.
///
/// The pooling is the ReLU output's first contribution, so its gradient is overwritten and holds
/// the pooling's alone: a later reader of that gradient (another consumer of the ReLU, or of an
/// alias of it) would have run its backward before. Nodes run backward in reverse order, so the
/// ReLU's backward comes right after the pooling's when it is node `i - 1`: no other node's
/// contribution to the ReLU input's gradient can fall between them, and the ReLU's store mode
/// stays what it was.
pub fn fused_relu(plan: &Plan, i: usize) -> Option<(usize, usize)> {
    let relu = *plan.graph.nodes[i].inputs.first()?;
    let relu_node = &plan.graph.nodes[relu];
    let fuses = matches!(plan.graph.nodes[i].op, Op::MaxPool2d(_))
        && matches!(relu_node.op, Op::Activation(Activation::Relu))
        && relu + 1 == i
        && plan.needs_grad[relu]
        && plan.first_contribution.contains(&(i, 0));
    let below = *relu_node.inputs.first()?;
    (fuses && plan.needs_grad[below]).then_some((relu, below))
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
            if let Some((relu, below)) = fused_relu(plan, i) {
                let (dy_relu, dx) = (grad_mut(plan, relu), grad_mut(plan, below));
                let store = plan.store(relu, 0);
                return quote!(#rt::ops::pool::max_pool2d_relu_backward::<#t, #geometry, B, #in_len, #out_len>(#x, #dy, #dy_relu, #dx, #store););
            }
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

#[cfg(test)]
mod tests {
    use super::{fused_relu, fused_relu_forward};
    use crate::expand::plan::Plan;
    use crate::graph::build;
    use crate::parse::NetworkDef;

    /// The names of the `(relu, pooling)` pairs that `relu_of(plan, pooling)` finds.
    fn pairs(body: &str, relu_of: fn(&Plan, usize) -> Option<usize>) -> Vec<(String, String)> {
        let def: NetworkDef = syn::parse_str(&format!("struct Net {{ {body} }}")).unwrap();
        let graph = build(&def).unwrap_or_else(|e| panic!("{e}"));
        let plan = Plan::new(&graph);
        let name = |i: usize| graph.nodes[i].name.to_string();
        (0..plan.node_count())
            .filter_map(|i| relu_of(&plan, i).map(|relu| (name(relu), name(i))))
            .collect()
    }

    /// The pairs whose backward passes run as one.
    fn fused(body: &str) -> Vec<(String, String)> {
        pairs(body, |plan, i| fused_relu(plan, i).map(|(relu, _)| relu))
    }

    /// The pairs whose forward passes run as one.
    fn fused_forward(body: &str) -> Vec<(String, String)> {
        pairs(body, fused_relu_forward)
    }

    #[test]
    fn a_relu_read_only_by_the_next_max_pooling_is_fused() {
        let pairs = fused(
            "input x: [1, 8, 8];
             c1 = conv2d(x, 2, kernel = 3, padding = 1);
             r1 = relu(c1);
             p1 = max_pool2d(r1, 2);
             c2 = conv2d(p1, 2, kernel = 3, padding = 1);
             r2 = relu(c2);
             p2 = max_pool2d(r2, 3, stride = 2, padding = 1);
             c3 = conv2d(p1, 2, kernel = 1);
             r3 = relu(c3);
             p3 = max_pool2d(r3, 2);
             g3 = global_avg_pool(r3);
             c4 = conv2d(p1, 2, kernel = 1);
             r4 = relu(c4);
             other = tanh(c4);
             p4 = max_pool2d(r4, 2);
             t5 = tanh(p1);
             a5 = avg_pool2d(t5, 2);
             l5 = leaky_relu(p1);
             p5 = max_pool2d(l5, 2);
             f2 = flatten(p2);
             f3 = flatten(p3);
             f4 = flatten(p4);
             f5 = flatten(p5);
             fa = flatten(a5);
             fo = flatten(other);
             j1 = concat(f2, f3);
             j2 = concat(j1, g3);
             j3 = concat(j2, f4);
             j4 = concat(j3, fo);
             j5 = concat(j4, f5);
             j6 = concat(j5, fa);
             out = linear(j6, 3);
             loss = softmax_cross_entropy(out);",
        );
        // r3 has a second reader (g3); r4 is not the node right before its pooling; leaky_relu
        // and tanh + avg pooling are not the pattern.
        let want = [("r1", "p1"), ("r2", "p2")].map(|(r, p)| (r.to_string(), p.to_string()));
        assert_eq!(pairs, want);
    }

    #[test]
    fn a_relu_right_before_its_max_pooling_is_computed_by_it() {
        let pairs = fused_forward(
            "input x: [1, 8, 8];
             r0 = relu(x);
             p0 = max_pool2d(r0, 2);
             c3 = conv2d(p0, 2, kernel = 1);
             r3 = relu(c3);
             p3 = max_pool2d(r3, 2);
             g3 = global_avg_pool(r3);
             c4 = conv2d(p0, 2, kernel = 1);
             r4 = relu(c4);
             other = tanh(c4);
             p4 = max_pool2d(r4, 2);
             l5 = leaky_relu(p0);
             p5 = max_pool2d(l5, 2);
             r6 = relu(p0);
             a6 = avg_pool2d(r6, 2);
             f3 = flatten(p3);
             f4 = flatten(p4);
             f5 = flatten(p5);
             f6 = flatten(a6);
             fo = flatten(other);
             j1 = concat(f3, g3);
             j2 = concat(j1, f4);
             j3 = concat(j2, fo);
             j4 = concat(j3, f5);
             j5 = concat(j4, f6);
             out = linear(j5, 3);
             loss = softmax_cross_entropy(out);",
        );
        // Forward, a second reader of the ReLU (g3, after the pooling) and the network's input
        // do not matter; r4 is not the node right before its pooling; leaky_relu and average
        // pooling are not the pattern.
        let want = [("r0", "p0"), ("r3", "p3")].map(|(r, p)| (r.to_string(), p.to_string()));
        assert_eq!(pairs, want);
    }

    #[test]
    fn a_relu_on_the_input_without_an_input_gradient_is_not_fused() {
        let pairs = fused(
            "input x: [1, 4, 4];
             r = relu(x);
             p = max_pool2d(r, 2);
             f = flatten(p);
             out = linear(f, 2);
             loss = mse(out);",
        );
        assert!(pairs.is_empty());
    }
}
