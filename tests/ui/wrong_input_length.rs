// Misusing a generated network is a rustc type error: a sample of 5 values for an input of 4.
monograd::network! {
    pub struct Net {
        input x: [4];
        out = linear(x, 2);
        loss = mse(out);
    }
}

fn main() {
    let net = Net::new(0);
    let _ = net.predict(&[0.0f32; 5]);
}
