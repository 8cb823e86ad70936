// A node referred to by a string: the message says to write its name without quotes.
monograd::network! {
    pub struct Net {
        input x: [16];
        h = linear("x", 8);
        out = linear(h, 2);
        loss = mse(out);
    }
}

fn main() {}
