// A size or a number written as a string: the message says to write it without quotes.
monograd::network! {
    pub struct Net {
        input x: [16];
        h = linear(x, "8");
        a = leaky_relu(h, negative_slope = "0.2");
        out = linear(a, "two");
        loss = mse(out);
    }
}

fn main() {}
