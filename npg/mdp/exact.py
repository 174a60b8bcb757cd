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

Nothing here is differentiated: gradients of J are in ``npg.mdp.gradient``. Array module: the
MDP's (``FiniteMDP.xp``): a NumPy MDP computes in NumPy float64 (``np.linalg.solve``) and accepts
pi from any module (converted once to NumPy, as the host reference); an MDP moved with
``mdp.to("cupy")`` or ``mdp.to("array_api_strict")`` computes there (``xp.linalg.solve``) and
takes pi on that same module only (a TypeError naming both modules otherwise). Every function
below uses only array-API operations, so the two paths are the same code.
"""

from __future__ import annotations

import numpy as np

from ..backend import create, same_namespace, to_numpy
from .finite import PROB_ATOL, FiniteMDP
from .linalg import lstsq

__all__ = ["check_policy_matrix", "transition_matrix", "expected_reward", "evaluate",
           "visitation", "objective", "stationary_distribution", "average_reward"]


def check_policy_matrix(mdp: FiniteMDP, pi):
    """pi as float64 ``[S, A]`` on the MDP's module; ValueError unless rows are distributions.

    A NumPy MDP converts pi from any module to NumPy (``to_numpy``, once); any other MDP takes pi
    on its own module only (TypeError naming both modules otherwise).
    """
    if not isinstance(mdp, FiniteMDP):
        raise TypeError(f"mdp must be a FiniteMDP; got {type(mdp).__name__}")
    xp = mdp.xp
    if xp is not np:
        same_namespace(xp, pi, "pi")                     # TypeError naming both modules
    try:
        if xp is np:
            p = np.asarray(to_numpy(pi), dtype=np.float64)
        else:
            p = xp.astype(create(xp, "asarray", pi, device=mdp.device), xp.float64)
    except (TypeError, ValueError):
        raise TypeError(f"pi must be a real array [S, A]; got {type(pi).__name__}") from None
    if tuple(p.shape) != (mdp.n_states, mdp.n_actions):
        raise ValueError(f"pi must have shape [S, A] = [{mdp.n_states}, {mdp.n_actions}]; "
                         f"got {tuple(p.shape)}")
    if not bool(xp.all(xp.isfinite(p))):
        raise ValueError("pi must be finite; it contains NaN or inf")
    if bool(xp.any(p < 0)):
        raise ValueError("pi must hold probabilities >= 0")
    gap = xp.abs(xp.sum(p, axis=1) - 1.0)
    if bool(xp.any(gap > PROB_ATOL * mdp.n_actions + 1e-12)):
        s = int(xp.argmax(gap))
        raise ValueError(f"pi's rows must sum to 1; row {s} sums to "
                         f"{float(xp.sum(p[s, :])) !r}")
    return p


def _p_pi(mdp: FiniteMDP, pi):
    """P_pi[s, :] = pi[s, :] @ P[s, :, :], one batched matmul [S, S]."""
    return (pi[:, None, :] @ mdp.P)[:, 0, :]


def _r_pi(mdp: FiniteMDP, pi):
    return mdp.xp.sum(pi * mdp.R, axis=1)


def transition_matrix(mdp: FiniteMDP, pi):
    """P_pi(s, s') = sum_a pi(a|s) P(s'|s, a), ``[S, S]`` (row-stochastic)."""
    return _p_pi(mdp, check_policy_matrix(mdp, pi))


def expected_reward(mdp: FiniteMDP, pi):
    """r_pi(s) = sum_a pi(a|s) R(s, a), ``[S]``."""
    return _r_pi(mdp, check_policy_matrix(mdp, pi))


def _never_terminating(mdp: FiniteMDP, P_pi):
    """``[S]`` bool: non-terminal states from which no terminal state is reachable under P_pi."""
    xp = mdp.xp
    reach = mdp.terminal
    support = P_pi > 0
    while True:                              # backward breadth-first search, one matrix op a level
        grown = reach | xp.any(support & reach[None, :], axis=1)
        if bool(xp.all(grown == reach)):
            return ~reach
        reach = grown


def _live_block(mdp: FiniteMDP, P_pi):
    """(index of the non-terminal states N, P_NN); index None when no state is terminal."""
    xp = mdp.xp
    if not bool(xp.any(mdp.terminal)):
        return None, P_pi
    idx = xp.nonzero(mdp.nonterminal)[0]
    return idx, xp.take(xp.take(P_pi, idx, axis=0), idx, axis=1)


def _solve(mdp: FiniteMDP, P_pi, rhs, transpose: bool):
    """Solve (I - gamma P_NN) x = rhs_N (or its transpose); x = 0 on terminal states."""
    xp = mdp.xp
    idx, P_NN = _live_block(mdp, P_pi)
    M = create(xp, "eye", P_NN.shape[0], dtype=xp.float64, device=mdp.device) - mdp.gamma * P_NN
    if mdp.gamma == 1.0:
        stuck = _never_terminating(mdp, P_pi)
        if bool(xp.any(stuck)):
            raise ValueError(
                f"gamma = 1 and the policy never reaches a terminal state from state(s) "
                f"{np.flatnonzero(to_numpy(stuck))[:10].tolist()}: I - P_pi is singular "
                f"(infinite-horizon undiscounted values are undefined); use gamma < 1 or a "
                f"terminating policy")
    try:
        x = xp.linalg.solve(M.T if transpose else M, rhs if idx is None else xp.take(rhs, idx))
    except np.linalg.LinAlgError:
        raise ValueError("I - gamma P_pi is singular: the policy's values are undefined") \
            from None
    if idx is not None:
        full = create(xp, "zeros", mdp.n_states, dtype=xp.float64, device=mdp.device)
        full[mdp.nonterminal] = x
        x = full
    if not bool(xp.all(xp.isfinite(x))):
        raise ValueError("I - gamma P_pi is numerically singular: the solve overflowed")
    return x


def evaluate(mdp: FiniteMDP, pi):
    """(V [S], Q [S, A], A [S, A]) of the policy matrix pi by one linear solve.

    V_N = (I - gamma P_NN)^{-1} r_N, V = 0 on terminal states;
    Q(s, a) = R(s, a) + gamma sum_s' P(s'|s, a) V(s');  A = Q - V.
    Identities: sum_a pi(a|s) Q(s, a) = V(s), sum_a pi(a|s) A(s, a) = 0.
    """
    pi = check_policy_matrix(mdp, pi)
    V = _solve(mdp, _p_pi(mdp, pi), _r_pi(mdp, pi), transpose=False)
    Q = mdp.xp.where(mdp.terminal[:, None], 0.0, mdp.R + mdp.gamma * (mdp.P @ V))
    return V, Q, Q - V[:, None]


def visitation(mdp: FiniteMDP, pi, normalized: bool = False):
    """Discounted state visitation d(s) = sum_t gamma^t Pr(s_t = s), ``[S]``.

    d_N = (I - gamma P_NN)^{-T} mu0_N; terminal states get 0 (the episode has ended there).
    sum_s d(s) is the expected discounted episode length (1/(1 - gamma) without terminal
    states). ``normalized=True`` returns d / sum_s d, a distribution (all zeros if mu0 lies
    on terminal states only).
    Identities: J = d . r_pi;  d^T (I - gamma P_pi) = mu0^T on non-terminal states.
    """
    pi = check_policy_matrix(mdp, pi)
    d = _solve(mdp, _p_pi(mdp, pi), mdp.mu0, transpose=True)
    d = mdp.xp.maximum(d, 0.0)               # exact d >= 0; clear rounding-level negatives
    if normalized:
        total = float(mdp.xp.sum(d))
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


def stationary_distribution(mdp: FiniteMDP, pi, reset: bool = True):
    """Stationary distribution rho [S] of the chain, rho^T P' = rho^T, sum rho = 1.

    For the average-reward view of an episodic task (``reset=True``) P' is P_pi with every
    terminal state's row replaced by mu0 (an ended episode restarts), so rho spends no time at the
    absorbing self-loops. ``reset=False`` uses P_pi as is. Solved as the least-squares system
    [(I - P'^T); 1^T] rho = [0; 1] (``npg.mdp.linalg.lstsq``); ValueError when rho is not unique
    (several closed classes).
    Identity: with mu0 = rho and no terminal states, (1 - gamma) d = rho for every gamma.
    """
    xp = mdp.xp
    pi = check_policy_matrix(mdp, pi)
    P_pi = _p_pi(mdp, pi)
    if reset:
        P_pi = xp.where(mdp.terminal[:, None], mdp.mu0[None, :], P_pi)
    S, dev = mdp.n_states, mdp.device
    concat = getattr(xp, "concat", None) or xp.concatenate               # older CuPy
    M = concat([create(xp, "eye", S, dtype=xp.float64, device=dev) - P_pi.T,
                   create(xp, "ones", (1, S), dtype=xp.float64, device=dev)], axis=0)
    b = concat([create(xp, "zeros", S, dtype=xp.float64, device=dev),
                   create(xp, "ones", 1, dtype=xp.float64, device=dev)])
    rho, rank = lstsq(xp, M, b, rcond=None)
    if rank < S or not bool(xp.all(xp.abs(M @ rho - b) <= 1e-9 + 1e-5 * xp.abs(b))):
        raise ValueError("the stationary distribution of P_pi is not unique (the chain has "
                         "several closed classes); it is undefined for this policy")
    rho = xp.maximum(rho, 0.0)
    return rho / xp.sum(rho)


def average_reward(mdp: FiniteMDP, pi, reset: bool = True) -> float:
    """Long-run reward per step rho . r_pi under ``stationary_distribution(mdp, pi, reset)``."""
    pi = check_policy_matrix(mdp, pi)
    return float(stationary_distribution(mdp, pi, reset) @ _r_pi(mdp, pi))
