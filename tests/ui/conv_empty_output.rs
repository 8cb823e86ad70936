monograd::network! {
    pub struct Net {
        input x: [1, 4, 4];
        c = conv2d(x, 8, kernel = 5);
        f = flatten(c);
        out = linear(f, 2);
        loss = softmax_cross_entropy(out);
    }
}

fn main() {}
