monograd::network! {
    pub struct Net {
        input x: [1, 32];
        c = conv1d(x, 4, kernel = 3, stride = 2, padding = causal);
        f = flatten(c);
        out = linear(f, 2);
        loss = mse(out);
    }
}

fn main() {}
