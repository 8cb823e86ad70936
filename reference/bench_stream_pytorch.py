"""The streaming workloads S1 and S2 of BENCHMARKS.md in PyTorch, stepped one sample at a time,
for the table next to `cargo bench --bench stream` (benches/stream.rs) and RTNeural
(benches/rtneural/).

    taskset -c 1 python3 reference/bench_stream_pytorch.py              # both workloads
    taskset -c 1 python3 reference/bench_stream_pytorch.py S1-gru8      # a selection
    python3 reference/bench_stream_pytorch.py --samples 65536           # shorter runs

Same protocol as the Rust and C++ harnesses: a 440 Hz sine at 48 kHz plus normal noise
(sigma 0.05), 2^21 samples per run by default; one warm-up run, then seven timed runs, each
from a zero state, one call per sample (nn.GRU / nn.LSTM on a [1, 1, 1] input with the state
carried between calls, then nn.Linear), outputs summed into a checksum. Prints
`pytorch <name> ns_per_sample <min> <median> checksum <sum>`. One thread, float32, eager mode
under torch.inference_mode(); weights are PyTorch's default initialisation (uniform in
+-1/sqrt(H)). PyTorch's per-call overhead (microseconds) dominates at these sizes: the point of
the row is that overhead, so use --samples to keep a run short. Not run by CI.
"""
import argparse
import math
import statistics
import time

import torch
import torch.nn as nn

RUNS = 7


class Streamer(nn.Module):
    def __init__(self, cell, hidden):
        super().__init__()
        self.rnn = cell(1, hidden, batch_first=True)
        self.head = nn.Linear(hidden, 1)

    def forward(self, x, state):
        y, state = self.rnn(x, state)
        return self.head(y[:, -1]), state


def signal(samples):
    g = torch.Generator().manual_seed(7)
    t = torch.arange(samples, dtype=torch.float32) / 48000.0
    return 0.5 * torch.sin(2.0 * math.pi * 440.0 * t) + 0.05 * torch.randn(samples, generator=g)


def run(name, model, x):
    samples = x.shape[0]
    inputs = [x[i].reshape(1, 1, 1) for i in range(samples)]
    ns, checksum = [], 0.0
    for r in range(RUNS + 1):
        state = None
        total = 0.0
        start = time.perf_counter_ns()
        for xi in inputs:
            y, state = model(xi, state)
            total += float(y)
        elapsed = time.perf_counter_ns() - start
        checksum = total
        if r > 0:
            ns.append(elapsed / samples)
    ns.sort()
    print(f"pytorch {name} ns_per_sample {ns[0]:.2f} {statistics.median(ns):.2f} checksum {checksum:.6e}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("names", nargs="*")
    parser.add_argument("--samples", type=int, default=1 << 21)
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    torch.manual_seed(42)
    x = signal(args.samples)
    with torch.inference_mode():
        for name, cell, hidden in (("S1-gru8", nn.GRU, 8), ("S2-lstm16", nn.LSTM, 16)):
            if not args.names or name in args.names:
                run(name, Streamer(cell, hidden).eval(), x)


if __name__ == "__main__":
    main()
