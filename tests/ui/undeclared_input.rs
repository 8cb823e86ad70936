monograd::network! {
    pub struct Net {
        input a: [4];
        input b: [2];
        joined = concat(a, c);
        h = linear(joined, 3);
        loss = mse(h);
    }
}

fn main() {}
