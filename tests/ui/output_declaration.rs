// `output a, b;` names what inference returns: declared once, each a computed node, once.
monograd::network! {
    pub struct SameOutputTwice {
        input x: [4];
        h = linear(x, 2);
        loss = mse(h);
        output h, h;
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
