#!/usr/bin/python3
"""The tables of src/nn/act_tables.h, for the smooth activations: of the
form f(x) = x F(x), gelu (F = Phi), silu (F = sigmoid) and mish (F =
tanh(softplus)); and tanh and softplus themselves (F = f). For each, the
Taylor coefficients of F and of f' about the 32 centres c = k/4, k = -16
.. 15, computed with mpmath at 50 digits and rounded once to float.
act_smooth.c uses them for |x - c| <= 1/8.

Run (Debian's python3-mpmath):

    /usr/bin/python3 tools/act_tables.py > src/nn/act_tables.h

It prints on stderr, per function, the worst error of the float-coefficient
polynomials in exact arithmetic over a fine grid of each interval: F's
relative to F, f''s relative to |F| + |x F'| (the terms that cancel where f'
crosses zero), in units of 2^-24."""
import struct
import sys

import mpmath as mp

mp.mp.dps = 50
CENTRES = [mp.mpf(k) / 4 for k in range(-16, 16)]


def softplus(x):
    return mp.log1p(mp.exp(x))


# name, F, f = x F (else F), the degree (the least whose error in exact
# arithmetic stays under about a unit: Phi's far tail needs more terms)
FUNCTIONS = [
    ('GELU', mp.ncdf, True, 7),
    ('SILU', lambda x: 1 / (1 + mp.exp(-x)), True, 5),
    ('MISH', lambda x: mp.tanh(softplus(x)), True, 6),
    ('TANH', mp.tanh, False, 7),
    ('SOFTPLUS', softplus, False, 5),
]


def to_float(v):
    return struct.unpack('f', struct.pack('f', float(v)))[0]


def taylor(F, times_x, c, degree):
    """F's and f''s coefficients about c, to degree, in full precision."""
    a = mp.taylor(F, c, degree + 1)
    # x F = (c + u) F: b_k = c a_k + a_(k-1); f' = d/du: d_k = (k + 1) b_(k+1)
    b = [c * a[k] + (a[k - 1] if k > 0 else 0) for k in range(degree + 2)] if times_x else a
    return a[:degree + 1], [(k + 1) * b[k + 1] for k in range(degree + 1)]


def worst_errors(F, times_x, degree, tables):
    unit = mp.mpf(2) ** -24
    worst_f = worst_d = mp.mpf(0)
    for c, (fc, dc) in zip(CENTRES, tables):
        for j in range(-40, 41):
            u = mp.mpf(j) / 320
            x = c + u
            if x == 0:   # F's zero (tanh's): no relative error there
                continue
            p = sum(mp.mpf(fc[k]) * u ** k for k in range(degree + 1))
            g = sum(mp.mpf(dc[k]) * u ** k for k in range(degree + 1))
            want_f, dF = F(x), mp.diff(F, x)
            worst_f = max(worst_f, abs(p - want_f) / abs(want_f) / unit)
            terms = abs(want_f) + abs(x * dF) if times_x else abs(dF)
            want_d = want_f + x * dF if times_x else dF
            worst_d = max(worst_d, abs(g - want_d) / terms / unit)
    return float(worst_f), float(worst_d)


def c_float(v):
    """v (a float) as an exact C hex float literal."""
    if v == 0:
        return '0.0f'
    mant, exp = float.hex(v).split('p')
    return '%sp%sf' % (mant.rstrip('0').rstrip('.'), exp)


def rows(name, coefs, degree):
    out = ['static const float %s[%d][32] __attribute__((aligned(64))) = {' % (name, degree + 1)]
    for k in range(degree + 1):
        vals = [c_float(coefs[i][k]) for i in range(32)]
        out.append('    {')
        out += ['        ' + ', '.join(vals[i:i + 4]) + ',' for i in range(0, 32, 4)]
        out.append('    },')
    out.append('};')
    return out


def main():
    lines = [
        '/* act_tables.h: written by tools/act_tables.py (mpmath, 50 digits); do not edit.',
        ' * NAME_F[k][i] and NAME_D[k][i] are the degree-k Taylor coefficients about',
        ' * c = (i - 16) / 4 of F and of f\', as floats: f(x) = x F(x) for gelu, silu',
        ' * and mish, F = f for tanh and softplus. */',
        '#ifndef SWEEP_ACT_TABLES_H',
        '#define SWEEP_ACT_TABLES_H',
    ]
    for name, F, times_x, degree in FUNCTIONS:
        exact = [taylor(F, times_x, c, degree) for c in CENTRES]
        tables = [([to_float(v) for v in fc], [to_float(v) for v in dc]) for fc, dc in exact]
        lines += ['', '#define %s_DEGREE %d' % (name, degree), '']
        lines += rows(name + '_F', [t[0] for t in tables], degree) + ['']
        lines += rows(name + '_D', [t[1] for t in tables], degree)
        wf, wd = worst_errors(F, times_x, degree, tables)
        print('%s degree %d, worst in exact arithmetic, units of 2^-24: F %.3f, f\' %.3f'
              % (name.lower(), degree, wf, wd), file=sys.stderr)
    lines += ['', '#endif']
    print('\n'.join(lines))


if __name__ == '__main__':
    main()
