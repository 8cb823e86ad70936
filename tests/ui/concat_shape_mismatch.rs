monograd::network! {
    pub struct Net {
        input x: [1, 8, 8];
        a = conv2d(x, 4, kernel = 3, padding = 1);
        b = conv2d(x, 4, kernel = 3);
        c = concat(a, b);
        f = flatten(c);
        out = linear(f, 10);
        loss = softmax_cross_entropy(out);
    }
}

fn main() {}
