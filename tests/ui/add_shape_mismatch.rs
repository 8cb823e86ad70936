monograd::network! {
    pub struct Net {
        input x: [64];
        a = linear(x, 128);
        b = linear(x, 64);
        s = add(a, b);
        out = linear(s, 10);
        loss = softmax_cross_entropy(out);
    }
}

fn main() {}
