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
is optimal). H, v come from the recursion below, E||g||^2 and E g from ``recursion`` (the
reward-to-go estimator), or, on small problems, all by enumeration; both are exact for the
sampler's horizon cap T.

The recursion for H and v. Over the tail from a state s with h steps to go, Phi_i = [s = i] psi
+ gamma Phi_i', Y = G psi + gamma Y' (the reward-to-go estimate) and G = r + gamma G'. Since
E[Phi_i'] = 0 (the score has mean zero under pi at every step), the cross terms with one Phi'
factor and a constant vanish, leaving, with E_sa G = R(s, a) + gamma sum_s' P m(s'):

    D_il(s) = E Phi_i . Phi_l  = [s = i = l] E_a|psi|^2 + gamma^2 E_s' D_il(s')
    c_i(s)  = E G Phi_i        = [s = i] E_a[psi E_sa G] + gamma^2 E_s' c_i(s')               [P]
    u(s)    = E Y              = E_a[psi E_sa G] + gamma E_s' u(s')                          [P]
    v_i(s)  = E Phi_i . Y      = [s = i] E_a[|psi|^2 E_sa G + gamma psi . E_s'|a u(s')]
                                 + gamma^2 E_a[psi . E_s'|a c_i(s')] + gamma^2 E_s' v_i(s')

(m = E G, all zero after the end), H = mu0 . D and v = mu0 . v(s). Work O(T S^3 (A + P)).

``score_weighted_baseline`` is the per-state rule b(s) = sum_a pi ||psi||^2 Q / sum_a pi ||psi||^2,
which minimises one step's own term E_a[||psi||^2 (Q(s, a) - b)^2] and ignores the covariances
between steps; the exact optimum b* accounts for them, and ``variance`` scores any b.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..checks import check_positive_int
from ..estimators import RewardToGo, estimates_from_weights
from ..returns import discounted_returns
from ..mdp.host import numpy_boundary
from .enumeration import DEFAULT_MAX_BYTES, enumerate_trajectories
from .exact import score_tables
from .exact import recursive_moments

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

    def variance_gradient(self, b) -> np.ndarray:
        """d tr Cov(g_b) / d b = 2 (H b - v)  [S]."""
        return 2.0 * (self.H @ self._b(b) - self.v)

    def optimal(self) -> np.ndarray:
        """b* = H^+ v [S], the variance-minimising state baseline (minimum-norm solution)."""
        return np.linalg.lstsq(self.H, self.v, rcond=1e-12)[0]

    def optimal_constant(self) -> float:
        """c* = 1'v / 1'H1, the best baseline b(s) = c (0 when 1'H1 = 0)."""
        den = float(self.H.sum())
        return float(self.v.sum()) / den if den > 0 else 0.0


def _recursive_blocks(mdp, pi, psi, horizon):
    """(H [S, S], v [S]) by the recursion in the module docstring."""
    S = pi.shape[0]
    g, P, R = float(mdp.gamma), np.asarray(mdp.P), np.asarray(mdp.R)
    live = (~np.asarray(mdp.terminal)).astype(np.float64)
    P_pi = np.einsum("sa,sat->st", pi, P)
    psi2 = np.sum(psi * psi, axis=-1)                                  # [S, A]
    eye = np.arange(S)
    D, c, v = np.zeros((S, S, S)), np.zeros((S, S, psi.shape[-1])), np.zeros((S, S))
    m, u = np.zeros(S), np.zeros((S, psi.shape[-1]))
    for _ in range(horizon):
        EG = R + g * P @ m                                             # [S, A]
        Pu = np.einsum("sat,tp->sap", P, u)
        Pc = np.einsum("sat,tip->saip", P, c)
        D_new = g * g * np.einsum("st,til->sil", P_pi, D)
        D_new[eye, eye, eye] += np.sum(pi * psi2, axis=1)
        v_new = g * g * (np.einsum("sa,sap,saip->si", pi, psi, Pc) + P_pi @ v)
        v_new[eye, eye] += np.sum(pi * (psi2 * EG + g * np.sum(psi * Pu, axis=-1)), axis=1)
        c_new = g * g * np.einsum("st,tip->sip", P_pi, c)
        c_new[eye, eye] += np.einsum("sa,sap,sa->sp", pi, psi, EG)
        u = np.einsum("sa,sap->sp", pi, psi * EG[:, :, None] + g * Pu) * live[:, None]
        m = np.sum(pi * EG, axis=1) * live
        D, v, c = D_new * live[:, None, None], v_new * live[:, None], c_new * live[:, None, None]
    mu0 = np.asarray(mdp.mu0)
    return np.einsum("s,sil->il", mu0, D), mu0 @ v


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


@numpy_boundary
def baseline_quadratic(mdp, policy, params, horizon: int, obs=None, method: str = "recursion",
                       max_bytes: int = DEFAULT_MAX_BYTES) -> BaselineQuadratic:
    """The exact ``BaselineQuadratic`` of the policy on ``mdp`` with horizon cap ``horizon``.

    method: "recursion" (any horizon) or "enumeration" (small problems; a cross-check).
    """
    pi, psi = score_tables(mdp, policy, params, obs)
    S = mdp.n_states
    T = check_positive_int("horizon", horizon)
    if method == "recursion":
        H, v = _recursive_blocks(mdp, pi, psi, T)
        rtg = recursive_moments(mdp, policy, params, RewardToGo(), T, obs, trace_only=True)
        mean, second = rtg.mean, rtg.second_trace
    elif method == "enumeration":
        M, mean = _enumerated_blocks(mdp, pi, psi.reshape(S * pi.shape[1], -1), T, max_bytes)
        H, v, second = M[:S, :S], M[:S, S].copy(), float(M[S, S])
    else:
        raise ValueError(f"method must be 'recursion' or 'enumeration'; got {method!r}")
    return BaselineQuadratic(0.5 * (H + H.T), v, float(second), mean, T)


@numpy_boundary
def optimal_baseline(mdp, policy, params, horizon: int, obs=None) -> np.ndarray:
    """b* [S]: the state baseline that minimises tr Cov of the baseline estimator (exact)."""
    return baseline_quadratic(mdp, policy, params, horizon, obs).optimal()


@numpy_boundary
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
