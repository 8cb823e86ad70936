//! Data-parallel training (`runtime::parallel::Parallel`) against the single-threaded step on
//! the same global batch: parameters, running statistics, batch counters and optimizer state
//! agree within reassociation error (1e-5 relative in f32, 1e-12 in f64) over several steps,
//! for dense networks and networks with BatchNorm (synchronised) and Batch Renorm; a failing
//! step changes nothing; per-worker BatchNorm statistics follow their documented semantics.
//! Networks of at least `SPLIT_WRITES_FROM` parameters have their optimizer writes split
//! across the workers: the same agreement, the same transaction.

use monograd::prelude::*;
use monograd::runtime::optim::Optimizer;
use monograd::runtime::parallel::{BatchNormStatistics, Parallel, SPLIT_WRITES_FROM};
use monograd::runtime::{Network, Rng, Scalar};

monograd::network! {
    struct Dense32 {
        input x: [6];
        h = linear(x, 16);
        a = tanh(h);
        logits = linear(a, 4);
        loss = softmax_cross_entropy(logits);
    }
}

monograd::network! {
    struct Dense64 {
        type Element = f64;
        input x: [6];
        h = linear(x, 16);
        a = tanh(h);
        logits = linear(a, 4);
        loss = softmax_cross_entropy(logits);
    }
}

// A bias right before BatchNorm has a zero gradient (the normalization removes it), so its
// computed gradient is rounding noise, which Adam scales up to full steps: the layers feeding a
// BatchNorm have none, as is usual.
monograd::network! {
    struct Norm32 {
        input x: [6];
        h = linear(x, 12, bias = false);
        n = batch_norm(h);
        a = relu(n);
        logits = linear(a, 4);
        loss = softmax_cross_entropy(logits);
    }
}

monograd::network! {
    /// BatchNorm on feature maps (S > 1), Batch Renorm, and BatchNorm without affine.
    struct Norm64 {
        type Element = f64;
        input x: [2, 4, 4];
        c = conv2d(x, 3, kernel = 3, padding = 1, bias = false);
        n = batch_norm(c);
        a = relu(n);
        f = flatten(a);
        h = linear(f, 10, bias = false);
        r = batch_renorm(h, r_max = 1.5, d_max = 0.5);
        g = tanh(r);
        k = batch_norm(g, affine = false);
        logits = linear(k, 4);
        loss = softmax_cross_entropy(logits);
    }
}

monograd::network! {
    /// More channels than one block of the kernels holds (64 on one thread, 256 when shared).
    struct Wide64 {
        type Element = f64;
        input x: [6];
        h = linear(x, 300, bias = false);
        n = batch_norm(h);
        a = relu(n);
        logits = linear(a, 4);
        loss = softmax_cross_entropy(logits);
    }
}

monograd::network! {
    /// Enough parameters (22,404) for the optimizer writes to be split across the workers.
    struct BigNorm64 {
        type Element = f64;
        input x: [64];
        h = linear(x, 320, bias = false);
        n = batch_norm(h);
        a = relu(n);
        logits = linear(a, 4);
        loss = softmax_cross_entropy(logits);
    }
}

monograd::network! {
    /// As [`BigNorm64`] in `f32`.
    struct BigNorm32 {
        input x: [64];
        h = linear(x, 320, bias = false);
        n = batch_norm(h);
        a = relu(n);
        logits = linear(a, 4);
        loss = softmax_cross_entropy(logits);
    }
}

monograd::network! {
    /// Split writes without BatchNorm: an infinite input reaches the gradient.
    struct BigDense32 {
        input x: [64];
        h = linear(x, 300);
        a = tanh(h);
        logits = linear(a, 4);
        loss = softmax_cross_entropy(logits);
    }
}

fn batch<T: Scalar, const N: usize, const B: usize>(seed: u64) -> ([[T; N]; B], [usize; B]) {
    let mut rng = Rng::new(seed);
    let mut x = [[T::zero(); N]; B];
    for v in x.as_flattened_mut() {
        *v = T::from_f64(1.5 * rng.normal::<f64>() + 0.25);
    }
    let mut labels = [0; B];
    for label in &mut labels {
        *label = rng.below(4);
    }
    (x, labels)
}

/// `|a - b| <= tol * max |b|` over the buffer (a relative error in the max norm, so that values
/// near zero in a buffer of larger ones do not fail on rounding).
fn assert_close<T: Scalar>(a: &[T], b: &[T], tol: f64, what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    let scale = b
        .iter()
        .fold(0.0f64, |m, v| m.max(Scalar::to_f64(*v).abs()))
        .max(1e-30);
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        let (x, y) = (Scalar::to_f64(*x), Scalar::to_f64(*y));
        assert!(
            (x - y).abs() <= tol * scale,
            "{what}[{i}]: {x} vs {y} (max |value| {scale})"
        );
    }
}

fn optimizers_close<T: Scalar, const P: usize>(
    a: &impl Optimizer<T, P>,
    b: &impl Optimizer<T, P>,
    tol: f64,
) {
    assert_eq!(a.steps(), b.steps());
    assert_eq!(a.state_buffer_count(), b.state_buffer_count());
    for i in 0..a.state_buffer_count() {
        let ((name, x), (_, y)) = (a.state_buffer(i).unwrap(), b.state_buffer(i).unwrap());
        assert_close(x, y, tol, name);
    }
}

/// `steps` steps of `net` on one thread and with `Parallel<Net, P, W, PB>` from the same start
/// and the same batches of `B = W * PB`; everything must agree within `tol`.
fn same_as_one_thread<
    Net,
    T,
    O,
    const P: usize,
    const N: usize,
    const W: usize,
    const PB: usize,
    const B: usize,
>(
    net: Net,
    optimizer: impl Fn() -> O,
    steps: u64,
    tol: f64,
) where
    Net: Network<P, Element = T, Input = [T; N], Target = usize> + Clone + Send + 'static,
    T: Scalar + Send + Sync,
    O: Optimizer<T, P>,
{
    let (mut single, mut parallel) = (net.clone(), net);
    let (mut single_opt, mut parallel_opt) = (optimizer(), optimizer());
    let mut tape = Net::new_tape::<B>();
    let mut trainer = Parallel::<Net, P, W, PB>::new().unwrap();
    for step in 0..steps {
        let (x, labels) = batch::<T, N, B>(100 + step);
        let expected = single
            .train_step(&mut tape, &x, &labels, &mut single_opt)
            .unwrap();
        let loss = trainer
            .train_step(&mut parallel, &x, &labels, &mut parallel_opt)
            .unwrap();
        assert_close(&[loss], &[expected], tol, "loss");
    }
    assert_close(parallel.params(), single.params(), tol, "parameters");
    assert_close(parallel.state(), single.state(), tol, "running statistics");
    assert_eq!(parallel.batch_counters_mut(), single.batch_counters_mut());
    optimizers_close(&parallel_opt, &single_opt, tol);
}

fn adam<T: Scalar, const P: usize>() -> Adam<T, P> {
    Adam::new(AdamConfig {
        lr: 1e-2,
        ..AdamConfig::default()
    })
    .unwrap()
}

/// [`adam`] with `eps = 1e-3`: see its use.
fn adam_damped<T: Scalar, const P: usize>() -> Adam<T, P> {
    Adam::new(AdamConfig {
        lr: 1e-2,
        eps: 1e-3,
        ..AdamConfig::default()
    })
    .unwrap()
}

fn momentum<T: Scalar, const P: usize>() -> Sgd<T, P> {
    Sgd::new(SgdConfig {
        lr: 0.05,
        momentum: 0.9,
        ..SgdConfig::default()
    })
    .unwrap()
}

#[test]
fn dense_network_matches_one_thread_in_f32_and_f64() {
    same_as_one_thread::<_, _, _, { Dense32::PARAMS }, 6, 2, 8, 16>(Dense32::new(1), adam, 5, 1e-5);
    same_as_one_thread::<_, _, _, { Dense32::PARAMS }, 6, 4, 4, 16>(
        Dense32::new(2),
        momentum,
        5,
        1e-5,
    );
    same_as_one_thread::<_, _, _, { Dense64::PARAMS }, 6, 2, 4, 8>(Dense64::new(3), adam, 5, 1e-12);
    same_as_one_thread::<_, _, _, { Dense64::PARAMS }, 6, 3, 5, 15>(
        Dense64::new(4),
        momentum,
        5,
        1e-12,
    );
}

#[test]
fn synchronised_batch_norm_matches_one_thread_in_f32_and_f64() {
    same_as_one_thread::<_, _, _, { Norm32::PARAMS }, 6, 2, 8, 16>(Norm32::new(5), adam, 5, 1e-5);
    same_as_one_thread::<_, _, _, { Norm32::PARAMS }, 6, 4, 4, 16>(
        Norm32::new(6),
        momentum,
        5,
        1e-5,
    );
    same_as_one_thread::<_, _, _, { Norm64::PARAMS }, 32, 2, 4, 8>(Norm64::new(7), adam, 5, 1e-12);
    same_as_one_thread::<_, _, _, { Norm64::PARAMS }, 32, 3, 3, 9>(
        Norm64::new(8),
        momentum,
        5,
        1e-12,
    );
    same_as_one_thread::<_, _, _, { Wide64::PARAMS }, 6, 2, 4, 8>(Wide64::new(13), adam, 3, 1e-12);
    same_as_one_thread::<_, _, _, { Wide64::PARAMS }, 6, 2, 4, 8>(
        Wide64::new(14),
        momentum,
        5,
        1e-12,
    );
}

#[test]
fn networks_with_split_optimizer_writes_match_one_thread_in_f32_and_f64() {
    const { assert!(BigNorm64::PARAMS >= SPLIT_WRITES_FROM && BigDense32::PARAMS >= SPLIT_WRITES_FROM) };
    // Adam in f32 only without BatchNorm: the gradient of the weights feeding a BatchNorm is a
    // difference of larger terms, whose rounding Adam's normalisation scales up to full steps.
    same_as_one_thread::<_, _, _, { BigNorm32::PARAMS }, 64, 2, 8, 16>(
        BigNorm32::new(21),
        momentum,
        4,
        1e-5,
    );
    same_as_one_thread::<_, _, _, { BigNorm32::PARAMS }, 64, 3, 4, 12>(
        BigNorm32::new(22),
        momentum,
        4,
        1e-5,
    );
    // Adam in f32 turns the rounding of a gradient summed in another order into up to a full
    // step where the gradient is near zero (`m / (sqrt(v) + eps)` is about `sign(g)` there):
    // with the default `eps = 1e-8`, starts 23..=30 differed from one thread by 9.1e-7 to
    // 9.6e-5. A larger `eps` bounds that amplification (by `lr / eps` per unit of gradient), so
    // agreement within 1e-5 holds whatever the start.
    for seed in 23..=26 {
        same_as_one_thread::<_, _, _, { BigDense32::PARAMS }, 64, 2, 4, 8>(
            BigDense32::new(seed),
            adam_damped,
            4,
            1e-5,
        );
    }
    same_as_one_thread::<_, _, _, { BigNorm64::PARAMS }, 64, 2, 4, 8>(
        BigNorm64::new(24),
        adam,
        4,
        1e-12,
    );
    same_as_one_thread::<_, _, _, { BigNorm64::PARAMS }, 64, 4, 2, 8>(
        BigNorm64::new(25),
        momentum,
        4,
        1e-12,
    );
}

/// Batch Renorm's limits, set on the network between steps (as a schedule does), reach every
/// worker.
#[test]
fn renorm_limits_set_between_steps_reach_every_worker() {
    use monograd::runtime::ops::norm::RenormLimits;
    let mut single = Norm64::new(16);
    let mut parallel = single.clone();
    let (mut single_opt, mut parallel_opt) = (momentum(), momentum());
    let mut tape = Norm64Tape::<8>::new();
    let mut trainer = Parallel::<Norm64, _, 2, 4>::new().unwrap();
    for step in 0..4u64 {
        let limits = RenormLimits::new(1.0 + 0.2 * step as f64, 0.1 * step as f64).unwrap();
        single.renorm_limits = limits;
        parallel.renorm_limits = limits;
        let (x, labels) = batch::<f64, 32, 8>(200 + step);
        let expected = single
            .train_step(&mut tape, &x, &labels, &mut single_opt)
            .unwrap();
        let loss = trainer
            .train_step(&mut parallel, &x, &labels, &mut parallel_opt)
            .unwrap();
        assert_close(&[loss], &[expected], 1e-12, "loss");
    }
    assert_close(parallel.params(), single.params(), 1e-12, "parameters");
    assert_close(
        parallel.state(),
        single.state(),
        1e-12,
        "running statistics",
    );
}

/// Everything a step could change, to compare before and after a failed one.
#[derive(Debug, PartialEq)]
struct Everything<T> {
    params: Vec<T>,
    state: Vec<T>,
    batch_counters: Vec<u64>,
    optimizer_state: Vec<T>,
    optimizer_steps: u64,
}

fn snapshot<Net: Network<P>, const P: usize>(
    net: &mut Net,
    optimizer: &impl Optimizer<Net::Element, P>,
) -> Everything<Net::Element> {
    let mut optimizer_state = Vec::new();
    for i in 0..optimizer.state_buffer_count() {
        optimizer_state.extend_from_slice(optimizer.state_buffer(i).unwrap().1);
    }
    Everything {
        params: net.params().to_vec(),
        state: net.state().to_vec(),
        batch_counters: net.batch_counters_mut().to_vec(),
        optimizer_state,
        optimizer_steps: optimizer.steps(),
    }
}

#[test]
fn a_failing_share_leaves_everything_unchanged_and_training_goes_on() {
    let mut net = Norm32::new(9);
    let mut reference = net.clone();
    let mut optimizer = adam::<f32, { Norm32::PARAMS }>();
    let mut reference_optimizer = adam::<f32, { Norm32::PARAMS }>();
    let mut trainer = Parallel::<Norm32, { Norm32::PARAMS }, 2, 8>::new().unwrap();
    let mut tape = Norm32Tape::<16>::new();
    let (x, labels) = batch::<f32, 6, 16>(1);
    trainer
        .train_step(&mut net, &x, &labels, &mut optimizer)
        .unwrap();
    reference
        .train_step(&mut tape, &x, &labels, &mut reference_optimizer)
        .unwrap();

    let before = snapshot(&mut net, &optimizer);
    // NaN in the second worker's share: BatchNorm's global statistics become NaN.
    let mut bad = x;
    bad[12][3] = f32::NAN;
    let error = trainer
        .train_step(&mut net, &bad, &labels, &mut optimizer)
        .unwrap_err();
    assert!(matches!(error, Error::NonFiniteValue { .. }), "{error}");
    assert_eq!(snapshot(&mut net, &optimizer), before);
    // Labels out of range in both shares: the first worker's error.
    let mut bad_labels = labels;
    bad_labels[2] = 5;
    bad_labels[9] = 4;
    let error = trainer
        .train_step(&mut net, &x, &bad_labels, &mut optimizer)
        .unwrap_err();
    assert!(
        matches!(error, Error::LabelOutOfRange { label: 5, .. }),
        "{error}"
    );
    assert_eq!(snapshot(&mut net, &optimizer), before);
    // Then in the second worker's share only: its error, not one left from the last step.
    bad_labels[2] = labels[2];
    bad_labels[9] = 6;
    let error = trainer
        .train_step(&mut net, &x, &bad_labels, &mut optimizer)
        .unwrap_err();
    assert!(
        matches!(error, Error::LabelOutOfRange { label: 6, .. }),
        "{error}"
    );
    assert_eq!(snapshot(&mut net, &optimizer), before);

    // The workers go on as if the failed steps had not happened.
    let (x, labels) = batch::<f32, 6, 16>(2);
    let loss = trainer
        .train_step(&mut net, &x, &labels, &mut optimizer)
        .unwrap();
    let expected = reference
        .train_step(&mut tape, &x, &labels, &mut reference_optimizer)
        .unwrap();
    assert_close(&[loss], &[expected], 1e-5, "loss");
    assert_close(net.params(), reference.params(), 1e-5, "parameters");
    assert_close(net.state(), reference.state(), 1e-5, "running statistics");
    assert_eq!(net.num_batches_tracked, reference.num_batches_tracked);
}

#[test]
fn a_nan_in_a_dense_network_share_is_refused_by_the_optimizer_check() {
    let mut net = Dense32::new(10);
    let mut optimizer = momentum::<f32, { Dense32::PARAMS }>();
    let mut trainer = Parallel::<Dense32, _, 2, 4>::new().unwrap();
    let (x, labels) = batch::<f32, 6, 8>(3);
    trainer
        .train_step(&mut net, &x, &labels, &mut optimizer)
        .unwrap();
    let before = snapshot(&mut net, &optimizer);
    let mut bad = x;
    bad[6][0] = f32::INFINITY;
    assert!(trainer
        .train_step(&mut net, &bad, &labels, &mut optimizer)
        .is_err());
    assert_eq!(snapshot(&mut net, &optimizer), before);
    trainer
        .train_step(&mut net, &x, &labels, &mut optimizer)
        .unwrap();
}

/// The same with 3000 parameters, whose gradient is summed and scanned in chunks, one per
/// worker, and a bad sample in the last worker's share.
#[test]
fn a_bad_share_of_a_wide_network_changes_nothing() {
    let mut net = Wide64::new(11);
    let mut optimizer = momentum::<f64, { Wide64::PARAMS }>();
    let mut trainer = Parallel::<Wide64, _, 3, 2>::new().unwrap();
    let (x, labels) = batch::<f64, 6, 6>(4);
    trainer
        .train_step(&mut net, &x, &labels, &mut optimizer)
        .unwrap();
    let before = snapshot(&mut net, &optimizer);
    for value in [f64::INFINITY, f64::NAN] {
        let mut bad = x;
        bad[5][2] = value;
        assert!(trainer
            .train_step(&mut net, &bad, &labels, &mut optimizer)
            .is_err());
        assert_eq!(snapshot(&mut net, &optimizer), before);
    }
    trainer
        .train_step(&mut net, &x, &labels, &mut optimizer)
        .unwrap();
}

/// With per-worker statistics a NaN in worker 1's share fails only worker 1's forward pass
/// (its running statistics): worker 0's succeeded and must be taken back too.
#[test]
fn a_failing_share_with_per_worker_statistics_changes_nothing() {
    let mut net = Norm32::new(15);
    let mut optimizer = momentum::<f32, { Norm32::PARAMS }>();
    let mut trainer = Parallel::<Norm32, _, 2, 8>::new()
        .unwrap()
        .with_batch_norm(BatchNormStatistics::PerWorker);
    let (x, labels) = batch::<f32, 6, 16>(5);
    trainer
        .train_step(&mut net, &x, &labels, &mut optimizer)
        .unwrap();
    let before = snapshot(&mut net, &optimizer);
    let mut bad = x;
    bad[15][5] = f32::NAN;
    let error = trainer
        .train_step(&mut net, &bad, &labels, &mut optimizer)
        .unwrap_err();
    assert!(matches!(error, Error::NonFiniteValue { .. }), "{error}");
    assert_eq!(snapshot(&mut net, &optimizer), before);
    trainer
        .train_step(&mut net, &x, &labels, &mut optimizer)
        .unwrap();
    assert_eq!(net.num_batches_tracked, [2]);
}

/// With per-worker statistics, each worker's BatchNorm is that of its own share: the step is
/// the mean of the shares' gradients, each computed on one thread with the share alone, and
/// the running statistics are worker 0's.
#[test]
fn per_worker_batch_norm_uses_each_share_alone() {
    const PB: usize = 4;
    let start = Norm64::new(11);
    let mut net = start.clone();
    let mut optimizer = momentum::<f64, { Norm64::PARAMS }>();
    let mut trainer = Parallel::<Norm64, { Norm64::PARAMS }, 2, PB>::new()
        .unwrap()
        .with_batch_norm(BatchNormStatistics::PerWorker);
    assert_eq!(trainer.batch_norm(), BatchNormStatistics::PerWorker);
    let (x, labels) = batch::<f64, 32, 8>(4);
    let loss = trainer
        .train_step(&mut net, &x, &labels, &mut optimizer)
        .unwrap();

    let mut expected = start.clone();
    let mut grads = vec![0.0; Norm64::PARAMS];
    let mut expected_loss = 0.0;
    for w in (0..2).rev() {
        let mut share = start.clone();
        let mut tape = Norm64Tape::<PB>::new();
        let xs: &[[f64; 32]; PB] = &x.as_chunks::<PB>().0[w];
        let ls: &[usize; PB] = &labels.as_chunks::<PB>().0[w];
        share.forward_train(&mut tape, xs).unwrap();
        expected_loss += share.backward(&mut tape, xs, ls).unwrap() / 2.0;
        for (g, v) in grads.iter_mut().zip(tape.param_grads.iter()) {
            *g += v / 2.0;
        }
        if w == 0 {
            expected.state.copy_from_slice(&share.state[..]);
        }
    }
    let mut expected_optimizer = momentum::<f64, { Norm64::PARAMS }>();
    let grads: &[f64; Norm64::PARAMS] = grads.as_slice().try_into().unwrap();
    expected_optimizer
        .step(&mut expected.params, grads)
        .unwrap();
    assert_close(&[loss], &[expected_loss], 1e-12, "loss");
    assert_close(&net.params[..], &expected.params[..], 1e-12, "parameters");
    assert_close(
        &net.state[..],
        &expected.state[..],
        1e-12,
        "running statistics",
    );
}

#[test]
fn mini_batches_train_an_epoch_through_the_trainer() {
    let (inputs, labels): (Vec<[f32; 6]>, Vec<usize>) = (0..40)
        .map(|i| {
            let (x, l) = batch::<f32, 6, 1>(1000 + i);
            (x[0], l[0])
        })
        .unzip();
    let mut net = Norm32::new(12);
    let mut reference = net.clone();
    let mut optimizer = adam::<f32, { Norm32::PARAMS }>();
    let mut reference_optimizer = adam::<f32, { Norm32::PARAMS }>();
    let mut trainer = Parallel::<Norm32, { Norm32::PARAMS }, 2, 4>::new().unwrap();
    let mut batches = MiniBatches::<[f32; 6], usize, 8>::new(&inputs, &labels, 5).unwrap();
    let mut reference_batches =
        MiniBatches::<[f32; 6], usize, 8>::new(&inputs, &labels, 5).unwrap();
    let mut tape = Norm32Tape::<8>::new();
    for _ in 0..2 {
        let report = batches
            .train_epoch_with(&inputs, &labels, |x, y| {
                trainer.train_step(&mut net, x, y, &mut optimizer)
            })
            .unwrap();
        let expected = reference_batches
            .train_epoch(
                &mut reference,
                &mut tape,
                &mut reference_optimizer,
                &inputs,
                &labels,
            )
            .unwrap();
        assert_eq!(report.steps, expected.steps);
        assert!((report.mean_loss - expected.mean_loss).abs() <= 1e-5 * expected.mean_loss);
    }
    assert_close(net.params(), reference.params(), 1e-5, "parameters");
}

/// With split optimizer writes: a bad share refused by the workers' agreement (BatchNorm) or by
/// the optimizer's check (an infinite gradient, before any chunk is written) changes nothing,
/// and the workers waiting for the writes go on to the next step.
#[test]
fn a_bad_share_with_split_optimizer_writes_changes_nothing() {
    let mut net = BigNorm64::new(26);
    let mut optimizer = adam::<f64, { BigNorm64::PARAMS }>();
    let mut trainer = Parallel::<BigNorm64, _, 2, 4>::new().unwrap();
    let (x, labels) = batch::<f64, 64, 8>(6);
    trainer
        .train_step(&mut net, &x, &labels, &mut optimizer)
        .unwrap();
    let before = snapshot(&mut net, &optimizer);
    for value in [f64::INFINITY, f64::NAN] {
        let mut bad = x;
        bad[5][2] = value;
        assert!(trainer
            .train_step(&mut net, &bad, &labels, &mut optimizer)
            .is_err());
        assert_eq!(snapshot(&mut net, &optimizer), before);
    }
    trainer
        .train_step(&mut net, &x, &labels, &mut optimizer)
        .unwrap();

    let mut net = BigDense32::new(27);
    let mut optimizer = momentum::<f32, { BigDense32::PARAMS }>();
    let mut trainer = Parallel::<BigDense32, _, 3, 2>::new().unwrap();
    let (x, labels) = batch::<f32, 64, 6>(7);
    trainer
        .train_step(&mut net, &x, &labels, &mut optimizer)
        .unwrap();
    let before = snapshot(&mut net, &optimizer);
    let mut bad = x;
    bad[4][0] = f32::INFINITY;
    assert!(trainer
        .train_step(&mut net, &bad, &labels, &mut optimizer)
        .is_err());
    assert_eq!(snapshot(&mut net, &optimizer), before);
    for _ in 0..3 {
        trainer
            .train_step(&mut net, &x, &labels, &mut optimizer)
            .unwrap();
    }
}

/// SGD whose split writes panic in one chunk (on whichever thread takes it).
struct PanicsInChunk(Sgd<f32, { BigDense32::PARAMS }>);

impl Optimizer<f32, { BigDense32::PARAMS }> for PanicsInChunk {
    fn step(
        &mut self,
        params: &mut [f32; BigDense32::PARAMS],
        grads: &[f32; BigDense32::PARAMS],
    ) -> monograd::runtime::Result<()> {
        self.0.step(params, grads)
    }
    fn step_split(
        &mut self,
        _: &mut [f32; BigDense32::PARAMS],
        _: &[f32; BigDense32::PARAMS],
        _: &monograd::runtime::optim::GradientScan,
        workers: &dyn monograd::runtime::optim::Workers,
    ) -> monograd::runtime::Result<()> {
        workers.run(&|k| assert!(k != 1, "chunk 1 fails"));
        Ok(())
    }
    fn learning_rate(&self) -> f64 {
        self.0.learning_rate()
    }
    fn set_learning_rate(&mut self, lr: f64) -> monograd::runtime::Result<()> {
        self.0.set_learning_rate(lr)
    }
    fn steps(&self) -> u64 {
        self.0.steps()
    }
    fn set_steps(&mut self, steps: u64) {
        self.0.set_steps(steps);
    }
    fn state_buffer_count(&self) -> usize {
        self.0.state_buffer_count()
    }
    fn state_buffer(&self, index: usize) -> Option<(&'static str, &[f32; BigDense32::PARAMS])> {
        self.0.state_buffer(index)
    }
    fn state_buffer_mut(
        &mut self,
        index: usize,
    ) -> Option<(&'static str, &mut [f32; BigDense32::PARAMS])> {
        self.0.state_buffer_mut(index)
    }
}

/// A panic in a chunk of the split writes reaches the caller (after every other chunk has
/// returned) instead of hanging, whichever thread ran the chunk, and the trainer goes on.
#[test]
fn a_panic_in_a_chunk_of_the_split_writes_reaches_the_caller() {
    let mut net = BigDense32::new(28);
    let mut trainer = Parallel::<BigDense32, _, 2, 4>::new().unwrap();
    let (x, labels) = batch::<f32, 64, 8>(8);
    let mut panicking = PanicsInChunk(momentum());
    for _ in 0..3 {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            trainer.train_step(&mut net, &x, &labels, &mut panicking)
        }));
        assert!(outcome.is_err());
    }
    let mut optimizer = momentum::<f32, { BigDense32::PARAMS }>();
    for _ in 0..3 {
        trainer
            .train_step(&mut net, &x, &labels, &mut optimizer)
            .unwrap();
    }
}
