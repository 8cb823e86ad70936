"""The PyTorch twin of the `Twin` network declared in tests/weights.rs, for the safetensors round
trip in both directions. Committed outputs, never run by CI:

    python3 reference/io_twin.py && cargo fmt

1. Builds the twin (Conv2d, BatchNorm2d, Linear with parametrized Weight Norm, LayerNorm,
   Linear), trains it a few steps so the BatchNorm running statistics and num_batches_tracked
   are not trivial, saves its state_dict with safetensors' own PyTorch writer to
   tests/data/pytorch_twin.safetensors (and with the legacy Weight Norm names to
   tests/data/pytorch_twin_legacy.safetensors, and in float16 and bfloat16), and writes its evaluation-mode float32 outputs on fixed
   inputs to tests/data/pytorch_twin.rs (a Rust module the test includes).
2. If tests/data/monograd_twin.safetensors exists (written by monograd: run
   `MONOGRAD_BLESS=1 cargo test --test weights`), loads it into a fresh twin with
   load_state_dict(strict=True) and checks the outputs against monograd's, recorded in the same
   file's metadata-free companion tests/data/monograd_twin_outputs.txt.
"""

import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import save_file, load_file

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
DATA = os.path.join(ROOT, "tests", "data")


class Twin(nn.Module):
    """Mirrors the declaration in tests/weights.rs node by node (same attribute names)."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 3, 3, padding=1)
        self.b1 = nn.BatchNorm2d(3)
        self.h = nn.utils.parametrizations.weight_norm(nn.Linear(27, 8))
        self.n = nn.LayerNorm(8)
        self.logits = nn.Linear(8, 4)

    def forward(self, x):
        x = x.view(-1, 1, 6, 6)
        a1 = F.relu(self.b1(self.c1(x)))
        p = F.max_pool2d(a1, 2)
        h = self.h(p.flatten(1))
        return self.logits(torch.tanh(self.n(h)))


def f32(v):
    """The shortest decimal that reads back as the same float32."""
    return str(np.float32(v))


def inputs():
    g = torch.Generator().manual_seed(7)
    return torch.randn(5, 36, generator=g)


def main():
    torch.manual_seed(2026)
    net = Twin()
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    net.train()
    g = torch.Generator().manual_seed(11)
    for _ in range(3):
        x = torch.randn(16, 36, generator=g) * 2 + 0.5
        y = torch.randint(0, 4, (16,), generator=g)
        opt.zero_grad()
        F.cross_entropy(net(x), y).backward()
        opt.step()
    net.eval()
    state = {k: v.contiguous() for k, v in net.state_dict().items()}
    assert int(state["b1.num_batches_tracked"]) == 3
    save_file(state, os.path.join(DATA, "pytorch_twin.safetensors"))
    # The same weights under the legacy torch.nn.utils.weight_norm names (weight_g, weight_v).
    legacy = {
        k.replace("parametrizations.weight.original0", "weight_g").replace(
            "parametrizations.weight.original1", "weight_v"
        ): v
        for k, v in state.items()
    }
    save_file(legacy, os.path.join(DATA, "pytorch_twin_legacy.safetensors"))
    # Half-precision copies (the counter stays int64), as `model.half()` / `.bfloat16()` save.
    for dtype, tag in [(torch.float16, "f16"), (torch.bfloat16, "bf16")]:
        half = {k: (v.to(dtype) if v.is_floating_point() else v) for k, v in state.items()}
        save_file(half, os.path.join(DATA, f"pytorch_twin_{tag}.safetensors"))

    x = inputs()
    with torch.no_grad():
        y = net(x)
    with open(os.path.join(DATA, "pytorch_twin.rs"), "w") as f:
        f.write("// Written by reference/io_twin.py: the twin's inputs and float32 outputs.\n")
        f.write("pub const INPUTS: [[f32; 36]; 5] = [\n")
        for row in x.tolist():
            f.write("    [" + ", ".join(f32(v) for v in row) + "],\n")
        f.write("];\npub const OUTPUTS: [[f32; 4]; 5] = [\n")
        for row in y.tolist():
            f.write("    [" + ", ".join(f32(v) for v in row) + "],\n")
        f.write("];\n")
    for k, v in state.items():
        print(f"{k}: {list(v.shape)} {v.dtype}")

    # The reverse direction: monograd's file into PyTorch, strictly.
    path = os.path.join(DATA, "monograd_twin.safetensors")
    if os.path.exists(path):
        fresh = Twin()
        result = fresh.load_state_dict(load_file(path), strict=True)
        print("monograd file loads with strict=True:", result)
        fresh.eval()
        with torch.no_grad():
            y_mono = fresh(x)
        with open(os.path.join(DATA, "monograd_twin_outputs.txt")) as f:
            expected = torch.tensor([[float(v) for v in line.split()] for line in f if line.strip()])
        err = ((y_mono - expected).abs() / expected.abs().clamp_min(1e-6)).max().item()
        print("max relative difference, PyTorch on monograd's file vs monograd:", err)
        assert err < 1e-5, err


if __name__ == "__main__":
    main()
