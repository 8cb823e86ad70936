//! Static shapes and shape inference: each operation's output shape from its inputs' shapes,
//! or an error on the call that says which shapes and numbers do not fit.

use std::fmt;

use super::errors::Errors;
use super::ops::{Conv2d, Loss, Op, Pool2d};
use crate::parse::SpanRange;

/// A per-sample shape: `[n]` for a vector, `[c, h, w]` for an image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shape(pub Vec<usize>);

impl Shape {
    /// Number of elements per sample.
    pub fn numel(&self) -> usize {
        self.0.iter().product()
    }

    /// Whether `rank` dimensions make a shape of the language: a vector `[n]` or an image
    /// `[c, h, w]`.
    pub fn valid_rank(rank: usize) -> bool {
        rank == 1 || rank == 3
    }

    pub fn is_vector(&self) -> bool {
        self.0.len() == 1
    }

    /// Channels and spatial size `(C, H*W)` of an image, or `(n, 1)` of a vector: the layout
    /// per-channel ops (BatchNorm, GroupNorm) work in.
    pub fn channels_spatial(&self) -> (usize, usize) {
        match self.0.as_slice() {
            [c, h, w] => (*c, h * w),
            _ => (self.numel(), 1),
        }
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[")?;
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                write!(f, ", ")?;
            }
            write!(f, "{d}")?;
        }
        write!(f, "]")
    }
}

/// What shape inference needs to know about a call: its text for messages and its span.
pub struct Call<'a> {
    /// The call as written, e.g. `add(a, b)`.
    pub text: &'a str,
    pub span: SpanRange,
    /// Names and shapes of the inputs, in argument order.
    pub inputs: &'a [(String, Shape)],
}

impl Call<'_> {
    fn error(&self, errors: &mut Errors, message: String) {
        errors.spanned(self.span, format!("`{}`: {message}", self.text));
    }

    fn input(&self, i: usize) -> (&str, &Shape) {
        let (name, shape) = &self.inputs[i];
        (name, shape)
    }
}

/// The output shape of `op`, or `None` after reporting why it cannot be computed.
pub fn infer(op: &Op, call: &Call, errors: &mut Errors) -> Option<Shape> {
    match op {
        Op::Input | Op::Identity => {
            unreachable!("the input has a declared shape; identities are made by folding")
        }
        Op::Linear(linear) => {
            let (name, shape) = call.input(0);
            if !shape.is_vector() {
                call.error(
                    errors,
                    format!(
                        "`{name}` is {shape}, but `linear` takes a vector; flatten it first: \
                         `{name}_flat = flatten({name});`"
                    ),
                );
                return None;
            }
            Some(Shape(vec![linear.out]))
        }
        Op::Activation(_) => Some(call.input(0).1.clone()),
        Op::Softmax => {
            let (name, shape) = call.input(0);
            if !shape.is_vector() {
                call.error(
                    errors,
                    format!(
                        "`{name}` is {shape}, but `softmax` normalizes a vector; flatten it first"
                    ),
                );
                return None;
            }
            Some(shape.clone())
        }
        Op::Add | Op::Sub | Op::Mul => {
            let (a, sa) = call.input(0);
            let (b, sb) = call.input(1);
            if sa != sb {
                let op = match op {
                    Op::Add => "add",
                    Op::Sub => "sub",
                    _ => "mul",
                };
                call.error(
                    errors,
                    format!(
                        "`{a}` is {sa} but `{b}` is {sb}; `{op}` is element-wise and needs equal \
                         shapes (there is no broadcasting)"
                    ),
                );
                return None;
            }
            Some(sa.clone())
        }
        Op::Scale(_) | Op::Dropout { .. } => Some(call.input(0).1.clone()),
        Op::Concat => {
            let (a, sa) = call.input(0);
            let (b, sb) = call.input(1);
            match (sa.0.as_slice(), sb.0.as_slice()) {
                ([na], [nb]) => Some(Shape(vec![na + nb])),
                ([ca, ha, wa], [cb, hb, wb]) if (ha, wa) == (hb, wb) => {
                    Some(Shape(vec![ca + cb, *ha, *wa]))
                }
                ([_, _, _], [_, _, _]) => {
                    call.error(
                        errors,
                        format!(
                            "`{a}` is {sa} but `{b}` is {sb}; images are concatenated along \
                             channels, so their heights and widths must match"
                        ),
                    );
                    None
                }
                _ => {
                    call.error(
                        errors,
                        format!(
                            "`{a}` is {sa} but `{b}` is {sb}; `concat` joins two vectors or two \
                             images, not one of each"
                        ),
                    );
                    None
                }
            }
        }
        Op::Flatten => Some(Shape(vec![call.input(0).1.numel()])),
        Op::Reshape(dims) => infer_reshape(dims, call, errors),
        Op::Conv2d(conv) => infer_conv(conv, call, errors),
        Op::MaxPool2d(pool) => infer_pool("max_pool2d", pool, call, errors),
        Op::AvgPool2d(pool) => infer_pool("avg_pool2d", pool, call, errors),
        Op::GlobalAvgPool => {
            let (c, _, _) = image(call, "global_avg_pool", errors)?;
            Some(Shape(vec![c]))
        }
        Op::BatchNorm(_) | Op::BatchRenorm(_) | Op::LayerNorm(_) => Some(call.input(0).1.clone()),
        Op::InstanceNorm(_) => {
            let (_, h, w) = image(call, "instance_norm", errors)?;
            if h * w < 2 {
                let (name, shape) = call.input(0);
                call.error(
                    errors,
                    format!(
                        "`{name}` is {shape}: a {h}x{w} map has one value per channel, so its \
                         instance statistics are undefined (PyTorch: \"Expected more than 1 \
                         spatial element\")"
                    ),
                );
                return None;
            }
            Some(call.input(0).1.clone())
        }
        Op::GroupNorm { groups, .. } => {
            let (name, shape) = call.input(0);
            let (channels, _) = shape.channels_spatial();
            if !channels.is_multiple_of(*groups) {
                call.error(
                    errors,
                    format!(
                        "{groups} groups do not divide the {channels} channels of `{name}` {shape}; \
                         choose a divisor of {channels}"
                    ),
                );
                return None;
            }
            Some(shape.clone())
        }
        Op::Loss(loss) => {
            let (name, shape) = call.input(0);
            match loss {
                Loss::SoftmaxCrossEntropy if !shape.is_vector() => {
                    call.error(
                        errors,
                        format!(
                            "`{name}` is {shape}, but the logits of a softmax cross-entropy are a \
                             vector with one score per class; flatten it or add a `linear` layer"
                        ),
                    );
                    None
                }
                Loss::SoftmaxCrossEntropy if shape.0[0] < 2 => {
                    call.error(
                        errors,
                        format!(
                            "`{name}` is {shape}: one score cannot be a distribution over classes; \
                             for two classes with one output use `logistic_loss({name})`"
                        ),
                    );
                    None
                }
                Loss::Logistic { .. } if !shape.is_vector() => {
                    call.error(
                        errors,
                        format!(
                            "`{name}` is {shape}, but `logistic_loss` takes a vector of logits \
                             (one per binary label); flatten it first"
                        ),
                    );
                    None
                }
                _ => Some(Shape(vec![1])),
            }
        }
    }
}

/// `reshape(x, dims)`: the same element count in a vector `[n]` or an image `[c, h, w]`, with
/// a `-1` (`None`) standing for what the other dimensions leave.
fn infer_reshape(dims: &[Option<usize>], call: &Call, errors: &mut Errors) -> Option<Shape> {
    let (name, shape) = call.input(0);
    let numel = shape.numel();
    let written = || {
        let parts: Vec<String> = dims
            .iter()
            .map(|d| d.map_or("-1".to_string(), |d| d.to_string()))
            .collect();
        format!("[{}]", parts.join(", "))
    };
    if !Shape::valid_rank(dims.len()) {
        call.error(
            errors,
            format!(
                "{} has {} dimensions; a node is a vector `[n]` or an image `[channels, height, \
                 width]`",
                written(),
                dims.len()
            ),
        );
        return None;
    }
    let known: usize = dims.iter().flatten().product();
    let resolved: Vec<usize> = if dims.contains(&None) {
        if !numel.is_multiple_of(known) {
            call.error(
                errors,
                format!(
                    "`{name}` {shape} has {numel} elements per sample, which the other \
                     dimensions of {} ({known} elements) do not divide, so `-1` has no size",
                    written()
                ),
            );
            return None;
        }
        dims.iter().map(|d| d.unwrap_or(numel / known)).collect()
    } else {
        dims.iter().flatten().copied().collect()
    };
    let count: usize = resolved.iter().product();
    if count != numel {
        call.error(
            errors,
            format!(
                "`{name}` {shape} has {numel} elements per sample but {} has {count}; a \
                 reshape keeps the element count",
                written()
            ),
        );
        return None;
    }
    Some(Shape(resolved))
}

fn image(call: &Call, op: &str, errors: &mut Errors) -> Option<(usize, usize, usize)> {
    let (name, shape) = call.input(0);
    match shape.0.as_slice() {
        [c, h, w] => Some((*c, *h, *w)),
        _ => {
            call.error(
                errors,
                format!(
                    "`{name}` is {shape}, but `{op}` works on images [channels, height, width]; \
                     there is no channel or spatial dimension to work over"
                ),
            );
            None
        }
    }
}

/// Output size along one axis, PyTorch's formula; `Err` with the explanation otherwise.
fn axis_output(
    axis: &str,
    input: usize,
    kernel: usize,
    stride: usize,
    padding: usize,
    dilation: usize,
) -> Result<usize, String> {
    let span = dilation * (kernel - 1) + 1;
    let padded = input + 2 * padding;
    if padded < span {
        return Err(format!(
            "the output {axis} would be empty: input {axis} {input} + 2*{padding} padding = \
             {padded} is smaller than the kernel's extent {span} (dilation {dilation} * \
             (kernel {kernel} - 1) + 1)"
        ));
    }
    let rest = padded - span;
    if !rest.is_multiple_of(stride) {
        return Err(format!(
            "the output {axis} is fractional: ({input} + 2*{padding} - {span}) / stride {stride} = \
             {rest}/{stride}, so the last {r} input rows/columns would be silently dropped; change \
             the padding or the stride so that {stride} divides {rest}",
            r = rest % stride
        ));
    }
    Ok(rest / stride + 1)
}

fn infer_conv(conv: &Conv2d, call: &Call, errors: &mut Errors) -> Option<Shape> {
    let (c, h, w) = image(call, "conv2d", errors)?;
    let mut ok = true;
    if !c.is_multiple_of(conv.groups) || !conv.out_channels.is_multiple_of(conv.groups) {
        call.error(
            errors,
            format!(
                "groups = {} must divide both the {c} input channels and the {} output channels",
                conv.groups, conv.out_channels
            ),
        );
        ok = false;
    }
    let oh = axis_output(
        "height",
        h,
        conv.kernel.0,
        conv.stride.0,
        conv.padding.0,
        conv.dilation.0,
    );
    let ow = axis_output(
        "width",
        w,
        conv.kernel.1,
        conv.stride.1,
        conv.padding.1,
        conv.dilation.1,
    );
    for r in [&oh, &ow] {
        if let Err(message) = r {
            call.error(errors, message.clone());
            ok = false;
        }
    }
    match (ok, oh, ow) {
        (true, Ok(oh), Ok(ow)) => Some(Shape(vec![conv.out_channels, oh, ow])),
        _ => None,
    }
}

fn infer_pool(op: &str, pool: &Pool2d, call: &Call, errors: &mut Errors) -> Option<Shape> {
    let (c, h, w) = image(call, op, errors)?;
    let mut ok = true;
    for (axis, k, p) in [
        ("height", pool.kernel.0, pool.padding.0),
        ("width", pool.kernel.1, pool.padding.1),
    ] {
        if 2 * p > k {
            call.error(
                errors,
                format!("padding {p} along the {axis} must be at most half the kernel size {k}, as in PyTorch"),
            );
            ok = false;
        }
    }
    let oh = axis_output("height", h, pool.kernel.0, pool.stride.0, pool.padding.0, 1);
    let ow = axis_output("width", w, pool.kernel.1, pool.stride.1, pool.padding.1, 1);
    for r in [&oh, &ow] {
        if let Err(message) = r {
            call.error(errors, message.clone());
            ok = false;
        }
    }
    match (ok, oh, ow) {
        (true, Ok(oh), Ok(ow)) => Some(Shape(vec![c, oh, ow])),
        _ => None,
    }
}
