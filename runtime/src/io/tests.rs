extern crate std;

use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;

use super::*;
use crate::optim::{Adam, AdamConfig, Optimizer, Sgd, SgdConfig};

/// A toy layout: a dense layer `fc` (weight [2, 3], bias [2]) and a weight-normed `wn`
/// (g [2, 1], v [2, 2]); state: `bn` running stats [2] each; one counter.
const PARAMS: &[TensorInfo] = &[
    TensorInfo {
        name: "fc.weight",
        offset: 0,
        shape: &[2, 3],
    },
    TensorInfo {
        name: "fc.bias",
        offset: 6,
        shape: &[2],
    },
    TensorInfo {
        name: "wn.parametrizations.weight.original0",
        offset: 8,
        shape: &[2, 1],
    },
    TensorInfo {
        name: "wn.parametrizations.weight.original1",
        offset: 10,
        shape: &[2, 2],
    },
];
const P: usize = 14;
const STATE: &[TensorInfo] = &[
    TensorInfo {
        name: "bn.running_mean",
        offset: 0,
        shape: &[2],
    },
    TensorInfo {
        name: "bn.running_var",
        offset: 2,
        shape: &[2],
    },
];
const COUNTERS: &[&str] = &["bn.num_batches_tracked"];

#[derive(Clone, Debug, PartialEq)]
struct Toy<T> {
    params: Vec<T>,
    state: Vec<T>,
    counters: [u64; 1],
}

impl<T: Scalar> Persistent for Toy<T> {
    type Element = T;
    const PARAM_TENSORS: &'static [TensorInfo] = PARAMS;
    const STATE_TENSORS: &'static [TensorInfo] = STATE;
    const COUNTER_NAMES: &'static [&'static str] = COUNTERS;
    fn zeroed_network() -> Self {
        Toy {
            params: vec![T::from_f64(0.0); P],
            state: vec![T::from_f64(0.0); 4],
            counters: [0],
        }
    }
    fn persistent_parts(&self) -> (&[T], &[T], &[u64]) {
        (&self.params, &self.state, &self.counters)
    }
    fn persistent_parts_mut(&mut self) -> (&mut [T], &mut [T], &mut [u64]) {
        (&mut self.params, &mut self.state, &mut self.counters)
    }
}

fn toy<T: Scalar>(seed: u64) -> Toy<T> {
    let mut rng = crate::Rng::new(seed);
    Toy {
        params: (0..P).map(|_| rng.normal()).collect(),
        state: (0..4).map(|_| rng.uniform(0.5, 2.0)).collect(),
        counters: [seed + 7],
    }
}

/// A tensor to write in a test file, in any dtype.
struct Raw {
    dtype: safetensors::Dtype,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

impl safetensors::View for &Raw {
    fn dtype(&self) -> safetensors::Dtype {
        self.dtype
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.bytes)
    }
    fn data_len(&self) -> usize {
        self.bytes.len()
    }
}

/// Re-encodes every tensor of `bytes` with `edit(name, dtype, shape, bytes)` (None drops it),
/// keeping the `__metadata__`.
fn rewrite(
    bytes: &[u8],
    mut edit: impl FnMut(&str, &safetensors::tensor::TensorView<'_>) -> Option<(String, Raw)>,
) -> Vec<u8> {
    let st = safetensors::SafeTensors::deserialize(bytes).unwrap();
    let raws: Vec<(String, Raw)> = st.iter().filter_map(|(n, v)| edit(n, &v)).collect();
    let (_, header) = safetensors::SafeTensors::read_metadata(bytes).unwrap();
    let metadata = header.metadata().clone();
    safetensors::serialize(raws.iter().map(|(n, r)| (n.as_str(), r)), metadata).unwrap()
}

fn same(name: &str, v: &safetensors::tensor::TensorView<'_>) -> Option<(String, Raw)> {
    Some((
        name.to_string(),
        Raw {
            dtype: v.dtype(),
            shape: v.shape().to_vec(),
            bytes: v.data().to_vec(),
        },
    ))
}

fn weights_error(e: crate::Error) -> WeightsError {
    match e {
        crate::Error::Weights(w) => *w,
        other => panic!("expected a weights error, got {other:?}"),
    }
}

#[test]
fn round_trip_is_bit_exact_in_f32_and_f64() {
    let a = toy::<f32>(1);
    let bytes = network_to_safetensors(&a).unwrap();
    let b: Toy<f32> = network_from_safetensors(&bytes).unwrap();
    assert_eq!(a, b);
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    assert_eq!(st.len(), 7);
    let counter = st.tensor("bn.num_batches_tracked").unwrap();
    assert_eq!(counter.dtype(), safetensors::Dtype::I64);
    assert_eq!(counter.shape(), &[] as &[usize]);
    assert_eq!(counter.data(), &8i64.to_le_bytes());
    assert_eq!(st.tensor("fc.weight").unwrap().shape(), &[2, 3]);

    let a = toy::<f64>(2);
    let b: Toy<f64> = network_from_safetensors(&network_to_safetensors(&a).unwrap()).unwrap();
    assert_eq!(a, b);
}

#[test]
fn f64_f16_and_bf16_files_convert_with_round_to_nearest() {
    let source = toy::<f64>(3);
    let bytes = network_to_safetensors(&source).unwrap();
    // f64 -> f32 network.
    let b: Toy<f32> = network_from_safetensors(&bytes).unwrap();
    for (x, y) in source.params.iter().zip(&b.params) {
        assert_eq!(*x as f32, *y);
    }
    // f16 and bf16 files into f32 and f64 networks.
    for (dtype, encode) in [
        (
            safetensors::Dtype::F16,
            (|x: f64| half::f16::from_f64(x).to_le_bytes()) as fn(f64) -> [u8; 2],
        ),
        (safetensors::Dtype::BF16, |x: f64| {
            half::bf16::from_f64(x).to_le_bytes()
        }),
    ] {
        let file = rewrite(&bytes, |name, v| {
            if v.dtype() != safetensors::Dtype::F64 {
                return same(name, v);
            }
            let values = v
                .data()
                .chunks_exact(8)
                .flat_map(|c| encode(f64::from_le_bytes(c.try_into().unwrap())));
            Some((
                name.to_string(),
                Raw {
                    dtype,
                    shape: v.shape().to_vec(),
                    bytes: values.collect(),
                },
            ))
        });
        let f32_net: Toy<f32> = network_from_safetensors(&file).unwrap();
        let f64_net: Toy<f64> = network_from_safetensors(&file).unwrap();
        for ((x, y), z) in source
            .params
            .iter()
            .zip(&f32_net.params)
            .zip(&f64_net.params)
        {
            let rounded = if dtype == safetensors::Dtype::F16 {
                half::f16::from_f64(*x).to_f64()
            } else {
                half::bf16::from_f64(*x).to_f64()
            };
            assert_eq!(*z, rounded);
            assert_eq!(*y, rounded as f32);
        }
    }
}

#[test]
fn strict_loading_names_missing_and_unexpected_tensors_and_non_strict_reports_them() {
    let bytes = network_to_safetensors(&toy::<f32>(4)).unwrap();
    let dropped = rewrite(&bytes, |name, v| {
        if name == "fc.bias" {
            None
        } else {
            same(name, v)
        }
    });
    let mut net = toy::<f32>(5);
    let before = net.clone();
    let e = weights_error(
        network_load_safetensors(&mut net, &dropped, LoadOptions::default()).unwrap_err(),
    );
    assert_eq!(e.kind, WeightsErrorKind::Missing);
    assert_eq!(
        e.to_string(),
        "tensor `fc.bias`: missing from the file: expected every tensor of the network (strict \
         loading), found 1 missing: fc.bias"
    );
    assert_eq!(net, before);

    let report = network_load_safetensors(&mut net, &dropped, LoadOptions::non_strict()).unwrap();
    assert_eq!(report.missing, ["fc.bias"]);
    assert!(report.unexpected.is_empty());
    assert_eq!(report.loaded, 6);
    assert_eq!(
        &net.params[6..8],
        &before.params[6..8],
        "missing tensors are left alone"
    );
    assert_eq!(&net.params[..6], &toy::<f32>(4).params[..6]);

    let extra = rewrite(&bytes, |name, v| {
        if name == "fc.bias" {
            let (_, raw) = same(name, v)?;
            Some(("head.bias".to_string(), raw))
        } else {
            same(name, v)
        }
    });
    let e = weights_error(
        network_load_safetensors(&mut net, &extra, LoadOptions::default()).unwrap_err(),
    );
    assert_eq!(e.kind, WeightsErrorKind::Missing);
    let report = network_load_safetensors(&mut net, &extra, LoadOptions::non_strict()).unwrap();
    assert_eq!(report.unexpected, ["head.bias"]);
    assert_eq!(report.missing, ["fc.bias"]);
}

#[test]
fn legacy_weight_norm_names_load_and_both_spellings_at_once_are_a_duplicate() {
    assert_eq!(
        canonical_name("wn.weight_g"),
        "wn.parametrizations.weight.original0"
    );
    assert_eq!(
        canonical_name("a.b.weight_v"),
        "a.b.parametrizations.weight.original1"
    );
    assert_eq!(canonical_name("wn.myweight_g"), "wn.myweight_g");
    let source = toy::<f32>(6);
    let bytes = network_to_safetensors(&source).unwrap();
    let legacy = rewrite(&bytes, |name, v| {
        let (_, raw) = same(name, v)?;
        let name = name
            .replace("parametrizations.weight.original0", "weight_g")
            .replace("parametrizations.weight.original1", "weight_v");
        Some((name, raw))
    });
    assert!(safetensors::SafeTensors::deserialize(&legacy)
        .unwrap()
        .tensor("wn.weight_g")
        .is_ok());
    let net: Toy<f32> = network_from_safetensors(&legacy).unwrap();
    assert_eq!(net, source);

    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut raws: Vec<(String, Raw)> = st.iter().filter_map(|(n, v)| same(n, &v)).collect();
    let (_, g) = same(
        "x",
        &st.tensor("wn.parametrizations.weight.original0").unwrap(),
    )
    .unwrap();
    raws.push(("wn.weight_g".to_string(), g));
    let file = safetensors::serialize(raws.iter().map(|(n, r)| (n.as_str(), r)), None).unwrap();
    let e = weights_error(network_from_safetensors::<Toy<f32>>(&file).unwrap_err());
    assert_eq!(e.kind, WeightsErrorKind::Duplicate);
    assert!(e.to_string().contains("wn.weight_g"), "{e}");
}

#[test]
fn dtype_shape_and_non_finite_errors_name_the_tensor_and_change_nothing() {
    let bytes = network_to_safetensors(&toy::<f32>(7)).unwrap();
    let mut net = toy::<f32>(8);
    let before = net.clone();
    let retype = |target: &'static str, dtype, shape: Vec<usize>, data: Vec<u8>| {
        rewrite(&bytes, move |name, v| {
            if name == target {
                Some((
                    name.to_string(),
                    Raw {
                        dtype,
                        shape: shape.clone(),
                        bytes: data.clone(),
                    },
                ))
            } else {
                same(name, v)
            }
        })
    };
    let cases = [
        (
            retype("fc.bias", safetensors::Dtype::I32, vec![2], vec![0; 8]),
            WeightsErrorKind::Dtype,
            "tensor `fc.bias`: unsupported dtype: expected F32, F64, F16 or BF16 (converted to \
             f32), found I32",
        ),
        (
            retype(
                "fc.weight",
                safetensors::Dtype::F32,
                vec![3, 2],
                vec![0; 24],
            ),
            WeightsErrorKind::Shape,
            "tensor `fc.weight`: wrong shape: expected [2, 3], found [3, 2]",
        ),
        (
            retype(
                "bn.running_var",
                safetensors::Dtype::F32,
                vec![2],
                [1.0f32, f32::NAN]
                    .iter()
                    .flat_map(|x| x.to_le_bytes())
                    .collect(),
            ),
            WeightsErrorKind::NonFinite,
            "tensor `bn.running_var`: value is not finite: expected finite f32 values, found \
             NaN at flat index 1",
        ),
        (
            retype(
                "fc.bias",
                safetensors::Dtype::F64,
                vec![2],
                [1.0f64, 1e300]
                    .iter()
                    .flat_map(|x| x.to_le_bytes())
                    .collect(),
            ),
            WeightsErrorKind::NonFinite,
            "tensor `fc.bias`: value is not finite: expected finite f32 values, found 1e300 at \
             flat index 1",
        ),
        (
            retype(
                "bn.num_batches_tracked",
                safetensors::Dtype::I64,
                vec![],
                (-1i64).to_le_bytes().to_vec(),
            ),
            WeightsErrorKind::Counter,
            "tensor `bn.num_batches_tracked`: invalid counter: expected a count >= 0, found -1",
        ),
        (
            retype(
                "bn.num_batches_tracked",
                safetensors::Dtype::F32,
                vec![],
                vec![0; 4],
            ),
            WeightsErrorKind::Dtype,
            "tensor `bn.num_batches_tracked`: unsupported dtype: expected I64, found F32",
        ),
    ];
    for (file, kind, message) in cases {
        let e = weights_error(
            network_load_safetensors(&mut net, &file, LoadOptions::default()).unwrap_err(),
        );
        assert_eq!(e.kind, kind);
        assert_eq!(e.to_string(), message);
        assert_eq!(net, before, "{message}");
    }
    // Non-finite values load when allowed.
    let nan = retype(
        "bn.running_var",
        safetensors::Dtype::F32,
        vec![2],
        [1.0f32, f32::NAN]
            .iter()
            .flat_map(|x| x.to_le_bytes())
            .collect(),
    );
    let options = LoadOptions {
        allow_non_finite: true,
        ..LoadOptions::default()
    };
    network_load_safetensors(&mut net, &nan, options).unwrap();
    assert!(net.state[3].is_nan());
}

/// A file written by hand: header JSON and data.
fn handmade(header: &str, data: &[u8]) -> Vec<u8> {
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out
}

#[test]
fn hostile_files_are_errors_that_say_what_is_wrong() {
    let bytes = network_to_safetensors(&toy::<f32>(9)).unwrap();
    let mut net = toy::<f32>(10);
    let before = net.clone();
    let mut load = |file: &[u8]| {
        let e = network_load_safetensors(&mut net, file, LoadOptions::default()).unwrap_err();
        weights_error(e)
    };
    // Truncated anywhere.
    for cut in [0, 4, 8, 20, bytes.len() / 2, bytes.len() - 1] {
        let e = load(&bytes[..cut]);
        assert!(
            matches!(
                e.kind,
                WeightsErrorKind::Format | WeightsErrorKind::ByteLength
            ),
            "{e}"
        );
    }
    // A header length past the end, and a huge one.
    let mut lying = bytes.clone();
    lying[..8].copy_from_slice(&(bytes.len() as u64).to_le_bytes());
    assert_eq!(load(&lying).kind, WeightsErrorKind::Format);
    lying[..8].copy_from_slice(&u64::MAX.to_le_bytes());
    assert_eq!(load(&lying).kind, WeightsErrorKind::Format);
    // Corrupt JSON.
    let e = load(&handmade("{\"a\": {", &[]));
    assert_eq!(e.kind, WeightsErrorKind::Format);
    assert!(e
        .to_string()
        .starts_with("malformed safetensors data: expected a safetensors file"));
    // Offsets that skip bytes, and a huge declared shape.
    let e = load(&handmade(
        r#"{"fc.bias":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#,
        &[0; 12],
    ));
    assert_eq!(e.tensor.as_deref(), Some("fc.bias"));
    let e = load(&handmade(
        r#"{"fc.bias":{"dtype":"F32","shape":[4611686018427387904, 8],"data_offsets":[0,8]}}"#,
        &[0; 8],
    ));
    assert_eq!(e.kind, WeightsErrorKind::Format);
    let e = load(&handmade(
        r#"{"fc.bias":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#,
        &[0; 8],
    ));
    assert_eq!(e.kind, WeightsErrorKind::ByteLength);
    // Duplicate names (same offsets, so the JSON map alone would hide it).
    let e = load(&handmade(
        r#"{"fc.bias":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"fc.bias":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#,
        &[0; 8],
    ));
    assert_eq!(e.kind, WeightsErrorKind::Duplicate);
    assert_eq!(e.tensor.as_deref(), Some("fc.bias"));
    assert_eq!(net, before);
}

#[test]
fn checkpoints_restore_optimizer_state_and_reject_other_configurations() {
    let net = toy::<f32>(11);
    let mut adam = Adam::<f32, P>::new(AdamConfig::default()).unwrap();
    let grads: [f32; P] = core::array::from_fn(|i| i as f32 * 0.1 - 0.5);
    let mut params: [f32; P] = net.params.clone().try_into().unwrap();
    adam.step(&mut params, &grads).unwrap();
    adam.step(&mut params, &grads).unwrap();
    adam.set_learning_rate(3e-4).unwrap();
    let progress = Progress { epoch: 2, step: 17 };
    let bytes = checkpoint::to_safetensors(&net, &adam, progress, None).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    assert_eq!(
        st.tensor("optimizer.exp_avg.fc.weight").unwrap().shape(),
        &[2, 3]
    );

    let mut restored = toy::<f32>(12);
    let mut fresh = Adam::<f32, P>::new(AdamConfig::default()).unwrap();
    let got = checkpoint::load_safetensors(&bytes, &mut restored, &mut fresh, None).unwrap();
    assert_eq!(got, progress);
    assert_eq!(restored, net);
    assert_eq!(fresh.steps(), 2);
    assert_eq!(fresh.learning_rate(), 3e-4);
    for i in 0..adam.state_buffer_count() {
        assert_eq!(adam.state_buffer(i), fresh.state_buffer(i));
    }

    // Another hyper-parameter: named, nothing changes.
    let mut other = Adam::<f32, P>::new(AdamConfig {
        betas: (0.8, 0.999),
        ..AdamConfig::default()
    })
    .unwrap();
    let mut target = toy::<f32>(13);
    let before = target.clone();
    let e = weights_error(
        checkpoint::load_safetensors(&bytes, &mut target, &mut other, None).unwrap_err(),
    );
    assert_eq!(
        e.to_string(),
        "tensor `__metadata__.optimizer.beta1`: checkpoint metadata does not match: expected \
         0.8 (this optimizer's configuration), found 0.9"
    );
    assert_eq!(target, before);
    assert_eq!(other.steps(), 0);
    // Another kind: the buffers differ, so the tensor check names one first.
    let mut sgd = Sgd::<f32, P>::new(SgdConfig {
        momentum: 0.9,
        ..SgdConfig::default()
    })
    .unwrap();
    let e = checkpoint::load_safetensors(&bytes, &mut target, &mut sgd, None).unwrap_err();
    assert_eq!(
        e.to_string(),
        "tensor `__metadata__.optimizer`: checkpoint metadata does not match: expected SGD, \
         found Adam"
    );
    let mut adamw = crate::optim::AdamW::<f32, P>::new(Default::default()).unwrap();
    let e = weights_error(
        checkpoint::load_safetensors(&bytes, &mut target, &mut adamw, None).unwrap_err(),
    );
    assert_eq!(e.tensor.as_deref(), Some("__metadata__.optimizer"));
    assert_eq!(target, before);
    // A weights file is not a checkpoint.
    let weights = network_to_safetensors(&net).unwrap();
    let e = checkpoint::load_safetensors(&weights, &mut target, &mut fresh, None).unwrap_err();
    assert_eq!(
        e.to_string(),
        "tensor `__metadata__.format`: checkpoint metadata does not match: expected a value (is \
         this a monograd checkpoint?), found nothing"
    );
    assert_eq!(target, before);
}

#[test]
fn checkpoints_carry_the_shuffler_and_reject_an_order_that_is_not_a_permutation() {
    use crate::train::MiniBatches;
    let inputs = [[0.0f32; 1]; 10];
    let labels = [0usize; 10];
    let mut batches = MiniBatches::<_, _, 4>::new(&inputs, &labels, 5).unwrap();
    let mut rng = batches.shuffler_state().0.clone();
    let mut order: Vec<usize> = (0..10).collect();
    rng.shuffle(&mut order);
    batches.restore_shuffler(rng.clone(), &order).unwrap();
    let net = toy::<f64>(1);
    let sgd = Sgd::<f64, P>::new(SgdConfig::default()).unwrap();
    let bytes =
        checkpoint::to_safetensors(&net, &sgd, Progress::default(), Some(&batches)).unwrap();

    let mut other = MiniBatches::<_, _, 4>::new(&inputs, &labels, 99).unwrap();
    let mut target = toy::<f64>(2);
    let mut sgd2 = Sgd::<f64, P>::new(SgdConfig::default()).unwrap();
    checkpoint::load_safetensors(&bytes, &mut target, &mut sgd2, Some(&mut other)).unwrap();
    assert_eq!(other.shuffler_state().0, &rng);
    assert_eq!(other.shuffler_state().1, &order[..]);

    // An order with an index twice is refused before anything is written.
    let bad = rewrite(&bytes, |name, v| {
        let (n, mut raw) = same(name, v)?;
        if n == "shuffler.order" {
            raw.bytes[..8].copy_from_slice(&(order[1] as i64).to_le_bytes());
        }
        Some((n, raw))
    });
    let mut target = toy::<f64>(3);
    let before = target.clone();
    let e =
        checkpoint::load_safetensors(&bad, &mut target, &mut sgd2, Some(&mut other)).unwrap_err();
    assert!(e.to_string().contains("shuffler.order"), "{e}");
    assert_eq!(target, before);
    assert!(restore_order_rejects_non_permutations());
}

fn restore_order_rejects_non_permutations() -> bool {
    let inputs = [[0.0f32; 1]; 3];
    let mut b = crate::train::MiniBatches::<_, _, 2>::new(&inputs, &[0usize; 3], 1).unwrap();
    b.restore_shuffler(crate::Rng::new(1), &[0, 0, 1]).is_err()
        && b.restore_shuffler(crate::Rng::new(1), &[0, 1]).is_err()
        && b.restore_shuffler(crate::Rng::new(1), &[2, 0, 1]).is_ok()
}

#[cfg(feature = "std")]
#[test]
fn atomic_saves_keep_the_previous_file_when_writing_fails() {
    use std::fs;
    use std::io::Write;
    let dir = std::env::temp_dir().join(std::format!("monograd-io-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    let path = dir.join("net.safetensors");
    let first = toy::<f32>(20);
    save_network(&first, &path).unwrap();
    let good = fs::read(&path).unwrap();

    // A writer that fails halfway.
    let e = write_atomic_with(&path, |f| {
        f.write_all(&good[..good.len() / 2])?;
        Err(std::io::Error::other("disk full"))
    })
    .unwrap_err();
    assert!(e.to_string().contains("net.safetensors"), "{e}");
    assert!(e.to_string().contains("disk full"), "{e}");
    assert_eq!(fs::read(&path).unwrap(), good);
    assert_eq!(
        fs::read_dir(&dir).unwrap().count(),
        1,
        "no temporary file left"
    );

    // A save into a missing directory fails and names the file.
    let e = save_network(&first, dir.join("nowhere/net.safetensors")).unwrap_err();
    assert!(e.to_string().contains("nowhere"), "{e}");

    let loaded: Toy<f32> = load_network(&path).unwrap();
    assert_eq!(loaded, first);
    let e = load_network::<Toy<f32>>(dir.join("absent.safetensors")).unwrap_err();
    assert!(e.to_string().contains("absent.safetensors"), "{e}");
    fs::remove_dir_all(&dir).unwrap();
}
