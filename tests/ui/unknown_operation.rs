monograd::network! {
    pub struct Net {
        input x: [16];
        h = lineer(x, 8);
        out = linear(h, 2);
        loss = softmax_cross_entropy(out);
    }
}

fn main() {}
