r"""Exact quantities of a fixed policy matrix pi [S, A] on a ``FiniteMDP``, by linear solves.

Symbols: pi(a|s) ``[S, A]``; P_pi ``[S, S]``; r_pi ``[S]``; V ``[S]``; Q, A ``[S, A]``;
d ``[S]``; J scalar; N the non-terminal states.

.. math::

    P_\pi(s, s') = \sum_a \pi(a|s)\, P(s'|s, a), \qquad r_\pi(s) = \sum_a \pi(a|s)\, R(s, a)

    V = r_\pi + \gamma P_\pi V \ \text{on non-terminal states}, \quad V = 0 \ \text{on terminal
    states} \quad\Rightarrow\quad (I - \gamma P_{NN})\, V_N = r_N

    Q(s, a) = R(s, a) + \gamma \sum_{s'} P(s'|s, a)\, V(s'), \qquad A(s, a) = Q(s, a) - V(s)

    d(s) = \sum_t \gamma^t \Pr(s_t = s,\ t < \text{episode end}) \quad\Rightarrow\quad
    d_N^T (I - \gamma P_{NN}) = \mu_{0,N}^T, \quad d = 0 \ \text{on terminal states}

    J = \mu_0 \cdot V = d \cdot r_\pi

Terminal states are absorbing with zero reward, so they have V = 0 and, since the episode has
ended there, no visits. Restricting the solves to the non-terminal block keeps them nonsingular
at gamma = 1 whenever the policy reaches a terminal state with probability 1 from every state;
otherwise (gamma = 1 and some state never terminates under pi) ``ValueError``, never NaN.

Nothing here is differentiated: gradients of J are in ``npg.mdp.gradient``. All arrays are NumPy
float64 (``np.linalg.solve``): reference values, not a hot path on an accelerator.
"""

from __future__ import annotations

import numpy as np

from ..backend import to_numpy
from .finite import PROB_ATOL, FiniteMDP

__all__ = ["check_policy_matrix", "transition_matrix", "expected_reward", "evaluate",
           "visitation", "objective", "stationary_distribution", "average_reward"]


def check_policy_matrix(mdp: FiniteMDP, pi) -> np.ndarray:
    """pi as float64 NumPy ``[S, A]``; ValueError unless rows are distributions."""
    if not isinstance(mdp, FiniteMDP):
        raise TypeError(f"mdp must be a FiniteMDP; got {type(mdp).__name__}")
    try:
        p = np.asarray(to_numpy(pi), dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"pi must be a real array [S, A]; got {type(pi).__name__}") from None
    if p.shape != (mdp.n_states, mdp.n_actions):
        raise ValueError(f"pi must have shape [S, A] = [{mdp.n_states}, {mdp.n_actions}]; "
                         f"got {p.shape}")
    if not np.all(np.isfinite(p)):
        raise ValueError("pi must be finite; it contains NaN or inf")
    if np.any(p < 0):
        raise ValueError("pi must hold probabilities >= 0")
    total = p.sum(axis=1)
    if np.any(np.abs(total - 1.0) > PROB_ATOL * mdp.n_actions + 1e-12):
        s = int(np.argmax(np.abs(total - 1.0)))
        raise ValueError(f"pi's rows must sum to 1; row {s} sums to {total[s]!r}")
    return p


def transition_matrix(mdp: FiniteMDP, pi) -> np.ndarray:
    """P_pi(s, s') = sum_a pi(a|s) P(s'|s, a), ``[S, S]`` (row-stochastic)."""
    pi = check_policy_matrix(mdp, pi)
    return np.einsum("sa,sat->st", pi, mdp.P)


def expected_reward(mdp: FiniteMDP, pi) -> np.ndarray:
    """r_pi(s) = sum_a pi(a|s) R(s, a), ``[S]``."""
    pi = check_policy_matrix(mdp, pi)
    return np.einsum("sa,sa->s", pi, mdp.R)


def _never_terminating(mdp: FiniteMDP, P_pi: np.ndarray) -> np.ndarray:
    """``[S]`` bool: non-terminal states from which no terminal state is reachable under P_pi."""
    reach = mdp.terminal.copy()
    support = P_pi > 0
    while True:                              # backward breadth-first search, one matrix op a level
        grown = reach | np.any(support & reach[None, :], axis=1)
        if np.array_equal(grown, reach):
            return ~reach
        reach = grown


def _solve(mdp: FiniteMDP, P_pi: np.ndarray, rhs: np.ndarray, transpose: bool) -> np.ndarray:
    """Solve (I - gamma P_NN) x = rhs_N (or its transpose); x = 0 on terminal states."""
    live = mdp.nonterminal
    M = np.eye(int(live.sum())) - mdp.gamma * P_pi[np.ix_(live, live)]
    if mdp.gamma == 1.0:
        stuck = _never_terminating(mdp, P_pi)
        if np.any(stuck):
            raise ValueError(
                f"gamma = 1 and the policy never reaches a terminal state from state(s) "
                f"{np.flatnonzero(stuck)[:10].tolist()}: I - P_pi is singular (infinite-horizon "
                f"undiscounted values are undefined); use gamma < 1 or a terminating policy")
    x = np.zeros(mdp.n_states)
    try:
        x[live] = np.linalg.solve(M.T if transpose else M, rhs[live])
    except np.linalg.LinAlgError:
        raise ValueError("I - gamma P_pi is singular: the policy's values are undefined") \
            from None
    if not np.all(np.isfinite(x)):
        raise ValueError("I - gamma P_pi is numerically singular: the solve overflowed")
    return x


def evaluate(mdp: FiniteMDP, pi) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(V [S], Q [S, A], A [S, A]) of the policy matrix pi by one linear solve.

    V_N = (I - gamma P_NN)^{-1} r_N, V = 0 on terminal states;
    Q(s, a) = R(s, a) + gamma sum_s' P(s'|s, a) V(s');  A = Q - V.
    Identities: sum_a pi(a|s) Q(s, a) = V(s), sum_a pi(a|s) A(s, a) = 0.
    """
    pi = check_policy_matrix(mdp, pi)
    P_pi = np.einsum("sa,sat->st", pi, mdp.P)
    V = _solve(mdp, P_pi, np.einsum("sa,sa->s", pi, mdp.R), transpose=False)
    Q = mdp.R + mdp.gamma * (mdp.P @ V)
    Q[mdp.terminal] = 0.0
    return V, Q, Q - V[:, None]


def visitation(mdp: FiniteMDP, pi, normalized: bool = False) -> np.ndarray:
    """Discounted state visitation d(s) = sum_t gamma^t Pr(s_t = s), ``[S]``.

    d_N = (I - gamma P_NN)^{-T} mu0_N; terminal states get 0 (the episode has ended there).
    sum_s d(s) is the expected discounted episode length (1/(1 - gamma) without terminal
    states). ``normalized=True`` returns d / sum_s d, a distribution (all zeros if mu0 lies
    on terminal states only).
    Identities: J = d . r_pi;  d^T (I - gamma P_pi) = mu0^T on non-terminal states.
    """
    pi = check_policy_matrix(mdp, pi)
    P_pi = np.einsum("sa,sat->st", pi, mdp.P)
    d = _solve(mdp, P_pi, mdp.mu0, transpose=True)
    d = np.maximum(d, 0.0)                   # exact d >= 0; clear rounding-level negatives
    if normalized:
        total = d.sum()
        return d / total if total > 0 else d
    return d


def objective(mdp: FiniteMDP, pi) -> float:
    """J(pi) = E[sum_t gamma^t r_t] = mu0 . V, a float.

    Gradient with respect to a policy's parameters theta (policy gradient theorem):
    grad J = sum_{s,a} d(s) pi(a|s) Q(s, a) grad log pi(a|s), ``npg.mdp.policy_gradient``;
    for the tabular softmax dJ/dtheta[s, a] = d(s) pi(a|s) A(s, a).
    """
    V, _, _ = evaluate(mdp, pi)
    return float(mdp.mu0 @ V)


def stationary_distribution(mdp: FiniteMDP, pi, reset: bool = True) -> np.ndarray:
    """Stationary distribution rho [S] of the chain, rho^T P' = rho^T, sum rho = 1.

    For the average-reward view of an episodic task (``reset=True``) P' is P_pi with every
    terminal state's row replaced by mu0 (an ended episode restarts), so rho spends no time at the
    absorbing self-loops. ``reset=False`` uses P_pi as is. Solved as the least-squares system
    [(I - P'^T); 1^T] rho = [0; 1]; ValueError when rho is not unique (several closed classes).
    Identity: with mu0 = rho and no terminal states, (1 - gamma) d = rho for every gamma.
    """
    pi = check_policy_matrix(mdp, pi)
    P_pi = np.einsum("sa,sat->st", pi, mdp.P)
    if reset:
        P_pi[mdp.terminal] = mdp.mu0
    S = mdp.n_states
    M = np.vstack([np.eye(S) - P_pi.T, np.ones((1, S))])
    b = np.zeros(S + 1)
    b[S] = 1.0
    rho, _, rank, _ = np.linalg.lstsq(M, b, rcond=None)
    if rank < S or not np.allclose(M @ rho, b, atol=1e-9):
        raise ValueError("the stationary distribution of P_pi is not unique (the chain has "
                         "several closed classes); it is undefined for this policy")
    return np.maximum(rho, 0.0) / np.maximum(rho, 0.0).sum()


def average_reward(mdp: FiniteMDP, pi, reset: bool = True) -> float:
    """Long-run reward per step rho . r_pi under ``stationary_distribution(mdp, pi, reset)``."""
    pi = check_policy_matrix(mdp, pi)
    return float(stationary_distribution(mdp, pi, reset) @ np.einsum("sa,sa->s", pi, mdp.R))
