monograd::network! {
    pub struct Net {
        input x: [64];
        h = linear(x, 32);
        h = relu(h);
        out = linear(h, 10);
        loss = softmax_cross_entropy(out);
    }
}

fn main() {}
