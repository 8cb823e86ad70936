"""Small safetensors files for the compiled-in weights tests (`weights = "...";`).

    python3 reference/weights_in.py

writes, under tests/ui/ (the compile-fail fixtures and tests/weights_in.rs use them):

- tiny.safetensors: `h = linear(x, 2)` on a 3-vector as torch.nn.Linear(3, 2) saves it, F32
  (h.weight [2, 3], h.bias [2]).
- tiny_f16.safetensors / tiny_bf16.safetensors: the same values in F16 / BF16 (chosen to be
  exact in both, so the compiled-in values equal the F32 file's).
- tiny_int.safetensors: h.weight as I32 (a dtype the loader rejects).
- tiny_bn.safetensors: that layer followed by a BatchNorm1d(2) (see the end of the script).
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
