//! Tests of the recurrent layers: PyTorch reference values (f64 and f32), finite differences
//! (f64), `Store` semantics, and streaming against the sequence forward.

extern crate std;

use std::vec::Vec;

use super::*;
use crate::gradcheck::assert_gradient;
use crate::kernels::math::{Fused, Unfused};
use crate::kernels::simd::{Level, Simd};
use crate::Rng;

/// The inputs of reference/recurrent.py: an integer hash and one correctly rounded division, so
/// Rust and Python get the same bits.
fn value(seed: usize, i: usize) -> f64 {
    ((i * 7919 + seed * 104729) % 1009) as f64 / 504.5 - 1.0
}

/// Fills any array of `T` (of arrays ...) from a flat sequence of `f64`.
fn fill<T: Scalar>(flat: &mut [T], mut source: impl FnMut(usize) -> f64) {
    for (i, v) in flat.iter_mut().enumerate() {
        *v = T::from_f64(source(i));
    }
}

fn widen<T: Scalar>(v: &[T]) -> Vec<f64> {
    v.iter().map(|&t| t.to_f64()).collect()
}

fn assert_close(what: &str, got: &[f64], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= tol * w.abs().max(1.0),
            "{what}[{i}]: {g} vs {w} (tolerance {tol:e})"
        );
    }
}

/// Owned parameters (or gradients) of a layer with `G` gates.
#[derive(Clone)]
struct Owned<T, const G: usize, const F: usize, const H: usize> {
    weight_ih: [[[T; F]; H]; G],
    weight_hh: [[[T; H]; H]; G],
    bias_ih: [[T; H]; G],
    bias_hh: [[T; H]; G],
}

impl<T: Scalar, const G: usize, const F: usize, const H: usize> Owned<T, G, F, H> {
    fn filled(value: T) -> Self {
        Owned {
            weight_ih: [[[value; F]; H]; G],
            weight_hh: [[[value; H]; H]; G],
            bias_ih: [[value; H]; G],
            bias_hh: [[value; H]; G],
        }
    }

    /// The block in the order of the module docs, from `source(i)` for its element `i`.
    fn from_fn(mut source: impl FnMut(usize) -> f64) -> Self {
        let mut p = Self::filled(T::zero());
        let mut i = 0;
        for part in p.parts_mut() {
            fill(part, |k| source(i + k));
            i += part.len();
        }
        p
    }

    /// The PyTorch tensors from seeds 2 to 5 (reference/recurrent.py).
    fn reference() -> Self {
        let mut p = Self::filled(T::zero());
        for (seed, part) in (2..).zip(p.parts_mut()) {
            fill(part, |i| value(seed, i));
        }
        p
    }

    fn parts_mut(&mut self) -> [&mut [T]; 4] {
        [
            self.weight_ih.as_flattened_mut().as_flattened_mut(),
            self.weight_hh.as_flattened_mut().as_flattened_mut(),
            self.bias_ih.as_flattened_mut(),
            self.bias_hh.as_flattened_mut(),
        ]
    }

    fn flat(&self) -> Vec<f64> {
        let mut v = widen(self.weight_ih.as_flattened().as_flattened());
        v.extend(widen(self.weight_hh.as_flattened().as_flattened()));
        v.extend(widen(self.bias_ih.as_flattened()));
        v.extend(widen(self.bias_hh.as_flattened()));
        v
    }

    fn params(&self) -> RnnParams<'_, T, G, F, H> {
        RnnParams {
            weight_ih: &self.weight_ih,
            weight_hh: &self.weight_hh,
            bias_ih: &self.bias_ih,
            bias_hh: &self.bias_hh,
        }
    }

    fn grads(&mut self) -> RnnGrads<'_, T, G, F, H> {
        RnnGrads {
            weight_ih: &mut self.weight_ih,
            weight_hh: &mut self.weight_hh,
            bias_ih: &mut self.bias_ih,
            bias_hh: &mut self.bias_hh,
        }
    }
}

fn input<T: Scalar, const B: usize, const S: usize, const F: usize>(
    source: impl FnMut(usize) -> f64,
) -> [[[T; F]; S]; B] {
    let mut x = [[[T::zero(); F]; S]; B];
    fill(x.as_flattened_mut().as_flattened_mut(), source);
    x
}

/// Both cells behind one interface, so every test runs on both.
trait Cell<const G: usize, const R: usize> {
    const NAME: &'static str;
    fn forward<T: Scalar, const B: usize, const S: usize, const F: usize, const H: usize>(
        params: &RnnParams<'_, T, G, F, H>,
        x: &[[[T; F]; S]; B],
        cache: &mut [[[[T; H]; R]; S]; B],
        out: Output<'_, T, B, S, H>,
    );
    fn backward<T: Scalar, const B: usize, const S: usize, const F: usize, const H: usize>(
        params: &RnnParams<'_, T, G, F, H>,
        x: &[[[T; F]; S]; B],
        cache: &[[[[T; H]; R]; S]; B],
        upstream: Upstream<'_, T, B, S, H>,
        grads: &mut RnnGrads<'_, T, G, F, H>,
        dx: Option<&mut [[[T; F]; S]; B]>,
        store: Store,
    );
    /// Streams a sequence through the step function from a zero state.
    fn stream<T: Scalar, const S: usize, const F: usize, const H: usize>(
        params: &RnnParams<'_, T, G, F, H>,
        x: &[[T; F]; S],
    ) -> [[T; H]; S];
    /// Streams a sequence through the step with [`StreamWeights`], as `how` says, or through
    /// its form on the parameters as they are (`*_stream_step_params`) when `on_params`.
    fn stream_prepared<T: Scalar, const S: usize, const F: usize, const H: usize>(
        params: &RnnParams<'_, T, G, F, H>,
        x: &[[T; F]; S],
        how: Run,
        on_params: bool,
    ) -> [[T; H]; S];
}

struct Gru;
struct Lstm;

impl Cell<GRU_GATES, GRU_CACHE_ROWS> for Gru {
    const NAME: &'static str = "gru";
    fn forward<T: Scalar, const B: usize, const S: usize, const F: usize, const H: usize>(
        params: &GruParams<'_, T, F, H>,
        x: &[[[T; F]; S]; B],
        cache: &mut [[[[T; H]; GRU_CACHE_ROWS]; S]; B],
        out: Output<'_, T, B, S, H>,
    ) {
        gru_forward(params, x, cache, out)
    }
    fn backward<T: Scalar, const B: usize, const S: usize, const F: usize, const H: usize>(
        params: &GruParams<'_, T, F, H>,
        x: &[[[T; F]; S]; B],
        cache: &[[[[T; H]; GRU_CACHE_ROWS]; S]; B],
        upstream: Upstream<'_, T, B, S, H>,
        grads: &mut GruGrads<'_, T, F, H>,
        dx: Option<&mut [[[T; F]; S]; B]>,
        store: Store,
    ) {
        gru_backward(params, x, cache, upstream, grads, dx, store)
    }
    fn stream<T: Scalar, const S: usize, const F: usize, const H: usize>(
        params: &GruParams<'_, T, F, H>,
        x: &[[T; F]; S],
    ) -> [[T; H]; S] {
        let mut h = [T::zero(); H];
        x.map(|x_t| {
            gru_step(params, &x_t, &mut h);
            h
        })
    }
    fn stream_prepared<T: Scalar, const S: usize, const F: usize, const H: usize>(
        params: &GruParams<'_, T, F, H>,
        x: &[[T; F]; S],
        how: Run,
        on_params: bool,
    ) -> [[T; H]; S] {
        let weights = StreamWeights::new(params);
        let mut h = [T::zero(); H];
        x.map(|x_t| {
            if on_params {
                how.run(GruParamsStep(params, &x_t, &mut h));
            } else {
                how.run(GruStep(&weights, &x_t, &mut h));
            }
            h
        })
    }
}

impl Cell<LSTM_GATES, LSTM_CACHE_ROWS> for Lstm {
    const NAME: &'static str = "lstm";
    fn forward<T: Scalar, const B: usize, const S: usize, const F: usize, const H: usize>(
        params: &LstmParams<'_, T, F, H>,
        x: &[[[T; F]; S]; B],
        cache: &mut [[[[T; H]; LSTM_CACHE_ROWS]; S]; B],
        out: Output<'_, T, B, S, H>,
    ) {
        lstm_forward(params, x, cache, out)
    }
    fn backward<T: Scalar, const B: usize, const S: usize, const F: usize, const H: usize>(
        params: &LstmParams<'_, T, F, H>,
        x: &[[[T; F]; S]; B],
        cache: &[[[[T; H]; LSTM_CACHE_ROWS]; S]; B],
        upstream: Upstream<'_, T, B, S, H>,
        grads: &mut LstmGrads<'_, T, F, H>,
        dx: Option<&mut [[[T; F]; S]; B]>,
        store: Store,
    ) {
        lstm_backward(params, x, cache, upstream, grads, dx, store)
    }
    fn stream<T: Scalar, const S: usize, const F: usize, const H: usize>(
        params: &LstmParams<'_, T, F, H>,
        x: &[[T; F]; S],
    ) -> [[T; H]; S] {
        let (mut h, mut c) = ([T::zero(); H], [T::zero(); H]);
        x.map(|x_t| {
            lstm_step(params, &x_t, &mut h, &mut c);
            h
        })
    }
    fn stream_prepared<T: Scalar, const S: usize, const F: usize, const H: usize>(
        params: &LstmParams<'_, T, F, H>,
        x: &[[T; F]; S],
        how: Run,
        on_params: bool,
    ) -> [[T; H]; S] {
        let weights = StreamWeights::new(params);
        let (mut h, mut c) = ([T::zero(); H], [T::zero(); H]);
        x.map(|x_t| {
            if on_params {
                how.run(LstmParamsStep(params, &x_t, &mut h, &mut c));
            } else {
                how.run(LstmStep(&weights, &x_t, &mut h, &mut c));
            }
            h
        })
    }
}

/// How a test runs a streaming step: at a [`Level`], or its [`Fused`] form on the baseline
/// build (the library's `fma`, the same results as the instruction's).
#[derive(Clone, Copy, Debug)]
enum Run {
    At(Level),
    FusedOnBaseline,
}

impl Run {
    fn run<S: Simd>(self, step: S) -> S::Output {
        match self {
            Run::At(level) => level.run(step),
            Run::FusedOnBaseline => step.run_fma(),
        }
    }
}

/// [`gru_stream_step`] as a [`Simd`] computation, for [`Level::run`].
struct GruStep<'a, T, const F: usize, const H: usize>(
    &'a StreamWeights<T, GRU_GATES, F, H>,
    &'a [T; F],
    &'a mut [T; H],
);

impl<T: Scalar, const F: usize, const H: usize> Simd for GruStep<'_, T, F, H> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        gru_stream_step::<T, Unfused, F, H>(self.0, self.1, self.2)
    }
    #[inline(always)]
    fn run_fma(self) {
        gru_stream_step::<T, Fused, F, H>(self.0, self.1, self.2)
    }
}

/// [`lstm_stream_step`] as a [`Simd`] computation, for [`Level::run`].
struct LstmStep<'a, T, const F: usize, const H: usize>(
    &'a StreamWeights<T, LSTM_GATES, F, H>,
    &'a [T; F],
    &'a mut [T; H],
    &'a mut [T; H],
);

impl<T: Scalar, const F: usize, const H: usize> Simd for LstmStep<'_, T, F, H> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        lstm_stream_step::<T, Unfused, F, H>(self.0, self.1, self.2, self.3)
    }
    #[inline(always)]
    fn run_fma(self) {
        lstm_stream_step::<T, Fused, F, H>(self.0, self.1, self.2, self.3)
    }
}

/// [`gru_stream_step_params`] as a [`Simd`] computation.
struct GruParamsStep<'a, 'p, T, const F: usize, const H: usize>(
    &'a GruParams<'p, T, F, H>,
    &'a [T; F],
    &'a mut [T; H],
);

impl<T: Scalar, const F: usize, const H: usize> Simd for GruParamsStep<'_, '_, T, F, H> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        gru_stream_step_params::<T, Unfused, F, H>(self.0, self.1, self.2)
    }
    #[inline(always)]
    fn run_fma(self) {
        gru_stream_step_params::<T, Fused, F, H>(self.0, self.1, self.2)
    }
}

/// [`lstm_stream_step_params`] as a [`Simd`] computation.
struct LstmParamsStep<'a, 'p, T, const F: usize, const H: usize>(
    &'a LstmParams<'p, T, F, H>,
    &'a [T; F],
    &'a mut [T; H],
    &'a mut [T; H],
);

impl<T: Scalar, const F: usize, const H: usize> Simd for LstmParamsStep<'_, '_, T, F, H> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        lstm_stream_step_params::<T, Unfused, F, H>(self.0, self.1, self.2, self.3)
    }
    #[inline(always)]
    fn run_fma(self) {
        lstm_stream_step_params::<T, Fused, F, H>(self.0, self.1, self.2, self.3)
    }
}

const B: usize = reference::B;
const S: usize = reference::T;
const F: usize = reference::F;
const H: usize = reference::H;

/// The committed PyTorch values of one cell.
struct Expected {
    y: &'static [f64],
    h_last: &'static [f64],
    /// `[dx, dW_ih, dW_hh, db_ih, db_hh]` for the sequence loss, then for the last-state loss.
    sequence: [&'static [f64]; 5],
    last: [&'static [f64]; 5],
}

fn gru_expected() -> Expected {
    use reference::gru::*;
    Expected {
        y: &Y,
        h_last: &H_LAST,
        sequence: [
            &SEQUENCE_DX,
            &SEQUENCE_DW_IH,
            &SEQUENCE_DW_HH,
            &SEQUENCE_DB_IH,
            &SEQUENCE_DB_HH,
        ],
        last: [&LAST_DX, &LAST_DW_IH, &LAST_DW_HH, &LAST_DB_IH, &LAST_DB_HH],
    }
}

fn lstm_expected() -> Expected {
    use reference::lstm::*;
    Expected {
        y: &Y,
        h_last: &H_LAST,
        sequence: [
            &SEQUENCE_DX,
            &SEQUENCE_DW_IH,
            &SEQUENCE_DW_HH,
            &SEQUENCE_DB_IH,
            &SEQUENCE_DB_HH,
        ],
        last: [&LAST_DX, &LAST_DW_IH, &LAST_DW_HH, &LAST_DB_IH, &LAST_DB_HH],
    }
}

/// Forward (both outputs) and all gradients (both losses) against PyTorch, in `T`.
fn check_reference<C: Cell<G, R>, T: Scalar, const G: usize, const R: usize>(
    expected: &Expected,
    tol: f64,
) {
    let p = Owned::<T, G, F, H>::reference();
    let x: [[[T; F]; S]; B] = input(|i| value(1, i));
    let mut cache = [[[[T::nan(); H]; R]; S]; B];
    let what = |name: &str| std::format!("{} {}: {name}", C::NAME, T::NAME);

    let mut last = [[T::nan(); H]; B];
    C::forward(&p.params(), &x, &mut cache, Output::Last(&mut last));
    assert_close(
        &what("h_n"),
        &widen(last.as_flattened()),
        expected.h_last,
        tol,
    );
    let mut y = [[[T::nan(); H]; S]; B];
    C::forward(&p.params(), &x, &mut cache, Output::Sequence(&mut y));
    assert_close(
        &what("y"),
        &widen(y.as_flattened().as_flattened()),
        expected.y,
        tol,
    );

    let up_seq: [[[T; H]; S]; B] = input(|i| value(6, i));
    let mut up_last = [[T::zero(); H]; B];
    fill(up_last.as_flattened_mut(), |i| value(7, i));
    for (mode, upstream, want) in [
        ("sequence", Upstream::Sequence(&up_seq), &expected.sequence),
        ("last", Upstream::Last(&up_last), &expected.last),
    ] {
        let mut g = Owned::<T, G, F, H>::filled(T::nan());
        let mut dx = [[[T::nan(); F]; S]; B];
        C::backward(
            &p.params(),
            &x,
            &cache,
            upstream,
            &mut g.grads(),
            Some(&mut dx),
            Store::Overwrite,
        );
        let what = |name: &str| what(&std::format!("{mode} {name}"));
        assert_close(
            &what("dx"),
            &widen(dx.as_flattened().as_flattened()),
            want[0],
            tol,
        );
        let names = ["dW_ih", "dW_hh", "db_ih", "db_hh"];
        for ((name, part), want) in names.iter().zip(g.parts_mut()).zip(&want[1..]) {
            assert_close(&what(name), &widen(part), want, tol);
        }
    }
}

#[test]
fn gru_matches_pytorch_f64() {
    check_reference::<Gru, f64, GRU_GATES, GRU_CACHE_ROWS>(&gru_expected(), 1e-12);
}

#[test]
fn gru_matches_pytorch_f32() {
    check_reference::<Gru, f32, GRU_GATES, GRU_CACHE_ROWS>(&gru_expected(), 1e-5);
}

#[test]
fn lstm_matches_pytorch_f64() {
    check_reference::<Lstm, f64, LSTM_GATES, LSTM_CACHE_ROWS>(&lstm_expected(), 1e-12);
}

#[test]
fn lstm_matches_pytorch_f32() {
    check_reference::<Lstm, f32, LSTM_GATES, LSTM_CACHE_ROWS>(&lstm_expected(), 1e-5);
}

/// Finite differences of `sum(g * y)` (sequence) or `sum(l * h_n)` (last state), `g` and `l`
/// random, with respect to every parameter and every input.
fn check_gradients<
    C: Cell<G, R>,
    const G: usize,
    const R: usize,
    const BATCH: usize,
    const STEPS: usize,
    const IN: usize,
    const HID: usize,
>(
    seed: u64,
) {
    let mut rng = Rng::new(seed);
    let mut uniform = |_| rng.uniform::<f64>(-1.0, 1.0);
    let p = Owned::<f64, G, IN, HID>::from_fn(&mut uniform);
    let x: [[[f64; IN]; STEPS]; BATCH] = input(&mut uniform);
    let up_seq: [[[f64; HID]; STEPS]; BATCH] = input(&mut uniform);
    let up_last: [[f64; HID]; BATCH] = input::<f64, 1, BATCH, HID>(&mut uniform)[0];

    for sequence in [true, false] {
        let loss = |p: &Owned<f64, G, IN, HID>, x: &[[[f64; IN]; STEPS]; BATCH]| -> f64 {
            let mut cache = [[[[0.0; HID]; R]; STEPS]; BATCH];
            if sequence {
                let mut y = [[[0.0; HID]; STEPS]; BATCH];
                C::forward(&p.params(), x, &mut cache, Output::Sequence(&mut y));
                let y = y.as_flattened().as_flattened();
                y.iter()
                    .zip(up_seq.as_flattened().as_flattened())
                    .map(|(y, g)| y * g)
                    .sum()
            } else {
                let mut y = [[0.0; HID]; BATCH];
                C::forward(&p.params(), x, &mut cache, Output::Last(&mut y));
                let y = y.as_flattened();
                y.iter()
                    .zip(up_last.as_flattened())
                    .map(|(y, g)| y * g)
                    .sum()
            }
        };
        let upstream = if sequence {
            Upstream::Sequence(&up_seq)
        } else {
            Upstream::Last(&up_last)
        };
        let mut cache = [[[[f64::NAN; HID]; R]; STEPS]; BATCH];
        let mut y = [[[f64::NAN; HID]; STEPS]; BATCH];
        C::forward(&p.params(), &x, &mut cache, Output::Sequence(&mut y));
        let mut g = Owned::<f64, G, IN, HID>::filled(f64::NAN);
        let mut dx = [[[f64::NAN; IN]; STEPS]; BATCH];
        let mut grads = g.grads();
        C::backward(
            &p.params(),
            &x,
            &cache,
            upstream,
            &mut grads,
            Some(&mut dx),
            Store::Overwrite,
        );

        let what = |name: &str| {
            std::format!(
                "{} B={BATCH} S={STEPS} F={IN} H={HID} {}: {name}",
                C::NAME,
                if sequence { "sequence" } else { "last" }
            )
        };
        let mut flat = p.flat();
        assert_gradient(
            &what("parameters"),
            |v| loss(&Owned::from_fn(|k| v[k]), &x),
            &mut flat,
            &g.flat(),
            1e-6,
        );
        let mut flat_x = x;
        let dx_flat = dx.as_flattened().as_flattened().to_vec();
        assert_gradient(
            &what("dx"),
            |v| loss(&p, &input(|k| v[k])),
            flat_x.as_flattened_mut().as_flattened_mut(),
            &dx_flat,
            1e-6,
        );
    }
}

#[test]
fn gru_gradients_match_finite_differences() {
    check_gradients::<Gru, GRU_GATES, GRU_CACHE_ROWS, 2, 5, 3, 4>(21);
    check_gradients::<Gru, GRU_GATES, GRU_CACHE_ROWS, 1, 7, 1, 8>(22);
    check_gradients::<Gru, GRU_GATES, GRU_CACHE_ROWS, 3, 1, 4, 2>(23);
}

#[test]
fn lstm_gradients_match_finite_differences() {
    check_gradients::<Lstm, LSTM_GATES, LSTM_CACHE_ROWS, 2, 5, 3, 4>(31);
    check_gradients::<Lstm, LSTM_GATES, LSTM_CACHE_ROWS, 1, 7, 1, 8>(32);
    check_gradients::<Lstm, LSTM_GATES, LSTM_CACHE_ROWS, 3, 1, 4, 2>(33);
}

/// `Store::Accumulate` adds the whole gradient to what was there; without `dx`, the parameter
/// gradients are the same.
fn check_accumulate<C: Cell<G, R>, const G: usize, const R: usize>() {
    let p = Owned::<f64, G, F, H>::reference();
    let x: [[[f64; F]; S]; B] = input(|i| value(1, i));
    let up: [[[f64; H]; S]; B] = input(|i| value(6, i));
    let mut cache = [[[[f64::NAN; H]; R]; S]; B];
    let mut y = [[[f64::NAN; H]; S]; B];
    C::forward(&p.params(), &x, &mut cache, Output::Sequence(&mut y));

    let mut fresh = Owned::<f64, G, F, H>::filled(f64::NAN);
    let mut dx_fresh = [[[f64::NAN; F]; S]; B];
    let up_seq = Upstream::Sequence(&up);
    C::backward(
        &p.params(),
        &x,
        &cache,
        up_seq,
        &mut fresh.grads(),
        Some(&mut dx_fresh),
        Store::Overwrite,
    );

    let mut acc = Owned::<f64, G, F, H>::from_fn(|i| value(8, i));
    let before = acc.flat();
    let mut dx: [[[f64; F]; S]; B] = input(|i| value(9, i));
    let dx_before: Vec<f64> = dx.as_flattened().as_flattened().to_vec();
    C::backward(
        &p.params(),
        &x,
        &cache,
        up_seq,
        &mut acc.grads(),
        Some(&mut dx),
        Store::Accumulate,
    );
    let plus = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(a, b)| a + b).collect::<Vec<_>>();
    let what = |name: &str| std::format!("{} accumulate: {name}", C::NAME);
    assert_close(
        &what("params"),
        &acc.flat(),
        &plus(&before, &fresh.flat()),
        1e-12,
    );
    assert_close(
        &what("dx"),
        dx.as_flattened().as_flattened(),
        &plus(&dx_before, dx_fresh.as_flattened().as_flattened()),
        1e-12,
    );

    let mut no_dx = Owned::<f64, G, F, H>::filled(f64::NAN);
    C::backward(
        &p.params(),
        &x,
        &cache,
        up_seq,
        &mut no_dx.grads(),
        None,
        Store::Overwrite,
    );
    assert_eq!(
        no_dx.flat(),
        fresh.flat(),
        "{}: gradients without dx",
        C::NAME
    );
}

#[test]
fn accumulate_adds_to_previous_gradients() {
    check_accumulate::<Gru, GRU_GATES, GRU_CACHE_ROWS>();
    check_accumulate::<Lstm, LSTM_GATES, LSTM_CACHE_ROWS>();
}

/// Stepping each sample through the streaming function from a zero state gives the sequence
/// forward's outputs, in f32 and f64, on a longer sequence than the reference.
fn check_streaming<C: Cell<G, R>, T: Scalar, const G: usize, const R: usize>(tol: f64) {
    const STEPS: usize = 40;
    let p = Owned::<T, G, F, H>::reference();
    let x: [[[T; F]; STEPS]; B] = input(|i| value(1, i));
    let mut cache = [[[[T::nan(); H]; R]; STEPS]; B];
    let mut y = [[[T::nan(); H]; STEPS]; B];
    C::forward(&p.params(), &x, &mut cache, Output::Sequence(&mut y));
    for (b, (x_b, y_b)) in x.iter().zip(&y).enumerate() {
        let streamed = C::stream(&p.params(), x_b);
        assert_close(
            &std::format!("{} {} streaming, sample {b}", C::NAME, T::NAME),
            &widen(streamed.as_flattened()),
            &widen(y_b.as_flattened()),
            tol,
        );
        // The prepared weights, on the baseline (multiply-adds rounded twice), fused, and on
        // the widest level this CPU has (fused where it has FMA): all within the same
        // tolerance.
        let runs = [
            Run::At(Level::baseline()),
            Run::FusedOnBaseline,
            Run::At(Level::detect()),
        ];
        // Each also on the parameters as they are (the form of a stream's `step_with`).
        for (how, on_params) in runs.into_iter().flat_map(|how| [(how, false), (how, true)]) {
            let prepared = C::stream_prepared(&p.params(), x_b, how, on_params);
            assert_close(
                &std::format!(
                    "{} {} prepared streaming ({how:?}, on parameters: {on_params}), sample {b}",
                    C::NAME,
                    T::NAME
                ),
                &widen(prepared.as_flattened()),
                &widen(y_b.as_flattened()),
                tol,
            );
        }
    }
}

#[test]
fn streaming_equals_sequence_forward() {
    check_streaming::<Gru, f64, GRU_GATES, GRU_CACHE_ROWS>(1e-14);
    check_streaming::<Gru, f32, GRU_GATES, GRU_CACHE_ROWS>(1e-6);
    check_streaming::<Lstm, f64, LSTM_GATES, LSTM_CACHE_ROWS>(1e-14);
    check_streaming::<Lstm, f32, LSTM_GATES, LSTM_CACHE_ROWS>(1e-6);
}

/// A hand-computed GRU and LSTM step with one input and one unit.
#[test]
fn single_unit_by_hand() {
    let sig = |v: f64| 1.0 / (1.0 + (-v).exp());
    // GRU: W_ih = [0.5, -1, 2], W_hh = [1, 0.25, -0.5], b_ih = [0.1, 0.2, 0.3], b_hh = 0.
    let w_ih = [[[0.5]], [[-1.0]], [[2.0]]];
    let w_hh = [[[1.0]], [[0.25]], [[-0.5]]];
    let b_ih = [[0.1], [0.2], [0.3]];
    let b_hh = [[0.0]; 3];
    let p = RnnParams {
        weight_ih: &w_ih,
        weight_hh: &w_hh,
        bias_ih: &b_ih,
        bias_hh: &b_hh,
    };
    let weights = StreamWeights::new(&p);
    let mut h = [0.0];
    let mut h_prepared = [0.0];
    gru_step(&p, &[1.0], &mut h);
    gru_stream_step::<_, Unfused, 1, 1>(&weights, &[1.0], &mut h_prepared);
    assert_eq!(h, h_prepared);
    // h_0 = 0, so r does not matter.
    let z = sig(-0.8);
    let n = (2.3f64).tanh();
    let h1 = (1.0 - z) * n;
    assert!((h[0] - h1).abs() < 1e-15, "{} vs {h1}", h[0]);
    gru_step(&p, &[-1.0], &mut h);
    gru_stream_step::<_, Unfused, 1, 1>(&weights, &[-1.0], &mut h_prepared);
    assert!((h_prepared[0] - h[0]).abs() < 1e-15);
    let (r, z) = (sig(-0.4 + h1), sig(1.2 + 0.25 * h1));
    let n = (-1.7 + r * (-0.5 * h1)).tanh();
    let h2 = (1.0 - z) * n + z * h1;
    assert!((h[0] - h2).abs() < 1e-15, "{} vs {h2}", h[0]);

    // LSTM: gates i, f, g, o with W_ih = [1, 2, -1, 0.5], W_hh = 0, biases 0.
    let w_ih = [[[1.0]], [[2.0]], [[-1.0]], [[0.5]]];
    let w_hh = [[[0.0]]; 4];
    let zero = [[0.0]; 4];
    let p = RnnParams {
        weight_ih: &w_ih,
        weight_hh: &w_hh,
        bias_ih: &zero,
        bias_hh: &zero,
    };
    let weights = StreamWeights::new(&p);
    let (mut h, mut c) = ([0.0], [0.0]);
    let (mut h_prepared, mut c_prepared) = ([0.0], [0.0]);
    lstm_step(&p, &[0.5], &mut h, &mut c);
    lstm_stream_step::<_, Unfused, 1, 1>(&weights, &[0.5], &mut h_prepared, &mut c_prepared);
    assert_eq!((h, c), (h_prepared, c_prepared));
    let c1 = sig(0.5) * (-0.5f64).tanh();
    assert!((c[0] - c1).abs() < 1e-15);
    assert!((h[0] - sig(0.25) * c1.tanh()).abs() < 1e-15);
    lstm_step(&p, &[0.5], &mut h, &mut c);
    let c2 = sig(1.0) * c1 + c1;
    assert!((c[0] - c2).abs() < 1e-15);
}

/// A block `weight_ih | weight_hh | bias_ih | bias_hh` views as those tensors, for parameters
/// and gradients; a block of another length is an error naming it.
#[test]
fn block_views_are_the_four_tensors_in_order() {
    fn check<const G: usize>() {
        let p = Owned::<f64, G, F, H>::reference();
        let mut block = p.flat();
        assert_eq!(block.len(), rnn_param_len(G, F, H));
        let view = RnnParams::<f64, G, F, H>::from_block(&block).unwrap();
        assert_eq!(view.weight_ih, &p.weight_ih);
        assert_eq!(view.weight_hh, &p.weight_hh);
        assert_eq!(view.bias_ih, &p.bias_ih);
        assert_eq!(view.bias_hh, &p.bias_hh);
        let grads = RnnGrads::<f64, G, F, H>::from_block(&mut block).unwrap();
        grads.bias_hh[G - 1][H - 1] = 7.0;
        grads.weight_ih[0][0][0] = -7.0;
        assert_eq!((block[0], block[block.len() - 1]), (-7.0, 7.0));
        for len in [block.len() - 1, block.len() + 1, 0] {
            let mut other = std::vec![0.0; len];
            let expected = Err(crate::Error::Length {
                what: "recurrent layer: parameter block",
                expected: rnn_param_len(G, F, H),
                found: len,
            });
            assert_eq!(
                RnnParams::<f64, G, F, H>::from_block(&other).map(|_| ()),
                expected
            );
            let result = RnnGrads::<f64, G, F, H>::from_block(&mut other);
            assert!(
                matches!(result, Err(crate::Error::Length { what, found, .. })
                    if what == "recurrent layer: gradient block" && found == len),
                "length {len}"
            );
        }
    }
    check::<GRU_GATES>();
    check::<LSTM_GATES>();
}

#[test]
fn param_len_is_the_four_tensors() {
    assert_eq!(rnn_param_len(GRU_GATES, 3, 4), 12 * 3 + 12 * 4 + 24);
    assert_eq!(rnn_param_len(LSTM_GATES, 1, 16), 64 + 64 * 16 + 128);
}

/// Generated by reference/recurrent.py (PyTorch, float64); do not edit by hand.
#[test]
fn views_of_a_network_buffer() {
    // A block at offset 3 of a larger parameter array is the block `from_block` views.
    let flat: [f64; 3 + 36 + 2] = core::array::from_fn(|i| i as f64);
    let at = GruParams::<f64, 2, 2>::at::<41, 3>(&flat);
    let block = GruParams::<f64, 2, 2>::from_block(&flat[3..39]).unwrap();
    assert_eq!(at.weight_ih, block.weight_ih);
    assert_eq!(at.bias_hh, block.bias_hh);
    assert_eq!(at.weight_ih[0][0], [3.0, 4.0]);
    assert_eq!(at.bias_hh[2][1], 38.0);
    let mut grads = [0.0f64; 41];
    let view = GruGrads::<f64, 2, 2>::at::<41, 3>(&mut grads);
    view.bias_hh[2][1] = 1.0;
    assert_eq!(grads[38], 1.0);

    // `[[T; S * F]; B]` as `[[[T; F]; S]; B]`, row-major.
    let mut x: [[f32; 6]; 2] = [
        [0.0, 1.0, 2.0, 3.0, 4.0, 5.0],
        [6.0, 7.0, 8.0, 9.0, 10.0, 11.0],
    ];
    let steps = sequences::<f32, 2, 3, 2, 6>(&x);
    assert_eq!(steps[1][2], [10.0, 11.0]);
    sequences_mut::<f32, 2, 3, 2, 6>(&mut x)[0][1][0] = -1.0;
    assert_eq!(x[0][2], -1.0);
}

#[rustfmt::skip]
mod reference {
    pub const B: usize = 2;
    pub const T: usize = 5;
    pub const F: usize = 3;
    pub const H: usize = 4;
    pub mod gru {
        pub const Y: [f64; 40] = [0.41575980058500617, 0.42051104055022187, -0.046311423032320956, -0.04942420417820246, 0.364114301926164, 0.6297803456994923, -0.4631288523441578, 0.04313899014521583, 0.5330807228584451, 0.6428969720231129, -0.21905840438569144, 0.003950528010152981, 0.5420611145483903, 0.7785378707308868, -0.4090539999667319, 0.0949443554033303, 0.6321629601301093, 0.6740749832510768, -0.23622354676046295, -0.007105233581678486, 0.3997596794126994, 0.40606576000760863, -0.19899531624236744, 0.03331112451996247, 0.5741795427971885, 0.5633341568711594, 0.7021304024778785, -0.3197851216282026, 0.6280182651109434, 0.8416070328910954, -0.35859308439608595, -0.16092236786406794, 0.4348567738277128, 0.8308491314798826, 0.21192933248389706, -0.15774418240325205, 0.5488252834500731, 0.84231591708339, -0.31929185051854025, -0.058858115718962045];
        pub const H_LAST: [f64; 8] = [0.6321629601301093, 0.6740749832510768, -0.23622354676046295, -0.007105233581678486, 0.5488252834500731, 0.84231591708339, -0.31929185051854025, -0.058858115718962045];
        pub const SEQUENCE_DX: [f64; 30] = [0.133455093951577, -0.1266816119630963, 0.031127104325794602, -0.4949300321863663, 0.17164280465845724, 0.08590960945214388, 0.18041115355945306, -0.1573009392821656, 0.09423871353534335, 0.15400116368384237, 0.11688113329636247, 0.055775392045211696, 0.6305385360730692, -0.34867573341284175, -0.30540417844340556, -0.06326614077555225, 0.21841479312270856, 0.23000964501186968, -0.2505172413646598, -0.1672455618488857, -0.2649399537085761, -0.029798405293703804, -0.19077572517283523, -0.054860575780820375, 0.10654010432486083, 0.19350432449219607, 0.0041586959272248356, 0.3643345598933809, -0.3865747289438668, -0.24491517671735086];
        pub const SEQUENCE_DW_IH: [f64; 36] = [-0.006454764956817622, -0.050170582313023994, 0.007174155744784469, -0.14510294057175446, -0.037067949920875816, 0.026570984536395913, 0.1278741310903873, 0.07828760584214138, 0.005188246269847985, 0.005737767769802698, -6.117968885714951e-05, -0.00593814813806962, -0.1469083315915218, -1.88564494450409e-05, 0.13336495565224915, 0.008154855735252192, -0.03295076335157453, -0.02236223543195843, 0.10905481434744076, -0.04471617803172158, 0.03193132711829168, 0.025596774662057058, -0.008474624605009282, -0.024408324806211443, -0.006841383871517683, -0.3329611266883543, 0.0034376390176631935, -0.9601122031528246, 0.07119236666777773, 0.2372125315196275, -1.1875306163395076, -0.8602695878148552, -0.3933467467303072, 0.016405709746352942, -0.028975356086339814, 0.27283374701745194];
        pub const SEQUENCE_DW_HH: [f64; 48] = [0.021001340828476094, 0.029985710210089646, -0.011683157273832692, -0.005939951015925781, -0.0250101289055656, -0.05138274904898292, -0.008052165210304855, 0.0008029604815919401, 0.0696029637261936, 0.12091676294630481, 0.045294865834930496, -0.02428832207065233, 0.0031965493043234344, 0.004200835112228576, -0.0035158542761896503, -0.0002645893990157619, 0.041297565169361165, 0.05264980061059753, -0.013039316442450209, -0.005948269841159932, 0.014920120898847561, 0.009570340487980486, 0.01534314947111302, -0.009265686591221598, -0.1782084748296694, -0.21790513933662284, -0.21790026993899195, 0.10258804683837251, 0.034429331039439195, 0.01763991167005994, 0.048907690715965534, -0.018664009652647744, 0.056168649612278694, 0.08132985856437103, -0.03015336863633942, -0.014109306373641734, 0.08597595442828142, 0.035870346479651066, -0.07224928637858552, 0.0068816824001454655, -0.20722983241216644, -0.38523051538671815, 0.023370372041323924, 0.022480360577338987, 0.08378646665106783, 0.14170138500921495, -0.06759736420495996, 0.006279903146182759];
        pub const SEQUENCE_DB_IH: [f64; 12] = [0.041167590221913034, -0.052880790994007165, 0.14231088264391023, 0.027013537679740483, -0.09568429086964081, -0.027689111875581547, -0.35237740736484546, 0.0490102153106506, 0.28294694335464066, 0.021994634482942144, -0.7778509501368877, -0.09511287451165312];
        pub const SEQUENCE_DB_HH: [f64; 12] = [0.04116759022191303, -0.052880790994007165, 0.14231088264391023, 0.027013537679740483, -0.09568429086964082, -0.027689111875581547, -0.3523774073648455, 0.0490102153106506, 0.14262210833468053, 0.19467308267634678, -0.46044085877872537, -0.025287095543603727];
        pub const LAST_DX: [f64; 30] = [-0.00274252884419412, 0.004539649400788017, 0.008901751471000656, -0.02281140461838173, -0.004296823063356708, 0.0006361735528094851, -0.03976609321854668, 0.02755539917760083, 0.063333856854412, 0.057248133853151535, -0.06039683519387004, -0.024427767461659505, 0.17842155379791091, -0.0763979686245551, 0.17778619308220217, 0.03431309507082613, -0.01258507473553144, -0.0029194929689902675, 0.03988275788192462, 0.03460586626037836, 0.033576864821943275, 0.02449365921968399, -0.00312232444356425, 0.002346245545203806, 0.338944365819366, 0.18923357302286736, 0.05274212927817483, -0.1179186568446268, 0.12247306805898572, 0.028510322727355035];
        pub const LAST_DW_IH: [f64; 36] = [-0.03937643487280478, -0.04461349017920673, 0.03750540276700786, -0.006822285311559369, -0.015017302100649506, -0.011551718670270333, 0.002930629185780664, 0.0029803918905115558, 0.006022800701580557, 0.006055771046596959, 0.004212976009990307, 0.0008123416062539358, -0.06723687871435921, -0.10276149679356861, 0.07495149679915726, -0.003297131500423699, -0.005915926755903927, -0.008483815009604226, 0.05228294746057645, 0.036807945820531436, 0.01886740600744567, -0.026827930244926048, -0.03584236301231662, -0.033215588130378795, -0.23363859491126673, -0.2596804040094718, 0.21658820245565363, -0.03337454623198042, -0.06241395570610496, -0.04278370590530152, -0.13875028064898628, -0.07791243352667822, -0.039264484859664085, -0.5400408102201277, -0.35442852217591164, -0.13745172926432395];
        pub const LAST_DW_HH: [f64; 48] = [0.038612063654817876, 0.051303240112543266, -0.01708163860774174, -0.009555837390363272, 0.009625328565424135, 0.02181180355455577, 0.01637519134572207, -0.009677584728682862, 0.004128910470083143, -0.003916025861969288, -0.013066544212107227, 0.005104793509567647, 0.004115665109519092, 0.005880507674533189, -0.0030943745165664923, 0.0004657406509620455, -0.013356456183878297, -0.02960691083694482, -0.04886782525445768, 0.004386674069000955, 0.0005929430734153181, 7.74008662115113e-05, -0.000887457682457938, 0.00013570321474370983, 0.031686978898001796, 0.0637820301315615, -0.022414715086511078, 0.0030952930064563826, -0.0035777828519559947, -0.009394676667861866, 0.015490070732529792, -0.005553318874690181, 0.10170050907879663, 0.1355148049292132, -0.03563022047021204, -0.02591908522775706, 0.008168504729156655, 0.025745762392478087, 0.033485619055979327, -0.01822892802898745, -0.05567258329210681, -0.05653765808501248, 0.05956445098583304, -0.018104983093608064, -0.17787492680318187, -0.25007574634183616, 0.12318360860283625, -0.019653759306267494];
        pub const LAST_DB_IH: [f64; 12] = [0.06901135187320162, 0.024279421824336383, 0.0002934168716098866, 0.010837910132323837, -0.07814847974245334, 0.010110996389759031, 0.06957800049944299, -0.008488005534760607, 0.48401137249070997, 0.06480923177204993, -0.20710856134205244, -0.7596988909173816];
        pub const LAST_DB_HH: [f64; 12] = [0.06901135187320162, 0.024279421824336386, 0.00029341687160988514, 0.010837910132323837, -0.07814847974245336, 0.010110996389759031, 0.06957800049944299, -0.008488005534760602, 0.1955064817157941, 0.02241436561021546, -0.10228248450865172, -0.3619434451459433];
    }
    pub mod lstm {
        pub const Y: [f64; 40] = [0.1261975943219376, 0.050014347157523835, -0.021143348865246263, -0.1123596743337905, 0.06270053862831973, 0.07334555309260708, -0.16387010429496413, 0.008669128614582858, 0.19157057159688232, 0.06999778698700392, -0.025660199125856216, -0.10799426779662663, 0.09384886840210602, 0.08357346127640704, -0.15377623832817336, -0.004488162481669326, 0.23567544686752032, 0.06443400725687713, -0.023754895759546073, -0.12685974073504952, 0.0798978973005658, 0.044915418426980984, -0.07782762712944799, -0.03268915417526717, 0.37174236645064224, 0.040043990431831655, 0.26911512247148583, -0.29085413086342415, 0.10957159726096954, 0.08629770167391303, -0.15598604359839724, -0.1482618453881519, 0.12608704419251643, 0.060599149708269844, 0.14098094636094113, -0.2646733772475659, 0.13873689148162058, 0.09045770462396546, -0.12442461769018119, -0.23037469272906289];
        pub const H_LAST: [f64; 8] = [0.23567544686752032, 0.06443400725687713, -0.023754895759546073, -0.12685974073504952, 0.13873689148162058, 0.09045770462396546, -0.12442461769018119, -0.23037469272906289];
        pub const SEQUENCE_DX: [f64; 30] = [-0.007129272638789109, 0.012384237383711943, 0.04734020617591989, -0.10768457833252193, 0.1153143593952071, -0.011756255310310318, 0.03930482853316827, -0.08659890137760025, 0.10959280937885157, -0.05955246996588764, 0.16493780266868285, 0.03201705091849543, 0.2888445043471379, -0.19712145752502777, -0.22498307766754994, -0.103759712750148, 0.06561407323872916, 0.14826876712714068, -0.08033958478257364, -0.24895286302074487, -0.00618650986763594, 0.015101260951751783, -0.0984036411401271, 0.05749794902630558, -0.04194775050441314, 0.21188105536432214, 0.06643261407402833, 0.2098468616731476, -0.2752031794392657, -0.11162236181240065];
        pub const SEQUENCE_DW_IH: [f64; 48] = [0.06039906690973995, -0.09072947606348024, -0.023179569117982673, -0.03335006460223193, -0.00953894867373387, 0.01666249069782644, -0.04336117994780644, 0.05505785169171477, 0.057314749635344414, -0.01585039621355021, -0.00864562480159288, -0.013182955236876695, 0.016323732584414496, -0.07879747291824776, -0.008147712607594922, -0.014572800227938155, -0.0033342748956373715, 0.007732570184523789, 0.03418959594528632, 0.022802203245245907, 0.015590979322710771, -0.010802488258561883, -0.006197732170180392, -0.01299468355651677, -0.0028997046251937903, -0.08143815887254095, 0.03731604196286022, -0.13266358441610104, 0.021738281209897015, 0.03628304351273149, -0.5219461727828046, -0.4008744260115514, -0.1281247461768767, -0.03852761041086614, 0.014272116726070698, 0.24474666354625138, -0.014987434093935034, -0.2436903455579407, -0.045149898104452454, -0.09915560793128862, -0.017807442052817285, 0.0582819200667658, -0.010240353168499583, 0.16885371171938832, 0.13034461532818595, 0.005409259576001371, -0.09334665398442973, -0.007102334280393847];
        pub const SEQUENCE_DW_HH: [f64; 64] = [0.0007088575912776746, -0.0013766454686555962, 0.004660611983431163, -0.002657970532516747, -0.005574240905613398, -0.0019806218623057846, -0.005053107668266687, 0.008549869003466316, 0.016683514711875153, 0.00504252692690065, 0.006658506193423051, -0.017656024276635447, -0.008156061620483383, -0.0021134859179583613, -0.003957629486842779, 0.006836835058402087, 0.0034743462625161517, 0.0010064417715344443, 0.0002254869341824315, -0.00497806216703769, -0.0015479253085289631, -0.0005758038270985656, -0.002283247041169293, 0.003035505845768732, -0.009966258850406147, -6.668430889876097e-05, -0.012296013460410725, 0.01220938092940399, 0.013975444557357788, -0.0023401708851883128, 0.008944012526746769, 0.000398176739619156, 0.005085953255417433, 0.0035301497742561655, -0.0054285813991996525, -0.007788037146967861, 0.0005449317756627114, -0.00017716676729191347, -0.004409859591960657, 0.0014923293045686343, -0.04339877655537211, -0.02052500854759655, -0.021217665969309248, 0.03905521457408356, -0.05767938063220128, 0.0151954330821081, -0.052329506872311894, -0.00450341266619383, 0.004460816682425704, 0.0018408702309189087, -0.008489769164280975, -0.00549056435614732, -0.007613318642245869, -0.001795727441508666, -0.013548652958409292, 0.013090450171827918, 0.024440580162503084, 0.008197886669099836, 0.012975304598453755, -0.027529865319779665, 0.0063364536136089385, 0.00028990942284472156, -0.00010002801048161368, -0.003620114362303292];
        pub const SEQUENCE_DB_IH: [f64; 16] = [-0.0508035553304859, -0.04388667042346252, 0.10101914112843985, -0.009570835457652433, -0.00876514112110956, -0.011461499593556766, -0.020765404970786824, -0.014233500148193648, 0.005430994049412475, 0.013074532164704167, -0.30147859393923093, -0.21330418152981695, 0.04364131859866899, -0.035274604131452496, 0.17363804343259875, -0.0051908537083704825];
        pub const SEQUENCE_DB_HH: [f64; 16] = [-0.05080355533048591, -0.04388667042346251, 0.10101914112843985, -0.009570835457652423, -0.00876514112110955, -0.011461499593556766, -0.02076540497078682, -0.014233500148193646, 0.005430994049412462, 0.013074532164704172, -0.3014785939392309, -0.21330418152981712, 0.04364131859866896, -0.0352746041314525, 0.17363804343259875, -0.005190853708370479];
        pub const LAST_DX: [f64; 30] = [-0.0016316772544792929, 0.000208687154329621, 0.0026060261524004317, -0.00327972388538743, -0.00020696793549953752, 0.0041275898150943974, -0.00802355803605492, -0.005021903514316511, 0.017346712883918217, -0.002878752345292085, 0.02201545406137263, 0.021592326121141318, 0.02156376591928944, -0.0700047101459997, 0.13363392412915764, 0.0012047329320939168, 0.00034622970384550194, 9.624881167250172e-05, 0.0008778253993933165, -0.0013985512217597328, -0.0010878130410908386, 0.0005875841424382985, 0.0017360802869481147, 0.0013671661321732283, 0.0294912292415105, -0.004615375296487367, -0.019978568389376363, -0.10524697182408332, 0.17850477868785583, 0.050945145277601];
        pub const LAST_DW_IH: [f64; 48] = [0.006036231710961801, -0.0014307724763109363, -0.0006150543428343983, 0.0010300204506567025, -0.006260489903300279, -0.0030302037454970005, -0.004578184688541516, -0.0009362814537687319, -0.00042281342979509466, 0.05676164879590277, 0.0418337712115707, 0.02449687048481019, 0.0011587833211103918, -0.00471923553240304, 0.0034690279411047705, -0.0001197255387747993, -0.0034613853565240915, -0.0006666409289930813, 0.011569952755407993, 0.00718991580633771, 0.0041512277269773416, 0.0005622033654326143, -0.0012220724877137692, -0.005212428586074298, -0.0087396898300093, -0.013071084693519096, 0.010140040545654355, -0.015741687723670916, -0.013408032210572015, -0.0012651783985872782, -0.06540438255049322, -0.04966433075952117, -0.05226097706343267, -0.2558773501616875, -0.13907592762073964, 0.012356445500869718, 0.062033586954148276, 0.03055783739176826, -0.01567641549124065, 0.006468636149888612, -0.004658951105642138, -0.011893997926343783, 9.243038517927314e-05, 0.009716573814356894, 0.015331632125497673, 0.019534839595574685, 0.015456653781131565, 0.0010435648333108844];
        pub const LAST_DW_HH: [f64; 64] = [0.0058056651264856785, 0.0024866475747073115, 0.0032222339988427938, -0.00884898186133524, 0.003977765095651928, 0.0015275176191402594, 0.0037258676054432727, -0.007412073633962447, -0.001183765880798509, -0.0008923343468365142, -0.0004185208315305546, 0.002504425882940014, 0.003968972873437571, 0.004376463920890561, -0.009012588983546056, 0.0007454194337857055, 0.004026647239376962, 0.001905956387027016, 0.0010264076133925319, -0.005795185275174041, 0.0017345975663384141, 0.0007441646679199836, 0.00144891063842739, -0.003349039301472471, 0.0011900046520012244, 0.0011855280506295064, -0.0016283432338595452, -0.0008007246322087916, 0.001426243890438743, 0.00037437720244603244, 0.00020860740545361293, -0.000716313710415028, 0.0026414071847041536, 0.0015933237896864755, -0.0014454934692617971, -0.003585220129990677, 0.0019621585554492576, 0.0005392007127182874, 0.0031804399872918014, -0.005450561436148374, -0.004301363512521399, -0.005656571090694859, 0.02394787029243763, -0.012743502594596884, -0.047696821475366004, -0.030060376923211753, 0.0428523535077132, 0.012649811484798771, 0.013214862463814326, 0.0063017473083248, 0.014397944175071904, -0.025826968980784987, 0.005349177315119075, 0.002143431945341841, 0.007311081011504847, -0.011980546103971474, -0.004045868548263533, -0.0016383987189775785, -0.003649239797182797, 0.007210197019297558, 0.0011998909746886123, 0.0008449401968826211, -0.001255788780474543, 0.000538092660263826];
        pub const LAST_DB_IH: [f64; 16] = [0.03964542515865015, 0.025319548701296955, -0.012690028277477169, 0.05244101515624569, 0.02820315249253682, 0.011964839609021758, 0.014536027772812274, 0.00609898418174273, 0.021218947937058655, 0.011606686246719634, -0.05205749837531619, -0.3940323803466155, 0.10235288936589797, 0.037680230061413425, -0.026733191153595848, 0.010234852776579467];
        pub const LAST_DB_HH: [f64; 16] = [0.039645425158650154, 0.02531954870129696, -0.012690028277477169, 0.052441015156245684, 0.02820315249253682, 0.011964839609021758, 0.014536027772812272, 0.006098984181742729, 0.021218947937058658, 0.011606686246719636, -0.05205749837531619, -0.3940323803466154, 0.10235288936589798, 0.03768023006141342, -0.02673319115359585, 0.010234852776579467];
    }
}

/// `stream_linear` against a plain sum, unfused and fused, over lengths with and without a
/// tail of fewer than eight products.
#[test]
fn stream_linear_is_the_matrix_vector_product() {
    fn check<const K: usize>() {
        let w: [[f64; K]; 3] = core::array::from_fn(|o| core::array::from_fn(|k| value(o, k)));
        let x: [f64; K] = core::array::from_fn(|k| value(7, k));
        let want: [f64; 3] = core::array::from_fn(|o| (0..K).map(|k| w[o][k] * x[k]).sum());
        let (mut unfused, mut fused) = ([f64::NAN; 3], [f64::NAN; 3]);
        stream_linear::<f64, Unfused, K, 3>(&w, &x, &mut unfused);
        stream_linear::<f64, Fused, K, 3>(&w, &x, &mut fused);
        for ((u, f), w) in unfused.iter().zip(&fused).zip(&want) {
            assert!(
                (u - w).abs() < 1e-14 && (f - w).abs() < 1e-14,
                "{K}: {u} {f} {w}"
            );
        }
    }
    check::<1>();
    check::<8>();
    check::<16>();
    check::<19>();
}
