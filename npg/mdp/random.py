"""Seeded random finite MDPs, for property tests of the exact quantities.

Transition rows are Dirichlet(alpha) draws (small alpha: sparse, nearly deterministic rows;
alpha = 1: uniform on the simplex), rewards are standard normal times ``reward_scale``, mu0 is a
Dirichlet(1) draw over the non-terminal states. The last ``n_terminal`` states are absorbing with
zero reward. Every random number comes from the ``rng`` argument.
"""

from __future__ import annotations

import numpy as np

from ..checks import as_generator, check_positive, check_positive_int, check_real
from .finite import FiniteMDP

__all__ = ["random_mdp"]


def random_mdp(n_states: int, n_actions: int, rng, gamma: float = 0.9, n_terminal: int = 0,
               alpha: float = 1.0, reward_scale: float = 1.0, p_terminate: float = 0.0
               ) -> FiniteMDP:
    """A random MDP with S = ``n_states``, A = ``n_actions``.

    Args:
        rng: a ``numpy.random.Generator`` or an int seed.
        gamma: discount in [0, 1].
        n_terminal: how many of the S states (the last ones) are terminal; < S.
        alpha: Dirichlet concentration of each transition row P[s, a, :] (> 0).
        reward_scale: R(s, a) ~ reward_scale * N(0, 1) on non-terminal states.
        p_terminate: with ``n_terminal > 0``, extra probability mass moved from every
            non-terminal row to the terminal states (spread uniformly over them), so that every
            policy terminates with probability 1 when ``p_terminate > 0`` (needed for gamma = 1).

    Returns:
        ``FiniteMDP`` with P [S, A, S], R [S, A], mu0 [S] (zero on terminal states).
    """
    S = check_positive_int("n_states", n_states)
    A = check_positive_int("n_actions", n_actions)
    if isinstance(n_terminal, bool) or not isinstance(n_terminal, (int, np.integer)):
        raise TypeError(f"n_terminal must be an int in [0, n_states); got "
                        f"{type(n_terminal).__name__}")
    if not 0 <= int(n_terminal) < S:
        raise ValueError(f"n_terminal must lie in [0, n_states) = [0, {S}); got {n_terminal}")
    alpha = check_positive("alpha", alpha)
    reward_scale = check_real("reward_scale", reward_scale)
    if not np.isfinite(reward_scale):
        raise ValueError(f"reward_scale must be finite; got {reward_scale}")
    p_terminate = check_real("p_terminate", p_terminate, "a real number in [0, 1]")
    if not 0.0 <= p_terminate <= 1.0:
        raise ValueError(f"p_terminate must lie in [0, 1]; got {p_terminate}")
    rng = as_generator(rng)

    n_term, n_live = int(n_terminal), S - int(n_terminal)
    P = rng.dirichlet(np.full(S, alpha), size=(S, A))                 # [S, A, S]
    R = reward_scale * rng.standard_normal((S, A))
    mu0 = np.zeros(S)
    mu0[:n_live] = rng.dirichlet(np.ones(n_live))
    terminal = np.zeros(S, dtype=bool)
    if n_term:
        terminal[n_live:] = True
        P[:n_live] = (1.0 - p_terminate) * P[:n_live]
        P[:n_live, :, n_live:] += p_terminate / n_term
        P[n_live:] = 0.0
        P[n_live:, :, n_live:] = np.eye(n_term)[:, None, :]           # absorbing self-loops
        R[n_live:] = 0.0
    return FiniteMDP(P, R, mu0, gamma, terminal)
