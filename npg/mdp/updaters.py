"""Exact update rules on a finite MDP: each step computed from exact J, grad J, F and Q.

Symbols: theta params, eta the step size, tau >= 0 the entropy temperature, J_tau the soft
objective of ``npg.mdp.regularized`` (J_0 = J), d the unnormalised visitation and
F_rho = (1 - gamma) F the Fisher matrix under the normalised visitation (1 - gamma) d
(Agarwal et al. 2021's d^pi_rho; ``npg.mdp.fisher`` is F, weighted by d).

    pg_step:          theta' = theta + eta grad J_tau(theta)
                      (Mei et al. 2020; safe for the tabular softmax when eta <= 1/beta,
                      beta = 8 r_max/(1-gamma)^3 at tau = 0 and (8 r_max + tau (4 + 8 log A)) /
                      (1-gamma)^3 with entropy, Mei et al. Lemmas 2 and 14)
    npg_step:         theta' = theta + eta F_rho^+ grad J(theta)
                      (Kakade 2001; tabular softmax: theta + eta A / (1 - gamma), Agarwal et al.
                      2021 sec. 5.3; any eta > 0)
    entropy_npg_step: theta' = theta + eta F_rho^+ grad J_tau(theta)
                      (Cen et al. 2021; tabular: pi' ~ pi^(1 - eta tau/(1-gamma))
                      exp(eta Q_tau / (1 - gamma)); their linear rate needs 0 < eta <= (1-gamma)/tau)
    pmd_step:         pi'(.|s) = argmax_p eta (<Q_tau(s, .), p> + tau H(p)) - KL(p || pi(.|s))
                              ~ (pi(.|s) exp(eta Q_tau(s, .)))^(1 / (1 + eta tau))
                      (policy mirror descent with the KL divergence, Lan 2022; Xiao 2022),
                      on policy matrices
    trpo_step:        max_u g^T u  s.t.  1/2 u^T F_bar u <= delta  (F_bar: Fisher under d/sum d),
                      u = sqrt(2 delta / (x^T F_bar x)) x with x = F_bar^+ g (closed form for the
                      tabular softmax, a least-squares solve otherwise), then backtracking
                      theta + beta^k u until the exact visitation-weighted KL
                      sum_s dbar_old(s) KL(pi_old(.|s) || pi'(.|s)) <= delta and J improves
                      (Schulman et al. 2015)
    cpi_step:         pi' = (1 - alpha) pi + alpha greedy(A^pi) with alpha in [0, 1] chosen by an
                      exact line search on J (Kakade & Langford 2002). Every alpha improves J
                      here: by the performance difference lemma J(pi') - J(pi) =
                      alpha sum_s d'(s) sum_a greedy(a|s) A(s, a) >= 0.

A step size outside the range a theorem allows gets a ``StepSizeWarning`` naming the bound (the
update is still done: large steps are legal, just unguaranteed).

Array module: the MDP's (``FiniteMDP.xp``). On a NumPy MDP the directions are NumPy float64 and
the parameters may live on any module (each step's direction is converted once to theirs); on an
MDP moved with ``mdp.to(...)`` the parameters, logits and policy matrices live on that module too
and every step stays there.
"""

from __future__ import annotations

import warnings

import numpy as np

from ..checks import check_positive, check_positive_int
from ..backend import create, get_xp, to_numpy
from ..params import flatten, unflatten
from ..policies import TabularSoftmaxPolicy
from .closed_forms import tabular_softmax_natural_gradient
from .exact import check_policy_matrix, evaluate, objective, visitation
from .finite import FiniteMDP
from .gradient import _obs, default_obs, fisher, mdp_policy_matrix, policy_gradient
from .linalg import lstsq
from .planning import greedy_policy
from .regularized import (_log_pi, check_temperature, soft_evaluate, soft_policy_gradient,
                          tabular_softmax_soft_gradient)

__all__ = ["StepSizeWarning", "pg_step_size_bound", "pg_step", "tabular_pg_step",
           "tabular_npg_step", "npg_direction", "npg_step",
           "entropy_npg_step", "pmd_step", "visitation_kl", "trpo_step", "cpi_step"]


class StepSizeWarning(UserWarning):
    """A step size lies outside the range for which a convergence theorem holds."""


def _warn(msg: str) -> None:
    warnings.warn(msg, StepSizeWarning, stacklevel=3)


def _vector(mdp: FiniteMDP, grads):
    """flatten(grads) as float64 [P] on the MDP's module (NumPy for a NumPy MDP)."""
    xp, flat = mdp.xp, flatten(grads)
    return np.asarray(to_numpy(flat), dtype=np.float64) if xp is np else xp.astype(flat,
                                                                                   xp.float64)


def _eye(mdp: FiniteMDP, n: int):
    return create(mdp.xp, "eye", n, dtype=mdp.xp.float64, device=mdp.device)


def _add(params, direction, eta: float) -> dict:
    """params + eta * direction (a flat [P] vector of the MDP's module), on params' backend and
    dtype (a NumPy direction is converted once to params' module)."""
    flat = flatten(params)
    xp = get_xp(flat)
    return unflatten(flat + xp.asarray(eta * direction, dtype=flat.dtype), params)


def pg_step_size_bound(mdp: FiniteMDP, tau: float = 0.0) -> float:
    """1/beta: the largest step of the softmax PG theorems (Mei et al. 2020, Thm 4 and 6).

    beta = (8 r_max + tau (4 + 8 log A)) / (1 - gamma)^3, r_max = max |R| (rewards in [0, 1]
    give Mei et al.'s (1-gamma)^3 / 8 and (1-gamma)^3 / (8 + tau (4 + 8 log A))); 0 at gamma=1.
    """
    tau = check_temperature(tau)
    if mdp.gamma >= 1.0:
        return 0.0
    r = float(mdp.xp.max(mdp.xp.abs(mdp.R)))
    beta = (8.0 * r + tau * (4.0 + 8.0 * np.log(mdp.n_actions))) / (1.0 - mdp.gamma) ** 3
    return float("inf") if beta == 0.0 else 1.0 / beta


def pg_step(mdp: FiniteMDP, policy, params, eta: float, tau: float = 0.0, obs=None) -> dict:
    """theta + eta grad J_tau(theta) (exact gradient ascent). StepSizeWarning for the tabular
    softmax when eta > ``pg_step_size_bound`` (Mei et al. 2020's range)."""
    eta = check_positive("eta", eta)
    tau = check_temperature(tau)
    if isinstance(policy, TabularSoftmaxPolicy):
        bound = pg_step_size_bound(mdp, tau)
        if eta > bound:
            _warn(f"eta = {eta:g} exceeds Mei et al. (2020)'s step-size bound 1/beta = "
                  f"(1-gamma)^3/(8 r_max{' + tau (4 + 8 log A)' if tau else ''}) = {bound:.4g}: "
                  f"monotone improvement and the convergence rate are not guaranteed")
    g = soft_policy_gradient(mdp, policy, params, tau, obs) if tau else \
        policy_gradient(mdp, policy, params, obs)
    return _add(params, _vector(mdp, g), eta)


def _natural_direction_matrix(mdp: FiniteMDP, pi: np.ndarray, tau: float) -> np.ndarray:
    """F_rho^+ grad J_tau of the tabular softmax in closed form, [S, A]: (A_tau - mean_a A_tau)
    / (1 - gamma) on visited states, 0 elsewhere (``npg.mdp.closed_forms``; A_tau = Q_tau -
    tau log pi - V_tau; 1/(1 - gamma) becomes sum d at gamma = 1). Exact where the
    pseudo-inverse of a nearly deterministic policy's Fisher matrix (eigenvalues ~ pi(a|s))
    would drop the very directions that still improve J."""
    V, Q = soft_evaluate(mdp, pi, tau)
    A = Q - tau * _log_pi(pi) - V[:, None]
    d = visitation(mdp, pi)
    xp = mdp.xp
    x = xp.where((d > 0)[:, None], A - xp.mean(A, axis=1, keepdims=True), 0.0)
    return x * (1.0 / (1.0 - mdp.gamma) if mdp.gamma < 1.0 else float(xp.sum(d)))


def _theta(mdp: FiniteMDP, theta):
    """Logits [S, A] as float64 on the MDP's module (a NumPy MDP converts from any module)."""
    xp = mdp.xp
    if xp is np:
        t = np.asarray(to_numpy(theta), dtype=np.float64)
    else:
        t = xp.astype(create(xp, "asarray", theta, device=mdp.device), xp.float64)
    if tuple(t.shape) != (mdp.n_states, mdp.n_actions) or not bool(xp.all(xp.isfinite(t))):
        raise ValueError(f"theta must be finite logits [S, A] = [{mdp.n_states}, "
                         f"{mdp.n_actions}]; got shape {tuple(t.shape)}")
    return t


def _softmax_rows(theta):
    xp = get_xp(theta)
    e = xp.exp(theta - xp.max(theta, axis=1, keepdims=True))
    return e / xp.sum(e, axis=1, keepdims=True)


def tabular_pg_step(mdp: FiniteMDP, theta, eta: float, tau: float = 0.0) -> np.ndarray:
    """The tabular softmax's pg_step on logits theta [S, A]: theta + eta d pi A_tau (closed form
    of ``npg.mdp.regularized``), without the policy machinery (fast loops; equal to pg_step)."""
    theta = _theta(mdp, theta)
    eta = check_positive("eta", eta)
    tau = check_temperature(tau)
    bound = pg_step_size_bound(mdp, tau)
    if eta > bound:
        _warn(f"eta = {eta:g} exceeds Mei et al. (2020)'s step-size bound 1/beta = {bound:.4g}")
    pi = _softmax_rows(theta)
    return theta + eta * tabular_softmax_soft_gradient(mdp, pi, tau)


def tabular_npg_step(mdp: FiniteMDP, theta, eta: float, tau: float = 0.0) -> np.ndarray:
    """The tabular softmax's npg_step (tau = 0) or entropy_npg_step (tau > 0) on logits
    theta [S, A]: theta + eta (A_tau - mean_a A_tau) / (1 - gamma) on visited states."""
    theta = _theta(mdp, theta)
    eta = check_positive("eta", eta)
    tau = check_temperature(tau)
    if tau and mdp.gamma < 1.0 and eta > (1.0 - mdp.gamma) / tau * (1 + 1e-12):
        _warn(f"eta = {eta:g} exceeds Cen et al. (2021)'s bound (1 - gamma)/tau = "
              f"{(1.0 - mdp.gamma) / tau:.4g}")
    return theta + eta * _natural_direction_matrix(mdp, _softmax_rows(theta), tau)


def npg_direction(mdp: FiniteMDP, policy, params, tau: float = 0.0, obs=None,
                  damping: float = 0.0, rcond: float = 1e-10) -> np.ndarray:
    """F_rho^+ grad J_tau, NumPy [P]: the min-norm solution of (F_rho + damping I) x = g.

    F_rho = (1 - gamma) F for gamma < 1 (Agarwal et al. 2021's normalisation), F / sum(d) at
    gamma = 1. The tabular softmax without damping uses its closed form (exact, also for nearly
    deterministic policies); other policies use ``np.linalg.lstsq`` with ``rcond``, which drops
    directions whose Fisher eigenvalue is below rcond times the largest.
    """
    damping = float(damping)
    if not (damping >= 0.0 and np.isfinite(damping)):
        raise ValueError(f"damping must be a finite number >= 0; got {damping}")
    tau = check_temperature(tau)
    if isinstance(policy, TabularSoftmaxPolicy) and damping == 0.0:
        obs = default_obs(mdp, policy, params) if obs is None else obs
        pi = mdp_policy_matrix(mdp, policy, params, obs)
        return mdp.xp.reshape(_natural_direction_matrix(mdp, pi, tau), (-1,))
    F = fisher(mdp, policy, params, obs, normalized=mdp.gamma >= 1.0)
    if mdp.gamma < 1.0:
        F = (1.0 - mdp.gamma) * F
    g = soft_policy_gradient(mdp, policy, params, tau, obs) if tau else \
        policy_gradient(mdp, policy, params, obs)
    if damping:
        F = F + damping * _eye(mdp, F.shape[0])
    x = lstsq(mdp.xp, F, _vector(mdp, g), rcond=rcond)[0]
    if not bool(mdp.xp.all(mdp.xp.isfinite(x))):
        raise ValueError("the natural gradient is not finite; the Fisher solve overflowed")
    return x


def npg_step(mdp: FiniteMDP, policy, params, eta: float, obs=None, damping: float = 0.0) -> dict:
    """theta + eta F_rho^+ grad J (Agarwal et al. 2021's NPG; every eta > 0 is covered)."""
    eta = check_positive("eta", eta)
    return _add(params, npg_direction(mdp, policy, params, 0.0, obs, damping), eta)


def entropy_npg_step(mdp: FiniteMDP, policy, params, eta: float, tau: float, obs=None,
                     damping: float = 0.0) -> dict:
    """theta + eta F_rho^+ grad J_tau (Cen et al. 2021). StepSizeWarning when
    eta > (1 - gamma) / tau, the range of their linear-rate theorem."""
    eta = check_positive("eta", eta)
    tau = check_positive("tau", tau)
    if mdp.gamma < 1.0 and eta > (1.0 - mdp.gamma) / tau * (1 + 1e-12):
        _warn(f"eta = {eta:g} exceeds Cen et al. (2021)'s bound (1 - gamma)/tau = "
              f"{(1.0 - mdp.gamma) / tau:.4g}: the linear rate (1 - eta tau)^t is not "
              f"guaranteed (and 1 - eta tau/(1 - gamma) < 0 flips the old logits' sign)")
    return _add(params, npg_direction(mdp, policy, params, tau, obs, damping), eta)


def pmd_step(mdp: FiniteMDP, pi, eta: float, tau: float = 0.0) -> np.ndarray:
    """pi'(.|s) ~ (pi(.|s) exp(eta Q_tau(s, .)))^(1/(1 + eta tau)), ``[S, A]`` (module docstring).

    Computed in log space with a per-state shift; zero-probability actions stay at zero.
    """
    pi = check_policy_matrix(mdp, pi)
    eta = check_positive("eta", eta)
    tau = check_temperature(tau)
    _, Q = soft_evaluate(mdp, pi, tau) if tau else evaluate(mdp, pi)[:2]
    xp = mdp.xp
    with np.errstate(divide="ignore"):
        logits = (xp.log(pi) + eta * Q) / (1.0 + eta * tau)
    e = xp.exp(logits - xp.max(logits, axis=1, keepdims=True))
    return e / xp.sum(e, axis=1, keepdims=True)


def visitation_kl(mdp: FiniteMDP, pi_old, pi_new) -> float:
    """sum_s dbar_old(s) KL(pi_old(.|s) || pi_new(.|s)), dbar_old = d_old / sum d_old.

    inf when pi_new puts zero mass where pi_old does not, on a visited state.
    """
    pi_old = check_policy_matrix(mdp, pi_old)
    pi_new = check_policy_matrix(mdp, pi_new)
    d = visitation(mdp, pi_old, normalized=True)
    xp = mdp.xp
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = xp.where(pi_old > 0, pi_old * (xp.log(pi_old) - xp.log(pi_new)), 0.0)
    kl = xp.sum(terms, axis=1)
    return float(xp.sum(xp.where(d > 0, d * kl, 0.0)))


def trpo_step(mdp: FiniteMDP, policy, params, max_kl: float, obs=None,
              backtrack: float = 0.5, max_backtracks: int = 10, damping: float = 0.0
              ) -> tuple[dict, dict]:
    """One TRPO step with exact quantities (module docstring); returns (params', info).

    info: accepted (bool), n_backtracks, kl (exact, of the returned params), J_old, J,
    step_fraction beta^k (0 when rejected: params' = params).
    """
    max_kl = check_positive("max_kl", max_kl)
    backtrack = check_positive("backtrack", backtrack)
    if backtrack >= 1.0:
        raise ValueError(f"backtrack must lie in (0, 1); got {backtrack}")
    max_backtracks = check_positive_int("max_backtracks", max_backtracks)
    obs = _obs(mdp, policy, params, obs) if obs is not None else default_obs(mdp, policy, params)
    xp = mdp.xp
    pi_old = mdp_policy_matrix(mdp, policy, params, obs)
    J_old = objective(mdp, pi_old)
    g = _vector(mdp, policy_gradient(mdp, policy, params, obs))
    if isinstance(policy, TabularSoftmaxPolicy) and not damping:
        # closed form: F_bar^+ g = sum(d) (A - mean_a A) on visited states; x^T F_bar x = g . x
        x = float(xp.sum(visitation(mdp, pi_old))) * xp.reshape(
            tabular_softmax_natural_gradient(mdp, pi_old), (-1,))
        quad = float(g @ x)
    else:
        F = fisher(mdp, policy, params, obs, normalized=True)
        if damping:
            F = F + float(damping) * _eye(mdp, F.shape[0])
        x = lstsq(xp, F, g, rcond=1e-10)[0]
        quad = float(x @ F @ x)
    info = dict(accepted=False, n_backtracks=0, kl=0.0, J_old=J_old, J=J_old, step_fraction=0.0)
    if not quad > 0.0 or not np.isfinite(quad):
        return params, info                                     # at a stationary point
    u = np.sqrt(2.0 * max_kl / quad) * x
    for k in range(max_backtracks + 1):
        frac = backtrack ** k
        new = _add(params, u, frac)
        pi_new = mdp_policy_matrix(mdp, policy, new, obs)
        kl = visitation_kl(mdp, pi_old, pi_new)
        J_new = objective(mdp, pi_new)
        if kl <= max_kl and J_new > J_old:
            info.update(accepted=True, n_backtracks=k, kl=kl, J=J_new, step_fraction=frac)
            return new, info
    info["n_backtracks"] = max_backtracks
    return params, info


def cpi_step(mdp: FiniteMDP, pi, alpha: float | None = None, n_grid: int = 21
             ) -> tuple[np.ndarray, dict]:
    """Conservative policy iteration: (1 - alpha) pi + alpha greedy(A^pi); returns (pi', info).

    alpha None: the best of ``n_grid`` equally spaced values in [0, 1] by exact J (a line
    search, so J(pi') >= J(pi)). info: alpha, J_old, J, policy_advantage
    sum_s dbar(s) sum_a greedy(a|s) A(s, a) (>= 0; 0 exactly at an optimal pi).
    """
    pi = check_policy_matrix(mdp, pi)
    _, _, A = evaluate(mdp, pi)
    g = greedy_policy(A)
    adv = float(visitation(mdp, pi, normalized=True) @ mdp.xp.sum(g * A, axis=1))
    J_old = objective(mdp, pi)
    if alpha is None:
        grid = np.linspace(0.0, 1.0, check_positive_int("n_grid", n_grid))
        values = [objective(mdp, (1 - float(a)) * pi + float(a) * g) for a in grid]
        alpha = float(grid[int(np.argmax(values))])
    else:
        alpha = float(alpha)
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha must lie in [0, 1]; got {alpha}")
    new = (1.0 - alpha) * pi + alpha * g
    return new, dict(alpha=alpha, J_old=J_old, J=objective(mdp, new), policy_advantage=adv)
