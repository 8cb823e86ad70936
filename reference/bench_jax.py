"""The reference workloads W1..W5 of BENCHMARKS.md in JAX (`jax.jit` of the whole step, optax
optimizers), for a like-for-like comparison with `cargo bench --bench workloads`.

    taskset -c 1 python3 reference/bench_jax.py          # W1 W2 W3 W4 W5
    taskset -c 1 python3 reference/bench_jax.py W1 W5    # a selection

Same protocol and output as reference/bench_pytorch.py (its `measure` and `report`): warm-up of
at least 20 calls and 0.2 s, then at least 200 timed repetitions; median, 10th and 90th
percentiles. One compute thread (XLA's Eigen thread pool off, set below before JAX starts; run
under `taskset -c 1` as the other two). float32. A training step is one jitted function (forward,
softmax cross-entropy, gradient, optimizer update) whose parameters and optimizer state are
donated, so XLA updates them in place; each call waits for the loss (`block_until_ready`).
Weights: He-normal (fan_in) weights, zero biases (values do not change the time). W5's BatchNorm
is written out as PyTorch's (batch statistics with biased variance, running statistics with
momentum 0.1 and unbiased variance, kept as a non-trained state). W6 is not included.
Not run by CI.
"""
import os
import sys

os.environ.setdefault(
    "XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import optax  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_pytorch import dense_flops, measure, MLP_LAYERS  # noqa: E402
import bench_pytorch  # noqa: E402


class Args:
    seconds = 1.0
    min_reps = 200


def report(id_, name, batch, stats, ns=False, flops=0.0):
    bench_pytorch.report(id_, name, batch, stats, ns=ns, flops=flops)


def he(key, fan_out, fan_in):
    return jax.random.normal(key, (fan_out, fan_in), jnp.float32) * jnp.sqrt(2.0 / fan_in)


def dense_params(key, layers):
    keys = jax.random.split(key, len(layers))
    return [(he(k, m, n), jnp.zeros((m,), jnp.float32)) for k, (n, m) in zip(keys, layers)]


def mlp_forward(params, x):
    for i, (w, b) in enumerate(params):
        x = x @ w.T + b
        if i + 1 < len(params):
            x = jax.nn.relu(x)
    return x


def batch(key, size, shape):
    kx, ky = jax.random.split(key)
    return (jax.random.normal(kx, (size, *shape), jnp.float32),
            jax.random.randint(ky, (size,), 0, 10))


def cross_entropy(logits, y):
    return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()


def train_step(loss_fn, optimizer):
    """One jitted step over (params, state, opt_state): loss, gradient, update; params, the
    non-trained state and the optimizer state donated (updated in place)."""

    def step(params, state, opt_state, x, y):
        (loss, state), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, state, x, y)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), state, opt_state, loss

    return jax.jit(step, donate_argnums=(0, 1, 2))


def time_training(id_, name, size, loss_fn, optimizer, params, state, x, y, flops):
    step = train_step(loss_fn, optimizer)
    carry = [params, state, optimizer.init(params)]

    def call():
        carry[0], carry[1], carry[2], loss = step(carry[0], carry[1], carry[2], x, y)
        loss.block_until_ready()

    report(id_, name, size, measure(Args, call), flops=flops)


def w1():
    params = dense_params(jax.random.PRNGKey(1), MLP_LAYERS)
    x, y = batch(jax.random.PRNGKey(101), 64, (784,))

    def loss_fn(params, state, x, y):
        return cross_entropy(mlp_forward(params, x), y), state

    time_training("W1", "mlp_train", 64, loss_fn, optax.adam(1e-3), params, (), x, y,
                  3 * dense_flops(64, MLP_LAYERS))


def inference(id_, name, layers, activation, shape, seed, ns):
    params = dense_params(jax.random.PRNGKey(1), layers)
    x, _ = batch(jax.random.PRNGKey(seed), 1, shape)

    @jax.jit
    def forward(params, x):
        for i, (w, b) in enumerate(params):
            x = x @ w.T + b
            if i + 1 < len(params):
                x = activation(x)
        return x

    report(id_, name, 1, measure(Args, lambda: forward(params, x).block_until_ready()), ns=ns,
           flops=dense_flops(1, layers))


def w4():
    keys = jax.random.split(jax.random.PRNGKey(1), 3)
    params = {
        "c1": (he(keys[0], 8, 9).reshape(8, 1, 3, 3), jnp.zeros((8,), jnp.float32)),
        "c2": (he(keys[1], 16, 72).reshape(16, 8, 3, 3), jnp.zeros((16,), jnp.float32)),
        "fc": (he(keys[2], 10, 784), jnp.zeros((10,), jnp.float32)),
    }
    x, y = batch(jax.random.PRNGKey(104), 32, (1, 28, 28))

    def conv_relu_pool(x, w, b):
        x = jax.lax.conv_general_dilated(x, w, (1, 1), ((1, 1), (1, 1)),
                                         dimension_numbers=("NCHW", "OIHW", "NCHW"))
        x = jax.nn.relu(x + b[None, :, None, None])
        return jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")

    def loss_fn(params, state, x, y):
        h = conv_relu_pool(x, *params["c1"])
        h = conv_relu_pool(h, *params["c2"])
        w, b = params["fc"]
        return cross_entropy(h.reshape(h.shape[0], -1) @ w.T + b, y), state

    forward = 2.0 * 32 * (28 * 28 * 8 * 9 + 14 * 14 * 16 * 8 * 9 + 784 * 10)
    time_training("W4", "cnn_train", 32, loss_fn, optax.sgd(0.01, momentum=0.9), params, (),
                  x, y, 3 * forward)


def w5():
    dense = dense_params(jax.random.PRNGKey(1), MLP_LAYERS)
    params = {"dense": dense,
              "bn": [(jnp.ones((m,), jnp.float32), jnp.zeros((m,), jnp.float32))
                     for m in (256, 128)]}
    state = [(jnp.zeros((m,), jnp.float32), jnp.ones((m,), jnp.float32)) for m in (256, 128)]
    x, y = batch(jax.random.PRNGKey(105), 64, (784,))

    def loss_fn(params, state, x, y):
        new_state = []
        h = x
        for i, (w, b) in enumerate(params["dense"]):
            h = h @ w.T + b
            if i < 2:
                gamma, beta = params["bn"][i]
                mean = h.mean(axis=0)
                var = ((h - mean) ** 2).mean(axis=0)
                n = h.shape[0]
                running_mean, running_var = state[i]
                new_state.append((0.9 * running_mean + 0.1 * mean,
                                  0.9 * running_var + 0.1 * var * n / (n - 1)))
                h = jax.nn.relu((h - mean) / jnp.sqrt(var + 1e-5) * gamma + beta)
        return cross_entropy(h, y), [jax.lax.stop_gradient(s) for s in new_state]

    time_training("W5", "bn_mlp_train", 64, loss_fn, optax.sgd(0.01, momentum=0.9), params,
                  state, x, y, 3 * dense_flops(64, MLP_LAYERS))


WORKLOADS = {
    "W1": w1,
    "W2": lambda: inference("W2", "mlp_infer", MLP_LAYERS, jax.nn.relu, (784,), 102, False),
    "W3": lambda: inference("W3", "tiny_infer", [(2, 16), (16, 16), (16, 1)], jnp.tanh, (2,),
                            103, True),
    "W4": w4,
    "W5": w5,
}


def main():
    chosen = sys.argv[1:] or list(WORKLOADS)
    unknown = [w for w in chosen if w not in WORKLOADS]
    if unknown:
        sys.exit(f"unknown workload(s) {unknown}; known: {list(WORKLOADS)}")
    print(f"JAX {jax.__version__} reference workloads (BENCHMARKS.md), 1 thread; "
          f"{bench_pytorch.cpu_model()}; devices {jax.devices()}", flush=True)
    print(f"{'id':<8} {'workload':<14} {'batch':>5} {'median':>11} {'p10':>11} {'p90':>11}  "
          f"unit {'reps x inner':>12} {'GFLOP/s':>9}", flush=True)
    for workload in chosen:
        WORKLOADS[workload]()


if __name__ == "__main__":
    main()
