// An auxiliary loss takes the network's targets: the same loss on as many values, and only
// auxiliary losses take a weight.
monograd::network! {
    pub struct OtherLoss {
        input x: [4];
        h = linear(x, 3);
        aux_loss = mse(h, weight = 0.5);
        logits = linear(h, 3);
        loss = softmax_cross_entropy(logits);
    }
}

monograd::network! {
    pub struct OtherSize {
        input x: [4];
        h = linear(x, 5);
        aux_loss = softmax_cross_entropy(h, weight = 0.5);
        logits = linear(h, 3);
        loss = softmax_cross_entropy(logits);
    }
}

monograd::network! {
    pub struct WeighedMain {
        input x: [4];
        h = linear(x, 3);
        aux_loss = softmax_cross_entropy(h, weight = 0.5);
        logits = linear(h, 3);
        loss = softmax_cross_entropy(logits, weight = 2.0);
    }
}

monograd::network! {
    pub struct ZeroWeight {
        input x: [4];
        h = linear(x, 3);
        aux_loss = softmax_cross_entropy(h, weight = 0);
        logits = linear(h, 3);
        loss = softmax_cross_entropy(logits);
    }
}

fn main() {}
