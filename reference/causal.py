"""Reference values for runtime/src/ops/causal.rs (causal, dilated conv1d as PyTorch computes
it: F.pad on the left by dilation * (kernel - 1), then F.conv1d).

Run with python3 reference/causal.py; the output replaces the `mod reference` block at the end
of runtime/src/ops/causal/tests.rs. Everything is float64; inputs come from `value(seed, i)`,
which the Rust test computes identically. Committed for reproducibility, never run by CI.
"""
import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)


def value(seed, i):
    """Deterministic inputs in [-1, 1), all distinct within 1009 consecutive indices."""
    return ((i * 7919 + seed * 104729) % 1009) / 504.5 - 1.0


def tensor(seed, shape):
    n = 1
    for d in shape:
        n *= d
    return torch.tensor([value(seed, i) for i in range(n)]).reshape(shape)


def lit(t):
    return "[" + ", ".join(repr(v) for v in t.flatten().tolist()) + "]"


# (name, batch, c_in, c_out, kernel, dilation, groups, length)
CASES = [("plain", 2, 2, 3, 3, 2, 1, 7), ("grouped", 1, 4, 2, 2, 3, 2, 6)]

print("mod reference {")
for name, b, c_in, c_out, k, d, g, length in CASES:
    x = tensor(1, (b, c_in, length)).requires_grad_()
    w = tensor(2, (c_out, c_in // g, k)).requires_grad_()
    bias = tensor(3, (c_out,)).requires_grad_()
    y = F.conv1d(F.pad(x, (d * (k - 1), 0)), w, bias, dilation=d, groups=g)
    (y * tensor(4, y.shape)).sum().backward()
    print(f"    pub mod {name} {{")
    print(f"        pub const Y: [f64; {y.numel()}] = {lit(y.detach())};")
    if name == "plain":  # the gradients go through the existing conv kernels once
        print(f"        pub const DX: [f64; {x.numel()}] = {lit(x.grad)};")
        print(f"        pub const DW: [f64; {w.numel()}] = {lit(w.grad)};")
        print(f"        pub const DB: [f64; {bias.numel()}] = {lit(bias.grad)};")
    print("    }")
print("}")
