//! Training checkpoints: resuming gives bit-identical parameters to never having stopped, and
//! saves are atomic.

use monograd::prelude::*;
use monograd::runtime::io::Progress;
use monograd::runtime::optim::schedule::StepDecay;

monograd::network! {
    /// A small classifier with a BatchNorm, so running statistics and `num_batches_tracked` are
    /// part of what must resume exactly.
    pub struct Resumable {
        input x: [6];
        h = linear(x, 8);
        b = batch_norm(h);
        a = relu(b);
        logits = linear(a, 3);
        loss = softmax_cross_entropy(logits);
    }
}

const P: usize = Resumable::PARAMS;
const B: usize = 4;

fn dataset() -> (Vec<[f32; 6]>, Vec<usize>) {
    let mut rng = Rng::new(77);
    let inputs: Vec<[f32; 6]> = (0..22)
        .map(|_| core::array::from_fn(|_| rng.normal()))
        .collect();
    let labels = inputs
        .iter()
        .map(|x| usize::from(x[0] > 0.0) + usize::from(x[1] > 0.5))
        .collect();
    (inputs, labels)
}

/// Epochs `from..to` of training, with a per-epoch learning-rate schedule.
fn train<O: Optimizer<f32, P>>(
    net: &mut Resumable,
    optimizer: &mut O,
    batches: &mut MiniBatches<[f32; 6], usize, B>,
    epochs: core::ops::Range<u64>,
    base_lr: f64,
) -> Progress {
    let (inputs, labels) = dataset();
    let schedule = StepDecay::new(base_lr, 2, 0.5).unwrap();
    let mut tape = ResumableTape::<B>::new();
    let mut step = 0;
    for epoch in epochs.clone() {
        optimizer.set_learning_rate(schedule.lr(epoch)).unwrap();
        step += batches
            .train_epoch(net, &mut tape, optimizer, &inputs, &labels)
            .unwrap()
            .steps as u64;
    }
    Progress {
        epoch: epochs.end,
        step,
    }
}

/// Trains 4 epochs straight, and 2 + checkpoint + 2 in fresh objects; compares bit for bit.
fn resume_matches<O: Optimizer<f32, P> + Describe>(make: impl Fn() -> O, base_lr: f64) {
    let (inputs, labels) = dataset();
    let mut straight = Resumable::new(1);
    let mut opt = make();
    let mut batches = MiniBatches::new(&inputs, &labels, 3).unwrap();
    train(&mut straight, &mut opt, &mut batches, 0..4, base_lr);

    let mut first = Resumable::new(1);
    let mut opt1 = make();
    let mut batches1 = MiniBatches::new(&inputs, &labels, 3).unwrap();
    let progress = train(&mut first, &mut opt1, &mut batches1, 0..2, base_lr);
    let dir = std::env::temp_dir().join(format!("monograd-ckpt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{}.safetensors", opt1.kind()));
    first
        .save_checkpoint(&path, &opt1, progress, Some(&batches1))
        .unwrap();
    drop((first, opt1, batches1));

    // Fresh objects with other seeds: everything must come from the file.
    let mut resumed = Resumable::new(99);
    let mut opt2 = make();
    let mut batches2 = MiniBatches::new(&inputs, &labels, 12345).unwrap();
    let restored = resumed
        .load_checkpoint(&path, &mut opt2, Some(&mut batches2))
        .unwrap();
    assert_eq!(restored, progress);
    train(
        &mut resumed,
        &mut opt2,
        &mut batches2,
        restored.epoch..4,
        base_lr,
    );

    let kind = opt2.kind();
    assert_eq!(
        resumed.params[..],
        straight.params[..],
        "{kind}: parameters"
    );
    assert_eq!(
        resumed.state[..],
        straight.state[..],
        "{kind}: running statistics"
    );
    assert_eq!(resumed.num_batches_tracked, straight.num_batches_tracked);
    assert_eq!(straight.num_batches_tracked, [4 * 6]);
    assert_eq!(opt2.steps(), opt.steps());
    for i in 0..opt.state_buffer_count() {
        assert_eq!(
            opt2.state_buffer(i),
            opt.state_buffer(i),
            "{kind}: buffer {i}"
        );
    }
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn resuming_adam_is_bit_identical() {
    resume_matches(|| Adam::<f32, P>::new(AdamConfig::default()).unwrap(), 1e-2);
}

#[test]
fn resuming_sgd_with_momentum_is_bit_identical() {
    resume_matches(
        || {
            Sgd::<f32, P>::new(SgdConfig {
                lr: 0.1,
                momentum: 0.9,
                nesterov: true,
                ..Default::default()
            })
            .unwrap()
        },
        0.1,
    );
}

#[test]
fn resuming_adadelta_is_bit_identical() {
    resume_matches(
        || Adadelta::<f32, P>::new(AdadeltaConfig::default()).unwrap(),
        1.0,
    );
}

#[test]
fn a_checkpoint_of_another_configuration_is_refused_and_changes_nothing() {
    let net = Resumable::new(1);
    let adam = Adam::<f32, P>::new(AdamConfig::default()).unwrap();
    let bytes = net
        .checkpoint_to_safetensors(&adam, Progress::default(), None)
        .unwrap();
    let mut other = Resumable::new(2);
    let before = other.params.clone();
    let mut amsgrad = Adam::<f32, P>::new(AdamConfig {
        weight_decay: 0.01,
        ..Default::default()
    })
    .unwrap();
    let e = other
        .checkpoint_from_safetensors(&bytes, &mut amsgrad, None)
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("__metadata__.optimizer.weight_decay"),
        "{e}"
    );
    assert_eq!(other.params[..], before[..]);
}

#[test]
fn a_failed_save_keeps_the_previous_checkpoint() {
    let dir = std::env::temp_dir().join(format!("monograd-atomic-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("run.safetensors");
    let net = Resumable::new(1);
    let sgd = Sgd::<f32, P>::new(SgdConfig::default()).unwrap();
    net.save_checkpoint(&path, &sgd, Progress::default(), None)
        .unwrap();
    let previous = std::fs::read(&path).unwrap();

    // A save whose rename cannot happen (the target's directory is a file): an error naming
    // the file, no temporary file left behind.
    let blocked = dir.join("not-a-dir");
    std::fs::write(&blocked, b"x").unwrap();
    let e = net
        .save_checkpoint(
            blocked.join("run.safetensors"),
            &sgd,
            Progress::default(),
            None,
        )
        .unwrap_err();
    assert!(e.to_string().contains("not-a-dir"), "{e}");

    // A read-only directory. Root ignores permissions, so this part only runs when the
    // permission is effective (the writer-fails-halfway case is runtime::io's unit test).
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o555)).unwrap();
    let probe = std::fs::File::create(dir.join("probe"));
    if probe.is_err() {
        let later = Resumable::new(2);
        let e = later
            .save_checkpoint(&path, &sgd, Progress { epoch: 1, step: 1 }, None)
            .unwrap_err();
        assert!(e.to_string().contains("run.safetensors"), "{e}");
    } else {
        eprintln!("read-only directory not enforced (running as root): skipped that case");
        std::fs::remove_file(dir.join("probe")).unwrap();
    }
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), previous);
    let names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 2, "no temporary files: {names:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}
