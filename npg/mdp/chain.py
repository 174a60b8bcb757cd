"""A chain MDP on which softmax policy gradient sits on a plateau exponentially long in its length.

States 0..n-1 in a line and one terminal state n; mu0 = state 0; A >= 2 actions:

    action 0 ("forward") in state s < n-1:  s -> s + 1, reward 0
    action 0 in state n-1:                  -> terminal, reward 1
    any other action:                       -> terminal, reward ``quit_reward`` (default 0)

Under the uniform initial policy the goal is reached with probability A^{-n}, so the visitation
of the states near the goal, and with it every component of the exact softmax gradient
d(s) pi(a|s) A(s, a), is exponentially small in n: gradient ascent waits on a plateau whose
length grows exponentially with n, while the natural gradient's tabular step A(s, a)/(1-gamma)
does not carry the factor d(s) (Li, Wei, Chi, Gu & Chen 2021, "Softmax policy gradient methods
can take exponential time to converge", whose lower-bound MDP is a more elaborate chain built on
the same mechanism; this one is the simplest instance, not their construction).
J* = gamma^(n-1) (always forward) when quit_reward <= gamma^(n-1).
"""

from __future__ import annotations

import numpy as np

from ..checks import check_positive_int, check_unit_interval
from .finite import FiniteMDP

__all__ = ["chain_mdp"]


def chain_mdp(n: int, n_actions: int = 2, gamma: float = 0.99, quit_reward: float = 0.0
              ) -> FiniteMDP:
    """The chain above with n live states (S = n + 1 with the terminal state)."""
    n = check_positive_int("n", n)
    A = check_positive_int("n_actions", n_actions)
    if A < 2:
        raise ValueError(f"n_actions must be >= 2 (forward and quit); got {A}")
    gamma = check_unit_interval("gamma", gamma)
    quit_reward = float(quit_reward)
    if not np.isfinite(quit_reward):
        raise ValueError(f"quit_reward must be finite; got {quit_reward}")
    S = n + 1
    P = np.zeros((S, A, S))
    R = np.zeros((S, A))
    for s in range(n):
        P[s, 0, s + 1] = 1.0
        P[s, 1:, n] = 1.0
        R[s, 1:] = quit_reward
    R[n - 1, 0] = 1.0
    P[n, :, n] = 1.0
    mu0 = np.zeros(S)
    mu0[0] = 1.0
    terminal = np.zeros(S, dtype=bool)
    terminal[n] = True
    return FiniteMDP(P, R, mu0, gamma, terminal)
