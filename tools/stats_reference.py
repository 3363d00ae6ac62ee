#!/usr/bin/python3
"""Reference values for tests/unit/test_stats.c, computed once and pasted
there as constants (nothing here runs at test time).

    /usr/bin/python3 tools/stats_reference.py      # needs scipy and mpmath

t, dof, p and the intervals come from mpmath at 40 digits (p as the
regularized incomplete beta, quantiles by findroot on it) and are checked
against scipy.stats (ttest_rel, ttest_ind(equal_var=False), t.ppf). Power
is scipy.stats.nct (Boost's noncentral t), seed counts the least n whose
nct power reaches 0.8. Holm follows its definition, p_(i) adjusted to
max_{j<=i} min(1, (k-j+1) p_(j)); Hedges' g is written out from its
formula. The sequential rule's looks use t quantiles at 1 - 0.05/(2K).
"""
import math

import mpmath as mp
import warnings

import scipy.stats as st

warnings.simplefilter("ignore", RuntimeWarning)   # Boost's nct at small df
mp.mp.dps = 40


def t_sf2(t, df):
    """Two-sided tail P(|T| >= |t|) in mpmath."""
    t, df = mp.mpf(t), mp.mpf(df)
    return mp.betainc(df / 2, mp.mpf(1) / 2, 0, df / (df + t * t), regularized=True)


def t_quantile(p, df):
    """Upper quantile: |t| with two-sided tail 2 (1 - p)."""
    target = 2 * (1 - mp.mpf(p))
    start = st.t.ppf(float(p), float(df))
    return mp.findroot(lambda t: t_sf2(t, df) - target, mp.mpf(start))


def moments(x):
    x = [mp.mpf(v) for v in x]
    n = len(x)
    m = mp.fsum(x) / n
    v = mp.fsum((v - m) ** 2 for v in x) / (n - 1)
    return n, m, v


def hedges(x, b):
    nx, mx, vx = moments(x)
    nb, mb, vb = moments(b)
    sp = mp.sqrt(((nx - 1) * vx + (nb - 1) * vb) / (nx + nb - 2))
    return (1 - mp.mpf(3) / (4 * (nx + nb) - 9)) * (mx - mb) / sp


def paired(name, x, b):
    d = [mp.mpf(a) - mp.mpf(c) for a, c in zip(x, b)]
    n, m, v = moments(d)
    se = mp.sqrt(v / n)
    t, df = m / se, n - 1
    p = t_sf2(t, df)
    half = t_quantile(mp.mpf("0.975"), df) * se
    ref = st.ttest_rel(x, b)
    ci = ref.confidence_interval()
    assert abs(ref.pvalue - float(p)) < 1e-12 * max(1, float(p))
    # scipy's t.ppf is good to ~1e-10 only (Boost), mpmath's to 40 digits
    assert abs(ci.low - float(m - half)) < 1e-9 and abs(ci.high - float(m + half)) < 1e-9
    print(f"{name} paired: diff {mp.nstr(m, 20)} t {mp.nstr(t, 20)} dof {df} p {mp.nstr(p, 20)}")
    print(f"  ci {mp.nstr(m - half, 20)} {mp.nstr(m + half, 20)} g {mp.nstr(hedges(x, b), 20)}")
    print(f"  sd_d {mp.nstr(mp.sqrt(v), 20)} seeds {seeds(float(abs(m) / mp.sqrt(v)), 1.0)}")


def welch(name, x, b):
    nx, mx, vx = moments(x)
    nb, mb, vb = moments(b)
    se2 = vx / nx + vb / nb
    t = (mx - mb) / mp.sqrt(se2)
    df = se2 ** 2 / ((vx / nx) ** 2 / (nx - 1) + (vb / nb) ** 2 / (nb - 1))
    p = t_sf2(t, df)
    half = t_quantile(mp.mpf("0.975"), df) * mp.sqrt(se2)
    ref = st.ttest_ind(x, b, equal_var=False)
    assert abs(ref.pvalue - float(p)) < 1e-12 * max(1, float(p))
    print(f"{name} welch: diff {mp.nstr(mx - mb, 20)} t {mp.nstr(t, 20)} dof {mp.nstr(df, 20)}"
          f" p {mp.nstr(p, 20)}")
    print(f"  ci {mp.nstr(mx - mb - half, 20)} {mp.nstr(mx - mb + half, 20)}"
          f" g {mp.nstr(hedges(x, b), 20)}")
    e = float(abs(mx - mb) / mp.sqrt(vx + vb))
    wx, wb = vx / (vx + vb), vb / (vx + vb)
    print(f"  seeds {seeds(e, float(1 / (wx * wx + wb * wb)))}")


def power(e, k, n, alpha=0.05):
    """nct power with noncentrality e sqrt(n) and dof (n - 1) k."""
    df = (n - 1) * k
    c = st.t.ppf(1 - alpha / 2, df)
    nc = e * math.sqrt(n)
    return st.nct.sf(c, df, nc) + st.nct.cdf(-c, df, nc)


def power_mp(c, df, nc):
    """The same power from its definition, E_S[Phi(nc - c S) + Phi(-nc - c S)]
    with S^2 = chi2_df / df, by mpmath quadrature: checks scipy's nct."""
    c, df, nc = mp.mpf(c), mp.mpf(df), mp.mpf(nc)
    lognorm = mp.log(2) + (df / 2) * mp.log(df / 2) - mp.loggamma(df / 2)

    def f(s):
        dens = mp.exp(lognorm + (df - 1) * mp.log(s) - df * s * s / 2)
        return dens * (mp.ncdf(nc - c * s) + mp.ncdf(-nc - c * s))
    return mp.quad(f, [0, 0.5, 1, 2, mp.inf])


def seeds(e, k, target=0.8, alpha=0.05):
    n = 2
    while power(e, k, n, alpha) < target:
        n += 1
    return n


def holm(p):
    idx = sorted((i for i in range(len(p)) if not math.isnan(p[i])), key=lambda i: (p[i], i))
    k, out, run = len(idx), [math.nan] * len(p), 0.0
    for j, i in enumerate(idx):
        run = max(run, min(1.0, (k - j) * p[i]))
        out[i] = run
    return out


def sequential(name, d, lo_n, hi_n, rope):
    looks = hi_n - lo_n + 1
    for n in range(lo_n, min(hi_n, len(d)) + 1):
        _, m, v = moments(d[:n])
        half = t_quantile(1 - mp.mpf("0.05") / (2 * looks), n - 1) * mp.sqrt(v / n)
        lo, hi = m - half, m + half
        verdict = ("up" if lo > rope else "down" if hi < -rope else
                   "equivalent" if lo >= -rope and hi <= rope else "undecided")
        print(f"{name} n={n}: [{mp.nstr(lo, 17)}, {mp.nstr(hi, 17)}] {verdict}")
        if verdict != "undecided":
            return


def main():
    relu = [0.8912, 0.8934, 0.8897, 0.8921, 0.8908]
    elu = [0.8951, 0.8979, 0.8962, 0.8990, 0.8944]
    paired("P1 elu-relu", elu, relu)
    paired("P2 n=3", [0.5, 0.61, 0.58], [0.52, 0.55, 0.57])
    loss_a = [0.312, 0.298, 0.305, 0.321, 0.290, 0.301, 0.315, 0.308, 0.299, 0.310]
    loss_b = [0.309, 0.301, 0.300, 0.318, 0.296, 0.297, 0.311, 0.310, 0.301, 0.305]
    paired("P3 loss n=10", loss_a, loss_b)
    welch("W1 3v4", [0.8912, 0.8934, 0.8897], [0.8951, 0.8979, 0.8962, 0.8990])
    welch("W2 5v12", [0.71, 0.74, 0.69, 0.80, 0.66],
          [0.701, 0.703, 0.699, 0.702, 0.700, 0.704, 0.698, 0.701, 0.702, 0.700, 0.703, 0.699])
    welch("W3 2v6", [1.5, 2.5], [0.1, 0.4, 0.2, 0.5, 0.3, 0.35])

    for e, k, n in [(3.0, 1, 2), (1.0, 1, 5), (0.5, 1, 30), (0.8, 1.5, 12), (0.2, 1, 200),
                    (1.3, 1.9, 3)]:
        c = float(t_quantile(mp.mpf("0.975"), (n - 1) * k))
        exact = power_mp(c, (n - 1) * k, e * math.sqrt(n))
        assert abs(exact - power(e, k, n)) < 1e-9, (exact, power(e, k, n))
        print(f"power e={e} k={k} n={n}: crit {c!r} dof {(n - 1) * k!r} nc {e * math.sqrt(n)!r}"
              f" power {power(e, k, n)!r}")
    for e, k in [(0.5, 1), (0.8, 1), (1.5, 1), (3.0, 1), (0.1, 1), (0.6, 1.4), (2.0, 2.0)]:
        print(f"seeds e={e} k={k}: {seeds(e, k)} (power there {power(e, k, seeds(e, k))!r},"
              f" one fewer {power(e, k, seeds(e, k) - 1) if seeds(e, k) > 2 else 0!r})")

    # the huge paired sample of test_compare_edges: d = 1e-4 +- 0.01
    n = 200000
    sd = mp.mpf("0.01") * mp.sqrt(mp.mpf(n) / (n - 1))
    t = mp.mpf("0.0001") / (sd / mp.sqrt(n))
    lo, hi = 2, 200000   # seeds by bisection: the plain loop would take hours
    e = float(mp.mpf("0.0001") / sd)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if power(e, 1, mid) >= 0.8 else (mid, hi)
    print(f"huge: t {mp.nstr(t, 20)} p {mp.nstr(t_sf2(t, n - 1), 20)}"
          f" q {mp.nstr(t_quantile(mp.mpf('0.975'), n - 1), 20)} seeds {hi}")
    print("holm", holm([0.01, 0.04, 0.03, 0.04, math.nan, 0.2, 0.005]))
    print("holm", holm([0.5, 0.3, 0.9]))

    seq_up = [0.0081, 0.0123, 0.0098, 0.0105, 0.0110, 0.0092, 0.0101, 0.0099, 0.0108, 0.0096]
    seq_eq = [0.0010, -0.0008, 0.0004, -0.0006, 0.0007, -0.0003, 0.0002, -0.0005, 0.0006, -0.0001]
    seq_un = [0.0050, -0.0010, 0.0040, 0.0005, 0.0030, -0.0015, 0.0045, 0.0010, 0.0025, 0.0000]
    sequential("up", seq_up, 3, 10, mp.mpf("0.002"))
    sequential("equivalent", seq_eq, 3, 10, mp.mpf("0.002"))
    sequential("undecided", seq_un, 3, 10, mp.mpf("0.002"))


if __name__ == "__main__":
    main()
