"""Actor-critic(lambda) on the online engine: the trace update of one step, compiled.

The reference is ``npg.algos.traces.ac_lambda_step`` (Sutton & Barto 2018, p. 332) as
``ActorCriticLambda.update`` runs it for n_envs = n_steps = 1; this is that step on the
online workspace of ``online_kernels`` (the traces z^theta, z^w in its ``m`` slice):

    delta   = (r + gamma v(s')) - v(s)                (r when terminated)
    z^w     <- gamma lam^w z^w + grad_w v(s)           (replacing: grad where grad != 0)
    z^theta <- gamma lam^theta z^theta + I grad_theta log pi(a|s)
    w       <- w + alpha^w delta z^w,   theta <- theta + alpha^theta delta z^theta
    z       <- 0 after a step that ends the episode

``cache=True``, no fastmath, no random numbers inside. Its kernels call ``online_kernels``'
(``views``: the workspace layout, with the pair critic's input rows ``x`` last), whose
changes Numba's cache does not track: see that module's docstring.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .online_kernels import (H_DECAY_C, H_DECAY_PI, H_GAMMA, I_CODE, I_REPLACING, I_SPLIT,
                             _observe, act_greedy_gumbel, max_and_sum_exp, views)
from .online_nets import backward, forward

__all__ = ["online_step_lambda"]


@njit(cache=True, error_model="numpy")
def _trace_step(theta, z, g, decay, scale, step, replacing):
    """z <- decay z + scale g (accumulating) or, where g != 0, scale g (replacing), then
    theta <- theta + step z (``npg.algos.traces.trace_update``, ``add_scaled``)."""
    for i in range(theta.shape[0]):
        if replacing:
            zi = scale * g[i] if g[i] != 0 else decay * z[i]
        else:
            zi = decay * z[i] + scale * g[i]
        z[i] = zi
        theta[i] = theta[i] + step * zi


@njit(cache=True, error_model="numpy")
def _lambda_update(w, ix, s, a, r, term, ended, s_next, lr_pi, lr_c, i_t):
    """One step of actor-critic(lambda) (``npg.algos.traces.ac_lambda_step``) on (s, a, r,
    term, s'), traces z = (z^theta, z^w) in w.m: delta = (r + gamma v(s')) - v(s) (r when
    term), z^w <- decay_c z^w + grad v(s), z^theta <- decay_pi z^theta + I grad log pi(a|s),
    w += lr_c delta z^w, theta += lr_pi delta z^theta; traces reset after an episode's end.
    Returns delta."""
    theta, hp, code, k = w.theta, w.hp, ix[I_CODE], ix[I_SPLIT]
    nv = 0.0 if term else forward(theta, w.net_c, s_next, w.H_c2, code)[0]
    vs = forward(theta, w.net_c, s, w.H_c, code)[0]
    delta = (r + (0.0 if term else hp[H_GAMMA] * nv)) - vs
    w.d_c[0] = 1.0
    backward(theta, w.grad, w.net_c, s, w.H_c, w.d_c, w.D1, w.D2, code)
    top = w.net_pi[w.net_pi.shape[0] - 1]        # logits z(s) from the act that chose a
    zl = w.H_pi[top[4]:top[4] + top[3]]
    m, tot = max_and_sum_exp(zl)
    for j in range(zl.shape[0]):
        w.d_z[j] = 1.0 * ((1.0 if j == a else 0.0) - math.exp(zl[j] - m) / tot)
    backward(theta, w.grad, w.net_pi, s, w.H_pi, w.d_z, w.D1, w.D2, code)
    rep = ix[I_REPLACING] != 0
    _trace_step(theta[k:], w.m[k:], w.grad[k:], hp[H_DECAY_C], 1.0, lr_c * delta, rep)
    _trace_step(theta[:k], w.m[:k], w.grad[:k], hp[H_DECAY_PI], i_t, lr_pi * delta, rep)
    if ended:
        w.m[:] = 0.0
    return delta


@njit(cache=True, error_model="numpy")
def online_step_lambda(ws, ix, par, update, a, r, term, ended, obs_index, lr_pi, lr_c, i_t,
                       row):
    """``online_step_ac`` for ``ActorCriticLambda`` (``_lambda_update``; i_t the actor's
    discount I). Returns (a', log pi(a'|s'), delta; NaN when not updated)."""
    w = views(ws, ix)
    s, s_next = _observe(w, par, obs_index)
    delta = np.nan
    if update:
        delta = _lambda_update(w, ix, s, a, r, term, ended, s_next, lr_pi, lr_c, i_t)
    a2, logp = act_greedy_gumbel(w.theta, w.net_pi, s_next, w.H_pi, ix[I_CODE], w.gumbel[row])
    return a2, logp, delta
