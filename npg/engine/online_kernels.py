"""Compiled one-step updates of the online actor-critics (one environment, one update per step).

The reference is the textbook code of ``npg.algos.ActorCritic`` (one-step TD actor-critic) and
``npg.algos.QActorCritic`` (Q actor-critic, Expected-SARSA target at T = 1), run by
``npg.app.Agent`` through the collector with ``n_envs = n_steps = 1``. These kernels do one
such step on a batch of one, on flat parameter vectors (``npg.engine.flat.FlatLayout``: the
policy's arrays, then the critic's), with no Python in between:

* networks: ``npg.engine.online_nets`` (forward and backward on flat theta, batch of one).
* actor: z = logits(s), log pi = (z - max z) - log sum exp(z - max z), with the weight A (the
  TD error for ``ac``, Q(s, a) or Q - V for ``qac``):
      L_pi = -A log pi(a|s) - c_H H(pi(.|s)),
      dL_pi/dz = -A (onehot(a) - pi) + c_H pi (log pi + H).
* critics: V: y = A + V(s), L_V = c_V (V(s) - y)^2 / 2, dL_V/dV = c_V (V(s) - y);
  Q: L_Q = (Q(s, a) - y)^2 / 2, dL_Q/dQ(s, .) = onehot(a) (Q(s, a) - y).
* step: global-norm clip (optional, ``npg.optim.clip_by_global_norm``), then Adam, RMSprop
  or SGD per network (``npg.optim``), in the reference's operations and order.
* acting: the next action a' = argmax(z(s') + g) with the Gumbel draws g passed in (the draws
  of ``npg.distributions.categorical.sample``), and log pi(a'|s').

Results agree with the reference to rounding (its products run through BLAS in another order;
tanh is ``npg.engine.tanh.tanh64``, within 2 ulp); ``tests/engine/test_online.py`` checks
parameters after thousands of steps. ``cache=True``, no fastmath, no random numbers inside.

Numba's on-disk cache checks only the timestamp of the file that defines a kernel, not of the
files whose functions it calls: a change here (the workspace layout of ``views``, say) must
come with a change to ``online_traces.py`` and ``online_pair.py`` too, or their cached kernels
run with the old layout (a segmentation fault, measured) until the cache is cleared.
"""

from __future__ import annotations

import math
from collections import namedtuple

import numpy as np
from numba import njit

from .online_nets import ACT_CODES, backward, forward, layer_table

__all__ = ["ACT_CODES", "OPT_CODES", "IX_FIELDS", "HYPER", "layer_table", "forward",
           "backward", "max_and_sum_exp", "act_greedy_gumbel", "expected_q", "q_expected", "workspace_size", "views", "act",
           "online_step_ac", "online_step_qac", "adam_step", "rmsprop_step"]

OPT_CODES = {"adam": 0, "rmsprop": 1, "sgd": 2}


# ------------------------------------------------------------------------------- losses

@njit(cache=True, error_model="numpy")
def max_and_sum_exp(z):
    """(m, s) = (max_j z_j, sum_j exp(z_j - m)) for logits z [A]: softmax(z)_j = exp(z_j - m) / s
    and log softmax(z)_j = (z_j - m) - log s, with no exp overflowing."""
    m = z[0]
    for j in range(1, z.shape[0]):
        m = max(m, z[j])
    s = 0.0
    for j in range(z.shape[0]):
        s += math.exp(z[j] - m)
    return m, s


@njit(cache=True, error_model="numpy")
def _actor_grad(z, a, weight, ent_coef, d_z):
    """d_z = dL_pi/dz for L_pi = -weight log pi(a) - ent_coef H; returns (log pi(a), H,
    L_pi) (``npg.algos._common.actor_loss_terms`` at B = 1)."""
    A = z.shape[0]
    m, s = max_and_sum_exp(z)
    lse = math.log(s)
    ent = 0.0
    for j in range(A):
        lp = (z[j] - m) - lse
        ent -= math.exp(lp) * lp
    logp = (z[a] - m) - lse
    d_logp = -weight
    loss = -(weight * logp)
    for j in range(A):
        lp = (z[j] - m) - lse
        pi = math.exp(lp)
        d_z[j] = d_logp * ((1.0 if j == a else 0.0) - pi)
        if ent_coef != 0.0:
            d_z[j] = d_z[j] - (-ent_coef) * (pi * (lp + ent))
    if ent_coef != 0.0:
        loss = loss + ent_coef * (-ent)
    return logp, ent, loss


@njit(cache=True, error_model="numpy")
def act_greedy_gumbel(theta, net, x, H, code, g):
    """a = argmax_j (z_j + g_j) for z = logits(x) (first on ties), and log pi(a|x)."""
    z = forward(theta, net, x, H, code)
    best, a = z[0] + g[0], 0
    for j in range(1, z.shape[0]):
        if z[j] + g[j] > best:
            best, a = z[j] + g[j], j
    m, s = max_and_sum_exp(z)
    return a, (z[a] - m) - math.log(s)


@njit(cache=True, error_model="numpy")
def expected_q(z, q):
    """sum_a pi(a) q_a with pi = softmax(z) = exp((z - max z) - log sum exp(z - max z))."""
    m, s = max_and_sum_exp(z)
    lse = math.log(s)
    v = 0.0
    for j in range(z.shape[0]):
        v += math.exp((z[j] - m) - lse) * q[j]
    return v


@njit(cache=True, error_model="numpy")
def q_expected(theta, net_pi, net_q, x, H_pi, H_q, code):
    """V(x) = sum_a pi(a|x) Q(x, a) (``QActorCritic.value``)."""
    z = forward(theta, net_pi, x, H_pi, code)
    q = forward(theta, net_q, x, H_q, code)
    return expected_q(z, q)


# ------------------------------------------------------------------------------- optimizer

@njit(cache=True, error_model="numpy")
def _sum_squares(g):
    """sum_i g_i^2 in 4 interleaved partial sums (lane k takes i = k mod 4), added pairwise at
    the end: a fixed order that keeps four additions in flight."""
    a0 = a1 = a2 = a3 = 0.0
    n4 = g.shape[0] - g.shape[0] % 4
    for i in range(0, n4, 4):
        a0 += g[i] * g[i]
        a1 += g[i + 1] * g[i + 1]
        a2 += g[i + 2] * g[i + 2]
        a3 += g[i + 3] * g[i + 3]
    for i in range(n4, g.shape[0]):
        a0 += g[i] * g[i]
    return (a0 + a1) + (a2 + a3)


@njit(cache=True, error_model="numpy")
def _norm_and_clip(grad, max_norm, sq):
    """||g|| (the reported norm) and, with max_norm > 0, g <- g max_norm / max(||g||, max_norm)
    with ||g|| = s ||g / s||, s = max |g|: the scaled form of ``npg.params.global_norm``, which
    the reference (``clip_by_global_norm``) takes only where sqrt(sum g^2) could overflow or
    underflow; the two agree to rounding.
    Without clipping the norm is only reported: sqrt(sq), the backward passes' squared norm."""
    if max_norm <= 0.0:
        return math.sqrt(sq)
    s = 0.0
    for i in range(grad.shape[0]):
        s = max(s, abs(grad[i]))
    safe = s if s > 0.0 else 1.0
    q = grad / safe
    norm = safe * math.sqrt(_sum_squares(q))
    scale = max_norm / max(norm, max_norm)
    for i in range(grad.shape[0]):
        grad[i] = grad[i] * scale
    return norm


@njit(cache=True, error_model="numpy")
def adam_step(theta, g, m, v, b1, one_minus_b1, b2, one_minus_b2, lr, c1, c2, eps):
    """One Adam step in place (``npg.optim.Adam``): m <- b1 m + (1 - b1) g, v <- b2 v +
    (1 - b2) g^2, theta <- theta - lr (m / c1) / (sqrt(v / c2) + eps), the reference's
    operations in its order, so bit for bit the same. Division by a bias correction that has
    rounded to exactly 1 (c1 from t = 356, c2 from t = 37,412) is skipped: it is exact."""
    if c1 == 1.0 and c2 == 1.0:
        for i in range(theta.shape[0]):
            gi = g[i]
            mi = b1 * m[i] + one_minus_b1 * gi
            vi = b2 * v[i] + one_minus_b2 * (gi * gi)
            m[i], v[i] = mi, vi
            theta[i] = theta[i] - lr * mi / (np.sqrt(vi) + eps)
        return
    if c1 == 1.0:
        for i in range(theta.shape[0]):
            gi = g[i]
            mi = b1 * m[i] + one_minus_b1 * gi
            vi = b2 * v[i] + one_minus_b2 * (gi * gi)
            m[i], v[i] = mi, vi
            theta[i] = theta[i] - lr * mi / (np.sqrt(vi / c2) + eps)
        return
    for i in range(theta.shape[0]):
        gi = g[i]
        mi = b1 * m[i] + one_minus_b1 * gi
        vi = b2 * v[i] + one_minus_b2 * (gi * gi)
        m[i], v[i] = mi, vi
        theta[i] = theta[i] - lr * (mi / c1) / (np.sqrt(vi / c2) + eps)


@njit(cache=True, error_model="numpy")
def rmsprop_step(theta, g, v, alpha, one_minus_alpha, lr, eps):
    """One RMSprop step in place (``npg.optim.RMSprop``): v <- alpha v + (1 - alpha) g^2,
    theta <- theta - lr g / (sqrt(v) + eps), in the reference's order (bit for bit)."""
    for i in range(theta.shape[0]):
        gi = g[i]
        vi = alpha * v[i] + one_minus_alpha * (gi * gi)
        v[i] = vi
        theta[i] = theta[i] - lr * gi / (np.sqrt(vi) + eps)


@njit(cache=True, error_model="numpy")
def _opt_step(theta, grad, m, v, hp, opt, lr, c1, c2):
    """One optimizer step on the slice theta (``npg.optim``): opt 0 Adam (bias corrections
    c1, c2), 1 RMSprop, 2 SGD; their constants in hp (``HYPER``)."""
    if opt == 0:
        adam_step(theta, grad, m, v, hp[H_B1], hp[H_1MB1], hp[H_B2], hp[H_1MB2], lr, c1, c2,
              hp[H_EPS])
    elif opt == 1:
        rmsprop_step(theta, grad, v, hp[H_ALPHA], hp[H_1MALPHA], lr, hp[H_RMS_EPS])
    else:
        for i in range(theta.shape[0]):
            theta[i] = theta[i] - lr * grad[i]


@njit(cache=True, error_model="numpy")
def _apply(w, ix, sq, lr_pi, lr_c, c1p, c2p, c1c, c2c):
    """Clip, then step the policy's slice [0, split) and the critic's [split, P); sq: the
    gradient's squared norm from the backward passes."""
    theta, grad, m, v = w.theta, w.grad, w.m, w.v
    norm = _norm_and_clip(grad, w.hp[H_MAX_NORM], sq)
    if not math.isfinite(norm):
        return norm
    k, opt = ix[I_SPLIT], ix[I_OPT]
    _opt_step(theta[:k], grad[:k], m[:k], v[:k], w.hp, opt, lr_pi, c1p, c2p)
    _opt_step(theta[k:], grad[k:], m[k:], v[k:], w.hp, opt, lr_c, c1c, c2c)
    return norm


# ------------------------------------------------------------------------------- one step

@njit(cache=True, error_model="numpy")
def _ac_update(w, ix, s, a, r, term, s_next, lr_pi, lr_c, c1p, c2p, c1c, c2c):
    """One update of ``ActorCritic`` on (s, a, r, term, s'): A = (r - V(s)) + gamma V(s')
    (no bootstrap when term), y = A + V(s); the actor and critic losses above; one step.
    The policy's activations at s are those of the act that chose a (same parameters since:
    ``OnlineLearner`` recomputes that act whenever the parameters are replaced).
    stats <- (policy_loss, entropy, value-loss term c_V L, loss, grad_norm, A, V(s)).
    Returns the gradient norm (not finite: nothing was stepped)."""
    theta, hp, code = w.theta, w.hp, ix[I_CODE]
    nv = 0.0 if term else forward(theta, w.net_c, s_next, w.H_c, code)[0]
    vs = forward(theta, w.net_c, s, w.H_c, code)[0]
    adv = (r - vs) + (0.0 if term else hp[H_GAMMA] * nv)
    y = adv + vs
    err = vs - y
    loss_v = hp[H_VF_COEF] * ((err * err) / 2.0)
    w.d_c[0] = hp[H_VF_COEF] * err
    top = w.net_pi[w.net_pi.shape[0] - 1]        # logits z(s): H_pi holds the policy's
    z = w.H_pi[top[4]:top[4] + top[3]]            # forward at s from the act that chose a
    logp, ent, loss_pi = _actor_grad(z, a, adv, hp[H_ENT_COEF], w.d_z)
    sq = backward(theta, w.grad, w.net_pi, s, w.H_pi, w.d_z, w.D1, w.D2, code)
    sq += backward(theta, w.grad, w.net_c, s, w.H_c, w.d_c, w.D1, w.D2, code)
    norm = _apply(w, ix, sq, lr_pi, lr_c, c1p, c2p, c1c, c2c)
    st = w.stats
    st[0], st[1], st[2], st[3] = -(adv * logp), ent, loss_v, loss_pi + loss_v
    st[4], st[5], st[6] = norm, adv, vs
    return norm


@njit(cache=True, error_model="numpy")
def _qac_update(w, ix, s, a, r, term, s_next, lr_pi, lr_c, c1p, c2p, c1c, c2c):
    """One update of ``QActorCritic`` at T = 1 on (s, a, r, term, s'): y = r + gamma
    sum_a' pi(a'|s') Q(s', a') (r when term), actor weight Q(s, a) (minus V(s) with the
    baseline); the losses above; one step. stats <- (policy_loss, entropy, L_Q, loss,
    grad_norm, actor weight, V(s)). Returns the gradient norm."""
    theta, hp, code = w.theta, w.hp, ix[I_CODE]
    top = w.net_pi[w.net_pi.shape[0] - 1]        # logits z(s) from the act that chose a
    z = w.H_pi[top[4]:top[4] + top[3]]
    q = forward(theta, w.net_c, s, w.H_c, code)
    vs = expected_q(z, q) if ix[I_BASELINE] != 0 else 0.0
    weight = q[a] - vs if ix[I_BASELINE] != 0 else q[a]
    logp, ent, loss_pi = _actor_grad(z, a, weight, 0.0, w.d_z)
    sq = backward(theta, w.grad, w.net_pi, s, w.H_pi, w.d_z, w.D1, w.D2, code)
    nv = 0.0 if term else q_expected(theta, w.net_pi, w.net_c, s_next, w.H_pi, w.H_c2, code)
    y = r + hp[H_GAMMA] * nv
    err = q[a] - y
    loss_q = (err * err) / 2.0
    w.d_c[:] = 0.0
    w.d_c[a] = err
    sq += backward(theta, w.grad, w.net_c, s, w.H_c, w.d_c, w.D1, w.D2, code)
    norm = _apply(w, ix, sq, lr_pi, lr_c, c1p, c2p, c1c, c2c)
    st = w.stats
    st[0], st[1], st[2], st[3] = -(weight * logp), ent, loss_q, loss_pi + loss_q
    st[4], st[5], st[6] = norm, weight, vs
    return norm


# ------------------------------------------------------------------------------- workspace

# The integer record ix [I_NETS + 5 (L_pi + L_c)]: sizes, offsets into the float workspace,
# codes, then the two layer tables (``layer_table`` rows). Names, in order:
IX_FIELDS = ("P", "SPLIT", "D", "A", "BLOCK", "L_PI", "L_C", "N_PI", "N_C", "WIDE", "N_OUT_C",
             "KIND", "CODE", "OPT", "BASELINE", "REPLACING")
(I_P, I_SPLIT, I_D, I_A, I_BLOCK, I_L_PI, I_L_C, I_N_PI, I_N_C, I_WIDE, I_N_OUT_C, I_KIND,
 I_CODE, I_OPT, I_BASELINE, I_REPLACING) = range(len(IX_FIELDS))
I_NETS = len(IX_FIELDS)
# The hyperparameters, the first floats of the workspace:
HYPER = ("GAMMA", "VF_COEF", "ENT_COEF", "MAX_NORM", "B1", "1MB1", "B2", "1MB2", "EPS",
         "ALPHA", "1MALPHA", "RMS_EPS", "DECAY_PI", "DECAY_C")
(H_GAMMA, H_VF_COEF, H_ENT_COEF, H_MAX_NORM, H_B1, H_1MB1, H_B2, H_1MB2, H_EPS, H_ALPHA,
 H_1MALPHA, H_RMS_EPS, H_DECAY_PI, H_DECAY_C) = range(len(HYPER))
N_STATS = 8


def workspace_size(ix: np.ndarray) -> int:
    """Length of the float workspace that ``views`` cuts for the record ``ix``."""
    P, D, A, B = int(ix[I_P]), int(ix[I_D]), int(ix[I_A]), int(ix[I_BLOCK])
    return (len(HYPER) + 4 * P + int(ix[I_N_PI]) + 2 * int(ix[I_N_C]) + 2 * int(ix[I_WIDE]) + A
            + int(ix[I_N_OUT_C]) + 2 * D + 2 * (D + A) + N_STATS + B * A)


Work = namedtuple("Work", "hp theta grad m v H_pi H_c H_c2 D1 D2 d_z d_c s stats gumbel x "
                          "net_pi net_c")


@njit(cache=True, error_model="numpy")
def views(ws, ix):
    """The named slices of the float workspace ws (and the layer tables of ix), in order:
    hp, theta, grad, m, v [P], H_pi, H_c, H_c2 (the Q critic's forward at s'), D1, D2,
    d_z [A], d_c, s [2, D] (the two observation rows), stats, gumbel [BLOCK, A], x [2, D + A]
    (the pair critic's inputs [s, onehot(a)] at s and s')."""
    P, D, A = ix[I_P], ix[I_D], ix[I_A]
    sizes = (len(HYPER), P, P, P, P, ix[I_N_PI], ix[I_N_C], ix[I_N_C], ix[I_WIDE], ix[I_WIDE],
             A, ix[I_N_OUT_C], 2 * D, N_STATS, ix[I_BLOCK] * A, 2 * (D + A))
    offs = np.zeros(len(sizes) + 1, np.int64)
    for i in range(len(sizes)):
        offs[i + 1] = offs[i] + sizes[i]
    L1, L2 = ix[I_L_PI], ix[I_L_C]
    net_pi = ix[I_NETS:I_NETS + 5 * L1].reshape((L1, 5))
    net_c = ix[I_NETS + 5 * L1:I_NETS + 5 * (L1 + L2)].reshape((L2, 5))
    cut = [ws[offs[i]:offs[i + 1]] for i in range(len(sizes))]
    return Work(cut[0], cut[1], cut[2], cut[3], cut[4], cut[5], cut[6], cut[7], cut[8], cut[9],
                cut[10], cut[11], cut[12].reshape((2, D)), cut[13],
                cut[14].reshape((ix[I_BLOCK], A)), cut[15].reshape((2, D + A)), net_pi, net_c)


@njit(cache=True, error_model="numpy")
def act(ws, ix, par, row):
    """(a, log pi(a|s)) at the observation row ``par`` with Gumbel row ``row``."""
    w = views(ws, ix)
    return act_greedy_gumbel(w.theta, w.net_pi, w.s[par], w.H_pi, ix[I_CODE], w.gumbel[row])


@njit(cache=True, inline="always", error_model="numpy")
def _observe(w, par, obs_index):
    """(s, s'): the observation rows par and 1 - par; s' one-hot ``obs_index`` when >= 0."""
    s, s_next = w.s[par], w.s[1 - par]
    if obs_index >= 0:
        s_next[:] = 0.0
        s_next[obs_index] = 1.0
    return s, s_next


@njit(cache=True, error_model="numpy")
def online_step_ac(ws, ix, par, update, a, r, term, obs_index, lr_pi, lr_c, c1p, c2p, c1c,
                   c2c, row):
    """One step of the loop after the environment's, for ``ActorCritic``: the observation s'
    (row 1 - par of s; one-hot ``obs_index`` written here when >= 0), the update on
    (s = row par, a, r, term, s') when ``update`` (not a phantom step), then the next action
    at s' with Gumbel row ``row``. Returns (a', log pi(a'|s'), gradient norm; NaN when not
    updated). Two kernels (this and ``online_step_qac``) so that a run compiles only its own."""
    w = views(ws, ix)
    s, s_next = _observe(w, par, obs_index)
    norm = np.nan
    if update:
        norm = _ac_update(w, ix, s, a, r, term, s_next, lr_pi, lr_c, c1p, c2p, c1c, c2c)
    a2, logp = act_greedy_gumbel(w.theta, w.net_pi, s_next, w.H_pi, ix[I_CODE], w.gumbel[row])
    return a2, logp, norm


@njit(cache=True, error_model="numpy")
def online_step_qac(ws, ix, par, update, a, r, term, obs_index, lr_pi, lr_c, c1p, c2p, c1c,
                    c2c, row):
    """``online_step_ac`` for ``QActorCritic``."""
    w = views(ws, ix)
    s, s_next = _observe(w, par, obs_index)
    norm = np.nan
    if update:
        norm = _qac_update(w, ix, s, a, r, term, s_next, lr_pi, lr_c, c1p, c2p, c1c, c2c)
    a2, logp = act_greedy_gumbel(w.theta, w.net_pi, s_next, w.H_pi, ix[I_CODE], w.gumbel[row])
    return a2, logp, norm

