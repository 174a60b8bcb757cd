"""PPO's inner loop as one compiled call: every epoch and minibatch step of an update in Numba.

The same update as ``PPO._epochs`` (the reference) for NumPy train states of a separate MLP
actor (categorical, diagonal Gaussian or gSDE: ``records.ACTORS``) and MLP critic, with no
Python between minibatch steps:

* theta [P], the gradient g [P] and Adam's m, v [P] are flat vectors (``FlatLayout``); each
  network is a table of ``records.LAYER`` rows inside theta (``npg.engine.mlp``);
* per minibatch: the actor's forward, the loss layer (``npg.engine.ppo_losses``) and the
  backward; the critic's the same with the value loss; then global-norm clipping over actor
  and critic together and one Adam step (``npg.optim.Adam``'s arithmetic);
* with ``threads = 2`` the actor's and the critic's halves of each step run on two threads
  (Numba ``prange``): they read the same minibatch and write disjoint slices of g, so the
  result is bitwise that of one thread. The norm and the Adam step follow the join.

What compiles is what a run uses (the first call compiles, and this is most of a cold start):
the thread count reaches the kernels as ``par``, None for one thread (Numba prunes an
``if par is None`` branch by the argument's type, so a one-thread update never compiles the
parallel region, about half of the update's compile time), and the continuous actions as
``act_f``, None for a categorical actor (its update never compiles the Gaussian and gSDE
terms). ``_minibatch_grad`` is inlined into ``_epochs`` rather than compiled as a level of
its own (each compiled level re-optimises the machine code of everything it calls).

The random minibatch splits are the reference loop's: ``rng.permutation(B)`` per epoch, drawn
in Python before the call (one call per epoch when target-KL stopping is on, so that an early
stop draws no permutation the reference would not). Hyperparameters travel as a
``records.Hyper``; each step's losses and statistics as a ``records.STEP_STATS`` row.
"""

from __future__ import annotations

import math
import threading

import numpy as np
from numba import njit, prange

from . import kernels as K
from . import mlp
from ..optim import Adam
from ..schedules import constant
from .gemm import blas_table
from .ppo_losses import policy_loss, value_loss
from .threads import before_first_parallel_call
from .records import ACTORS, CATEGORICAL, STEP_STATS, hyper

__all__ = ["inner_loop", "minibatch_loss_and_grad", "clip_adam", "Work"]

_LOCK = threading.Lock()        # one compiled update at a time (Numba's workqueue layer
                                # does not allow concurrent parallel launches)


# ------------------------------------------------------------------------------- one step

@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _actor_half(theta, grad, net, obs, bufs, rows, kind, ls, act_i, act_f, col, d_z, out, hp,
                code, blas):
    """Actor forward, policy loss and, unless approx_kl > hp.kl_stop, backward. ls = (offset,
    length) of log_std in theta (length 0: categorical)."""
    H, D, WT = bufs
    z = mlp.forward(theta, net, obs, H, WT, rows, code, blas)
    b, L = obs.shape[0], net.shape[0]
    phi = obs if L == 1 else mlp.layer_block(H, net, L - 2, rows, b)
    s0, s1 = ls[0], ls[0] + ls[1]
    policy_loss(kind, z, phi, act_i, act_f, theta[s0:s1], col[:, 0], col[:, 1], hp, d_z[:b],
                grad[s0:s1], out)
    if not out.approx_kl > hp.kl_stop:
        mlp.backward(theta, grad, net, obs, H, D, WT, rows, d_z[:b], code, blas)


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _critic_half(theta, grad, net, obs, bufs, rows, col, d_v, out, hp, code, blas):
    """Critic forward, value loss and backward of vf_coef L_V."""
    H, D, WT = bufs
    v = mlp.forward(theta, net, obs, H, WT, rows, code, blas)
    b = obs.shape[0]
    value_loss(v[:, 0], col[:, 2], col[:, 3], hp.vf_coef, hp.vf_clip, d_v[:b, 0], out)
    mlp.backward(theta, grad, net, obs, H, D, WT, rows, d_v[:b], code, blas)


@njit(cache=True, parallel=True, error_model="numpy")
def _halves_parallel(theta, grad, net_a, net_c, obs, bufs_a, bufs_c, rows, kind, ls, act_i,
                     act_f, col, d_z, d_v, outs, hp, code, blas):
    """The two halves on two threads; they write outs[0] (a one-row ``STEP_STATS`` array:
    a parallel region takes arrays, not records)."""
    for i in prange(2):
        if i == 0:
            _actor_half(theta, grad, net_a, obs, bufs_a, rows, kind, ls, act_i, act_f, col,
                        d_z, outs[0], hp, code, blas)
        else:
            _critic_half(theta, grad, net_c, obs, bufs_c, rows, col, d_v, outs[0], hp, code,
                         blas)


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _minibatch_grad(theta, grad, net_a, net_c, obs, bufs_a, bufs_c, rows, kind, ls, act_i,
                    act_f, col, d_z, d_v, outs, hp, code, blas, par):
    """Loss (out = outs[0]) and gradient (grad) of one minibatch; actor and critic on one
    thread when par is None, else on two. out.loss = L_clip + vf_coef L_V + ent_coef L_H."""
    out = outs[0]
    if par is None:
        _actor_half(theta, grad, net_a, obs, bufs_a, rows, kind, ls, act_i, act_f, col, d_z,
                    out, hp, code, blas)
        _critic_half(theta, grad, net_c, obs, bufs_c, rows, col, d_v, out, hp, code, blas)
    else:
        _halves_parallel(theta, grad, net_a, net_c, obs, bufs_a, bufs_c, rows, kind, ls,
                         act_i, act_f, col, d_z, d_v, outs[:1], hp, code, blas)
    out.loss = out.policy_loss + hp.vf_coef * out.value_loss + hp.ent_coef * out.entropy_loss


@njit(cache=True, nogil=True, error_model="numpy")
def clip_adam(theta, grad, m, v, t, hp):
    """g <- g max_norm / max(||g||, max_norm) (when hp.max_norm > 0), then Adam step t + 1
    with hp.lr, b1, b2, eps (``kernels.adam_step``). A non-finite norm, or without clipping a
    non-finite sum of g^2, raises a ValueError (theta unchanged)."""
    scale = 1.0
    if hp.max_norm > 0:
        norm = math.sqrt(K.sum_squares(grad))
        if not math.isfinite(norm):
            s = np.max(np.abs(grad))
            norm = s * math.sqrt(K.sum_squares(grad / s)) if math.isfinite(s) else math.inf
        if not math.isfinite(norm):
            raise ValueError("the PPO gradient is not finite (NaN or inf); lower lr or check "
                             "the rewards")
        scale = hp.max_norm / max(norm, hp.max_norm)
    elif not math.isfinite(K.sum_squares(grad)):     # unclipped: g^2 must not overflow in v
        raise ValueError("the PPO gradient is not finite, or its square overflows the dtype in "
                         "Adam's second moment (max_grad_norm=None); clip it (max_grad_norm), "
                         "lower lr or scale the rewards")
    b1, b2 = hp.b1, hp.b2
    s = np.empty(9, theta.dtype)
    s[0], s[1], s[2], s[3], s[4] = scale, b1, 1.0 - b1, b2, 1.0 - b2
    s[5], s[6], s[7], s[8] = hp.lr, 1.0 - b1 ** (t + 1), 1.0 - b2 ** (t + 1), hp.eps
    K.adam_step(theta, grad, m, v, s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], s[8])


@njit(cache=True, nogil=True, error_model="numpy")
def _epochs(theta, grad, m, v, t0, net_a, net_c, bufs_a, bufs_c, kind, ls, src, f_src, perms,
            bounds, mb, f_mb, d_z, d_v, outs, hp, code, blas, par):
    """The minibatch steps of the epochs ``perms`` [E, B]; src = (obs, act_i, cols) of the
    batch and f_src its float actions (None for a categorical actor), mb and f_mb the same for
    one minibatch; par None (one thread) or not (two); returns (steps evaluated, steps taken,
    stopped on target KL). f_src, f_mb and par are arguments of their own: Numba prunes an
    ``is None`` branch only on an argument."""
    obs_src, act_i_src, cols = src
    obs_buf, act_i, col_buf = mb
    rows = obs_buf.shape[0]
    n_eval = n_taken = 0
    for e in range(perms.shape[0]):
        for j in range(bounds.shape[0] - 1):
            s0, b = bounds[j], bounds[j + 1] - bounds[j]
            for i in range(b):                  # row copies by loops (compile less than
                s = perms[e, s0 + i]            # array-to-array assignments)
                for q in range(obs_buf.shape[1]):
                    obs_buf[i, q] = obs_src[s, q]
                act_i[i] = act_i_src[s]
                if f_mb is not None:
                    for q in range(f_mb.shape[1]):
                        f_mb[i, q] = f_src[s, q]
                for q in range(4):
                    col_buf[i, q] = cols[s, q]
            if f_mb is None:
                act_f = None
            else:
                act_f = f_mb[:b]
            _minibatch_grad(theta, grad, net_a, net_c, obs_buf[:b], bufs_a, bufs_c, rows, kind,
                            ls, act_i[:b], act_f, col_buf[:b], d_z, d_v,
                            outs[n_eval:n_eval + 1], hp, code, blas, par)
            n_eval += 1
            if outs[n_eval - 1].approx_kl > hp.kl_stop:
                return n_eval, n_taken, True
            clip_adam(theta, grad, m, v, t0 + n_taken, hp)
            n_taken += 1
    return n_eval, n_taken, False


# ------------------------------------------------------------------------------- the update

class Work:
    """The networks' tables and every scratch buffer of an update with minibatches of <= rows;
    ``columns`` puts a batch in the form the kernels read (``src``).

    ``Work.of`` keeps the Work of the last few shapes (the tables and buffers depend on the
    layout, the minibatch rows, the dtype and the widths of obs and actions, not on the
    numbers). The buffers are only touched inside the compiled calls, which run under
    ``_LOCK``, so threads may share one Work; each caller holds its own ``src``."""

    _cache: dict = {}

    @classmethod
    def of(cls, actor: str, layout, batch, rows: int) -> "Work":
        obs, act = batch["obs"], batch["act"]
        k_f = 0 if ACTORS[actor] == CATEGORICAL else math.prod(np.shape(act)[1:])
        key = (actor, layout, rows, obs.dtype.str, obs.shape[1:], k_f)
        w = cls._cache.get(key)
        if w is None:
            if len(cls._cache) >= 8:
                cls._cache.clear()
            w = cls._cache[key] = cls(actor, layout, rows, obs.dtype, obs.shape[1:], k_f)
        return w

    def __init__(self, actor: str, layout, rows: int, dt, obs_shape: tuple, k_f: int):
        self.kind = ACTORS[actor]
        self.net_a, n_a = mlp.net_table(layout, "policy", rows)
        self.net_c, n_c = mlp.net_table(layout, "critic", rows)
        # per network: activations H, their gradients D, and W_L^T and dL/dW_L^T of the head
        self.bufs_a = tuple(np.empty(n, dt) for n in (n_a, n_a, 2 * mlp.head_size(self.net_a)))
        self.bufs_c = tuple(np.empty(n, dt) for n in (n_c, n_c, 2 * mlp.head_size(self.net_c)))
        ls = [(s, e - s) for g, k, _, s, e in layout.entries if g == "policy" and k == "log_std"]
        self.ls = np.array(ls[0] if ls else (0, 0), np.int64)
        self.mb = (np.empty((rows,) + obs_shape, dt), np.empty(rows, np.int64),
                   None if self.kind == CATEGORICAL else np.empty((rows, k_f), dt),
                   np.empty((rows, 4), dt))
        self.d_z = np.empty((rows, int(self.net_a[-1]["n_out"])), dt)
        self.d_v = np.empty((rows, 1), dt)
        self.dt, self.k_f = dt, k_f

    def columns(self, batch) -> tuple:
        """src = (obs [B, D], integer actions [B], float actions [B, K] (None for a
        categorical actor), the columns logp_old, adv, ret, v_old [B, 4]) of one update's
        batch."""
        obs, act, dt = np.ascontiguousarray(batch["obs"]), batch["act"], self.dt
        B = obs.shape[0]
        if self.kind == CATEGORICAL:
            act_i, act_f = np.ascontiguousarray(act, np.int64), None
        else:
            act_i = np.zeros(B, np.int64)
            act_f = np.ascontiguousarray(np.asarray(act, dt).reshape(B, self.k_f))
        cols = np.stack([batch[k] for k in ("logp_old", "adv", "ret", "v_old")], axis=1)
        return obs, act_i, act_f, np.ascontiguousarray(cols, dt)


def _par(threads: int):
    """The kernels' ``par``: None for one thread, else the thread count (2), after setting
    the thread pool's wait (``before_first_parallel_call``)."""
    if int(threads) < 2:
        return None
    before_first_parallel_call()
    return 2


def _split_bounds(B: int, n_mb: int) -> np.ndarray:
    """The chunk bounds of np.array_split(permutation of B, n_mb), as an int64 array: its
    first B mod n_mb chunks hold one row more than the rest."""
    q, r = divmod(B, n_mb)
    return np.cumsum([0] + [q + 1] * r + [q] * (n_mb - r), dtype=np.int64)


def _permutations(rng, B: int, n: int) -> np.ndarray:
    """[n, B]: n draws of ``rng.permutation(B)`` in order, bitwise (NumPy's
    ``Generator.permutation`` of an int is ``shuffle(arange(B))``), with less Python per row."""
    out = np.empty((n, B), np.int64)
    out[:] = np.arange(B)
    for row in out:
        rng.shuffle(row)
    return out


def inner_loop(actor, config, layout, theta, opt_state, batch, lr, clip, rng, adam,
               threads=2):
    """``config.n_epochs`` passes of shuffled minibatch steps on flat ``theta`` (in place).

    Same contract and random draws as ``PPO._epochs``: returns ``(theta, opt_state, stat
    sums, steps evaluated, steps taken)``. actor: a key of ``records.ACTORS``; adam: the
    ``npg.optim.Adam`` whose step the loop takes (its b1, b2, eps; lr is ``lr``); threads: 1
    or 2 (actor and critic halves of each step in parallel).
    """
    c = config
    B = int(batch["adv"].shape[0])
    n_mb = max(1, math.ceil(B / c.batch_size))
    bounds = _split_bounds(B, n_mb)
    w = Work.of(actor, layout, batch, math.ceil(B / n_mb))
    obs, act_i, act_f, cols = w.columns(batch)
    mb_obs, mb_act_i, mb_act_f, mb_cols = w.mb
    outs, grad = np.zeros(c.n_epochs * n_mb, STEP_STATS), np.zeros_like(theta)
    m, v, t0 = opt_state["m.theta"], opt_state["v.theta"], int(opt_state["step"])
    hp, blas = hyper(c, lr, clip, adam), blas_table()
    code = K.act_code(c.activation, theta.dtype)
    n_eval = n_taken = 0
    # without target KL all permutations are drawn first (no early stop can skip one)
    per_call = 1 if c.target_kl is not None else c.n_epochs
    par = _par(threads)
    with _LOCK:
        for _ in range(0, c.n_epochs, per_call):
            perms = _permutations(rng, B, per_call)
            e, k, stopped = _epochs(theta, grad, m, v, t0 + n_taken, w.net_a, w.net_c,
                                    w.bufs_a, w.bufs_c, w.kind, w.ls, (obs, act_i, cols),
                                    act_f, perms, bounds, (mb_obs, mb_act_i, mb_cols),
                                    mb_act_f, w.d_z, w.d_v, outs[n_eval:], hp, code, blas, par)
            n_eval, n_taken = n_eval + e, n_taken + k
            if stopped:
                break
    sums = {k: float(outs[k][:n_eval].sum()) for k in ("policy_loss", "value_loss", "entropy",
                                                      "approx_kl", "clip_fraction")}
    opt_state = {"step": t0 + n_taken, "m.theta": m, "v.theta": v}
    return theta, opt_state, sums, n_eval, n_taken


def minibatch_loss_and_grad(actor, config, layout, theta, mb, clip, threads=1):
    """The loss of one minibatch ``mb`` (the keys of ``PPO.loss_and_grad``'s) and its gradient
    [P] as the compiled loop computes them (no optimizer step; for tests). Returns
    ``(loss, grad, stats)``, stats a ``STEP_STATS`` record (``stats["approx_kl"]``)."""
    B = int(mb["adv"].shape[0])
    w = Work.of(actor, layout, mb, B)
    grad, outs = np.zeros_like(theta), np.zeros(1, STEP_STATS)
    hp = hyper(config, 0.0, clip, Adam(lr=constant(0.0)))._replace(kl_stop=math.inf)
    obs, act_i, act_f, cols = w.columns(mb)
    par = _par(threads)
    with _LOCK:
        _minibatch_grad(theta, grad, w.net_a, w.net_c, obs, w.bufs_a, w.bufs_c, B, w.kind,
                        w.ls, act_i, act_f, cols, w.d_z, w.d_v, outs, hp,
                        K.act_code(config.activation, theta.dtype), blas_table(), par)
    return float(outs[0]["loss"]), grad, outs[0]
