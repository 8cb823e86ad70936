monograd::network! {
    pub struct Net {
        input x: [16];
        a = add(x, c);
        b = relu(a);
        c = tanh(b);
        out = linear(c, 2);
        loss = softmax_cross_entropy(out);
    }
}

fn main() {}
