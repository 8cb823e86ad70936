// A node is a vector `[n]` or an image `[c, h, w]`: no other rank.
monograd::network! {
    pub struct Net {
        input x: [64];
        batched = reshape(x, [1, 1, 8, 8]);
        out = linear(batched, 2);
        loss = mse(out);
    }
}

fn main() {}
