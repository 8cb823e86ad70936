monograd::network! {
    pub struct Net {
        input x: [64];
        hidden = linear(x, 32);
        act = relu(hiden);
        out = linear(act, 10);
        loss = softmax_cross_entropy(out);
    }
}

fn main() {}
