monograd::network! {
    pub struct Net {
        input x: [2, 8, 8];
        p = avg_pool2d(x, 2, padding = 2);
        f = flatten(p);
        out = linear(f, 2);
        loss = softmax_cross_entropy(out);
    }
}

fn main() {}
