monograd::network! {
    pub struct Net {
        input x: [10, 2];
        h = lstm(x, 0, return = last);
        out = linear(h, 2);
        loss = mse(out);
    }
}

fn main() {}
