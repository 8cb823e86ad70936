monograd::network! {
    pub struct Net {
        input a: [4];
        h = linear(a, 3);
        input b: [3];
        s = add(h, b);
        loss = mse(s);
    }
}

fn main() {}
