"""Compiled one-step updates of the online actor-critics (one environment, one update per step).

The reference is the textbook code of ``npg.algos.ActorCritic`` (one-step TD actor-critic) and
``npg.algos.QActorCritic`` (Q actor-critic, Expected-SARSA target at T = 1), run by
``npg.app.Agent`` through the collector with ``n_envs = n_steps = 1``. These kernels do one
such step on a batch of one, on flat parameter vectors (``npg.engine.flat.FlatLayout``: the
policy's arrays, then the critic's), with no Python in between:

* networks: each is a table of layers, rows ``(W offset, b offset, n_in, n_out, h offset)``
  into theta (``layer_table``); forward h_l = f(h_{l-1} W_l + b_l), identity output layer;
  backward dL/dW_l = h_{l-1} (x) g_l, dL/db_l = g_l, g_{l-1} = (W_l g_l) * f'(h_{l-1}),
  f' from the outputs (tanh' = 1 - h^2, relu' = [h > 0]). Linear-in-features networks
  (``theta [D + 1, A]`` on features [1, obs]) are one-layer tables whose bias is row 0.
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
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .tanh import tanh64

__all__ = ["ACT_CODES", "OPT_CODES", "layer_table", "forward", "backward", "act_greedy_gumbel",
           "ac_step", "qac_step", "q_expected"]

ACT_CODES = {"tanh": 0, "relu": 1}
OPT_CODES = {"adam": 0, "rmsprop": 1, "sgd": 2}


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
        out[:] = 0.0
        for i in range(n_in):
            xi, row = h[i], w0 + i * n_out
            for j in range(n_out):
                out[j] += xi * theta[row + j]
        for j in range(n_out):
            out[j] = out[j] + theta[b0 + j]
            if l < L - 1:
                out[j] = _act(out[j], code)
        h = out
    return h


@njit(cache=True, error_model="numpy")
def backward(theta, grad, net, x, H, d_out, D1, D2, code):
    """Writes dL/dW_l, dL/db_l into grad's slices for dL/d out = d_out [n_L] (formulas in the
    module docstring); D1, D2 are scratch rows at least as wide as the widest hidden layer."""
    L = net.shape[0]
    g = d_out
    for l in range(L - 1, -1, -1):
        w0, b0, n_in, n_out = net[l, 0], net[l, 1], net[l, 2], net[l, 3]
        h_prev = x if l == 0 else H[net[l - 1, 4]:net[l - 1, 4] + n_in]
        for j in range(n_out):
            grad[b0 + j] = g[j]
        for i in range(n_in):
            hi, row = h_prev[i], w0 + i * n_out
            for j in range(n_out):
                grad[row + j] = hi * g[j]
        if l > 0:
            d = D1[:n_in] if (L - 1 - l) % 2 == 0 else D2[:n_in]
            for i in range(n_in):
                s, row = 0.0, w0 + i * n_out
                for j in range(n_out):
                    s += g[j] * theta[row + j]
                y = h_prev[i]
                d[i] = s - (y * y) * s if code == 0 else s * (1.0 if y > 0.0 else 0.0)
            g = d


# ------------------------------------------------------------------------------- losses

@njit(cache=True, error_model="numpy")
def _actor_grad(z, a, weight, ent_coef, d_z):
    """d_z = dL_pi/dz for L_pi = -weight log pi(a) - ent_coef H; returns (log pi(a), H,
    L_pi) (``npg.algos._common.actor_loss_terms`` at B = 1)."""
    A = z.shape[0]
    m = z[0]
    for j in range(1, A):
        m = max(m, z[j])
    s = 0.0
    for j in range(A):
        s += math.exp(z[j] - m)
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
    m = z[0]
    for j in range(1, z.shape[0]):
        m = max(m, z[j])
    s = 0.0
    for j in range(z.shape[0]):
        s += math.exp(z[j] - m)
    return a, (z[a] - m) - math.log(s)


@njit(cache=True, error_model="numpy")
def q_expected(theta, net_pi, net_q, x, H_pi, H_q, code):
    """V(x) = sum_a pi(a|x) Q(x, a) (``QActorCritic.value``)."""
    z = forward(theta, net_pi, x, H_pi, code)
    q = forward(theta, net_q, x, H_q, code)
    m = z[0]
    for j in range(1, z.shape[0]):
        m = max(m, z[j])
    s = 0.0
    for j in range(z.shape[0]):
        s += math.exp(z[j] - m)
    lse = math.log(s)
    v = 0.0
    for j in range(z.shape[0]):
        v += math.exp((z[j] - m) - lse) * q[j]
    return v


# ------------------------------------------------------------------------------- optimizer

@njit(cache=True, error_model="numpy")
def _norm_and_clip(grad, max_norm):
    """||g|| (the reported norm) and, with max_norm > 0, g <- g max_norm / max(||g||, max_norm)
    with ||g|| = s ||g / s||, s = max |g| (``clip_by_global_norm``)."""
    if max_norm <= 0.0:
        acc = 0.0
        for i in range(grad.shape[0]):
            acc += grad[i] * grad[i]
        return math.sqrt(acc)
    s = 0.0
    for i in range(grad.shape[0]):
        s = max(s, abs(grad[i]))
    safe = s if s > 0.0 else 1.0
    acc = 0.0
    for i in range(grad.shape[0]):
        q = grad[i] / safe
        acc += q * q
    norm = safe * math.sqrt(acc)
    scale = max_norm / max(norm, max_norm)
    for i in range(grad.shape[0]):
        grad[i] = grad[i] * scale
    return norm


@njit(cache=True, error_model="numpy")
def _opt_step(theta, grad, m, v, lo, hi, opt, lr, h, c1, c2):
    """One optimizer step on theta[lo:hi] (``npg.optim``): opt 0 Adam (h.b1, h.b2, h.eps,
    bias corrections c1, c2), 1 RMSprop (h.alpha, h.rms_eps), 2 SGD."""
    if opt == 0:
        for i in range(lo, hi):
            gi = grad[i]
            m[i] = h.b1 * m[i] + h.one_minus_b1 * gi
            v[i] = h.b2 * v[i] + h.one_minus_b2 * (gi * gi)
            theta[i] = theta[i] - lr * (m[i] / c1) / (np.sqrt(v[i] / c2) + h.eps)
    elif opt == 1:
        for i in range(lo, hi):
            gi = grad[i]
            v[i] = h.alpha * v[i] + h.one_minus_alpha * (gi * gi)
            theta[i] = theta[i] - lr * gi / (np.sqrt(v[i]) + h.rms_eps)
    else:
        for i in range(lo, hi):
            theta[i] = theta[i] - lr * grad[i]


@njit(cache=True, error_model="numpy")
def _apply(theta, grad, m, v, split, h, lr_pi, lr_c, cs):
    """Clip, then step the policy's slice [0, split) and the critic's [split, P)."""
    norm = _norm_and_clip(grad, h.max_grad_norm)
    if not math.isfinite(norm):
        return norm
    _opt_step(theta, grad, m, v, 0, split, h.opt, lr_pi, h, cs[0], cs[1])
    _opt_step(theta, grad, m, v, split, theta.shape[0], h.opt, lr_c, h, cs[2], cs[3])
    return norm


# ------------------------------------------------------------------------------- one step

@njit(cache=True, error_model="numpy")
def ac_step(theta, grad, m, v, split, net_pi, net_v, bufs, s, a, r, term, s_next, h, lr_pi,
            lr_c, cs, stats):
    """One update of ``ActorCritic`` on (s, a, r, term, s'): A = (r - V(s)) + gamma V(s')
    (no bootstrap when term), y = A + V(s); the actor and critic losses above; one step.
    bufs: (H_pi, H_v, D1, D2, d_z, d_v). stats [7] <- (policy_loss, entropy, value-loss term
    c_V L, loss, grad_norm, A, V(s)). Returns False when the gradient is not finite."""
    H_pi, H_v, D1, D2, d_z, d_v = bufs
    nv = 0.0 if term else forward(theta, net_v, s_next, H_v, h.code)[0]
    vs = forward(theta, net_v, s, H_v, h.code)[0]
    adv = (r - vs) + (0.0 if term else h.gamma * nv)
    y = adv + vs
    err = vs - y
    loss_v = h.vf_coef * ((err * err) / 2.0)
    d_v[0] = h.vf_coef * err
    z = forward(theta, net_pi, s, H_pi, h.code)
    logp, ent, loss_pi = _actor_grad(z, a, adv, h.ent_coef, d_z)
    backward(theta, grad, net_pi, s, H_pi, d_z, D1, D2, h.code)
    backward(theta, grad, net_v, s, H_v, d_v, D1, D2, h.code)
    norm = _apply(theta, grad, m, v, split, h, lr_pi, lr_c, cs)
    stats[0], stats[1], stats[2] = -(adv * logp), ent, loss_v
    stats[3], stats[4], stats[5], stats[6] = loss_pi + loss_v, norm, adv, vs
    return math.isfinite(norm)


@njit(cache=True, error_model="numpy")
def qac_step(theta, grad, m, v, split, net_pi, net_q, bufs, s, a, r, term, s_next, h, lr_pi,
             lr_c, cs, stats):
    """One update of ``QActorCritic`` at T = 1 on (s, a, r, term, s'): y = r + gamma
    sum_a' pi(a'|s') Q(s', a') (r when term), actor weight Q(s, a) (minus V(s) with
    h.baseline); the losses above; one step. bufs as ``ac_step``; stats [7] <- (policy_loss,
    entropy, L_Q, loss, grad_norm, actor weight, V(s)). False when the gradient is not finite."""
    H_pi, H_q, D1, D2, d_z, d_q = bufs
    nv = 0.0 if term else q_expected(theta, net_pi, net_q, s_next, H_pi, H_q, h.code)
    vs = q_expected(theta, net_pi, net_q, s, H_pi, H_q, h.code) if h.baseline else 0.0
    y = r + h.gamma * nv
    q = forward(theta, net_q, s, H_q, h.code)
    err = q[a] - y
    loss_q = (err * err) / 2.0
    d_q[:] = 0.0
    d_q[a] = err
    weight = q[a] - vs if h.baseline else q[a]
    z = forward(theta, net_pi, s, H_pi, h.code)
    logp, ent, loss_pi = _actor_grad(z, a, weight, 0.0, d_z)
    backward(theta, grad, net_pi, s, H_pi, d_z, D1, D2, h.code)
    backward(theta, grad, net_q, s, H_q, d_q, D1, D2, h.code)
    norm = _apply(theta, grad, m, v, split, h, lr_pi, lr_c, cs)
    stats[0], stats[1], stats[2] = -(weight * logp), ent, loss_q
    stats[3], stats[4], stats[5], stats[6] = loss_pi + loss_q, norm, weight, vs
    return math.isfinite(norm)
