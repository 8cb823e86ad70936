//! Running a loop on the widest vector instructions the CPU has.
//!
//! The crate is compiled for the target's baseline (SSE2 on x86-64) so that one binary runs
//! everywhere. A loop that should use AVX2 or AVX-512 where the CPU has them is written as a
//! [`Simd`] computation whose `run` is `#[inline(always)]`: [`dispatch`] calls it through a
//! `#[target_feature]` function, into which `run` (and everything it inlines) is compiled with
//! those features. Element-wise loops give bit-identical results on every level (IEEE
//! operations, no reassociation, no fused multiply-add unless written). Both wide levels have
//! FMA, and call [`Simd::run_fma`], which is `run` unless the computation writes its
//! multiply-adds with [`Fused`](crate::kernels::math::Fused) there (results then differ from
//! the baseline's within rounding).

/// A computation to compile once per instruction-set level. Implement `run` with
/// `#[inline(always)]`, or it is compiled for the baseline only.
pub trait Simd {
    /// What the computation returns.
    type Output;
    /// The computation.
    fn run(self) -> Self::Output;
    /// The computation where fused multiply-add is compiled in (AVX2 and FMA, AVX-512F): by
    /// default [`Simd::run`]. A computation that trades bit-identical results across levels
    /// for a shorter chain of dependent operations runs its
    /// [`MulAdd`](crate::kernels::math::MulAdd) form with [`Fused`](crate::kernels::math::Fused)
    /// here (`#[inline(always)]` too).
    #[inline(always)]
    fn run_fma(self) -> Self::Output
    where
        Self: Sized,
    {
        self.run()
    }
}

/// Runs `computation` compiled for AVX-512F, or AVX2 and FMA, when this CPU has them (under
/// `std` on x86-64, where the features can be detected; std caches the query), else for the
/// baseline: [`Level::detect`] then [`Level::run`]. A generated network runs each of its
/// forward, backward and inference bodies through one call of this, so the element-wise loops it
/// inlines (activations, bias adds, softmax, normalization, pooling) use the wide registers.
#[inline]
pub fn dispatch<S: Simd>(computation: S) -> S::Output {
    Level::detect().run(computation)
}

/// An instruction-set level detected once and kept, for a computation run many times in a row
/// (a streaming step per audio sample) where [`dispatch`]'s query at every call would cost more
/// than it saves. Only [`Level::detect`] makes a level above the baseline, so a `Level` always
/// names features this CPU has. Write the computation as for [`dispatch`], a type whose `run` is
/// `#[inline(always)]`: a closure's body is not reliably inlined into the `#[target_feature]`
/// function (it then runs on the baseline).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Level(Isa);

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Isa {
    Baseline,
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    Avx2Fma,
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    Avx512,
}

// The widest level `Level::detect` may return on this thread: every level but while
// `with_max_level` runs.
#[cfg(all(feature = "std", target_arch = "x86_64"))]
std::thread_local! {
    static MAX_LEVEL: core::cell::Cell<Isa> = const { core::cell::Cell::new(Isa::Avx512) };
}

/// Runs `f` with [`dispatch`] and [`Level::detect`] on this thread limited to `max` (a level
/// that this CPU has, from [`Level::detect`] or [`Level::narrower`]), so that a test can run
/// the same computation on every level and compare the results bit for bit.
#[doc(hidden)]
#[cfg(feature = "std")]
pub fn with_max_level<R>(max: Level, f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        struct Restore(Isa);
        impl Drop for Restore {
            fn drop(&mut self) {
                MAX_LEVEL.with(|cell| cell.set(self.0));
            }
        }
        let _restore = Restore(MAX_LEVEL.with(|cell| cell.replace(max.0)));
        f()
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = max;
        f()
    }
}

impl Level {
    /// The widest level this CPU has among those [`Level::run`] compiles for: AVX-512F, else
    /// AVX2 and FMA, on x86-64 under `std` (as [`dispatch`]), else the baseline; at most the
    /// level [`with_max_level`] sets on this thread.
    #[inline]
    pub fn detect() -> Self {
        #[cfg(all(feature = "std", target_arch = "x86_64"))]
        {
            let max = MAX_LEVEL.with(core::cell::Cell::get);
            Self::widest_up_to(max)
        }
        #[cfg(not(all(feature = "std", target_arch = "x86_64")))]
        Level(Isa::Baseline)
    }

    /// The widest level this CPU has, whatever [`with_max_level`] sets: for kernels that, like
    /// the GEMM's leaves, pick their instruction set (and with it fused multiply-adds, in their
    /// [`Simd::run_fma`]) by the CPU alone, so that one CPU gives the same bits on every level
    /// of the code that calls them.
    #[inline]
    pub fn of_cpu() -> Self {
        #[cfg(all(feature = "std", target_arch = "x86_64"))]
        {
            Self::widest_up_to(Isa::Avx512)
        }
        #[cfg(not(all(feature = "std", target_arch = "x86_64")))]
        Level(Isa::Baseline)
    }

    /// The widest level this CPU has, at most `max`.
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    #[inline]
    fn widest_up_to(max: Isa) -> Self {
        if max >= Isa::Avx512 && std::is_x86_feature_detected!("avx512f") {
            return Level(Isa::Avx512);
        }
        if max >= Isa::Avx2Fma
            && std::is_x86_feature_detected!("avx2")
            && std::is_x86_feature_detected!("fma")
        {
            return Level(Isa::Avx2Fma);
        }
        Level(Isa::Baseline)
    }

    /// The next narrower level (AVX2 and FMA below AVX-512F, the baseline below both), `None`
    /// for the baseline: with [`Level::detect`], every level this CPU has.
    pub fn narrower(self) -> Option<Self> {
        match self.0 {
            Isa::Baseline => None,
            #[cfg(all(feature = "std", target_arch = "x86_64"))]
            Isa::Avx2Fma => Some(Level(Isa::Baseline)),
            #[cfg(all(feature = "std", target_arch = "x86_64"))]
            Isa::Avx512 => Some(Level(Isa::Avx2Fma)),
        }
    }

    /// The target's baseline (every CPU).
    pub const fn baseline() -> Self {
        Level(Isa::Baseline)
    }

    /// Whether this level is above the baseline.
    pub fn is_wide(self) -> bool {
        self.0 != Isa::Baseline
    }

    /// Runs `computation` compiled for this level: one branch, no feature query.
    #[inline(always)]
    pub fn run<S: Simd>(self, computation: S) -> S::Output {
        match self.0 {
            #[cfg(all(feature = "std", target_arch = "x86_64"))]
            Isa::Avx2Fma => {
                #[target_feature(enable = "avx2,fma")]
                fn avx2<S: Simd>(computation: S) -> S::Output {
                    computation.run_fma()
                }
                // SAFETY: a `Level` above the baseline is made only by `detect`, after checking
                // that the CPU has AVX2 and FMA, the only requirement of a `#[target_feature]`
                // function; `run` is safe Rust.
                unsafe { avx2(computation) }
            }
            #[cfg(all(feature = "std", target_arch = "x86_64"))]
            Isa::Avx512 => {
                #[target_feature(enable = "avx512f")]
                fn avx512<S: Simd>(computation: S) -> S::Output {
                    computation.run_fma()
                }
                // SAFETY: a `Level` above the baseline is made only by `detect`, after checking
                // that the CPU has AVX-512F, the only requirement of a `#[target_feature]`
                // function; `run` is safe Rust.
                unsafe { avx512(computation) }
            }
            Isa::Baseline => computation.run(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Scale<'a>(&'a mut [f32], f32);

    impl Simd for Scale<'_> {
        type Output = f32;
        #[inline(always)]
        fn run(self) -> f32 {
            for v in self.0.iter_mut() {
                *v *= self.1;
            }
            self.0.iter().sum()
        }
    }

    #[test]
    fn a_computation_gives_the_baseline_result() {
        let mut a: [f32; 100] = core::array::from_fn(|i| i as f32 * 0.1);
        let mut b = a;
        let wide = dispatch(Scale(&mut a, 1.5));
        let baseline = Scale(&mut b, 1.5).run();
        assert_eq!(a, b);
        assert_eq!(wide, baseline);
    }

    #[test]
    fn a_detected_level_gives_the_baseline_result() {
        let mut a: [f32; 100] = core::array::from_fn(|i| i as f32 * 0.1);
        let mut b = a;
        let level = Level::detect();
        let wide = level.run(Scale(&mut a, 1.5));
        let baseline = Level::baseline().run(Scale(&mut b, 1.5));
        assert!(!Level::baseline().is_wide());
        assert_eq!(a, b);
        assert_eq!(wide, baseline);
    }

    #[cfg(feature = "std")]
    #[test]
    fn a_capped_level_is_the_one_detected_on_this_thread_only_and_not_the_cpus() {
        let widest = Level::detect();
        let mut level = Some(widest);
        while let Some(max) = level {
            with_max_level(max, || {
                assert_eq!(Level::detect(), max);
                // Kernels that pick their level by the CPU are not capped.
                assert_eq!(Level::of_cpu(), widest);
                let other = std::thread::spawn(Level::detect).join().unwrap();
                assert_eq!(other, widest);
                let mut a: [f32; 100] = core::array::from_fn(|i| i as f32 * 0.1);
                let mut b = a;
                assert_eq!(dispatch(Scale(&mut a, 1.5)), Scale(&mut b, 1.5).run());
                assert_eq!(a, b);
            });
            level = max.narrower();
        }
        assert_eq!(Level::detect(), widest);
        assert_eq!(Level::baseline().narrower(), None);
    }
}
