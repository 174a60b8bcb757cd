"""Q actor-critic with the pair critic on the online engine: Q(s, a) = mlp([s, onehot(a)]).

The reference is ``npg.algos.QActorCritic`` with ``q_input="pair"`` (critic
``npg.values_sa.MLPStateActionQ``) at n_envs = n_steps = 1, run by ``npg.app.Agent``; this is
its step on the online workspace of ``online_kernels`` (``_qac_update`` with the critic fed
one (state, action) pair at a time instead of giving Q(s, .) in one pass):

    x(s, a)  = [s, onehot(a)]                         [D + A]   (the workspace rows ``x``)
    Q(s, a)  = mlp(x(s, a))[0]
    V(s)     = sum_a pi(a|s) Q(s, a)                  A forwards (``pair_expected``)
    y        = r + gamma V(s')                        (r when terminated; Expected SARSA)
    weight   = Q(s, a) - V(s)  (baseline)  or  Q(s, a)
    L        = -weight log pi(a|s) + (Q(s, a) - y)^2 / 2
    dL/dQ(s, a) = Q(s, a) - y, backpropagated through the taken pair's forward only.

V(s) and V(s') use the parameters before the step, as the collector's ``value_fn`` does. The
pair's MLP runs on ``online_nets`` (sums in another order than BLAS: equal to rounding).
``cache=True``, no fastmath, no random numbers inside (and the cache note of ``online_kernels``).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .online_kernels import (H_GAMMA, I_BASELINE, I_CODE, _actor_grad, _apply, _observe,
                             act_greedy_gumbel, max_and_sum_exp, views)
from .online_nets import backward, forward

__all__ = ["pair_q", "pair_expected", "online_step_qac_pair"]


@njit(cache=True, error_model="numpy")
def pair_q(theta, net, s, x, j, H, code):
    """Q(s, j) = mlp([s, onehot(j)]): writes the input row x [D + A], keeps the forward's
    activations in H (for a backward at this pair)."""
    D = s.shape[0]
    for i in range(D):
        x[i] = s[i]
    for i in range(D, x.shape[0]):
        x[i] = 0.0
    x[D + j] = 1.0
    return forward(theta, net, x, H, code)[0]


@njit(cache=True, error_model="numpy")
def pair_expected(theta, net, z, s, x, H, code):
    """V(s) = sum_j pi(j|s) Q(s, j), pi = softmax(z) = exp((z - max z) - log sum exp(z -
    max z)) (``online_kernels.expected_q`` with the A pairs evaluated one after another)."""
    m, tot = max_and_sum_exp(z)
    lse = math.log(tot)
    v = 0.0
    for j in range(z.shape[0]):
        v += math.exp((z[j] - m) - lse) * pair_q(theta, net, s, x, j, H, code)
    return v


@njit(cache=True, error_model="numpy")
def _pair_update(w, ix, s, a, r, term, s_next, lr_pi, lr_c, c1p, c2p, c1c, c2c):
    """One update of ``QActorCritic`` (q_input "pair") at T = 1 on (s, a, r, term, s')
    (module docstring). stats <- (policy_loss, entropy, L_Q, loss, grad_norm, actor weight,
    V(s)). Returns the gradient norm (not finite: nothing was stepped)."""
    theta, hp, code = w.theta, w.hp, ix[I_CODE]
    top = w.net_pi[w.net_pi.shape[0] - 1]        # logits z(s) from the act that chose a
    z = w.H_pi[top[4]:top[4] + top[3]]
    x, x_next = w.x[0], w.x[1]
    baseline = ix[I_BASELINE] != 0
    vs = pair_expected(theta, w.net_c, z, s, x, w.H_c, code) if baseline else 0.0
    qa = pair_q(theta, w.net_c, s, x, a, w.H_c, code)      # x, H_c: the taken pair's
    weight = qa - vs if baseline else qa
    logp, ent, loss_pi = _actor_grad(z, a, weight, 0.0, w.d_z)
    sq = backward(theta, w.grad, w.net_pi, s, w.H_pi, w.d_z, w.D1, w.D2, code)
    nv = 0.0
    if not term:                                 # the policy's forward at s' (after its
        z_next = forward(theta, w.net_pi, s_next, w.H_pi, code)      # backward at s)
        nv = pair_expected(theta, w.net_c, z_next, s_next, x_next, w.H_c2, code)
    y = r + hp[H_GAMMA] * nv
    err = qa - y
    loss_q = (err * err) / 2.0
    w.d_c[0] = err
    sq += backward(theta, w.grad, w.net_c, x, w.H_c, w.d_c, w.D1, w.D2, code)
    norm = _apply(w, ix, sq, lr_pi, lr_c, c1p, c2p, c1c, c2c)
    st = w.stats
    st[0], st[1], st[2], st[3] = -(weight * logp), ent, loss_q, loss_pi + loss_q
    st[4], st[5], st[6] = norm, weight, vs
    return norm


@njit(cache=True, error_model="numpy")
def online_step_qac_pair(ws, ix, par, update, a, r, term, obs_index, lr_pi, lr_c, c1p, c2p,
                         c1c, c2c, row):
    """``online_kernels.online_step_qac`` for the pair critic (``_pair_update``). Returns
    (a', log pi(a'|s'), gradient norm; NaN when not updated)."""
    w = views(ws, ix)
    s, s_next = _observe(w, par, obs_index)
    norm = np.nan
    if update:
        norm = _pair_update(w, ix, s, a, r, term, s_next, lr_pi, lr_c, c1p, c2p, c1c, c2c)
    a2, logp = act_greedy_gumbel(w.theta, w.net_pi, s_next, w.H_pi, ix[I_CODE], w.gumbel[row])
    return a2, logp, norm
