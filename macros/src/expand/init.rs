//! Initialisation code: each parameter tensor from its layer's initializer and a per-layer
//! random stream, and the state's initial values (running variance 1).

use proc_macro2::TokenStream;
use quote::quote;

use super::layers::{literal, rt};
use super::plan::Plan;
use crate::graph::ops::Init;
use crate::graph::Op;

fn init_variant(init: Init) -> TokenStream {
    let rt = rt();
    let i = quote!(#rt::init::Init);
    match init {
        Init::TorchDefault => quote!(#i::TorchDefault),
        Init::Zeros => quote!(#i::Zeros),
        Init::XavierUniform => quote!(#i::XavierUniform { gain: 1.0 }),
        Init::XavierNormal => quote!(#i::XavierNormal { gain: 1.0 }),
        Init::HeUniform => quote!(#i::HeUniform),
        Init::HeNormal => quote!(#i::HeNormal),
    }
}

/// Statements filling `net.params` from `rng` (a `Rng` seeded by the user).
pub fn init_params(plan: &Plan) -> TokenStream {
    let rt = rt();
    let t = &plan.t;
    let mut statements = Vec::new();
    for (i, node) in plan.graph.nodes.iter().enumerate() {
        let block = &plan.params[i];
        // (initializer, fan_in, fan_out) of the weight; biases share the weight's fans.
        let (weight_init, bias_init, fan_in, fan_out) = match &node.op {
            Op::Linear(l) => {
                let fan_in = plan.numel(node.inputs[0]);
                (l.init, l.bias_init, fan_in, l.out)
            }
            Op::Conv2d(c) => {
                let c_in = plan.graph.nodes[node.inputs[0]].shape.0[0];
                let receptive = c.kernel.0 * c.kernel.1;
                (
                    c.init,
                    c.bias_init,
                    c_in / c.groups * receptive,
                    c.out_channels / c.groups * receptive,
                )
            }
            // PyTorch's RNN init: every tensor U(-1/sqrt(H), 1/sqrt(H)), TorchDefault's bound
            // with fan_in = H.
            Op::Recurrent(rnn) => (
                Init::TorchDefault,
                Init::TorchDefault,
                rnn.hidden,
                rnn.hidden,
            ),
            _ => {
                // Normalization affine parameters: weight 1, bias 0, as PyTorch.
                for tensor in &block.tensors {
                    let (off, len) = (plan.param_offset(i, tensor.suffix), tensor.len());
                    let value = literal(plan, if tensor.suffix == "weight" { 1.0 } else { 0.0 });
                    statements.push(quote!(net.params[#off..][..#len].fill(#value);));
                }
                continue;
            }
        };
        for (k, tensor) in block.tensors.iter().enumerate() {
            if tensor.suffix == "weight_g" {
                continue; // set from weight_v below
            }
            let init = match tensor.suffix {
                "bias" => init_variant(bias_init),
                _ => init_variant(weight_init),
            };
            let (off, len) = (plan.param_offset(i, tensor.suffix), tensor.len());
            let stream = (i * 4 + k) as u64;
            let what = format!("{}.{}", node.name, tensor.suffix);
            statements.push(quote! {
                if let ::core::result::Result::Err(error) = #rt::init::fill::<#t>(
                    #init,
                    #rt::init::Fans { fan_in: #fan_in, fan_out: #fan_out },
                    &mut rng.fork(#stream),
                    &mut net.params[#off..][..#len],
                ) {
                    ::core::unreachable!("initializer of `{}`: {}", #what, error);
                }
            });
        }
        if let (Some(g), Some(v)) = (block.tensor("weight_g"), block.tensor("weight_v")) {
            // Weight Norm starts from w = v: g = ||v|| per output row, as PyTorch.
            let (rows, cols) = (v.shape[0], v.len() / v.shape[0]);
            let (g_off, g_len) = (plan.param_offset(i, "weight_g"), g.len());
            statements.push(quote! {
                let (g, v) = net.params[#g_off..].split_at_mut(#g_len);
                #rt::ops::norm::weight_norm_init::<#t, #rows, #cols>(
                    #rt::view::matrix::<#t, #rows, #cols>(v),
                    #rt::view::array_mut::<#t, #rows>(g),
                );
            });
        }
    }
    quote!(#(#statements)*)
}

/// Statements setting `net.state` to its initial value.
pub fn init_state(plan: &Plan) -> TokenStream {
    let one = literal(plan, 1.0);
    let statements = plan.state.iter().enumerate().flat_map(|(i, block)| {
        block
            .tensors
            .iter()
            .filter(|t| t.suffix == "running_var")
            .map(|tensor| {
                let (off, len) = (plan.state_offset(i, tensor.suffix), tensor.len());
                quote!(net.state[#off..][..#len].fill(#one);)
            })
            .collect::<Vec<_>>()
    });
    quote!(#(#statements)*)
}
