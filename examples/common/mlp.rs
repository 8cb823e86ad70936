//! The network of the `digits` example, shared by every program that trains or compares against
//! it (the `cnn_digits` and `optimizers` examples, benchmark W6).

monograd::network! {
    /// Classifies 8x8 images of handwritten digits: 64 pixels -> 128 ReLU units -> 10 scores.
    pub struct DigitsNet {
        input pixels: [64];
        hidden = linear(pixels, 128, init = he_normal);
        act = relu(hidden);
        logits = linear(act, 10);
        loss = softmax_cross_entropy(logits);
    }
}
