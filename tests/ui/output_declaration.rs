// `output name;` declares the output of a network without a loss: one output, a computed node.
monograd::network! {
    pub struct WithLoss {
        input x: [4];
        h = linear(x, 2);
        loss = mse(h);
        output h;
    }
}

monograd::network! {
    pub struct Twice {
        input x: [4];
        h = linear(x, 2);
        output h;
        output h;
    }
}

monograd::network! {
    pub struct OfTheInput {
        input x: [4];
        h = linear(x, 2);
        output x;
    }
}

monograd::network! {
    pub struct Unknown {
        input x: [4];
        h = linear(x, 2);
        output logits;
    }
}

monograd::network! {
    pub struct AfterTheOutput {
        input x: [4];
        h = linear(x, 2);
        probabilities = softmax(h);
        output h;
    }
}

fn main() {}
