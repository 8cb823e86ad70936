// network! { struct Cnn { input x: [1, 6, 6]; c = conv2d(x, 2, kernel = 3, padding = 1); n = batch_norm(c); r = relu(n); p = max_pool2d(r, 2); f = flatten(p); z = linear(f, 2); loss = softmax_cross_entropy(z); } }

///Buffers for inference (evaluation mode) of [`CnnFolded`] on batches of `B` samples, allocated once by `new`: node outputs and layer scratch. `forward` and `predict` keep one per thread and batch size; hold your own for [`CnnFolded::forward_eval`].
struct CnnFoldedEval<const B: usize> {
    ///`c`: [2, 6, 6] per sample.
    pub value_c: ::monograd::runtime::Buffer<[[f32; 72usize]; B]>,
    ///`r`: [2, 6, 6] per sample.
    pub value_r: ::monograd::runtime::Buffer<[[f32; 72usize]; B]>,
    ///`p`: [2, 3, 3] per sample.
    pub value_p: ::monograd::runtime::Buffer<[[f32; 18usize]; B]>,
    ///`z`: [2] per sample.
    pub value_z: ::monograd::runtime::Buffer<[[f32; 2usize]; B]>,
    ///Layer scratch.
    pub scratch_conv_columns: ::monograd::runtime::Buffer<[f32; 388usize]>,
    ///Packing scratch of the layers' GEMMs.
    pub gemm_pack: ::monograd::runtime::ScratchBuffer<f32>,
}
impl<const B: usize> CnnFoldedEval<{ B }> {
    /// Zeroed buffers for batches of `B` samples (on the heap with feature `alloc`).
    pub fn new() -> Self {
        Self {
            value_c: ::monograd::runtime::Buffer::zeroed(),
            value_r: ::monograd::runtime::Buffer::zeroed(),
            value_p: ::monograd::runtime::Buffer::zeroed(),
            value_z: ::monograd::runtime::Buffer::zeroed(),
            scratch_conv_columns: ::monograd::runtime::Buffer::zeroed(),
            gemm_pack: ::monograd::runtime::ScratchBuffer::zeroed(
                ::monograd::runtime::buffer::max_len(
                    &[
                        ::monograd::runtime::ops::conv::conv2d_pack_len::<
                            f32,
                            ::monograd::runtime::ops::conv::NetworkConv2d<
                                CnnFolded,
                                1usize,
                            >,
                        >(),
                        ::monograd::runtime::ops::linear::linear_pack_len::<
                            f32,
                        >(B, 18usize, 2usize),
                    ],
                ),
            ),
        }
    }
}
impl<const B: usize> ::core::default::Default for CnnFoldedEval<{ B }> {
    fn default() -> Self {
        Self::new()
    }
}
::monograd::runtime::__with_alloc! {
    impl ::monograd::runtime::io::Persistent for CnnFolded { type Element = f32; const
    PARAM_TENSORS : & 'static [::monograd::runtime::TensorInfo] =
    CnnFolded::PARAM_TENSORS; const STATE_TENSORS : & 'static
    [::monograd::runtime::TensorInfo] = CnnFolded::STATE_TENSORS; const COUNTER_NAMES : &
    'static [& 'static str] = & []; fn zeroed_network() -> Self { CnnFolded::zeroed() }
    fn persistent_parts(& self) -> (& [f32], & [f32], & [u64]) { (& * self.params, & *
    self.state, & []) } fn persistent_parts_mut(& mut self) -> (& mut [f32], & mut [f32],
    & mut [u64]) { (& mut * self.params, & mut * self.state, & mut []) } } impl CnnFolded
    { #[doc =
    r" Every parameter, persistent state tensor and `num_batches_tracked` counter as"]
    #[doc = r" a safetensors file, under PyTorch `state_dict` names and layouts."] pub fn
    to_safetensors(& self) -> ::monograd::runtime::io::Bytes {
    ::monograd::runtime::io::network_bytes(self) } #[doc =
    r" A network from safetensors bytes, strictly (see `runtime::io`): F32, F64,"] #[doc
    = r" F16 or BF16 tensors, every tensor present, no other."] #[doc = r""] #[doc =
    r" # Errors"] #[doc =
    r" `Error::Weights`, naming the tensor, with what was expected and found."] pub fn
    from_safetensors(__bytes : & [u8]) -> ::core::result::Result < Self,
    ::monograd::runtime::Error > {
    ::monograd::runtime::io::network_from_safetensors(__bytes) } #[doc =
    r" Loads safetensors bytes into this network with `options` (e.g."] #[doc =
    r" `LoadOptions::non_strict()`), reporting what was loaded and skipped. On"] #[doc =
    r" error the network is unchanged."] #[doc = r""] #[doc = r" # Errors"] #[doc =
    r" `Error::Weights`, naming the tensor."] pub fn load_safetensors(& mut self, __bytes
    : & [u8], __options : ::monograd::runtime::io::LoadOptions,) ->
    ::core::result::Result < ::monograd::runtime::io::LoadReport,
    ::monograd::runtime::Error > {
    ::monograd::runtime::io::network_load_safetensors(self, __bytes, __options) } }
}
::monograd::runtime::__with_std! {
    impl CnnFolded { #[doc =
    r" Saves the weights to `path` (safetensors) atomically: a failed save leaves"] #[doc
    = r" the previous file intact."] #[doc = r""] #[doc = r" # Errors"] #[doc =
    r" `Error::Weights` naming the file."] pub fn save(& self, __path : impl
    ::core::convert::AsRef < ::monograd::runtime::io::Path >,) -> ::core::result::Result
    < (), ::monograd::runtime::Error > { ::monograd::runtime::io::save_network(self,
    __path) } #[doc = r" A network from the safetensors file at `path`, strictly."] #[doc
    = r""] #[doc = r" # Errors"] #[doc =
    r" `Error::Weights` naming the file and the tensor."] pub fn load(__path : impl
    ::core::convert::AsRef < ::monograd::runtime::io::Path >,) -> ::core::result::Result
    < Self, ::monograd::runtime::Error > { ::monograd::runtime::io::load_network(__path)
    } }
}
///Inference-only form of [`Cnn`] made by [`Cnn::fold`]: every BatchNorm that follows a dense or conv layer is merged into that layer, and Weight Norm weights are precomputed. Same outputs as `Cnn` in evaluation mode, 58 parameters.
#[derive(Clone)]
struct CnnFolded {
    /// Every parameter, flat; the layout is given by `PARAM_TENSORS`.
    pub params: ::monograd::runtime::Buffer<[f32; 58usize]>,
    /// Running statistics of the normalization layers that were not folded.
    pub state: ::monograd::runtime::Buffer<[f32; 0usize]>,
}
impl CnnFolded {
    ///The geometry of `c`, as the convolution kernels read it.
    pub const C_GEOMETRY: ::monograd::runtime::ops::conv::Conv2dShape = ::monograd::runtime::ops::conv::Conv2dShape {
        in_channels: 1usize,
        height: 6usize,
        width: 6usize,
        out_channels: 2usize,
        kernel: [3usize, 3usize],
        stride: [1usize, 1usize],
        padding: [1usize, 1usize],
        dilation: [1usize, 1usize],
        groups: 1usize,
        bias: true,
    };
    ///The geometry of `p`, as the pooling kernels read it.
    pub const P_GEOMETRY: ::monograd::runtime::ops::pool::Pool2dShape = ::monograd::runtime::ops::pool::Pool2dShape {
        channels: 2usize,
        height: 6usize,
        width: 6usize,
        kernel: [2usize, 2usize],
        stride: [2usize, 2usize],
        padding: [0usize, 0usize],
        dilation: [1, 1],
        ceil_mode: false,
    };
}
impl ::monograd::runtime::ops::conv::Conv2dLayer<1usize> for CnnFolded {
    const SHAPE: ::monograd::runtime::ops::conv::Conv2dShape = CnnFolded::C_GEOMETRY;
}
impl ::monograd::runtime::ops::pool::Pool2dLayer<4usize> for CnnFolded {
    const SHAPE: ::monograd::runtime::ops::pool::Pool2dShape = CnnFolded::P_GEOMETRY;
}
impl ::core::fmt::Debug for CnnFolded {
    fn fmt(&self, __f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
        __f.debug_struct(::core::stringify!(CnnFolded))
            .field(
                "params",
                &::core::format_args!("[{}; {}]", ::core::stringify!(f32), 58usize),
            )
            .finish_non_exhaustive()
    }
}
impl CnnFolded {
    /// Every parameter zero, the state at its initial value.
    pub fn zeroed() -> Self {
        let mut __net = Self {
            params: ::monograd::runtime::Buffer::zeroed(),
            state: ::monograd::runtime::Buffer::zeroed(),
        };
        __net
    }
    /// Number of learned parameters.
    pub const PARAMS: usize = 58usize;
    /// Number of persistent state values (normalization running statistics).
    pub const STATE: usize = 0usize;
    /// Elements of one input sample (of every input together, when there are several).
    pub const INPUT: usize = 36usize;
    /// Elements of one output sample of inference (every declared output, or else the
    /// values the loss takes).
    pub const OUTPUT: usize = 2usize;
    /// Bytes of the parameter buffer.
    pub const PARAM_BYTES: usize = 58usize * ::core::mem::size_of::<f32>();
    /// Bytes of node buffers and layer scratch that `infer` keeps on its stack for one
    /// sample: every intermediate node's values (the output goes to the caller's `out`) and
    /// what the layers need in evaluation mode. The kernels' own frames come on top (a few
    /// hundred bytes: about 0.6 KB for the portable GEMM on a Cortex-M4 release build).
    pub const INFER_BYTES: usize = Self::infer_bytes(1);
    /// Every parameter tensor, in buffer order, with PyTorch state-dict names.
    pub const PARAM_TENSORS: &'static [::monograd::runtime::TensorInfo] = &[
        Self::C_WEIGHT,
        Self::C_BIAS,
        Self::Z_WEIGHT,
        Self::Z_BIAS,
    ];
    /// Every state tensor, in buffer order, with PyTorch state-dict names.
    pub const STATE_TENSORS: &'static [::monograd::runtime::TensorInfo] = &[];
    ///`c.weight`: shape [2, 1, 3, 3] at offset 0.
    pub const C_WEIGHT: ::monograd::runtime::TensorInfo = ::monograd::runtime::TensorInfo {
        name: "c.weight",
        offset: 0usize,
        shape: &[2usize, 1usize, 3usize, 3usize],
    };
    ///`c.bias`: shape [2] at offset 18.
    pub const C_BIAS: ::monograd::runtime::TensorInfo = ::monograd::runtime::TensorInfo {
        name: "c.bias",
        offset: 18usize,
        shape: &[2usize],
    };
    ///`z.weight`: shape [2, 18] at offset 20.
    pub const Z_WEIGHT: ::monograd::runtime::TensorInfo = ::monograd::runtime::TensorInfo {
        name: "z.weight",
        offset: 20usize,
        shape: &[2usize, 18usize],
    };
    ///`z.bias`: shape [2] at offset 56.
    pub const Z_BIAS: ::monograd::runtime::TensorInfo = ::monograd::runtime::TensorInfo {
        name: "z.bias",
        offset: 56usize,
        shape: &[2usize],
    };
    /// [`Self::INFER_BYTES`] for a batch of `batch` samples.
    #[inline]
    pub const fn infer_bytes(__batch: usize) -> usize {
        (__batch * (162usize + 0usize) + 388usize) * ::core::mem::size_of::<f32>()
    }
    /// A value with the given parameters (flat, in `PARAM_TENSORS` order) and the *initial*
    /// state: running statistics of normalization layers start at mean 0, variance 1. To
    /// restore a trained network use [`Self::from_parts`] (parameters and state) or `load`.
    ///
    /// # Errors
    /// [`Error::Length`](::monograd::runtime::Error::Length) unless
    /// `params.len() == Self::PARAMS`.
    pub fn from_params(
        __params: &[f32],
    ) -> ::core::result::Result<Self, ::monograd::runtime::Error> {
        ::monograd::runtime::error::check_len(
            ::core::concat!(::core::stringify!(CnnFolded), "::from_params"),
            58usize,
            __params.len(),
        )?;
        let mut __net = Self::zeroed();
        __net.params.copy_from_slice(__params);
        ::core::result::Result::Ok(__net)
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
        __params: &[f32],
        __state: &[f32],
    ) -> ::core::result::Result<Self, ::monograd::runtime::Error> {
        ::monograd::runtime::error::check_len(
            ::core::concat!(::core::stringify!(CnnFolded), "::from_parts: params"),
            58usize,
            __params.len(),
        )?;
        ::monograd::runtime::error::check_len(
            ::core::concat!(::core::stringify!(CnnFolded), "::from_parts: state"),
            0usize,
            __state.len(),
        )?;
        if let ::core::option::Option::Some(__index) = __params
            .iter()
            .position(|__v| !__v.is_finite())
        {
            return ::core::result::Result::Err(
                ::monograd::runtime::Error::NonFiniteValue {
                    what: "parameter",
                    tensor: "",
                    index: __index,
                    value: __params[__index] as f64,
                }
                    .in_tensors(Self::PARAM_TENSORS),
            );
        }
        ::monograd::runtime::network::check_state_finite(__state, Self::STATE_TENSORS)?;
        let mut __net = Self::zeroed();
        __net.params.copy_from_slice(__params);
        __net.state.copy_from_slice(__state);
        ::core::result::Result::Ok(__net)
    }
    /// Inference (evaluation mode) on a batch, using only the stack: no heap, for firmware
    /// with parameters in a `static`. Needs [`Self::infer_bytes`]`(B)` bytes of stack
    /// beyond its arguments, at most
    /// [`INFER_STACK_LIMIT`](::monograd::runtime::scratch::INFER_STACK_LIMIT) (checked when
    /// the call is compiled); larger batches take [`Self::forward`] or
    /// [`Self::forward_eval`], which use the heap.
    pub fn infer<const B: usize>(
        __params: &[f32; 58usize],
        __state: &[f32; 0usize],
        __x: &[[f32; 36usize]; B],
        __out: &mut [[f32; 2usize]; B],
    ) {
        const {
            ::core::assert!(
                Self::infer_bytes(B) <= ::monograd::runtime::scratch::INFER_STACK_LIMIT,
                "`CnnFolded::infer` keeps its buffers on the stack and is limited to monograd::runtime::scratch::INFER_STACK_LIMIT (256 KiB) per call: this batch size needs more; use `forward` or `predict` (heap buffers kept per thread) or `forward_eval` with a `CnnFoldedEval` you hold"
            )
        };
        Self::infer_on_stack(__params, __state, __x, __out);
    }
    /// [`Self::infer`] without the stack limit (callers keep `B` small).
    #[doc(hidden)]
    pub fn infer_on_stack<const B: usize>(
        __params: &[f32; 58usize],
        __state: &[f32; 0usize],
        __x: &[[f32; 36usize]; B],
        __out: &mut [[f32; 2usize]; B],
    ) {
        struct __InferCall<'a, const B: usize>(
            &'a [f32; 58usize],
            &'a [f32; 0usize],
            &'a [[f32; 36usize]; B],
            &'a mut [[f32; 2usize]; B],
        );
        impl<const B: usize> ::monograd::runtime::kernels::simd::Simd
        for __InferCall<'_, { B }> {
            type Output = ();
            #[inline(always)]
            fn run(self) {
                CnnFolded::__infer_body(self.0, self.1, self.2, self.3);
            }
        }
        let __call = __InferCall::<{ B }>(__params, __state, __x, __out);
        ::monograd::runtime::kernels::simd::dispatch(__call);
    }
    /// The computation of [`Self::infer_on_stack`], inlined into it once per
    /// instruction-set level.
    #[doc(hidden)]
    #[inline(always)]
    fn __infer_body<const B: usize>(
        __params: &[f32; 58usize],
        __state: &[f32; 0usize],
        __x: &[[f32; 36usize]; B],
        __out: &mut [[f32; 2usize]; B],
    ) {
        let _ = (__params, __state);
        let mut __node_c = [[0.0f32; 72usize]; B];
        let mut __node_r = [[0.0f32; 72usize]; B];
        let mut __node_p = [[0.0f32; 18usize]; B];
        let mut __node_conv_columns = [0.0f32; 388usize];
        {
            ::monograd::runtime::ops::conv::conv2d_forward_packed::<
                f32,
                ::monograd::runtime::ops::conv::NetworkConv2d<CnnFolded, 1usize>,
                { B },
                36usize,
                72usize,
                20usize,
                388usize,
            >(
                __x,
                ::monograd::runtime::view::array::<
                    f32,
                    20usize,
                >(&__params[CnnFolded::C_WEIGHT.offset..]),
                &mut __node_c,
                &mut __node_conv_columns,
                &mut [],
            );
        }
        ::monograd::runtime::ops::pool::max_pool2d_relu_forward::<
            f32,
            ::monograd::runtime::ops::pool::NetworkPool2d<CnnFolded, 4usize>,
            { B },
            72usize,
            18usize,
        >(&__node_c, &mut __node_r, &mut __node_p);
        {
            ::monograd::runtime::ops::linear::linear_forward_packed::<
                f32,
                { B },
                18usize,
                2usize,
            >(
                &__node_p,
                ::monograd::runtime::view::matrix::<
                    f32,
                    2usize,
                    18usize,
                >(&__params[CnnFolded::Z_WEIGHT.offset..]),
                ::core::option::Option::Some(
                    ::monograd::runtime::view::array::<
                        f32,
                        2usize,
                    >(&__params[CnnFolded::Z_BIAS.offset..]),
                ),
                &mut *__out,
                &mut [],
            );
        }
    }
    /// Inference (evaluation mode) on a batch into `tape`'s buffers (heap, allocated once
    /// by its `new`): node outputs are left in the tape.
    pub fn forward_eval<'t, const B: usize>(
        &self,
        __tape: &'t mut CnnFoldedEval<{ B }>,
        __x: &[[f32; 36usize]; B],
    ) -> &'t [[f32; 2usize]; B] {
        {
            struct __Body<'s, 't, const B: usize>(
                &'s CnnFolded,
                &'t mut CnnFoldedEval<{ B }>,
                &'s [[f32; 36usize]; B],
            );
            impl<'s, 't, const B: usize> ::monograd::runtime::kernels::simd::Simd
            for __Body<'s, 't, { B }> {
                type Output = &'t [[f32; 2usize]; B];
                #[inline(always)]
                fn run(self) -> &'t [[f32; 2usize]; B] {
                    CnnFolded::__forward_eval_body(self.0, self.1, self.2)
                }
            }
            ::monograd::runtime::kernels::simd::dispatch(__Body(self, __tape, __x))
        }
    }
    /// The computation of [`Self::forward_eval`], inlined into it once per instruction-set
    /// level.
    #[doc(hidden)]
    #[inline(always)]
    fn __forward_eval_body<'t, const B: usize>(
        &self,
        __tape: &'t mut CnnFoldedEval<{ B }>,
        __x: &[[f32; 36usize]; B],
    ) -> &'t [[f32; 2usize]; B] {
        let __params = &*self.params;
        let __state = &*self.state;
        let _ = __state;
        {
            ::monograd::runtime::ops::conv::conv2d_forward_packed::<
                f32,
                ::monograd::runtime::ops::conv::NetworkConv2d<CnnFolded, 1usize>,
                { B },
                36usize,
                72usize,
                20usize,
                388usize,
            >(
                __x,
                ::monograd::runtime::view::array::<
                    f32,
                    20usize,
                >(&__params[CnnFolded::C_WEIGHT.offset..]),
                &mut *__tape.value_c,
                &mut __tape.scratch_conv_columns,
                &mut __tape.gemm_pack[..],
            );
        }
        ::monograd::runtime::ops::pool::max_pool2d_relu_forward::<
            f32,
            ::monograd::runtime::ops::pool::NetworkPool2d<CnnFolded, 4usize>,
            { B },
            72usize,
            18usize,
        >(&*__tape.value_c, &mut *__tape.value_r, &mut *__tape.value_p);
        {
            ::monograd::runtime::ops::linear::linear_forward_packed::<
                f32,
                { B },
                18usize,
                2usize,
            >(
                &*__tape.value_p,
                ::monograd::runtime::view::matrix::<
                    f32,
                    2usize,
                    18usize,
                >(&__params[CnnFolded::Z_WEIGHT.offset..]),
                ::core::option::Option::Some(
                    ::monograd::runtime::view::array::<
                        f32,
                        2usize,
                    >(&__params[CnnFolded::Z_BIAS.offset..]),
                ),
                &mut *__tape.value_z,
                &mut __tape.gemm_pack[..],
            );
        }
        &*__tape.value_z
    }
    /// Inference (evaluation mode) on a batch; the result is returned by value. Small
    /// batches run on the stack (up to
    /// [`FORWARD_STACK_LIMIT`](::monograd::runtime::scratch::FORWARD_STACK_LIMIT) bytes of
    /// buffers); larger ones on heap buffers kept per thread, allocated by the first call
    /// of each batch size (without a heap, always on the stack). NaN in the input gives NaN
    /// outputs: see [`Self::try_predict`].
    pub fn forward<const B: usize>(
        &self,
        __x: &[[f32; 36usize]; B],
    ) -> [[f32; 2usize]; B] {
        let mut __out = [[0.0f32; 2usize]; B];
        if Self::infer_bytes(B) <= ::monograd::runtime::scratch::FORWARD_STACK_LIMIT
            || !::monograd::runtime::scratch::CACHED
        {
            Self::infer_on_stack(&self.params, &self.state, __x, &mut __out);
        } else {
            ::monograd::runtime::scratch::with_cached(
                CnnFoldedEval::<{ B }>::new,
                |__tape| {
                    let __result = self.forward_eval(__tape, __x);
                    __out = *__result;
                },
            );
        }
        __out
    }
    /// Inference (evaluation mode) on one sample. NaN in the input gives NaN outputs: see
    /// [`Self::try_predict`].
    #[inline]
    pub fn predict(&self, __x: &[f32; 36usize]) -> [f32; 2usize] {
        let [__out] = self.forward(::core::array::from_ref(__x));
        __out
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
        __x: &[f32; 36usize],
    ) -> ::core::result::Result<[f32; 2usize], ::monograd::runtime::Error> {
        let __out = self.predict(__x);
        match __out.iter().enumerate().find(|(_, __v)| !__v.is_finite()) {
            ::core::option::Option::None => ::core::result::Result::Ok(__out),
            ::core::option::Option::Some((__index, __value)) => {
                ::core::result::Result::Err(::monograd::runtime::Error::NonFiniteValue {
                    what: "network output",
                    tensor: "",
                    index: __index,
                    value: *__value as f64,
                })
            }
        }
    }
}
impl Cnn {
    ///The inference-only [`CnnFolded`] computing the same outputs as [`Self::forward`] (evaluation mode) with every BatchNorm after a dense or conv layer merged into it.
    pub fn fold(&self) -> CnnFolded {
        let mut __folded = CnnFolded::zeroed();
        let __params = &*self.params;
        let __state = &*self.state;
        let _ = __state;
        {
            let (__weight, __bias) = __folded
                .params[CnnFolded::C_WEIGHT.offset..]
                .split_at_mut(2usize * 9usize);
            let __weight = ::monograd::runtime::view::matrix_mut::<
                f32,
                2usize,
                9usize,
            >(__weight);
            let __bias = ::monograd::runtime::view::array_mut::<f32, 2usize>(__bias);
            __weight
                .as_flattened_mut()
                .copy_from_slice(&__params[Cnn::C_WEIGHT.offset..][..18usize]);
            __bias.copy_from_slice(&__params[Cnn::C_BIAS.offset..][..2usize]);
            ::monograd::runtime::ops::norm::fold_batch_norm::<
                f32,
                2usize,
                9usize,
            >(
                __weight,
                __bias,
                ::monograd::runtime::view::array::<
                    f32,
                    2usize,
                >(&__params[Cnn::N_WEIGHT.offset..]),
                ::monograd::runtime::view::array::<
                    f32,
                    2usize,
                >(&__params[Cnn::N_BIAS.offset..]),
                ::monograd::runtime::view::array::<
                    f32,
                    2usize,
                >(&__state[Cnn::N_RUNNING_MEAN.offset..]),
                ::monograd::runtime::view::array::<
                    f32,
                    2usize,
                >(&__state[Cnn::N_RUNNING_VAR.offset..]),
                0.00001f64,
            );
        }
        {
            let (__weight, __bias) = __folded
                .params[CnnFolded::Z_WEIGHT.offset..]
                .split_at_mut(2usize * 18usize);
            let __weight = ::monograd::runtime::view::matrix_mut::<
                f32,
                2usize,
                18usize,
            >(__weight);
            let __bias = ::monograd::runtime::view::array_mut::<f32, 2usize>(__bias);
            __weight
                .as_flattened_mut()
                .copy_from_slice(&__params[Cnn::Z_WEIGHT.offset..][..36usize]);
            __bias.copy_from_slice(&__params[Cnn::Z_BIAS.offset..][..2usize]);
        }
        __folded
    }
}
/**

Generated by `monograd::network!`: 62 parameters (248 bytes as `f32`), input [1, 6, 6] per sample, output [2] per sample.

| node | operation | output per sample | parameters |
|---|---|---|---|
| `x` | input | [1, 6, 6] | 0 |
| `c` | Conv2d | [2, 6, 6] | 20 |
| `n` | BatchNorm | [2, 6, 6] | 4 |
| `r` | Activation | [2, 6, 6] | 0 |
| `p` | MaxPool2d | [2, 3, 3] | 0 |
| `f` | Flatten | [18] | 0 |
| `z` | Linear | [2] | 38 |
| `loss` | loss: SoftmaxCrossEntropy | scalar | 0 |
*/
#[derive(Clone)]
struct Cnn {
    /// Every learned parameter, in one flat buffer; the layout is given by the
    /// associated `TensorInfo` consts and `PARAM_TENSORS`.
    pub params: ::monograd::runtime::Buffer<[f32; 62usize]>,
    /// Persistent non-learned state (normalization running statistics), flat; the
    /// layout is given by `STATE_TENSORS`.
    pub state: ::monograd::runtime::Buffer<[f32; 4usize]>,
    /// Training batches seen by each BatchNorm / Batch Renorm layer, in `COUNTER_NAMES`
    /// order (PyTorch's `num_batches_tracked`, saved with the weights).
    pub num_batches_tracked: [u64; 1usize],
}
impl Cnn {
    ///The geometry of `c`, as the convolution kernels read it.
    pub const C_GEOMETRY: ::monograd::runtime::ops::conv::Conv2dShape = ::monograd::runtime::ops::conv::Conv2dShape {
        in_channels: 1usize,
        height: 6usize,
        width: 6usize,
        out_channels: 2usize,
        kernel: [3usize, 3usize],
        stride: [1usize, 1usize],
        padding: [1usize, 1usize],
        dilation: [1usize, 1usize],
        groups: 1usize,
        bias: true,
    };
    ///The geometry of `p`, as the pooling kernels read it.
    pub const P_GEOMETRY: ::monograd::runtime::ops::pool::Pool2dShape = ::monograd::runtime::ops::pool::Pool2dShape {
        channels: 2usize,
        height: 6usize,
        width: 6usize,
        kernel: [2usize, 2usize],
        stride: [2usize, 2usize],
        padding: [0usize, 0usize],
        dilation: [1, 1],
        ceil_mode: false,
    };
}
impl ::monograd::runtime::ops::conv::Conv2dLayer<1usize> for Cnn {
    const SHAPE: ::monograd::runtime::ops::conv::Conv2dShape = Cnn::C_GEOMETRY;
}
impl ::monograd::runtime::ops::pool::Pool2dLayer<4usize> for Cnn {
    const SHAPE: ::monograd::runtime::ops::pool::Pool2dShape = Cnn::P_GEOMETRY;
}
impl Cnn {
    /// Names of the int64 counters saved with the weights (`X.num_batches_tracked`).
    pub const COUNTER_NAMES: &'static [&'static str] = &["n.num_batches_tracked"];
}
::monograd::runtime::__with_alloc! {
    impl ::monograd::runtime::io::Persistent for Cnn { type Element = f32; const
    PARAM_TENSORS : & 'static [::monograd::runtime::TensorInfo] = Cnn::PARAM_TENSORS;
    const STATE_TENSORS : & 'static [::monograd::runtime::TensorInfo] =
    Cnn::STATE_TENSORS; const COUNTER_NAMES : & 'static [& 'static str] =
    Cnn::COUNTER_NAMES; fn zeroed_network() -> Self { Cnn::zeroed() } fn
    persistent_parts(& self) -> (& [f32], & [f32], & [u64]) { (& * self.params, & * self
    .state, & self.num_batches_tracked) } fn persistent_parts_mut(& mut self) -> (& mut
    [f32], & mut [f32], & mut [u64]) { (& mut * self.params, & mut * self.state, & mut
    self.num_batches_tracked) } } impl Cnn { #[doc =
    r" Every parameter, persistent state tensor and `num_batches_tracked` counter as"]
    #[doc = r" a safetensors file, under PyTorch `state_dict` names and layouts."] pub fn
    to_safetensors(& self) -> ::monograd::runtime::io::Bytes {
    ::monograd::runtime::io::network_bytes(self) } #[doc =
    r" A network from safetensors bytes, strictly (see `runtime::io`): F32, F64,"] #[doc
    = r" F16 or BF16 tensors, every tensor present, no other."] #[doc = r""] #[doc =
    r" # Errors"] #[doc =
    r" `Error::Weights`, naming the tensor, with what was expected and found."] pub fn
    from_safetensors(__bytes : & [u8]) -> ::core::result::Result < Self,
    ::monograd::runtime::Error > {
    ::monograd::runtime::io::network_from_safetensors(__bytes) } #[doc =
    r" Loads safetensors bytes into this network with `options` (e.g."] #[doc =
    r" `LoadOptions::non_strict()`), reporting what was loaded and skipped. On"] #[doc =
    r" error the network is unchanged."] #[doc = r""] #[doc = r" # Errors"] #[doc =
    r" `Error::Weights`, naming the tensor."] pub fn load_safetensors(& mut self, __bytes
    : & [u8], __options : ::monograd::runtime::io::LoadOptions,) ->
    ::core::result::Result < ::monograd::runtime::io::LoadReport,
    ::monograd::runtime::Error > {
    ::monograd::runtime::io::network_load_safetensors(self, __bytes, __options) } }
}
::monograd::runtime::__with_std! {
    impl Cnn { #[doc =
    r" Saves the weights to `path` (safetensors) atomically: a failed save leaves"] #[doc
    = r" the previous file intact."] #[doc = r""] #[doc = r" # Errors"] #[doc =
    r" `Error::Weights` naming the file."] pub fn save(& self, __path : impl
    ::core::convert::AsRef < ::monograd::runtime::io::Path >,) -> ::core::result::Result
    < (), ::monograd::runtime::Error > { ::monograd::runtime::io::save_network(self,
    __path) } #[doc = r" A network from the safetensors file at `path`, strictly."] #[doc
    = r""] #[doc = r" # Errors"] #[doc =
    r" `Error::Weights` naming the file and the tensor."] pub fn load(__path : impl
    ::core::convert::AsRef < ::monograd::runtime::io::Path >,) -> ::core::result::Result
    < Self, ::monograd::runtime::Error > { ::monograd::runtime::io::load_network(__path)
    } }
}
::monograd::runtime::__with_alloc! {
    impl Cnn { #[doc =
    r" A training checkpoint as bytes: the network, `optimizer`'s state,"] #[doc =
    r" `progress` and the data shuffler's position (see"] #[doc =
    r" `runtime::io::checkpoint`)."] #[doc = r""] #[doc = r" # Errors"] #[doc =
    r" Never for a generated network (kept for the file variant's symmetry)."] pub fn
    checkpoint_to_safetensors < O > (& self, __optimizer : & O, __progress :
    ::monograd::runtime::io::Progress, __shuffler : ::core::option::Option < & dyn
    ::monograd::runtime::io::ShufflerState >,) -> ::core::result::Result <
    ::monograd::runtime::io::Bytes, ::monograd::runtime::Error > where O :
    ::monograd::runtime::optim::Optimizer < f32, 62usize > +
    ::monograd::runtime::optim::Describe, {
    ::monograd::runtime::io::checkpoint::to_safetensors:: < 62usize, _, _ > (self,
    __optimizer, __progress, __shuffler) } #[doc =
    r" Restores a checkpoint into this network, `optimizer` and the shuffler, and"] #[doc
    = r" returns the saved progress. On error nothing changes."] #[doc = r""] #[doc =
    r" # Errors"] #[doc =
    r" `Error::Weights`: a tensor problem, or a checkpoint of another optimizer or"]
    #[doc = r" configuration (naming the field)."] pub fn checkpoint_from_safetensors < O
    > (& mut self, __bytes : & [u8], __optimizer : & mut O, __shuffler :
    ::core::option::Option < & mut dyn ::monograd::runtime::io::ShufflerState >,) ->
    ::core::result::Result < ::monograd::runtime::io::Progress,
    ::monograd::runtime::Error > where O : ::monograd::runtime::optim::Optimizer < f32,
    62usize > + ::monograd::runtime::optim::Describe, {
    ::monograd::runtime::io::checkpoint::load_safetensors:: < 62usize, _, _ > (__bytes,
    self, __optimizer, __shuffler) } }
}
::monograd::runtime::__with_std! {
    impl Cnn { #[doc = r" Saves a training checkpoint to `path` atomically."] #[doc =
    r""] #[doc = r" # Errors"] #[doc =
    r" `Error::Weights` naming the file; the previous checkpoint is intact."] pub fn
    save_checkpoint < O > (& self, __path : impl ::core::convert::AsRef <
    ::monograd::runtime::io::Path >, __optimizer : & O, __progress :
    ::monograd::runtime::io::Progress, __shuffler : ::core::option::Option < & dyn
    ::monograd::runtime::io::ShufflerState >,) -> ::core::result::Result < (),
    ::monograd::runtime::Error > where O : ::monograd::runtime::optim::Optimizer < f32,
    62usize > + ::monograd::runtime::optim::Describe, {
    ::monograd::runtime::io::checkpoint::save:: < 62usize, _, _ > (__path, self,
    __optimizer, __progress, __shuffler) } #[doc =
    r" Restores the checkpoint at `path`; on error nothing changes."] #[doc = r""] #[doc
    = r" # Errors"] #[doc = r" As `checkpoint_from_safetensors`, naming the file."] pub
    fn load_checkpoint < O > (& mut self, __path : impl ::core::convert::AsRef <
    ::monograd::runtime::io::Path >, __optimizer : & mut O, __shuffler :
    ::core::option::Option < & mut dyn ::monograd::runtime::io::ShufflerState >,) ->
    ::core::result::Result < ::monograd::runtime::io::Progress,
    ::monograd::runtime::Error > where O : ::monograd::runtime::optim::Optimizer < f32,
    62usize > + ::monograd::runtime::optim::Describe, {
    ::monograd::runtime::io::checkpoint::load:: < 62usize, _, _ > (__path, self,
    __optimizer, __shuffler) } }
}
impl<const B: usize> CnnTape<{ B }> {
    ///Bytes of the buffers this tape holds, [`Cnn::tape_bytes`]`(B)` as a constant: on the heap with feature `alloc`, inline without it (then exactly `size_of::<Self>()`). A firmware crate can check its budget at compile time: `const _: () = assert!(CnnTape::<4>::BYTES <= 48 * 1024);`.
    pub const BYTES: usize = Cnn::tape_bytes(B);
}
::monograd::runtime::__without_alloc! {
    impl Cnn { #[doc =
    r" [`Self::zeroed`] as a `const fn` (only without a heap): every parameter zero and"]
    #[doc =
    r" the state at its initial value, built at compile time, e.g. in a `static`."] pub
    const fn zeroed_static() -> Self { let mut __state = < [f32; 4usize] as
    ::monograd::runtime::ScalarArray > ::ZEROED; let mut __i = Cnn::N_RUNNING_VAR.offset;
    while __i < Cnn::N_RUNNING_VAR.offset + 2usize { __state[__i] = 1.0f32; __i += 1; }
    let _ = & mut __state; Self { params : ::monograd::runtime::Buffer::ZEROED, state :
    ::monograd::runtime::Buffer::from_array(__state), num_batches_tracked : [0u64;
    1usize], } } }
}
///The output of every node of [`Cnn`] for a batch of `B` samples (one field per node, named after it), or the gradient of the loss with respect to it.
struct CnnActivations<const B: usize> {
    ///`c`: [2, 6, 6] per sample.
    pub c: ::monograd::runtime::Buffer<[[f32; 72usize]; B]>,
    ///`n`: [2, 6, 6] per sample.
    pub n: ::monograd::runtime::Buffer<[[f32; 72usize]; B]>,
    ///`r`: [2, 6, 6] per sample.
    pub r: ::monograd::runtime::Buffer<[[f32; 72usize]; B]>,
    ///`p`: [2, 3, 3] per sample.
    pub p: ::monograd::runtime::Buffer<[[f32; 18usize]; B]>,
    ///`z`: [2] per sample.
    pub z: ::monograd::runtime::Buffer<[[f32; 2usize]; B]>,
}
impl<const B: usize> CnnActivations<{ B }> {
    /// All-zero buffers (heap-allocated with feature `alloc`).
    pub fn zeroed() -> Self {
        Self {
            c: ::monograd::runtime::Buffer::zeroed(),
            n: ::monograd::runtime::Buffer::zeroed(),
            r: ::monograd::runtime::Buffer::zeroed(),
            p: ::monograd::runtime::Buffer::zeroed(),
            z: ::monograd::runtime::Buffer::zeroed(),
        }
    }
}
///Scratch buffers of [`Cnn`] layers for a batch of `B` samples.
struct CnnWorkspace<const B: usize> {
    ///Layer scratch.
    pub n_stats: ::monograd::runtime::ops::norm::BatchStats<f32, 2usize>,
    ///Layer scratch.
    pub conv_columns: ::monograd::runtime::Buffer<[f32; 388usize]>,
}
impl<const B: usize> CnnWorkspace<{ B }> {
    /// All-zero buffers.
    pub fn zeroed() -> Self {
        Self {
            n_stats: ::monograd::runtime::ops::norm::BatchStats::<f32, 2usize>::zeroed(),
            conv_columns: ::monograd::runtime::Buffer::zeroed(),
        }
    }
}
///Everything a training step of [`Cnn`] needs for a batch of `B` samples, allocated once: node outputs, their gradients, the parameter gradient and layer scratch space. Reuse one tape for every step of the same batch size.
struct CnnTape<const B: usize> {
    /// Node outputs of the last forward pass.
    pub values: CnnActivations<{ B }>,
    /// Gradients of the loss with respect to node outputs, from the last backward pass.
    pub grads: CnnActivations<{ B }>,
    /// Gradient of the loss with respect to every parameter, laid out like `params`.
    pub param_grads: ::monograd::runtime::Buffer<[f32; 62usize]>,
    /// Layer scratch space.
    pub workspace: CnnWorkspace<{ B }>,
    /// The network's state as it was before the last `forward_train`, so that a failed
    /// training step can put it back.
    pub state_before_forward: ::monograd::runtime::Buffer<[f32; 4usize]>,
    /// Gradient with respect to the input, from the last
    /// `input_grad_from` / `backward_with_input_grad`.
    pub input_grad: ::monograd::runtime::Buffer<[[f32; 36usize]; B]>,
    /// Packing scratch of the layers' GEMMs (allocated once; empty without a heap).
    pub gemm_pack: ::monograd::runtime::ScratchBuffer<f32>,
}
impl<const B: usize> CnnTape<{ B }> {
    /// A zeroed tape for batches of `B` samples.
    pub fn new() -> Self {
        Self {
            values: CnnActivations::zeroed(),
            grads: CnnActivations::zeroed(),
            param_grads: ::monograd::runtime::Buffer::zeroed(),
            workspace: CnnWorkspace::zeroed(),
            state_before_forward: ::monograd::runtime::Buffer::zeroed(),
            input_grad: ::monograd::runtime::Buffer::zeroed(),
            gemm_pack: ::monograd::runtime::ScratchBuffer::zeroed(
                ::monograd::runtime::buffer::max_len(
                    &[
                        ::monograd::runtime::ops::conv::conv2d_pack_len::<
                            f32,
                            ::monograd::runtime::ops::conv::NetworkConv2d<Cnn, 1usize>,
                        >(),
                        ::monograd::runtime::ops::linear::linear_pack_len::<
                            f32,
                        >(B, 18usize, 2usize),
                    ],
                ),
            ),
        }
    }
}
impl<const B: usize> ::core::default::Default for CnnTape<{ B }> {
    fn default() -> Self {
        Self::new()
    }
}
///Buffers for inference (evaluation mode) of [`Cnn`] on batches of `B` samples, allocated once by `new`: node outputs and layer scratch. `forward` and `predict` keep one per thread and batch size; hold your own for [`Cnn::forward_eval`].
struct CnnEval<const B: usize> {
    ///`c`: [2, 6, 6] per sample.
    pub value_c: ::monograd::runtime::Buffer<[[f32; 72usize]; B]>,
    ///`n`: [2, 6, 6] per sample.
    pub value_n: ::monograd::runtime::Buffer<[[f32; 72usize]; B]>,
    ///`r`: [2, 6, 6] per sample.
    pub value_r: ::monograd::runtime::Buffer<[[f32; 72usize]; B]>,
    ///`p`: [2, 3, 3] per sample.
    pub value_p: ::monograd::runtime::Buffer<[[f32; 18usize]; B]>,
    ///`z`: [2] per sample.
    pub value_z: ::monograd::runtime::Buffer<[[f32; 2usize]; B]>,
    ///Layer scratch.
    pub scratch_conv_columns: ::monograd::runtime::Buffer<[f32; 388usize]>,
    ///Packing scratch of the layers' GEMMs.
    pub gemm_pack: ::monograd::runtime::ScratchBuffer<f32>,
}
impl<const B: usize> CnnEval<{ B }> {
    /// Zeroed buffers for batches of `B` samples (on the heap with feature `alloc`).
    pub fn new() -> Self {
        Self {
            value_c: ::monograd::runtime::Buffer::zeroed(),
            value_n: ::monograd::runtime::Buffer::zeroed(),
            value_r: ::monograd::runtime::Buffer::zeroed(),
            value_p: ::monograd::runtime::Buffer::zeroed(),
            value_z: ::monograd::runtime::Buffer::zeroed(),
            scratch_conv_columns: ::monograd::runtime::Buffer::zeroed(),
            gemm_pack: ::monograd::runtime::ScratchBuffer::zeroed(
                ::monograd::runtime::buffer::max_len(
                    &[
                        ::monograd::runtime::ops::conv::conv2d_pack_len::<
                            f32,
                            ::monograd::runtime::ops::conv::NetworkConv2d<Cnn, 1usize>,
                        >(),
                        ::monograd::runtime::ops::linear::linear_pack_len::<
                            f32,
                        >(B, 18usize, 2usize),
                    ],
                ),
            ),
        }
    }
}
impl<const B: usize> ::core::default::Default for CnnEval<{ B }> {
    fn default() -> Self {
        Self::new()
    }
}
///Class labels for a batch of `B` samples of [`Cnn`]: one `usize` in `0..2` per sample.
type CnnTargets<const B: usize> = [usize; B];
impl Cnn {
    /// Number of learned parameters.
    pub const PARAMS: usize = 62usize;
    /// Number of persistent state values (normalization running statistics).
    pub const STATE: usize = 4usize;
    /// Elements of one input sample (of every input together, when there are several).
    pub const INPUT: usize = 36usize;
    /// Elements of one output sample of inference (every declared output, or else the
    /// values the loss takes).
    pub const OUTPUT: usize = 2usize;
    /// Bytes of the parameter buffer.
    pub const PARAM_BYTES: usize = 62usize * ::core::mem::size_of::<f32>();
    /// Bytes of node buffers and layer scratch that `infer` keeps on its stack for one
    /// sample: every intermediate node's values (the output goes to the caller's `out`) and
    /// what the layers need in evaluation mode. The kernels' own frames come on top (a few
    /// hundred bytes: about 0.6 KB for the portable GEMM on a Cortex-M4 release build).
    pub const INFER_BYTES: usize = Self::infer_bytes(1);
    /// Every parameter tensor, in buffer order, with PyTorch state-dict names.
    pub const PARAM_TENSORS: &'static [::monograd::runtime::TensorInfo] = &[
        Self::C_WEIGHT,
        Self::C_BIAS,
        Self::N_WEIGHT,
        Self::N_BIAS,
        Self::Z_WEIGHT,
        Self::Z_BIAS,
    ];
    /// Every state tensor, in buffer order, with PyTorch state-dict names.
    pub const STATE_TENSORS: &'static [::monograd::runtime::TensorInfo] = &[
        Self::N_RUNNING_MEAN,
        Self::N_RUNNING_VAR,
    ];
    ///`c.weight`: shape [2, 1, 3, 3] at offset 0.
    pub const C_WEIGHT: ::monograd::runtime::TensorInfo = ::monograd::runtime::TensorInfo {
        name: "c.weight",
        offset: 0usize,
        shape: &[2usize, 1usize, 3usize, 3usize],
    };
    ///`c.bias`: shape [2] at offset 18.
    pub const C_BIAS: ::monograd::runtime::TensorInfo = ::monograd::runtime::TensorInfo {
        name: "c.bias",
        offset: 18usize,
        shape: &[2usize],
    };
    ///`n.weight`: shape [2] at offset 20.
    pub const N_WEIGHT: ::monograd::runtime::TensorInfo = ::monograd::runtime::TensorInfo {
        name: "n.weight",
        offset: 20usize,
        shape: &[2usize],
    };
    ///`n.bias`: shape [2] at offset 22.
    pub const N_BIAS: ::monograd::runtime::TensorInfo = ::monograd::runtime::TensorInfo {
        name: "n.bias",
        offset: 22usize,
        shape: &[2usize],
    };
    ///`n.running_mean`: shape [2] at offset 0.
    pub const N_RUNNING_MEAN: ::monograd::runtime::TensorInfo = ::monograd::runtime::TensorInfo {
        name: "n.running_mean",
        offset: 0usize,
        shape: &[2usize],
    };
    ///`n.running_var`: shape [2] at offset 2.
    pub const N_RUNNING_VAR: ::monograd::runtime::TensorInfo = ::monograd::runtime::TensorInfo {
        name: "n.running_var",
        offset: 2usize,
        shape: &[2usize],
    };
    ///`z.weight`: shape [2, 18] at offset 24.
    pub const Z_WEIGHT: ::monograd::runtime::TensorInfo = ::monograd::runtime::TensorInfo {
        name: "z.weight",
        offset: 24usize,
        shape: &[2usize, 18usize],
    };
    ///`z.bias`: shape [2] at offset 60.
    pub const Z_BIAS: ::monograd::runtime::TensorInfo = ::monograd::runtime::TensorInfo {
        name: "z.bias",
        offset: 60usize,
        shape: &[2usize],
    };
    /// [`Self::INFER_BYTES`] for a batch of `batch` samples.
    #[inline]
    pub const fn infer_bytes(__batch: usize) -> usize {
        (__batch * (234usize + 0usize) + 388usize) * ::core::mem::size_of::<f32>()
    }
    /// A value with the given parameters (flat, in `PARAM_TENSORS` order) and the *initial*
    /// state: running statistics of normalization layers start at mean 0, variance 1. To
    /// restore a trained network use [`Self::from_parts`] (parameters and state) or `load`.
    ///
    /// # Errors
    /// [`Error::Length`](::monograd::runtime::Error::Length) unless
    /// `params.len() == Self::PARAMS`.
    pub fn from_params(
        __params: &[f32],
    ) -> ::core::result::Result<Self, ::monograd::runtime::Error> {
        ::monograd::runtime::error::check_len(
            ::core::concat!(::core::stringify!(Cnn), "::from_params"),
            62usize,
            __params.len(),
        )?;
        let mut __net = Self::zeroed();
        __net.params.copy_from_slice(__params);
        ::core::result::Result::Ok(__net)
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
        __params: &[f32],
        __state: &[f32],
    ) -> ::core::result::Result<Self, ::monograd::runtime::Error> {
        ::monograd::runtime::error::check_len(
            ::core::concat!(::core::stringify!(Cnn), "::from_parts: params"),
            62usize,
            __params.len(),
        )?;
        ::monograd::runtime::error::check_len(
            ::core::concat!(::core::stringify!(Cnn), "::from_parts: state"),
            4usize,
            __state.len(),
        )?;
        if let ::core::option::Option::Some(__index) = __params
            .iter()
            .position(|__v| !__v.is_finite())
        {
            return ::core::result::Result::Err(
                ::monograd::runtime::Error::NonFiniteValue {
                    what: "parameter",
                    tensor: "",
                    index: __index,
                    value: __params[__index] as f64,
                }
                    .in_tensors(Self::PARAM_TENSORS),
            );
        }
        ::monograd::runtime::network::check_state_finite(__state, Self::STATE_TENSORS)?;
        let mut __net = Self::zeroed();
        __net.params.copy_from_slice(__params);
        __net.state.copy_from_slice(__state);
        ::core::result::Result::Ok(__net)
    }
    /// Inference (evaluation mode) on a batch, using only the stack: no heap, for firmware
    /// with parameters in a `static`. Needs [`Self::infer_bytes`]`(B)` bytes of stack
    /// beyond its arguments, at most
    /// [`INFER_STACK_LIMIT`](::monograd::runtime::scratch::INFER_STACK_LIMIT) (checked when
    /// the call is compiled); larger batches take [`Self::forward`] or
    /// [`Self::forward_eval`], which use the heap.
    pub fn infer<const B: usize>(
        __params: &[f32; 62usize],
        __state: &[f32; 4usize],
        __x: &[[f32; 36usize]; B],
        __out: &mut [[f32; 2usize]; B],
    ) {
        const {
            ::core::assert!(
                Self::infer_bytes(B) <= ::monograd::runtime::scratch::INFER_STACK_LIMIT,
                "`Cnn::infer` keeps its buffers on the stack and is limited to monograd::runtime::scratch::INFER_STACK_LIMIT (256 KiB) per call: this batch size needs more; use `forward` or `predict` (heap buffers kept per thread) or `forward_eval` with a `CnnEval` you hold"
            )
        };
        Self::infer_on_stack(__params, __state, __x, __out);
    }
    /// [`Self::infer`] without the stack limit (callers keep `B` small).
    #[doc(hidden)]
    pub fn infer_on_stack<const B: usize>(
        __params: &[f32; 62usize],
        __state: &[f32; 4usize],
        __x: &[[f32; 36usize]; B],
        __out: &mut [[f32; 2usize]; B],
    ) {
        struct __InferCall<'a, const B: usize>(
            &'a [f32; 62usize],
            &'a [f32; 4usize],
            &'a [[f32; 36usize]; B],
            &'a mut [[f32; 2usize]; B],
        );
        impl<const B: usize> ::monograd::runtime::kernels::simd::Simd
        for __InferCall<'_, { B }> {
            type Output = ();
            #[inline(always)]
            fn run(self) {
                Cnn::__infer_body(self.0, self.1, self.2, self.3);
            }
        }
        let __call = __InferCall::<{ B }>(__params, __state, __x, __out);
        ::monograd::runtime::kernels::simd::dispatch(__call);
    }
    /// The computation of [`Self::infer_on_stack`], inlined into it once per
    /// instruction-set level.
    #[doc(hidden)]
    #[inline(always)]
    fn __infer_body<const B: usize>(
        __params: &[f32; 62usize],
        __state: &[f32; 4usize],
        __x: &[[f32; 36usize]; B],
        __out: &mut [[f32; 2usize]; B],
    ) {
        let _ = (__params, __state);
        let mut __node_c = [[0.0f32; 72usize]; B];
        let mut __node_n = [[0.0f32; 72usize]; B];
        let mut __node_r = [[0.0f32; 72usize]; B];
        let mut __node_p = [[0.0f32; 18usize]; B];
        let mut __node_conv_columns = [0.0f32; 388usize];
        {
            ::monograd::runtime::ops::conv::conv2d_forward_packed::<
                f32,
                ::monograd::runtime::ops::conv::NetworkConv2d<Cnn, 1usize>,
                { B },
                36usize,
                72usize,
                20usize,
                388usize,
            >(
                __x,
                ::monograd::runtime::view::array::<
                    f32,
                    20usize,
                >(&__params[Cnn::C_WEIGHT.offset..]),
                &mut __node_c,
                &mut __node_conv_columns,
                &mut [],
            );
        }
        ::monograd::runtime::ops::norm::batch_norm_eval_forward::<
            f32,
            { B },
            2usize,
            36usize,
            72usize,
        >(
            &__node_c,
            ::monograd::runtime::view::matrix::<
                f32,
                2,
                2usize,
            >(&__params[Cnn::N_WEIGHT.offset..]),
            ::monograd::runtime::view::matrix::<
                f32,
                2,
                2usize,
            >(&__state[Cnn::N_RUNNING_MEAN.offset..]),
            &mut __node_n,
            0.00001f64,
        );
        ::monograd::runtime::ops::pool::max_pool2d_relu_forward::<
            f32,
            ::monograd::runtime::ops::pool::NetworkPool2d<Cnn, 4usize>,
            { B },
            72usize,
            18usize,
        >(&__node_n, &mut __node_r, &mut __node_p);
        {
            ::monograd::runtime::ops::linear::linear_forward_packed::<
                f32,
                { B },
                18usize,
                2usize,
            >(
                &__node_p,
                ::monograd::runtime::view::matrix::<
                    f32,
                    2usize,
                    18usize,
                >(&__params[Cnn::Z_WEIGHT.offset..]),
                ::core::option::Option::Some(
                    ::monograd::runtime::view::array::<
                        f32,
                        2usize,
                    >(&__params[Cnn::Z_BIAS.offset..]),
                ),
                &mut *__out,
                &mut [],
            );
        }
    }
    /// Inference (evaluation mode) on a batch into `tape`'s buffers (heap, allocated once
    /// by its `new`): node outputs are left in the tape.
    pub fn forward_eval<'t, const B: usize>(
        &self,
        __tape: &'t mut CnnEval<{ B }>,
        __x: &[[f32; 36usize]; B],
    ) -> &'t [[f32; 2usize]; B] {
        {
            struct __Body<'s, 't, const B: usize>(
                &'s Cnn,
                &'t mut CnnEval<{ B }>,
                &'s [[f32; 36usize]; B],
            );
            impl<'s, 't, const B: usize> ::monograd::runtime::kernels::simd::Simd
            for __Body<'s, 't, { B }> {
                type Output = &'t [[f32; 2usize]; B];
                #[inline(always)]
                fn run(self) -> &'t [[f32; 2usize]; B] {
                    Cnn::__forward_eval_body(self.0, self.1, self.2)
                }
            }
            ::monograd::runtime::kernels::simd::dispatch(__Body(self, __tape, __x))
        }
    }
    /// The computation of [`Self::forward_eval`], inlined into it once per instruction-set
    /// level.
    #[doc(hidden)]
    #[inline(always)]
    fn __forward_eval_body<'t, const B: usize>(
        &self,
        __tape: &'t mut CnnEval<{ B }>,
        __x: &[[f32; 36usize]; B],
    ) -> &'t [[f32; 2usize]; B] {
        let __params = &*self.params;
        let __state = &*self.state;
        let _ = __state;
        {
            ::monograd::runtime::ops::conv::conv2d_forward_packed::<
                f32,
                ::monograd::runtime::ops::conv::NetworkConv2d<Cnn, 1usize>,
                { B },
                36usize,
                72usize,
                20usize,
                388usize,
            >(
                __x,
                ::monograd::runtime::view::array::<
                    f32,
                    20usize,
                >(&__params[Cnn::C_WEIGHT.offset..]),
                &mut *__tape.value_c,
                &mut __tape.scratch_conv_columns,
                &mut __tape.gemm_pack[..],
            );
        }
        ::monograd::runtime::ops::norm::batch_norm_eval_forward::<
            f32,
            { B },
            2usize,
            36usize,
            72usize,
        >(
            &*__tape.value_c,
            ::monograd::runtime::view::matrix::<
                f32,
                2,
                2usize,
            >(&__params[Cnn::N_WEIGHT.offset..]),
            ::monograd::runtime::view::matrix::<
                f32,
                2,
                2usize,
            >(&__state[Cnn::N_RUNNING_MEAN.offset..]),
            &mut *__tape.value_n,
            0.00001f64,
        );
        ::monograd::runtime::ops::pool::max_pool2d_relu_forward::<
            f32,
            ::monograd::runtime::ops::pool::NetworkPool2d<Cnn, 4usize>,
            { B },
            72usize,
            18usize,
        >(&*__tape.value_n, &mut *__tape.value_r, &mut *__tape.value_p);
        {
            ::monograd::runtime::ops::linear::linear_forward_packed::<
                f32,
                { B },
                18usize,
                2usize,
            >(
                &*__tape.value_p,
                ::monograd::runtime::view::matrix::<
                    f32,
                    2usize,
                    18usize,
                >(&__params[Cnn::Z_WEIGHT.offset..]),
                ::core::option::Option::Some(
                    ::monograd::runtime::view::array::<
                        f32,
                        2usize,
                    >(&__params[Cnn::Z_BIAS.offset..]),
                ),
                &mut *__tape.value_z,
                &mut __tape.gemm_pack[..],
            );
        }
        &*__tape.value_z
    }
    /// Inference (evaluation mode) on a batch; the result is returned by value. Small
    /// batches run on the stack (up to
    /// [`FORWARD_STACK_LIMIT`](::monograd::runtime::scratch::FORWARD_STACK_LIMIT) bytes of
    /// buffers); larger ones on heap buffers kept per thread, allocated by the first call
    /// of each batch size (without a heap, always on the stack). NaN in the input gives NaN
    /// outputs: see [`Self::try_predict`].
    pub fn forward<const B: usize>(
        &self,
        __x: &[[f32; 36usize]; B],
    ) -> [[f32; 2usize]; B] {
        let mut __out = [[0.0f32; 2usize]; B];
        if Self::infer_bytes(B) <= ::monograd::runtime::scratch::FORWARD_STACK_LIMIT
            || !::monograd::runtime::scratch::CACHED
        {
            Self::infer_on_stack(&self.params, &self.state, __x, &mut __out);
        } else {
            ::monograd::runtime::scratch::with_cached(
                CnnEval::<{ B }>::new,
                |__tape| {
                    let __result = self.forward_eval(__tape, __x);
                    __out = *__result;
                },
            );
        }
        __out
    }
    /// Inference (evaluation mode) on one sample. NaN in the input gives NaN outputs: see
    /// [`Self::try_predict`].
    #[inline]
    pub fn predict(&self, __x: &[f32; 36usize]) -> [f32; 2usize] {
        let [__out] = self.forward(::core::array::from_ref(__x));
        __out
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
        __x: &[f32; 36usize],
    ) -> ::core::result::Result<[f32; 2usize], ::monograd::runtime::Error> {
        let __out = self.predict(__x);
        match __out.iter().enumerate().find(|(_, __v)| !__v.is_finite()) {
            ::core::option::Option::None => ::core::result::Result::Ok(__out),
            ::core::option::Option::Some((__index, __value)) => {
                ::core::result::Result::Err(::monograd::runtime::Error::NonFiniteValue {
                    what: "network output",
                    tensor: "",
                    index: __index,
                    value: *__value as f64,
                })
            }
        }
    }
    /// The vector-Jacobian product of the output after [`Self::forward_train`] on the
    /// same `x`: fills `tape.param_grads` with the gradient of `sum(upstream * output)`
    /// with respect to every parameter (`upstream` is any gradient of the output, e.g. of a
    /// loss computed outside the network). Frozen layers get a zero gradient.
    pub fn backward_from<const B: usize>(
        &self,
        __tape: &mut CnnTape<{ B }>,
        __x: &[[f32; 36usize]; B],
        __upstream: &[[f32; 2usize]; B],
    ) {
        let __params = &*self.params;
        let _ = (__params, __x);
        (&mut *__tape.grads.z)
            .as_flattened_mut()
            .copy_from_slice(__upstream.as_flattened());
        {
            let __rest = &mut __tape.param_grads[Cnn::Z_WEIGHT.offset..];
            let (__grad_weight, __rest) = __rest.split_at_mut(36usize);
            let __grad_weight = ::monograd::runtime::view::matrix_mut::<
                f32,
                2usize,
                18usize,
            >(__grad_weight);
            let (__grad_bias, __rest) = __rest.split_at_mut(2usize);
            let __grad_bias = ::monograd::runtime::view::array_mut::<
                f32,
                2usize,
            >(__grad_bias);
            let _ = __rest;
            ::monograd::runtime::ops::linear::linear_backward_params_packed::<
                f32,
                { B },
                18usize,
                2usize,
            >(
                &*__tape.values.p,
                &*__tape.grads.z,
                __grad_weight,
                ::core::option::Option::Some(__grad_bias),
                ::monograd::runtime::Store::Overwrite,
                &mut __tape.gemm_pack[..],
            );
            ::monograd::runtime::ops::linear::linear_backward_input_packed::<
                f32,
                { B },
                18usize,
                2usize,
            >(
                &*__tape.grads.z,
                ::monograd::runtime::view::matrix::<
                    f32,
                    2usize,
                    18usize,
                >(&__params[Cnn::Z_WEIGHT.offset..]),
                &mut *__tape.grads.p,
                ::monograd::runtime::Store::Overwrite,
                &mut __tape.gemm_pack[..],
            );
        }
        ::monograd::runtime::ops::pool::max_pool2d_relu_backward::<
            f32,
            ::monograd::runtime::ops::pool::NetworkPool2d<Cnn, 4usize>,
            { B },
            72usize,
            18usize,
        >(
            &*__tape.values.r,
            &*__tape.grads.p,
            &mut *__tape.grads.r,
            &mut *__tape.grads.n,
            ::monograd::runtime::Store::Overwrite,
        );
        ::monograd::runtime::ops::norm::batch_norm_train_backward::<
            f32,
            { B },
            2usize,
            36usize,
            72usize,
        >(
            &*__tape.values.c,
            ::monograd::runtime::view::matrix::<
                f32,
                2,
                2usize,
            >(&__params[Cnn::N_WEIGHT.offset..]),
            &__tape.workspace.n_stats,
            &*__tape.grads.n,
            &mut *__tape.grads.c,
            ::monograd::runtime::Store::Overwrite,
            ::monograd::runtime::view::matrix_mut::<
                f32,
                2,
                2usize,
            >(&mut __tape.param_grads[Cnn::N_WEIGHT.offset..]),
            ::monograd::runtime::Store::Overwrite,
        );
        {
            ::monograd::runtime::ops::conv::conv2d_backward_params_packed::<
                f32,
                ::monograd::runtime::ops::conv::NetworkConv2d<Cnn, 1usize>,
                { B },
                36usize,
                72usize,
                20usize,
                388usize,
            >(
                __x,
                &*__tape.grads.c,
                ::monograd::runtime::view::array_mut::<
                    f32,
                    20usize,
                >(&mut __tape.param_grads[Cnn::C_WEIGHT.offset..]),
                &mut __tape.workspace.conv_columns,
                ::monograd::runtime::Store::Overwrite,
                &mut __tape.gemm_pack[..],
            );
        }
    }
    /// As [`Self::backward_from`], and also the gradient of `sum(upstream * output)` with
    /// respect to the input, which it returns (kept in `tape.input_grad`).
    pub fn input_grad_from<'t, const B: usize>(
        &self,
        __tape: &'t mut CnnTape<{ B }>,
        __x: &[[f32; 36usize]; B],
        __upstream: &[[f32; 2usize]; B],
    ) -> &'t [[f32; 36usize]; B] {
        let __params = &*self.params;
        let _ = (__params, __x);
        (&mut *__tape.grads.z)
            .as_flattened_mut()
            .copy_from_slice(__upstream.as_flattened());
        {
            let __rest = &mut __tape.param_grads[Cnn::Z_WEIGHT.offset..];
            let (__grad_weight, __rest) = __rest.split_at_mut(36usize);
            let __grad_weight = ::monograd::runtime::view::matrix_mut::<
                f32,
                2usize,
                18usize,
            >(__grad_weight);
            let (__grad_bias, __rest) = __rest.split_at_mut(2usize);
            let __grad_bias = ::monograd::runtime::view::array_mut::<
                f32,
                2usize,
            >(__grad_bias);
            let _ = __rest;
            ::monograd::runtime::ops::linear::linear_backward_params_packed::<
                f32,
                { B },
                18usize,
                2usize,
            >(
                &*__tape.values.p,
                &*__tape.grads.z,
                __grad_weight,
                ::core::option::Option::Some(__grad_bias),
                ::monograd::runtime::Store::Overwrite,
                &mut __tape.gemm_pack[..],
            );
            ::monograd::runtime::ops::linear::linear_backward_input_packed::<
                f32,
                { B },
                18usize,
                2usize,
            >(
                &*__tape.grads.z,
                ::monograd::runtime::view::matrix::<
                    f32,
                    2usize,
                    18usize,
                >(&__params[Cnn::Z_WEIGHT.offset..]),
                &mut *__tape.grads.p,
                ::monograd::runtime::Store::Overwrite,
                &mut __tape.gemm_pack[..],
            );
        }
        ::monograd::runtime::ops::pool::max_pool2d_relu_backward::<
            f32,
            ::monograd::runtime::ops::pool::NetworkPool2d<Cnn, 4usize>,
            { B },
            72usize,
            18usize,
        >(
            &*__tape.values.r,
            &*__tape.grads.p,
            &mut *__tape.grads.r,
            &mut *__tape.grads.n,
            ::monograd::runtime::Store::Overwrite,
        );
        ::monograd::runtime::ops::norm::batch_norm_train_backward::<
            f32,
            { B },
            2usize,
            36usize,
            72usize,
        >(
            &*__tape.values.c,
            ::monograd::runtime::view::matrix::<
                f32,
                2,
                2usize,
            >(&__params[Cnn::N_WEIGHT.offset..]),
            &__tape.workspace.n_stats,
            &*__tape.grads.n,
            &mut *__tape.grads.c,
            ::monograd::runtime::Store::Overwrite,
            ::monograd::runtime::view::matrix_mut::<
                f32,
                2,
                2usize,
            >(&mut __tape.param_grads[Cnn::N_WEIGHT.offset..]),
            ::monograd::runtime::Store::Overwrite,
        );
        {
            ::monograd::runtime::ops::conv::conv2d_backward_params_packed::<
                f32,
                ::monograd::runtime::ops::conv::NetworkConv2d<Cnn, 1usize>,
                { B },
                36usize,
                72usize,
                20usize,
                388usize,
            >(
                __x,
                &*__tape.grads.c,
                ::monograd::runtime::view::array_mut::<
                    f32,
                    20usize,
                >(&mut __tape.param_grads[Cnn::C_WEIGHT.offset..]),
                &mut __tape.workspace.conv_columns,
                ::monograd::runtime::Store::Overwrite,
                &mut __tape.gemm_pack[..],
            );
            ::monograd::runtime::ops::conv::conv2d_backward_input_packed::<
                f32,
                ::monograd::runtime::ops::conv::NetworkConv2d<Cnn, 1usize>,
                { B },
                36usize,
                72usize,
                20usize,
                388usize,
            >(
                &*__tape.grads.c,
                ::monograd::runtime::view::array::<
                    f32,
                    20usize,
                >(&__params[Cnn::C_WEIGHT.offset..]),
                &mut *__tape.input_grad,
                &mut __tape.workspace.conv_columns,
                ::monograd::runtime::Store::Overwrite,
                &mut __tape.gemm_pack[..],
            );
        }
        &*__tape.input_grad
    }
    /// As [`Self::backward`] (the mean loss, and its gradient in `tape.param_grads`), and
    /// also the loss's gradient with respect to the input, in `tape.input_grad` (saliency
    /// maps, adversarial examples).
    ///
    /// # Errors
    /// As [`Self::backward`].
    pub fn backward_with_input_grad<const B: usize>(
        &self,
        __tape: &mut CnnTape<{ B }>,
        __x: &[[f32; 36usize]; B],
        __targets: &CnnTargets<{ B }>,
    ) -> ::core::result::Result<f32, ::monograd::runtime::Error> {
        let __params = &*self.params;
        let _ = (__params, __x);
        let __loss = ::monograd::runtime::ops::loss::softmax_cross_entropy_with_grad::<
            f32,
            { B },
            2usize,
        >(
            &*__tape.values.z,
            __targets,
            &mut *__tape.grads.z,
            ::monograd::runtime::Store::Overwrite,
        )?;
        {
            let __rest = &mut __tape.param_grads[Cnn::Z_WEIGHT.offset..];
            let (__grad_weight, __rest) = __rest.split_at_mut(36usize);
            let __grad_weight = ::monograd::runtime::view::matrix_mut::<
                f32,
                2usize,
                18usize,
            >(__grad_weight);
            let (__grad_bias, __rest) = __rest.split_at_mut(2usize);
            let __grad_bias = ::monograd::runtime::view::array_mut::<
                f32,
                2usize,
            >(__grad_bias);
            let _ = __rest;
            ::monograd::runtime::ops::linear::linear_backward_params_packed::<
                f32,
                { B },
                18usize,
                2usize,
            >(
                &*__tape.values.p,
                &*__tape.grads.z,
                __grad_weight,
                ::core::option::Option::Some(__grad_bias),
                ::monograd::runtime::Store::Overwrite,
                &mut __tape.gemm_pack[..],
            );
            ::monograd::runtime::ops::linear::linear_backward_input_packed::<
                f32,
                { B },
                18usize,
                2usize,
            >(
                &*__tape.grads.z,
                ::monograd::runtime::view::matrix::<
                    f32,
                    2usize,
                    18usize,
                >(&__params[Cnn::Z_WEIGHT.offset..]),
                &mut *__tape.grads.p,
                ::monograd::runtime::Store::Overwrite,
                &mut __tape.gemm_pack[..],
            );
        }
        ::monograd::runtime::ops::pool::max_pool2d_relu_backward::<
            f32,
            ::monograd::runtime::ops::pool::NetworkPool2d<Cnn, 4usize>,
            { B },
            72usize,
            18usize,
        >(
            &*__tape.values.r,
            &*__tape.grads.p,
            &mut *__tape.grads.r,
            &mut *__tape.grads.n,
            ::monograd::runtime::Store::Overwrite,
        );
        ::monograd::runtime::ops::norm::batch_norm_train_backward::<
            f32,
            { B },
            2usize,
            36usize,
            72usize,
        >(
            &*__tape.values.c,
            ::monograd::runtime::view::matrix::<
                f32,
                2,
                2usize,
            >(&__params[Cnn::N_WEIGHT.offset..]),
            &__tape.workspace.n_stats,
            &*__tape.grads.n,
            &mut *__tape.grads.c,
            ::monograd::runtime::Store::Overwrite,
            ::monograd::runtime::view::matrix_mut::<
                f32,
                2,
                2usize,
            >(&mut __tape.param_grads[Cnn::N_WEIGHT.offset..]),
            ::monograd::runtime::Store::Overwrite,
        );
        {
            ::monograd::runtime::ops::conv::conv2d_backward_params_packed::<
                f32,
                ::monograd::runtime::ops::conv::NetworkConv2d<Cnn, 1usize>,
                { B },
                36usize,
                72usize,
                20usize,
                388usize,
            >(
                __x,
                &*__tape.grads.c,
                ::monograd::runtime::view::array_mut::<
                    f32,
                    20usize,
                >(&mut __tape.param_grads[Cnn::C_WEIGHT.offset..]),
                &mut __tape.workspace.conv_columns,
                ::monograd::runtime::Store::Overwrite,
                &mut __tape.gemm_pack[..],
            );
            ::monograd::runtime::ops::conv::conv2d_backward_input_packed::<
                f32,
                ::monograd::runtime::ops::conv::NetworkConv2d<Cnn, 1usize>,
                { B },
                36usize,
                72usize,
                20usize,
                388usize,
            >(
                &*__tape.grads.c,
                ::monograd::runtime::view::array::<
                    f32,
                    20usize,
                >(&__params[Cnn::C_WEIGHT.offset..]),
                &mut *__tape.input_grad,
                &mut __tape.workspace.conv_columns,
                ::monograd::runtime::Store::Overwrite,
                &mut __tape.gemm_pack[..],
            );
        }
        ::core::result::Result::Ok(__loss)
    }
    /// Bytes of the buffers a `Tape<batch>` holds: node outputs and their gradients, the
    /// parameter gradient, a copy of the state (and of the dropout generator, if any),
    /// layer scratch space and GEMM packing scratch. On the heap with feature `alloc`;
    /// without it the buffers are inline and this is exactly `size_of::<Tape<batch>>()`
    /// (no packing scratch).
    #[inline]
    pub const fn tape_bytes(__batch: usize) -> usize {
        (2 * __batch * 236usize + 62usize + 4usize + __batch * 0usize + 393usize + 0usize
            + __batch * 36usize
            + ::monograd::runtime::ScratchBuffer::<
                f32,
            >::held_len(
                ::monograd::runtime::buffer::max_len(
                    &[
                        ::monograd::runtime::ops::conv::conv2d_pack_len::<
                            f32,
                            ::monograd::runtime::ops::conv::NetworkConv2d<Cnn, 1usize>,
                        >(),
                        ::monograd::runtime::ops::linear::linear_pack_len::<
                            f32,
                        >(__batch, 18usize, 2usize),
                    ],
                ),
            )) * ::core::mem::size_of::<f32>()
    }
    /// A network with every parameter zero and the state at its initial value.
    pub fn zeroed() -> Self {
        let mut __net = Self {
            params: ::monograd::runtime::Buffer::zeroed(),
            state: ::monograd::runtime::Buffer::zeroed(),
            num_batches_tracked: [0u64; 1usize],
        };
        __net.state[Cnn::N_RUNNING_VAR.offset..][..2usize].fill(1.0f32);
        __net
    }
    /// A network initialised from `seed`, each layer with its initializer; the same seed
    /// gives the same parameters on every platform.
    pub fn new(__seed: u64) -> Self {
        let mut __net = Self::zeroed();
        let __rng = ::monograd::runtime::Rng::new(__seed);
        if let ::core::result::Result::Err(__error) = ::monograd::runtime::init::fill::<
            f32,
        >(
            ::monograd::runtime::init::Init::TorchDefault,
            ::monograd::runtime::init::Fans {
                fan_in: 9usize,
                fan_out: 18usize,
            },
            &mut __rng.fork(4u64),
            &mut __net.params[Cnn::C_WEIGHT.offset..][..18usize],
        ) {
            ::core::unreachable!("initializer of `{}`: {}", "c.weight", __error);
        }
        if let ::core::result::Result::Err(__error) = ::monograd::runtime::init::fill::<
            f32,
        >(
            ::monograd::runtime::init::Init::TorchDefault,
            ::monograd::runtime::init::Fans {
                fan_in: 9usize,
                fan_out: 18usize,
            },
            &mut __rng.fork(5u64),
            &mut __net.params[Cnn::C_BIAS.offset..][..2usize],
        ) {
            ::core::unreachable!("initializer of `{}`: {}", "c.bias", __error);
        }
        __net.params[Cnn::N_WEIGHT.offset..][..2usize].fill(1.0f32);
        __net.params[Cnn::N_BIAS.offset..][..2usize].fill(0.0f32);
        if let ::core::result::Result::Err(__error) = ::monograd::runtime::init::fill::<
            f32,
        >(
            ::monograd::runtime::init::Init::TorchDefault,
            ::monograd::runtime::init::Fans {
                fan_in: 18usize,
                fan_out: 2usize,
            },
            &mut __rng.fork(24u64),
            &mut __net.params[Cnn::Z_WEIGHT.offset..][..36usize],
        ) {
            ::core::unreachable!("initializer of `{}`: {}", "z.weight", __error);
        }
        if let ::core::result::Result::Err(__error) = ::monograd::runtime::init::fill::<
            f32,
        >(
            ::monograd::runtime::init::Init::TorchDefault,
            ::monograd::runtime::init::Fans {
                fan_in: 18usize,
                fan_out: 2usize,
            },
            &mut __rng.fork(25u64),
            &mut __net.params[Cnn::Z_BIAS.offset..][..2usize],
        ) {
            ::core::unreachable!("initializer of `{}`: {}", "z.bias", __error);
        }
        __net
    }
    /// Inference (evaluation mode) on a batch into the tape's buffers (heap): node
    /// outputs are left in `tape.values`.
    pub fn forward_with<'t, const B: usize>(
        &self,
        __tape: &'t mut CnnTape<{ B }>,
        __x: &[[f32; 36usize]; B],
    ) -> &'t [[f32; 2usize]; B] {
        {
            struct __Body<'s, 't, const B: usize>(
                &'s Cnn,
                &'t mut CnnTape<{ B }>,
                &'s [[f32; 36usize]; B],
            );
            impl<'s, 't, const B: usize> ::monograd::runtime::kernels::simd::Simd
            for __Body<'s, 't, { B }> {
                type Output = &'t [[f32; 2usize]; B];
                #[inline(always)]
                fn run(self) -> &'t [[f32; 2usize]; B] {
                    Cnn::__forward_with_body(self.0, self.1, self.2)
                }
            }
            ::monograd::runtime::kernels::simd::dispatch(__Body(self, __tape, __x))
        }
    }
    /// The computation of [`Self::forward_with`], inlined into it once per instruction-set
    /// level.
    #[doc(hidden)]
    #[inline(always)]
    fn __forward_with_body<'t, const B: usize>(
        &self,
        __tape: &'t mut CnnTape<{ B }>,
        __x: &[[f32; 36usize]; B],
    ) -> &'t [[f32; 2usize]; B] {
        let __params = &*self.params;
        let __state = &*self.state;
        let _ = __state;
        {
            ::monograd::runtime::ops::conv::conv2d_forward_packed::<
                f32,
                ::monograd::runtime::ops::conv::NetworkConv2d<Cnn, 1usize>,
                { B },
                36usize,
                72usize,
                20usize,
                388usize,
            >(
                __x,
                ::monograd::runtime::view::array::<
                    f32,
                    20usize,
                >(&__params[Cnn::C_WEIGHT.offset..]),
                &mut *__tape.values.c,
                &mut __tape.workspace.conv_columns,
                &mut __tape.gemm_pack[..],
            );
        }
        ::monograd::runtime::ops::norm::batch_norm_eval_forward::<
            f32,
            { B },
            2usize,
            36usize,
            72usize,
        >(
            &*__tape.values.c,
            ::monograd::runtime::view::matrix::<
                f32,
                2,
                2usize,
            >(&__params[Cnn::N_WEIGHT.offset..]),
            ::monograd::runtime::view::matrix::<
                f32,
                2,
                2usize,
            >(&__state[Cnn::N_RUNNING_MEAN.offset..]),
            &mut *__tape.values.n,
            0.00001f64,
        );
        ::monograd::runtime::ops::pool::max_pool2d_relu_forward::<
            f32,
            ::monograd::runtime::ops::pool::NetworkPool2d<Cnn, 4usize>,
            { B },
            72usize,
            18usize,
        >(&*__tape.values.n, &mut *__tape.values.r, &mut *__tape.values.p);
        {
            ::monograd::runtime::ops::linear::linear_forward_packed::<
                f32,
                { B },
                18usize,
                2usize,
            >(
                &*__tape.values.p,
                ::monograd::runtime::view::matrix::<
                    f32,
                    2usize,
                    18usize,
                >(&__params[Cnn::Z_WEIGHT.offset..]),
                ::core::option::Option::Some(
                    ::monograd::runtime::view::array::<
                        f32,
                        2usize,
                    >(&__params[Cnn::Z_BIAS.offset..]),
                ),
                &mut *__tape.values.z,
                &mut __tape.gemm_pack[..],
            );
        }
        &*__tape.values.z
    }
    /// Forward pass in training mode (batch statistics for normalization layers, whose
    /// running statistics it updates), keeping in `tape` what `backward` needs:
    /// [`Self::forward_train_with`] on a single thread.
    ///
    /// # Errors
    /// [`Error::NonFiniteValue`](::monograd::runtime::Error::NonFiniteValue) when a
    /// running statistic would become NaN or infinite (NaN in the input, say); the
    /// state (and the dropout generator, if any) is then left as it was.
    pub fn forward_train<'t, const B: usize>(
        &mut self,
        __tape: &'t mut CnnTape<{ B }>,
        __x: &[[f32; 36usize]; B],
    ) -> ::core::result::Result<&'t [[f32; 2usize]; B], ::monograd::runtime::Error> {
        self.forward_train_with(__tape, __x, &mut ::monograd::runtime::Solo)
    }
    /// Forward pass in training mode on this participant's share `x` of a batch shared
    /// through `collective` (see `Network::forward_train_with`): batch normalization
    /// layers use the statistics of the global batch, summed through `collective`.
    ///
    /// # Errors
    /// As [`Self::forward_train`], and the collective's errors; the state (and the dropout
    /// generator, if any) is then left as it was.
    pub fn forward_train_with<
        't,
        const B: usize,
        C: ::monograd::runtime::Collective<f32>,
    >(
        &mut self,
        __tape: &'t mut CnnTape<{ B }>,
        __x: &[[f32; 36usize]; B],
        __collective: &mut C,
    ) -> ::core::result::Result<&'t [[f32; 2usize]; B], ::monograd::runtime::Error> {
        {
            struct __Body<
                's,
                't,
                const B: usize,
                C: ::monograd::runtime::Collective<f32>,
            >(
                &'s mut Cnn,
                &'t mut CnnTape<{ B }>,
                &'s [[f32; 36usize]; B],
                &'s mut C,
            );
            impl<
                's,
                't,
                const B: usize,
                C: ::monograd::runtime::Collective<f32>,
            > ::monograd::runtime::kernels::simd::Simd for __Body<'s, 't, { B }, C> {
                type Output = ::core::result::Result<
                    &'t [[f32; 2usize]; B],
                    ::monograd::runtime::Error,
                >;
                #[inline(always)]
                fn run(
                    self,
                ) -> ::core::result::Result<
                    &'t [[f32; 2usize]; B],
                    ::monograd::runtime::Error,
                > {
                    Cnn::__forward_train_body(self.0, self.1, self.2, self.3)
                }
            }
            ::monograd::runtime::kernels::simd::dispatch(
                __Body(self, __tape, __x, __collective),
            )
        }
    }
    /// The computation of [`Self::forward_train_with`], inlined into it once per
    /// instruction-set level.
    #[doc(hidden)]
    #[inline(always)]
    fn __forward_train_body<'t, const B: usize, C: ::monograd::runtime::Collective<f32>>(
        &mut self,
        __tape: &'t mut CnnTape<{ B }>,
        __x: &[[f32; 36usize]; B],
        __collective: &mut C,
    ) -> ::core::result::Result<&'t [[f32; 2usize]; B], ::monograd::runtime::Error> {
        let _ = &__collective;
        __tape.state_before_forward.copy_from_slice(&self.state[..]);
        #[allow(unused_labels)]
        let __outcome: ::core::result::Result<(), ::monograd::runtime::Error> = 'layers: {
            let __params = &*self.params;
            let __state = &mut *self.state;
            let _ = &__state;
            {
                ::monograd::runtime::ops::conv::conv2d_forward_packed::<
                    f32,
                    ::monograd::runtime::ops::conv::NetworkConv2d<Cnn, 1usize>,
                    { B },
                    36usize,
                    72usize,
                    20usize,
                    388usize,
                >(
                    __x,
                    ::monograd::runtime::view::array::<
                        f32,
                        20usize,
                    >(&__params[Cnn::C_WEIGHT.offset..]),
                    &mut *__tape.values.c,
                    &mut __tape.workspace.conv_columns,
                    &mut __tape.gemm_pack[..],
                );
            }
            const {
                ::core::assert!(
                    B * 36usize > 1,
                    "batch_norm `n` needs a batch of at least 1 sample in training (B >= 1)"
                )
            };
            if let ::core::result::Result::Err(__error) = ::monograd::runtime::ops::norm::batch_norm_train_forward_with::<
                f32,
                { B },
                2usize,
                36usize,
                72usize,
                C,
            >(
                &*__tape.values.c,
                ::monograd::runtime::view::matrix::<
                    f32,
                    2,
                    2usize,
                >(&__params[Cnn::N_WEIGHT.offset..]),
                ::monograd::runtime::view::matrix_mut::<
                    f32,
                    2,
                    2usize,
                >(&mut __state[Cnn::N_RUNNING_MEAN.offset..]),
                &mut __tape.workspace.n_stats,
                &mut *__tape.values.n,
                ::monograd::runtime::ops::norm::BatchNormConfig {
                    eps: 0.00001f64,
                    momentum: 0.1f64,
                },
                &mut *__collective,
            ) {
                let __failed = ::core::result::Result::Err(__error);
                break 'layers __failed;
            }
            ::monograd::runtime::ops::pool::max_pool2d_relu_forward::<
                f32,
                ::monograd::runtime::ops::pool::NetworkPool2d<Cnn, 4usize>,
                { B },
                72usize,
                18usize,
            >(&*__tape.values.n, &mut *__tape.values.r, &mut *__tape.values.p);
            {
                ::monograd::runtime::ops::linear::linear_forward_packed::<
                    f32,
                    { B },
                    18usize,
                    2usize,
                >(
                    &*__tape.values.p,
                    ::monograd::runtime::view::matrix::<
                        f32,
                        2usize,
                        18usize,
                    >(&__params[Cnn::Z_WEIGHT.offset..]),
                    ::core::option::Option::Some(
                        ::monograd::runtime::view::array::<
                            f32,
                            2usize,
                        >(&__params[Cnn::Z_BIAS.offset..]),
                    ),
                    &mut *__tape.values.z,
                    &mut __tape.gemm_pack[..],
                );
            }
            ::core::result::Result::Ok(())
        };
        let __outcome = __outcome
            .and_then(|()| {
                ::monograd::runtime::network::check_state_finite(
                    &self.state[..],
                    Self::STATE_TENSORS,
                )
            });
        if let ::core::result::Result::Err(__error) = __outcome {
            self.state.copy_from_slice(&__tape.state_before_forward[..]);
            return ::core::result::Result::Err(__error);
        }
        for __count in self.num_batches_tracked.iter_mut() {
            *__count = __count.saturating_add(1);
        }
        ::core::result::Result::Ok(&*__tape.values.z)
    }
    /// Backward pass after [`Self::forward_train`] on the same `x`: returns the mean
    /// loss against `targets` and fills `tape.param_grads` with its gradient:
    /// [`Self::backward_with`] on a single thread.
    ///
    /// # Errors
    /// A target out of range (e.g. a class label `>=` the number of classes), or a loss
    /// that is NaN or infinite; `tape.param_grads` is then unspecified.
    pub fn backward<const B: usize>(
        &self,
        __tape: &mut CnnTape<{ B }>,
        __x: &[[f32; 36usize]; B],
        __targets: &CnnTargets<{ B }>,
    ) -> ::core::result::Result<f32, ::monograd::runtime::Error> {
        self.backward_with(__tape, __x, __targets, &mut ::monograd::runtime::Solo)
    }
    /// The backward pass of [`Self::forward_train_with`] on the same `x` and
    /// `collective` (see `Network::backward_with`): this participant's mean loss and
    /// its gradient; batch normalization layers sum their gradient statistics through
    /// `collective`. The whole pass runs even when the loss fails, so that every
    /// participant takes part in every sum.
    ///
    /// # Errors
    /// As [`Self::backward`], and the collective's errors.
    pub fn backward_with<const B: usize, C: ::monograd::runtime::Collective<f32>>(
        &self,
        __tape: &mut CnnTape<{ B }>,
        __x: &[[f32; 36usize]; B],
        __targets: &CnnTargets<{ B }>,
        __collective: &mut C,
    ) -> ::core::result::Result<f32, ::monograd::runtime::Error> {
        {
            struct __Body<'s, const B: usize, C: ::monograd::runtime::Collective<f32>>(
                &'s Cnn,
                &'s mut CnnTape<{ B }>,
                &'s [[f32; 36usize]; B],
                &'s CnnTargets<{ B }>,
                &'s mut C,
            );
            impl<
                's,
                const B: usize,
                C: ::monograd::runtime::Collective<f32>,
            > ::monograd::runtime::kernels::simd::Simd for __Body<'s, { B }, C> {
                type Output = ::core::result::Result<f32, ::monograd::runtime::Error>;
                #[inline(always)]
                fn run(self) -> ::core::result::Result<f32, ::monograd::runtime::Error> {
                    Cnn::__backward_body(self.0, self.1, self.2, self.3, self.4)
                }
            }
            ::monograd::runtime::kernels::simd::dispatch(
                __Body(self, __tape, __x, __targets, __collective),
            )
        }
    }
    /// The computation of [`Self::backward_with`], inlined into it once per instruction-set
    /// level.
    #[doc(hidden)]
    #[inline(always)]
    fn __backward_body<const B: usize, C: ::monograd::runtime::Collective<f32>>(
        &self,
        __tape: &mut CnnTape<{ B }>,
        __x: &[[f32; 36usize]; B],
        __targets: &CnnTargets<{ B }>,
        __collective: &mut C,
    ) -> ::core::result::Result<f32, ::monograd::runtime::Error> {
        let __params = &*self.params;
        let _ = (__params, __x, &__collective);
        let __loss = ::monograd::runtime::ops::loss::softmax_cross_entropy_with_grad::<
            f32,
            { B },
            2usize,
        >(
            &*__tape.values.z,
            __targets,
            &mut *__tape.grads.z,
            ::monograd::runtime::Store::Overwrite,
        );
        #[allow(unused_labels)]
        let __outcome: ::core::result::Result<(), ::monograd::runtime::Error> = 'layers: {
            {
                let __rest = &mut __tape.param_grads[Cnn::Z_WEIGHT.offset..];
                let (__grad_weight, __rest) = __rest.split_at_mut(36usize);
                let __grad_weight = ::monograd::runtime::view::matrix_mut::<
                    f32,
                    2usize,
                    18usize,
                >(__grad_weight);
                let (__grad_bias, __rest) = __rest.split_at_mut(2usize);
                let __grad_bias = ::monograd::runtime::view::array_mut::<
                    f32,
                    2usize,
                >(__grad_bias);
                let _ = __rest;
                ::monograd::runtime::ops::linear::linear_backward_params_packed::<
                    f32,
                    { B },
                    18usize,
                    2usize,
                >(
                    &*__tape.values.p,
                    &*__tape.grads.z,
                    __grad_weight,
                    ::core::option::Option::Some(__grad_bias),
                    ::monograd::runtime::Store::Overwrite,
                    &mut __tape.gemm_pack[..],
                );
                ::monograd::runtime::ops::linear::linear_backward_input_packed::<
                    f32,
                    { B },
                    18usize,
                    2usize,
                >(
                    &*__tape.grads.z,
                    ::monograd::runtime::view::matrix::<
                        f32,
                        2usize,
                        18usize,
                    >(&__params[Cnn::Z_WEIGHT.offset..]),
                    &mut *__tape.grads.p,
                    ::monograd::runtime::Store::Overwrite,
                    &mut __tape.gemm_pack[..],
                );
            }
            ::monograd::runtime::ops::pool::max_pool2d_relu_backward::<
                f32,
                ::monograd::runtime::ops::pool::NetworkPool2d<Cnn, 4usize>,
                { B },
                72usize,
                18usize,
            >(
                &*__tape.values.r,
                &*__tape.grads.p,
                &mut *__tape.grads.r,
                &mut *__tape.grads.n,
                ::monograd::runtime::Store::Overwrite,
            );
            if let ::core::result::Result::Err(__error) = ::monograd::runtime::ops::norm::batch_norm_train_backward_with::<
                f32,
                { B },
                2usize,
                36usize,
                72usize,
                C,
            >(
                &*__tape.values.c,
                ::monograd::runtime::view::matrix::<
                    f32,
                    2,
                    2usize,
                >(&__params[Cnn::N_WEIGHT.offset..]),
                &__tape.workspace.n_stats,
                &*__tape.grads.n,
                (&mut *__tape.grads.c, ::monograd::runtime::Store::Overwrite),
                (
                    ::monograd::runtime::view::matrix_mut::<
                        f32,
                        2,
                        2usize,
                    >(&mut __tape.param_grads[Cnn::N_WEIGHT.offset..]),
                    ::monograd::runtime::Store::Overwrite,
                ),
                &mut *__collective,
            ) {
                let __failed = ::core::result::Result::Err(__error);
                break 'layers __failed;
            }
            {
                ::monograd::runtime::ops::conv::conv2d_backward_params_packed::<
                    f32,
                    ::monograd::runtime::ops::conv::NetworkConv2d<Cnn, 1usize>,
                    { B },
                    36usize,
                    72usize,
                    20usize,
                    388usize,
                >(
                    __x,
                    &*__tape.grads.c,
                    ::monograd::runtime::view::array_mut::<
                        f32,
                        20usize,
                    >(&mut __tape.param_grads[Cnn::C_WEIGHT.offset..]),
                    &mut __tape.workspace.conv_columns,
                    ::monograd::runtime::Store::Overwrite,
                    &mut __tape.gemm_pack[..],
                );
            }
            ::core::result::Result::Ok(())
        };
        __outcome?;
        __loss
    }
    /// One training step on a batch: forward (training mode), loss, backward and an
    /// optimizer update. Returns the mean loss before the update.
    ///
    /// A step is a transaction: `Ok` means the loss and every parameter, running
    /// statistic and optimizer state value are finite; on `Err` the parameters, the
    /// running statistics, the dropout generator (if any) and the optimizer are exactly
    /// as before the call.
    ///
    /// # Errors
    /// As [`Self::backward`] and [`Self::forward_train`], and
    /// [`Error::NonFiniteValue`](::monograd::runtime::Error::NonFiniteValue) naming the
    /// parameter tensor whose gradient or update is not finite.
    pub fn train_step<
        const B: usize,
        O: ::monograd::runtime::optim::Optimizer<f32, 62usize>,
    >(
        &mut self,
        __tape: &mut CnnTape<{ B }>,
        __x: &[[f32; 36usize]; B],
        __targets: &CnnTargets<{ B }>,
        __optimizer: &mut O,
    ) -> ::core::result::Result<f32, ::monograd::runtime::Error> {
        <Self as ::monograd::runtime::Network<
            62usize,
        >>::train_step(self, __tape, __x, __targets, __optimizer)
    }
    /// Mean loss on a batch in evaluation mode (running statistics; nothing updated).
    ///
    /// # Errors
    /// A target out of range, or a loss that is NaN or infinite.
    pub fn loss<const B: usize>(
        &self,
        __tape: &mut CnnTape<{ B }>,
        __x: &[[f32; 36usize]; B],
        __targets: &CnnTargets<{ B }>,
    ) -> ::core::result::Result<f32, ::monograd::runtime::Error> {
        self.forward_with(__tape, __x);
        ::monograd::runtime::ops::loss::softmax_cross_entropy::<
            f32,
            { B },
            2usize,
        >(&*__tape.values.z, __targets)
    }
}
impl ::core::fmt::Debug for Cnn {
    fn fmt(&self, __f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
        __f.debug_struct(::core::stringify!(Cnn))
            .field(
                "params",
                &::core::format_args!("[{}; {}]", ::core::stringify!(f32), 62usize),
            )
            .field(
                "state",
                &::core::format_args!("[{}; {}]", ::core::stringify!(f32), 4usize),
            )
            .finish_non_exhaustive()
    }
}
impl ::monograd::runtime::Network<62usize> for Cnn {
    type Element = f32;
    type Input = [f32; 36usize];
    type Output = [f32; 2usize];
    type Target = usize;
    type Tape<const B: usize> = CnnTape<{ B }>;
    fn params(&self) -> &[f32; 62usize] {
        &self.params
    }
    fn params_mut(&mut self) -> &mut [f32; 62usize] {
        &mut self.params
    }
    fn state(&self) -> &[f32] {
        &*self.state
    }
    fn state_mut(&mut self) -> &mut [f32] {
        &mut *self.state
    }
    fn param_tensors() -> &'static [::monograd::runtime::TensorInfo] {
        Self::PARAM_TENSORS
    }
    fn state_tensors() -> &'static [::monograd::runtime::TensorInfo] {
        Self::STATE_TENSORS
    }
    fn state_before_forward<const B: usize>(__tape: &CnnTape<{ B }>) -> &[f32] {
        &__tape.state_before_forward[..]
    }
    fn batch_counters_mut(&mut self) -> &mut [u64] {
        &mut self.num_batches_tracked
    }
    fn new_tape<const B: usize>() -> CnnTape<{ B }> {
        CnnTape::new()
    }
    fn param_grads<const B: usize>(__tape: &CnnTape<{ B }>) -> &[f32; 62usize] {
        &__tape.param_grads
    }
    fn param_grads_mut<const B: usize>(
        __tape: &mut CnnTape<{ B }>,
    ) -> &mut [f32; 62usize] {
        &mut __tape.param_grads
    }
    fn forward_with<'t, const B: usize>(
        &self,
        __tape: &'t mut CnnTape<{ B }>,
        __x: &[[f32; 36usize]; B],
    ) -> &'t [[f32; 2usize]; B] {
        <Cnn>::forward_with(self, __tape, __x)
    }
    fn forward_train_with<'t, const B: usize, C: ::monograd::runtime::Collective<f32>>(
        &mut self,
        __tape: &'t mut CnnTape<{ B }>,
        __x: &[[f32; 36usize]; B],
        __collective: &mut C,
    ) -> ::core::result::Result<&'t [[f32; 2usize]; B], ::monograd::runtime::Error> {
        Self::forward_train_with(self, __tape, __x, __collective)
    }
    fn backward_with<const B: usize, C: ::monograd::runtime::Collective<f32>>(
        &self,
        __tape: &mut CnnTape<{ B }>,
        __x: &[[f32; 36usize]; B],
        __targets: &[usize; B],
        __collective: &mut C,
    ) -> ::core::result::Result<f32, ::monograd::runtime::Error> {
        Self::backward_with(self, __tape, __x, __targets, __collective)
    }
    fn loss<const B: usize>(
        &self,
        __tape: &mut CnnTape<{ B }>,
        __x: &[[f32; 36usize]; B],
        __targets: &[usize; B],
    ) -> ::core::result::Result<f32, ::monograd::runtime::Error> {
        <Cnn>::loss(self, __tape, __x, __targets)
    }
}
