// Class labels are `usize`, one per sample; one-hot vectors are not accepted.
use monograd::prelude::*;

monograd::network! {
    pub struct Net {
        input x: [4];
        logits = linear(x, 3);
        loss = softmax_cross_entropy(logits);
    }
}

fn main() {
    let mut net = Net::new(0);
    let mut tape = NetTape::<2>::new();
    let mut sgd = Sgd::new(SgdConfig::default()).unwrap();
    let x = [[0.0f32; 4]; 2];
    let one_hot = [[1.0f32, 0.0, 0.0], [0.0, 1.0, 0.0]];
    let _ = net.train_step(&mut tape, &x, &one_hot, &mut sgd);
}
