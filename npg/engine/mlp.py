"""An MLP inside the flat parameter vector: forward and backward in compiled code.

A network is a table of ``LAYER`` records ``(w, b, n_in, n_out, h)`` (``net_table``): W_l
[n_in, n_out] and b_l [n_out] are reshaped slices theta[w : w + n_in n_out] and
theta[b : b + n_out], and the layer's output for up to ``rows`` rows is the block
H[h : h + rows n_out] of an activation buffer. Its gradients dL/dW_l, dL/db_l are the same
slices of grad [P].

    forward    h_l = f(h_{l-1} W_l + b_l),  l = 1..L  (identity at l = L)
    backward   g_L = dL/dh_L,  dL/dW_l = h_{l-1}^T g_l,  dL/db_l = sum_b g_l,
               g_{l-1} = (g_l W_l^T) * f'(a_{l-1})      (tanh' = 1 - h^2, relu' = [h > 0])

Products by BLAS's gemm called from compiled code (``npg.engine.gemm``); bias + activation fused
(``kernels.bias_act``, the backward's ``kernels.act_grad_colsum``). A narrow output layer (at
most ``NARROW`` outputs: logits of a few actions, a Gaussian mean, a value) runs through the
``kernels.head_forward`` / ``head_backward`` loops instead, with W_L^T kept in a buffer WT.
The textbook version of both passes is ``npg.nn.mlp_forward`` and its vjp.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from . import kernels as K
from .gemm import gemm
from .records import LAYER

__all__ = ["NARROW", "net_table", "head_size", "layer_block", "forward", "backward"]

NARROW = 4
_IDENTITY = K.ACT_CODES["identity"]


def net_table(layout, group: str, rows: int) -> tuple[np.ndarray, int]:
    """The network ``group`` of ``layout`` (``FlatLayout``) as ``LAYER`` records [L], and the
    length of an activation buffer of ``rows`` rows (every layer's [rows, n_out] block)."""
    ent = {k: (shape, start) for g, k, shape, start, _ in layout.entries if g == group}
    n_layers = sum(1 for k in ent if k[0] == "W" and k[1:].isdigit())
    table, h_off = np.zeros(n_layers, LAYER), 0
    for l in range(n_layers):
        (n_in, n_out), w_off = ent[f"W{l + 1}"]
        table[l] = (w_off, ent[f"b{l + 1}"][1], n_in, n_out, h_off)
        h_off += rows * n_out
    return table, h_off


def head_size(net: np.ndarray) -> int:
    """n_in n_out of the output layer (the size of W_L^T in the WT buffer)."""
    return int(net[-1]["n_in"] * net[-1]["n_out"])


@njit(cache=True, nogil=True, error_model="numpy")
def layer_block(buf, net, l, rows, b):
    """Rows [:b] of layer l's [rows, n_out] block of an activation buffer."""
    n_out, h0 = net[l].n_out, net[l].h
    return buf[h0:h0 + rows * n_out].reshape((rows, n_out))[:b]


@njit(cache=True, nogil=True, error_model="numpy")
def forward(theta, net, x, H, WT, rows, code, blas):
    """out = mlp(x) [b, n_L]; every layer's output h_l stays in H (for ``backward``)."""
    b, L = x.shape[0], net.shape[0]
    h = x
    for l in range(L):
        w0, b0, n_in, n_out = net[l].w, net[l].b, net[l].n_in, net[l].n_out
        W, out = theta[w0:w0 + n_in * n_out].reshape((n_in, n_out)), layer_block(H, net, l,
                                                                                 rows, b)
        if l == L - 1 and l > 0 and n_out <= NARROW:
            WT_l = WT[:n_out * n_in].reshape((n_out, n_in))
            for r in range(n_out):              # loops, not WT_l[:, :] = W.T: an array-to-array
                for q in range(n_in):           # assignment compiles 2x the code (cold start)
                    WT_l[r, q] = W[q, r]
            K.head_forward(h, WT_l, theta[b0:b0 + n_out], out)
        else:
            gemm(h, W, out, False, False, blas)
            K.bias_act(out, theta[b0:b0 + n_out], code if l < L - 1 else _IDENTITY)
        h = out
    return h


@njit(cache=True, nogil=True, error_model="numpy")
def backward(theta, grad, net, x, H, D, WT, rows, d_out, code, blas):
    """Writes dL/dW_l, dL/db_l into grad's slices for g_L = d_out [b, n_L] (after ``forward``
    on the same x); D is a buffer like H for the g_l. A narrow output layer and the activation
    below it in one ``head_backward`` call."""
    b, L = x.shape[0], net.shape[0]
    g, top = d_out, L - 1
    w0, b0, n_in, n_out = net[top].w, net[top].b, net[top].n_in, net[top].n_out
    if top > 0 and n_out <= NARROW:
        d, bp = layer_block(D, net, top - 1, rows, b), net[top - 1].b
        gWT = WT[n_out * n_in:2 * n_out * n_in].reshape((n_out, n_in))
        K.head_backward(layer_block(H, net, top - 1, rows, b),
                        WT[:n_out * n_in].reshape((n_out, n_in)), g, gWT,
                        grad[b0:b0 + n_out], d, grad[bp:bp + n_in], code)
        gW = grad[w0:w0 + n_in * n_out].reshape((n_in, n_out))
        for q in range(n_in):
            for r in range(n_out):
                gW[q, r] = gWT[r, q]
        g, top = d, top - 1
    else:
        gb = grad[b0:b0 + n_out]
        gb[:] = 0.0
        for i in range(b):
            for j in range(n_out):
                gb[j] += g[i, j]
    for l in range(top, -1, -1):
        w0, n_in, n_out = net[l].w, net[l].n_in, net[l].n_out
        h_prev = x if l == 0 else layer_block(H, net, l - 1, rows, b)
        gemm(h_prev, g, grad[w0:w0 + n_in * n_out].reshape((n_in, n_out)), True, False, blas)
        if l > 0:
            d = layer_block(D, net, l - 1, rows, b)
            gemm(g, theta[w0:w0 + n_in * n_out].reshape((n_in, n_out)), d, False, True, blas)
            bp = net[l - 1].b
            K.act_grad_colsum(d, h_prev, grad[bp:bp + n_in], code)
            g = d
