monograd::network! {
    pub struct Net {
        input x: [4];
        h = linear(x);
        out = linear(h, 1, 2);
        loss = mse(out);
    }
}

fn main() {}
