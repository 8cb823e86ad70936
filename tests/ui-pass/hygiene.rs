// Generated code must compile next to user items named like anything it uses internally: its
// const parameter `B`, type parameters, prelude names (`Result`, `Option`, `Ok`...), crate
// roots (`core`, `alloc`) and every local variable and function parameter name. Networks here
// use every operation family and call every generated method.
#![allow(non_camel_case_types, non_upper_case_globals, non_snake_case, dead_code)]

use monograd::prelude::*;

// Generic parameter names of the expansion, as types (unit structs are values too).
pub struct B;
pub struct T;
pub struct N;
pub struct P;
pub struct S;
pub struct O;
pub struct X;
pub struct Y;
// Prelude names.
pub type Result = ();
pub enum Option {}
pub struct Some;
pub struct Ok;
pub struct Err;
pub struct None;
pub struct Default;
pub struct Clone;
pub struct Self_;
// Crate roots: the expansion writes `::core::...`, which is the extern crate whatever modules
// the user declares.
pub mod core {}
pub mod alloc {}
pub mod std {}
pub mod monograd_runtime {}
// Local variable and parameter names of the expansion, as consts and unit structs: with
// call-site hygiene `let x = ...` would become a pattern matching the user's `x`.
pub const x: u8 = 0;
pub const params: u8 = 0;
pub const state: u8 = 0;
pub const tape: u8 = 0;
pub const out: u8 = 0;
pub const rest: u8 = 0;
pub const weight: u8 = 0;
pub const bias: u8 = 0;
pub const grad_weight: u8 = 0;
pub const grad_bias: u8 = 0;
pub const grad_g: u8 = 0;
pub const grad_v: u8 = 0;
pub struct net;
pub struct rng;
pub const loss: u8 = 0;
pub const targets: u8 = 0;
pub const optimizer: u8 = 0;
pub const renorm_limits: u8 = 0;
pub const seed: u8 = 0;
pub const batch: u8 = 0;
pub const f: u8 = 0;
pub const g: u8 = 0;
pub const v: u8 = 0;
pub const gamma: u8 = 0;
pub const beta: u8 = 0;
pub const mean: u8 = 0;
pub const var: u8 = 0;
pub const stats: u8 = 0;
pub struct folded;
pub const y: u8 = 0;
pub const dx: u8 = 0;
pub const dy: u8 = 0;
pub const store: u8 = 0;
pub const columns: u8 = 0;
pub const scratch: u8 = 0;
pub const a: u8 = 0;
pub const b: u8 = 0;
pub const h: u8 = 0;
pub const t: u8 = 0;
pub const upstream: u8 = 0;
pub const mask: u8 = 0;
pub const frozen_params: u8 = 0;
pub const input_grad: u8 = 0;
pub struct Dropout;
pub struct Rng;

monograd::network! {
    /// Dense layers, every activation, BatchNorm (folded), Batch Renorm, LayerNorm, add, concat.
    pub struct Mlp {
        input x: [6];
        h = linear(x, 6, init = he_normal);
        n = batch_norm(h);
        a = relu(n);
        r = add(a, x);
        w = linear(r, 5, weight_norm = true, bias_init = zeros);
        rn = batch_renorm(w, r_max = 2.0, d_max = 1.0);
        g1 = gelu(rn, approximate = tanh);
        g2 = gelu(rn);
        l = leaky_relu(g1, negative_slope = 0.2);
        c = concat(l, g2);
        ln = layer_norm(c);
        t1 = tanh(ln);
        s1 = sigmoid(t1);
        sm = softmax(s1);
        out = linear(sm, 3, bias = false);
        loss = softmax_cross_entropy(out);
    }
}

monograd::network! {
    /// Convolutions (with Weight Norm), pools, spatial norms, flatten.
    pub struct Cnn {
        type Element = f64;
        input x: [2, 6, 6];
        c1 = conv2d(x, 4, kernel = 3, padding = 1, init = kaiming_uniform);
        bn = batch_norm(c1);
        p1 = max_pool2d(bn, 2);
        c2 = conv2d(p1, 4, kernel = (2, 2), groups = 2, weight_norm = true);
        inn = instance_norm(c2, affine = true);
        gn = group_norm(inn, 2);
        p2 = avg_pool2d(gn, 2, padding = 1);
        gap = global_avg_pool(p2);
        fl = flatten(p2);
        both = concat(gap, fl);
        out = linear(both, 2);
        loss = mse(out);
    }
}

monograd::network! {
    /// The element-wise joins, reshape, dropout, 1-D layers, ceil mode and fine-tuning.
    pub struct Extended {
        input x: [2, 8];
        c = conv1d(x, 4, kernel = 3, padding = 1, frozen = true);
        bn = batch_norm(c, track = frozen);
        p = max_pool1d(bn, 2, ceil_mode = true);
        q = avg_pool1d(p, 3, stride = 2, ceil_mode = true);
        flat = reshape(q, [-1]);
        d = dropout(flat, p = 0.25);
        g = linear(d, 8);
        gate = sigmoid(g);
        m = mul(g, gate);
        s = sub(m, g);
        k = scale(s, 0.5);
        out = linear(k, 2);
        loss = softmax_cross_entropy(out);
    }
}

monograd::network! {
    /// Inference only: no loss, a declared output.
    pub struct Encoder {
        input x: [2, 8];
        c = conv1d(x, 4, kernel = 3);
        bn = batch_norm(c);
        flat = flatten(bn);
        out = linear(flat, 2);
        output out;
    }
}

/// A network named like the expansion's const parameter.
mod named_b {
    #[allow(unused_imports)]
    use super::*;

    monograd::network! {
        pub struct B {
            input x: [3];
            h = linear(x, 2);
            out = logistic_loss(h, labels = signed);
        }
    }

    monograd::network! {
        pub struct T {
            input x: [3];
            h = linear(x, 2);
            out = logistic_loss(h);
        }
    }
}

fn main() {
    // Mlp: every generated method.
    let mut mlp = Mlp::new(0);
    let mut mlp_tape = MlpTape::<4>::new();
    let mut adam = Adam::new(AdamConfig::default()).unwrap();
    let xs = [[0.5f32; 6], [-0.5; 6], [1.0; 6], [0.0; 6]];
    let labels: MlpTargets<4> = [0, 1, 2, 1];
    let first = mlp.train_step(&mut mlp_tape, &xs, &labels, &mut adam).unwrap();
    assert!(first.is_finite());
    mlp.renorm_limits.r_max = 2.5;
    mlp.forward_train(&mut mlp_tape, &xs);
    let l2 = mlp.backward(&mut mlp_tape, &xs, &labels).unwrap();
    assert!(l2.is_finite());
    let l3 = mlp.loss(&mut mlp_tape, &xs, &labels).unwrap();
    assert!(l3.is_finite());
    let y1 = *mlp.forward_with(&mut mlp_tape, &xs);
    let y2 = mlp.forward(&xs);
    let mut y3 = [[0.0f32; 3]; 4];
    Mlp::infer(&mlp.params, &mlp.state, &xs, &mut y3);
    assert_eq!(y1, y2);
    assert_eq!(y2, y3);
    let one = mlp.predict(&xs[0]);
    assert!((one[0] - y2[0][0]).abs() < 1e-5);
    let fold = mlp.fold();
    let fy = fold.forward(&xs);
    assert!((fy[0][0] - y2[0][0]).abs() < 1e-4);
    let _ = fold.predict(&xs[1]);
    let restored = Mlp::from_params(&mlp.params[..]).unwrap();
    let _ = (Mlp::zeroed(), restored, format!("{mlp:?}"));
    assert!(Mlp::tape_bytes(4) > 0 && Mlp::infer_bytes(4) > 0 && Mlp::PARAMS > 0);

    // Cnn (f64): training and inference.
    let mut cnn = Cnn::new(1);
    let mut cnn_tape = CnnTape::<2>::default();
    let mut sgd = Sgd::new(SgdConfig::default()).unwrap();
    let images = [[0.25f64; 72], [-0.75; 72]];
    let goals: CnnTargets<2> = [[1.0, 0.0], [0.0, 1.0]];
    let before = cnn.train_step(&mut cnn_tape, &images, &goals, &mut sgd).unwrap();
    assert!(before.is_finite());
    assert!(cnn.loss(&mut cnn_tape, &images, &goals).unwrap().is_finite());
    let _ = cnn.forward(&images);
    let _ = cnn.predict(&images[0]);

    // Extended: training with dropout and frozen layers, gradients for other uses, inference.
    let mut ext = Extended::new(4);
    let mut ext_tape = ExtendedTape::<2>::new();
    let mut adamw = AdamW::new(AdamWConfig::default()).unwrap();
    let seqs = [[0.5f32; 16], [-0.25; 16]];
    let classes: ExtendedTargets<2> = [1, 0];
    assert!(ext
        .train_step(&mut ext_tape, &seqs, &classes, &mut adamw)
        .unwrap()
        .is_finite());
    ext.forward_train(&mut ext_tape, &seqs).unwrap();
    ext.backward_from(&mut ext_tape, &seqs, &[[1.0, 0.0], [0.0, 1.0]]);
    let _ = ext.input_grad_from(&mut ext_tape, &seqs, &[[1.0, 0.0], [0.0, 1.0]]);
    assert!(ext
        .backward_with_input_grad(&mut ext_tape, &seqs, &classes)
        .unwrap()
        .is_finite());
    let saved_rng = ext.dropout_rng.state();
    ext.dropout_rng = monograd::runtime::Rng::from_state(saved_rng).unwrap();
    let mut ext_out = [[0.0f32; 2]; 2];
    Extended::infer(&ext.params, &ext.state, &seqs, &mut ext_out);
    assert_eq!(ext_out, ext.forward(&seqs));
    let _ = ext.fold().predict(&seqs[0]);

    // Encoder: inference only.
    let encoder = Encoder::new(5);
    let mut encoded = [[0.0f32; 2]; 2];
    Encoder::infer(&encoder.params, &encoder.state, &seqs, &mut encoded);
    assert_eq!(encoded, encoder.forward(&seqs));
    let _ = (encoder.predict(&seqs[0]), encoder.fold().forward(&seqs));
    let mut encoder_eval = EncoderEval::<2>::new();
    let _ = encoder.forward_eval(&mut encoder_eval, &seqs);

    // The network named `B` and its batch-size-generic tape.
    let mut small = named_b::B::new(2);
    let mut small_tape = named_b::BTape::<2>::new();
    let mut sgd2 = Sgd::new(SgdConfig::default()).unwrap();
    let signed: named_b::BTargets<2> = [[1.0, -1.0], [-1.0, 1.0]];
    let inputs = [[1.0f32, 2.0, 3.0], [0.0, -1.0, 0.5]];
    assert!(small
        .train_step(&mut small_tape, &inputs, &signed, &mut sgd2)
        .unwrap()
        .is_finite());
    let _ = small.predict(&inputs[0]);
    let mut other = named_b::T::new(3);
    let mut other_tape = named_b::TTape::<2>::new();
    let zero_one = [[1.0, 0.0], [0.0, 1.0]];
    let mut sgd3 = Sgd::new(SgdConfig::default()).unwrap();
    assert!(other
        .train_step(&mut other_tape, &inputs, &zero_one, &mut sgd3)
        .unwrap()
        .is_finite());
}
