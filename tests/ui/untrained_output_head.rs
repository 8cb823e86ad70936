// An output head with parameters that does not lead to the loss would never be trained.
monograd::network! {
    pub struct Net {
        input x: [4];
        h = linear(x, 8);
        logits = linear(h, 3);
        aux = linear(h, 2);
        loss = softmax_cross_entropy(logits);
        output logits, aux;
    }
}

fn main() {}
