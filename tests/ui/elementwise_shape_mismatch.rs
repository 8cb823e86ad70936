// `mul` and `sub` are element-wise, like `add`: no broadcasting, the shapes must be equal.
monograd::network! {
    pub struct Net {
        input x: [8];
        a = linear(x, 4);
        b = linear(x, 3);
        gated = mul(a, b);
        diff = sub(b, a);
        out = concat(gated, diff);
        loss = mse(out);
    }
}

fn main() {}
