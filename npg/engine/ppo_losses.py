"""PPO's loss layer in compiled code, for the three actors of ``npg.engine.records.ACTORS``.

The textbook version is ``npg.losses`` (clipped surrogate, value loss, entropy bonus) chained
through each distribution's ``terms`` (``npg.distributions``); ``PPO.loss_and_grad`` is the
reference these kernels are tested against. One minibatch of B rows, in three stages:

1. the distribution: log pi(a_b | s_b) and H_b from the actor's outputs,
     categorical (logits z [B, A]):  log pi = z_a - lse(z),  H = -sum_j pi_j log pi_j
     Gaussian (mean [B, K], log_std [K], clipped to [-20, 2]):
         log pi = sum_k -u_k^2 / 2 - s_k - log(2 pi) / 2,  u = (a - mu) e^{-s},
         H = sum_k s_k + (1 + log 2 pi) / 2
     gSDE (mean [B, K], features phi [B, H], log_std L [H, K], clipped):
         v = phi^2 @ e^{2L} + EPS,  log pi = sum_k -[(a - mu)^2 / v + log v + log 2 pi] / 2,
         H = sum_k [log v + 1 + log 2 pi] / 2
2. the loss: A_n = (A - mean A) / (std A + 1e-8) (norm_adv), r = exp(log pi - logp_old),
     L_clip = -(1/B) sum_b min(r A_n, clip(r, 1 - eps, 1 + eps) A_n),
     dL_clip / d log pi_b = -r_b A_n,b / B, or 0 where the clip is active,
     L_H = -(1/B) sum_b H_b  (dL_H / dH_b = -1/B, weighted by ent_coef),
     approx_kl = (1/B) sum (r - 1) - log r,  clip_fraction = (1/B) #{|r - 1| > eps};
3. the chain rule back to the actor's outputs (w_b = dL / d log pi_b, c = -ent_coef / B):
     categorical  dL/dz = w (onehot(a) - pi) - c pi (log pi + H)
     Gaussian     dL/dmu = w u e^{-s},  dL/ds_k = inside_k sum_b [w_b (u_bk^2 - 1) + c]
     gSDE         dL/dmu = w (a - mu) / v,  d_v = [w (u^2 - 1) + c] / (2 v),  u^2 = (a-mu)^2/v,
                  dL/dL_ik = inside_ik 2 e^{2 L_ik} sum_b phi_bi^2 d_v_bk
                  (phi is held constant in v: the stop-gradient of ``npg.policies.sde``).
   inside = [LOG_STD_MIN <= log_std <= LOG_STD_MAX], the clip's derivative.

The value term: L_V = (1/2B) sum (v - y)^2, or its clipped form (``value_loss``). Scalars are
accumulated in float64; results are written into the caller's arrays and a ``STEP_STATS``
record.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ..distributions.gaussian import LOG_STD_MAX, LOG_STD_MIN
from ..distributions.sde import EPS as SDE_EPS
from .records import GAUSSIAN

__all__ = ["policy_loss", "value_loss"]

_LOG_2PI = math.log(2.0 * math.pi)


@njit(cache=True, inline="always", error_model="numpy")
def _clip_ls(x):
    return min(max(x, LOG_STD_MIN), LOG_STD_MAX)


@njit(cache=True, inline="always", error_model="numpy")
def _inside(x):
    return 1.0 if (x >= LOG_STD_MIN and x <= LOG_STD_MAX) else 0.0


# ------------------------------------------------------------------------------- stage 1

@njit(cache=True, nogil=True, error_model="numpy")
def _categorical_terms(z, act, logp, ent, lse, pi):
    """logp, ent, lse [B] and pi [B, A] (= softmax z) from logits z [B, A]."""
    B, A = z.shape
    for b in range(B):
        m = z[b, 0]
        for j in range(1, A):
            m = max(m, z[b, j])
        s = 0.0
        for j in range(A):
            e = math.exp(z[b, j] - m)
            pi[b, j] = e
            s += e
        lse[b] = m + math.log(s)
        h = 0.0
        for j in range(A):
            p = pi[b, j] / s
            h -= p * (z[b, j] - lse[b])
            pi[b, j] = p
        ent[b] = h
        logp[b] = z[b, act[b]] - lse[b]


@njit(cache=True, nogil=True, error_model="numpy")
def _gaussian_terms(mean, act, log_std, logp, ent):
    B, K = mean.shape
    h = 0.0
    for k in range(K):
        h += _clip_ls(log_std[k]) + 0.5 * (1.0 + _LOG_2PI)
    for b in range(B):
        acc = 0.0
        for k in range(K):
            s = _clip_ls(log_std[k])
            u = (act[b, k] - mean[b, k]) * math.exp(-s)
            acc += -0.5 * u * u - s - 0.5 * _LOG_2PI
        logp[b] = acc
        ent[b] = h


@njit(cache=True, nogil=True, error_model="numpy")
def _sde_terms(mean, phi, act, log_std, logp, ent, v):
    """logp, ent [B] and the variances v [B, K] (log_std [H, K])."""
    B, K = mean.shape
    H = phi.shape[1]
    s2 = np.empty((H, K))
    for i in range(H):
        for k in range(K):
            s2[i, k] = math.exp(2.0 * _clip_ls(log_std[i, k]))
    for b in range(B):
        lp = h = 0.0
        for k in range(K):
            acc = 0.0
            for i in range(H):
                acc += phi[b, i] * phi[b, i] * s2[i, k]
            vk = acc + SDE_EPS
            v[b, k] = vk
            d = act[b, k] - mean[b, k]
            lv = math.log(vk)
            lp += -0.5 * (d * d / vk + lv + _LOG_2PI)
            h += 0.5 * (lv + 1.0 + _LOG_2PI)
        logp[b] = lp
        ent[b] = h


# ------------------------------------------------------------------------------- stage 2

@njit(cache=True, nogil=True, error_model="numpy")
def _surrogate(logp, logp_old, adv, eps, norm_adv, d_logp, out):
    """L_clip and dL_clip / d logp [B] into d_logp; approx_kl and clip_fraction into out."""
    B = logp.shape[0]
    mean, scale = 0.0, 1.0
    if norm_adv:
        for b in range(B):
            mean += adv[b]
        mean /= B
        var = 0.0
        for b in range(B):
            var += (adv[b] - mean) ** 2
        scale = math.sqrt(var / B) + 1e-8
    lo, hi = 1.0 - eps, 1.0 + eps
    loss = kl = n_clip = 0.0
    for b in range(B):
        log_r = logp[b] - logp_old[b]
        r = math.exp(log_r)
        a = (adv[b] - mean) / scale if norm_adv else adv[b]
        surr = r * a
        loss -= min(surr, min(max(r, lo), hi) * a)
        clipped = (a > 0 and r > hi) or (a < 0 and r < lo)
        d_logp[b] = 0.0 if clipped else -surr / B
        kl += (r - 1.0) - log_r
        n_clip += 1.0 if abs(r - 1.0) > eps else 0.0
    out.policy_loss = loss / B
    out.approx_kl = kl / B
    out.clip_fraction = n_clip / B


# ------------------------------------------------------------------------------- stage 3

@njit(cache=True, nogil=True, error_model="numpy")
def _categorical_chain(z, act, lse, ent, d_logp, c, pi):
    """pi [B, A] (softmax, from stage 1) is overwritten with dL/dz."""
    B, A = z.shape
    for b in range(B):
        for j in range(A):
            p = pi[b, j]
            d = d_logp[b] * ((1.0 if j == act[b] else 0.0) - p)
            if c != 0.0:
                d -= c * (p * ((z[b, j] - lse[b]) + ent[b]))
            pi[b, j] = d


@njit(cache=True, nogil=True, error_model="numpy")
def _gaussian_chain(mean, act, log_std, d_logp, c, d_mean, d_ls):
    B, K = mean.shape
    for k in range(K):
        s = _clip_ls(log_std[k])
        inv = math.exp(-s)
        acc = 0.0
        for b in range(B):
            u = (act[b, k] - mean[b, k]) * inv
            d_mean[b, k] = d_logp[b] * (u * inv)
            acc += d_logp[b] * (u * u - 1.0) + c
        d_ls[k] = acc * _inside(log_std[k])


@njit(cache=True, nogil=True, error_model="numpy")
def _sde_chain(mean, phi, act, log_std, d_logp, c, v, d_ls):
    """v [B, K] (from stage 1) is overwritten with dL/dmu; d_ls [H, K] written."""
    B, K = mean.shape
    H = phi.shape[1]
    for i in range(H):
        for k in range(K):
            d_ls[i, k] = 0.0
    for b in range(B):
        for k in range(K):
            vk = v[b, k]
            d = act[b, k] - mean[b, k]
            d_v = 0.5 * (d_logp[b] * (d * d / vk - 1.0) + c) / vk
            for i in range(H):
                d_ls[i, k] += phi[b, i] * phi[b, i] * d_v
            v[b, k] = d_logp[b] * d / vk
    for i in range(H):
        for k in range(K):
            x = log_std[i, k]
            d_ls[i, k] *= 2.0 * math.exp(2.0 * _clip_ls(x)) * _inside(x)


# ------------------------------------------------------------------------------- the kernels

@njit(cache=True, nogil=True, error_model="numpy")
def policy_loss(kind, z, phi, act_i, act_f, log_std, logp_old, adv, hp, d_z, d_ls, out):
    """PPO's policy terms (module docstring) for actor ``kind`` with outputs z [B, n]:
    writes d_z = dL/dz [B, n] and d_ls = dL/d log_std ([K], or [H K] flat for gSDE; empty for
    categorical) for L = L_clip + ent_coef L_H, and out.policy_loss, entropy_loss, approx_kl,
    clip_fraction, entropy. act_i [B] int64 and act_f None (categorical: only its terms
    compile) or act_f [B, K] (continuous, ``kind`` GAUSSIAN or GSDE); phi
    [B, H] the actor's last hidden layer (gSDE only); hp a ``records.Hyper``."""
    B = z.shape[0]
    logp, ent, aux = np.empty(B), np.empty(B), np.empty(B)
    if act_f is None:
        _categorical_terms(z, act_i, logp, ent, aux, d_z)
    elif kind == GAUSSIAN:
        _gaussian_terms(z, act_f, log_std, logp, ent)
    else:
        _sde_terms(z, phi, act_f, log_std.reshape((phi.shape[1], z.shape[1])), logp, ent, d_z)
    h = 0.0
    for b in range(B):
        h += ent[b]
    out.entropy_loss = -h / B
    out.entropy = h / B
    d_logp = logp                               # overwritten in place: logp is used up
    _surrogate(logp, logp_old, adv, hp.clip, hp.norm_adv > 0, d_logp, out)
    c = hp.ent_coef * (-1.0 / B)
    if act_f is None:
        _categorical_chain(z, act_i, aux, ent, d_logp, c, d_z)
    elif kind == GAUSSIAN:
        _gaussian_chain(z, act_f, log_std, d_logp, c, d_z, d_ls)
    else:
        H, K = phi.shape[1], z.shape[1]
        _sde_chain(z, phi, act_f, log_std.reshape((H, K)), d_logp, c, d_z,
                   d_ls.reshape((H, K)))


@njit(cache=True, nogil=True, error_model="numpy")
def value_loss(v, ret, v_old, vf_coef, vf_clip, d_v, out):
    """out.value_loss = L_V and d_v = vf_coef dL_V/dv [B] for values v [B], targets ret [B] and
    the rollout's values v_old [B]:
        L_V = (1/2B) sum (v - y)^2,   dL_V/dv = (v - y) / B,
    or, when vf_clip > 0, the clipped form of ``npg.losses.value_loss``:
        v_c = v_old + clip(v - v_old, -vf_clip, vf_clip),
        L_V = (1/2B) sum max((v - y)^2, (v_c - y)^2)  (gradient of the larger branch; the
        clipped branch passes gradient only where |v - v_old| < vf_clip).
    """
    B = v.shape[0]
    l_v = 0.0
    for b in range(B):
        err = v[b] - ret[b]
        if vf_clip > 0:
            dv = v[b] - v_old[b]
            err_c = min(max(dv, -vf_clip), vf_clip) + v_old[b] - ret[b]
            sq, sq_c = err * err, err_c * err_c
            l_v += max(sq, sq_c)
            g = err if sq >= sq_c else (err_c if abs(dv) < vf_clip else 0.0)
        else:
            l_v += err * err
            g = err
        d_v[b] = vf_coef * (g / B)
    out.value_loss = l_v / (2 * B)
