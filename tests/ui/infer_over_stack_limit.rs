// `infer` keeps every buffer on the stack; a batch whose buffers exceed the stated limit does
// not compile, and the message names the limit and the heap alternatives.
monograd::network! {
    pub struct Wide {
        input x: [1024];
        h = linear(x, 1024);
        a = relu(h);
        out = linear(a, 10);
        loss = softmax_cross_entropy(out);
    }
}

static PARAMS: [f32; Wide::PARAMS] = [0.0; Wide::PARAMS];

fn main() {
    let x = vec![[0.0f32; 1024]; 64];
    let x: &[[f32; 1024]; 64] = x.as_slice().try_into().unwrap();
    let mut out = [[0.0f32; 10]; 64];
    Wide::infer::<64>(&PARAMS, &[], x, &mut out);
}
