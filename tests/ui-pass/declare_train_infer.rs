// A complete program that must build (and so run the post-monomorphization checks of the
// compile-fail cases next to it with `cargo build`, not only `cargo check`) and run.
use monograd::prelude::*;

monograd::network! {
    /// A small network with a residual join and BatchNorm.
    pub struct Net {
        input x: [6];
        h = linear(x, 6);
        n = batch_norm(h);
        a = relu(n);
        r = add(a, x);
        out = linear(r, 2);
        loss = softmax_cross_entropy(out);
    }
}

fn main() {
    let mut net = Net::new(0);
    let mut tape = NetTape::<4>::new();
    let mut adam = Adam::new(AdamConfig::default()).unwrap();
    let x = [[0.5f32; 6], [-0.5; 6], [1.0; 6], [0.0; 6]];
    let loss = net.train_step(&mut tape, &x, &[0, 1, 0, 1], &mut adam).unwrap();
    assert!(loss.is_finite());
    let folded = net.fold();
    let _ = folded.predict(&x[0]);
}
