// A choice, boolean or number option written as a string (as in Python): the message says to
// write it without quotes.
monograd::network! {
    pub struct Net {
        input x: [16];
        h = linear(x, 8, init = "he_normal", bias = "true");
        a = gelu(h, approximate = "tanh");
        n = batch_norm(a, eps = "1e-3");
        out = linear(n, 2, bias_init = "zero");
        loss = logistic_loss(out, labels = "signed");
    }
}

fn main() {}
