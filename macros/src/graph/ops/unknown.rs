//! What to say about an operation the language does not have: the operations users of other
//! frameworks expect and what to write instead, the closest name for a typo.

use crate::graph::language::{usage, OPERATIONS};
use crate::graph::suggest::suggest;

/// Operations users of other frameworks expect, by normalized name (lowercase, no `_`): what
/// the language has instead. `None` as the alternative: there is nothing close (yet).
const NOT_HERE: &[(&[&str], &str, Option<&str>, bool)] = &[
    (
        &["view", "unflatten"],
        "a node is given another shape with the same element count by `reshape(x, [c, h, w])`, \
         `reshape(x, [c, l])` or `reshape(x, [n])` (free: the buffer is reused)",
        Some("reshape"),
        false,
    ),
    (
        &[
            "permute",
            "transpose",
            "squeeze",
            "unsqueeze",
            "expand",
            "repeat",
        ],
        "shapes are inferred and dimensions cannot be reordered",
        None,
        true,
    ),
    (
        &["dense", "fc", "fullyconnected"],
        "a fully connected layer is `linear`",
        Some("linear"),
        false,
    ),
    (
        &["conv"],
        "convolutions are `conv1d` over sequences `[C, L]` and `conv2d` over images `[C, H, W]`",
        Some("conv2d"),
        false,
    ),
    (
        &[
            "conv3d",
            "convtranspose2d",
            "convtranspose1d",
            "deconv2d",
            "upsample",
        ],
        "the convolutions are `conv1d` and `conv2d` (no 3-D or transposed convolution)",
        Some("conv2d"),
        true,
    ),
    (
        &[
            "adaptiveavgpool2d",
            "adaptiveavgpool1d",
            "globalaveragepool",
            "gap",
        ],
        "`global_avg_pool(x)` is `AdaptiveAvgPool2d(1)`; other output sizes are not supported",
        Some("global_avg_pool"),
        true,
    ),
    (
        &["batchnorm1d", "batchnorm2d", "bn"],
        "`batch_norm(x)` works on vectors `[N]` (like BatchNorm1d) and images `[C, H, W]` (like \
         BatchNorm2d)",
        Some("batch_norm"),
        false,
    ),
    (
        &["instancenorm1d", "instancenorm2d"],
        "`instance_norm(x)` works on images `[C, H, W]`",
        Some("instance_norm"),
        false,
    ),
    (
        &[
            "dropout1d",
            "dropout2d",
            "dropout3d",
            "alphadropout",
            "featurealphadropout",
        ],
        "the only dropout is element-wise, `dropout(x, p = 0.5)` (like `torch.nn.Dropout`)",
        Some("dropout"),
        true,
    ),
    (
        &["div", "divide", "matmul", "bmm", "mm", "einsum"],
        "two nodes are joined element-wise with `add(a, b)`, `sub(a, b)` and `mul(a, b)`, or \
         with `concat(a, b)`",
        Some("mul"),
        true,
    ),
    (
        &["multiply", "prod", "product", "hadamard"],
        "the element-wise product of two nodes is `mul(a, b)`",
        Some("mul"),
        false,
    ),
    (
        &["subtract", "minus", "difference"],
        "the element-wise difference of two nodes is `sub(a, b)`",
        Some("sub"),
        false,
    ),
    (
        &["cat", "concatenate", "stack", "hstack"],
        "two nodes are joined along their features with `concat(a, b)`",
        Some("concat"),
        false,
    ),
    (
        &["sum", "plus", "residual"],
        "two nodes are summed with `add(a, b)`",
        Some("add"),
        false,
    ),
    (
        &["rnn", "lstmcell", "grucell"],
        "the recurrent layers are `gru(x, hidden)` and `lstm(x, hidden)` over a sequence [steps, \
         features], each one layer with its whole sequence (`return = sequence`) or its last \
         state (`return = last`)",
        None,
        false,
    ),
    (
        &[
            "embedding",
            "attention",
            "multiheadattention",
            "transformer",
        ],
        "monograd has no embedding or attention layers",
        None,
        true,
    ),
    (
        &[
            "relu6",
            "elu",
            "selu",
            "celu",
            "silu",
            "swish",
            "mish",
            "softplus",
            "hardtanh",
            "hardswish",
            "prelu",
            "logsoftmax",
        ],
        "the activations are `relu`, `leaky_relu`, `tanh`, `sigmoid`, `gelu` and `softmax`",
        None,
        true,
    ),
    (
        &[
            "crossentropy",
            "crossentropyloss",
            "nllloss",
            "categoricalcrossentropy",
        ],
        "the classification loss on logits (like `torch.nn.CrossEntropyLoss`) is \
         `softmax_cross_entropy(logits)`",
        Some("softmax_cross_entropy"),
        false,
    ),
    (
        &["mseloss", "l2loss", "meansquarederror"],
        "the mean squared error is `mse(prediction)`",
        Some("mse"),
        false,
    ),
    (
        &[
            "bce",
            "bceloss",
            "bcewithlogits",
            "bcewithlogitsloss",
            "binarycrossentropy",
            "binarycrossentropywithlogits",
        ],
        "the binary loss on logits (like `torch.nn.BCEWithLogitsLoss`; no `sigmoid` before it) \
         is `logistic_loss(logits)`",
        Some("logistic_loss"),
        false,
    ),
];

/// `name` lowercase without `_`, so that `MaxPool2d`, `max_pool2d` and `maxpool2d` compare equal.
fn normalize(name: &str) -> String {
    name.chars()
        .filter(|c| *c != '_')
        .flat_map(char::to_lowercase)
        .collect()
}

/// The message for an operation the language does not have: what to write instead where there
/// is an alternative, the closest name for a typo, and the list of operations.
pub(super) fn unknown_operation_message(op: &str) -> String {
    let key = normalize(op);
    let known: Vec<&str> = OPERATIONS.iter().map(|(n, _)| *n).collect();
    let list = format!("known operations: {}", known.join(", "));
    // A known operation written in another case or spelling (`Linear`, `MaxPool2d`).
    if let Some(name) = known.iter().find(|name| normalize(name) == key) {
        return format!(
            "unknown operation `{op}`: operations are written in lowercase snake_case; write \
             `{name}`\nusage: {}",
            usage(name)
        );
    }
    if let Some((_, advice, alternative, missing)) = NOT_HERE
        .iter()
        .find(|(names, ..)| names.contains(&key.as_str()))
    {
        let usage_line = match alternative {
            Some(name) => format!("usage: {}", usage(name)),
            None => list,
        };
        let yet = if *missing { " (yet)" } else { "" };
        return format!("there is no `{op}` in monograd{yet}: {advice}\n{usage_line}");
    }
    let hint = match suggest(op, known.iter().copied()) {
        Some(s) => format!("; did you mean `{s}`?"),
        None => String::new(),
    };
    format!("unknown operation `{op}`{hint}\n{list}")
}
