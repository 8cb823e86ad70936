// Every mistake is reported in one compilation, and code using the network sees a stand-in
// type instead of a cascade of "cannot find type" errors.
monograd::network! {
    pub struct Net {
        input x: [64];
        a = linear(x, 128);
        b = linear(x, 32);
        s = add(a, b);
        t = relu(nowhere);
        out = linear(s, 10, bias = maybe);
        loss = softmax_cross_entropy(out);
    }
}

fn main() {
    let net = Net::new(1);
    let _ = net.predict(&[0.0f32; 64]);
}
