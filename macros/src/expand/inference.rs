//! The inference half of a generated type, shared by the network and its folded inference type:
//! the consts describing its buffers, `from_params`, and the stack-only `infer` with its
//! `forward` / `predict` wrappers.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::access::{stack_local, Access};
use super::layers::{self, literal, rt, Mode};
use super::plan::Plan;

/// Items of the `impl` block of a type with fields `params` and `state` and a `zeroed()`
/// constructor.
pub fn items(plan: &Plan) -> TokenStream {
    let rt = rt();
    let t = &plan.t;
    let graph = plan.graph;
    let name = &graph.name;
    let (p, s) = (plan.param_count, plan.state_count);
    let input_n = plan.numel(0);
    let output = graph.output_index();
    let output_n = plan.numel(output);
    let zero = literal(plan, 0.0);

    let mut tensor_consts = Vec::new();
    let mut param_tensor_names = Vec::new();
    let mut state_tensor_names = Vec::new();
    for (i, node) in graph.nodes.iter().enumerate() {
        for (blocks, names) in [
            (&plan.params[i], &mut param_tensor_names),
            (&plan.state[i], &mut state_tensor_names),
        ] {
            for tensor in &blocks.tensors {
                let const_name =
                    format_ident!("{}_{}", plan.const_prefix(i), tensor.suffix.to_uppercase());
                let full = format!("{}.{}", node.name, tensor.suffix);
                let offset = tensor.offset;
                let shape = &tensor.shape;
                let doc = format!("`{full}`: shape {shape:?} at offset {offset}.");
                tensor_consts.push(quote! {
                    #[doc = #doc]
                    pub const #const_name: #rt::TensorInfo = #rt::TensorInfo {
                        name: #full,
                        offset: #offset,
                        shape: &[#(#shape),*],
                    };
                });
                names.push(const_name);
            }
        }
    }

    // `infer` keeps every node's buffer but the output's (written to `out`) on the stack, plus
    // the scratch that evaluation mode needs.
    let out_root = plan.storage[output];
    let stack_nodes: Vec<usize> = plan.buffered().filter(|&i| i != out_root).collect();
    let stack_locals = stack_nodes.iter().map(|&i| {
        let field = stack_local(&plan.field(i));
        let n = plan.numel(i);
        quote!(let mut #field = [[#zero; #n]; B];)
    });
    let infer_per_sample: usize = stack_nodes.iter().map(|&i| plan.numel(i)).sum();
    let scratch: Vec<layers::WorkspaceItem> = layers::all_workspace(plan)
        .into_iter()
        .filter(|item| item.eval)
        .collect();
    let scratch_locals = scratch.iter().map(|item| {
        let (field, init) = (stack_local(&item.field), &item.stack_init);
        quote!(let mut #field = #init;)
    });
    let scratch_per_sample: usize = scratch.iter().map(|item| item.per_sample).sum();
    let scratch_fixed: usize = scratch.iter().map(|item| item.fixed).sum();
    let forward =
        (1..plan.node_count()).map(|i| layers::forward(plan, &Access::Stack, Mode::Eval, i));

    quote! {
        /// Number of learned parameters.
        pub const PARAMS: usize = #p;
        /// Number of persistent state values (normalization running statistics).
        pub const STATE: usize = #s;
        /// Elements of one input sample.
        pub const INPUT: usize = #input_n;
        /// Elements of one output sample (the values the loss takes).
        pub const OUTPUT: usize = #output_n;
        /// Bytes of the parameter buffer.
        pub const PARAM_BYTES: usize = #p * ::core::mem::size_of::<#t>();
        /// Bytes of node buffers and layer scratch that `infer` keeps on its stack for one
        /// sample: every intermediate node's values (the output goes to the caller's `out`) and
        /// what the layers need in evaluation mode. The kernels' own frames come on top (a few
        /// hundred bytes: about 0.6 KB for the portable GEMM on a Cortex-M4 release build).
        pub const INFER_BYTES: usize = Self::infer_bytes(1);
        /// Every parameter tensor, in buffer order, with PyTorch state-dict names.
        pub const PARAM_TENSORS: &'static [#rt::TensorInfo] = &[#(Self::#param_tensor_names),*];
        /// Every state tensor, in buffer order, with PyTorch state-dict names.
        pub const STATE_TENSORS: &'static [#rt::TensorInfo] = &[#(Self::#state_tensor_names),*];
        #(#tensor_consts)*

        /// [`Self::INFER_BYTES`] for a batch of `batch` samples.
        pub const fn infer_bytes(batch: usize) -> usize {
            (batch * (#infer_per_sample + #scratch_per_sample) + #scratch_fixed)
                * ::core::mem::size_of::<#t>()
        }

        /// A value with the given parameters (flat, in `PARAM_TENSORS` order) and the initial
        /// state.
        ///
        /// # Errors
        /// [`Error::Length`](::monograd::runtime::Error::Length) unless
        /// `params.len() == Self::PARAMS`.
        pub fn from_params(params: &[#t]) -> ::core::result::Result<Self, #rt::Error> {
            #rt::error::check_len(::core::concat!(::core::stringify!(#name), "::from_params"), #p, params.len())?;
            let mut net = Self::zeroed();
            net.params.copy_from_slice(params);
            ::core::result::Result::Ok(net)
        }

        /// Inference (evaluation mode) on a batch, using only the stack: no heap, for firmware
        /// with parameters in a `static`. Needs [`Self::infer_bytes`]`(B)` bytes of stack
        /// beyond its arguments.
        pub fn infer<const B: usize>(
            params: &[#t; #p],
            state: &[#t; #s],
            x: &[[#t; #input_n]; B],
            out: &mut [[#t; #output_n]; B],
        ) {
            let _ = (params, state);
            #(#stack_locals)*
            #(#scratch_locals)*
            #(#forward)*
        }

        /// Inference (evaluation mode) on a batch; the result is returned by value (on the
        /// stack).
        pub fn forward<const B: usize>(&self, x: &[[#t; #input_n]; B]) -> [[#t; #output_n]; B] {
            let mut out = [[#zero; #output_n]; B];
            Self::infer(&self.params, &self.state, x, &mut out);
            out
        }

        /// Inference (evaluation mode) on one sample.
        pub fn predict(&self, x: &[#t; #input_n]) -> [#t; #output_n] {
            let [out] = self.forward(::core::array::from_ref(x));
            out
        }
    }
}
