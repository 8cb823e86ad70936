monograd::network! {
    pub struct Net {
        out = linear(x, 2);
        loss = mse(out);
    }
}

fn main() {}
