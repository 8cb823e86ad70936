use std::time::Duration;

use super::*;
use crate::ops::norm::{
    batch_norm_train_backward, batch_norm_train_backward_with, batch_norm_train_forward,
    batch_norm_train_forward_with, batch_renorm_train_backward, batch_renorm_train_backward_with,
    batch_renorm_train_forward, batch_renorm_train_forward_with, BatchNormConfig, BatchStats,
    RenormLimits, RenormStats,
};
use crate::{Collective, Rng, Store};

/// Runs `f(collective)` on `participants` threads; returns their results in index order.
fn on_threads<R: Send>(
    participants: usize,
    capacity: usize,
    f: impl Fn(ThreadCollective<f64>) -> R + Sync,
) -> Vec<R> {
    let collectives =
        ThreadCollective::group(participants, capacity, Duration::from_secs(20)).unwrap();
    std::thread::scope(|scope| {
        let f = &f;
        let handles: Vec<_> = collectives
            .into_iter()
            .map(|c| scope.spawn(move || f(c)))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

#[test]
fn thread_all_reduce_sums_in_worker_order_and_gives_every_thread_the_same_bits() {
    for participants in [1, 2, 3, 4] {
        for len in [0, 1, 2, 5, 64, 129, 1024, 1025, 3001] {
            let results = on_threads(participants, 256, |mut c| {
                let me = c.index();
                let mut values: Vec<f64> = (0..len)
                    .map(|i| ((i * 7 + me * 13) % 11) as f64 * 0.1 + 1e-3 * me as f64)
                    .collect();
                // Twice: the buffers are reused from one call to the next.
                let first = values.clone();
                c.all_reduce_sum(&mut values).unwrap();
                let mut again = first;
                c.all_reduce_sum(&mut again).unwrap();
                assert_eq!(values, again);
                values
            });
            let expected: Vec<f64> = (0..len)
                .map(|i| {
                    (0..participants).fold(0.0, |sum, me| {
                        let v = ((i * 7 + me * 13) % 11) as f64 * 0.1 + 1e-3 * me as f64;
                        if me == 0 {
                            v
                        } else {
                            sum + v
                        }
                    })
                })
                .collect();
            for result in &results {
                assert_eq!(result, &expected, "{participants} threads, {len} values");
            }
        }
    }
}

/// `values` and `extra` are summed as one vector (or `values` averaged onto thread 0), whether a chunk boundary falls in either or
/// on the seam, for short (added up whole) and long (chunked) sums.
#[test]
fn a_sum_with_extra_values_is_the_sum_of_the_concatenation() {
    for participants in [2, 3] {
        for (len, extra_len) in [
            (5, 2),
            (1000, 2),
            (1023, 2),
            (3000, 2),
            (3001, 7),
            (0, 1500),
        ] {
            let results = on_threads(participants, 256, |mut c| {
                let me = c.index() as f64;
                let mut values: Vec<f64> = (0..len).map(|i| i as f64 + me).collect();
                let mut extra: Vec<f64> = (0..extra_len).map(|i| -(i as f64) * me).collect();
                c.all_reduce_sum_with(&mut values, &mut extra).unwrap();
                (values, extra)
            });
            let p = participants as f64;
            let total = (p - 1.0) * p / 2.0;
            let values: Vec<f64> = (0..len).map(|i| i as f64 * p + total).collect();
            let extra: Vec<f64> = (0..extra_len).map(|i| -(i as f64) * total).collect();
            for result in results {
                assert_eq!(
                    result,
                    (values.clone(), extra.clone()),
                    "{len} + {extra_len}"
                );
            }
            let results = on_threads(participants, 256, |mut c| {
                let me = c.index() as f64;
                let mut values: Vec<f64> = (0..len).map(|i| i as f64 + me).collect();
                let mut extra: Vec<f64> = (0..extra_len).map(|i| -(i as f64) * me).collect();
                c.reduce_mean_to_first_with(&mut values, &mut extra)
                    .unwrap();
                (values, extra)
            });
            let mean: Vec<f64> = values.iter().map(|v| v * p.recip()).collect();
            assert_eq!(results[0], (mean, extra.clone()), "on thread 0");
            for result in &results[1..] {
                assert_eq!(
                    result.1, extra,
                    "{len} + {extra_len}: extra on every thread"
                );
            }
        }
    }
}

/// The scanned mean is the plain one, and thread 0's scan is the scan of the whole mean with
/// the parameters, whichever thread summed (and scanned) each chunk; a non-finite value in one
/// thread's gradient shows in the scan.
#[test]
fn a_scanned_mean_gives_thread_0_the_scan_of_the_whole_mean() {
    use crate::optim::GradientScan;
    for participants in [1, 2, 3, 4] {
        for (len, extra_len, bad) in [
            (5, 2, None),
            (3000, 2, None),
            (3001, 7, Some(2999)),
            (1500, 600, Some(3)),
        ] {
            let params: Vec<f64> = (0..len).map(|i| ((i * 37) % 101) as f64 - 50.0).collect();
            let gradient = |me: usize| -> Vec<f64> {
                (0..len)
                    .map(|i| {
                        if Some(i) == bad && me + 1 == participants {
                            f64::NAN
                        } else {
                            ((i * 7 + me * 13) % 11) as f64 * 0.1 - 0.5
                        }
                    })
                    .collect()
            };
            let plain = on_threads(participants, 256, |mut c| {
                let (mut values, mut extra) = (gradient(c.index()), std::vec![1.0; extra_len]);
                c.reduce_mean_to_first_with(&mut values, &mut extra)
                    .unwrap();
                (values, extra)
            });
            let scanned = on_threads(participants, 256, |mut c| {
                let (mut values, mut extra) = (gradient(c.index()), std::vec![1.0; extra_len]);
                let scan = c
                    .reduce_mean_to_first_scanned(&mut values, &params, &mut extra)
                    .unwrap();
                (values, extra, scan)
            });
            let case = format!("{participants} threads, {len} + {extra_len}");
            let (mean, extra, scan) = &scanned[0];
            assert_eq!(
                mean.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                plain[0].0.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                "{case}"
            );
            assert_eq!(extra, &plain[0].1, "{case}");
            assert_eq!(scan, &Some(GradientScan::of(&params, mean)), "{case}");
            for (_, extra, scan) in &scanned[1..] {
                assert_eq!((extra, scan), (&plain[0].1, &None), "{case}");
            }
        }
    }
}

#[test]
fn a_thread_that_leaves_makes_the_others_fail_instead_of_waiting() {
    let results = on_threads(3, 8, |mut c| {
        if c.index() == 1 {
            c.abort();
            return None;
        }
        let mut values = [1.0; 4];
        Some(c.all_reduce_sum(&mut values))
    });
    for result in results.into_iter().flatten() {
        assert_eq!(
            result,
            Err(Error::Collective {
                operation: "all-reduce across worker threads",
                reason: "a worker thread panicked or did not arrive within the timeout",
                peer: Some(1),
            })
        );
    }
}

#[test]
fn a_thread_that_never_arrives_times_out() {
    let mut collectives = ThreadCollective::<f32>::group(2, 4, Duration::from_millis(50)).unwrap();
    let _absent = collectives.pop();
    let mut c = collectives.pop().unwrap();
    let error = c.all_reduce_sum(&mut [1.0; 4]).unwrap_err();
    assert!(matches!(error, Error::Collective { .. }), "{error}");
    // And the group stays failed.
    assert!(c.all_reduce_sum(&mut [1.0; 4]).is_err());
}

#[test]
fn different_lengths_are_an_error_on_every_thread() {
    let results = on_threads(2, 8, |mut c| {
        let mut values = vec![1.0; 3 + c.index()];
        c.all_reduce_sum(&mut values)
    });
    for result in results {
        assert!(
            matches!(result, Err(Error::Collective { .. })),
            "{result:?}"
        );
    }
}

const B: usize = 8;
const C: usize = 3;
const S: usize = 4;
const N: usize = C * S;

fn batch(seed: u64) -> [[f64; N]; B] {
    let mut rng = Rng::new(seed);
    let mut x = [[0.0; N]; B];
    for v in x.as_flattened_mut() {
        *v = 2.0 * rng.normal::<f64>() + 0.5;
    }
    x
}

fn close(a: &[f64], b: &[f64], what: &str) {
    for (i, (&a, &b)) in a.iter().zip(b).enumerate() {
        assert!(
            (a - b).abs() <= 1e-12 * (1.0 + b.abs()),
            "{what}[{i}]: {a} vs {b}"
        );
    }
}

/// BatchNorm and Batch Renorm on two (or four) threads, each with a share of the batch and
/// the sums through a `ThreadCollective`, give the outputs, running statistics and input
/// gradients of the whole batch on one thread; the parameter gradients summed over the
/// threads are the whole batch's.
#[test]
fn synchronised_batch_norm_on_shares_equals_the_whole_batch() {
    let x = batch(1);
    let dy = batch(2);
    let params = [[1.5, 0.5, -1.0], [0.1, -0.2, 0.3]];
    let config = BatchNormConfig::PYTORCH;
    let limits = RenormLimits::new(1.2, 0.3).unwrap();
    let running = [[0.2, -0.1, 0.0], [1.1, 0.9, 2.0]];

    // One thread, the whole batch.
    let mut state = running;
    let (mut saved, mut y) = (BatchStats::zeroed(), [[0.0; N]; B]);
    batch_norm_train_forward::<f64, B, C, S, N>(
        &x, &params, &mut state, &mut saved, &mut y, config,
    );
    let (mut dx, mut dparams) = ([[0.0; N]; B], [[0.0; C]; 2]);
    batch_norm_train_backward::<f64, B, C, S, N>(
        &x,
        &params,
        &saved,
        &dy,
        &mut dx,
        Store::Overwrite,
        &mut dparams,
        Store::Overwrite,
    );
    let mut renorm_state = running;
    let (mut renorm_saved, mut renorm_y) = (RenormStats::zeroed(), [[0.0; N]; B]);
    batch_renorm_train_forward::<f64, B, C, S, N>(
        &x,
        &params,
        &mut renorm_state,
        &mut renorm_saved,
        &mut renorm_y,
        config,
        limits,
    );
    let (mut renorm_dx, mut renorm_dparams) = ([[0.0; N]; B], [[0.0; C]; 2]);
    batch_renorm_train_backward::<f64, B, C, S, N>(
        &x,
        &params,
        &renorm_saved,
        &dy,
        &mut renorm_dx,
        Store::Overwrite,
        &mut renorm_dparams,
        Store::Overwrite,
    );

    fn shares<const PB: usize, const W: usize>(
        x: &[[f64; N]; B],
        dy: &[[f64; N]; B],
        params: &[[f64; C]; 2],
        running: [[f64; C]; 2],
        (config, limits): (BatchNormConfig, RenormLimits),
    ) -> Vec<[Vec<f64>; 8]> {
        on_threads(W, 256, |mut c| {
            let w = c.index();
            let x: &[[f64; N]; PB] = &x.as_chunks::<PB>().0[w];
            let dy: &[[f64; N]; PB] = &dy.as_chunks::<PB>().0[w];
            let mut state = running;
            let (mut saved, mut y) = (BatchStats::zeroed(), [[0.0; N]; PB]);
            batch_norm_train_forward_with::<f64, PB, C, S, N, _>(
                x, params, &mut state, &mut saved, &mut y, config, &mut c,
            )
            .unwrap();
            let (mut dx, mut dparams) = ([[0.0; N]; PB], [[0.0; C]; 2]);
            batch_norm_train_backward_with::<f64, PB, C, S, N, _>(
                x,
                params,
                &saved,
                dy,
                (&mut dx, Store::Overwrite),
                (&mut dparams, Store::Overwrite),
                &mut c,
            )
            .unwrap();
            let mut renorm_state = running;
            let (mut renorm_saved, mut renorm_y) = (RenormStats::zeroed(), [[0.0; N]; PB]);
            batch_renorm_train_forward_with::<f64, PB, C, S, N, _>(
                x,
                params,
                (&mut renorm_state, &mut renorm_saved),
                &mut renorm_y,
                (config, limits),
                &mut c,
            )
            .unwrap();
            let (mut renorm_dx, mut renorm_dparams) = ([[0.0; N]; PB], [[0.0; C]; 2]);
            batch_renorm_train_backward_with::<f64, PB, C, S, N, _>(
                x,
                params,
                &renorm_saved,
                dy,
                (&mut renorm_dx, Store::Overwrite),
                (&mut renorm_dparams, Store::Overwrite),
                &mut c,
            )
            .unwrap();
            [
                y.as_flattened().to_vec(),
                state.as_flattened().to_vec(),
                dx.as_flattened().to_vec(),
                dparams.as_flattened().to_vec(),
                renorm_y.as_flattened().to_vec(),
                renorm_state.as_flattened().to_vec(),
                renorm_dx.as_flattened().to_vec(),
                renorm_dparams.as_flattened().to_vec(),
            ]
        })
    }

    // (index in a thread's results, the whole batch's values, name, split by share)
    let checks: [(usize, &[f64], &str, bool); 6] = [
        (0, y.as_flattened(), "y", true),
        (1, state.as_flattened(), "running stats", false),
        (2, dx.as_flattened(), "dx", true),
        (4, renorm_y.as_flattened(), "renorm y", true),
        (
            5,
            renorm_state.as_flattened(),
            "renorm running stats",
            false,
        ),
        (6, renorm_dx.as_flattened(), "renorm dx", true),
    ];
    for results in [
        shares::<4, 2>(&x, &dy, &params, running, (config, limits)),
        shares::<2, 4>(&x, &dy, &params, running, (config, limits)),
    ] {
        let per = N * B / results.len();
        for (k, result) in results.iter().enumerate() {
            for &(index, expected, what, split) in &checks {
                let expected = if split {
                    &expected[k * per..(k + 1) * per]
                } else {
                    expected
                };
                close(&result[index], expected, what);
            }
        }
        for (index, expected) in [(3, &dparams), (7, &renorm_dparams)] {
            let mut summed = vec![0.0; 2 * C];
            for result in &results {
                for (s, v) in summed.iter_mut().zip(&result[index]) {
                    *s += v;
                }
            }
            close(&summed, expected.as_flattened(), "summed dparams");
        }
    }
}
