"""The V-trace operator exactly, on a finite MDP (Espeholt et al. 2018, sec. 4.1, theorem 1).

Behaviour mu [S, A], target pi [S, A], truncation levels rho_bar, c_bar, trace parameter lam.
With w(s, a) = pi(a|s) / mu(a|s), rho(s, a) = min(rho_bar, w), cc(s, a) = lam min(c_bar, w):

    b(s)      = sum_a mu(a|s) rho(s, a) (R(s, a) + gamma sum_{s' live} P(s'|s, a) V(s') - V(s))
    M(s, s')  = gamma sum_a mu(a|s) cc(s, a) P(s'|s, a)            s' non-terminal
    (R V)(s)  = V(s) + sum_{k>=0} (M^k b)(s) = V(s) + ((I - M)^{-1} b)(s)

is the expected V-trace target E_mu[vs_t | s_t = s] of an unending rollout (terminal states end
the trace: value 0, no bootstrap). With the rollout cut after H steps (the last bootstrapping
from V), the expectation is V + sum_{k<H} M^k b (``vtrace_expected_target``), which the sampled
kernel ``npg.returns.vtrace`` is z-tested against.

Theorem 1: for rho_bar >= c_bar the fixed point of R is V^{pi_rho_bar}, the value of

    pi_rho_bar(a|s) = min(rho_bar mu(a|s), pi(a|s)) / sum_b min(rho_bar mu(b|s), pi(b|s))

(since b = 0 at V^{pi_rho_bar}: sum_a min(rho_bar mu, pi) (Q^{pi_rho_bar} - V^{pi_rho_bar}) = 0).
rho_bar = inf gives pi itself; rho_bar -> 0 gives mu.
"""

from __future__ import annotations

import math

import numpy as np

from .exact import check_policy_matrix
from .finite import FiniteMDP
from .host import numpy_boundary

__all__ = ["truncated_target_policy", "vtrace_operator", "vtrace_expected_target", "occupancy",
           "vtrace_policy_gradient"]


def _levels(rho_bar, c_bar, lam):
    out = []
    for name, x in (("rho_bar", rho_bar), ("c_bar", c_bar)):
        if isinstance(x, bool) or not isinstance(x, (int, float, np.integer, np.floating)):
            raise TypeError(f"{name} must be a real number >= 0 (or inf); got {type(x).__name__}")
        if not float(x) >= 0.0:
            raise ValueError(f"{name} must be >= 0; got {x}")
        out.append(float(x))
    lam = float(lam)
    if not 0.0 <= lam <= 1.0:
        raise ValueError(f"lam must lie in [0, 1]; got {lam}")
    return out[0], out[1], lam


def _weights(mdp, pi, mu, rho_bar, c_bar, lam):
    pi, mu = check_policy_matrix(mdp, pi), check_policy_matrix(mdp, mu)
    if np.any((mu == 0) & (pi > 0) & mdp.nonterminal[:, None]) and (
            math.isinf(rho_bar) or math.isinf(c_bar)):
        raise ValueError("mu(a|s) = 0 where pi(a|s) > 0 with an infinite truncation level: "
                         "the importance weight is infinite")
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.where(mu > 0, pi / np.where(mu > 0, mu, 1.0), 0.0)
    return pi, mu, np.minimum(rho_bar, w), lam * np.minimum(c_bar, w)


def truncated_target_policy(pi, mu, rho_bar: float) -> np.ndarray:
    """pi_rho_bar(a|s) proportional to min(rho_bar mu(a|s), pi(a|s)), [S, A] (theorem 1).

    rho_bar = inf returns pi. ValueError where a row's unnormalised mass is 0 (rho_bar = 0).
    """
    pi, mu = np.asarray(pi, np.float64), np.asarray(mu, np.float64)
    if pi.shape != mu.shape or pi.ndim != 2:
        raise ValueError(f"pi and mu must be [S, A] of one shape; got {pi.shape}, {mu.shape}")
    rho_bar = _levels(rho_bar, 0.0, 1.0)[0]
    if math.isinf(rho_bar):
        return pi.copy()
    m = np.minimum(rho_bar * mu, pi)
    z = m.sum(axis=1, keepdims=True)
    if np.any(z <= 0):
        raise ValueError("min(rho_bar mu, pi) has zero mass in some state: rho_bar must be > 0 "
                         "and pi, mu must share support")
    return m / z


def _pieces(mdp: FiniteMDP, pi, mu, V, rho_bar, c_bar, lam):
    rho_bar, c_bar, lam = _levels(rho_bar, c_bar, lam)
    pi, mu, rho, cc = _weights(mdp, pi, mu, rho_bar, c_bar, lam)
    V = np.asarray(V, np.float64)
    if V.shape != (mdp.n_states,) or not np.all(np.isfinite(V)):
        raise ValueError(f"V must be a finite array [S] = [{mdp.n_states}]; got {V.shape}")
    live = mdp.nonterminal
    PV = mdp.P @ np.where(live, V, 0.0)                         # [S, A], terminal next: 0
    b = np.sum(mu * rho * (mdp.R + mdp.gamma * PV - V[:, None]), axis=1)
    M = mdp.gamma * np.einsum("sa,sat->st", mu * cc, mdp.P) * live[None, :]
    b[~live], M[~live] = 0.0, 0.0
    return b, M


@numpy_boundary
def vtrace_operator(mdp: FiniteMDP, pi, mu, V, rho_bar=1.0, c_bar=1.0, lam=1.0) -> np.ndarray:
    """(R V) [S] = V + (I - M)^{-1} b, the expected V-trace target of an unending rollout."""
    b, M = _pieces(mdp, pi, mu, V, rho_bar, c_bar, lam)
    return np.asarray(V, np.float64) + np.linalg.solve(np.eye(mdp.n_states) - M, b)


@numpy_boundary
def vtrace_expected_target(mdp: FiniteMDP, pi, mu, V, horizon: int, rho_bar=1.0, c_bar=1.0,
                           lam=1.0) -> np.ndarray:
    """E_mu[vs_0 | s_0 = s] [S] for a rollout of ``horizon`` steps whose last step bootstraps
    from V: V + sum_{k=0}^{H-1} M^k b."""
    if isinstance(horizon, bool) or not isinstance(horizon, (int, np.integer)) or horizon < 1:
        raise ValueError(f"horizon must be an int >= 1; got {horizon!r}")
    b, M = _pieces(mdp, pi, mu, V, rho_bar, c_bar, lam)
    acc, term = np.zeros_like(b), b.copy()
    for _ in range(int(horizon)):
        acc += term
        term = M @ term
    return np.asarray(V, np.float64) + acc


@numpy_boundary
def occupancy(mdp: FiniteMDP, mu, horizon: int) -> np.ndarray:
    """n_mu(s) = sum_{t<H} Pr_mu(s_t = s, the episode still running), [S] (undiscounted)."""
    mu = check_policy_matrix(mdp, mu)
    P_mu = np.einsum("sa,sat->st", mu, mdp.P)
    p = np.where(mdp.nonterminal, mdp.mu0, 0.0)
    n = np.zeros(mdp.n_states)
    for _ in range(int(horizon)):
        n += p
        p = np.where(mdp.nonterminal, p @ P_mu, 0.0)
    return n


@numpy_boundary
def vtrace_policy_gradient(mdp: FiniteMDP, policy, params, mu, horizon: int, rho_bar=1.0,
                           obs=None) -> dict:
    """The expected V-trace actor step E_mu[sum_{t<H} adv_t grad log pi(a_t|s_t)] with the
    critic at its fixed point V^{pi_rho_bar}:

        sum_s n_mu(s) sum_a min(rho_bar mu(a|s), pi(a|s)) A^{pi_rho_bar}(s, a) grad log pi(a|s)

    (``npg.algos.off_policy``; any c_bar: at the fixed point the targets' corrections have
    mean 0). A grads dict like params.
    """
    from .exact import evaluate
    from .gradient import default_obs, policy_matrix, state_action_pairs
    obs = default_obs(mdp, policy, params) if obs is None else obs
    pi = check_policy_matrix(mdp, policy_matrix(policy, params, obs))
    mu = check_policy_matrix(mdp, mu)
    rho_bar = _levels(rho_bar, 0.0, 1.0)[0]
    _, _, A = evaluate(mdp, truncated_target_policy(pi, mu, rho_bar))
    m = pi if math.isinf(rho_bar) else np.minimum(rho_bar * mu, pi)
    w = occupancy(mdp, mu, horizon)[:, None] * m * A
    pairs, act = state_action_pairs(obs, mdp.n_actions)
    like = next(iter(params.values()))
    return policy.score_sum(params, pairs, act, np.asarray(w.reshape(-1), dtype=like.dtype))
