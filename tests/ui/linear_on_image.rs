monograd::network! {
    pub struct Net {
        input image: [1, 28, 28];
        out = linear(image, 10);
        loss = softmax_cross_entropy(out);
    }
}

fn main() {}
