//! Static shapes and shape inference: each operation's output shape from its inputs' shapes,
//! or an error on the call that says which shapes and numbers do not fit.

use std::fmt;

use super::errors::Errors;
use super::ops::{Conv2d, Loss, Op, Pool2d};
use crate::parse::SpanRange;

/// A per-sample shape: `[n]` for a vector, `[c, l]` for a sequence, `[c, h, w]` for an image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shape(pub Vec<usize>);

impl Shape {
    /// Number of elements per sample.
    pub fn numel(&self) -> usize {
        self.0.iter().product()
    }

    /// Whether `rank` dimensions make a shape of the language: a vector `[n]`, a sequence
    /// `[c, l]` or an image `[c, h, w]`.
    pub fn valid_rank(rank: usize) -> bool {
        (1..=3).contains(&rank)
    }

    /// `(c, h, w)` of an image, `(c, 1, l)` of a sequence (how the 2-D kernels run 1-D layers).
    pub fn as_image(&self) -> Option<(usize, usize, usize)> {
        match self.0.as_slice() {
            [c, h, w] => Some((*c, *h, *w)),
            [c, l] => Some((*c, 1, *l)),
            _ => None,
        }
    }

    pub fn is_vector(&self) -> bool {
        self.0.len() == 1
    }

    /// Channels and spatial size `(C, H*W)` of an image, `(C, L)` of a sequence, or `(n, 1)`
    /// of a vector: the layout per-channel ops (BatchNorm, GroupNorm) work in.
    pub fn channels_spatial(&self) -> (usize, usize) {
        match self.as_image() {
            Some((c, h, w)) => (c, h * w),
            None => (self.numel(), 1),
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
                ([ca, la], [cb, lb]) if la == lb => Some(Shape(vec![ca + cb, *la])),
                ([_, _], [_, _]) => {
                    call.error(
                        errors,
                        format!(
                            "`{a}` is {sa} but `{b}` is {sb}; sequences are concatenated along \
                             channels, so their lengths must match"
                        ),
                    );
                    None
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
                             sequences or two images, not one of each"
                        ),
                    );
                    None
                }
            }
        }
        Op::Flatten => Some(Shape(vec![call.input(0).1.numel()])),
        Op::Reshape(dims) => infer_reshape(dims, call, errors),
        Op::Conv2d(conv) => infer_conv(conv, call, errors),
        Op::Recurrent(rnn) => super::ops::recurrent::infer(rnn, call, errors),
        Op::MaxPool2d(pool) | Op::AvgPool2d(pool) => {
            infer_pool(op.language_name(), pool, call, errors)
        }
        Op::GlobalAvgPool => {
            let (c, _, _) = channels_first(call, "global_avg_pool", errors)?;
            Some(Shape(vec![c]))
        }
        Op::BatchNorm(_) | Op::BatchRenorm(_) | Op::LayerNorm(_) => Some(call.input(0).1.clone()),
        Op::InstanceNorm(_) => {
            let (_, h, w) = channels_first(call, "instance_norm", errors)?;
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

/// `reshape(x, dims)`: the same element count in a vector `[n]`, a sequence `[c, l]` or an image `[c, h, w]`, with
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
                "{} has {} dimensions; a node is a vector `[n]`, a sequence `[channels, length]` \
                 or an image `[channels, height, width]`",
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

/// `(c, l)` of a sequence input, or an error saying what the 1-D `op` takes.
fn sequence(call: &Call, op: &str, errors: &mut Errors) -> Option<(usize, usize)> {
    let (name, shape) = call.input(0);
    match shape.0.as_slice() {
        [c, l] => Some((*c, *l)),
        [_, _, _] => {
            let op2 = op.replace("1d", "2d");
            call.error(
                errors,
                format!("`{name}` is {shape}, an image; `{op}` works on sequences [channels, length]: use `{op2}`"),
            );
            None
        }
        _ => {
            call.error(
                errors,
                format!(
                    "`{name}` is {shape}, but `{op}` works on sequences [channels, length]; a \
                     vector of n values is one channel: `seq = reshape({name}, [1, -1]);`"
                ),
            );
            None
        }
    }
}

/// `(c, h, w)` of an image, `(c, 1, l)` of a sequence, or an error.
fn channels_first(call: &Call, op: &str, errors: &mut Errors) -> Option<(usize, usize, usize)> {
    let (name, shape) = call.input(0);
    shape.as_image().or_else(|| {
        call.error(
            errors,
            format!(
                "`{name}` is {shape}, but `{op}` works on images [channels, height, width] or \
                 sequences [channels, length]; there is no channel or spatial dimension to work \
                 over"
            ),
        );
        None
    })
}

fn image(call: &Call, op: &str, errors: &mut Errors) -> Option<(usize, usize, usize)> {
    let (name, shape) = call.input(0);
    if let [_, _] = shape.0.as_slice() {
        let op1 = op.replace("2d", "1d");
        call.error(
            errors,
            format!("`{name}` is {shape}, a sequence; `{op}` works on images [channels, height, width]: use `{op1}`"),
        );
        return None;
    }
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

/// Output size along one axis, PyTorch's formula: floored, or with `ceil_mode` rounded up
/// unless the extra window would start in the right padding; `Err` with the explanation when
/// the output is empty.
fn axis_output(axis: &str, input: usize, window: Window) -> Result<usize, String> {
    let Window {
        kernel,
        stride,
        padding,
        dilation,
        ceil_mode,
    } = window;
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
    let floor = rest / stride + 1;
    if ceil_mode && !rest.is_multiple_of(stride) && floor * stride < input + padding {
        Ok(floor + 1)
    } else {
        Ok(floor)
    }
}

/// One axis of a convolution or pooling window.
#[derive(Clone, Copy)]
struct Window {
    kernel: usize,
    stride: usize,
    padding: usize,
    dilation: usize,
    ceil_mode: bool,
}

impl Window {
    /// Input rows (or columns) past the last window, which PyTorch's floor rule ignores: the
    /// uncovered end of the padded input, minus its padding.
    fn dropped(self, input: usize, output: usize) -> usize {
        let covered = (output - 1) * self.stride + self.dilation * (self.kernel - 1) + 1;
        (input + self.padding).saturating_sub(covered)
    }
}

/// The two axes of a 2-D convolution or pooling node, `None` for other operations.
fn windows(op: &Op) -> Option<(Window, Window)> {
    let axis = |i: usize, k: (usize, usize), s: (usize, usize), p: (usize, usize), d, c| Window {
        kernel: [k.0, k.1][i],
        stride: [s.0, s.1][i],
        padding: [p.0, p.1][i],
        dilation: d,
        ceil_mode: c,
    };
    match op {
        Op::Conv2d(conv) => {
            let d = conv.dilation;
            Some((
                axis(0, conv.kernel, conv.stride, conv.padding, d.0, false),
                axis(1, conv.kernel, conv.stride, conv.padding, d.1, false),
            ))
        }
        Op::MaxPool2d(pool) | Op::AvgPool2d(pool) => Some((
            axis(0, pool.kernel, pool.stride, pool.padding, 1, pool.ceil_mode),
            axis(1, pool.kernel, pool.stride, pool.padding, 1, pool.ceil_mode),
        )),
        _ => None,
    }
}

/// For a convolution or pooling node that ignores input rows or columns under PyTorch's
/// floor rule, what it drops, e.g. `"drops the last 1 input row"`; for the generated docs.
pub fn dropped_input(op: &Op, input: &Shape, output: &Shape) -> Option<String> {
    if matches!(op, Op::Conv2d(conv) if conv.causal) {
        return None;
    }
    let (wh, ww) = windows(op)?;
    let ((_, h, w), (_, oh, ow)) = (input.as_image()?, output.as_image()?);
    let column = if output.0.len() == 2 {
        "position"
    } else {
        "column"
    };
    let plural =
        |n: usize, what: &str| format!("{n} input {what}{}", if n == 1 { "" } else { "s" });
    let parts: Vec<String> = [(wh.dropped(h, oh), "row"), (ww.dropped(w, ow), column)]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| plural(n, what))
        .collect();
    let hint = match op {
        Op::MaxPool2d(pool) | Op::AvgPool2d(pool) if !pool.ceil_mode => {
            "; `ceil_mode = true` keeps them"
        }
        _ => "",
    };
    (!parts.is_empty()).then(|| {
        format!(
            "drops the last {}: PyTorch's output size rule{hint}",
            parts.join(" and the last ")
        )
    })
}

fn infer_conv(conv: &Conv2d, call: &Call, errors: &mut Errors) -> Option<Shape> {
    let (c, h, w) = if conv.one_d {
        let (c, l) = sequence(call, "conv1d", errors)?;
        (c, 1, l)
    } else {
        image(call, "conv2d", errors)?
    };
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
    let (wh, ww) = windows(&Op::Conv2d(conv.clone())).expect("a convolution");
    let oh = axis_output("height", h, wh);
    let ow = axis_output(if conv.one_d { "length" } else { "width" }, w, ww);
    for r in [&oh, &ow] {
        if let Err(message) = r {
            call.error(errors, message.clone());
            ok = false;
        }
    }
    match (ok, oh, ow) {
        // Causal: the symmetric convolution's first `l` outputs (the rest see the right padding).
        (true, Ok(_), Ok(_)) if conv.causal => Some(Shape(vec![conv.out_channels, w])),
        (true, Ok(_), Ok(ol)) if conv.one_d => Some(Shape(vec![conv.out_channels, ol])),
        (true, Ok(oh), Ok(ow)) => Some(Shape(vec![conv.out_channels, oh, ow])),
        _ => None,
    }
}

fn infer_pool(op: &str, pool: &Pool2d, call: &Call, errors: &mut Errors) -> Option<Shape> {
    let (c, h, w) = if pool.one_d {
        let (c, l) = sequence(call, op, errors)?;
        (c, 1, l)
    } else {
        image(call, op, errors)?
    };
    let width = if pool.one_d { "length" } else { "width" };
    let mut ok = true;
    for (axis, k, p) in [
        ("height", pool.kernel.0, pool.padding.0),
        (width, pool.kernel.1, pool.padding.1),
    ] {
        if 2 * p > k {
            call.error(
                errors,
                format!("padding {p} along the {axis} must be at most half the kernel size {k}, as in PyTorch"),
            );
            ok = false;
        }
    }
    let (wh, ww) = windows(&Op::MaxPool2d(pool.clone())).expect("a pooling");
    let oh = axis_output("height", h, wh);
    let ow = axis_output(width, w, ww);
    for r in [&oh, &ow] {
        if let Err(message) = r {
            call.error(errors, message.clone());
            ok = false;
        }
    }
    match (ok, oh, ow) {
        (true, Ok(_), Ok(ol)) if pool.one_d => Some(Shape(vec![c, ol])),
        (true, Ok(oh), Ok(ow)) => Some(Shape(vec![c, oh, ow])),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::build;
    use crate::parse::NetworkDef;

    /// The shape and the floor-rule note of every node of `body` (a declaration's statements).
    fn nodes(body: &str) -> Vec<(String, Shape, Option<String>)> {
        let def: NetworkDef = syn::parse_str(&format!("struct Net {{ {body} }}")).unwrap();
        let graph = build(&def).unwrap_or_else(|e| panic!("{e}"));
        graph
            .nodes
            .iter()
            .map(|node| {
                let note = node
                    .inputs
                    .first()
                    .and_then(|&j| dropped_input(&node.op, &graph.nodes[j].shape, &node.shape));
                (node.name.to_string(), node.shape.clone(), note)
            })
            .collect()
    }

    #[test]
    fn floor_rule_sizes_and_the_note_on_dropped_input() {
        let nodes = nodes(
            "input x: [1, 8, 7];
             c = conv2d(x, 2, kernel = 3, stride = 2);
             padded = conv2d(x, 2, kernel = 3, stride = 2, padding = 1);
             m = max_pool2d(x, 3);
             ceil = max_pool2d(x, 3, ceil_mode = true);
             f = flatten(c); g = flatten(padded); h = flatten(m); i = flatten(ceil);
             fg = concat(f, g); hi = concat(h, i); all = concat(fg, hi);
             loss = mse(all);",
        );
        let find = |name: &str| nodes.iter().find(|n| n.0 == name).unwrap().clone();
        let (_, shape, note) = find("c");
        assert_eq!(shape, Shape(vec![2, 3, 3]));
        assert_eq!(
            note.as_deref(),
            Some("drops the last 1 input row: PyTorch's output size rule")
        );
        // (8 + 2 - 3) / 2 = 3.5: what is left over is the bottom padding only.
        let (_, shape, note) = find("padded");
        assert_eq!((shape, note), (Shape(vec![2, 4, 4]), None));
        let (_, shape, note) = find("m");
        assert_eq!(shape, Shape(vec![1, 2, 2]));
        assert_eq!(
            note.as_deref(),
            Some(
                "drops the last 2 input rows and the last 1 input column: PyTorch's output size \
                 rule; `ceil_mode = true` keeps them"
            )
        );
        let (_, shape, note) = find("ceil");
        assert_eq!((shape, note), (Shape(vec![1, 3, 3]), None));
    }
}
