"""Entropy-regularised ("soft") values of a fixed policy, and the gradient of the soft objective.

With temperature tau >= 0 the reward of taking a in s becomes R(s, a) - tau log pi(a|s), so that
(Haarnoja et al. 2017; Mei et al. 2020, sec. 5; Cen et al. 2021, eq. 7-9)

    H(s)       = -sum_a pi(a|s) log pi(a|s)                                          [S]
    V_tau      = r_pi + tau H + gamma P_pi V_tau        (V_tau = 0 on terminal states)  [S]
    Q_tau(s,a) = R(s, a) + gamma sum_s' P(s'|s, a) V_tau(s')                         [S, A]
    J_tau      = mu0 . V_tau = sum_s d(s) (r_pi(s) + tau H(s))

so V_tau(s) = sum_a pi(a|s) (Q_tau(s, a) - tau log pi(a|s)). Treating -tau log pi as a
(policy-dependent) reward, the policy gradient theorem plus the explicit derivative of that
reward, sum_s d(s) sum_a pi grad(-tau log pi) = -tau sum_s d(s) grad sum_a pi = 0, gives

    grad J_tau = sum_{s,a} d(s) pi(a|s) (Q_tau(s, a) - tau log pi(a|s)) grad log pi(a|s)   [P]

and for the tabular softmax dJ_tau/dtheta[s, a] = d(s) pi(a|s) A_tau(s, a) with the soft
advantage A_tau = Q_tau - tau log pi - V_tau (Mei et al. 2020, Lemma 10). At tau = 0 every
quantity is the unregularised one of ``npg.mdp.exact``.
"""

from __future__ import annotations

import numpy as np

from ..backend import get_xp
from .exact import _p_pi, _r_pi, _solve, check_policy_matrix, visitation
from .finite import FiniteMDP
from .gradient import _check_policy, _obs, _weighted_score_sum, mdp_policy_matrix

__all__ = ["check_temperature", "policy_entropy", "soft_evaluate", "soft_objective",
           "soft_policy_gradient", "tabular_softmax_soft_gradient"]


def check_temperature(tau) -> float:
    """tau as a float >= 0 and finite; TypeError/ValueError naming ``tau`` otherwise."""
    try:
        t = float(tau)
    except (TypeError, ValueError):
        raise TypeError(f"tau must be a real number >= 0; got {type(tau).__name__}") from None
    if not (t >= 0.0 and np.isfinite(t)):
        raise ValueError(f"tau must be a finite number >= 0 (the entropy temperature); got {t}")
    return t


def _log_pi(pi):
    """log pi with log 0 = -inf replaced by 0 where pi = 0 (those entries are weighted by 0)."""
    xp = get_xp(pi)
    return xp.where(pi > 0, xp.log(xp.where(pi > 0, pi, 1.0)), 0.0)


def policy_entropy(pi):
    """H(s) = -sum_a pi(a|s) log pi(a|s) ``[S]`` (0 log 0 = 0), on pi's array module."""
    xp = get_xp(pi)
    pi = np.asarray(pi, dtype=np.float64) if xp is np else xp.astype(pi, xp.float64)
    return -xp.sum(pi * _log_pi(pi), axis=1)


def soft_evaluate(mdp: FiniteMDP, pi, tau: float) -> tuple[np.ndarray, np.ndarray]:
    """(V_tau [S], Q_tau [S, A]) of the policy matrix pi by one linear solve (module docstring).

    Identity: V_tau(s) = sum_a pi(a|s) (Q_tau(s, a) - tau log pi(a|s)) on non-terminal states.
    gamma = 1 with a policy that never terminates: ValueError (as ``npg.mdp.evaluate``).
    """
    pi = check_policy_matrix(mdp, pi)
    tau = check_temperature(tau)
    r = _r_pi(mdp, pi) + tau * policy_entropy(pi)
    V = _solve(mdp, _p_pi(mdp, pi), r, transpose=False)
    Q = mdp.xp.where(mdp.terminal[:, None], 0.0, mdp.R + mdp.gamma * (mdp.P @ V))
    return V, Q


def soft_objective(mdp: FiniteMDP, pi, tau: float) -> float:
    """J_tau(pi) = E[sum_t gamma^t (r_t + tau H(pi(.|s_t)))] = mu0 . V_tau, a float.

    Gradient: ``soft_policy_gradient`` (module docstring).
    """
    return float(mdp.mu0 @ soft_evaluate(mdp, pi, tau)[0])


def soft_policy_gradient(mdp: FiniteMDP, policy, params, tau: float, obs=None) -> dict:
    """grad J_tau = sum_{s,a} d(s) pi(a|s) (Q_tau(s,a) - tau log pi(a|s)) grad log pi(a|s).

    A grads dict with the keys and shapes of ``params`` (the policy's ``score_sum``).
    """
    _check_policy(mdp, policy)
    obs = _obs(mdp, policy, params, obs)
    pi = mdp_policy_matrix(mdp, policy, params, obs)
    _, Q = soft_evaluate(mdp, pi, tau)
    d = visitation(mdp, pi)
    w = d[:, None] * pi * (Q - tau * _log_pi(pi))
    return _weighted_score_sum(policy, params, obs, w)


def tabular_softmax_soft_gradient(mdp: FiniteMDP, pi, tau: float) -> np.ndarray:
    """dJ_tau/dtheta[s, a] = d(s) pi(a|s) A_tau(s, a), A_tau = Q_tau - tau log pi - V_tau [S, A]."""
    pi = check_policy_matrix(mdp, pi)
    V, Q = soft_evaluate(mdp, pi, tau)
    A = Q - tau * _log_pi(pi) - V[:, None]
    return visitation(mdp, pi)[:, None] * pi * A
