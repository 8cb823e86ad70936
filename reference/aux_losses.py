"""Reference values for auxiliary losses (tests/aux_losses.rs).

    python3 reference/aux_losses.py

The `Inception` network of the test in PyTorch, float64: parameters `0.5 sin(0.37 k)` in
state-dict order, inputs `cos(0.71 k)`, labels [2, 0, 1, 1]; the total
`F.cross_entropy(logits, y) + 0.4 F.cross_entropy(aux, y) + 0.3 F.cross_entropy(mid, y)` and
its gradient with respect to every parameter (state-dict order) and to the input. Prints the
Rust constants pasted into the test.
"""

import math

import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)

shapes = [
    ("h.weight", (8, 6)),
    ("h.bias", (8,)),
    ("aux.weight", (3, 8)),
    ("aux.bias", (3,)),
    ("mid.weight", (3, 8)),
    ("mid.bias", (3,)),
    ("logits.weight", (3, 3)),
    ("logits.bias", (3,)),
]
count = sum(math.prod(s) for _, s in shapes)
flat = torch.tensor([0.5 * math.sin(0.37 * k) for k in range(count)])
params = {}
offset = 0
for name, shape in shapes:
    n = math.prod(shape)
    params[name] = flat[offset : offset + n].reshape(shape).clone().requires_grad_(True)
    offset += n

x = torch.tensor([math.cos(0.71 * k) for k in range(4 * 6)]).reshape(4, 6).requires_grad_(True)
y = torch.tensor([2, 0, 1, 1])

a = torch.tanh(F.linear(x, params["h.weight"], params["h.bias"]))
aux = F.linear(a, params["aux.weight"], params["aux.bias"])
mid = F.linear(a, params["mid.weight"], params["mid.bias"])
logits = F.linear(torch.tanh(mid), params["logits.weight"], params["logits.bias"])
total = F.cross_entropy(logits, y) + 0.4 * F.cross_entropy(aux, y) + 0.3 * F.cross_entropy(mid, y)
total.backward()

grad = torch.cat([params[name].grad.reshape(-1) for name, _ in shapes])


def rust(values):
    return ", ".join(repr(float(v)) for v in values)


print(f"const TOTAL: f64 = {total.item()!r};")
print(f"const PARAM_GRAD: [f64; {count}] = [{rust(grad)}];")
print(f"const INPUT_GRAD: [f64; 24] = [{rust(x.grad.reshape(-1))}];")
