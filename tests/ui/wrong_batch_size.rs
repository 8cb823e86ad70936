// A tape is sized for one batch size: a batch of 4 does not fit a tape for 8.
monograd::network! {
    pub struct Net {
        input x: [4];
        out = linear(x, 2);
        loss = mse(out);
    }
}

fn main() {
    let mut net = Net::new(0);
    let mut tape = NetTape::<8>::new();
    let x = [[0.0f32; 4]; 4];
    net.forward_train(&mut tape, &x);
}
