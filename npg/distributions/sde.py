"""Generalised state-dependent exploration (gSDE): the Gaussian that a = mu + phi E induces.

Raffin, Kober & Stulp (2022), "Smooth exploration for robotic reinforcement learning" (CoRL
2021); the reference behaviour is Stable-Baselines3's ``StateDependentNoiseDistribution`` with
``full_std=True, use_expln=False, learn_features=False``.

The action is a = mu(s) + phi(s) E with features phi(s) [H] and a noise matrix E [H, K] whose
entries are independent, E_ik ~ N(0, exp(L_ik)^2), L = log_std [H, K] a parameter. Given s, a
is Gaussian with independent coordinates:

    a_k | s ~ N(mu_k, v_k),   v_k = sum_i phi_i^2 exp(2 L_ik) + eps        (v = phi^2 @ exp(2L))

(eps = ``EPS`` = 1e-6 is a variance floor, as SB3's, so that v > 0 even where phi = 0; the
sampler ``noise_action`` draws without it, a variance difference of 1e-6.) The functions here
are the density of that marginal and its derivatives:

    log pi(a) = sum_k -[ (a_k - mu_k)^2 / v_k + log v_k + log 2 pi ] / 2
    H         = sum_k [ log v_k + 1 + log 2 pi ] / 2

Every derivative goes through v:  d log pi / d mu_k = (a_k - mu_k) / v_k,
d log pi / d v_k = (u_k^2 - 1) / (2 v_k) with u_k^2 = (a_k - mu_k)^2 / v_k,  d H / d v_k =
1 / (2 v_k), and the variance layer (``variance_vjp``): for an upstream g = d ./d v [B, K],

    d / d L_ik   = sum_b g_bk phi_bi^2 2 exp(2 L_ik)      = 2 exp(2L) * (phi^2)^T g   [H, K]
    d / d phi_bi = sum_k g_bk 2 phi_bi exp(2 L_ik)        = 2 phi * (g @ exp(2L)^T)   [B, H]

The policy holds phi constant inside v (SB3's learn_features=False): PPO backpropagates the
phi-gradient of the mean only. Functions take their array module from their inputs.

Bad input: every array must be finite and real floating, with the shapes below (ValueError /
TypeError naming it); a variance exp(2L) phi^2 that overflows the dtype (L beyond ~354 in
float64, ~44 in float32) raises a ValueError naming log_std. ``terms`` trusts its inputs.

| symbol  | shape     | meaning                                   |
|---------|-----------|-------------------------------------------|
| mean    | [B, K]    | mu(s)                                     |
| phi     | [B, H]    | features (the mean network's last hidden) |
| log_std | [H, K]    | L                                         |
| a       | [B, K]    | actions                                   |
| noise   | [B, H, K] | E, one matrix per row (environment)       |
"""

from __future__ import annotations

import math

import numpy as np

from ..checks import check_finite, check_float, check_positive_int, check_result_finite
from ..backend import create, device_of, get_xp

__all__ = ["EPS", "variance", "variance_vjp", "log_prob", "log_prob_grad", "entropy",
           "entropy_grad", "kl", "kl_grad", "terms", "sample", "sample_noise", "noise_action"]

EPS = 1e-6
_LOG_2PI = math.log(2.0 * math.pi)


def _check(ndim: int, **arrays):
    for name, x in arrays.items():
        if not hasattr(x, "ndim") or x.ndim != ndim:
            raise ValueError(f"{name} must be an array with {ndim} axes; got "
                             f"{getattr(x, 'shape', type(x).__name__)}")
        check_float(name, x)
        check_finite(name, x)


def _check_all(mean=None, phi=None, log_std=None, a=None):
    _check(2, **{k: v for k, v in (("mean", mean), ("phi", phi), ("log_std", log_std), ("a", a))
                 if v is not None})
    if phi is not None and log_std is not None and phi.shape[1] != log_std.shape[0]:
        raise ValueError(f"phi [B, H] and log_std [H, K] must agree on H; got {tuple(phi.shape)} "
                         f"and {tuple(log_std.shape)}")
    for name, x in (("mean", mean), ("a", a)):
        if x is not None and phi is not None and log_std is not None and tuple(x.shape) != (
                phi.shape[0], log_std.shape[1]):
            raise ValueError(f"{name} must have shape [B, K] = "
                             f"{(int(phi.shape[0]), int(log_std.shape[1]))}; got "
                             f"{tuple(x.shape)}")


def _variance(phi, log_std):
    xp = get_xp(phi, log_std)
    return (phi * phi) @ xp.exp(2.0 * log_std) + EPS


def _checked_variance(phi, log_std):
    """``_variance`` for the public functions: ValueError if v overflowed."""
    v = _variance(phi, log_std)
    xp = get_xp(v)
    if not bool(xp.all(xp.isfinite(v))):
        check_result_finite("sde.variance", v, f"v = phi^2 @ exp(2 log_std) with max log_std = "
                            f"{float(xp.max(log_std)):.3g} and max |phi| = "
                            f"{float(xp.max(xp.abs(phi))):.3g} is too large for the dtype")
    return v


def variance(phi, log_std):
    """v = (phi^2) @ exp(2 L) + eps: v_bk = sum_i phi_bi^2 exp(2 L_ik) + eps.   [B, H], [H, K]
    -> [B, K].  Gradient: ``variance_vjp``."""
    _check_all(phi=phi, log_std=log_std)
    return _checked_variance(phi, log_std)


def _variance_vjp(phi, log_std, d_v):
    xp = get_xp(phi, log_std, d_v)
    s2 = xp.exp(2.0 * log_std)
    return 2.0 * phi * (d_v @ s2.T), 2.0 * s2 * ((phi * phi).T @ d_v)


def variance_vjp(phi, log_std, d_v):
    """(d_phi [B, H], d_log_std [H, K]) of sum_bk d_v_bk v_bk, for d_v [B, K]:

        d_phi = 2 phi * (d_v @ exp(2L)^T),      d_log_std = 2 exp(2L) * ((phi^2)^T @ d_v)

    (d v_bk / d phi_bi = 2 phi_bi exp(2 L_ik);  d v_bk / d L_ik = 2 phi_bi^2 exp(2 L_ik)).
    """
    _check_all(phi=phi, log_std=log_std)
    _check(2, d_v=d_v)
    return _variance_vjp(phi, log_std, d_v)


def _log_prob_v(mean, v, a):
    xp = get_xp(mean, v, a)
    d = a - mean
    return xp.sum(-0.5 * (d * d / v + xp.log(v) + _LOG_2PI), axis=-1)


def _entropy_v(v):
    xp = get_xp(v)
    return xp.sum(0.5 * (xp.log(v) + 1.0 + _LOG_2PI), axis=-1)


def log_prob(mean, phi, log_std, a):
    """log pi(a) = sum_k -[(a_k - mu_k)^2 / v_k + log v_k + log 2 pi] / 2, v = variance(phi, L).

    Shapes: mean [B, K], phi [B, H], log_std [H, K], a [B, K] -> [B].
    Gradients: ``log_prob_grad``.
    """
    _check_all(mean, phi, log_std, a)
    out = _log_prob_v(mean, _checked_variance(phi, log_std), a)
    xp = get_xp(out)
    if not bool(xp.all(xp.isfinite(out))):
        check_result_finite("sde.log_prob", out, f"(a - mean)^2 / v with max |a - mean| = "
                            f"{float(xp.max(xp.abs(a - mean))):.3g} is too large for the dtype")
    return out


def log_prob_grad(mean, phi, log_std, a):
    """Per-sample (d log pi_b / d mu_b [B, K], d / d phi_b [B, H], d / d L [B, H, K]).

    With v = variance(phi, L), u^2 = (a - mu)^2 / v, g = d log pi / d v = (u^2 - 1) / (2 v):
        d / d mu_bk  = (a_bk - mu_bk) / v_bk
        d / d phi_bi = 2 phi_bi sum_k g_bk exp(2 L_ik)
        d / d L_bik  = 2 phi_bi^2 exp(2 L_ik) g_bk        (sum over b for a batch's gradient)
    """
    _check_all(mean, phi, log_std, a)
    xp = get_xp(mean, phi, log_std, a)
    v = _checked_variance(phi, log_std)
    d = a - mean
    g = 0.5 * (d * d / v - 1.0) / v
    s2 = xp.exp(2.0 * log_std)
    d_phi = 2.0 * phi * (g @ s2.T)
    d_L = 2.0 * (phi * phi)[:, :, None] * s2[None, :, :] * g[:, None, :]
    return d / v, d_phi, d_L


def entropy(phi, log_std):
    """H = sum_k [log v_k + 1 + log 2 pi] / 2.   phi [B, H], log_std [H, K] -> [B].

    Gradients (``entropy_grad``): d H / d v_k = 1 / (2 v_k), through ``variance_vjp``."""
    _check_all(phi=phi, log_std=log_std)
    return _entropy_v(_checked_variance(phi, log_std))


def entropy_grad(phi, log_std):
    """Per-sample (d H_b / d phi_b [B, H], d H_b / d L [B, H, K]); H does not depend on mu.

        d H_b / d phi_bi = sum_k phi_bi exp(2 L_ik) / v_bk
        d H_b / d L_ik   = phi_bi^2 exp(2 L_ik) / v_bk       (2 x (1 / 2v) x d v / d .)
    """
    _check_all(phi=phi, log_std=log_std)
    xp = get_xp(phi, log_std)
    v = _checked_variance(phi, log_std)
    h = 0.5 / v
    s2 = xp.exp(2.0 * log_std)
    return 2.0 * phi * (h @ s2.T), 2.0 * (phi * phi)[:, :, None] * s2[None, :, :] * h[:, None, :]


def terms(mean, phi, log_std, a):
    """One evaluation for a loss layer: ``(logp [B], H [B], vjp)`` with

        vjp(d_logp [B], d_ent [B] or None) -> (d_mean [B, K], d_phi [B, H], d_log_std [H, K])

    the gradient of sum_b d_logp_b log pi_b + d_ent_b H_b: d_mean = d_logp (a - mu) / v, and
    d_phi, d_log_std = ``variance_vjp(phi, L, d_v)`` with d_v = d_logp (u^2 - 1) / (2v)
    + d_ent / (2v). Inputs are trusted (the caller validated them).
    """
    v = _variance(phi, log_std)
    d = a - mean
    u2 = d * d / v
    xp = get_xp(v)
    logp = xp.sum(-0.5 * (u2 + xp.log(v) + _LOG_2PI), axis=-1)
    ent = _entropy_v(v)

    def vjp(d_logp, d_ent=None):
        w = d_logp[:, None]
        d_v = w * (u2 - 1.0)
        if d_ent is not None:
            d_v = d_v + d_ent[:, None]
        d_v = 0.5 * d_v / v
        d_phi, d_L = _variance_vjp(phi, log_std, d_v)
        return w * d / v, d_phi, d_L
    return logp, ent, vjp


def kl(mean_p, phi_p, log_std_p, mean_q, phi_q, log_std_q):
    """KL(p || q) of two gSDE marginals N(mu_p, v_p), N(mu_q, v_q) (diagonal Gaussians):

        KL_b = sum_k [ log v_q - log v_p + (v_p + (mu_p - mu_q)^2) / v_q - 1 ] / 2     [B]

    >= 0, = 0 iff the means and variances agree. Gradient with respect to q: ``kl_grad``.
    """
    _check_all(mean_p, phi_p, log_std_p)
    _check_all(mean_q, phi_q, log_std_q)
    xp = get_xp(mean_p, mean_q)
    v_p, v_q = _checked_variance(phi_p, log_std_p), _checked_variance(phi_q, log_std_q)
    d = mean_p - mean_q
    return xp.sum(0.5 * (xp.log(v_q) - xp.log(v_p) + (v_p + d * d) / v_q - 1.0), axis=-1)


def kl_grad(mean_p, phi_p, log_std_p, mean_q, phi_q, log_std_q, w):
    """The gradient of sum_b w_b KL(p_b || q_b) with respect to q's parameters:

        d / d mu_q = w (mu_q - mu_p) / v_q                                  [B, K]
        d / d v_q  = w [1 / v_q - (v_p + (mu_p - mu_q)^2) / v_q^2] / 2      [B, K]
        (d_phi_q [B, H], d_log_std_q [H, K]) = ``variance_vjp(phi_q, L_q, d / d v_q)``

    w [B] (per-sample weights). Returns ``(d_mean_q, d_phi_q, d_log_std_q)``.
    """
    _check_all(mean_p, phi_p, log_std_p)
    _check_all(mean_q, phi_q, log_std_q)
    _check(1, w=w)
    v_p, v_q = _checked_variance(phi_p, log_std_p), _checked_variance(phi_q, log_std_q)
    d = mean_p - mean_q
    wk = w[:, None]
    d_v = wk * 0.5 * (1.0 / v_q - (v_p + d * d) / (v_q * v_q))
    d_phi, d_L = _variance_vjp(phi_q, log_std_q, d_v)
    return -wk * d / v_q, d_phi, d_L


def _check_rng(rng):
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator; got {type(rng).__name__}")


def sample(mean, phi, log_std, rng: np.random.Generator):
    """A fresh draw from the marginal: a = mu + sqrt(v) eps, eps ~ N(0, I) from ``rng``.
    [B, K]. (Equivalent in law, up to eps, to ``noise_action`` with new noise every row.)"""
    _check_all(mean, phi, log_std)
    _check_rng(rng)
    xp = get_xp(mean, phi, log_std)
    eps = create(xp, "asarray", rng.standard_normal(tuple(mean.shape)), dtype=mean.dtype,
                 device=device_of(mean))          # host draws, one copy to mean's device
    return mean + xp.sqrt(_checked_variance(phi, log_std)) * eps


def sample_noise(log_std, n: int, rng: np.random.Generator):
    """n noise matrices E [n, H, K], E_ik = exp(L_ik) z_ik with z ~ N(0, 1) from ``rng`` (NumPy
    draws, moved to log_std's module and dtype). Not differentiated."""
    _check(2, log_std=log_std)
    _check_rng(rng)
    n = check_positive_int("n", n)
    xp = get_xp(log_std)
    z = create(xp, "asarray", rng.standard_normal((int(n),) + tuple(log_std.shape)),
               dtype=log_std.dtype, device=device_of(log_std))
    return xp.exp(log_std)[None, :, :] * z


def noise_action(mean, phi, noise):
    """a_b = mu_b + phi_b E_b, i.e. a_bk = mu_bk + sum_i phi_bi E_bik.
    mean [B, K], phi [B, H], noise [B, H, K] -> [B, K]. Given phi, a_k ~ N(mu_k, v_k - eps)
    when E is drawn by ``sample_noise`` (a linear map of independent Gaussians)."""
    _check_all(mean=mean, phi=phi)
    _check(3, noise=noise)
    if tuple(noise.shape) != (phi.shape[0], phi.shape[1], mean.shape[1]):
        raise ValueError(f"noise must have shape [B, H, K] = "
                         f"{(int(phi.shape[0]), int(phi.shape[1]), int(mean.shape[1]))}; got "
                         f"{tuple(noise.shape)}")
    return mean + (phi[:, None, :] @ noise)[:, 0, :]
