monograd::network! {
    pub struct Net {
        input x: [3, 8, 8];
        c = conv2d(x, 8, kernel = 3, padding = 1, groups = 2);
        f = flatten(c);
        out = linear(f, 2);
        loss = softmax_cross_entropy(out);
    }
}

fn main() {}
