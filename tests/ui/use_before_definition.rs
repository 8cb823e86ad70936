monograd::network! {
    pub struct Net {
        input x: [16];
        a = relu(h);
        h = linear(x, 8);
        out = linear(a, 2);
        loss = softmax_cross_entropy(out);
    }
}

fn main() {}
