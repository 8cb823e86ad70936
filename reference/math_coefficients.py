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
# f32 sigmoid computed in f64 (F32_IN_F64_EXPM1_POLY): e^r - 1 = r + r^2 P(r) to 2^-42.
show("F32_IN_F64_EXPM1_POLY", exp_tail, -R, R, 7, "f64")


def tanh_rational(n, m, cap, iterations=12):
    """tanh x = x P(x^2) / Q(x^2) on [0, cap], Q(0) = 1: least squares in relative error on
    Chebyshev nodes, reweighted by the previous Q (Loeb's iteration), at 40 digits."""
    with mp.workdps(40):
        count = 4 * (n + m) + 200
        xs = [cap * (1 - mp.cos(mp.pi * (k + 0.5) / count)) / 2 for k in range(count)]
        xs = [x for x in xs if x > mp.mpf("1e-6")]
        ts = [mp.tanh(x) for x in xs]
        weights = [mp.mpf(1)] * len(xs)
        for _ in range(iterations):
            rows, rhs = [], []
            for x, t, w in zip(xs, ts, weights):
                z = x * x
                rows.append([x * z**i / (t * w) for i in range(n + 1)]
                            + [-z**j / w for j in range(1, m + 1)])
                rhs.append(1 / w)
            sol, _ = mp.qr_solve(mp.matrix(rows), mp.matrix(rhs))
            p = [sol[i] for i in range(n + 1)]
            q = [mp.mpf(1)] + [sol[n + 1 + j] for j in range(m)]
            weights = [mp.polyval(q[::-1], x * x) for x in xs]
        err = max(abs(x * mp.polyval(p[::-1], x * x) / mp.polyval(q[::-1], x * x) / mp.tanh(x) - 1)
                  for x in mp.linspace(mp.mpf("1e-4"), cap, 3000))
        return p, q, err


# f32 tanh computed in f64 (F32_IN_F64_TANH_P / _Q): tanh x = x P(x^2) / Q(x^2) on [0, 9.02],
# degrees 6 and 6, relative error 2^-44.6 before rounding the coefficients.
p, q, err = tanh_rational(6, 6, mp.mpf("9.02"))
print(f"F32_IN_F64_TANH_P f64 (relative error {mp.nstr(err, 3)}): [{', '.join(repr(float(c)) for c in p)}]")
print(f"F32_IN_F64_TANH_Q f64: [{', '.join(repr(float(c)) for c in q)}]")

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
