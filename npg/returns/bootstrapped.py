"""Bootstrapped targets: TD errors, n-step returns, lambda-returns and GAE(gamma, lambda).

Notation (shapes [T, N]; DESIGN.md's alignment): r_t = rew[t] follows act[t]; V_t = value[t] =
V(obs[t]); V'_t = next_value[t] = V(s_{t+1}), from the *real* final observation when the
episode was truncated at t; d_t = terminated[t]; c_t = truncated[t]; e_t = d_t or c_t.

* A terminated step never bootstraps: V'_t is multiplied by (1 - d_t), and where d_t it is not
  read at all, so a NaN there cannot reach the output.
* A truncated step bootstraps from V'_t and ends the trace (no step of the next episode leaks in).
* The rollout's last step t = T - 1 bootstraps from V'_{T-1} unless terminated.
* Inside an episode the contract is V'_t = V_{t+1}; then lambda_returns = gae(...)[1] and the
  n-step return with n >= T equals the lambda = 1 return.

These are targets, not differentiated through by the losses; each is linear in (rew, value,
next_value), e.g. dA_t/dr_k = (gamma lam)^{k-t} for t <= k <= j_t and 0 otherwise, where j_t is
the first step >= t that ends the episode or the rollout.

References: Sutton & Barto (2018), ch. 7 (n-step) and 12.1 (lambda-return); Schulman et al.
(2016), "High-dimensional continuous control using generalized advantage estimation", eq. 16.
"""

from __future__ import annotations

from ..checks import check_positive_int
from . import _vectorised
from ._inputs import (check_gamma, check_outputs_finite, kernel_args, prepare, scalar,
                      use_kernels)

__all__ = ["td_errors", "nstep_returns", "lambda_returns", "gae"]


def td_errors(rew, value, next_value, terminated, gamma):
    """One-step TD errors, [T, N] (or [T]).

        delta_t = r_t + gamma (1 - d_t) V'_t - V_t

    Truncation needs no flag here: a truncated step bootstraps from V'_t like any other.

    Args:
        rew, value, next_value: [T, N] r_t, V_t, V'_t (next_value may be NaN where terminated).
        terminated: [T, N] bool (or 0/1) d_t.
        gamma: discount in [0, 1].

    Returns:
        [T, N] delta, in the floating dtype of the inputs.
    """
    gamma = check_gamma("gamma", gamma)
    b = prepare(rew, terminated, value=value, next_value=next_value,
                has_value=True, has_next_value=True)
    if use_kernels(b):
        from . import _kernels
        r, v, nv, d = kernel_args(b, b.rew, b.value, b.next_value, b.terminated)
        out = b.xp.empty(r.shape, dtype=b.dtype)
        _kernels.td_errors_kernel(r, v, nv, d, scalar(b, gamma), out)
    else:
        out = _vectorised.td_errors(b.xp, b.rew, b.value, b.next_value, b.terminated, gamma)
    check_outputs_finite(b, out)
    return b.shape_out(out)


def gae(rew, value, next_value, terminated, truncated, gamma, lam):
    """Generalised advantage estimates and their value targets, each [T, N] (or [T]).

    Backwards over t = T-1, ..., 0 (Schulman et al. 2016, eq. 16, with episode boundaries):

        delta_t = r_t + gamma (1 - d_t) V'_t - V_t
        A_t     = delta_t + gamma lam (1 - e_t) A_{t+1},      A_T = 0
        y_t     = A_t + V_t                                   (value target)

    i.e. A_t = sum_{k=t}^{j_t} (gamma lam)^{k-t} delta_k with j_t the first step >= t that ends
    the episode (d or c) or the rollout. lam = 0 gives A = delta; lam = 1 gives
    A_t = G_t - V_t with G the bootstrapped discounted return.

    Args:
        rew, value, next_value: [T, N] r_t, V_t = V(obs[t]), V'_t = V(s_{t+1}) (real final
            observation at truncations; ignored, may be NaN, where terminated).
        terminated, truncated: [T, N] bool (or 0/1) d_t, c_t.
        gamma, lam: scalars in [0, 1].

    Returns:
        (advantages A [T, N], value_targets y [T, N]) in the floating dtype of the inputs.
    """
    gamma, lam = check_gamma("gamma", gamma), check_gamma("lam", lam)
    b = prepare(rew, terminated, value=value, next_value=next_value, truncated=truncated,
                has_value=True, has_next_value=True, has_truncated=True)
    if use_kernels(b):
        from . import _kernels
        r, v, nv, d, c = kernel_args(b, b.rew, b.value, b.next_value, b.terminated, b.truncated)
        adv = b.xp.empty(r.shape, dtype=b.dtype)
        _kernels.gae_kernel(r, v, nv, d, c, scalar(b, gamma), scalar(b, gamma * lam), adv)
    else:
        adv = _vectorised.gae(b.xp, b.rew, b.value, b.next_value, b.terminated, b.truncated,
                              gamma, gamma * lam)
    check_outputs_finite(b, adv)
    return b.shape_out(adv), b.shape_out(adv + b.value)


def lambda_returns(rew, value, next_value, terminated, truncated, gamma, lam):
    """The lambda-return G^lambda_t, [T, N] (or [T]) (Sutton & Barto 2018, eq. 12.18).

    Backwards over t = T-1, ..., 0:

        G_t = r_t + gamma B_t,   B_t = 0                              if d_t
                                 B_t = V'_t                           if c_t or t = T - 1
                                 B_t = (1 - lam) V'_t + lam G_{t+1}   otherwise

    lam = 0 gives the one-step target r_t + gamma (1 - d_t) V'_t; lam = 1 the bootstrapped
    discounted return. Equals gae(...)[1] = A + V when V'_t = V_{t+1} inside episodes.
    ``value`` is not needed by the recursion (it bootstraps from next_value); it is validated
    and accepted so that all bootstrapped targets share one signature.

    Args:
        rew, value, next_value: [T, N] r_t, V_t, V'_t (V'_t may be NaN where terminated).
        terminated, truncated: [T, N] bool (or 0/1) d_t, c_t.
        gamma, lam: scalars in [0, 1].

    Returns:
        [T, N] G^lambda in the floating dtype of the inputs.
    """
    gamma, lam = check_gamma("gamma", gamma), check_gamma("lam", lam)
    b = prepare(rew, terminated, value=value, next_value=next_value, truncated=truncated,
                has_value=True, has_next_value=True, has_truncated=True)
    if use_kernels(b):
        from . import _kernels
        r, nv, d, c = kernel_args(b, b.rew, b.next_value, b.terminated, b.truncated)
        out = b.xp.empty(r.shape, dtype=b.dtype)
        _kernels.lambda_kernel(r, nv, d, c, scalar(b, gamma), scalar(b, lam),
                               scalar(b, 1.0 - lam), out)
    else:
        out = _vectorised.lambda_returns(b.xp, b.rew, b.next_value, b.terminated,
                                         b.truncated, gamma, lam, 1.0 - lam)
    check_outputs_finite(b, out, uses_value=False)
    return b.shape_out(out)


def nstep_returns(rew, value, next_value, terminated, truncated, gamma, n):
    """The n-step bootstrapped return G^(n)_t, [T, N] (or [T]) (Sutton & Barto 2018, eq. 7.1).

        G^(n)_t = sum_{k=0}^{m-1} gamma^k r_{t+k} + gamma^m (1 - d_j) V'_j,    j = t + m - 1

    where the window's last step j is the first of: t + n - 1, a step that ends the episode
    (d_j or c_j), the rollout's last step T - 1. Equivalently G^(n)_t = r_t + gamma G^(n-1)_{t+1}
    inside the window, with G^(1)_j = r_j + gamma (1 - d_j) V'_j. n = 1 gives the one-step
    target; n >= T the lambda = 1 (bootstrapped discounted) return. ``value`` is validated but
    not used (the bootstrap is V'_j). Cost: O(T N min(n, episode length)).

    Args:
        rew, value, next_value: [T, N] r_t, V_t, V'_t (V'_t may be NaN where terminated).
        terminated, truncated: [T, N] bool (or 0/1) d_t, c_t.
        gamma: scalar in [0, 1].
        n: positive int, the number of reward steps before bootstrapping.

    Returns:
        [T, N] G^(n) in the floating dtype of the inputs.
    """
    gamma = check_gamma("gamma", gamma)
    n = check_positive_int("n", n)
    b = prepare(rew, terminated, value=value, next_value=next_value, truncated=truncated,
                has_value=True, has_next_value=True, has_truncated=True)
    if use_kernels(b):
        from . import _kernels
        r, nv, d, c = kernel_args(b, b.rew, b.next_value, b.terminated, b.truncated)
        out = b.xp.empty(r.shape, dtype=b.dtype)
        _kernels.nstep_kernel(r, nv, d, c, scalar(b, gamma), n, out)
    else:
        out = _vectorised.nstep(b.xp, b.rew, b.next_value, b.terminated, b.truncated, gamma, n)
    check_outputs_finite(b, out, uses_value=False)
    return b.shape_out(out)
