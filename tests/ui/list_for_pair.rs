// A pair written as a list (as in Python): the message shows the pair in parentheses.
monograd::network! {
    pub struct Net {
        input x: [1, 8, 8];
        c = conv2d(x, 4, kernel = [3, 3], stride = [1, 1, 1]);
        p = avg_pool2d(c, [2, 2]);
        f = flatten(p);
        out = linear(f, 2);
        loss = mse(out);
    }
}

fn main() {}
