// BatchNorm's batch statistics need more than one value per channel: training with a batch of
// one sample (on a vector) is a compile error (`cargo build`; `cargo check` does not evaluate
// the assertion), as PyTorch raises "Expected more than 1 value per channel when training".
// Evaluation mode (running statistics) works for any batch.
monograd::network! {
    pub struct Net {
        input x: [4];
        h = linear(x, 3);
        n = batch_norm(h);
        loss = mse(n);
    }
}

fn main() {
    let mut net = Net::new(0);
    let x = [[0.5f32; 4]; 1];
    let _ = net.forward(&x);
    let mut tape = NetTape::<1>::new();
    net.forward_train(&mut tape, &x);
}
