"""Polynomial coefficients of runtime/src/kernels/math.rs.

Run with python3 reference/math_coefficients.py (needs mpmath, which comes with
torch's sympy); it prints the coefficient arrays, lowest degree first, rounded to f32 / f64 as the
Rust source holds them. Each is a Chebyshev fit (mpmath.chebyfit), near-minimax in absolute error;
the printed error is the fit's before rounding. Committed for reproducibility, never run by CI.
"""
import mpmath as mp
import numpy as np

mp.mp.dps = 60


def fit(f, a, b, degree):
    poly, err = mp.chebyfit(f, [a, b], degree + 1, error=True)
    return list(reversed(poly)), err


def show(name, f, a, b, degree, ty):
    coeffs, err = fit(f, a, b, degree)
    if ty == "f32":
        text = ", ".join(str(np.float32(float(c))) for c in coeffs)  # shortest f32 repr
    else:
        text = ", ".join(repr(float(c)) for c in coeffs)
    print(f"{name} {ty} (degree {degree}, fit error {mp.nstr(err, 3)}): [{text}]")


def exp_tail(r):
    """(e^r - 1 - r) / r^2: e^r = 1 + r + r^2 P(r)."""
    if abs(r) < mp.mpf("1e-20"):
        return mp.mpf(1) / 2
    return (mp.exp(r) - 1 - r) / r**2


def tanh_tail(z):
    """(tanh x - x) / x^3 with z = x^2: tanh x = x + x^3 Q(x^2)."""
    if z < mp.mpf("1e-30"):
        return -mp.mpf(1) / 3
    x = mp.sqrt(z)
    return (mp.tanh(x) - x) / (z * x)


def erf_small(z):
    """erf(x)/x - 1 with z = x^2: erf x = x + x R(x^2)."""
    if z < mp.mpf("1e-40"):
        return 2 / mp.sqrt(mp.pi) - 1
    x = mp.sqrt(z)
    return mp.erf(x) / x - 1


# |r| <= ln(2)/2, with a margin for n = round(x / ln 2) computed in floating point.
R = mp.log(2) / 2 + mp.mpf("0.001")
show("exp_poly", exp_tail, -R, R, 5, "f32")
show("exp_poly", exp_tail, -R, R, 10, "f64")
# f32 tanh and sigmoid computed in f64 (F32_IN_F64_EXPM1_POLY): e^r - 1 = r + r^2 P(r) to 2^-42.
show("F32_IN_F64_EXPM1_POLY", exp_tail, -R, R, 7, "f64")

# |x| <= atanh(1/2) = 0.5493..., z = x^2 <= 0.3018.
show("tanh_poly", tanh_tail, 0, mp.mpf("0.3018"), 4, "f32")
show("tanh_poly", tanh_tail, 0, mp.mpf("0.3018"), 10, "f64")

# erf_f32: |x| < 0.9 by R(x^2); 0.9 <= x <= 4 by exp(-x^2) G(1/x), G centred on the middle of
# u = 1/x in [1/4, 1/0.9] so that its coefficients stay small (Horner in f32 would lose bits to
# the alternating large coefficients of G in powers of u itself).
show("ERF_SMALL_POLY", erf_small, 0, mp.mpf("0.81"), 6, "f32")
lo, hi = mp.mpf("0.25"), 1 / mp.mpf("0.9") + mp.mpf("0.001")
mid = mp.mpf(float(np.float32(float((lo + hi) / 2))))
print("ERF_U_MID f32:", np.float32(float(mid)))
G = lambda t: mp.exp(1 / (t + mid) ** 2) * mp.erfc(1 / (t + mid))
show("ERF_LARGE_POLY", G, lo - mid, hi - mid, 10, "f32")
