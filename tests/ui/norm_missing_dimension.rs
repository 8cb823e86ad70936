monograd::network! {
    pub struct Net {
        input x: [16];
        h = linear(x, 8);
        n = instance_norm(h);
        out = linear(n, 2);
        loss = softmax_cross_entropy(out);
    }
}

fn main() {}
