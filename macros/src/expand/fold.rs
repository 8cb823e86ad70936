//! The folded inference type: for a network with BatchNorm (or Batch Renorm) after a dense or
//! conv layer, or with Weight Norm, `Net::fold()` returns a `NetFolded` whose layers have the
//! normalization merged into their weights and bias, so inference pays nothing for it.
//!
//! In evaluation mode such a BatchNorm is an affine map per output channel, which composes with
//! the layer before it into one layer (formulas in `monograd_runtime::ops::norm::fold`); Weight
//! Norm's `g * v / ||v||` is computed once. The folded type is generated from a transformed
//! graph (the BatchNorm becomes an alias of the layer's output) by the same code generation as
//! the network's own inference.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::emit::weight_norm_forward;
use super::inference;
use super::layers::{literal, rt};
use super::plan::{Plan, Weight};
use crate::graph::{Graph, Op};

/// A BatchNorm node folded into the layer before it.
pub struct Fold {
    pub norm: usize,
    pub layer: usize,
    pub eps: f64,
}

/// The graph of the folded type and the folds it makes, or `None` when there is nothing to fold.
pub fn folded_graph(graph: &Graph) -> Option<(Graph, Vec<Fold>)> {
    let mut folded = graph.clone();
    folded.name = format_ident!("{}Folded", graph.name);
    let mut folds = Vec::new();
    for (i, node) in graph.nodes.iter().enumerate() {
        let eps = match &node.op {
            Op::BatchNorm(bn) => bn.eps,
            Op::BatchRenorm(rn) => rn.eps,
            _ => continue,
        };
        let layer = node.inputs[0];
        let only_consumer = graph
            .nodes
            .iter()
            .enumerate()
            .all(|(k, other)| k == i || !other.inputs.contains(&layer));
        if only_consumer && matches!(graph.nodes[layer].op, Op::Linear(_) | Op::Conv2d(_)) {
            folded.nodes[i].op = Op::Identity;
            folds.push(Fold {
                norm: i,
                layer,
                eps,
            });
        }
    }
    let mut weight_norm = false;
    for node in &mut folded.nodes {
        match &mut node.op {
            Op::Linear(l) => {
                weight_norm |= l.weight_norm;
                l.weight_norm = false;
            }
            Op::Conv2d(c) => {
                weight_norm |= c.weight_norm;
                c.weight_norm = false;
            }
            _ => {}
        }
    }
    for fold in &folds {
        match &mut folded.nodes[fold.layer].op {
            Op::Linear(l) => l.bias = true,
            Op::Conv2d(c) => c.bias = true,
            _ => unreachable!("folds follow dense and conv layers"),
        }
    }
    (!folds.is_empty() || weight_norm).then_some((folded, folds))
}

/// The folded type and the `fold` method of the network, if the network has something to fold.
pub fn items(plan: &Plan) -> Option<TokenStream> {
    let (graph, folds) = folded_graph(plan.graph)?;
    let folded_plan = Plan::new(&graph);
    let rt = rt();
    let t = &plan.t;
    let name = &plan.graph.name;
    let folded = &graph.name;
    let vis = &graph.vis;
    let (p, s) = (folded_plan.param_count, folded_plan.state_count);
    let inference = inference::items(&folded_plan);
    let eval_struct = inference::eval_struct(&folded_plan);
    let init_state = super::init::init_state(&folded_plan);
    let io = super::io::folded_items(&folded_plan);
    let geometries = super::layers::geometries(&folded_plan);
    let copies = (0..plan.node_count()).map(|i| copy_node(plan, &folded_plan, &folds, i));
    let doc = format!(
        "Inference-only form of [`{name}`] made by [`{name}::fold`]: every BatchNorm that follows a \
         dense or conv layer is merged into that layer, and Weight Norm weights are precomputed. \
         Same outputs as `{name}` in evaluation mode, {p} parameters."
    );
    let fold_doc = format!(
        "The inference-only [`{folded}`] computing the same outputs as [`Self::forward`] \
         (evaluation mode) with every BatchNorm after a dense or conv layer merged into it."
    );
    Some(quote! {
        #eval_struct
        #io

        #[doc = #doc]
        #[derive(Clone)]
        #vis struct #folded {
            /// Every parameter, flat; the layout is given by `PARAM_TENSORS`.
            pub params: #rt::Buffer<[#t; #p]>,
            /// Running statistics of the normalization layers that were not folded.
            pub state: #rt::Buffer<[#t; #s]>,
        }

        #geometries

        impl ::core::fmt::Debug for #folded {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.debug_struct(::core::stringify!(#folded))
                    .field("params", &::core::format_args!("[{}; {}]", ::core::stringify!(#t), #p))
                    .finish_non_exhaustive()
            }
        }

        impl #folded {
            /// Every parameter zero, the state at its initial value.
            pub fn zeroed() -> Self {
                let mut net = Self {
                    params: #rt::Buffer::zeroed(),
                    state: #rt::Buffer::zeroed(),
                };
                #init_state
                net
            }

            #inference
        }

        impl #name {
            #[doc = #fold_doc]
            pub fn fold(&self) -> #folded {
                let mut folded = #folded::zeroed();
                let params = &*self.params;
                let state = &*self.state;
                let _ = state;
                #(#copies)*
                folded
            }
        }
    })
}

/// Statements filling node `i`'s blocks of the folded type from the network's.
fn copy_node(plan: &Plan, folded_plan: &Plan, folds: &[Fold], i: usize) -> TokenStream {
    let rt = rt();
    let t = &plan.t;
    let (from, to) = (&plan.params[i], &folded_plan.params[i]);
    let Some(weight) = to
        .tensor("weight")
        .filter(|_| matches!(folded_plan.graph.nodes[i].op, Op::Linear(_) | Op::Conv2d(_)))
    else {
        // Normalization layers that stay: parameters and state unchanged, tensor by tensor
        // (a folded one has none left).
        let params = to.tensors.iter().map(|tensor| {
            let (a, b, n) = (
                plan.param_offset(i, tensor.suffix),
                folded_plan.param_offset(i, tensor.suffix),
                tensor.len(),
            );
            quote!(folded.params[#b..][..#n].copy_from_slice(&params[#a..][..#n]);)
        });
        let state = folded_plan.state[i].tensors.iter().map(|tensor| {
            let (a, b, n) = (
                plan.state_offset(i, tensor.suffix),
                folded_plan.state_offset(i, tensor.suffix),
                tensor.len(),
            );
            quote!(folded.state[#b..][..#n].copy_from_slice(&state[#a..][..#n]);)
        });
        return quote!(#(#params)* #(#state)*);
    };
    let out = weight.shape[0];
    let k = weight.len() / out;
    let w_off = folded_plan.param_offset(i, "weight");
    let layout = from.kernel();
    let set_weight = match layout.weight {
        Weight::Plain => {
            let off = plan.param_offset(i, "weight");
            let n = out * k;
            quote!(weight.as_flattened_mut().copy_from_slice(&params[#off..][..#n]);)
        }
        Weight::Normed => weight_norm_forward(plan, i, &layout, quote!(&mut *weight)),
    };
    let set_bias = match (from.tensor("bias"), to.tensor("bias")) {
        (Some(_), Some(_)) => {
            let off = plan.param_offset(i, "bias");
            quote!(bias.copy_from_slice(&params[#off..][..#out]);)
        }
        _ => quote!(),
    };
    let fold = folds.iter().find(|f| f.layer == i).map(|fold| {
        let norm = fold.norm;
        let (one, zero) = (literal(plan, 1.0), literal(plan, 0.0));
        let affine = |suffix: &str, constant: &TokenStream| match plan.params[norm].tensor(suffix)
        {
            Some(_) => {
                let off = plan.param_offset(norm, suffix);
                quote!(#rt::view::array::<#t, #out>(&params[#off..]))
            }
            None => quote!(&[#constant; #out]),
        };
        let (gamma, beta) = (affine("weight", &one), affine("bias", &zero));
        let running = |suffix: &str| {
            let off = plan.state_offset(norm, suffix);
            quote!(#rt::view::array::<#t, #out>(&state[#off..]))
        };
        let (mean, var) = (running("running_mean"), running("running_var"));
        let eps = fold.eps;
        quote! {
            #rt::ops::norm::fold_batch_norm::<#t, #out, #k>(weight, bias, #gamma, #beta, #mean, #var, #eps);
        }
    });
    let bias_view = if to.tensor("bias").is_some() {
        quote!(let bias = #rt::view::array_mut::<#t, #out>(bias);)
    } else {
        quote!(let _ = bias;)
    };
    quote!({
        let (weight, bias) = folded.params[#w_off..].split_at_mut(#out * #k);
        let weight = #rt::view::matrix_mut::<#t, #out, #k>(weight);
        #bias_view
        #set_weight
        #set_bias
        #fold
    })
}
