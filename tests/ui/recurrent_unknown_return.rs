monograd::network! {
    pub struct Net {
        input x: [10, 2];
        h = gru(x, 4, return = every);
        out = linear(h, 2);
        loss = mse(out);
    }
}

fn main() {}
