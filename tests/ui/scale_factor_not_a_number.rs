// `scale(x, k)` multiplies by a constant: a node, a string or a missing factor is an error.
monograd::network! {
    pub struct Net {
        input x: [8];
        a = linear(x, 4);
        b = linear(x, 4);
        s1 = scale(a, b);
        s2 = scale(a, "0.5");
        s3 = scale(b);
        j = add(s1, s2);
        out = add(j, s3);
        loss = mse(out);
    }
}

fn main() {}
