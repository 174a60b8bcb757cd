"""The variance of the discounted return by Sobel's second-moment Bellman equation.

Sobel (1982, "The variance of discounted Markov decision processes", J. Appl. Prob. 19): with
G = r + gamma G' and r = R(s, a) (npg's MDPs store expected rewards, and the sampler draws them
as such), the first and second moments of the return from s satisfy

    m(s)  = sum_a pi(a|s) [R(s, a) + gamma sum_s' P(s'|s, a) m(s')]                     (= V)
    m2(s) = sum_a pi(a|s) [R^2 + 2 gamma R (P m)(s, a) + gamma^2 (P m2)(s, a)]
    Var[G | s_0 = s] = m2(s) - m(s)^2

with m = m2 = 0 on terminal states. With a horizon cap T both are iterated T times from zero
(the sampler's truncated return, exactly); with ``horizon=None`` and gamma < 1 (or termination
with probability 1) they are solved as linear systems (I - gamma P_pi) m = r_pi and
(I - gamma^2 P_pi) m2 = sum_a pi (R^2 + 2 gamma R (P m)) on the live states.
"""

from __future__ import annotations

import numpy as np

from ..checks import check_positive_int
from ..mdp.exact import check_policy_matrix, evaluate
from ..mdp.host import numpy_boundary

__all__ = ["return_moments", "return_variance"]


@numpy_boundary
def return_moments(mdp, pi, horizon: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(m [S], m2 [S]): E[G | s_0 = s] and E[G^2 | s_0 = s] (module docstring)."""
    pi = check_policy_matrix(mdp, pi)
    g, P, R = float(mdp.gamma), np.asarray(mdp.P), np.asarray(mdp.R)
    live = ~np.asarray(mdp.terminal)
    if horizon is None:
        m, _, _ = evaluate(mdp, pi)
        rhs = np.sum(pi * (R * R + 2 * g * R * (P @ m)), axis=1)
        P_pi = np.einsum("sa,sat->st", pi, P)[np.ix_(live, live)]
        m2 = np.zeros(mdp.n_states)
        try:
            m2[live] = np.linalg.solve(np.eye(int(live.sum())) - g * g * P_pi, rhs[live])
        except np.linalg.LinAlgError:
            raise ValueError("I - gamma^2 P_pi is singular: the return's second moment is "
                             "infinite (gamma = 1 without sure termination); pass a horizon")
        return m, m2
    T = check_positive_int("horizon", horizon)
    m, m2 = np.zeros(mdp.n_states), np.zeros(mdp.n_states)
    for _ in range(T):
        Pm, Pm2 = P @ m, P @ m2
        m, m2 = (np.sum(pi * (R + g * Pm), axis=1) * live,
                 np.sum(pi * (R * R + 2 * g * R * Pm + g * g * Pm2), axis=1) * live)
    return m, m2


@numpy_boundary
def return_variance(mdp, pi, horizon: int | None = None) -> float:
    """Var[G_0] for s_0 ~ mu0: E_mu0[m2] - (E_mu0[m])^2 (law of total variance over s_0)."""
    m, m2 = return_moments(mdp, pi, horizon)
    mu0 = np.asarray(mdp.mu0)
    return float(mu0 @ m2 - (mu0 @ m) ** 2)
