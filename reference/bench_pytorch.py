"""The reference workloads W1..W6 of BENCHMARKS.md in PyTorch, for a like-for-like comparison
with `cargo bench --bench workloads` (benches/workloads.rs).

    taskset -c 1 python3 reference/bench_pytorch.py          # every workload
    taskset -c 1 python3 reference/bench_pytorch.py W1 W3    # a selection
    taskset -c 1 python3 reference/bench_pytorch.py W1parts  # W1 split (also W4parts, W5parts)
    python3 reference/bench_pytorch.py --json results.jsonl  # also JSON lines, for plots

Options: --min-reps N (at least 200), --seconds S (time budget per workload, default 1),
--w6-runs N (W6 training runs, default 5), --fused-adam (W1/W6 with torch.optim.Adam(fused=True)
instead of the default implementation).

Same protocol as the Rust harness: warm-up of at least 20 calls and 0.2 s; the median of the last
20 warm-up calls estimates one call; a timed repetition is `inner` back-to-back calls (the
smallest count lasting 50 us: 1 for every call longer than that), its time / inner is one
sample; at least 200 repetitions (more while they fit in --seconds, at most 20000); median and
10th / 90th percentiles, us per call (W3 in ns).

One compute thread (torch.set_num_threads(1), one inter-op thread), float32, eager mode
(torch.compile is out of scope). Weights: kaiming_normal_ (fan_in, ReLU gain, as monograd's
he_normal) on every weight, PyTorch's default bias init; inputs standard normal, labels uniform
in 0..10. A training step is zero_grad(set_to_none) + forward + cross-entropy + backward + step,
on one fixed batch, without reading the loss back (monograd returns it as a plain float; .item()
would add ~1 us). Inference runs under torch.inference_mode() with the model in eval mode.
W6 trains 64 -> 128 -> ReLU -> 10 (He on the hidden layer, default init on the output, as
examples/digits.rs) on data/digits.csv.gz, first 1437 rows train and last 360 test, pixels / 16,
Adam lr 1e-3, batch 32, 30 epochs, each epoch a fresh random order whose last partial batch is
completed with the first samples of the same order (45 steps per epoch, as monograd's
MiniBatches); the median training wall time of --w6-runs identical runs is reported.
Not run by CI.
"""
import argparse
import gzip
import json
import math
import os
import platform
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

WARMUP_CALLS = 20
WARMUP_TIME = 0.2
MIN_SAMPLE = 50e-6
MAX_REPS = 20_000

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MLP_LAYERS = [(784, 256), (256, 128), (128, 10)]


def percentile(sorted_values, q):
    """Linear interpolation between closest ranks (numpy's default), as the Rust harness."""
    position = q * (len(sorted_values) - 1)
    low, high = math.floor(position), math.ceil(position)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


def measure(args, call):
    warm = []
    start = time.perf_counter()
    while len(warm) < WARMUP_CALLS or time.perf_counter() - start < WARMUP_TIME:
        t = time.perf_counter()
        call()
        warm.append(time.perf_counter() - t)
    estimate = max(percentile(sorted(warm[-WARMUP_CALLS:]), 0.5), 1e-9)
    inner = max(1, math.ceil(MIN_SAMPLE / estimate))
    budget = int(args.seconds / (estimate * inner))
    reps = min(max(budget, args.min_reps), max(MAX_REPS, args.min_reps))
    samples = []
    for _ in range(reps):
        t = time.perf_counter()
        for _ in range(inner):
            call()
        samples.append((time.perf_counter() - t) / inner)
    samples.sort()
    return dict(
        median=percentile(samples, 0.5),
        p10=percentile(samples, 0.1),
        p90=percentile(samples, 0.9),
        reps=reps,
        inner=inner,
    )


# Where `--json PATH` appends one JSON object per row (the fields of monograd's
# `benches/common/jsonl.rs`), and the CPU they are tagged with.
JSON_SINK = {"file": None, "cpu": ""}


def json_row(id_, name, batch, unit, quantiles, reps, inner, gflops):
    if JSON_SINK["file"] is None:
        return
    median, p10, p90 = quantiles
    row = {"framework": "pytorch", "id": id_, "workload": name, "batch": batch, "unit": unit,
           "median": median, "p10": p10, "p90": p90, "reps": reps, "inner": inner,
           "gflops": gflops, "cpu": JSON_SINK["cpu"]}
    JSON_SINK["file"].write(json.dumps(row) + "\n")
    JSON_SINK["file"].flush()


def cpu_model():
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def report(id_, name, batch, stats, ns=False, flops=0.0):
    scale, unit = (1e9, "ns") if ns else (1e6, "us")
    json_row(id_, name, batch, unit,
             [stats[k] * scale for k in ("median", "p10", "p90")], stats["reps"],
             stats["inner"], flops / stats["median"] / 1e9 if flops > 0 else None)
    gflops = f"{flops / stats['median'] / 1e9:9.2f}" if flops > 0 else f"{'-':>9}"
    print(
        f"{id_:<8} {name:<14} {batch:>5} {stats['median'] * scale:>11.2f} "
        f"{stats['p10'] * scale:>11.2f} {stats['p90'] * scale:>11.2f}  {unit:<4} "
        f"{stats['reps']:>6}x{stats['inner']:<5} {gflops}",
        flush=True,
    )


def dense_flops(b, layers):
    return sum(2.0 * b * n * m for n, m in layers)


def he_init(model):
    """kaiming_normal_ on every weight (fan_in, ReLU gain: std sqrt(2 / fan_in)), default biases."""
    for module in model.modules():
        if isinstance(module, (nn.Linear, nn.Conv2d)):
            nn.init.kaiming_normal_(module.weight, mode="fan_in", nonlinearity="relu")
    return model


def mlp():
    return he_init(nn.Sequential(
        nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10)))


def random_batch(batch, shape, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn((batch, *shape), generator=g, dtype=torch.float32)
    y = torch.randint(0, 10, (batch,), generator=g)
    return x, y


def adam(model, args):
    return torch.optim.Adam(model.parameters(), lr=1e-3, fused=True if args.fused_adam else None)


def train_step_fn(model, opt, x, y):
    def step():
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
    return step


def parts(args, id_, model, opt, x, y, forward_flops):
    """A training step split into its parts, each timed on its own, as the Rust harness does:
    forward (with the loss, recording the autograd graph), loss + backward (zero_grad, then
    backward through one recorded graph kept with retain_graph), and the optimizer step."""
    batch = x.shape[0]

    def fwd():
        return F.cross_entropy(model(x), y)

    report(f"{id_}.fwd", "forward+loss", batch, measure(args, fwd), flops=forward_flops)
    loss = fwd()

    def bwd():
        opt.zero_grad(set_to_none=True)
        loss.backward(retain_graph=True)

    report(f"{id_}.bwd", "backward", batch, measure(args, bwd), flops=2 * forward_flops)
    report(f"{id_}.opt", "optimizer_step", batch, measure(args, opt.step))


def w1(args, split=False):
    torch.manual_seed(1)
    model = mlp().train()
    opt = adam(model, args)
    x, y = random_batch(64, (784,), 101)
    forward = dense_flops(64, MLP_LAYERS)
    if split:
        return parts(args, "W1", model, opt, x, y, forward)
    stats = measure(args, train_step_fn(model, opt, x, y))
    report("W1", "mlp_train", 64, stats, flops=3 * forward)


def w2(args):
    torch.manual_seed(1)
    model = mlp().eval()
    x, _ = random_batch(1, (784,), 102)

    def call():
        with torch.inference_mode():
            model(x)

    report("W2", "mlp_infer", 1, measure(args, call), flops=dense_flops(1, MLP_LAYERS))


def w3(args):
    torch.manual_seed(1)
    model = he_init(nn.Sequential(
        nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 16), nn.Tanh(), nn.Linear(16, 1))).eval()
    x, _ = random_batch(1, (2,), 103)

    def call():
        with torch.inference_mode():
            model(x)

    report("W3", "tiny_infer", 1, measure(args, call), ns=True,
           flops=dense_flops(1, [(2, 16), (16, 16), (16, 1)]))


def w4(args, split=False):
    torch.manual_seed(1)
    model = he_init(nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(784, 10))).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x, y = random_batch(32, (1, 28, 28), 104)
    # Convolutions counted like dense layers: 2 per weight tap per output pixel.
    forward = 2.0 * 32 * (28 * 28 * 8 * 9 + 14 * 14 * 16 * 8 * 9 + 784 * 10)
    if split:
        return parts(args, "W4", model, opt, x, y, forward)
    stats = measure(args, train_step_fn(model, opt, x, y))
    report("W4", "cnn_train", 32, stats, flops=3 * forward)


def w5(args, split=False):
    torch.manual_seed(1)
    model = he_init(nn.Sequential(
        nn.Linear(784, 256), nn.BatchNorm1d(256), nn.ReLU(),
        nn.Linear(256, 128), nn.BatchNorm1d(128), nn.ReLU(),
        nn.Linear(128, 10))).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x, y = random_batch(64, (784,), 105)
    forward = dense_flops(64, MLP_LAYERS)
    if split:
        return parts(args, "W5", model, opt, x, y, forward)
    stats = measure(args, train_step_fn(model, opt, x, y))
    report("W5", "bn_mlp_train", 64, stats, flops=3 * forward)


def load_digits():
    with gzip.open(os.path.join(ROOT, "data", "digits.csv.gz"), "rt") as f:
        rows = [line.strip().split(",") for line in f.read().splitlines()[1:] if line.strip()]
    labels = torch.tensor([int(r[0]) for r in rows])
    images = torch.tensor([[float(v) / 16.0 for v in r[1:]] for r in rows], dtype=torch.float32)
    return images, labels


def w6(args):
    train_n, epochs, batch = 1437, 30, 32
    images, labels = load_digits()
    xtr, ytr, xte, yte = images[:train_n], labels[:train_n], images[train_n:], labels[train_n:]
    steps_per_epoch = math.ceil(train_n / batch)
    times, acc = [], 0.0
    for _ in range(max(1, args.w6_runs)):
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
        nn.init.kaiming_normal_(model[0].weight, mode="fan_in", nonlinearity="relu")
        opt = adam(model, args)
        g = torch.Generator().manual_seed(0)
        start = time.perf_counter()
        for _ in range(epochs):
            order = torch.randperm(train_n, generator=g)
            # Wrap around: the last batch is completed from the start of this epoch's order.
            order = torch.cat([order, order[: steps_per_epoch * batch - train_n]])
            for b in range(steps_per_epoch):
                idx = order[b * batch:(b + 1) * batch]
                opt.zero_grad(set_to_none=True)
                loss = F.cross_entropy(model(xtr[idx]), ytr[idx])
                loss.backward()
                opt.step()
        times.append(time.perf_counter() - start)
        with torch.inference_mode():
            model.eval()
            acc = (model(xte).argmax(1) == yte).float().mean().item()
    times.sort()
    total = percentile(times, 0.5)
    json_row("W6", "digits", batch, "ms", [percentile(times, q) * 1e3 for q in (0.5, 0.1, 0.9)],
             len(times), 1, None)
    steps = epochs * steps_per_epoch
    print(
        f"{'W6':<8} {'digits':<14} {batch:>5} {total * 1e3:>11.2f}  ms total training time "
        f"(median of {len(times)} runs), {steps} steps = {total * 1e6 / steps:.2f} us/step; "
        f"test accuracy {100 * acc:.2f}%",
        flush=True,
    )


# Ids and names; the `parts` entries split a training step (not run by default).
WORKLOADS = {
    "W1": ("mlp_train", w1),
    "W2": ("mlp_infer", w2),
    "W3": ("tiny_infer", w3),
    "W4": ("cnn_train", w4),
    "W5": ("bn_mlp_train", w5),
    "W6": ("digits", w6),
    "W1parts": ("mlp_train_parts", lambda args: w1(args, split=True)),
    "W4parts": ("cnn_train_parts", lambda args: w4(args, split=True)),
    "W5parts": ("bn_mlp_train_parts", lambda args: w5(args, split=True)),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("workloads", nargs="*", help="ids or names (default: W1..W6)")
    parser.add_argument("--min-reps", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--w6-runs", type=int, default=5)
    parser.add_argument("--fused-adam", action="store_true")
    parser.add_argument("--json", metavar="PATH",
                        help="also append every row to PATH as a JSON line")
    args = parser.parse_args()
    if args.min_reps < 200:
        parser.error("--min-reps: BENCHMARKS.md asks for at least 200")
    selected = []
    for name in args.workloads:
        match = [k for k, (long, _) in WORKLOADS.items()
                 if name.lower() in (k.lower(), long.lower())]
        if not match:
            parser.error(f"unknown workload `{name}`; choose from {', '.join(WORKLOADS)}")
        selected.append(match[0])
    if not selected:
        selected = [k for k in WORKLOADS if not k.endswith("parts")]

    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    if args.json:
        JSON_SINK["file"] = open(args.json, "a")
        JSON_SINK["cpu"] = f"{cpu_model()}; PyTorch {torch.__version__}, CPU capability " \
            f"{torch.backends.cpu.get_cpu_capability()}"
    print(
        f"PyTorch {torch.__version__} reference workloads (BENCHMARKS.md), "
        f"{torch.get_num_threads()} thread; "
        f"CPU capability {torch.backends.cpu.get_cpu_capability()}, "
        f"mkldnn {torch.backends.mkldnn.is_available()}, Python {platform.python_version()}"
        + (", fused Adam" if args.fused_adam else "")
    )
    print(
        f"{'id':<8} {'workload':<14} {'batch':>5} {'median':>11} {'p10':>11} {'p90':>11}  "
        f"{'unit':<4} {'reps x inner':>12} {'GFLOP/s':>9}",
        flush=True,
    )
    for key in selected:
        WORKLOADS[key][1](args)


if __name__ == "__main__":
    main()
