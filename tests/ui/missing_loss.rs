monograd::network! {
    pub struct Net {
        input x: [16];
        out = linear(x, 2);
    }
}

fn main() {}
