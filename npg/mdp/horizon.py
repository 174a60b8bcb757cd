r"""Finite-horizon objective and its exact gradient by backward recursion (stationary policy).

With H steps and discount gamma (default 1: undiscounted), t = 0..H-1:

.. math::

    V_H(s) = 0, \qquad
    Q_t(s, a) = R(s, a) + \gamma \sum_{s'} P(s'|s, a)\, V_{t+1}(s'), \qquad
    V_t(s) = \sum_a \pi(a|s)\, Q_t(s, a)

    J_H = \mathbb{E}\Big[\sum_{t<H} \gamma^t r_t\Big] = \mu_0 \cdot V_0

Terminal states are absorbing with zero reward, so no special case is needed. The gradient is the
finite-horizon policy gradient theorem, with the forward state distribution
:math:`p_t(s) = \Pr(s_t = s)`, :math:`p_0 = \mu_0`, :math:`p_{t+1} = p_t P_\pi`:

.. math::

    \nabla J_H = \sum_{t<H} \gamma^t \sum_s p_t(s) \sum_a \pi(a|s)\, Q_t(s, a)\, \nabla \log \pi(a|s)

i.e. ``score_sum`` with weights ``[S, A]``
:math:`w(s, a) = \pi(a|s) \sum_t \gamma^t p_t(s) Q_t(s, a)`.
The Q_t come from the backward recursion above; the weights accumulate as it runs.
Identity: as H -> infinity with gamma < 1, J_H and grad J_H tend to J and grad J.

Array module: the MDP's (``FiniteMDP.xp``), as in ``npg.mdp.exact``.
"""

from __future__ import annotations

import numpy as np

from ..backend import create
from ..checks import check_positive_int, check_unit_interval
from .exact import _p_pi, check_policy_matrix
from .finite import FiniteMDP
from .gradient import _check_policy, _obs, _weighted_score_sum, mdp_policy_matrix

__all__ = ["finite_horizon_evaluate", "finite_horizon_objective", "finite_horizon_gradient"]


def _forward_distributions(mdp, pi, horizon) -> np.ndarray:
    """p_t = Pr(s_t = .) for t = 0..H-1, ``[H, S]``."""
    xp, P_pi = mdp.xp, _p_pi(mdp, pi)
    p = create(xp, "empty", (horizon, mdp.n_states), dtype=xp.float64, device=mdp.device)
    p[0, :] = mdp.mu0
    for t in range(1, horizon):              # loop over time only; each step is vectorised
        p[t, :] = p[t - 1, :] @ P_pi
    return p


def finite_horizon_evaluate(mdp: FiniteMDP, pi, horizon: int, gamma: float = 1.0
                            ) -> tuple[np.ndarray, np.ndarray]:
    """(V [H+1, S], Q [H, S, A]) by the backward recursion in the module docstring."""
    pi = check_policy_matrix(mdp, pi)
    H = check_positive_int("horizon", horizon)
    gamma = check_unit_interval("gamma", gamma)
    xp, dev = mdp.xp, mdp.device
    V = create(xp, "zeros", (H + 1, mdp.n_states), dtype=xp.float64, device=dev)
    Q = create(xp, "empty", (H, mdp.n_states, mdp.n_actions), dtype=xp.float64, device=dev)
    for t in range(H - 1, -1, -1):
        Q[t, :, :] = mdp.R + gamma * (mdp.P @ V[t + 1, :])
        V[t, :] = xp.sum(pi * Q[t, :, :], axis=1)
    return V, Q


def finite_horizon_objective(mdp: FiniteMDP, pi, horizon: int, gamma: float = 1.0) -> float:
    """J_H = E[sum_{t<H} gamma^t r_t] = mu0 . V_0, a float.

    Gradient: grad J_H = sum_{t<H} gamma^t sum_{s,a} p_t(s) pi(a|s) Q_t(s, a) grad log pi(a|s),
    ``finite_horizon_gradient``.
    """
    V, _ = finite_horizon_evaluate(mdp, pi, horizon, gamma)
    return float(mdp.mu0 @ V[0, :])


def finite_horizon_gradient(mdp: FiniteMDP, policy, params, horizon: int, gamma: float = 1.0,
                            obs=None) -> dict:
    """Exact grad J_H (see module docstring); grads dict shaped like ``params``."""
    _check_policy(mdp, policy)
    obs = _obs(mdp, policy, params, obs)
    pi = mdp_policy_matrix(mdp, policy, params, obs)
    H = check_positive_int("horizon", horizon)
    gamma = check_unit_interval("gamma", gamma)
    p = _forward_distributions(mdp, pi, H)
    xp = mdp.xp
    V_next = create(xp, "zeros", mdp.n_states, dtype=xp.float64, device=mdp.device)
    w = create(xp, "zeros", (mdp.n_states, mdp.n_actions), dtype=xp.float64, device=mdp.device)
    for t in range(H - 1, -1, -1):           # backward: Q_t from V_{t+1}
        Q_t = mdp.R + gamma * (mdp.P @ V_next)
        w = w + gamma ** t * p[t, :][:, None] * Q_t
        V_next = xp.sum(pi * Q_t, axis=1)
    return _weighted_score_sum(policy, params, obs, pi * w)
