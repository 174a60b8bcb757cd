"""Planning on a finite MDP: value and policy iteration, hard and entropy-regularised ("soft").

Bellman optimality operator and its soft form (temperature tau > 0), on non-terminal states
(V = 0 on terminal states):

    (T Q)(s, a)     = R(s, a) + gamma sum_s' P(s'|s, a) max_a' Q(s', a')
    (T_tau Q)(s, a) = R(s, a) + gamma sum_s' P(s'|s, a) tau log sum_a' exp(Q(s', a') / tau)

Both are gamma-contractions in the sup norm (the log-sum-exp is 1-Lipschitz in the sup norm), so
for any Q: ||Q - Q*||_inf <= ||T Q - Q||_inf / (1 - gamma). The optimal policy is greedy in Q*;
the soft-optimal one is pi*_tau(a|s) = exp((Q*_tau(s, a) - V*_tau(s)) / tau) with
V*_tau = tau logsumexp(Q*_tau / tau) (Ziebart 2010; Haarnoja et al. 2017; Cen et al. 2021).

Stopping rules and the error bounds they guarantee (Puterman 1994, Thm 6.3.1 and sec. 6.6.3):

* ``value_iteration``, V_{k+1} = max_a (R + gamma P V_k), Delta = V_{k+1} - V_k:
  rule "sup":  stop when gamma/(1-gamma) ||Delta||_inf <= tol; then ||V_{k+1} - V*||_inf <= tol
               and the greedy policy pi_k satisfies ||V* - V^{pi_k}||_inf <= 2 tol.
  rule "span": the MacQueen bounds V_{k+1} + gamma/(1-gamma) min(Delta, 0) <= V* <=
               V_{k+1} + gamma/(1-gamma) max(Delta, 0) (min/max over states, 0 included because
               terminal states keep Delta = 0); return their midpoint and stop when its
               half-width gamma/(1-gamma) span(Delta)/2 <= tol.
* ``policy_iteration`` (Howard 1960): evaluate exactly, improve greedily (keeping the current
  action among ties), stop when the policy is stable; at most A^S iterations, and then
  T V^pi = V^pi, so the reported bound ||T Q^pi - Q^pi||_inf / (1 - gamma) is rounding level.
* ``soft_value_iteration``: Q_{k+1} = T_tau Q_k, stop when ||Q_{k+1} - Q_k||_inf gamma/(1-gamma)
  <= tol, which bounds ||Q_{k+1} - Q*_tau||_inf.
* ``soft_policy_iteration``: pi_{k+1} = softmax(Q_tau^{pi_k} / tau) (the entropy-regularised NPG
  step with eta = (1 - gamma)/tau, Cen et al. 2021, which converges at rate gamma), stop when the
  soft Bellman residual bound ||T_tau Q_k - Q_k||_inf / (1 - gamma) <= tol.

* ``backward_induction``: the finite-horizon optimum (Bellman 1957), exact after H sweeps:
  V_H = 0, Q_t = R + gamma P V_{t+1}, V_t = max_a Q_t, pi_t greedy in Q_t (a non-stationary
  policy); gamma = 1 is allowed (e.g. FrozenLake's success probability within 100 steps).

Value iteration needs gamma < 1 for its bounds (ValueError otherwise); policy iteration allows
gamma = 1 when every policy it meets terminates (else ``npg.mdp.evaluate``'s ValueError).

Array module: the MDP's (``FiniteMDP.xp``; ``mdp.to("cupy")`` plans on the GPU). V0 and pi0 must
live there too (a NumPy MDP takes anything ``np.asarray`` takes); ``greedy_policy`` and
``soft_greedy_policy`` return arrays of Q's module. Every loop stops on a float read back once a
sweep (one device sync).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..backend import create, device_of, get_xp, same_namespace
from ..checks import check_positive, check_positive_int
from .exact import evaluate, objective
from .finite import FiniteMDP
from .regularized import check_temperature, soft_evaluate

__all__ = ["PlanningResult", "bellman_backup", "greedy_policy", "value_iteration",
           "policy_iteration", "soft_backup", "soft_greedy_policy", "soft_value_iteration",
           "soft_policy_iteration", "optimal_objective", "backward_induction"]


@dataclass(frozen=True)
class PlanningResult:
    """What a planner returns.

    V [S], Q [S, A]: the (soft-)optimal values as estimated; pi [S, A]: the (soft-)optimal
    policy; J = mu0 . V; n_iter: sweeps or improvement steps done; error_bound: the guaranteed
    sup-norm bound on the error of V (value iteration) or Q (the others), from the stopping rule;
    converged: the stopping rule was met within max_iter.
    """

    V: np.ndarray
    Q: np.ndarray
    pi: np.ndarray
    J: float
    n_iter: int
    error_bound: float
    converged: bool


def _check_mdp(mdp) -> FiniteMDP:
    if not isinstance(mdp, FiniteMDP):
        raise TypeError(f"mdp must be a FiniteMDP; got {type(mdp).__name__}")
    return mdp


def _contracting(mdp: FiniteMDP, who: str) -> float:
    if mdp.gamma >= 1.0:
        raise ValueError(f"{who} needs mdp.gamma < 1 (its stopping rule's bound is "
                         f"gamma/(1 - gamma) times the last change); got gamma = {mdp.gamma}. "
                         f"Use policy_iteration, which allows gamma = 1 for terminating policies")
    return mdp.gamma / (1.0 - mdp.gamma)


def _on_mdp(mdp: FiniteMDP, name: str, x):
    """x as float64 on the MDP's array module (NumPy: ``np.asarray``; else no conversion)."""
    xp = mdp.xp
    if xp is np:
        return np.asarray(x, dtype=np.float64)
    return xp.astype(create(xp, "asarray", same_namespace(xp, x, name), device=mdp.device),
                     xp.float64)


def _as_float(x):
    xp = get_xp(x)
    return np.asarray(x, dtype=np.float64) if xp is np else xp.astype(x, xp.float64)


def _uniform(mdp: FiniteMDP):
    xp = mdp.xp
    return create(xp, "full", (mdp.n_states, mdp.n_actions), 1.0 / mdp.n_actions,
                  dtype=xp.float64, device=mdp.device)


def bellman_backup(mdp: FiniteMDP, V):
    """Q(s, a) = R(s, a) + gamma sum_s' P(s'|s, a) V(s'), 0 on terminal states, ``[S, A]``."""
    Q = mdp.R + mdp.gamma * (mdp.P @ _on_mdp(mdp, "V", V))
    return mdp.xp.where(mdp.terminal[:, None], 0.0, Q)


def greedy_policy(Q, current=None, atol: float = 1e-12):
    """A deterministic pi [S, A] putting mass 1 on argmax_a Q(s, a), on Q's array module.

    With ``current`` (a policy matrix), a state keeps its current action whenever that action's
    Q is within ``atol`` of the maximum: the tie-breaking that makes policy iteration stop.
    """
    Q = _as_float(Q)
    xp = get_xp(Q)
    best = xp.argmax(Q, axis=1)
    if current is not None:
        keep = xp.argmax(current, axis=1)
        at = lambda a: xp.take_along_axis(Q, a[:, None], axis=1)[:, 0]  # noqa: E731
        best = xp.where(at(keep) >= at(best) - atol, keep, best)
    actions = create(xp, "arange", Q.shape[1], dtype=best.dtype, device=device_of(best))
    return xp.astype(best[:, None] == actions[None, :], xp.float64)


def _check_tol(tol, max_iter):
    return check_positive("tol", tol), check_positive_int("max_iter", max_iter)


def value_iteration(mdp: FiniteMDP, tol: float = 1e-10, max_iter: int = 100_000,
                    rule: str = "span", V0=None) -> PlanningResult:
    """V_{k+1} = max_a (R + gamma P V_k) until the ``rule`` ("sup" or "span") bound <= tol.

    Returns V (the MacQueen midpoint for "span"), Q = backup(V), the greedy policy and its
    error bound (module docstring). gamma = 1: ValueError.
    """
    _check_mdp(mdp)
    c = _contracting(mdp, "value_iteration")
    tol, max_iter = _check_tol(tol, max_iter)
    if rule not in ("sup", "span"):
        raise ValueError(f"rule must be 'sup' or 'span'; got {rule!r}")
    xp = mdp.xp
    V = (create(xp, "zeros", mdp.n_states, dtype=xp.float64, device=mdp.device) if V0 is None
         else _on_mdp(mdp, "V0", V0))
    if tuple(V.shape) != (mdp.n_states,) or not bool(xp.all(xp.isfinite(V))):
        raise ValueError(f"V0 must be a finite array [S] = [{mdp.n_states}]")
    V = xp.where(mdp.terminal, 0.0, V)
    bound, k = np.inf, 0
    for k in range(1, max_iter + 1):
        V_new = xp.max(bellman_backup(mdp, V), axis=1)
        delta = V_new - V
        V = V_new
        if rule == "sup":
            bound = c * float(xp.max(xp.abs(delta)))
        else:
            lo, hi = min(float(xp.min(delta)), 0.0), max(float(xp.max(delta)), 0.0)
            bound = c * (hi - lo) / 2.0
        if bound <= tol:
            break
    if rule == "span":
        V = V + c * (min(float(xp.min(delta)), 0.0) + max(float(xp.max(delta)), 0.0)) / 2.0
        V = xp.where(mdp.terminal, 0.0, V)
    Q = bellman_backup(mdp, V)
    return PlanningResult(V, Q, greedy_policy(Q), float(mdp.mu0 @ V), k, bound, bound <= tol)


def _residual_bound(mdp: FiniteMDP, Q, TQ) -> float:
    r = float(mdp.xp.max(mdp.xp.abs(TQ - Q)))
    return r / (1.0 - mdp.gamma) if mdp.gamma < 1.0 else (0.0 if r == 0.0 else np.inf)


def policy_iteration(mdp: FiniteMDP, pi0=None, max_iter: int = 10_000) -> PlanningResult:
    """Howard's policy iteration from ``pi0`` (default uniform) until the greedy policy is stable.

    error_bound = ||T Q^pi - Q^pi||_inf / (1 - gamma) (rounding level at convergence; inf when
    gamma = 1 and the residual is not exactly 0).
    """
    _check_mdp(mdp)
    max_iter = check_positive_int("max_iter", max_iter)
    pi = _uniform(mdp) if pi0 is None else _on_mdp(mdp, "pi0", pi0)
    k, stable = 0, False
    for k in range(1, max_iter + 1):
        V, Q, _ = evaluate(mdp, pi)
        new = greedy_policy(Q, current=pi if k > 1 else None)
        stable = tuple(new.shape) == tuple(pi.shape) and bool(mdp.xp.all(new == pi))
        pi = new
        if stable:
            break
    V, Q, _ = evaluate(mdp, pi)
    bound = _residual_bound(mdp, Q, bellman_backup(mdp, mdp.xp.max(Q, axis=1)))
    return PlanningResult(V, Q, pi, float(mdp.mu0 @ V), k, bound, stable)


def _soft_value(Q, tau: float):
    """tau log sum_a exp(Q(s, a) / tau), stabilised by the row max, ``[S]``."""
    xp = get_xp(Q)
    m = xp.max(Q, axis=1)
    return m + tau * xp.log(xp.sum(xp.exp((Q - m[:, None]) / tau), axis=1))


def soft_backup(mdp: FiniteMDP, Q, tau: float) -> np.ndarray:
    """(T_tau Q)(s, a) = R + gamma P [tau logsumexp(Q / tau)], 0 on terminal states, [S, A]."""
    tau = check_positive("tau", tau)
    V = _soft_value(_on_mdp(mdp, "Q", Q), tau)
    return bellman_backup(mdp, mdp.xp.where(mdp.terminal, 0.0, V))


def soft_greedy_policy(Q, tau: float) -> np.ndarray:
    """pi(a|s) = softmax_a(Q(s, a) / tau), ``[S, A]``, on Q's array module."""
    Q = _as_float(Q)
    xp = get_xp(Q)
    z = (Q - xp.max(Q, axis=1, keepdims=True)) / check_positive("tau", tau)
    e = xp.exp(z)
    return e / xp.sum(e, axis=1, keepdims=True)


def soft_value_iteration(mdp: FiniteMDP, tau: float, tol: float = 1e-10,
                         max_iter: int = 100_000) -> PlanningResult:
    """Q_{k+1} = T_tau Q_k until gamma/(1-gamma) ||Q_{k+1} - Q_k||_inf <= tol."""
    _check_mdp(mdp)
    c = _contracting(mdp, "soft_value_iteration")
    tau = check_positive("tau", tau)
    tol, max_iter = _check_tol(tol, max_iter)
    xp = mdp.xp
    Q = create(xp, "zeros", (mdp.n_states, mdp.n_actions), dtype=xp.float64, device=mdp.device)
    bound, k = np.inf, 0
    for k in range(1, max_iter + 1):
        Q_new = soft_backup(mdp, Q, tau)
        bound = c * float(xp.max(xp.abs(Q_new - Q)))
        Q = Q_new
        if bound <= tol:
            break
    V = xp.where(mdp.terminal, 0.0, _soft_value(Q, tau))
    return PlanningResult(V, Q, soft_greedy_policy(Q, tau), float(mdp.mu0 @ V), k, bound,
                          bound <= tol)


def soft_policy_iteration(mdp: FiniteMDP, tau: float, tol: float = 1e-10,
                          max_iter: int = 10_000, pi0=None) -> PlanningResult:
    """pi_{k+1} = softmax(Q_tau^{pi_k} / tau) until ||T_tau Q - Q||_inf / (1 - gamma) <= tol."""
    _check_mdp(mdp)
    tau = check_positive("tau", tau)
    tol, max_iter = _check_tol(tol, max_iter)
    pi = _uniform(mdp) if pi0 is None else _on_mdp(mdp, "pi0", pi0)
    bound, k = np.inf, 0
    for k in range(1, max_iter + 1):
        V, Q = soft_evaluate(mdp, pi, tau)
        bound = _residual_bound(mdp, Q, soft_backup(mdp, Q, tau))
        if bound <= tol:
            break
        pi = soft_greedy_policy(Q, tau)
    return PlanningResult(V, Q, pi, float(mdp.mu0 @ V), k, bound, bound <= tol)


def optimal_objective(mdp: FiniteMDP, tau: float = 0.0) -> float:
    """J* = max_pi J(pi) by policy iteration (tau = 0), or J*_tau by soft policy iteration."""
    tau = check_temperature(tau)
    if tau == 0.0:
        res = policy_iteration(mdp)
        return objective(mdp, res.pi)
    return soft_policy_iteration(mdp, tau).J


def backward_induction(mdp: FiniteMDP, horizon: int, gamma: float = 1.0
                       ) -> tuple[np.ndarray, np.ndarray, float]:
    """(V [H+1, S], pi [H, S, A], J*_H): max over non-stationary policies of E[sum_{t<H} gamma^t r_t].

    V_H = 0; Q_t = R + gamma P V_{t+1}; V_t = max_a Q_t; pi_t = greedy(Q_t); J*_H = mu0 . V_0.
    Exact (no stopping rule: H sweeps). Terminal states are absorbing with zero reward.
    """
    from ..checks import check_unit_interval
    _check_mdp(mdp)
    H = check_positive_int("horizon", horizon)
    g = check_unit_interval("gamma", gamma)
    xp, dev = mdp.xp, mdp.device
    V = create(xp, "zeros", (H + 1, mdp.n_states), dtype=xp.float64, device=dev)
    pi = create(xp, "empty", (H, mdp.n_states, mdp.n_actions), dtype=xp.float64, device=dev)
    for t in range(H - 1, -1, -1):
        Q = xp.where(mdp.terminal[:, None], 0.0, mdp.R + g * (mdp.P @ V[t + 1, :]))
        V[t, :] = xp.max(Q, axis=1)
        pi[t, :, :] = greedy_policy(Q)
    return V, pi, float(mdp.mu0 @ V[0, :])
