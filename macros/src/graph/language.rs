//! The language's one table of operations: each name with its usage line, which messages quote
//! and the crate docs' table is tested against (`language/one_description.rs` holds the usage
//! strings, the docs and the parser equal).

/// Every operation name, with a usage line for messages and docs.
pub const OPERATIONS: &[(&str, &str)] = &[
    ("linear", "linear(x, out_features, init = .., bias = true, bias_init = .., weight_norm = false)"),
    ("relu", "relu(x)"),
    ("leaky_relu", "leaky_relu(x, negative_slope = 0.01)"),
    ("tanh", "tanh(x)"),
    ("sigmoid", "sigmoid(x)"),
    ("gelu", "gelu(x, approximate = none | tanh)"),
    ("softmax", "softmax(x)"),
    ("add", "add(a, b)"),
    ("sub", "sub(a, b)"),
    ("mul", "mul(a, b)"),
    ("scale", "scale(x, factor)"),
    ("concat", "concat(a, b)"),
    ("flatten", "flatten(x)"),
    ("reshape", "reshape(x, [channels, height, width] | [channels, length] | [n])"),
    ("dropout", "dropout(x, p = 0.5)"),
    ("conv2d", "conv2d(x, out_channels, kernel = 3, stride = 1, padding = 0, dilation = 1, groups = 1, bias = true, init = .., weight_norm = false)"),
    ("conv1d", "conv1d(x, out_channels, kernel = 3, stride = 1, padding = 0 | causal, dilation = 1, groups = 1, bias = true, init = .., weight_norm = false)"),
    ("gru", "gru(x, hidden_size, return = sequence | last)"),
    ("lstm", "lstm(x, hidden_size, return = sequence | last)"),
    ("max_pool1d", "max_pool1d(x, kernel, stride = kernel, padding = 0, ceil_mode = false)"),
    ("avg_pool1d", "avg_pool1d(x, kernel, stride = kernel, padding = 0, ceil_mode = false)"),
    ("max_pool2d", "max_pool2d(x, kernel, stride = kernel, padding = 0, ceil_mode = false)"),
    ("avg_pool2d", "avg_pool2d(x, kernel, stride = kernel, padding = 0, ceil_mode = false)"),
    ("global_avg_pool", "global_avg_pool(x)"),
    ("batch_norm", "batch_norm(x, eps = 1e-5, momentum = 0.1, affine = true, track = update | frozen)"),
    ("batch_renorm", "batch_renorm(x, r_max = 3.0, d_max = 5.0, eps = 1e-5, momentum = 0.1)"),
    ("layer_norm", "layer_norm(x, eps = 1e-5, affine = true)"),
    ("instance_norm", "instance_norm(x, eps = 1e-5, affine = false)"),
    ("group_norm", "group_norm(x, groups, eps = 1e-5, affine = true)"),
    ("softmax_cross_entropy", "softmax_cross_entropy(logits)"),
    ("logistic_loss", "logistic_loss(logits, labels = zero_one | signed)"),
    ("mse", "mse(prediction)"),
];

/// Returns the usage line of `op`.
pub fn usage(op: &str) -> &'static str {
    OPERATIONS
        .iter()
        .find(|(name, _)| *name == op)
        .map(|(_, usage)| *usage)
        .unwrap_or("")
}

/// The option that freezes a layer's parameters, accepted by every operation with parameters.
pub const FROZEN: &str = "frozen";

#[cfg(test)]
mod one_description;
