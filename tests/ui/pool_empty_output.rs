monograd::network! {
    pub struct Net {
        input x: [2, 3, 3];
        p = max_pool2d(x, 4);
        f = flatten(p);
        out = linear(f, 2);
        loss = softmax_cross_entropy(out);
    }
}

fn main() {}
