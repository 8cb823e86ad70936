monograd::network! {
    pub struct Net {
        input x: [0];
        h = linear(x, 0);
        out = linear(h, 2);
        loss = softmax_cross_entropy(out);
    }
}

fn main() {}
