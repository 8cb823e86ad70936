monograd::network! {
    pub struct Net {
        input x: [16];
        h = linear(x, 8);
        forgotten = relu(h);
        out = linear(h, 2);
        loss = softmax_cross_entropy(out);
    }
}

fn main() {}
