monograd::network! {
    pub struct Net {
        input a: [4];
        input b: [2];
        h = linear(a, 3);
        loss = mse(h);
    }
}

fn main() {}
