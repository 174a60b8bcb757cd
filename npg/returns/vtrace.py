"""V-trace: off-policy multi-step value targets and policy-gradient advantages with truncated
importance weights (Espeholt et al. 2018, "IMPALA", sec. 4, eqs. 1-4).

Data come from a behaviour policy mu; the learner is pi. Per step (DESIGN.md alignment, shapes
[T, N]): r_t, V_t = V(obs[t]), V'_t = V(s_{t+1}) (real final observation at a truncation),
d_t = terminated, c_t = truncated, e_t = d_t or c_t, and the log-probabilities of the taken
action under both policies, log pi(a_t|s_t) and log mu(a_t|s_t). With the ratio
w_t = pi(a_t|s_t) / mu(a_t|s_t):

    rho_t   = min(rho_bar, w_t)                  (truncation of the TD error's weight)
    cc_t    = lam min(c_bar, w_t)                ("trace cutting" coefficient)
    delta_t = rho_t (r_t + gamma (1 - d_t) V'_t - V_t)
    vs_t    = V_t + sum_{k=t}^{j_t} gamma^{k-t} (prod_{i=t}^{k-1} cc_i) delta_k           (eq. 1)
            = V_t + delta_t + gamma cc_t (1 - e_t) (vs_{t+1} - V_{t+1})               (recursion)
    adv_t   = rho_t (r_t + gamma (1 - d_t) vs'_t - V_t)                               (eq. 4)

where j_t is the first step >= t that ends the episode or the rollout, and vs'_t, the V-trace
target at s_{t+1}, is V'_t + (vs_{t+1} - V_{t+1}) inside an episode and V'_t where the episode
ended at t or t = T - 1 (vs'_t is not used where d_t). Termination drops the bootstrap;
truncation keeps it; both end the trace.

Identities (tests/returns/test_vtrace.py):
* on-policy (w = 1) with rho_bar, c_bar >= 1 (or inf): vs = ``lambda_returns(..., lam)``,
  vs - V = ``gae(..., lam)[0]``; at lam = 1 vs = ``nstep_returns(..., n >= T)``;
* rho = 1 and lam = 0: vs - V = adv = the on-policy TD error ``td_errors``;
* Theorem 1 (Espeholt et al.): the expected V-trace operator has the fixed point V^{pi_rho_bar},
  pi_rho_bar(a|s) proportional to min(rho_bar mu(a|s), pi(a|s)) (``npg.mdp.vtrace``).

Derivatives (the targets are constants for the losses; stated for tests and analysis): for
fixed weights vs and adv are linear in the rewards,

    d vs_t / d r_k  = gamma^{k-t} (prod_{i=t}^{k-1} cc_i) rho_k          for t <= k <= j_t, else 0
    d adv_t / d r_k = rho_t [k = t] + rho_t gamma (d vs_{t+1} / d r_k)   (k > t, same episode)

NumPy inputs run the Numba kernel ``_vtrace_kernel.vtrace_kernel``; other array-API modules a
loop over T vectorised over N that gives the same numbers.
"""

from __future__ import annotations

import math

from ..checks import check_real
from ..backend import create, device_of, get_xp
from ._inputs import (check_gamma, check_outputs_finite, kernel_args, prepare, scalar,
                      use_kernels)

__all__ = ["vtrace", "vtrace_weights"]


def _check_level(name: str, x) -> float:
    v = check_real(name, x, "a real number >= 0 (or inf)")
    if not v >= 0.0:                                    # NaN fails too
        raise ValueError(f"{name} must be >= 0 (a truncation level; inf: no truncation); got {v}")
    return v


def _check_logp(name: str, x, shape, xp, dtype):
    if x is None:
        raise TypeError(f"{name} must be an array of log-probabilities of the taken actions, "
                        f"shape {tuple(shape)}; got None (store the behaviour policy's logp "
                        f"with each step)")
    if not (hasattr(x, "shape") and hasattr(x, "dtype")):
        raise TypeError(f"{name} must be an array of shape {tuple(shape)}; got "
                        f"{type(x).__name__}")
    if tuple(x.shape) != tuple(shape):
        raise ValueError(f"{name} must have the shape of rew {tuple(shape)}; got "
                         f"{tuple(x.shape)}")
    if not xp.isdtype(x.dtype, "real floating"):
        raise TypeError(f"{name} must be a real floating array; got dtype {x.dtype}")
    if bool(xp.any(xp.isnan(x) | (xp.isinf(x) & (x > 0)))):
        raise ValueError(f"{name} must hold log-probabilities or log-densities (-inf allowed "
                         f"only in target_logp); it contains NaN or +inf")
    return x if x.dtype == dtype else xp.astype(x, dtype)


def vtrace_weights(target_logp, behaviour_logp, rho_bar=1.0, c_bar=1.0, lam=1.0):
    """The truncated importance weights (rho [T, N], cc [T, N]) of the module docstring.

        w_t = exp(log pi(a_t|s_t) - log mu(a_t|s_t)),  rho_t = min(rho_bar, w_t),
        cc_t = lam min(c_bar, w_t)

    ValueError when a taken action has mu(a_t|s_t) = 0 (behaviour_logp = -inf: an infinite
    weight; the data cannot have come from mu) or when w_t overflows. target_logp = -inf is
    legal (w_t = 0).
    """
    rho_bar, c_bar = _check_level("rho_bar", rho_bar), _check_level("c_bar", c_bar)
    lam = check_gamma("lam", lam)
    xp = get_xp(target_logp, behaviour_logp)
    if bool(xp.any(xp.isinf(behaviour_logp) & (behaviour_logp < 0))):
        raise ValueError("behaviour_logp is -inf for a taken action: mu(a_t|s_t) = 0 gives an "
                         "infinite importance weight (the action cannot have been drawn from "
                         "the behaviour policy)")
    log_w = target_logp - behaviour_logp
    if not float(xp.max(log_w)) < math.log(float(xp.finfo(log_w.dtype).max)):
        raise ValueError("the importance weights pi/mu overflow: target_logp - behaviour_logp "
                         f"reaches {float(xp.max(log_w)):.3g}")
    w = xp.exp(log_w)
    dev = device_of(w)
    rho = (xp.minimum(w, create(xp, "asarray", rho_bar, dtype=w.dtype, device=dev))
           if math.isfinite(rho_bar) else w)
    cw = (xp.minimum(w, create(xp, "asarray", c_bar, dtype=w.dtype, device=dev))
          if math.isfinite(c_bar) else w)
    return rho, lam * cw


def vtrace(rew, value, next_value, terminated, truncated, gamma, target_logp, behaviour_logp,
           rho_bar=1.0, c_bar=1.0, lam=1.0):
    """V-trace targets and advantages (vs [T, N], adv [T, N]) of the module docstring.

    Args:
        rew, value, next_value: [T, N] (or [T]) r_t, V_t, V'_t (V'_t may be NaN where d_t).
        terminated, truncated: [T, N] bool (or 0/1) d_t, c_t.
        gamma: discount in [0, 1].
        target_logp: [T, N] log pi(a_t|s_t) under the learner (float; -inf allowed).
        behaviour_logp: [T, N] log mu(a_t|s_t) stored with the data (finite for taken actions).
        rho_bar, c_bar: truncation levels >= 0 (inf: untruncated importance sampling);
            Espeholt et al. take rho_bar >= c_bar, both 1 by default.
        lam: trace parameter in [0, 1] multiplying c (lam = 1: the paper's V-trace).

    Returns:
        (vs, adv): the value targets vs_t and the policy-gradient advantages
        rho_t (r_t + gamma vs'_t - V_t), in the floating dtype of the inputs. The actor's
        gradient estimate is sum_t adv_t grad log pi(a_t|s_t); the critic regresses V on vs.
    """
    gamma = check_gamma("gamma", gamma)
    b = prepare(rew, terminated, value=value, next_value=next_value, truncated=truncated,
                has_value=True, has_next_value=True, has_truncated=True)
    xp, shape = b.xp, tuple(rew.shape)
    tl = _check_logp("target_logp", target_logp, shape, xp, b.dtype)
    bl = _check_logp("behaviour_logp", behaviour_logp, shape, xp, b.dtype)
    rho, cc = vtrace_weights(tl, bl, rho_bar, c_bar, lam)
    if b.squeeze:
        rho, cc = xp.reshape(rho, (shape[0], 1)), xp.reshape(cc, (shape[0], 1))
    if use_kernels(b):
        from . import _vtrace_kernel
        r, v, nv, d, c, rh, ccc = kernel_args(b, b.rew, b.value, b.next_value, b.terminated,
                                              b.truncated, rho, cc)
        vs, adv = xp.empty(r.shape, dtype=b.dtype), xp.empty(r.shape, dtype=b.dtype)
        _vtrace_kernel.vtrace_kernel(r, v, nv, d, c, rh, ccc, scalar(b, gamma), vs, adv)
    else:
        vs, adv = vtrace_vectorised(xp, b.rew, b.value, b.next_value, b.terminated,
                                    b.truncated, rho, cc, gamma)
    check_outputs_finite(b, vs)
    check_outputs_finite(b, adv)
    return b.shape_out(vs), b.shape_out(adv)


def vtrace_vectorised(xp, rew, value, next_value, terminated, truncated, rho, cc, gamma):
    """The kernel's recursion for any array-API module: a loop over T, vectorised over N;
    ``xp.where`` keeps a NaN V'_t at a terminated step out of the result. [T, N] each."""
    zero = xp.zeros_like(rew[0, :])
    carry = zero                                        # D_{t+1}
    vs_rows, adv_rows = [], []
    for t in range(rew.shape[0] - 1, -1, -1):
        d = terminated[t, :]
        nxt = xp.where(d | truncated[t, :], zero, carry)
        boot = xp.where(d, zero, gamma * next_value[t, :])
        boot_vs = xp.where(d, zero, gamma * (next_value[t, :] + nxt))
        base = rew[t, :] - value[t, :]
        D = rho[t, :] * (base + boot) + gamma * cc[t, :] * nxt
        vs_rows.append(value[t, :] + D)
        adv_rows.append(rho[t, :] * (base + boot_vs))
        carry = D
    return xp.stack(vs_rows[::-1], axis=0), xp.stack(adv_rows[::-1], axis=0)
