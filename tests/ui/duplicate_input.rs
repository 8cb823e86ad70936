monograd::network! {
    pub struct Net {
        input a: [4];
        input a: [2];
        h = linear(a, 3);
        loss = mse(h);
    }
}

fn main() {}
