"""The PyTorch twin of the `Twin` network of tests/recurrent.rs: nn.GRU -> nn.LSTM (last
state) -> nn.Linear, whose state_dict the generated type loads strictly with its safetensors
loader. Committed outputs, never run by CI:

    python3 reference/recurrent_twin.py && cargo fmt

writes tests/data/recurrent_twin.safetensors (safetensors' own PyTorch writer, float32) and
tests/data/recurrent_twin.rs (inputs and the float32 outputs, a module the test includes).
"""

import os

import numpy as np
import torch
import torch.nn as nn
from safetensors.torch import save_file

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
DATA = os.path.join(ROOT, "tests", "data")
T, F, H1, H2, OUT, N = 6, 2, 5, 4, 3, 3


class Twin(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(F, H1, batch_first=True)
        self.lstm = nn.LSTM(H1, H2, batch_first=True)
        self.head = nn.Linear(H2, OUT)

    def forward(self, x):
        y, _ = self.gru(x)
        _, (h_n, _) = self.lstm(y)
        return self.head(h_n[0])


torch.manual_seed(17)
twin = Twin().eval()
x = torch.randn(N, T, F)
with torch.no_grad():
    y = twin(x)
save_file({k: v.contiguous() for k, v in twin.state_dict().items()},
          os.path.join(DATA, "recurrent_twin.safetensors"))


def lit(t):
    """Shortest round-trip float32 literals."""
    return "[" + ", ".join(str(v) for v in t.flatten().numpy().astype(np.float32)) + "]"


with open(os.path.join(DATA, "recurrent_twin.rs"), "w") as f:
    f.write("// Written by reference/recurrent_twin.py.\n")
    f.write(f"pub const X: [f32; {x.numel()}] = {lit(x)};\n")
    f.write(f"pub const Y: [f32; {y.numel()}] = {lit(y)};\n")
