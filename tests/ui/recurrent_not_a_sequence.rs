monograd::network! {
    pub struct Net {
        input x: [16];
        h = gru(x, 8, return = last);
        out = linear(h, 2);
        loss = mse(out);
    }
}

fn main() {}
