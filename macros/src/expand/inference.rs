//! The inference half of a generated type, shared by the network and its folded inference type:
//! the consts describing its buffers, `from_params`, and the stack-only `infer` with its
//! `forward` / `predict` wrappers.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::access::{eval_scratch_field, eval_value_field, stack_local, Access};
use super::dispatch::{self, Arg};
use super::layers::{self, literal, rt, Mode};
use super::plan::Plan;

/// Largest number of elements of every value of a network whose batch-1 `infer` runs compiled
/// for AVX2 where the CPU has it (`runtime::kernels::small::DENSE_VECTOR_MAX`).
const SMALL: usize = 64;

/// Items of the `impl` block of a type with fields `params` and `state` and a `zeroed()`
/// constructor.
pub fn items(plan: &Plan) -> TokenStream {
    let rt = rt();
    let t = &plan.t;
    let graph = plan.graph;
    let name = &graph.name;
    let (p, s) = (plan.param_count, plan.state_count);
    let input_n = plan.input_numel();
    let input_ty = super::inputs::input_ty(plan);
    let output_n = super::outputs::output_numel(plan);
    let output_ty = super::outputs::output_ty(plan);
    let zero_output = super::outputs::zero(plan);
    let needed = super::outputs::needed(plan);
    let (eval_return_ty, eval_return) = super::outputs::eval_return(plan);
    let fill_from_eval = super::outputs::fill_from_eval(plan);
    let copy_out_stack = super::outputs::copy_out(plan, &Access::Stack);
    let output_values = super::outputs::values_of(plan);
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
                let const_name = plan.tensor_const(i, tensor.suffix);
                let full = format!(
                    "{}.{}",
                    node.name,
                    super::io::state_dict_suffix(tensor.suffix)
                );
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

    // `infer` keeps the buffer of every node the outputs need on the stack but a single
    // output's (written to `out`), plus the scratch that evaluation mode needs.
    let out_root = super::outputs::direct_output(plan).map(|o| plan.storage[o]);
    let stack_nodes: Vec<usize> = plan
        .buffered()
        .filter(|&i| needed[i] && Some(i) != out_root)
        .collect();
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
    let forward = (0..plan.node_count())
        .filter(|&i| needed[i])
        .map(|i| layers::forward(plan, &Access::Stack, Mode::Eval, i));
    let forward_eval = (0..plan.node_count())
        .filter(|&i| needed[i])
        .map(|i| layers::forward(plan, &Access::Eval, Mode::Eval, i));
    let eval = eval_type(plan);
    // Every batch of `infer` runs its body through `simd::dispatch`: compiled for AVX-512F, AVX2
    // and FMA, and the baseline, the widest the CPU has picked at run time. A network whose
    // every value has at most `SMALL` elements runs one sample as a straight run of unrolled
    // code (the dense layers on `kernels::small::dense_vector`), compiled for AVX2 at most
    // (`kernels::small::dispatch_256`): its element-wise activations (tanh, sigmoid) take a few
    // vector operations instead of a dozen 128-bit ones, and 512-bit registers would only add
    // shuffles. Element-wise code gives the same bits on every level.
    let small =
        plan.input_numel() <= SMALL && (0..plan.node_count()).all(|i| plan.numel(i) <= SMALL);
    let infer_call = quote! {
        struct __InferCall<'a, const B: usize>(
            &'a [#t; #p],
            &'a [#t; #s],
            &'a [#input_ty; B],
            &'a mut [#output_ty; B],
        );
        impl<const B: usize> #rt::kernels::simd::Simd for __InferCall<'_, B> {
            type Output = ();
            #[inline(always)]
            fn run(self) {
                #name::__infer_body(self.0, self.1, self.2, self.3);
            }
        }
        let call = __InferCall::<B>(params, state, x, out);
    };
    let infer_dispatch = if small {
        quote! {
            if B == 1 {
                #rt::kernels::small::dispatch_256(call);
            } else {
                #rt::kernels::simd::dispatch(call);
            }
        }
    } else {
        quote!(#rt::kernels::simd::dispatch(call);)
    };
    let forward_eval_call = dispatch::call(
        &quote!('s, 't, const B: usize),
        &quote!('s, 't, B),
        &[
            Arg {
                ty: quote!(&'s #name),
                value: quote!(self),
            },
            Arg {
                ty: quote!(&'t mut #eval<B>),
                value: quote!(tape),
            },
            Arg {
                ty: quote!(&'s [#input_ty; B]),
                value: quote!(x),
            },
        ],
        &eval_return_ty,
        &quote!(#name::__forward_eval_body),
    );
    let limit_message = format!(
        "`{name}::infer` keeps its buffers on the stack and is limited to \
         monograd::runtime::scratch::INFER_STACK_LIMIT (256 KiB) per call: this batch size needs \
         more; use `forward` or `predict` (heap buffers kept per thread) or `forward_eval` \
         with a `{name}Eval` you hold"
    );

    quote! {
        /// Number of learned parameters.
        pub const PARAMS: usize = #p;
        /// Number of persistent state values (normalization running statistics).
        pub const STATE: usize = #s;
        /// Elements of one input sample (of every input together, when there are several).
        pub const INPUT: usize = #input_n;
        /// Elements of one output sample of inference (every declared output, or else the
        /// values the loss takes).
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
        #[inline]
        pub const fn infer_bytes(batch: usize) -> usize {
            (batch * (#infer_per_sample + #scratch_per_sample) + #scratch_fixed)
                * ::core::mem::size_of::<#t>()
        }

        /// A value with the given parameters (flat, in `PARAM_TENSORS` order) and the *initial*
        /// state: running statistics of normalization layers start at mean 0, variance 1. To
        /// restore a trained network use [`Self::from_parts`] (parameters and state) or `load`.
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

        /// A value with the given parameters and state (flat, in `PARAM_TENSORS` and
        /// `STATE_TENSORS` order, as `params` and `state` hold them): everything a trained
        /// network is made of, so it predicts exactly as the network they came from.
        ///
        /// # Errors
        /// [`Error::Length`](::monograd::runtime::Error::Length) for a slice of the wrong
        /// length, [`Error::NonFiniteValue`](::monograd::runtime::Error::NonFiniteValue) naming
        /// the first NaN or infinite value.
        pub fn from_parts(
            params: &[#t],
            state: &[#t],
        ) -> ::core::result::Result<Self, #rt::Error> {
            #rt::error::check_len(::core::concat!(::core::stringify!(#name), "::from_parts: params"), #p, params.len())?;
            #rt::error::check_len(::core::concat!(::core::stringify!(#name), "::from_parts: state"), #s, state.len())?;
            if let ::core::option::Option::Some(index) = params.iter().position(|v| !v.is_finite()) {
                return ::core::result::Result::Err(#rt::Error::NonFiniteValue {
                    what: "parameter",
                    tensor: "",
                    index: index,
                    value: params[index] as f64,
                }.in_tensors(Self::PARAM_TENSORS));
            }
            #rt::network::check_state_finite(state, Self::STATE_TENSORS)?;
            let mut net = Self::zeroed();
            net.params.copy_from_slice(params);
            net.state.copy_from_slice(state);
            ::core::result::Result::Ok(net)
        }

        /// Inference (evaluation mode) on a batch, using only the stack: no heap, for firmware
        /// with parameters in a `static`. Needs [`Self::infer_bytes`]`(B)` bytes of stack
        /// beyond its arguments, at most
        /// [`INFER_STACK_LIMIT`](::monograd::runtime::scratch::INFER_STACK_LIMIT) (checked when
        /// the call is compiled); larger batches take [`Self::forward`] or
        /// [`Self::forward_eval`], which use the heap.
        pub fn infer<const B: usize>(
            params: &[#t; #p],
            state: &[#t; #s],
            x: &[#input_ty; B],
            out: &mut [#output_ty; B],
        ) {
            const {
                ::core::assert!(
                    Self::infer_bytes(B) <= #rt::scratch::INFER_STACK_LIMIT,
                    #limit_message
                )
            };
            Self::infer_on_stack(params, state, x, out);
        }

        /// [`Self::infer`] without the stack limit (callers keep `B` small).
        #[doc(hidden)]
        pub fn infer_on_stack<const B: usize>(
            params: &[#t; #p],
            state: &[#t; #s],
            x: &[#input_ty; B],
            out: &mut [#output_ty; B],
        ) {
            #infer_call
            #infer_dispatch
        }

        /// The computation of [`Self::infer_on_stack`], inlined into it once per
        /// instruction-set level.
        #[doc(hidden)]
        #[inline(always)]
        fn __infer_body<const B: usize>(
            params: &[#t; #p],
            state: &[#t; #s],
            x: &[#input_ty; B],
            out: &mut [#output_ty; B],
        ) {
            let _ = (params, state);
            #(#stack_locals)*
            #(#scratch_locals)*
            #(#forward)*
            #copy_out_stack
        }

        /// Inference (evaluation mode) on a batch into `tape`'s buffers (heap, allocated once
        /// by its `new`): node outputs are left in the tape.
        pub fn forward_eval<'t, const B: usize>(
            &self,
            tape: &'t mut #eval<B>,
            x: &[#input_ty; B],
        ) -> #eval_return_ty {
            #forward_eval_call
        }

        /// The computation of [`Self::forward_eval`], inlined into it once per instruction-set
        /// level.
        #[doc(hidden)]
        #[inline(always)]
        fn __forward_eval_body<'t, const B: usize>(
            &self,
            tape: &'t mut #eval<B>,
            x: &[#input_ty; B],
        ) -> #eval_return_ty {
            let params = &*self.params;
            let state = &*self.state;
            let _ = state;
            #(#forward_eval)*
            #eval_return
        }

        /// Inference (evaluation mode) on a batch; the result is returned by value. Small
        /// batches run on the stack (up to
        /// [`FORWARD_STACK_LIMIT`](::monograd::runtime::scratch::FORWARD_STACK_LIMIT) bytes of
        /// buffers); larger ones on heap buffers kept per thread, allocated by the first call
        /// of each batch size (without a heap, always on the stack). NaN in the input gives NaN
        /// outputs: see [`Self::try_predict`].
        pub fn forward<const B: usize>(&self, x: &[#input_ty; B]) -> [#output_ty; B] {
            let mut out = [#zero_output; B];
            if Self::infer_bytes(B) <= #rt::scratch::FORWARD_STACK_LIMIT || !#rt::scratch::CACHED {
                Self::infer_on_stack(&self.params, &self.state, x, &mut out);
            } else {
                #rt::scratch::with_cached(#eval::<B>::new, |tape| {
                    let result = self.forward_eval(tape, x);
                    #fill_from_eval
                });
            }
            out
        }

        /// Inference (evaluation mode) on one sample. NaN in the input gives NaN outputs: see
        /// [`Self::try_predict`].
        #[inline]
        pub fn predict(&self, x: &#input_ty) -> #output_ty {
            let [out] = self.forward(::core::array::from_ref(x));
            out
        }

        /// [`Self::predict`] that checks its output: an input with NaN or infinity, or
        /// parameters that overflow on it, give an error instead of NaN scores (on which an
        /// `argmax` would pick an arbitrary class).
        ///
        /// # Errors
        /// [`Error::NonFiniteValue`](::monograd::runtime::Error::NonFiniteValue) naming the
        /// first non-finite output.
        #[inline]
        pub fn try_predict(
            &self,
            x: &#input_ty,
        ) -> ::core::result::Result<#output_ty, #rt::Error> {
            let out = self.predict(x);
            match #output_values.enumerate().find(|(_, v)| !v.is_finite()) {
                ::core::option::Option::None => ::core::result::Result::Ok(out),
                ::core::option::Option::Some((index, value)) => {
                    ::core::result::Result::Err(#rt::Error::NonFiniteValue {
                        what: "network output",
                        tensor: "",
                        index: index,
                        value: *value as f64,
                    })
                }
            }
        }
    }
}

/// The name of `plan`'s evaluation buffers type, e.g. `NetEval`.
fn eval_type(plan: &Plan) -> proc_macro2::Ident {
    format_ident!("{}Eval", plan.graph.name)
}

/// The evaluation buffers type of `plan` (`NetEval<B>`): every node's output and the scratch
/// that evaluation mode needs, on the heap, for `forward_eval`.
pub fn eval_struct(plan: &Plan) -> TokenStream {
    let rt = rt();
    let t = &plan.t;
    let name = &plan.graph.name;
    let vis = &plan.graph.vis;
    let eval = eval_type(plan);
    let mut fields = Vec::new();
    let mut inits = Vec::new();
    for i in plan.buffered() {
        let field = eval_value_field(&plan.field(i));
        let n = plan.numel(i);
        let doc = format!(
            "`{}`: {} per sample.",
            plan.graph.nodes[i].name, plan.graph.nodes[i].shape
        );
        fields.push(quote!(#[doc = #doc] pub #field: #rt::Buffer<[[#t; #n]; B]>,));
        inits.push(quote!(#field: #rt::Buffer::zeroed(),));
    }
    for item in layers::all_workspace(plan)
        .into_iter()
        .filter(|item| item.eval)
    {
        let field = eval_scratch_field(&item.field);
        let (ty, init) = (&item.ty, &item.init);
        fields.push(quote!(#[doc = "Layer scratch."] pub #field: #ty,));
        inits.push(quote!(#field: #init,));
    }
    let pack_len = layers::gemm_pack_len(plan, &quote!(B));
    fields.push(quote!(#[doc = "Packing scratch of the layers' GEMMs."] pub gemm_pack: #rt::ScratchBuffer<#t>,));
    inits.push(quote!(gemm_pack: #rt::ScratchBuffer::zeroed(#pack_len),));
    let doc = format!(
        "Buffers for inference (evaluation mode) of [`{name}`] on batches of `B` samples, \
         allocated once by `new`: node outputs and layer scratch. `forward` and `predict` keep \
         one per thread and batch size; hold your own for [`{name}::forward_eval`]."
    );
    quote! {
        #[doc = #doc]
        #vis struct #eval<const B: usize> {
            #(#fields)*
        }

        impl<const B: usize> #eval<B> {
            /// Zeroed buffers for batches of `B` samples (on the heap with feature `alloc`).
            pub fn new() -> Self {
                Self { #(#inits)* }
            }
        }

        impl<const B: usize> ::core::default::Default for #eval<B> {
            fn default() -> Self {
                Self::new()
            }
        }
    }
}
