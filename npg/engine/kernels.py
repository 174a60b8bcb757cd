"""Numba kernels of PPO's fast path (NumPy arrays only; ``npg.engine.mlp`` and
``npg.engine.ppo_loop`` run the update from them, ``npg.engine.acting`` and
``npg.engine.acting_continuous`` act with them; the loss layer is ``npg.engine.ppo_losses``).

Each kernel fuses a few elementwise operations of the reference path into one pass over arrays
the caller preallocated.
They compute the same formulas as the reference path (``PPO.loss_and_grad``, ``npg.nn``,
``npg.optim``), so their results agree with it to floating-point rounding (sums run in another
order; float32 scalars are combined in float64). ``cache=True``: machine code is written beside
this file on first use; no ``fastmath`` (it may assume NaN never occurs).

Activation codes: 0 tanh (float64: ``npg.engine.tanh.tanh64``, within 2 ulp), 1 relu, 2 identity, 3 tanh
by the rational approximation ``tanh32`` below (``act_code(name, dtype)`` picks 3 for float32
tanh).

float32 tanh (code 3) is a rational approximation, evaluated in float32:

    tanh x ~ x P(x^2) / Q(x^2),   x clamped to [-C, C], C = 7.90531110763549805,
    P degree 6, Q degree 3 (Q(0) = 1), fitted for this module by iteratively reweighted linear
    least squares (Sanathanan-Koerner weights 1/Q, Lawson weights towards minimax) on [0, C].

The fit's own error is below 1.5e-9 on [0, C]; beyond C, 1 - tanh x < 2.7e-7. Evaluated in
float32 (Horner with fused multiply-adds), the result is within 5e-7 of tanh in float64
everywhere (measured maximum 3.1e-7 on 4,000,001 points of [-9, 9], about 2.6 float32 ulps of 1;
4.2e-7 with separate multiplies and adds; ``np.tanh`` in float32 is within 6e-8), |result| <= 1,
and it is odd. The test checks these bounds on a dense grid and with hypothesis. Why: compiled
code cannot call NumPy's ufunc loops, and Numba's ``math.tanh`` is libm's scalar tanh, while
this loop vectorises; the four hidden layers of PPO's two 64-64 networks hold 65k activations
per minibatch. float64 tanh (code 0) is ``npg.engine.tanh``: within 2 ulp of the correctly
rounded value (as libm's ``tanh`` is; NumPy's within 1), and, unlike libm's, it vectorises.
``benchmarks/tanh.py``, [256, 64] block, ns per element, on the AVX2 development machine (AMD
EPYC), 2026-12-02: float64 libm 17.9, engine.tanh 2.0 (4.8 before it dropped the float-to-int64
conversion and took fused multiply-adds), np.tanh 13.1 (scalar libm there); float32 tanh32 0.36
(0.51 without fused multiply-adds), np.tanh 2.6. On an AVX-512 machine in an earlier run:
float64 libm 19.0, engine.tanh 3.1 (the old form), np.tanh 1.6; float32 tanh32 0.46, np.tanh
0.36 (NumPy's own loops are SIMD there).

All kernels use ``error_model="numpy"`` (float division follows IEEE instead of raising
ZeroDivisionError; the check it would need blocks vectorisation). Their divisors are B, std + 1e-8,
Adam's bias corrections and Q >= 1, never zero. Only ``sum_squares`` uses a fast-math flag
(reassociation: its float64 sum runs in vector lanes).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .bits import fma
from .tanh import tanh64

__all__ = ["ACT_CODES", "FAST_TANH", "act_code", "TANH_CLAMP", "tanh32", "bias_act",
           "act_grad_colsum", "head_forward", "head_backward", "categorical_act",
           "act_value_small", "mlp_small", "mlp_small_features", "sum_squares", "adam_step"]

ACT_CODES = {"tanh": 0, "relu": 1, "identity": 2}
FAST_TANH = 3


def act_code(name: str, dtype) -> int:
    """The kernels' code of activation ``name`` for arrays of ``dtype`` (float32 tanh: 3)."""
    code = ACT_CODES[name]
    return FAST_TANH if code == 0 and np.dtype(dtype) == np.float32 else code
TANH_CLAMP = 7.90531110763549805
_P0, _P1, _P2, _P3 = 9.99999993e-01, 1.31243292e-01, 3.14939728e-03, 1.16446398e-05
_P4, _P5, _P6 = -2.23379276e-08, 6.38728048e-11, -1.16577047e-13
_Q1, _Q2, _Q3 = 4.64576591e-01, 2.46749737e-02, 2.61312394e-04


_C32 = np.float32(TANH_CLAMP)
_P32 = tuple(np.float32(c) for c in (_P0, _P1, _P2, _P3, _P4, _P5, _P6))
_Q32 = tuple(np.float32(c) for c in (1.0, _Q1, _Q2, _Q3))


@njit(cache=True, inline="always", error_model="numpy")
def _tanh_rational(x):
    """x P(x^2) / Q(x^2) in float32 for a float32 scalar x clamped to [-C, C] (Horner with
    fused multiply-adds, ``npg.engine.bits.fma``)."""
    x = _C32 if x > _C32 else x
    x = -_C32 if x < -_C32 else x
    s = x * x
    p0, p1, p2, p3, p4, p5, p6 = _P32
    q0, q1, q2, q3 = _Q32
    p = fma(s, fma(s, fma(s, fma(s, fma(s, fma(s, p6, p5), p4), p3), p2), p1), p0)
    q = fma(s, fma(s, fma(s, q3, q2), q1), q0)
    return x * p / q


@njit(cache=True, nogil=True, error_model="numpy")
def tanh32(x, out):
    """out = tanh(x) for float32 arrays [n] by the rational approximation (error: module doc)."""
    for i in range(x.shape[0]):
        out[i] = _tanh_rational(x[i])


@njit(cache=True, nogil=True, error_model="numpy")
def bias_act(a, b, code):
    """In place: a[i, j] = f(a[i, j] + b[j]) for a [B, n], b [n]; f by activation code.

    Code 3 (``FAST_TANH``) is the float32 rational approximation (float32 arrays only).
    """
    B, n = a.shape
    if code == 3:
        for i in range(B):
            for j in range(n):
                a[i, j] = _tanh_rational(a[i, j] + b[j])
    elif code == 0:
        for i in range(B):
            for j in range(n):
                a[i, j] = tanh64(a[i, j] + b[j])
    elif code == 1:
        for i in range(B):
            for j in range(n):
                x = a[i, j] + b[j]
                a[i, j] = x if x > 0 else 0.0
    else:
        for i in range(B):
            for j in range(n):
                a[i, j] += b[j]


@njit(cache=True, nogil=True, error_model="numpy")
def act_grad_colsum(g, h, db, code):
    """Backward through an activation and its bias, for g = dL/dh [B, n] and h = f(a) [B, n]:

        g[i, j] <- g[i, j] f'(a[i, j])   (tanh' = 1 - h^2, relu' = [h > 0], identity' = 1)
        db[j]    = sum_i g[i, j]         (dL/db of the layer that produced h)
    g is overwritten with dL/da; db [n] is written (not accumulated into).
    """
    B, n = g.shape
    for j in range(n):
        db[j] = 0.0
    for i in range(B):
        if code == 0 or code == 3:
            for j in range(n):
                g[i, j] -= g[i, j] * (h[i, j] * h[i, j])
        elif code == 1:
            for j in range(n):
                if not h[i, j] > 0:
                    g[i, j] = 0.0
        for j in range(n):
            db[j] += g[i, j]


@njit(cache=True, nogil=True, error_model="numpy", fastmath={"reassoc"})
def head_forward(h, WT, b, out):
    """A narrow output layer: out[i, j] = b_j + sum_k h[i, k] W[k, j]  (h [B, H], WT = W^T
    [n, H] contiguous, out [B, n] for n = A or 1). Each dot product runs in vector lanes
    (reassociated sum: equal to BLAS's to rounding); one call replaces a matmul and a bias add.
    """
    B, H = h.shape
    n = WT.shape[0]
    for i in range(B):
        for j in range(n):
            acc = 0.0
            for k in range(H):
                acc += h[i, k] * WT[j, k]
            out[i, j] = acc + b[j]


@njit(cache=True, nogil=True, error_model="numpy")
def head_backward(h, WT, d_out, gWT, gb, g, gb_prev, code):
    """Backward through a narrow output layer y = h W + b and the activation h = f(a) below it:

        dL/dW = h^T d_out   (written transposed into gWT [n, H]),   dL/db = sum_i d_out[i]  [n]
        g = dL/da = (d_out W^T) * f'(a)  [B, H]  (f' from h: tanh 1 - h^2, relu [h > 0]),
        gb_prev = sum_i g[i]  [H]  (dL/db of the layer below).
    h [B, H], WT = W^T [n, H], d_out [B, n] (n >= 1); all loops run over the contiguous H axis,
    f' and the column sum in one pass.
    """
    B, H = h.shape
    n = WT.shape[0]
    gWT[:, :] = 0.0
    gb[:] = 0.0
    gb_prev[:] = 0.0
    for i in range(B):
        hi, gi = h[i], g[i]
        d = d_out[i, 0]
        gb[0] += d
        for k in range(H):
            gWT[0, k] += hi[k] * d
            gi[k] = d * WT[0, k]
        for j in range(1, n):
            d = d_out[i, j]
            gb[j] += d
            for k in range(H):
                gWT[j, k] += hi[k] * d
                gi[k] += d * WT[j, k]
        if code == 0 or code == 3:
            for k in range(H):
                x = gi[k] - gi[k] * (hi[k] * hi[k])
                gi[k] = x
                gb_prev[k] += x
        elif code == 1:
            for k in range(H):
                x = gi[k] if hi[k] > 0 else 0.0
                gi[k] = x
                gb_prev[k] += x
        else:
            for k in range(H):
                gb_prev[k] += gi[k]


@njit(cache=True, nogil=True, error_model="numpy")
def mlp_small(x, Ws, bs, code):
    """mlp(x) [M, n_L] for a few rows x [M, n_0] (acting): h_l = f(h_{l-1} W_l + b_l) for the
    hidden layers, identity output; Ws, bs tuples of the weights [n_{l-1}, n_l] and biases.

    Plain loops (the inner one over the n_l outputs, contiguous, so it vectorises) in place of
    BLAS calls whose fixed cost dominates at M = 8; each output is b_j + sum_k h_k W_kj,
    summed in order k (BLAS may sum in another order: equal to rounding).
    """
    return mlp_small_features(x, Ws, bs, code)[1]


@njit(cache=True, nogil=True, error_model="numpy")
def mlp_small_features(x, Ws, bs, code):
    """``(h_{L-1}, mlp(x))``: ``mlp_small`` and the input of its output layer (the last hidden
    layer, or x itself without hidden layers; gSDE's features phi)."""
    M = x.shape[0]
    h = x
    h_prev = x
    L = len(Ws)
    for l in range(L):
        h_prev = h
        W, b = Ws[l], bs[l]
        n_in, n_out = W.shape
        out = np.empty((M, n_out), x.dtype)
        for i in range(M):
            for j in range(n_out):
                out[i, j] = b[j]
            for k in range(n_in):
                hik = h[i, k]
                for j in range(n_out):
                    out[i, j] += hik * W[k, j]
        if l < L - 1:
            if code == 3:
                for i in range(M):
                    for j in range(n_out):
                        out[i, j] = _tanh_rational(out[i, j])
            elif code == 0:
                for i in range(M):
                    for j in range(n_out):
                        out[i, j] = tanh64(out[i, j])
            elif code == 1:
                for i in range(M):
                    for j in range(n_out):
                        out[i, j] = max(out[i, j], 0.0)
        h = out
    return h_prev, h


@njit(cache=True, nogil=True, error_model="numpy")
def categorical_act(z, g, a, logp):
    """Actions and their log-probabilities from logits z [M, A] and Gumbel noise g [M, A]:

        a_m = argmax_j (z_mj + g_mj)      (the Gumbel-max draw of ``categorical.sample``;
                                           g = 0 gives the mode; first index on ties)
        logp_m = z_{m a_m} - max_j z_mj - log sum_j exp(z_mj - max_j z_mj)
    written into a [M] int64 and logp [M] (z's dtype). z + g is rounded to z's dtype first,
    as NumPy's ``z + g`` is, so the draws are those of the checked path.
    """
    M, A = z.shape
    for m in range(M):
        best, arg = z[m, 0] + g[m, 0], 0
        mx = z[m, 0]
        for j in range(1, A):
            x = z[m, j] + g[m, j]
            if x > best:
                best, arg = x, j
            mx = max(mx, z[m, j])
        s = 0.0
        for j in range(A):
            s += math.exp(z[m, j] - mx)
        a[m] = arg
        logp[m] = (z[m, arg] - mx) - math.log(s)


@njit(cache=True, nogil=True, error_model="numpy")
def act_value_small(x, Wa, ba, Wc, bc, code, g, a, logp, v):
    """One acting step for a few rows x [M, D]: logits z = mlp_a(x), V = mlp_c(x)[:, 0] into
    v [M], and (a, logp) from z and the Gumbel noise g [M, A] as ``categorical_act``.
    Returns False (writing nothing) when x holds a NaN or inf."""
    for i in range(x.shape[0]):
        for k in range(x.shape[1]):
            if not math.isfinite(x[i, k]):
                return False
    categorical_act(mlp_small(x, Wa, ba, code), g, a, logp)
    vc = mlp_small(x, Wc, bc, code)
    for i in range(x.shape[0]):
        v[i] = vc[i, 0]
    return True


@njit(cache=True, error_model="numpy", fastmath={"reassoc"})
def sum_squares(g):
    """sum_i g_i^2 accumulated in float64 (reassociated, so the loop vectorises; no other fast-math
    assumption, NaN and inf propagate). For float32 g it cannot overflow (max g^2 ~ 1e77)."""
    acc = 0.0
    for i in range(g.shape[0]):
        x = np.float64(g[i])
        acc += x * x
    return acc


@njit(cache=True, nogil=True, error_model="numpy")
def adam_step(theta, g, m, v, scale, b1, one_minus_b1, b2, one_minus_b2, lr, c1, c2, eps):
    """One Adam step (``npg.optim.Adam``) on flat theta, m, v [P], in place, for g * scale:

        m <- b1 m + (1 - b1) g,   v <- b2 v + (1 - b2) g^2,
        theta <- theta - lr (m / c1) / (sqrt(v / c2) + eps),  c1 = 1 - b1^t, c2 = 1 - b2^t.
    The scalars arrive in theta's dtype (``ppo_loop._clip_adam``), so a float32 step is computed in
    float32 with the reference's operations in the reference's order.
    """
    for i in range(theta.shape[0]):
        gi = g[i] * scale
        m[i] = b1 * m[i] + one_minus_b1 * gi
        v[i] = b2 * v[i] + one_minus_b2 * (gi * gi)
        theta[i] = theta[i] - lr * (m[i] / c1) / (np.sqrt(v[i] / c2) + eps)
