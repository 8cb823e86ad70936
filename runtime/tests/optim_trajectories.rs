//! Every optimizer against trajectories computed with torch.optim (reference/optim.py): 10
//! steps on a 7-element vector from fixed gradients, in f64 (to 1e-12 relative) and f32 (to
//! 1e-6 relative, against torch's own float32 run). Also the checkpoint layout, schedules driving
//! an optimizer, and gradient clipping against torch.nn.utils.

#[rustfmt::skip]
#[path = "optim_data/trajectories.rs"]
mod data;

use monograd_runtime::optim::schedule::{Constant, Warmup};
use monograd_runtime::optim::{
    clip_grad_norm, Adadelta, AdadeltaConfig, Adagrad, AdagradConfig, Adam, AdamConfig, AdamW,
    AdamWConfig, Optimizer, RmsProp, RmsPropConfig, Sgd, SgdConfig,
};
use monograd_runtime::{Buffer, Scalar};

/// `|a - b| / max(|a|, |b|, floor)`, for scalars (clipping).
fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / a.abs().max(b.abs()).max(1e-300)
}

/// Runs `opt` for 10 steps from `P0` on `GRADS` (converted to `T`), applying `lr_changes`
/// (step index, new lr) before the given steps, and returns the parameters after each step.
fn run<T: Scalar, O: Optimizer<T, 7>>(mut opt: O, lr_changes: &[(usize, f64)]) -> [[T; 7]; 10] {
    let mut w: [T; 7] = data::P0.map(T::from_f64);
    let mut out = [[T::zero(); 7]; 10];
    for (t, row) in out.iter_mut().enumerate() {
        if let Some(&(_, lr)) = lr_changes.iter().find(|(at, _)| *at == t) {
            opt.set_learning_rate(lr).unwrap();
        }
        opt.step(&mut w, &data::GRADS[t].map(T::from_f64)).unwrap();
        *row = w;
    }
    assert_eq!(opt.steps(), 10);
    out
}

/// Compares trajectories element by element. f64: `|ours - torch| <= tolerance * |torch|`.
/// f32: `|ours - torch| <= tolerance * scale_i`, with `scale_i` the largest magnitude element `i`
/// takes along the trajectory (from `P0` on): where an element cancels from O(1) to nearly zero
/// (e.g. 1.3 to 2e-4 under Nesterov momentum), f32 rounding of the O(1) operands, not the
/// update rule, limits how well the small result can agree. Such cancellations cost f64 a
/// factor ~1e3 too, but f64 stays well within its tolerance as a pure relative error.
fn check<T: Scalar>(what: &str, ours: &[[T; 7]; 10], torch: &[[T; 7]; 10], tolerance: f64) {
    for i in 0..7 {
        let scale = if T::BYTES == 8 {
            0.0
        } else {
            torch
                .iter()
                .map(|row| row[i].to_f64().abs())
                .fold(data::P0[i].abs(), f64::max)
        };
        for t in 0..10 {
            let (a, b) = (ours[t][i].to_f64(), torch[t][i].to_f64());
            let e = (a - b).abs() / b.abs().max(scale);
            assert!(
                e <= tolerance,
                "{what} ({}): step {} element {i}: ours {a:e} vs torch {b:e} (relative error \
                 {e:e} > {tolerance:e})",
                T::NAME,
                t + 1
            );
        }
    }
}

macro_rules! trajectory_test {
    ($test:ident, $data:ident, $optimizer:ident, $config:expr, [$(($at:expr, $lr:expr)),*]) => {
        #[test]
        fn $test() {
            let changes: &[(usize, f64)] = &[$(($at, $lr)),*];
            let ours = run($optimizer::<f64, 7>::new($config).unwrap(), changes);
            check(stringify!($data), &ours, &data::$data.f64, 1e-12);
            let ours = run($optimizer::<f32, 7>::new($config).unwrap(), changes);
            check(stringify!($data), &ours, &data::$data.f32, 1e-6);
        }
    };
}

const SGD: SgdConfig = SgdConfig {
    lr: 1e-3,
    momentum: 0.0,
    dampening: 0.0,
    weight_decay: 0.0,
    nesterov: false,
};

#[test]
fn configs_default_to_pytorch_defaults() {
    assert_eq!(SgdConfig::default(), SGD);
    assert_eq!(
        AdamConfig::default(),
        AdamConfig {
            lr: 1e-3,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 0.0,
            amsgrad: false,
            decoupled_weight_decay: false
        }
    );
    assert_eq!(AdamWConfig::default().weight_decay, 1e-2);
    let a = AdagradConfig::default();
    assert_eq!((a.lr, a.lr_decay, a.eps), (1e-2, 0.0, 1e-10));
    let r = RmsPropConfig::default();
    assert_eq!(
        (r.lr, r.alpha, r.eps, r.centered),
        (1e-2, 0.99, 1e-8, false)
    );
    let d = AdadeltaConfig::default();
    assert_eq!((d.lr, d.rho, d.eps), (1.0, 0.9, 1e-6));
}

trajectory_test!(sgd_default, SGD_DEFAULT, Sgd, SgdConfig::default(), []);
trajectory_test!(
    sgd_weight_decay,
    SGD_PLAIN,
    Sgd,
    SgdConfig {
        lr: 0.1,
        weight_decay: 0.05,
        ..SGD
    },
    []
);
trajectory_test!(
    sgd_momentum_with_lr_change,
    SGD_MOMENTUM,
    Sgd,
    SgdConfig {
        lr: 0.1,
        momentum: 0.9,
        ..SGD
    },
    [(5, 0.03)]
);
trajectory_test!(
    sgd_momentum_dampening_weight_decay,
    SGD_DAMPENING,
    Sgd,
    SgdConfig {
        lr: 0.05,
        momentum: 0.8,
        dampening: 0.3,
        weight_decay: 0.1,
        ..SGD
    },
    []
);
trajectory_test!(
    sgd_nesterov,
    SGD_NESTEROV,
    Sgd,
    SgdConfig {
        lr: 0.05,
        momentum: 0.9,
        nesterov: true,
        weight_decay: 0.02,
        ..SGD
    },
    []
);

trajectory_test!(adam_default, ADAM_DEFAULT, Adam, AdamConfig::default(), []);
trajectory_test!(
    adam_betas_eps_weight_decay_lr_change,
    ADAM_OPTIONS,
    Adam,
    AdamConfig {
        lr: 0.1,
        betas: (0.8, 0.95),
        eps: 1e-3,
        weight_decay: 0.1,
        ..AdamConfig::default()
    },
    [(5, 0.05)]
);
trajectory_test!(
    adam_amsgrad,
    ADAM_AMSGRAD,
    Adam,
    AdamConfig {
        lr: 0.05,
        amsgrad: true,
        weight_decay: 0.01,
        ..AdamConfig::default()
    },
    []
);
trajectory_test!(
    adamw_default,
    ADAMW_DEFAULT,
    AdamW,
    AdamWConfig::default(),
    []
);
trajectory_test!(
    adamw_amsgrad_lr_change,
    ADAMW_AMSGRAD,
    AdamW,
    AdamWConfig {
        lr: 0.1,
        betas: (0.5, 0.9),
        weight_decay: 0.2,
        amsgrad: true,
        ..AdamWConfig::default()
    },
    [(3, 0.02)]
);

trajectory_test!(
    adagrad_default,
    ADAGRAD_DEFAULT,
    Adagrad,
    AdagradConfig::default(),
    []
);
trajectory_test!(
    adagrad_lr_decay_initial_accumulator_weight_decay,
    ADAGRAD_OPTIONS,
    Adagrad,
    AdagradConfig {
        lr: 0.1,
        lr_decay: 0.05,
        weight_decay: 0.05,
        initial_accumulator_value: 0.1,
        eps: 1e-6,
    },
    [(4, 0.2)]
);

trajectory_test!(
    rmsprop_default,
    RMSPROP_DEFAULT,
    RmsProp,
    RmsPropConfig::default(),
    []
);
trajectory_test!(
    rmsprop_momentum_weight_decay,
    RMSPROP_MOMENTUM,
    RmsProp,
    RmsPropConfig {
        lr: 0.01,
        momentum: 0.9,
        weight_decay: 0.05,
        ..RmsPropConfig::default()
    },
    []
);
trajectory_test!(
    rmsprop_centered,
    RMSPROP_CENTERED,
    RmsProp,
    RmsPropConfig {
        lr: 0.01,
        alpha: 0.9,
        centered: true,
        eps: 1e-4,
        ..RmsPropConfig::default()
    },
    []
);
trajectory_test!(
    rmsprop_centered_momentum_weight_decay,
    RMSPROP_CENTERED_MOMENTUM,
    RmsProp,
    RmsPropConfig {
        lr: 0.005,
        alpha: 0.8,
        centered: true,
        momentum: 0.5,
        weight_decay: 0.1,
        ..RmsPropConfig::default()
    },
    [(6, 0.01)]
);

trajectory_test!(
    adadelta_default,
    ADADELTA_DEFAULT,
    Adadelta,
    AdadeltaConfig::default(),
    []
);
trajectory_test!(
    adadelta_options,
    ADADELTA_OPTIONS,
    Adadelta,
    AdadeltaConfig {
        lr: 0.5,
        rho: 0.8,
        eps: 1e-4,
        weight_decay: 0.1,
    },
    [(5, 2.0)]
);

/// Runs 4 steps, checkpoints through `save_state`, restores into a fresh optimizer and runs the
/// remaining 6: the result must equal the uninterrupted run bit for bit.
fn checkpoint_roundtrip<O: Optimizer<f64, 7>>(make: impl Fn() -> O, names: &[&str]) {
    let whole = run(make(), &[]);

    let mut first = make();
    assert_eq!(first.state_buffer_count(), names.len());
    for (i, name) in names.iter().enumerate() {
        assert_eq!(first.state_buffer(i).unwrap().0, *name);
    }
    assert!(first.state_buffer(names.len()).is_none());
    let mut w = data::P0;
    for g in &data::GRADS[..4] {
        first.step(&mut w, g).unwrap();
    }
    let mut saved = vec![0.0; names.len() * 7];
    first.save_state(&mut saved).unwrap();
    assert!(first.save_state(&mut [0.0; 3]).is_err());
    // The flat layout is the buffers in order.
    for (i, chunk) in saved.chunks(7).enumerate() {
        assert_eq!(chunk, first.state_buffer(i).unwrap().1);
    }

    let mut second = make();
    assert!(second.load_state(4, &vec![0.0; saved.len() + 1]).is_err());
    assert_eq!(second.steps(), 0, "a failed load changes nothing");
    second.load_state(first.steps(), &saved).unwrap();
    for (t, g) in data::GRADS.iter().enumerate().skip(4) {
        second.step(&mut w, g).unwrap();
        assert_eq!(w, whole[t], "step {} after restore", t + 1);
    }
}

#[test]
fn checkpoints_restore_exactly() {
    let sgd = || {
        Sgd::new(SgdConfig {
            lr: 0.05,
            momentum: 0.9,
            nesterov: true,
            ..SGD
        })
        .unwrap()
    };
    checkpoint_roundtrip(sgd, &["momentum_buffer"]);
    checkpoint_roundtrip(|| Sgd::new(SGD).unwrap(), &[]);
    let amsgrad = AdamConfig {
        amsgrad: true,
        ..AdamConfig::default()
    };
    checkpoint_roundtrip(
        || Adam::new(amsgrad).unwrap(),
        &["exp_avg", "exp_avg_sq", "max_exp_avg_sq"],
    );
    checkpoint_roundtrip(
        || AdamW::new(AdamWConfig::default()).unwrap(),
        &["exp_avg", "exp_avg_sq"],
    );
    let adagrad = AdagradConfig {
        lr_decay: 0.1,
        ..AdagradConfig::default()
    };
    checkpoint_roundtrip(|| Adagrad::new(adagrad).unwrap(), &["sum"]);
    let rms = RmsPropConfig {
        momentum: 0.5,
        centered: true,
        ..RmsPropConfig::default()
    };
    checkpoint_roundtrip(
        || RmsProp::new(rms).unwrap(),
        &["square_avg", "momentum_buffer", "grad_avg"],
    );
    checkpoint_roundtrip(
        || Adadelta::new(AdadeltaConfig::default()).unwrap(),
        &["square_avg", "acc_delta"],
    );
}

#[test]
fn step_scheduled_reads_the_optimizer_counter() {
    // Warm-up from 0: the first step uses lr 0 and leaves the weights alone.
    let schedule = Warmup::new(Constant::new(0.1).unwrap(), 2, 0.0).unwrap();
    let mut sgd = Sgd::<f64, 7>::new(SGD).unwrap();
    let mut w = data::P0;
    sgd.step_scheduled(&schedule, &mut w, &data::GRADS[0])
        .unwrap();
    assert_eq!(w, data::P0);
    sgd.step_scheduled(&schedule, &mut w, &data::GRADS[1])
        .unwrap();
    assert_eq!(sgd.learning_rate(), 0.05);
    assert_eq!(w[0], data::P0[0] - 0.05 * data::GRADS[1][0]);
    let bad = |_t: u64| -1.0;
    assert!(sgd.step_scheduled(&bad, &mut w, &data::GRADS[2]).is_err());
    assert_eq!(sgd.steps(), 2, "a rejected rate skips the step");
}

#[test]
fn large_state_never_touches_the_stack() {
    // 235k parameters: Adam's three f32 buffers are ~2.8 MB, more than a test thread's stack.
    const N: usize = 235_146;
    let mut adam = Adam::<f32, N>::new(AdamConfig {
        amsgrad: true,
        ..AdamConfig::default()
    })
    .unwrap();
    let mut w: Buffer<[f32; N]> = Buffer::zeroed();
    let mut g: Buffer<[f32; N]> = Buffer::zeroed();
    g.fill(1.0);
    adam.step(&mut w, &g).unwrap();
    assert!(w.iter().all(|&x| (x + 1e-3).abs() < 1e-6));
}

#[test]
fn clip_grad_norm_matches_torch() {
    for &(row, max_norm, norm_type, total64, clipped64, total32, clipped32) in &data::CLIP_GRAD_NORM
    {
        let what = format!("GRADS[{row}], max_norm {max_norm}, norm_type {norm_type}");
        let mut g = data::GRADS[row];
        let total = clip_grad_norm(&mut g, max_norm, norm_type).unwrap();
        assert!(rel(total, total64) < 1e-12, "{what}: {total} vs {total64}");
        for (a, b) in g.iter().zip(&clipped64) {
            assert!(rel(*a, *b) < 1e-12, "{what}: {a} vs {b}");
        }
        let mut g = data::GRADS[row].map(|x| x as f32);
        let total = clip_grad_norm(&mut g, max_norm, norm_type).unwrap();
        assert!(
            rel(total.into(), total32.into()) < 1e-6,
            "{what}: {total} vs {total32}"
        );
        for (a, b) in g.iter().zip(&clipped32) {
            assert!(rel((*a).into(), (*b).into()) < 1e-6, "{what}: {a} vs {b}");
        }
    }
}
