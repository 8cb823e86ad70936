monograd::network! {
    pub struct Net {
        type Element = f16;
        input x: [4];
        out = linear(x, 1);
        loss = mse(out);
    }
}

fn main() {}
