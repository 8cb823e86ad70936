monograd::network! {
    pub struct Net {
        input x: [16];
        h = linear(x, 8, init = he_normall, bias = 1);
        a = gelu(h, approximate = exact);
        out = linear(a, 2);
        loss = softmax_cross_entropy(out);
    }
}

fn main() {}
