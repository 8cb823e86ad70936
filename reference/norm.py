"""Reference values for runtime/src/ops/norm (BatchNorm, Batch Renorm, LayerNorm, InstanceNorm,
GroupNorm, Weight Norm), computed with PyTorch in float64.

Prints the Rust module `runtime/src/ops/norm/reference.rs`:

    python3 reference/norm.py > runtime/src/ops/norm/reference.rs

Committed, never run by CI. Inputs are printed too, so the Rust tests use exactly these numbers.
Layouts match the runtime: a batch is [B][N] with per-sample [C, S] (S = H * W) flattened.

PyTorch has no Batch Renorm (Ioffe 2017): its values come from the small float64
reimplementation `batch_renorm_step` below, written with torch autograd and r, d detached
(treated as constants in backward, as in the paper); running statistics are updated as
PyTorch's BatchNorm does (momentum 0.1, unbiased variance), see renorm.rs for why.
"""

import torch
import torch.nn.functional as F

torch.manual_seed(20240611)
DT = torch.float64
EPS = 1e-5
MOMENTUM = 0.1

out = []


def emit(name, t):
    """A Rust const: 1-D tensors become [f64; L], 2-D [[f64; N]; B] (extra dims flattened)."""
    t = t.detach().to(DT)
    if t.dim() == 0:
        out.append(f"pub(super) const {name}: f64 = {float(t)!r};")
        return
    if t.dim() == 1:
        vals = ", ".join(repr(float(v)) for v in t)
        out.append(f"pub(super) const {name}: [f64; {t.numel()}] = [{vals}];")
        return
    t = t.reshape(t.shape[0], -1)
    rows = ",\n    ".join("[" + ", ".join(repr(float(v)) for v in row) + "]" for row in t)
    out.append(f"pub(super) const {name}: [[f64; {t.shape[1]}]; {t.shape[0]}] = [\n    {rows},\n];")


def randn(*shape, scale=1.0, shift=None):
    t = torch.randn(*shape, dtype=DT) * scale
    if shift is not None:
        t = t + shift
    return t


def batch_norm_case(prefix, shape):
    """BatchNorm1d (S = 1) or BatchNorm2d: 3 training steps from the default running stats,
    gradients of the first step, then eval forward/backward with the stats after 3 steps."""
    batch, channels = shape[0], shape[1]
    spatial_ones = [1] * (len(shape) - 2)
    offset = torch.tensor([0.5, -1.0, 2.0], dtype=DT)[:channels].view(1, channels, *spatial_ones)
    bn = torch.nn.BatchNorm1d(channels) if len(shape) == 2 else torch.nn.BatchNorm2d(channels)
    bn = bn.to(DT)
    with torch.no_grad():
        bn.weight.copy_(randn(channels, scale=0.5, shift=1.0))
        bn.bias.copy_(randn(channels, scale=0.5))
    emit(f"{prefix}_GAMMA", bn.weight)
    emit(f"{prefix}_BETA", bn.bias)
    bn.train()
    for step in range(3):
        x = randn(*shape, scale=1.5, shift=offset).requires_grad_(True)
        dy = randn(*shape)
        y = bn(x)
        emit(f"{prefix}_X{step + 1}", x)
        if step == 0:
            emit(f"{prefix}_Y1", y)
            emit(f"{prefix}_DY1", dy)
            bn.zero_grad()
            y.backward(dy)
            emit(f"{prefix}_DX1", x.grad)
            emit(f"{prefix}_DGAMMA1", bn.weight.grad)
            emit(f"{prefix}_DBETA1", bn.bias.grad)
            emit(f"{prefix}_RUNNING_MEAN1", bn.running_mean)
            emit(f"{prefix}_RUNNING_VAR1", bn.running_var)
    emit(f"{prefix}_RUNNING_MEAN3", bn.running_mean)
    emit(f"{prefix}_RUNNING_VAR3", bn.running_var)
    bn.eval()
    x = randn(*shape, scale=1.5, shift=offset).requires_grad_(True)
    dy = randn(*shape)
    y = bn(x)
    bn.zero_grad()
    y.backward(dy)
    emit(f"{prefix}_EVAL_X", x)
    emit(f"{prefix}_EVAL_DY", dy)
    emit(f"{prefix}_EVAL_Y", y)
    emit(f"{prefix}_EVAL_DX", x.grad)
    emit(f"{prefix}_EVAL_DGAMMA", bn.weight.grad)
    emit(f"{prefix}_EVAL_DBETA", bn.bias.grad)


def batch_renorm_step(x, gamma, beta, running_mean, running_var, r_max, d_max):
    """One Batch Renorm training step over [B, C, *spatial]; updates the running stats in place
    and returns (y, r, d)."""
    dims = [0] + list(range(2, x.dim()))
    view = [1, -1] + [1] * (x.dim() - 2)
    m = x.numel() // x.shape[1]
    mean = x.mean(dim=dims)
    var = x.var(dim=dims, unbiased=False)
    sigma_batch = torch.sqrt(var + EPS)
    sigma_running = torch.sqrt(running_var + EPS)
    r = torch.clamp(sigma_batch / sigma_running, 1.0 / r_max, r_max).detach()
    d = torch.clamp((mean - running_mean) / sigma_running, -d_max, d_max).detach()
    x_hat = (x - mean.view(view)) / sigma_batch.view(view)
    y = gamma.view(view) * (x_hat * r.view(view) + d.view(view)) + beta.view(view)
    with torch.no_grad():
        running_mean.mul_(1 - MOMENTUM).add_(MOMENTUM * mean)
        running_var.mul_(1 - MOMENTUM).add_(MOMENTUM * var * m / (m - 1))
    return y, r, d


def batch_renorm_case(prefix, shape, running_mean, running_var, r_max, d_max):
    channels = shape[1]
    gamma = randn(channels, scale=0.5, shift=1.0).requires_grad_(True)
    beta = randn(channels, scale=0.5).requires_grad_(True)
    running_mean = torch.tensor(running_mean, dtype=DT)
    running_var = torch.tensor(running_var, dtype=DT)
    emit(f"{prefix}_GAMMA", gamma)
    emit(f"{prefix}_BETA", beta)
    emit(f"{prefix}_RUNNING_MEAN0", running_mean)
    emit(f"{prefix}_RUNNING_VAR0", running_var)
    emit(f"{prefix}_R_MAX", torch.tensor(r_max, dtype=DT))
    emit(f"{prefix}_D_MAX", torch.tensor(d_max, dtype=DT))
    for step in range(3):
        x = randn(*shape, scale=1.5).requires_grad_(True)
        dy = randn(*shape)
        y, r, d = batch_renorm_step(x, gamma, beta, running_mean, running_var, r_max, d_max)
        emit(f"{prefix}_X{step + 1}", x)
        if step == 0:
            y.backward(dy)
            emit(f"{prefix}_Y1", y)
            emit(f"{prefix}_R1", r)
            emit(f"{prefix}_D1", d)
            emit(f"{prefix}_DY1", dy)
            emit(f"{prefix}_DX1", x.grad)
            emit(f"{prefix}_DGAMMA1", gamma.grad)
            emit(f"{prefix}_DBETA1", beta.grad)
            emit(f"{prefix}_RUNNING_MEAN1", running_mean)
            emit(f"{prefix}_RUNNING_VAR1", running_var)
    emit(f"{prefix}_RUNNING_MEAN3", running_mean)
    emit(f"{prefix}_RUNNING_VAR3", running_var)


def per_sample_case(prefix, module, shape, affine):
    """LayerNorm / InstanceNorm / GroupNorm forward and backward (train = eval)."""
    module = module.to(DT)
    if affine:
        with torch.no_grad():
            module.weight.copy_(randn(*module.weight.shape, scale=0.5, shift=1.0))
            module.bias.copy_(randn(*module.bias.shape, scale=0.5))
        emit(f"{prefix}_GAMMA", module.weight.reshape(-1))
        emit(f"{prefix}_BETA", module.bias.reshape(-1))
    x = randn(*shape, scale=2.0, shift=0.7).requires_grad_(True)
    dy = randn(*shape)
    y = module(x)
    y.backward(dy)
    emit(f"{prefix}_X", x)
    emit(f"{prefix}_DY", dy)
    emit(f"{prefix}_Y", y)
    emit(f"{prefix}_DX", x.grad)
    if affine:
        emit(f"{prefix}_DGAMMA", module.weight.grad.reshape(-1))
        emit(f"{prefix}_DBETA", module.bias.grad.reshape(-1))


def weight_norm_case(prefix, layer):
    layer = torch.nn.utils.parametrizations.weight_norm(layer.to(DT), name="weight", dim=0)
    weight = layer.parametrizations.weight
    out_features = layer.weight.shape[0]
    with torch.no_grad():
        weight.original1.copy_(randn(*weight.original1.shape))
        weight.original0.copy_(randn(out_features, scale=0.5, shift=1.0).view_as(weight.original0))
    w = layer.weight
    dw = randn(*w.shape)
    (w * dw).sum().backward()
    emit(f"{prefix}_G", weight.original0.reshape(-1))
    emit(f"{prefix}_V", weight.original1)
    emit(f"{prefix}_W", w)
    emit(f"{prefix}_DW", dw)
    emit(f"{prefix}_DG", weight.original0.grad.reshape(-1))
    emit(f"{prefix}_DV", weight.original1.grad)


batch_norm_case("BN_FEAT", (4, 3))
batch_norm_case("BN_MAP", (2, 3, 2, 2))
# Channel 0: r and d both clipped; channel 1: r clipped low; channel 2: neither clipped.
batch_renorm_case("RENORM", (4, 3, 2), [2.0, 0.1, 0.2], [0.1, 25.0, 2.0], 1.5, 0.8)
per_sample_case("LN", torch.nn.LayerNorm([2, 3]), (3, 2, 3), affine=True)
per_sample_case("IN", torch.nn.InstanceNorm2d(3), (2, 3, 2, 2), affine=False)
per_sample_case("IN_AFFINE", torch.nn.InstanceNorm2d(3, affine=True), (2, 3, 2, 2), affine=True)
per_sample_case("GN", torch.nn.GroupNorm(2, 4, eps=1e-3), (2, 4, 3), affine=True)
weight_norm_case("WN_DENSE", torch.nn.Linear(4, 3))
weight_norm_case("WN_CONV", torch.nn.Conv2d(2, 3, 2))

print("//! Reference values from PyTorch (float64), generated by `reference/norm.py`; do not edit.")
print(f"//! torch {torch.__version__}.")
print("#![allow(clippy::excessive_precision, clippy::unreadable_literal)]")
print()
print("\n\n".join(out))
