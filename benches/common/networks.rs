//! The networks of the reference workloads W1..W5 of `BENCHMARKS.md`, declared once for the
//! benchmark (`benches/workloads.rs`) and the test that checks they train
//! (`tests/benchmark_networks.rs`).

monograd::network! {
    /// W1 / W2: 784 -> 256 -> ReLU -> 128 -> ReLU -> 10, softmax cross-entropy.
    pub struct Mlp {
        input x: [784];
        h1 = linear(x, 256, init = he_normal);
        a1 = relu(h1);
        h2 = linear(a1, 128, init = he_normal);
        a2 = relu(h2);
        logits = linear(a2, 10, init = he_normal);
        loss = softmax_cross_entropy(logits);
    }
}

monograd::network! {
    /// W3: 2 -> 16 -> tanh -> 16 -> tanh -> 1 (the loss is only there to end the declaration).
    pub struct Tiny {
        input x: [2];
        h1 = linear(x, 16, init = he_normal);
        a1 = tanh(h1);
        h2 = linear(a1, 16, init = he_normal);
        a2 = tanh(h2);
        out = linear(a2, 1, init = he_normal);
        loss = mse(out);
    }
}

monograd::network! {
    /// W4: 1x28x28 -> conv3x3(8, pad 1) -> ReLU -> maxpool2 -> conv3x3(16, pad 1) -> ReLU
    /// -> maxpool2 -> flatten(784) -> linear(10), softmax cross-entropy.
    pub struct Cnn {
        input x: [1, 28, 28];
        c1 = conv2d(x, 8, kernel = 3, padding = 1, init = he_normal);
        r1 = relu(c1);
        p1 = max_pool2d(r1, 2);
        c2 = conv2d(p1, 16, kernel = 3, padding = 1, init = he_normal);
        r2 = relu(c2);
        p2 = max_pool2d(r2, 2);
        f = flatten(p2);
        logits = linear(f, 10, init = he_normal);
        loss = softmax_cross_entropy(logits);
    }
}

monograd::network! {
    /// W5: 784 -> 256 -> BatchNorm -> ReLU -> 128 -> BatchNorm -> ReLU -> 10, softmax CE.
    pub struct BnMlp {
        input x: [784];
        h1 = linear(x, 256, init = he_normal);
        n1 = batch_norm(h1);
        a1 = relu(n1);
        h2 = linear(a1, 128, init = he_normal);
        n2 = batch_norm(h2);
        a2 = relu(n2);
        logits = linear(a2, 10, init = he_normal);
        loss = softmax_cross_entropy(logits);
    }
}
