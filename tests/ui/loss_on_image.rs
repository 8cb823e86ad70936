monograd::network! {
    pub struct Net {
        input x: [1, 8, 8];
        maps = conv2d(x, 10, kernel = 8);
        loss = softmax_cross_entropy(maps);
    }
}

fn main() {}
