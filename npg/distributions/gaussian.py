"""Diagonal Gaussian over K action dimensions, parametrised by mean mu and log_std = log sigma.

    pi(a) = prod_k N(a_k; mu_k, sigma_k^2),   sigma = exp(log_std)

Arguments broadcast against each other (e.g. mean [B, K] with a state-independent log_std [K]);
results summed over K have the broadcast batch shape [...], gradients the full broadcast shape
[..., K] (sum them over broadcast axes yourself). Functions take their array module from their
inputs (NumPy, CuPy, array_api_strict).

log_std is kept in [LOG_STD_MIN, LOG_STD_MAX] = [-20, 2] by the policies (``clip_log_std``):
sigma in [2e-9, 7.4], so 1/sigma^2 <= e^40 and exp(2 (log_std_p - log_std_q)) <= e^44 stay
finite even in float32. The functions here do not clip: they are the plain formulas.

Bad and extreme input: every argument must be a finite real floating array (ValueError /
TypeError naming it otherwise) and the arguments must broadcast. A result that overflows the
dtype although the inputs are finite (((a - mu) / sigma)^2 beyond float32's 3.4e38, exp(2
(log_std_p - log_std_q)) beyond e^709, a sample with exp(log_std) = inf) raises a ValueError
that names the function and the term; with log_std inside the clip bounds and |a - mu| < 1e10
every function is finite in both dtypes.

| symbol  | shape    | meaning                |
|---------|----------|------------------------|
| mean    | [..., K] | mu                     |
| log_std | [..., K] | log sigma              |
| a       | [..., K] | actions (real)         |
"""

from __future__ import annotations

import math

import numpy as np

from ..checks import check_finite, check_float, check_result_finite, max_abs
from ..backend import create, device_of, get_xp

__all__ = ["LOG_STD_MIN", "LOG_STD_MAX", "clip_log_std", "log_prob", "log_prob_grad",
           "entropy", "entropy_grad", "kl", "kl_grad", "terms", "sample"]

LOG_STD_MIN = -20.0
LOG_STD_MAX = 2.0
_LOG_2PI = math.log(2.0 * math.pi)


def _check(**arrays):
    shape, first = None, None
    for name, x in arrays.items():
        if not hasattr(x, "ndim") or x.ndim < 1:
            raise ValueError(f"{name} must be an array [..., K]; got "
                             f"{getattr(x, 'shape', type(x).__name__)}")
        check_float(name, x)
        check_finite(name, x)
        try:
            shape = tuple(np.broadcast_shapes(tuple(x.shape), shape or ()))
        except ValueError:
            raise ValueError(f"{name} of shape {tuple(x.shape)} must broadcast with {first} "
                             f"(shapes {shape})") from None
        first = first or name


def _overflow_u(a, mean, log_std):
    """What to say when ((a - mu) / sigma)^2 overflowed."""
    xp = get_xp(a, mean, log_std)
    u = max_abs((a - mean) * xp.exp(-log_std))
    return (f"max |a - mean| / sigma = {u:.3g}, whose square is too large for the dtype; use "
            f"float64, or keep log_std in [LOG_STD_MIN, LOG_STD_MAX] (clip_log_std)")


def _overflow_rho(log_std_p, log_std_q):
    xp = get_xp(log_std_p, log_std_q)
    d = float(xp.max(log_std_p - log_std_q))
    return (f"exp(2 (log_std_p - log_std_q)) with max log_std_p - log_std_q = {d:.3g}, or "
            f"(mean_p - mean_q) / sigma_q, is too large for the dtype; keep log_std in "
            f"[LOG_STD_MIN, LOG_STD_MAX] (clip_log_std)")


def clip_log_std(log_std):
    """clip(log_std, LOG_STD_MIN, LOG_STD_MAX).

    Gradient: 1 where LOG_STD_MIN <= log_std <= LOG_STD_MAX, 0 outside (multiply incoming
    gradients by ``(log_std >= LOG_STD_MIN) & (log_std <= LOG_STD_MAX)``).
    """
    _check(log_std=log_std)
    return get_xp(log_std).clip(log_std, LOG_STD_MIN, LOG_STD_MAX)


def log_prob(mean, log_std, a):
    """log pi(a) = sum_k [ -((a_k - mu_k) / sigma_k)^2 / 2 - log sigma_k - log(2 pi) / 2 ].

    Shapes: broadcast of [..., K] -> [...].
    Gradients (see ``log_prob_grad``): d/d mu_k = (a_k - mu_k) / sigma_k^2,
    d/d log_std_k = ((a_k - mu_k) / sigma_k)^2 - 1.
    """
    _check(mean=mean, log_std=log_std, a=a)
    xp = get_xp(mean, log_std, a)
    u = (a - mean) * xp.exp(-log_std)
    out = xp.sum(-0.5 * u * u - log_std - 0.5 * _LOG_2PI, axis=-1)
    if not bool(xp.all(xp.isfinite(out))):
        check_result_finite("gaussian.log_prob", out, _overflow_u(a, mean, log_std))
    return out


def log_prob_grad(mean, log_std, a):
    """(d log pi / d mu, d log pi / d log_std) = ((a - mu) / sigma^2, ((a - mu) / sigma)^2 - 1).

    Derivation with u = (a - mu) / sigma: d(-u^2/2)/d mu = u / sigma; d u / d log_std = -u, so
    d(-u^2/2 - log_std)/d log_std = u^2 - 1.
    Shapes: broadcast of [..., K] -> ([..., K], [..., K]).
    """
    _check(mean=mean, log_std=log_std, a=a)
    xp = get_xp(mean, log_std, a)
    inv_std = xp.exp(-log_std)
    u = (a - mean) * inv_std
    d_mean, d_log_std = u * inv_std, u * u - 1.0
    if not (bool(xp.all(xp.isfinite(d_mean))) and bool(xp.all(xp.isfinite(d_log_std)))):
        check_result_finite("gaussian.log_prob_grad", d_mean + d_log_std,
                            _overflow_u(a, mean, log_std) + " (or (a - mean) / sigma^2 is)")
    return d_mean, d_log_std


def entropy(log_std):
    """H = sum_k [ log sigma_k + (1 + log 2 pi) / 2 ].   Shapes: [..., K] -> [...].

    Gradient: d H / d log_std_k = 1 (see ``entropy_grad``); H does not depend on the mean.
    """
    _check(log_std=log_std)
    xp = get_xp(log_std)
    out = xp.sum(log_std + 0.5 * (1.0 + _LOG_2PI), axis=-1)
    check_result_finite("gaussian.entropy", out, "the sum of log_std over K is too large")
    return out


def entropy_grad(log_std):
    """d H / d log_std = 1 for every k.   Shapes: [..., K] -> [..., K]."""
    _check(log_std=log_std)
    return get_xp(log_std).ones_like(log_std)


def kl(mean_p, log_std_p, mean_q, log_std_q):
    """KL(p || q) = sum_k [ log sigma_q - log sigma_p
                            + (sigma_p^2 + (mu_p - mu_q)^2) / (2 sigma_q^2) - 1/2 ].

    Shapes: broadcast of [..., K] -> [...]; >= 0 with equality iff p = q.
    Gradients (see ``kl_grad``), with d = mu_p - mu_q, rho = sigma_p^2 / sigma_q^2:
    d/d mu_p = d / sigma_q^2, d/d mu_q = -d / sigma_q^2, d/d log_std_p = rho - 1,
    d/d log_std_q = 1 - rho - d^2 / sigma_q^2.
    """
    _check(mean_p=mean_p, log_std_p=log_std_p, mean_q=mean_q, log_std_q=log_std_q)
    xp = get_xp(mean_p, log_std_p, mean_q, log_std_q)
    rho = xp.exp(2.0 * (log_std_p - log_std_q))
    v = (mean_p - mean_q) * xp.exp(-log_std_q)
    out = xp.sum(log_std_q - log_std_p + 0.5 * (rho + v * v) - 0.5, axis=-1)
    if not bool(xp.all(xp.isfinite(out))):
        check_result_finite("gaussian.kl", out, _overflow_rho(log_std_p, log_std_q))
    return out


def kl_grad(mean_p, log_std_p, mean_q, log_std_q):
    """(d/d mu_p, d/d log_std_p, d/d mu_q, d/d log_std_q) of KL(p || q), each [..., K].

    With d = mu_p - mu_q, rho = exp(2 (log_std_p - log_std_q)):
      d/d mu_p = d / sigma_q^2                 (from d^2 / (2 sigma_q^2))
      d/d mu_q = -d / sigma_q^2
      d/d log_std_p = -1 + rho                 (d sigma_p^2 / d log_std_p = 2 sigma_p^2)
      d/d log_std_q = 1 - rho - d^2 / sigma_q^2  (d sigma_q^-2 / d log_std_q = -2 sigma_q^-2)
    """
    _check(mean_p=mean_p, log_std_p=log_std_p, mean_q=mean_q, log_std_q=log_std_q)
    xp = get_xp(mean_p, log_std_p, mean_q, log_std_q)
    rho = xp.exp(2.0 * (log_std_p - log_std_q))
    inv_std_q = xp.exp(-log_std_q)
    v = (mean_p - mean_q) * inv_std_q
    d_mean_p = v * inv_std_q
    d_mean_p, d_log_std_p, d_log_std_q = xp.broadcast_arrays(d_mean_p, rho - 1.0,
                                                             1.0 - rho - v * v)
    if not (bool(xp.all(xp.isfinite(d_mean_p))) and bool(xp.all(xp.isfinite(d_log_std_q)))):
        check_result_finite("gaussian.kl_grad", d_mean_p + d_log_std_q,
                            _overflow_rho(log_std_p, log_std_q))
    return d_mean_p, d_log_std_p, -d_mean_p, d_log_std_q


def terms(mean, log_std, a):
    """The chain-rule layer for a loss on log pi(a_b) and H_b, from one evaluation:
    ``(logp [B], H [B], d_dist)`` with

        d_dist(d_logp [B], d_ent [B] or None) -> (d L / d mean [B, K], d L / d log_std [B, K])
            d L / d mean    = d_logp (a - mu) / sigma^2
            d L / d log_std = d_logp (((a - mu) / sigma)^2 - 1) + d_ent

    (``log_prob_grad`` and ``entropy_grad``, weighted per sample); log_std broadcast to
    mean's [B, K]. Inputs are checked as by ``log_prob``.
    """
    xp = get_xp(mean, log_std)
    mean, log_std = xp.broadcast_arrays(mean, log_std)
    logp = log_prob(mean, log_std, a)
    ent = entropy(log_std)
    g_mean, g_log_std = log_prob_grad(mean, log_std, a)

    def d_dist(d_logp, d_ent=None):
        d_ls = d_logp[:, None] * g_log_std
        if d_ent is not None:
            d_ls = d_ls + d_ent[:, None]
        return d_logp[:, None] * g_mean, d_ls
    return logp, ent, d_dist


def sample(mean, log_std, rng: np.random.Generator):
    """a = mu + sigma * eps, eps ~ N(0, I) drawn from the NumPy Generator ``rng``.

    Shapes: broadcast of mean, log_std [..., K] -> [..., K]. Not differentiated here (the
    reparametrisation gradient would be d a / d mu = 1, d a / d log_std = sigma eps).
    """
    _check(mean=mean, log_std=log_std)
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator; got {type(rng).__name__}")
    xp = get_xp(mean, log_std)
    shape = tuple(np.broadcast_shapes(tuple(mean.shape), tuple(log_std.shape)))
    eps = create(xp, "asarray", rng.standard_normal(shape), dtype=mean.dtype,
                 device=device_of(mean))     # drawn on the host, one copy to mean's device
    out = mean + xp.exp(log_std) * eps
    if not bool(xp.all(xp.isfinite(out))):
        check_result_finite("gaussian.sample", out, f"exp(log_std) * eps with max log_std = "
                            f"{float(xp.max(log_std)):.3g} is too large for the dtype; keep "
                            f"log_std in [LOG_STD_MIN, LOG_STD_MAX] (clip_log_std)")
    return out
