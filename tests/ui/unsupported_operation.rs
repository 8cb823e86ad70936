// Operations users of PyTorch expect but the language does not have (yet), or has under
// another name: each gets a message saying so and what to write instead.
monograd::network! {
    pub struct Net {
        input x: [1, 8, 8];
        r = unflatten(x, [1, 64]);
        v = view(x, [64]);
        d = dropout2d(x, p = 0.5);
        c = conv3d(x, 4, kernel = 3);
        b = BatchNorm2d(x);
        l = Linear(x, 10);
        m = div(x, x);
        p = multiply(x, x);
        s = rnn(x, 16);
        e = silu(x);
        out = dense(x, 2);
        loss = cross_entropy(out);
    }
}

fn main() {}
