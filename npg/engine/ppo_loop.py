"""PPO's inner loop as one compiled call: every epoch and minibatch step of an update in Numba.

The same update as ``PPO._inner_loop`` (the reference) for NumPy train states of a separate
categorical MLP actor and MLP critic, with no Python between minibatch steps:

* theta [P], the gradient g [P] and Adam's m, v [P] are flat vectors (``FlatLayout``); each
  network is a table of rows ``(W offset, b offset, n_in, n_out, activation offset)``, and
  W_l, b_l, dL/dW_l, dL/db_l are reshaped slices of theta and g;
* forward  h_l = f(h_{l-1} W_l + b_l) (identity output layer), products by OpenBLAS's gemm
  called from the compiled code (``gemm``), bias + activation fused (``kernels.bias_act``);
* backward g_L = dL/dout,  dL/dW_l = h_{l-1}^T g_l,  dL/db_l = sum_b g_l,
  g_{l-1} = (g_l W_l^T) * f'(a_{l-1})  with f' from the output (tanh' = 1 - h^2);
* the loss layer is ``kernels.ppo_policy_loss`` / ``ppo_value_loss`` (formulas there), then
  global-norm clipping over actor and critic together and one Adam step (``npg.optim``);
* with ``threads = 2`` the actor's and the critic's halves of each step run on two threads
  (Numba ``prange``): they read the same minibatch and write disjoint slices of g, so the
  result is bitwise that of one thread. The norm and the Adam step follow the join.

float32 tanh is the rational approximation of ``kernels`` (within 5e-7); float64 tanh is
``tanh`` (within 2 ulp; a vectorised loop, where libm's ``tanh`` took 60% of a float64
step). The random minibatch splits are the reference loop's: ``rng.permutation(B)`` per epoch,
drawn in Python before the call (one call per epoch when target-KL stopping is on, so that an
early stop draws no permutation the reference would not).
"""

from __future__ import annotations

import math
import os
import threading

import numpy as np
from numba import njit, prange

from . import kernels as K
from .gemm import blas_table, gemm

__all__ = ["inner_loop", "net_table"]

# Waiting OpenMP threads sleep instead of spinning (unless the user chose otherwise): with a
# spinning wait, a minibatch step whose second thread is descheduled by other work on the
# machine stalls for whole scheduler slices. Measured on the 2-core development machine,
# CartPole PPO float32 with one other busy process: 2.0k env steps/s spinning against 23.3k
# sleeping; idle: 31.5k against 30.0k. A bounded spin (GOMP_SPINCOUNT=10000 or 3000, no wait
# policy) measured 36-38k idle against 34-37k sleeping, but 19-26k against 28-31k with one other
# busy process, so waiting threads sleep. Read by libgomp when Numba first starts its OpenMP
# threads, so it must be set before the first parallel call.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

_IDENTITY = K.ACT_CODES["identity"]
_LOCK = threading.Lock()        # one compiled update at a time (Numba's workqueue layer
                                # does not allow concurrent parallel launches)


def net_table(layout, group: str, rows: int) -> tuple[np.ndarray, int]:
    """The network ``group`` of ``layout`` as rows ``(w_off, b_off, n_in, n_out, h_off)``
    [L, 5] int64, and the length of an activation buffer of ``rows`` rows."""
    ent = {k: (shape, start) for g, k, shape, start, _ in layout.entries if g == group}
    table, h_off = [], 0
    for l in range(1, sum(1 for k in ent if k.startswith("W")) + 1):
        (n_in, n_out), w_off = ent[f"W{l}"]
        table.append((w_off, ent[f"b{l}"][1], n_in, n_out, h_off))
        h_off += rows * n_out
    return np.array(table, np.int64), h_off


# ------------------------------------------------------------------------------- one network

@njit(cache=True, nogil=True, error_model="numpy")
def _layer(buf, net, l, rows, b):
    """Rows [:b] of layer l's [rows, n_out] block of an activation buffer."""
    n_out, h0 = net[l, 3], net[l, 4]
    return buf[h0:h0 + rows * n_out].reshape((rows, n_out))[:b]


_NARROW = 4        # output layers up to this wide use the fused head kernels (``kernels``)


@njit(cache=True, nogil=True, error_model="numpy")
def _forward(theta, net, x, H, WT, rows, code, blas):
    """out = mlp(x) [b, n_L]; keeps every layer's output h_l in H (for the backward). A narrow
    output layer runs through ``head_forward`` with W_L^T copied into WT (kept for the
    backward)."""
    b, L = x.shape[0], net.shape[0]
    h = x
    for l in range(L):
        w0, b0, n_in, n_out = net[l, 0], net[l, 1], net[l, 2], net[l, 3]
        W, out = theta[w0:w0 + n_in * n_out].reshape((n_in, n_out)), _layer(H, net, l, rows, b)
        if l == L - 1 and l > 0 and n_out <= _NARROW:
            WT_l = WT[:n_out * n_in].reshape((n_out, n_in))
            WT_l[:, :] = W.T
            K.head_forward(h, WT_l, theta[b0:b0 + n_out], out)
        else:
            gemm(h, W, out, False, False, blas)
            K.bias_act(out, theta[b0:b0 + n_out], code if l < L - 1 else _IDENTITY)
        h = out
    return h


@njit(cache=True, nogil=True, error_model="numpy")
def _backward(theta, grad, net, x, H, D, WT, rows, d_out, code, blas):
    """Writes dL/dW_l, dL/db_l into grad's slices for g_L = d_out [b, n_L] (formulas above);
    a narrow output layer and the activation below it in one ``head_backward`` call."""
    b, L = x.shape[0], net.shape[0]
    g, top = d_out, L - 1
    w0, b0, n_in, n_out = net[top, 0], net[top, 1], net[top, 2], net[top, 3]
    if top > 0 and n_out <= _NARROW:
        d, bp = _layer(D, net, top - 1, rows, b), net[top - 1, 1]
        gWT = WT[n_out * n_in:2 * n_out * n_in].reshape((n_out, n_in))
        K.head_backward(_layer(H, net, top - 1, rows, b),
                        WT[:n_out * n_in].reshape((n_out, n_in)), g, gWT,
                        grad[b0:b0 + n_out], d, grad[bp:bp + n_in], code)
        grad[w0:w0 + n_in * n_out].reshape((n_in, n_out))[:, :] = gWT.T
        g, top = d, top - 1
    else:
        gb = grad[b0:b0 + n_out]
        gb[:] = 0.0
        for i in range(b):
            for j in range(n_out):
                gb[j] += g[i, j]
    for l in range(top, -1, -1):
        w0, n_in, n_out = net[l, 0], net[l, 2], net[l, 3]
        h_prev = x if l == 0 else _layer(H, net, l - 1, rows, b)
        gemm(h_prev, g, grad[w0:w0 + n_in * n_out].reshape((n_in, n_out)), True, False, blas)
        if l > 0:
            d = _layer(D, net, l - 1, rows, b)
            gemm(g, theta[w0:w0 + n_in * n_out].reshape((n_in, n_out)), d, False, True, blas)
            bp = net[l - 1, 1]
            K.act_grad_colsum(d, h_prev, grad[bp:bp + n_in], code)
            g = d


# ------------------------------------------------------------------------------- one step

@njit(cache=True, nogil=True, error_model="numpy")
def _actor_half(theta, grad, net, obs, H, D, WT, rows, act, col, d_z, out, hp, code, blas):
    """Policy forward, loss (out[1], out[3:7]) and, unless approx_kl > hp[6], backward."""
    z = _forward(theta, net, obs, H, WT, rows, code, blas)
    b = obs.shape[0]
    K.ppo_policy_loss(z, act, col[:, 0], col[:, 1], hp[0], hp[1], hp[4] > 0, d_z[:b], out)
    if not out[4] > hp[6]:
        _backward(theta, grad, net, obs, H, D, WT, rows, d_z[:b], code, blas)


@njit(cache=True, nogil=True, error_model="numpy")
def _critic_half(theta, grad, net, obs, H, D, WT, rows, col, d_v, out, hp, code, blas):
    """Value forward, loss (out[2]) and backward of vf_coef L_V."""
    v = _forward(theta, net, obs, H, WT, rows, code, blas)
    b = obs.shape[0]
    K.ppo_value_loss(v[:, 0], col[:, 2], col[:, 3], hp[2], hp[3], d_v[:b, 0], out)
    _backward(theta, grad, net, obs, H, D, WT, rows, d_v[:b], code, blas)


@njit(cache=True, parallel=True, error_model="numpy")
def _halves_parallel(theta, grad, net_a, net_c, obs, bufs_a, bufs_c, rows, act, col, d_z, d_v,
                     out, hp, code, blas):
    for i in prange(2):
        if i == 0:
            _actor_half(theta, grad, net_a, obs, bufs_a[0], bufs_a[1], bufs_a[2], rows, act,
                        col, d_z, out, hp, code, blas)
        else:
            _critic_half(theta, grad, net_c, obs, bufs_c[0], bufs_c[1], bufs_c[2], rows, col,
                         d_v, out, hp, code, blas)


@njit(cache=True, nogil=True, error_model="numpy")
def _clip_adam(theta, grad, m, v, t, hp):
    """g <- g max_norm / max(||g||, max_norm) (hp[5] = max_norm > 0), then Adam step t + 1 with
    lr, b1, b2, eps = hp[7:11] (``kernels.clip_adam``'s arithmetic). A non-finite norm, or
    without clipping a non-finite sum of g^2 (one pass over theta), raises a ValueError."""
    scale = 1.0
    if hp[5] > 0:
        norm = math.sqrt(K.sum_squares(grad))
        if not math.isfinite(norm):
            s = np.max(np.abs(grad))
            norm = s * math.sqrt(K.sum_squares(grad / s)) if math.isfinite(s) else math.inf
        if not math.isfinite(norm):
            raise ValueError("the PPO gradient is not finite (NaN or inf); lower lr or check "
                             "the rewards")
        scale = hp[5] / max(norm, hp[5])
    elif not math.isfinite(K.sum_squares(grad)):     # unclipped: g^2 must not overflow in v
        raise ValueError("the PPO gradient is not finite, or its square overflows the dtype in "
                         "Adam's second moment (max_grad_norm=None); clip it (max_grad_norm), "
                         "lower lr or scale the rewards")
    lr, b1, b2, eps = hp[7], hp[8], hp[9], hp[10]
    s = np.empty(9, theta.dtype)
    s[0], s[1], s[2], s[3], s[4] = scale, b1, 1.0 - b1, b2, 1.0 - b2
    s[5], s[6], s[7], s[8] = lr, 1.0 - b1 ** (t + 1), 1.0 - b2 ** (t + 1), eps
    K.adam_step(theta, grad, m, v, s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], s[8])


@njit(cache=True, nogil=True, error_model="numpy")
def _minibatch_grad(theta, grad, net_a, net_c, obs, bufs_a, bufs_c, rows, act, col, d_z, d_v,
                    out, hp, code, blas, threads):
    """Loss (out[:7]) and gradient (grad) of one minibatch; actor and critic on two threads
    when threads >= 2. out[0] = L_clip + vf_coef L_V + ent_coef L_H."""
    if threads >= 2:
        _halves_parallel(theta, grad, net_a, net_c, obs, bufs_a, bufs_c, rows, act, col, d_z,
                         d_v, out, hp, code, blas)
    else:
        _actor_half(theta, grad, net_a, obs, bufs_a[0], bufs_a[1], bufs_a[2], rows, act, col,
                    d_z, out, hp, code, blas)
        _critic_half(theta, grad, net_c, obs, bufs_c[0], bufs_c[1], bufs_c[2], rows, col, d_v,
                     out, hp, code, blas)
    out[0] = out[1] + hp[2] * out[2] + hp[1] * out[3]


@njit(cache=True, nogil=True, error_model="numpy")
def _epochs(theta, grad, m, v, t0, net_a, net_c, bufs_a, bufs_c, obs_src, act_src, cols, perms,
            bounds, obs_buf, act_buf, col_buf, d_z, d_v, outs, hp, code, blas, threads):
    """The minibatch steps of the epochs ``perms`` [E, B]; returns (steps evaluated, steps
    taken, stopped on target KL). hp: clip, ent_coef, vf_coef, vf_clip, norm_adv, max_norm,
    kl_stop, lr, b1, b2, eps."""
    rows = obs_buf.shape[0]
    n_eval = n_taken = 0
    for e in range(perms.shape[0]):
        for j in range(bounds.shape[0] - 1):
            s0, b = bounds[j], bounds[j + 1] - bounds[j]
            for i in range(b):
                src = perms[e, s0 + i]
                obs_buf[i] = obs_src[src]
                act_buf[i] = act_src[src]
                col_buf[i] = cols[src]
            out = outs[n_eval]
            _minibatch_grad(theta, grad, net_a, net_c, obs_buf[:b], bufs_a, bufs_c, rows,
                            act_buf[:b], col_buf[:b], d_z, d_v, out, hp, code, blas, threads)
            n_eval += 1
            if out[4] > hp[6]:
                return n_eval, n_taken, True
            _clip_adam(theta, grad, m, v, t0 + n_taken, hp)
            n_taken += 1
    return n_eval, n_taken, False


# ------------------------------------------------------------------------------- the update

_STAT_KEYS = ("policy_loss", "value_loss", "entropy", "approx_kl", "clip_fraction")
_OUT_INDEX = [1, 2, 6, 4, 5]        # where the loss kernels write each stat


class _Work:
    """The networks' tables and every buffer of an update with minibatches of <= rows."""

    def __init__(self, algo, layout, dtype, rows: int, obs_shape: tuple):
        self.net_a, n_a = net_table(layout, "policy", rows)
        self.net_c, n_c = net_table(layout, "critic", rows)
        # per network: activations H, their gradients D, and W_L^T and dL/dW_L^T of the head
        self.bufs_a = tuple(np.empty(n, dtype) for n in (n_a, n_a, 2 * _head_size(self.net_a)))
        self.bufs_c = tuple(np.empty(n, dtype) for n in (n_c, n_c, 2 * _head_size(self.net_c)))
        self.obs = np.empty((rows,) + obs_shape, dtype)
        self.act, self.col = np.empty(rows, np.int64), np.empty((rows, 4), dtype)
        self.d_z = np.empty((rows, algo.spec.n_actions), dtype)
        self.d_v = np.empty((rows, 1), dtype)


def _head_size(net: np.ndarray) -> int:
    return int(net[-1, 2] * net[-1, 3])


def _hyper(algo, lr: float, clip: float) -> np.ndarray:
    c, opt = algo.config, algo._optimizer(lr)
    return np.array([clip, c.ent_coef, c.vf_coef,
                     -1.0 if c.clip_range_vf is None else c.clip_range_vf, float(c.norm_adv),
                     -1.0 if c.max_grad_norm is None else c.max_grad_norm,
                     math.inf if c.target_kl is None else 1.5 * c.target_kl,
                     lr, opt.b1, opt.b2, opt.eps])


def _columns(batch) -> np.ndarray:
    return np.stack([batch[k] for k in ("logp_old", "adv", "ret", "v_old")], axis=1)


def inner_loop(algo, layout, theta, opt_state, batch, lr: float, clip: float, rng):
    """``n_epochs`` passes of shuffled minibatch steps on flat ``theta`` (updated in place).

    Same contract and random draws as ``PPO._inner_loop``: returns
    ``(theta, opt_state, stat sums, steps evaluated, steps taken)``. ``algo.fast_threads``
    (default 2) picks one or two threads.
    """
    c = algo.config
    B, dt = int(batch["adv"].shape[0]), theta.dtype
    n_mb = max(1, math.ceil(B / c.batch_size))
    # the chunks of np.array_split(permutation, n_mb), as fixed bounds
    bounds = np.cumsum([0] + [len(p) for p in np.array_split(np.empty(B), n_mb)])
    obs_src = np.ascontiguousarray(batch["obs"])
    w = _Work(algo, layout, dt, math.ceil(B / n_mb), obs_src.shape[1:])
    act_src = np.ascontiguousarray(batch["act"], dtype=np.int64)
    outs, grad = np.zeros((c.n_epochs * n_mb, 7)), np.zeros_like(theta)
    m, v, t0 = opt_state["m.theta"], opt_state["v.theta"], int(opt_state["step"])
    hp, cols, blas = _hyper(algo, lr, clip), _columns(batch), blas_table()
    code, threads = K.act_code(c.activation, dt), int(getattr(algo, "fast_threads", 2))
    n_eval = n_taken = 0
    # without target KL all permutations are drawn first (no early stop can skip one)
    per_call = 1 if c.target_kl is not None else c.n_epochs
    with _LOCK:
        for _ in range(0, c.n_epochs, per_call):
            perms = np.stack([rng.permutation(B) for _ in range(per_call)])
            e, k, stopped = _epochs(theta, grad, m, v, t0 + n_taken, w.net_a, w.net_c,
                                    w.bufs_a, w.bufs_c, obs_src, act_src, cols, perms, bounds,
                                    w.obs, w.act, w.col, w.d_z, w.d_v, outs[n_eval:], hp,
                                    code, blas, threads)
            n_eval, n_taken = n_eval + e, n_taken + k
            if stopped:
                break
    sums = outs[:n_eval, _OUT_INDEX].sum(axis=0)
    opt_state = {"step": t0 + n_taken, "m.theta": m, "v.theta": v}
    return theta, opt_state, dict(zip(_STAT_KEYS, sums.tolist())), n_eval, n_taken


def minibatch_loss_and_grad(algo, layout, theta, mb, clip: float, threads: int = 1):
    """The loss of one minibatch ``mb`` (the keys of ``PPO.loss_and_grad``'s) and its
    gradient [P] as the compiled loop computes them (no optimizer step; for tests).
    Returns ``(loss, grad, out)``, out = (L, L_clip, L_V, L_H, approx_kl, clip_fraction, H)."""
    c, dt = algo.config, theta.dtype
    obs = np.ascontiguousarray(mb["obs"], dtype=dt)
    B = obs.shape[0]
    w = _Work(algo, layout, dt, B, obs.shape[1:])
    grad, out = np.zeros_like(theta), np.zeros(7)
    hp = _hyper(algo, 0.0, clip)
    hp[6] = math.inf                          # always the backward pass
    with _LOCK:
        _minibatch_grad(theta, grad, w.net_a, w.net_c, obs, w.bufs_a, w.bufs_c, B,
                        np.ascontiguousarray(mb["act"], dtype=np.int64),
                        np.ascontiguousarray(_columns(mb), dtype=dt), w.d_z, w.d_v, out, hp,
                        K.act_code(c.activation, dt), blas_table(), threads)
    return out[0], grad, out
