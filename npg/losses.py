"""The loss layer of the chain rule: per-sample quantities -> (loss, d loss / d quantity).

Every updater's gradient is assembled from three hand-derived layers (DESIGN.md):

    d L / d theta = vjp_network( d dist_params / ... ( d L / d logp ) )

This module is the last layer. Each function takes per-sample arrays ``[B]`` (log-probabilities,
advantages, values, entropies), returns the scalar loss (a 0-d array in the inputs' dtype) and
its derivative with respect to the per-sample quantity it consumes, ``[B]``. Losses are
minimised; all are means over the batch, so the derivatives carry the 1/B.

Bad input: every array must be a finite real floating [B] vector of one length B >= 1 and the
clip a finite number >= 0 (ValueError / TypeError naming it). A loss that overflows the dtype
for finite inputs (a squared value error beyond float32's 3.4e38, a ratio exp(logp - logp_old)
beyond the dtype's range) raises a ValueError that names the loss and the cause: one isfinite
on the scalar loss, never a silent inf.

| symbol | shape | meaning                                               |
|--------|-------|-------------------------------------------------------|
| logp   | [B]   | log pi_theta(a_b given s_b) under the current policy  |
| logp_old | [B] | log pi_old(a_b given s_b) when the data was collected |
| adv    | [B]   | advantage estimates A_b (constants)                   |
| v      | [B]   | V_phi(s_b) under the current critic                   |
| target | [B]   | value targets y_b (constants)                         |
| v_old  | [B]   | V_old(s_b) at collection time (clipped value loss)    |
| ent    | [B]   | entropies H(pi_theta(. given s_b))                    |
"""

from __future__ import annotations

import math

import numpy as np

from .checks import check_finite, check_float, check_result_finite, max_abs
from .backend import create, device_of, get_xp

__all__ = ["policy_gradient_loss", "clipped_surrogate", "value_loss", "entropy_loss",
           "value_overflow_hint",
           "explained_variance"]


def _check_vec(name: str, x, batch: int | None = None):
    if not hasattr(x, "shape") or not hasattr(x, "dtype"):
        raise TypeError(f"{name} must be an array [B]; got {type(x).__name__}")
    check_float(name, x)
    if len(x.shape) != 1 or (batch is not None and int(x.shape[0]) != batch):
        want = "[B]" if batch is None else f"[{batch}] (one per sample, like the first argument)"
        raise ValueError(f"{name} must have shape {want}; got {tuple(x.shape)}")
    if int(x.shape[0]) == 0:
        raise ValueError(f"{name} must hold at least one sample; got shape {tuple(x.shape)}")
    check_finite(name, x)


def _check_clip(name: str, clip) -> float:
    if isinstance(clip, bool) or not isinstance(clip, (int, float)) and not hasattr(clip, "__float__"):
        raise TypeError(f"{name} must be a real number >= 0; got {type(clip).__name__}")
    c = float(clip)
    if not (c >= 0.0 and c < float("inf")):
        raise ValueError(f"{name} must be a finite number >= 0; got {c}")
    return c


def policy_gradient_loss(logp, adv):
    """Vanilla policy-gradient ("REINFORCE") surrogate.

        L = -(1/B) sum_b A_b log pi(a_b given s_b)
    Gradient (A held constant):
        d L / d logp_b = -A_b / B                                   [B]

    logp, adv: [B]. Returns ``(loss, d_logp)``.
    """
    _check_vec("logp", logp)
    _check_vec("adv", adv, int(logp.shape[0]))
    xp = get_xp(logp)
    adv = xp.astype(adv, logp.dtype)
    B = logp.shape[0]
    loss = -xp.sum(adv * logp) / B
    check_result_finite("policy_gradient_loss", loss, f"sum_b A_b log pi_b with max |A| = "
                        f"{max_abs(adv):.3g}, max |logp| = {max_abs(logp):.3g}; scale the "
                        f"advantages or rewards down")
    return loss, -adv / B


def clipped_surrogate(logp, logp_old, adv, clip, check: bool = True):
    """PPO's clipped surrogate objective (Schulman et al. 2017, eq. 7), as a loss.

        r_b = exp(logp_b - logp_old_b)                      probability ratio pi / pi_old
        L   = -(1/B) sum_b min( r_b A_b, clip(r_b, 1 - eps, 1 + eps) A_b )
    Gradient (d r_b / d logp_b = r_b; the clipped branch is constant outside [1-eps, 1+eps]):
        d L / d logp_b = -(1/B) A_b r_b   if the unclipped term is the minimum,
                       = 0                where the clip is active: A_b > 0 and r_b > 1 + eps,
                                          or A_b < 0 and r_b < 1 - eps.
    At r = 1 (the first minibatch of an update) the gradient is -A_b / B, exactly the vanilla
    policy gradient (``policy_gradient_loss``). At the kinks r_b = 1 +- eps the left/right
    derivatives differ; the unclipped branch's derivative is returned there.

    logp, logp_old, adv: [B]; clip: eps >= 0. Returns ``(loss, d_logp, stats)`` with stats
        approx_kl      = mean((r - 1) - log r), an unbiased, non-negative estimator of
                         KL(pi_old || pi) (Schulman's "k3", as in CleanRL / Stable-Baselines3),
        clip_fraction  = mean(|r - 1| > eps),
    both Python floats.

    ``check=False`` trusts the inputs (finite [B] arrays of one dtype, eps a float: an updater
    that validated its batch once) and skips the overflow checks.
    """
    if not check:
        return _surrogate(logp, logp_old, adv, clip)
    _check_vec("logp", logp)
    B = int(logp.shape[0])
    _check_vec("logp_old", logp_old, B)
    _check_vec("adv", adv, B)
    eps = _check_clip("clip", clip)
    xp = get_xp(logp)
    log_r_max = float(xp.max(logp - xp.astype(logp_old, logp.dtype)))
    limit = math.log(float(xp.finfo(logp.dtype).max))
    if not log_r_max < limit:
        raise ValueError(f"logp - logp_old must stay below log(float max) = {limit:.4g} so that "
                         f"the ratio r = exp(logp - logp_old) does not overflow {logp.dtype}; "
                         f"got max {log_r_max:.4g} (the policy moved far from the one that "
                         f"collected the data: lower the learning rate or check logp_old)")
    out = _surrogate(logp, xp.astype(logp_old, logp.dtype), xp.astype(adv, logp.dtype), eps)
    check_result_finite("clipped_surrogate", out[0], f"r A with max |A| = {max_abs(adv):.3g} "
                        f"and max log r = {log_r_max:.3g}; scale the advantages down")
    return out


def _surrogate(logp, logp_old, adv, eps: float):
    """The arithmetic of ``clipped_surrogate`` on validated [B] arrays of one dtype."""
    xp = get_xp(logp)
    B = logp.shape[0]
    log_r = logp - logp_old
    r = xp.exp(log_r)
    surr = r * adv
    surr_clip = xp.clip(r, 1.0 - eps, 1.0 + eps) * adv
    loss = -xp.sum(xp.minimum(surr, surr_clip)) / B
    clipped = ((adv > 0) & (r > 1.0 + eps)) | ((adv < 0) & (r < 1.0 - eps))
    d_logp = xp.where(clipped, xp.zeros_like(r), -surr / B)
    stats = {"approx_kl": float(xp.mean((r - 1.0) - log_r)),
             "clip_fraction": float(xp.mean(xp.astype(xp.abs(r - 1.0) > eps, logp.dtype)))}
    return loss, d_logp, stats


def value_loss(v, target, v_old=None, clip=None, check: bool = True):
    """Squared-error value loss, optionally PPO's clipped form.

    Unclipped (``clip`` None):
        L = (1 / 2B) sum_b (v_b - y_b)^2,           d L / d v_b = (v_b - y_b) / B
    Clipped (``v_old`` and ``clip`` = c given; as in OpenAI baselines' PPO2 / CleanRL):
        v_clip_b = v_old_b + clip(v_b - v_old_b, -c, c)
        L = (1 / 2B) sum_b max( (v_b - y_b)^2, (v_clip_b - y_b)^2 )
        d L / d v_b = (v_b - y_b) / B                      where the unclipped term is the max,
                    = (v_clip_b - y_b) 1[|v_b - v_old_b| < c] / B   otherwise.

    v, target (and v_old): [B]. Returns ``(loss, d_v)``. ``check=False`` trusts the inputs
    (finite [B] arrays of one dtype; v_old given when clip is) and skips the overflow check.
    """
    if not check:
        return _squared_error(v, target, v_old, clip)
    _check_vec("v", v)
    B = int(v.shape[0])
    _check_vec("target", target, B)
    xp = get_xp(v)
    target = xp.astype(target, v.dtype)
    if clip is None:
        out = _squared_error(v, target)
    else:
        c = _check_clip("clip", clip)
        if v_old is None:
            raise ValueError("v_old must be given with clip (the values at collection time, [B])")
        _check_vec("v_old", v_old, B)
        out = _squared_error(v, target, xp.astype(v_old, v.dtype), c)
    if not bool(xp.isfinite(out[0])):
        check_result_finite("value_loss", out[0], value_overflow_hint(v, target))
    return out


def value_overflow_hint(v, target) -> str:
    """The cause and the cure of a squared value error that overflowed."""
    return (f"(v - target)^2 with max |v| = {max_abs(v):.3g} and max |target| = "
            f"{max_abs(target):.3g}; scale the rewards (Agent(scale_reward=True)) or use "
            f"dtype float64")


def _squared_error(v, target, v_old=None, c=None):
    """The arithmetic of ``value_loss`` on validated [B] arrays of one dtype."""
    xp = get_xp(v)
    B = max(int(v.shape[0]), 1)              # an empty batch: loss 0, no 0 / 0
    err = v - target
    if c is None:
        return xp.sum(err * err) / (2 * B), err / B
    dv = v - v_old
    err_clip = xp.clip(dv, -c, c) + v_old - target
    sq, sq_clip = err * err, err_clip * err_clip
    use_unclipped = sq >= sq_clip
    inside = xp.abs(dv) < c
    d_v = xp.where(use_unclipped, err, xp.where(inside, err_clip, xp.zeros_like(err))) / B
    return xp.sum(xp.maximum(sq, sq_clip)) / (2 * B), d_v


def entropy_loss(ent, check: bool = True):
    """Entropy bonus as a loss (minimising it maximises the mean entropy).

        L = -(1/B) sum_b H(pi(. given s_b)),        d L / d H_b = -1 / B        [B]

    Chain it to the parameters with the policy: grad_theta L = policy.entropy_grad(params,
    obs, w=d_ent) (or, fused with the other terms, through the distribution's ``entropy_grad``
    at the distribution parameters and one network vjp).
    ent: [B]. Returns ``(loss, d_ent)``; ``check=False`` trusts ent (a finite [B] array).
    """
    xp = get_xp(ent)
    B = ent.shape[0]
    if not check:
        return -xp.sum(ent) / B, create(xp, "full", ent.shape, -1.0 / B, dtype=ent.dtype,
                                        device=device_of(ent))
    _check_vec("ent", ent)
    out = entropy_loss(ent, check=False)
    check_result_finite("entropy_loss", out[0], f"the sum of the entropies (max |H| = "
                        f"{max_abs(ent):.3g}) is too large")
    return out


def _var(xp, x) -> float:
    """Var(x) = mean((x - mean x)^2), two passes as ``np.var``; on NumPy as a dot product
    (the same formula without ``np.var``'s Python layer, ~15 us a call)."""
    if xp is np:
        d = x - x.mean()
        return float(d.dot(d)) / d.size
    return float(xp.var(x))


def explained_variance(v, target) -> float:
    """Diagnostic (not differentiated): 1 - Var(y - v) / Var(y) over the batch.

    1: the critic explains the targets perfectly; 0: no better than a constant; < 0: worse.
    When Var(y) = 0 the ratio is undefined and 0.0 is returned (never NaN).
    """
    _check_vec("v", v)
    _check_vec("target", target, int(v.shape[0]))
    xp = get_xp(v)
    y = xp.astype(target, v.dtype)
    var_y = _var(xp, y)
    if var_y == 0.0:
        return 0.0
    out = 1.0 - _var(xp, y - v) / var_y
    if not math.isfinite(out):
        raise ValueError(f"explained_variance overflowed {v.dtype}: Var(target) or "
                         f"Var(target - v) is not finite (max |target| = {max_abs(y):.3g}, "
                         f"max |v| = {max_abs(v):.3g}); scale the rewards or use float64")
    return out
