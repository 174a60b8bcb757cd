"""Networks on a flat parameter vector, for a batch of one (the online engine's layers).

Each network is a table of layers, rows ``(W offset, b offset, n_in, n_out, h offset)`` into
theta [P] (``npg.engine.flat.FlatLayout``; ``layer_table``), W_l [n_in, n_out] row-major:

    forward   h_l = f(h_{l-1} W_l + b_l), identity output layer (``npg.nn.mlp_forward``)
    backward  dL/dW_l = h_{l-1} (x) g_l,  dL/db_l = g_l,  g_{l-1} = (W_l g_l) * f'(h_{l-1}),
              f' from the outputs: tanh' = 1 - h^2, relu' = [h > 0]

A linear-in-features network (theta [D + 1, A] on the features [1, obs]) is a one-layer table
whose bias is row 0 of theta. tanh is ``npg.engine.tanh.tanh64`` (within 2 ulp). Products and
dot products run in blocks of four (four rows of W per pass; four partial sums), another
summation order than BLAS's: results agree with ``npg.nn`` to rounding (tested).
``cache=True``, no fastmath.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .tanh import tanh64

__all__ = ["ACT_CODES", "layer_table", "forward", "backward"]

ACT_CODES = {"tanh": 0, "relu": 1}


def layer_table(entries) -> tuple[np.ndarray, int]:
    """Rows ``(w_off, b_off, n_in, n_out, h_off)`` [L, 5] int64 from ``((w_off, b_off, n_in,
    n_out), ...)``, and the length of the activation buffer (sum of n_out)."""
    rows, h = [], 0
    for w0, b0, n_in, n_out in entries:
        rows.append((w0, b0, n_in, n_out, h))
        h += n_out
    return np.array(rows, np.int64).reshape(-1, 5), h


# ------------------------------------------------------------------------------- networks

@njit(cache=True, inline="always", error_model="numpy")
def _act(a, code):
    if code == 0:
        return tanh64(a)
    return a if (a > 0.0 or a != a) else 0.0


@njit(cache=True, error_model="numpy")
def forward(theta, net, x, H, code):
    """mlp(x) for one input x [n_0]: the output layer's slice of H (every h_l is kept in H)."""
    L = net.shape[0]
    h = x
    for l in range(L):
        w0, b0, n_in, n_out, h0 = net[l, 0], net[l, 1], net[l, 2], net[l, 3], net[l, 4]
        out = H[h0:h0 + n_out]
        W = theta[w0:w0 + n_in * n_out]
        bias = theta[b0:b0 + n_out]
        out[:] = 0.0
        n4 = n_in - n_in % 4
        for i in range(0, n4, 4):          # four rows of W per pass over out
            x0, x1, x2, x3 = h[i], h[i + 1], h[i + 2], h[i + 3]
            W0, W1 = W[i * n_out:(i + 1) * n_out], W[(i + 1) * n_out:(i + 2) * n_out]
            W2, W3 = W[(i + 2) * n_out:(i + 3) * n_out], W[(i + 3) * n_out:(i + 4) * n_out]
            for j in range(n_out):
                out[j] += (x0 * W0[j] + x1 * W1[j]) + (x2 * W2[j] + x3 * W3[j])
        for i in range(n4, n_in):
            xi = h[i]
            Wi = W[i * n_out:(i + 1) * n_out]
            for j in range(n_out):
                out[j] += xi * Wi[j]
        for j in range(n_out):
            out[j] = out[j] + bias[j]
        if l < L - 1 and code == 0:
            for j in range(n_out):
                out[j] = tanh64(out[j])
        elif l < L - 1:
            for j in range(n_out):
                out[j] = _act(out[j], code)
        h = out
    return h


@njit(cache=True, error_model="numpy")
def backward(theta, grad, net, x, H, d_out, D1, D2, code):
    """Writes dL/dW_l, dL/db_l into grad's slices for dL/d out = d_out [n_L] (formulas in the
    module docstring); D1, D2 are scratch rows at least as wide as the widest hidden layer.
    Returns the squared norm of what it wrote, sum_l (|h_{l-1}|^2 + 1) |g_l|^2 (the outer
    product's |h (x) g|^2 = |h|^2 |g|^2: O(n_in + n_out) per layer)."""
    L = net.shape[0]
    g = d_out
    sq = 0.0
    for l in range(L - 1, -1, -1):
        w0, b0, n_in, n_out = net[l, 0], net[l, 1], net[l, 2], net[l, 3]
        h_prev = x if l == 0 else H[net[l - 1, 4]:net[l - 1, 4] + n_in]
        W = theta[w0:w0 + n_in * n_out]
        gW = grad[w0:w0 + n_in * n_out]
        gb = grad[b0:b0 + n_out]
        g2 = h2 = 0.0
        for j in range(n_out):
            gb[j] = g[j]
            g2 += g[j] * g[j]
        for i in range(n_in):
            h2 += h_prev[i] * h_prev[i]
        sq += (h2 + 1.0) * g2
        for i in range(n_in):
            hi = h_prev[i]
            gWi = gW[i * n_out:(i + 1) * n_out]
            for j in range(n_out):
                gWi[j] = hi * g[j]
        if l > 0:
            d = D1[:n_in] if (L - 1 - l) % 2 == 0 else D2[:n_in]
            n4 = n_out - n_out % 4
            for i in range(n_in):
                Wi = W[i * n_out:(i + 1) * n_out]
                s0 = s1 = s2 = s3 = 0.0             # four partial sums of the dot product
                for j in range(0, n4, 4):
                    s0 += g[j] * Wi[j]
                    s1 += g[j + 1] * Wi[j + 1]
                    s2 += g[j + 2] * Wi[j + 2]
                    s3 += g[j + 3] * Wi[j + 3]
                for j in range(n4, n_out):
                    s0 += g[j] * Wi[j]
                s = (s0 + s1) + (s2 + s3)
                y = h_prev[i]
                d[i] = s - (y * y) * s if code == 0 else s * (1.0 if y > 0.0 else 0.0)
            g = d
    return sq
