// Sizes are integers: a float, even a whole one, gets a message with the integer to write.
monograd::network! {
    pub struct Net {
        input x: [1, 8, 8];
        c = conv2d(x, 4.0, kernel = 3.0, stride = 1.5);
        p = max_pool2d(c, 2.0);
        f = flatten(p);
        out = linear(f, 2);
        loss = mse(out);
    }
}

fn main() {}
