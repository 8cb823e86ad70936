monograd::network! {
    pub struct Net {
        input x: [6, 4, 4];
        n = group_norm(x, 4);
        f = flatten(n);
        out = linear(f, 2);
        loss = softmax_cross_entropy(out);
    }
}

fn main() {}
