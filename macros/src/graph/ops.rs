//! The operations of the DSL: their arguments, options and defaults, in one table-like place.
//!
//! `resolve` turns one `name = op(args...)` into a typed [`Op`] plus the names of its input
//! nodes. Unknown operations and options, missing or surplus arguments and wrong option values
//! are reported here, each on its own token.

use syn::Ident;

use super::args::ArgReader;
use super::errors::Errors;
pub use super::language::FROZEN;
use crate::parse::NodeDecl;

/// A resolved operation with its configuration.
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    Input,
    Linear(Linear),
    Activation(Activation),
    Softmax,
    Add,
    Sub,
    Mul,
    /// `scale(x, k)`: `k * x` for a constant `k`.
    Scale(f64),
    Concat,
    Flatten,
    /// `reshape(x, [..])`: the dimensions as written, `None` for the one `-1` (inferred). Free,
    /// like `flatten`: the buffer is reused, since per-sample data is contiguous.
    Reshape(Vec<Option<usize>>),
    /// `dropout(x, p)`: inverted dropout in training, the identity in evaluation.
    Dropout {
        p: f64,
    },
    Conv2d(Conv2d),
    /// `gru(x, hidden)` / `lstm(x, hidden)` over a `[T, F]` sequence (see `recurrent.rs`).
    Recurrent(Recurrent),
    MaxPool2d(Pool2d),
    AvgPool2d(Pool2d),
    GlobalAvgPool,
    BatchNorm(BatchNorm),
    BatchRenorm(BatchRenorm),
    LayerNorm(Norm),
    InstanceNorm(Norm),
    GroupNorm {
        groups: usize,
        norm: Norm,
    },
    Loss(Loss),
    /// Not in the language: what a BatchNorm becomes once folded into the layer before it (the
    /// inference type generated for folding). Its values are its input's buffer.
    Identity,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Init {
    TorchDefault,
    Zeros,
    XavierUniform,
    XavierNormal,
    HeUniform,
    HeNormal,
}

const INIT_CHOICES: &[(&str, Init)] = &[
    ("torch_default", Init::TorchDefault),
    ("zeros", Init::Zeros),
    ("xavier_uniform", Init::XavierUniform),
    ("xavier_normal", Init::XavierNormal),
    ("glorot_uniform", Init::XavierUniform),
    ("glorot_normal", Init::XavierNormal),
    ("he_uniform", Init::HeUniform),
    ("he_normal", Init::HeNormal),
    ("kaiming_uniform", Init::HeUniform),
    ("kaiming_normal", Init::HeNormal),
];

#[derive(Clone, Debug, PartialEq)]
pub struct Linear {
    pub out: usize,
    pub bias: bool,
    pub init: Init,
    pub bias_init: Init,
    pub weight_norm: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Conv2d {
    /// `conv1d` on a `[C, L]` sequence: a `conv2d` on `[C, 1, L]` with a `(1, k)` kernel, whose
    /// weight is declared `[out, in / groups, k]` as PyTorch's.
    pub one_d: bool,
    pub out_channels: usize,
    pub kernel: (usize, usize),
    pub stride: (usize, usize),
    pub padding: (usize, usize),
    pub dilation: (usize, usize),
    pub groups: usize,
    pub bias: bool,
    pub init: Init,
    pub bias_init: Init,
    pub weight_norm: bool,
    /// `conv1d(.., padding = causal)`: `padding.1 = dilation * (kernel - 1)` on the left only,
    /// so that output `t` sees inputs `<= t` and the length is kept. Computed as the symmetric
    /// convolution's first `L` outputs.
    pub causal: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Pool2d {
    /// `max_pool1d` / `avg_pool1d` on a `[C, L]` sequence: height 1, a `(1, k)` window.
    pub one_d: bool,
    pub kernel: (usize, usize),
    pub stride: (usize, usize),
    pub padding: (usize, usize),
    /// PyTorch's `ceil_mode`: a last partial window instead of dropping the input it covers.
    pub ceil_mode: bool,
}

pub use recurrent::{Cell, Recurrent};

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Activation {
    Relu,
    LeakyRelu(f64),
    Tanh,
    Sigmoid,
    Gelu,
    GeluTanh,
}

#[derive(Clone, Debug, PartialEq)]
pub struct BatchNorm {
    pub eps: f64,
    pub momentum: f64,
    pub affine: bool,
    /// `track = frozen`: training normalizes with the running statistics and leaves them
    /// unchanged, as a PyTorch BatchNorm in `eval()` mode inside a training loop.
    pub frozen_stats: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct BatchRenorm {
    pub eps: f64,
    pub momentum: f64,
    pub r_max: f64,
    pub d_max: f64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Norm {
    pub eps: f64,
    pub affine: bool,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Loss {
    SoftmaxCrossEntropy,
    /// Binary logistic loss on logits; `signed` = labels in {-1, +1} instead of {0, 1}.
    Logistic {
        signed: bool,
    },
    Mse,
}

/// Resolves `decl` into an operation and its input names; `None` if it has errors (reported).
pub fn resolve(decl: &NodeDecl, errors: &mut Errors) -> Option<(Op, Vec<Ident>)> {
    let op_name = decl.op.to_string();
    let mut args = ArgReader::new(decl, errors);
    let mut inputs = Vec::new();
    let op = match op_name.as_str() {
        "linear" => {
            inputs.extend(args.node("its input"));
            let out = args.size("the number of output features", "linear(x, 128)");
            let init = args.choice("init", INIT_CHOICES, Init::TorchDefault);
            let bias = args.boolean("bias", true);
            let bias_init = args.choice("bias_init", INIT_CHOICES, Init::TorchDefault);
            let weight_norm = args.boolean("weight_norm", false);
            out.map(|out| {
                Op::Linear(Linear {
                    out,
                    bias,
                    init,
                    bias_init,
                    weight_norm,
                })
            })
        }
        "relu" | "tanh" | "sigmoid" | "softmax" | "flatten" | "global_avg_pool" => {
            inputs.extend(args.node("its input"));
            Some(match op_name.as_str() {
                "relu" => Op::Activation(Activation::Relu),
                "tanh" => Op::Activation(Activation::Tanh),
                "sigmoid" => Op::Activation(Activation::Sigmoid),
                "softmax" => Op::Softmax,
                "flatten" => Op::Flatten,
                _ => Op::GlobalAvgPool,
            })
        }
        "reshape" => {
            inputs.extend(args.node("its input"));
            args.shape_list("the new shape", "reshape(x, [1, 8, 8])")
                .map(Op::Reshape)
        }
        "dropout" => {
            inputs.extend(args.node("its input"));
            let p = args.float("p", 0.5);
            if (0.0..1.0).contains(&p) {
                Some(Op::Dropout { p })
            } else {
                args.error_on_option(
                    "p",
                    "`p` is the probability of dropping an element and must be in [0, 1) \
                     (p = 1 would drop everything)",
                );
                None
            }
        }
        "leaky_relu" => {
            inputs.extend(args.node("its input"));
            let slope = args.float("negative_slope", 0.01);
            Some(Op::Activation(Activation::LeakyRelu(slope)))
        }
        "gelu" => {
            inputs.extend(args.node("its input"));
            let tanh = args.choice("approximate", &[("none", false), ("tanh", true)], false);
            Some(Op::Activation(if tanh {
                Activation::GeluTanh
            } else {
                Activation::Gelu
            }))
        }
        "add" | "sub" | "mul" | "concat" => {
            inputs.extend(args.node("its first input"));
            inputs.extend(args.node("its second input"));
            Some(match op_name.as_str() {
                "add" => Op::Add,
                "sub" => Op::Sub,
                "mul" => Op::Mul,
                _ => Op::Concat,
            })
        }
        "scale" => {
            inputs.extend(args.node("its input"));
            args.number("the factor", "scale(x, 0.5)").map(Op::Scale)
        }
        "conv2d" => {
            inputs.extend(args.node("its input"));
            let out_channels =
                args.size("the number of output channels", "conv2d(x, 16, kernel = 3)");
            let kernel = args.required_pair("kernel");
            let stride = args.pair("stride", (1, 1));
            let padding = args.pair_allow_zero("padding", (0, 0));
            let dilation = args.pair("dilation", (1, 1));
            let groups = args.opt_size("groups", 1);
            let bias = args.boolean("bias", true);
            let init = args.choice("init", INIT_CHOICES, Init::TorchDefault);
            let bias_init = args.choice("bias_init", INIT_CHOICES, Init::TorchDefault);
            let weight_norm = args.boolean("weight_norm", false);
            match (out_channels, kernel) {
                (Some(out_channels), Some(kernel)) => Some(Op::Conv2d(Conv2d {
                    one_d: false,
                    out_channels,
                    kernel,
                    stride,
                    padding,
                    dilation,
                    groups,
                    bias,
                    init,
                    bias_init,
                    weight_norm,
                    causal: false,
                })),
                _ => None,
            }
        }
        "conv1d" => {
            inputs.extend(args.node("its input"));
            let out_channels =
                args.size("the number of output channels", "conv1d(x, 16, kernel = 3)");
            let kernel = args.required_size("kernel");
            let stride = args.opt_size("stride", 1);
            let causal = args.is_keyword("padding", "causal");
            let padding = if causal {
                0
            } else {
                args.opt_size_allow_zero("padding", 0)
            };
            let dilation = args.opt_size("dilation", 1);
            let groups = args.opt_size("groups", 1);
            let bias = args.boolean("bias", true);
            let init = args.choice("init", INIT_CHOICES, Init::TorchDefault);
            let bias_init = args.choice("bias_init", INIT_CHOICES, Init::TorchDefault);
            let weight_norm = args.boolean("weight_norm", false);
            if causal && stride != 1 {
                args.error_on_option(
                    "stride",
                    "`padding = causal` keeps the length, one output per input step: it takes \
                     `stride = 1`",
                );
            }
            match (out_channels, kernel) {
                (Some(out_channels), Some(kernel)) => Some(Op::Conv2d(Conv2d {
                    one_d: true,
                    out_channels,
                    kernel: (1, kernel),
                    stride: (1, stride),
                    padding: (
                        0,
                        if causal {
                            dilation * (kernel - 1)
                        } else {
                            padding
                        },
                    ),
                    dilation: (1, dilation),
                    groups,
                    bias,
                    init,
                    bias_init,
                    weight_norm,
                    causal,
                })),
                _ => None,
            }
        }
        "gru" | "lstm" => {
            inputs.extend(args.node("its input"));
            recurrent::resolve(&op_name, &mut args)
        }
        "max_pool1d" | "avg_pool1d" => {
            inputs.extend(args.node("its input"));
            let kernel = args.size("the kernel size", &format!("{op_name}(x, 2)"));
            let stride = args.opt_size("stride", kernel.unwrap_or(1));
            let padding = args.opt_size_allow_zero("padding", 0);
            let ceil_mode = args.boolean("ceil_mode", false);
            kernel.map(|kernel| {
                let pool = Pool2d {
                    one_d: true,
                    kernel: (1, kernel),
                    stride: (1, stride),
                    padding: (0, padding),
                    ceil_mode,
                };
                if op_name == "max_pool1d" {
                    Op::MaxPool2d(pool)
                } else {
                    Op::AvgPool2d(pool)
                }
            })
        }
        "max_pool2d" | "avg_pool2d" => {
            inputs.extend(args.node("its input"));
            let kernel = args.size_or_pair("the kernel size", &format!("{op_name}(x, 2)"));
            let stride = args.pair("stride", kernel.unwrap_or((1, 1)));
            let padding = args.pair_allow_zero("padding", (0, 0));
            let ceil_mode = args.boolean("ceil_mode", false);
            kernel.map(|kernel| {
                let pool = Pool2d {
                    one_d: false,
                    kernel,
                    stride,
                    padding,
                    ceil_mode,
                };
                if op_name == "max_pool2d" {
                    Op::MaxPool2d(pool)
                } else {
                    Op::AvgPool2d(pool)
                }
            })
        }
        "batch_norm" => {
            inputs.extend(args.node("its input"));
            let eps = args.positive_float("eps", 1e-5);
            let momentum = args.unit_float("momentum", 0.1);
            let affine = args.boolean("affine", true);
            let frozen_stats = args.choice("track", &[("update", false), ("frozen", true)], false);
            Some(Op::BatchNorm(BatchNorm {
                eps,
                momentum,
                affine,
                frozen_stats,
            }))
        }
        "batch_renorm" => {
            inputs.extend(args.node("its input"));
            let r_max = args.float("r_max", 3.0);
            let d_max = args.float("d_max", 5.0);
            let eps = args.positive_float("eps", 1e-5);
            let momentum = args.unit_float("momentum", 0.1);
            let mut ok = true;
            if r_max < 1.0 {
                args.error_on_option(
                    "r_max",
                    "r_max must be at least 1 (r is clipped to [1/r_max, r_max])",
                );
                ok = false;
            }
            if d_max < 0.0 {
                args.error_on_option(
                    "d_max",
                    "d_max must be at least 0 (d is clipped to [-d_max, d_max])",
                );
                ok = false;
            }
            ok.then_some(Op::BatchRenorm(BatchRenorm {
                eps,
                momentum,
                r_max,
                d_max,
            }))
        }
        "layer_norm" | "instance_norm" => {
            inputs.extend(args.node("its input"));
            let eps = args.positive_float("eps", 1e-5);
            let affine = args.boolean("affine", op_name == "layer_norm");
            let norm = Norm { eps, affine };
            Some(if op_name == "layer_norm" {
                Op::LayerNorm(norm)
            } else {
                Op::InstanceNorm(norm)
            })
        }
        "group_norm" => {
            inputs.extend(args.node("its input"));
            let groups = args.size("the number of groups", "group_norm(x, 4)");
            let eps = args.positive_float("eps", 1e-5);
            let affine = args.boolean("affine", true);
            groups.map(|groups| Op::GroupNorm {
                groups,
                norm: Norm { eps, affine },
            })
        }
        "softmax_cross_entropy" | "mse" => {
            inputs.extend(args.node("its input"));
            Some(Op::Loss(if op_name == "mse" {
                Loss::Mse
            } else {
                Loss::SoftmaxCrossEntropy
            }))
        }
        "logistic_loss" => {
            inputs.extend(args.node("its input"));
            let signed = args.choice("labels", &[("zero_one", false), ("signed", true)], false);
            Some(Op::Loss(Loss::Logistic { signed }))
        }
        _ => {
            args.errors
                .at(decl.op.span(), unknown_operation_message(&op_name));
            return None;
        }
    };
    let ok = args.finish();
    match op {
        Some(op) if ok && inputs.len() == expected_inputs(&op) => Some((op, inputs)),
        _ => None,
    }
}

/// `frozen = true` on the call of `decl` (resolved to `op`): its parameters are left out of
/// training. Reported when the value is not a boolean or the operation has no parameters.
pub fn frozen(decl: &NodeDecl, op: &Op, errors: &mut Errors) -> bool {
    let Some(value) = decl.args.iter().find_map(|arg| match arg {
        crate::parse::Argument::Named { key, value } if key == FROZEN => Some(value),
        _ => None,
    }) else {
        return false;
    };
    let crate::parse::ValueKind::Bool(frozen) = value.kind else {
        errors.spanned(
            value,
            format!("`{}`: `frozen` must be `true` or `false`", decl.op),
        );
        return false;
    };
    if !op.has_params() {
        errors.spanned(
            value,
            format!(
                "`{}` has no parameters to freeze; `frozen = true` goes on a layer with \
                 parameters (`linear`, `conv1d`, `conv2d`, an affine normalization)",
                decl.op
            ),
        );
        return false;
    }
    frozen
}

impl Op {
    /// Whether the operation has learned parameters.
    pub fn has_params(&self) -> bool {
        match self {
            Op::Linear(_) | Op::Conv2d(_) | Op::Recurrent(_) | Op::BatchRenorm(_) => true,
            Op::BatchNorm(bn) => bn.affine,
            Op::LayerNorm(norm) | Op::InstanceNorm(norm) | Op::GroupNorm { norm, .. } => {
                norm.affine
            }
            _ => false,
        }
    }

    /// The operation's name in the generated docs' node table, e.g. `Conv1d`.
    pub fn doc_name(&self) -> String {
        match self {
            Op::Input => "input".to_string(),
            Op::Loss(kind) => format!("loss: {kind:?}"),
            Op::Conv2d(conv) if conv.one_d => "Conv1d".to_string(),
            Op::Recurrent(rnn) => rnn.doc_name(),
            Op::MaxPool2d(pool) if pool.one_d => "MaxPool1d".to_string(),
            Op::AvgPool2d(pool) if pool.one_d => "AvgPool1d".to_string(),
            other => format!("{other:?}")
                .split(['(', ' ', '{'])
                .next()
                .unwrap_or("")
                .to_string(),
        }
    }

    /// The operation's name in the language, for messages (`conv1d`, `max_pool2d`...).
    pub fn language_name(&self) -> &'static str {
        match self {
            Op::Conv2d(conv) if conv.one_d => "conv1d",
            Op::Conv2d(_) => "conv2d",
            Op::MaxPool2d(pool) if pool.one_d => "max_pool1d",
            Op::MaxPool2d(_) => "max_pool2d",
            Op::AvgPool2d(pool) if pool.one_d => "avg_pool1d",
            Op::AvgPool2d(_) => "avg_pool2d",
            _ => "",
        }
    }
}

fn expected_inputs(op: &Op) -> usize {
    match op {
        Op::Input => 0,
        Op::Add | Op::Sub | Op::Mul | Op::Concat => 2,
        _ => 1,
    }
}

pub mod recurrent;
mod unknown;

use unknown::unknown_operation_message;
