// `p` is the probability of dropping an element: in [0, 1), as in PyTorch (minus p = 1).
monograd::network! {
    pub struct Net {
        input x: [8];
        all = dropout(x, p = 1.0);
        negative = dropout(x, p = -0.1);
        positional = dropout(x, 0.5);
        a = add(all, negative);
        b = add(a, positional);
        out = linear(b, 2);
        loss = mse(out);
    }
}

fn main() {}
