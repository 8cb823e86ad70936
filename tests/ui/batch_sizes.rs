monograd::network! {
    struct Net {
        input x: [4];
        h = linear(x, 2);
        loss = mse(h);
        batch 0, 32, 32;
        batch 8;
    }
}

monograd::network! {
    struct Features {
        input x: [4];
        h = linear(x, 2);
        output h;
        batch 32;
    }
}

fn main() {}
