// `frozen = true` goes on a layer with parameters; `track` is `update` or `frozen`.
monograd::network! {
    pub struct Net {
        input x: [8];
        h = linear(x, 8, frozen = 1);
        a = relu(h, frozen = true);
        n = batch_norm(a, affine = false, frozen = true);
        m = batch_norm(n, track = fixed);
        out = linear(m, 2);
        loss = mse(out);
    }
}

fn main() {}
