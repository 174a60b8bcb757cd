"""Acting for Box actions in one compiled call per environment step (diagonal Gaussian, gSDE).

The checked path (``Algorithm.act``, ``PPO`` with use_sde) runs the policy's forward pass,
draws, and evaluates the density with validation at every step; here the same arithmetic runs
in one kernel on the few observations of a vector env (``kernels.mlp_small_features``):

    Gaussian   mu = mlp(s),  s = clip(log_std) [K],   a = mu + e^{s} eps,
               log pi(a) = sum_k -((a_k - mu_k) e^{-s_k})^2 / 2 - s_k - log(2 pi) / 2
    gSDE       phi = h_{L-1}(s), mu = phi W_L + b_L,  L = clip(log_std) [H, K],
               v = phi^2 @ e^{2L} + EPS,
               a = mu + phi E_m  (noise matrices E [M, H, K], ``npg.app.sde_noise``)
                 or mu + sqrt(v) eps (no matrices: a fresh draw per row),
               log pi(a) = sum_k -[(a_k - mu_k)^2 / v_k + log v_k + log 2 pi] / 2

with eps ~ N(0, I) [M, K] drawn in Python from the caller's Generator exactly as
``gaussian.sample`` / ``sde.sample`` draw it (so actions equal the checked path's to rounding),
and eps = 0 for the mode. Returns the unclipped action (whose log-probability logp is) and
leaves clipping to the bounds to the caller.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ..distributions.gaussian import LOG_STD_MAX, LOG_STD_MIN
from ..distributions.sde import EPS as SDE_EPS
from . import kernels as K

__all__ = ["gaussian_act", "sde_act"]

_LOG_2PI = math.log(2.0 * math.pi)


@njit(cache=True, nogil=True, error_model="numpy")
def _gaussian_act(x, Ws, bs, code, log_std, eps, a, logp):
    mean = K.mlp_small(x, Ws, bs, code)
    M, Kd = mean.shape
    for m in range(M):
        acc = 0.0
        for k in range(Kd):
            s = min(max(log_std[k], LOG_STD_MIN), LOG_STD_MAX)
            a[m, k] = mean[m, k] + math.exp(s) * eps[m, k]
            u = (a[m, k] - mean[m, k]) * math.exp(-s)
            acc += -0.5 * u * u - s - 0.5 * _LOG_2PI
        logp[m] = acc


@njit(cache=True, nogil=True, error_model="numpy")
def _sde_act(x, Ws, bs, code, log_std, noise, eps, use_noise, a, logp):
    phi, mean = K.mlp_small_features(x, Ws, bs, code)
    M, Kd = mean.shape
    H = phi.shape[1]
    for m in range(M):
        acc = 0.0
        for k in range(Kd):
            v = 0.0
            pe = 0.0
            for i in range(H):
                s = min(max(log_std[i, k], LOG_STD_MIN), LOG_STD_MAX)
                v += phi[m, i] * phi[m, i] * math.exp(2.0 * s)
                if use_noise:
                    pe += phi[m, i] * noise[m, i, k]
            v += SDE_EPS
            a[m, k] = mean[m, k] + (pe if use_noise else math.sqrt(v) * eps[m, k])
            d = a[m, k] - mean[m, k]
            acc += -0.5 * (d * d / v + math.log(v) + _LOG_2PI)
        logp[m] = acc


def gaussian_act(weights, log_std, obs, rng, deterministic: bool, activation: str):
    """(action [M, K], log pi(action) [M]) of the diagonal Gaussian policy with MLP weights
    ``weights = (Ws, bs)`` (``acting.weights``) at obs [M, D] (finite, of the weights' dtype:
    ``acting.check_obs``)."""
    Ws, bs = weights
    M, Kd = obs.shape[0], Ws[-1].shape[1]
    eps = (np.zeros((M, Kd), obs.dtype) if deterministic
           else np.asarray(rng.standard_normal((M, Kd)), dtype=obs.dtype))
    a, logp = np.empty((M, Kd), obs.dtype), np.empty(M, obs.dtype)
    _gaussian_act(np.ascontiguousarray(obs), Ws, bs, K.act_code(activation, obs.dtype), log_std,
                  eps, a, logp)
    return a, logp


def sde_act(weights, log_std, obs, rng, deterministic: bool, noise, activation: str):
    """(action [M, K], log pi(action) [M]) of the gSDE policy (``npg.policies.sde``): the mean
    when deterministic, a = mu + phi E with ``noise`` E [M, H, K], or a fresh marginal draw;
    obs as for ``gaussian_act``."""
    Ws, bs = weights
    M, Kd = obs.shape[0], Ws[-1].shape[1]
    dt = obs.dtype
    use_noise = noise is not None and not deterministic
    eps = (np.asarray(rng.standard_normal((M, Kd)), dtype=dt)
           if not (deterministic or use_noise) else np.zeros((M, Kd), dt))
    E = (np.ascontiguousarray(np.asarray(noise, dtype=dt)) if use_noise
         else np.zeros((M, log_std.shape[0], Kd), dt))
    if use_noise and E.shape != (M, log_std.shape[0], Kd):
        raise ValueError(f"noise must have shape [M, H, K] = {(M, log_std.shape[0], Kd)}; got "
                         f"{E.shape}")
    if use_noise and not np.isfinite(E).all():
        raise ValueError("noise must be finite (no NaN or inf)")
    a, logp = np.empty((M, Kd), dt), np.empty(M, dt)
    _sde_act(np.ascontiguousarray(obs), Ws, bs, K.act_code(activation, dt),
             np.ascontiguousarray(log_std), E, eps, use_noise, a, logp)
    return a, logp
