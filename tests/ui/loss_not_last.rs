monograd::network! {
    pub struct Net {
        input x: [4];
        out = linear(x, 3);
        loss = softmax_cross_entropy(out);
        more = relu(loss);
    }
}

fn main() {}
