monograd::network! {
    pub struct Net {
        input x: [16];
        score = linear(x, 1);
        loss = softmax_cross_entropy(score);
    }
}

fn main() {}
