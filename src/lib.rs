//! # monograd
//!
//! Neural networks declared once, in Rust source, and compiled into a concrete type with fixed
//! shapes: the forward pass, the backward pass and the optimizer step are straight-line,
//! monomorphized calls into kernels whose every dimension is a constant. There is no graph
//! interpreter, no dynamic dispatch and no allocation after the buffers exist, and a shape
//! mistake is a compile error on the token that caused it.
//!
//! ```
//! use monograd::prelude::*;
//!
//! monograd::network! {
//!     /// Classifies 8x8 images of digits.
//!     pub struct Digits {
//!         input x: [64];
//!         hidden = linear(x, 128, init = he_normal);
//!         act = relu(hidden);
//!         logits = linear(act, 10);
//!         loss = softmax_cross_entropy(logits);
//!     }
//! }
//!
//! let mut net = Digits::new(42);                       // seeded initialisation
//! let mut tape = DigitsTape::<32>::new();              // buffers for batches of 32
//! let mut adam = Adam::new(AdamConfig { lr: 1e-3, ..Default::default() }).unwrap();
//! let x = [[0.5f32; 64]; 32];                          // a batch: 32 samples of 64 values
//! let labels = [3usize; 32];
//! let first = net.train_step(&mut tape, &x, &labels, &mut adam).unwrap();
//! for _ in 0..20 {
//!     net.train_step(&mut tape, &x, &labels, &mut adam).unwrap();
//! }
//! let last = net.train_step(&mut tape, &x, &labels, &mut adam).unwrap();
//! assert!(last < first);
//! let scores: [f32; 10] = net.predict(&x[0]);           // inference, stack only
//! assert_eq!(monograd::runtime::ops::loss::argmax(&scores), 3);
//! ```
//!
//! ## The language
//!
//! A declaration is a struct name (with its visibility, doc comments and attributes) and a body
//! of statements, evaluated top to bottom:
//!
//! | statement | meaning |
//! |---|---|
//! | `type Element = f64;` | element type of every tensor (default `f32`) |
//! | `input x: [64];` | an input, per sample: a vector `[n]`, a sequence `[c, l]` or an image `[c, h, w]`; a network may declare several (`input image: [1, 8, 8]; input meta: [4];`), all before the first node |
//! | `name = op(inputs, options);` | a node: an operation applied to earlier nodes or inputs |
//! | `output logits;`, `output embedding, logits;` | what inference returns: the output of a network without a loss (an inference-only type), or nodes other than what the loss takes |
//! | `weights = "model.safetensors";` | parameters and running statistics compiled in from a file (below) |
//! | `batch 32;`, `batch 32, 64;` | the batch sizes the crate trains with: the training passes at these sizes are compiled once, with the declaring crate (below) |
//!
//! Output sizes of convolution and pooling follow PyTorch:
//! `(h + 2 padding - dilation (kernel - 1) - 1) / stride + 1`, floored, so input rows or
//! columns past the last whole window are ignored; the generated struct's docs say so on each
//! node that drops any.
//!
//! Nodes form a DAG: a node may be used several times (`y = add(a, b)`, `z = concat(a, b)`), but
//! only after it is defined. The last node is the loss, whose input is the network's output, and
//! every node (every input too) must lead to a loss or to a declared output. A network without
//! a loss declares its output instead (`output logits;`); its type is for inference only: the
//! consts, constructors, `infer`, `forward`, `predict`, `forward_eval` and `fold` below, without
//! a tape or training methods (train the same layers declared with a loss, then load its
//! parameters with `from_parts`).
//!
//! **Several inputs.** `input a: [16]; input b: [4];` makes each input a node that any operation
//! may take, anywhere in the DAG (`joined = concat(h, b)`). The network's input type is then a
//! generated `NetInput { pub a: [f32; 16], pub b: [f32; 4] }` (`Copy`, `Default`, one field per
//! input in declaration order, an image or a sequence flattened per sample), so every method
//! taking a batch takes `&[NetInput; B]` and `train_step`, `MiniBatches`, `accuracy`, `predict`,
//! `infer`, weights and checkpoints work unchanged; a single input keeps its `[T; N]` type.
//! `Net::INPUT` counts the elements of all inputs. An input declared twice, declared after a
//! node, or never used is a compile error on its name.
//!
//! **Outputs next to a loss.** In a network with a loss, `output probabilities;` makes inference
//! (`infer`, `forward`, `predict`, `try_predict`, `forward_eval`, `Net::OUTPUT`) return that
//! node instead of what the loss takes; `output embedding, logits;` returns several, as a
//! generated `NetOutput { pub embedding: [T; n], pub logits: [T; m] }` (`Copy`, `Default`; the
//! fields in the order written; `forward_eval` returns a tuple of references to the buffers).
//! Inference computes only the nodes the outputs need. Training is unchanged: the loss takes what
//! it takes, and `forward_train`, `forward_with`, `backward_from`, `accuracy` and the
//! [`runtime::Network`] trait's `Output` keep meaning what the loss takes. A node that only an
//! output uses gets no gradient, and a layer with parameters there is a compile error (it would
//! never be trained) unless it is `frozen = true`. The loss stays the last node; an unknown
//! output, one named twice or a second `output` statement is a compile error on the name.
//!
//! | operation | output | notes |
//! |---|---|---|
//! | `linear(x, n, init = .., bias = true, bias_init = .., weight_norm = false)` | `[n]` | `y = x W^T + b`, `W: [n, in]` (PyTorch `nn.Linear`) |
//! | `conv2d(x, c, kernel = k, stride = 1, padding = 0, dilation = 1, groups = 1, bias = true, init = ..)` | `[c, h', w']` | PyTorch `nn.Conv2d`; sizes are one integer or `(h, w)` |
//! | `conv1d(x, c, kernel = k, stride = 1, padding = 0, dilation = 1, groups = 1, bias = true, init = ..)` | `[c, l']` | PyTorch `nn.Conv1d` on a sequence, weight `[c, in / groups, k]`; runs the 2-D kernels on `[c, 1, l]` |
//! | `conv1d(x, c, kernel = k, dilation = d, padding = causal)` | `[c, l]` | causal (WaveNet, TCN): `d (k - 1)` zeros on the left only, so output `t` sees inputs `<= t` and the length is kept (PyTorch: `F.pad(x, (d * (k - 1), 0))` then the convolution); `stride = 1` |
//! | `gru(x, h, return = sequence \| last)`, `lstm(x, h, return = ..)` | `[t, h]` or `[h]` | PyTorch `nn.GRU` / `nn.LSTM` (one layer, `batch_first`, biases, zero initial state) over a sequence `[t, f]`, **time first** (not the `[c, l]` of `conv1d`); parameters `weight_ih_l0`, `weight_hh_l0`, `bias_ih_l0`, `bias_hh_l0`, initialised `U(-1/sqrt(h), 1/sqrt(h))` as PyTorch's; trained by backpropagation through the `t` steps. `return = last` gives `h_n`, the common input of a `linear` head: `linear` takes a vector, so a `[t, h]` sequence goes through `flatten` first (one dense layer over every step, not one per step) |
//! | `max_pool1d(x, k, stride = k, padding = 0, ceil_mode = false)`, `avg_pool1d(..)` | `[c, l']` | PyTorch `MaxPool1d` / `AvgPool1d`; the 2-D kernels with height 1 |
//! | `max_pool2d(x, k, stride = k, padding = 0, ceil_mode = false)`, `avg_pool2d(..)` | `[c, h', w']` | PyTorch defaults; `ceil_mode = true` as PyTorch's (a last partial window, which must start inside the input or the left padding) |
//! | `global_avg_pool(x)` | `[c]` | mean over each channel of an image or a sequence |
//! | `dropout(x, p = 0.5)` | same as input | PyTorch `nn.Dropout`: in training zeroes each element with probability `p` and scales the rest by `1/(1-p)`; the identity in evaluation |
//! | `flatten(x)` | `[c*h*w]` | free: the buffer is reused |
//! | `reshape(x, [c, h, w])`, `reshape(x, [c, l])`, `reshape(x, [n])` | as written | same element count (checked at compile time), one `-1` is inferred; free like `flatten` (PyTorch `reshape` of contiguous data) |
//! | `add(a, b)` | same as inputs | residual connections |
//! | `sub(a, b)`, `mul(a, b)` | same as inputs | element-wise `a - b`, `a * b` (gating); equal shapes, no broadcasting |
//! | `scale(x, k)` | same as input | `k * x` for a constant `k` |
//! | `concat(a, b)` | `[na + nb]`, `[ca + cb, l]` or `[ca + cb, h, w]` | sequences and images join along channels |
//! | `relu`, `leaky_relu(x, negative_slope = 0.01)`, `tanh`, `sigmoid`, `gelu(x, approximate = none \| tanh)`, `softmax` | same as input | element-wise (softmax per sample) |
//! | `batch_norm(x, eps = 1e-5, momentum = 0.1, affine = true, track = update)` | same | over features of a vector or channels of a sequence or an image; `track = frozen`: training also uses the running statistics and leaves them unchanged (a pretrained BatchNorm in `eval()` mode while fine-tuning) |
//! | `batch_renorm(x, r_max = 3, d_max = 5)`, `layer_norm(x)`, `instance_norm(x, affine = false)`, `group_norm(x, groups)` | same | |
//! | `softmax_cross_entropy(logits, weight = 1.0)` | loss | targets: class labels `[usize; B]` |
//! | `logistic_loss(logits, labels = zero_one \| signed, weight = 1.0)` | loss | targets: `[[T; n]; B]` in {0, 1} or {-1, +1} |
//! | `mse(prediction, weight = 1.0)` | loss | targets: `[[T; n]; B]` |
//!
//! **Auxiliary losses.** A loss declared before the last node is auxiliary, as Inception's
//! auxiliary head: `aux_loss = softmax_cross_entropy(aux, weight = 0.4);` then
//! `loss = softmax_cross_entropy(logits);` trains on `loss + 0.4 * aux_loss` (PyTorch:
//! `F.cross_entropy(logits, y) + 0.4 * F.cross_entropy(aux, y)`). An auxiliary loss takes the
//! network's targets, so it is the same loss on as many values per sample (a compile error
//! otherwise); `weight` (positive, default 1) belongs to auxiliary losses, not the network's.
//! `train_step`, `backward`, `loss` and `backward_with_input_grad` use the total; `forward`,
//! `backward_from` and `input_grad_from` are about the output (what the last loss takes), so
//! the auxiliary heads take no part in them.
//!
//! Fine-tuning: every layer with parameters takes `frozen = true`. Its parameter gradient is
//! zero (and not computed at all unless a trainable layer comes before it) and a training step
//! leaves its parameters unchanged under every optimizer: the step puts them back after the
//! update, so weight decay does not shrink them either (the optimizer's state for them may still
//! change, e.g. SGD's momentum accumulates the decay term; it is never applied).
//!
//! Initializers (`init`, `bias_init`): `torch_default` (PyTorch's default, `U(-1/sqrt(fan_in),
//! 1/sqrt(fan_in))`), `he_normal`, `he_uniform`, `xavier_normal`, `xavier_uniform`, `zeros`
//! (`kaiming_*` and `glorot_*` are accepted as synonyms).
//!
//! ## What the macro generates for `struct Net`
//!
//! - `Net { params, state, num_batches_tracked }`: every learned parameter in one flat buffer (PyTorch layouts and
//!   state-dict names, listed in `Net::PARAM_TENSORS`), normalization running statistics in
//!   `state`. Both are heap-allocated once with the `alloc` feature.
//! - Associated consts: `PARAMS`, `STATE`, `INPUT`, `OUTPUT`, `PARAM_BYTES`, `INFER_BYTES`, and
//!   `const fn infer_bytes(batch)` / `tape_bytes(batch)`, so firmware can check its budget at
//!   compile time: `const _: () = assert!(Net::INFER_BYTES <= 64 * 1024);`.
//! - Constructors: `Net::new(seed)`, `Net::zeroed()`, `Net::from_parts(&params, &state)` (a
//!   trained network: parameters and running statistics), `Net::from_params(&[T])` (parameters
//!   only; the state starts at its initial value).
//! - Inference (evaluation mode):
//!   - `Net::infer::<B>(&params, &state, &x, &mut out)` keeps every buffer on the stack (no heap:
//!     firmware); a batch whose buffers exceed `runtime::scratch::INFER_STACK_LIMIT` (256 KiB)
//!     does not compile.
//!   - With `weights = "model.safetensors";` (a path relative to the crate's
//!     `CARGO_MANIFEST_DIR`) the macro reads the file when it expands and checks it as the
//!     strict loader does: every tensor of the declaration under its PyTorch name (Weight Norm's
//!     legacy `weight_g` / `weight_v` too; `num_batches_tracked` optional), with its shape, as
//!     F32, F64, F16 or BF16 (converted to the element type), finite, and no other tensor. A
//!     mismatch or a missing file is a compile error on `weights`, naming the tensor and both
//!     shapes, or the path it tried. The values become `static`s: `Net::PARAMS_STATIC: &[T; P]`
//!     and `Net::STATE_STATIC`, read by `Net::infer_static::<B>(&x, &mut out)` in place (flash
//!     on a microcontroller, no RAM for weights, no parsing at run time); `Net::from_weights()`
//!     copies them into a network. Cargo rebuilds the crate when the file changes. A BatchNorm
//!     after a dense or conv layer is folded into it at expansion, and Weight Norm's
//!     `g * v / ||v||` is computed, bit for bit as `fold` does: `NetFolded::PARAMS_STATIC` holds
//!     the folded values (one weight tensor per layer) and `Net::infer_static` runs on them. A
//!     Weight Norm row of `v` with zero norm is a compile error on `weights`.
//!   - `net.forward(&x)` and `net.predict(&sample)` run on the stack for small batches and on
//!     heap buffers kept per thread above `runtime::scratch::FORWARD_STACK_LIMIT`, so any batch
//!     works and only the first call of a batch size allocates; `net.try_predict(&sample)`
//!     returns an error instead of NaN scores.
//!   - `net.forward_eval(&mut eval, &x)` with a `NetEval::<B>::new()` you hold, and
//!     `net.forward_with(&mut tape, &x)` on a training tape.
//! - Streaming (a network with `gru`, `lstm` or a causal `conv1d`, every layer of which works one
//!   time step at a time): `NetStream::new(&net.params)` holds a copy of the parameters (each
//!   recurrent layer's weights transposed for the step; `stream.load(&params)` replaces them),
//!   each recurrent layer's state (`<node>_h`, `<node>_c`) and each causal convolution's last
//!   `dilation * (kernel - 1)` inputs in fixed-size arrays; `stream.step(&x_t)` takes one step's
//!   features (a row of a `[t, f]` input, or a column of a `[c, l]` one) and returns the output
//!   at that step, with no heap and no panic path (`no_std`), compiled for the widest vector
//!   instructions the CPU has (AVX-512 or AVX2 on x86-64 under `std`, chosen once in `new`);
//!   `reset()` starts a new sequence. Stepping through a
//!   sequence gives the whole-sequence forward's outputs; after a `return = last` layer, each
//!   step's output is what the network gives on the sequence so far. What streams: `gru` /
//!   `lstm` (on a time-first `[t, f]` node), causal `conv1d` (on a time-last `[c, l]` node; the
//!   two layouts do not mix), element-wise activations, `add` / `sub` / `mul` / `scale`,
//!   `dropout` (the identity), and after `return = last`, `linear` (without Weight Norm) and
//!   `flatten`. Any other layer (a `flatten` of a sequence, a non-causal convolution, a
//!   normalization...) means no `NetStream`; `Net::NO_STREAM` then says which layer.
//! - Training: `NetTape::<B>::new()` holds every buffer a step needs for batches of `B`;
//!   `net.forward_train(&mut tape, &x)?`, `net.backward(&mut tape, &x, &targets)` (fills
//!   `tape.param_grads`), `net.train_step(&mut tape, &x, &targets, &mut optimizer)`, and
//!   `net.loss(&mut tape, &x, &targets)` in evaluation mode. A training step is a transaction:
//!   `Ok` means the loss, every parameter, running statistic and optimizer value is finite; on
//!   `Err` (a bad label, NaN in the batch, an update that overflows) the parameters, the running
//!   statistics and the optimizer are exactly as before, and the error names the tensor.
//! - Compiling the training passes once: they are generic over `B`, and an optimized build
//!   compiles a generic function again in every crate that uses it, so a crate whose several
//!   binaries train one network compiled its forward and backward passes once per binary.
//!   `batch 32;` (or `batch 32, 64;`) in the declaration compiles `forward_train` and
//!   `backward` (hence `train_step`) at those sizes once, with the declaring crate; a binary
//!   training at a declared size compiles only the optimizer update, and other sizes work as
//!   before. The results are the same bit for bit; a network without a loss takes no `batch`.
//! - Data-parallel hooks: `net.forward_train_with(&mut tape, &x, &mut collective)` and
//!   `net.backward_with(&mut tape, &x, &targets, &mut collective)` run the passes on this
//!   participant's share of a batch shared through a [`runtime::Collective`] (threads, MPI
//!   ranks): BatchNorm and Batch Renorm sum their statistics across the participants
//!   (`SyncBatchNorm`); `forward_train` and `backward` are them with [`runtime::Solo`].
//!   [`runtime::parallel::Parallel`] trains on every core with them.
//! - Training with no heap (the runtime without `alloc`, e.g. firmware): every buffer is then an
//!   array inside its struct, and the macro also generates `const` constructors, so the network,
//!   its tape and the optimizer can be `static`s built by the compiler (in `.bss` / `.data`,
//!   never on the stack): `Net::zeroed_static()`, `NetTape::<B>::new_static()` and, with a
//!   weights file and a loss, `Net::from_weights_static()`; the runtime has
//!   `Sgd::new_static(config)`. `NetTape::<B>::BYTES` is `tape_bytes(B)` as a constant, exactly
//!   `size_of::<NetTape<B>>()` there (no GEMM packing scratch without a heap), for checks such as
//!   `const _: () = assert!(NetTape::<4>::BYTES <= 48 * 1024);`. The network's are not generated
//!   when it has dropout (its generator is seeded at run time), nor the tape's when it has
//!   normalization layers (their batch statistics are built at run time). `examples/firmware` fine-tunes a
//!   layer this way on a Cortex-M4F with no allocator linked.
//! - `net.dropout_rng` when the network has a `dropout`: the seeded [`runtime::Rng`] every
//!   dropout layer draws its masks from (kept in the tape for the backward pass); training
//!   checkpoints save it, and `Rng::state` / `Rng::from_state` expose it, so a run resumes
//!   exactly. A failed training step puts it back, as it puts back the running statistics.
//! - Gradients for other uses, after `forward_train`: `net.backward_from(&mut tape, &x,
//!   &upstream)` fills `tape.param_grads` with the gradient of `sum(upstream * output)` (a
//!   vector-Jacobian product from any gradient of the output); `net.input_grad_from(&mut tape,
//!   &x, &upstream)` also returns its gradient with respect to the input, and
//!   `net.backward_with_input_grad(&mut tape, &x, &targets)` the loss's, in `tape.input_grad`
//!   (saliency maps, adversarial examples). The input gradient is computed only by these two.
//! - `NetTargets<B>`: the target type of the loss.
//! - With several inputs: `NetInput` (one sample of every input) and `NetInputGrad<B>` (one
//!   gradient buffer per input: `tape.input_grad.a`, what `input_grad_from` returns). With several
//!   outputs: `NetOutput` (one sample of every output).
//! - When the network has a BatchNorm (or Batch Renorm) right after a dense or conv layer, or
//!   Weight Norm: `net.fold()` returns a `NetFolded`, an inference-only type (same `infer`,
//!   `forward`, `predict` and consts) in which each such BatchNorm is merged into the layer
//!   before it and Weight Norm weights are precomputed, so inference pays nothing for them.
//! - `Net` implements [`runtime::Network`], so training loops and checks can be generic
//!   (see [`runtime::train`]).
//! - Weights in and out ([`runtime::io`]), safetensors files under PyTorch `state_dict` names:
//!
//!   | method | what it does |
//!   |---|---|
//!   | `net.to_safetensors() -> Vec<u8>` | every parameter, state tensor and `X.num_batches_tracked` (int64) |
//!   | `Net::from_safetensors(&bytes)` | a network from bytes, strictly (no file system needed: `alloc`) |
//!   | `net.load_safetensors(&bytes, LoadOptions::non_strict())` | `load_state_dict(strict=False)`: returns a `LoadReport` of what was missing or unexpected |
//!   | `net.save(path)`, `Net::load(path)` | the same with files (`std`); saves are atomic (`NetFolded` has these too) |
//!   | `net.checkpoint_to_safetensors(&opt, progress, Some(&batches))`, `net.checkpoint_from_safetensors(..)` | a training checkpoint: network, optimizer state, progress counters, shuffler |
//!   | `net.save_checkpoint(path, ..)`, `net.load_checkpoint(path, ..)` | the same with files; resuming is bit-identical |
//!
//!   F32, F64, F16 and BF16 files load into `f32` and `f64` networks; Weight Norm is written as
//!   `X.parametrizations.weight.original0/1` and the legacy `X.weight_g/weight_v` load too; a
//!   failed load leaves the network unchanged and its error names the tensor. `Net::COUNTER_NAMES`
//!   and the field `num_batches_tracked` hold the BatchNorm batch counters.
//!
//! Inputs are batches `[[T; N]; B]` with `N` the per-sample element count (an image `[c, h, w]`
//! is flattened per sample in that order, a sequence `[c, l]` likewise), or `[NetInput; B]` for
//! a network with several inputs. Passing a wrong shape or batch is a type error.
//!
//! To read what a declaration became, set `MONOGRAD_DUMP` to a directory while the crate
//! compiles: each `network!` writes its expansion to `DIR/<Name>.rs` (formatted by `rustfmt`
//! when it is installed; a relative `DIR` is taken from the crate's `Cargo.toml` directory).
//! Cargo does not track the variable, so touch a source file first:
//! `touch src/main.rs && MONOGRAD_DUMP=target/expanded cargo build`.
#![cfg_attr(not(feature = "std"), no_std)]

extern crate self as monograd;

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

pub use monograd_macros::network;
/// The runtime: kernels, ops, initializers, optimizers. Generated code calls it by this path.
pub use monograd_runtime as runtime;

/// What a program that trains or runs a network usually needs.
pub mod prelude {
    pub use monograd_runtime::optim::*;
    #[cfg(feature = "alloc")]
    pub use monograd_runtime::train::{accuracy, evaluate_loss, MiniBatches};
    pub use monograd_runtime::{Error, Network, Rng, Scalar};
}
