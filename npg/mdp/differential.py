"""The continuing (average-reward) view of a finite MDP, exactly: the average reward, the
differential values and the average-reward policy gradient theorem.

(The module is ``differential`` rather than ``average_reward`` so that it does not shadow the
function ``npg.mdp.average_reward`` of ``exact``.)

Continuing chain. A terminal state restarts the task: its row of P is replaced by mu0 for every
action (``continuing_transitions``), the convention of ``stationary_distribution(reset=True)``.
For a unichain policy pi with stationary distribution d_pi (d_pi^T P_pi = d_pi^T, sum = 1):

    rho(pi)   = sum_s d_pi(s) r_pi(s)                                   average reward
    V~ :  V~(s) = r_pi(s) - rho + sum_s' P_pi(s, s') V~(s'),  d_pi . V~ = 0    differential values
    Q~(s, a)  = R(s, a) - rho + sum_s' P(s'|s, a) V~(s')

(Sutton & Barto 2018, sec. 10.3 and 13.6). V~ solves the nonsingular system
(I - P_pi + 1 d_pi^T) V~ = r_pi - rho 1 (apply d_pi^T to see d_pi . V~ = 0).

Average-reward policy gradient theorem (Sutton et al. 2000, theorem 1, average-reward case):

    grad rho(theta) = sum_s d_pi(s) sum_a grad pi(a|s) Q~(s, a)
                    = sum_s d_pi(s) sum_a pi(a|s) Q~(s, a) grad log pi(a|s)             [P]

a weighted score sum with weights w(s, a) = d_pi(s) pi(a|s) Q~(s, a), computed with the policy's
own ``score_sum``; tests/algos/test_average_reward.py checks it against central differences of
``average_reward`` for tabular, linear and MLP policies. Replacing Q~ by the differential
advantage Q~ - V~ leaves it unchanged (sum_a grad pi = 0).
"""

from __future__ import annotations

import numpy as np

from ..backend import get_xp
from .exact import check_policy_matrix
from .finite import FiniteMDP
from .gradient import default_obs, policy_matrix, state_action_pairs
from .host import numpy_boundary

__all__ = ["continuing_transitions", "continuing_average_reward", "differential_values",
           "average_reward_gradient"]


@numpy_boundary
def continuing_transitions(mdp: FiniteMDP) -> np.ndarray:
    """P' [S, A, S]: P with every terminal state's rows replaced by mu0 (restart)."""
    if not isinstance(mdp, FiniteMDP):
        raise TypeError(f"mdp must be a FiniteMDP; got {type(mdp).__name__}")
    P = np.array(mdp.P, copy=True)
    P[mdp.terminal] = mdp.mu0
    return P


def _stationary(P_pi: np.ndarray) -> np.ndarray:
    S = P_pi.shape[0]
    M = np.vstack([np.eye(S) - P_pi.T, np.ones((1, S))])
    rhs = np.zeros(S + 1)
    rhs[S] = 1.0
    d, _, rank, _ = np.linalg.lstsq(M, rhs, rcond=None)
    if rank < S or not np.allclose(M @ d, rhs, atol=1e-9):
        raise ValueError("the policy's chain has several closed classes: its stationary "
                         "distribution (and average reward) is not unique")
    return d


@numpy_boundary
def differential_values(mdp: FiniteMDP, pi):
    """(rho, d_pi [S], V~ [S], Q~ [S, A]) of the policy matrix pi on the continuing chain."""
    pi = check_policy_matrix(mdp, pi)
    P = continuing_transitions(mdp)
    P_pi = np.einsum("sa,sat->st", pi, P)
    r_pi = np.einsum("sa,sa->s", pi, mdp.R)
    d = _stationary(P_pi)
    rho = float(d @ r_pi)
    S = mdp.n_states
    V = np.linalg.solve(np.eye(S) - P_pi + np.outer(np.ones(S), d), r_pi - rho)
    Q = mdp.R - rho + P @ V
    return rho, d, V, Q


@numpy_boundary
def continuing_average_reward(mdp: FiniteMDP, pi) -> float:
    """rho(pi) = d_pi . r_pi on the continuing chain (= ``average_reward(mdp, pi, reset=True)``)."""
    return differential_values(mdp, pi)[0]


@numpy_boundary
def average_reward_gradient(mdp: FiniteMDP, policy, params, obs=None) -> dict:
    """Exact grad rho(theta) = sum_{s,a} d_pi(s) pi(a|s) Q~(s, a) grad log pi(a|s).

    ``policy`` is any npg categorical policy (tabular, linear, MLP); ``obs`` the observation of
    every state ([S] or [S, D], default ``default_obs``). Returns a grads dict like params.
    """
    if not hasattr(policy, "score_sum") or not hasattr(policy, "probs"):
        raise TypeError(f"policy must be a categorical npg policy; got {type(policy).__name__}")
    obs = default_obs(mdp, policy, params) if obs is None else obs
    pi = policy_matrix(policy, params, obs)
    _, d, _, Q = differential_values(mdp, pi)
    w = d[:, None] * pi * Q
    obs_pairs, act = state_action_pairs(obs, mdp.n_actions)
    like = next(iter(params.values()))
    xp = get_xp(like)
    return policy.score_sum(params, obs_pairs, act, xp.asarray(w.reshape(-1), dtype=like.dtype))
