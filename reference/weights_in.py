"""Small safetensors files for the compiled-in weights tests (`weights = "...";`).

    python3 reference/weights_in.py

writes, under tests/ui/ (the compile-fail fixtures and tests/weights_in.rs use them):

- tiny.safetensors: `h = linear(x, 2)` on a 3-vector as torch.nn.Linear(3, 2) saves it, F32
  (h.weight [2, 3], h.bias [2]).
- tiny_f16.safetensors / tiny_bf16.safetensors: the same values in F16 / BF16 (chosen to be
  exact in both, so the compiled-in values equal the F32 file's).
- tiny_int.safetensors: h.weight as I32 (a dtype the loader rejects).
- tiny_bn.safetensors: that layer followed by a BatchNorm1d(2) (see the end of the script).
- tiny_wn.safetensors / tiny_wn_bn.safetensors: the layer with Weight Norm (PyTorch's
  parametrization), without and with that BatchNorm after it; tiny_wn_zero.safetensors: a
  Weight Norm v with an all-zero row.
"""

from pathlib import Path

import torch
from safetensors.torch import save_file

OUT = Path(__file__).resolve().parent.parent / "tests" / "ui"

weight = torch.tensor([[0.5, -0.25, 1.0], [2.0, 0.125, -1.5]])
bias = torch.tensor([0.75, -0.5])

save_file({"h.weight": weight, "h.bias": bias}, str(OUT / "tiny.safetensors"))
save_file(
    {"h.weight": weight.half(), "h.bias": bias.half()}, str(OUT / "tiny_f16.safetensors")
)
save_file(
    {"h.weight": weight.bfloat16(), "h.bias": bias.bfloat16()},
    str(OUT / "tiny_bf16.safetensors"),
)
save_file(
    {"h.weight": weight.to(torch.int32), "h.bias": bias}, str(OUT / "tiny_int.safetensors")
)

x = torch.tensor([1.0, 2.0, 3.0])
print("h(x) =", (weight @ x + bias).tolist())

# tiny_bn.safetensors: `h = linear(x, 2)` then `n = batch_norm(h)` (nn.BatchNorm1d(2) in
# evaluation mode), for the BatchNorm folded at expansion.
save_file(
    {
        "h.weight": weight,
        "h.bias": bias,
        "n.weight": torch.tensor([1.5, 0.5]),
        "n.bias": torch.tensor([0.1, -0.2]),
        "n.running_mean": torch.tensor([0.25, -1.0]),
        "n.running_var": torch.tensor([2.0, 0.5]),
        "n.num_batches_tracked": torch.tensor(7, dtype=torch.int64),
    },
    str(OUT / "tiny_bn.safetensors"),
)
bn = torch.nn.BatchNorm1d(2).eval()
with torch.no_grad():
    bn.weight.copy_(torch.tensor([1.5, 0.5]))
    bn.bias.copy_(torch.tensor([0.1, -0.2]))
    bn.running_mean.copy_(torch.tensor([0.25, -1.0]))
    bn.running_var.copy_(torch.tensor([2.0, 0.5]))
    print("n(h(x)) =", bn((weight @ x + bias)[None])[0].tolist())

# tiny_wn.safetensors: `h = linear(x, 2, weight_norm = true)` as PyTorch's weight_norm
# parametrization saves it (original0 = g [2, 1], original1 = v [2, 3]), for Weight Norm folded
# at expansion; tiny_wn_bn.safetensors adds the BatchNorm1d above after it.
wn = torch.nn.utils.parametrizations.weight_norm(torch.nn.Linear(3, 2))
g = torch.tensor([[1.5], [-0.75]])
with torch.no_grad():
    wn.parametrizations.weight.original0.copy_(g)
    wn.parametrizations.weight.original1.copy_(weight)
    wn.bias.copy_(bias)
wn_tensors = {
    "h.parametrizations.weight.original0": g,
    "h.parametrizations.weight.original1": weight,
    "h.bias": bias,
}
save_file(wn_tensors, str(OUT / "tiny_wn.safetensors"))
with torch.no_grad():
    print("weight_norm h(x) =", wn(x[None])[0].tolist())
    save_file(
        {
            **wn_tensors,
            "n.weight": bn.weight.clone(),
            "n.bias": bn.bias.clone(),
            "n.running_mean": bn.running_mean.clone(),
            "n.running_var": bn.running_var.clone(),
            "n.num_batches_tracked": torch.tensor(7, dtype=torch.int64),
        },
        str(OUT / "tiny_wn_bn.safetensors"),
    )
    print("n(weight_norm h(x)) =", bn(wn(x[None]))[0].tolist())

# tiny_wn_zero.safetensors: a Weight Norm v with an all-zero row, whose weight g v / ||v|| is
# undefined: folding it at expansion is a compile error (tests/ui/weights_weight_norm_zero_row.rs).
save_file(
    {
        "h.parametrizations.weight.original0": g,
        "h.parametrizations.weight.original1": torch.tensor([[0.5, -0.25, 1.0], [0.0, 0.0, 0.0]]),
        "h.bias": bias,
    },
    str(OUT / "tiny_wn_zero.safetensors"),
)
