// Sizes cannot be negative: the message names the value and what to write instead.
monograd::network! {
    pub struct Net {
        input x: [1, 8, 8];
        c = conv2d(x, -4, kernel = 3, padding = -1);
        f = flatten(c);
        out = linear(f, -2);
        loss = mse(out);
    }
}

fn main() {}
