"""The variance-optimal state baseline, computed exactly, and every baseline's variance against it.

The baseline estimator of ``npg.estimators.Baseline(b)`` is linear in the table b [S]:

    g_b = sum_t gamma^t (G_t - b(s_t)) psi_t = g - sum_s b(s) Phi_s,
    Phi_s = sum_t gamma^t [s_t = s] psi_t                                   [P], one per state,

with g the reward-to-go estimator. Each Phi_s has mean 0 under pi (sum_a pi(a|s) psi(s, a) = 0),
so E g_b = E g for every b and its total variance is a quadratic in b,

    tr Cov(g_b) = E||g||^2 - ||E g||^2 - 2 b' v + b' H b,
    H[s, s'] = E[Phi_s . Phi_s'],   v[s] = E[Phi_s . g],

minimised by the solutions of H b* = v (Greensmith, Bartlett & Baxter 2004, "Variance reduction
techniques for gradient estimates in reinforcement learning", JMLR 5, derive such optimal
baselines and show that V^pi is not one of them in general). b* is the least-squares
projection of g onto the span of the Phi_s, so v lies in the range of H and b* = H^+ v (the
minimum-norm solution: 0 on states that are never visited with a non-zero score, where any value
is optimal). H, v and E||g||^2 come from the trace form of the second-moment recursion
(``recursion.tail_moments`` with the blocks Phi_0..Phi_{S-1}, g: ``tails.score_blocks_form``) or,
on small problems, by enumeration; both are exact for the sampler's horizon cap T.

``score_weighted_baseline`` is the per-state rule b(s) = sum_a pi ||psi||^2 Q / sum_a pi ||psi||^2,
which minimises one step's own term E_a[||psi||^2 (Q(s, a) - b)^2] and ignores the covariances
between steps; the exact optimum b* accounts for them, and ``variance`` scores any b.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..estimators import estimates_from_weights
from ..returns import discounted_returns
from .enumeration import DEFAULT_MAX_BYTES, enumerate_trajectories
from .exact import score_tables
from .recursion import tail_moments
from .tails import score_blocks_form

__all__ = ["BaselineQuadratic", "baseline_quadratic", "optimal_baseline",
           "score_weighted_baseline", "variance_ratios"]


@dataclass(frozen=True, eq=False)
class BaselineQuadratic:
    """tr Cov(g_b) = second - ||mean||^2 - 2 b' v + b' H b (module docstring), for cap ``horizon``.

    Gradient: d tr Cov(g_b) / d b = 2 (H b - v); zero at b* = H^+ v.
    """

    H: np.ndarray          # [S, S]
    v: np.ndarray          # [S]
    second: float          # E||g||^2 of the reward-to-go estimator
    mean: np.ndarray       # E g [P], the same for every b
    horizon: int

    def _b(self, b) -> np.ndarray:
        b = np.asarray(b, dtype=np.float64)
        b = np.full(self.v.shape, float(b)) if b.ndim == 0 else b
        if b.shape != self.v.shape:
            raise ValueError(f"b must be a scalar or have shape [S] = [{self.v.size}]; got "
                             f"{list(b.shape)}")
        if not np.all(np.isfinite(b)):
            raise ValueError("b must be finite; it contains NaN or inf")
        return b

    def variance(self, b) -> float:
        """tr Cov(g_b) for a baseline table b [S] (or a constant)."""
        b = self._b(b)
        return float(self.second - self.mean @ self.mean - 2 * b @ self.v + b @ self.H @ b)

    def optimal(self) -> np.ndarray:
        """b* = H^+ v [S], the variance-minimising state baseline (minimum-norm solution)."""
        return np.linalg.lstsq(self.H, self.v, rcond=1e-12)[0]

    def optimal_constant(self) -> float:
        """c* = 1'v / 1'H1, the best baseline b(s) = c (0 when 1'H1 = 0)."""
        den = float(self.H.sum())
        return float(self.v.sum()) / den if den > 0 else 0.0


def _enumerated_blocks(mdp, pi, table, horizon, max_bytes):
    """(E Y_i . Y_l [S+1, S+1], E g [P]) with Y = (Phi_0..Phi_{S-1}, g) by listing trajectories."""
    traj, prob = enumerate_trajectories(mdp, pi, horizon, table.shape[1] * (mdp.n_states + 1),
                                        max_bytes)
    disc = (float(mdp.gamma) ** np.arange(traj.horizon))[:, None]
    G = discounted_returns(traj.rew, traj.terminated, traj.truncated, float(mdp.gamma))
    blocks = [estimates_from_weights(traj, disc * (traj.states[:-1] == s), table, pi.shape[1])
              for s in range(mdp.n_states)]
    blocks.append(estimates_from_weights(traj, disc * G, table, pi.shape[1]))
    Y = np.stack(blocks, axis=1)                                       # [M, S + 1, P]
    return np.einsum("m,mip,mlp->il", prob, Y, Y), prob @ Y[:, -1]


def baseline_quadratic(mdp, policy, params, horizon: int, obs=None, method: str = "recursion",
                       max_bytes: int = DEFAULT_MAX_BYTES) -> BaselineQuadratic:
    """The exact ``BaselineQuadratic`` of the policy on ``mdp`` with horizon cap ``horizon``.

    method: "recursion" (any horizon) or "enumeration" (small problems; a cross-check).
    """
    pi, psi = score_tables(mdp, policy, params, obs)
    S = mdp.n_states
    if method == "recursion":
        u, M = tail_moments(mdp, score_blocks_form(mdp, pi), psi, horizon, trace_only=True)
        mean = u[S]
    elif method == "enumeration":
        M, mean = _enumerated_blocks(mdp, pi, psi.reshape(S * pi.shape[1], -1), horizon,
                                     max_bytes)
    else:
        raise ValueError(f"method must be 'recursion' or 'enumeration'; got {method!r}")
    H = 0.5 * (M[:S, :S] + M[:S, :S].T)
    return BaselineQuadratic(H, M[:S, S].copy(), float(M[S, S]), mean, int(horizon))


def optimal_baseline(mdp, policy, params, horizon: int, obs=None) -> np.ndarray:
    """b* [S]: the state baseline that minimises tr Cov of the baseline estimator (exact)."""
    return baseline_quadratic(mdp, policy, params, horizon, obs).optimal()


def score_weighted_baseline(mdp, policy, params, Q, V=None, obs=None) -> np.ndarray:
    """b(s) = sum_a pi(a|s) ||psi(s, a)||^2 Q(s, a) / sum_a pi(a|s) ||psi(s, a)||^2  [S].

    The one-step optimum (module docstring); where the denominator is 0 (a terminal state, a
    deterministic pi) it falls back to V(s) = sum_a pi Q (or the given ``V``).
    """
    pi, psi = score_tables(mdp, policy, params, obs)
    Q = np.asarray(Q, dtype=np.float64)
    if Q.shape != pi.shape or not np.all(np.isfinite(Q)):
        raise ValueError(f"Q must be a finite [S, A] = {list(pi.shape)} table; got "
                         f"{list(Q.shape)}")
    V = np.sum(pi * Q, axis=1) if V is None else np.asarray(V, dtype=np.float64)
    weight = pi * np.sum(psi * psi, axis=-1)
    den = weight.sum(axis=1)
    return np.where(den > 0, (weight * Q).sum(axis=1) / np.where(den > 0, den, 1.0), V)


def variance_ratios(quad: BaselineQuadratic, baselines: dict) -> dict:
    """{name: tr Cov(g_b) / tr Cov(g_b*)} for a dict of baselines (tables [S] or constants)."""
    best = quad.variance(quad.optimal())
    if not best > 0:
        raise ValueError("the optimal baseline has zero variance: ratios are undefined")
    return {name: quad.variance(b) / best for name, b in baselines.items()}
