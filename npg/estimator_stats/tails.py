"""Every estimator of ``npg.estimators`` as a linear recursion over the tail of a trajectory.

The second-moment recursion (``recursion.py``) needs each estimator written backwards in time.
All of npg's estimators fit one form. Along a trajectory, with the transition tr_t =
(s_t, a_t, s_{t+1}) and psi_t = grad log pi(a_t | s_t) [P], define tail variables

    z_t = b(tr_t) + K(tr_t) z_{t+1}                                      scalars [k]
    Y_t = (alpha(tr_t) + kappa(tr_t) z_{t+1}) psi_t + H(tr_t) Y_{t+1}    q vectors [q, P]

with z = z_end and Y = 0 after the episode's end (a terminal s_{t+1}, or t = T - 1 at the cap).
The estimate is g = Y_0[out]. The tables, per estimator (r = R(s,a), delta = r + gamma (1 -
terminal(s')) V(s') - V(s), rho = pi(a|s) / beta(a|s)):

| estimator            | z (k)        | b, K                         | Y blocks: alpha, kappa, H        |
|----------------------|--------------|------------------------------|----------------------------------|
| RewardToGo           | G            | r, gamma                     | r, gamma, eta (gamma or 1)       |
| Baseline(b)          | G            | r, gamma                     | r - b(s), gamma, gamma           |
| ExactQ / ExactA      | (0)          | 0, 0                         | Q(s,a) (A(s,a)), 0, gamma        |
| TD(V)                | (0)          | 0, 0                         | delta, 0, gamma                  |
| GAE(V, lam)          | L            | delta, gamma lam             | delta, gamma lam, gamma          |
| IS per-decision      | L            | rho r, gamma rho             | rho r, gamma rho, gamma rho      |
| IS whole trajectory  | (C, D), end (1, 0) | 0, [[rho, 0], [rho r, gamma rho]] | 0, (rho r, gamma rho), gamma rho |
| WholeReturn          | G            | r, gamma                     | Psi: 1, 0, [1 0]; Y: r, gamma, [r gamma] |

Derivations. Reward-to-go: Y_t = sum_{j>=t} eta^{j-t} G_j psi_j, G_t = r_t + gamma G_{t+1}.
GAE: A_t = delta_t + gamma lam A_{t+1}. IS per-decision: with c_k = rho_0..rho_k the weight is
gamma^t c_{t-1} L_t, L_t = sum_{k>=t} gamma^{k-t} (c_k / c_{t-1}) r_k = rho_t (r_t + gamma
L_{t+1}), and Y_t = L_t psi_t + gamma rho_t Y_{t+1}. IS whole trajectory: C_t = prod_{j>=t}
rho_j (1 after the end), D_t = C_t G_t = rho_t (r_t C_{t+1} + gamma D_{t+1}), Y_t = C_t
sum_{j>=t} gamma^{j-t} G_j psi_j = rho_t (r_t C_{t+1} + gamma D_{t+1}) psi_t + gamma rho_t
Y_{t+1}. Whole return: Psi_t = sum_{j>=t} psi_j and Y_t = G_t Psi_t = (r_t + gamma G_{t+1}) psi_t
+ r_t Psi_{t+1} + gamma Y_{t+1}. Every table is [S, A, S', ...]; ``sampling`` is the policy the
trajectories follow (beta for IS, else pi).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import estimators as E
from ..backend import to_numpy
from ..mdp.host import numpy_boundary
from .enumeration import sampling_policy

__all__ = ["TailForm", "tail_form"]


@dataclass(frozen=True, eq=False)
class TailForm:
    """The tables of the tail recursion (module docstring); shapes with S, A, S' = S states."""

    b: np.ndarray         # [S, A, S, k]
    K: np.ndarray         # [S, A, S, k, k]
    alpha: np.ndarray     # [S, A, S, q]
    kappa: np.ndarray     # [S, A, S, q, k]
    H: np.ndarray         # [S, A, S, q, q]
    z_end: np.ndarray     # [k]
    out: int              # the block that is the estimate g
    sampling: np.ndarray  # [S, A], the policy trajectories follow


def _table(name, x, shape):
    a = np.asarray(to_numpy(x), dtype=np.float64)      # tables from any module: one conversion
    if a.shape != shape:
        raise ValueError(f"{name} must have shape {list(shape)}; got {list(a.shape)}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be finite; it contains NaN or inf")
    return a


def _sat(x, S, A):
    """Broadcast a per-(s), per-(s, a) or per-(s, a, s') table to [S, A, S]."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None, None]
    elif x.ndim == 2:
        x = x[:, :, None]
    return np.broadcast_to(x, (S, A, S)).copy()


def _delta(mdp, V, gamma):
    """delta(s, a, s') = R(s, a) + gamma (1 - terminal(s')) V(s') - V(s)  [S, A, S]."""
    live = (~np.asarray(mdp.terminal)).astype(np.float64)
    return (np.asarray(mdp.R)[:, :, None] + gamma * (live * V)[None, None, :]
            - V[:, None, None])


def _single(S, A, b, K, alpha, kappa, H, sampling, z_end=(0.0,)):
    """One z scalar and one Y block (k = q = 1), from [S, A, S] tables."""
    ex = (lambda x: _sat(x, S, A)[..., None])
    return TailForm(ex(b), ex(K)[..., None], ex(alpha), ex(kappa)[..., None], ex(H)[..., None],
                    np.asarray(z_end, dtype=np.float64), 0, sampling)


@numpy_boundary
def tail_form(estimator, mdp, pi: np.ndarray) -> TailForm:
    """The ``TailForm`` of an ``npg.estimators`` estimator (TypeError for any other kind)."""
    S, A = pi.shape
    g, R = float(mdp.gamma), np.asarray(mdp.R)
    if isinstance(estimator, E.RewardToGo):
        eta = g if estimator.discount_weight else 1.0
        return _single(S, A, R, g, R, g, eta, pi)
    if isinstance(estimator, E.Baseline):
        base = _table("values", estimator.values, (S,))
        return _single(S, A, R, g, R - base[:, None], g, g, pi)
    if isinstance(estimator, E.ExactQ):                  # ExactA is a subclass with its A table
        return _single(S, A, 0.0, 0.0, _table("q", estimator.q, (S, A)), 0.0, g, pi)
    if isinstance(estimator, E.TD):
        d = _delta(mdp, _table("values", estimator.values, (S,)), g)
        return _single(S, A, 0.0, 0.0, d, 0.0, g, pi)
    if isinstance(estimator, E.GAE):
        lam = float(estimator.lam)
        if not 0.0 <= lam <= 1.0:
            raise ValueError(f"lam must lie in [0, 1]; got {lam}")
        d = _delta(mdp, _table("values", estimator.values, (S,)), g)
        return _single(S, A, d, g * lam, d, g * lam, g, pi)
    if isinstance(estimator, E.ImportanceSampled):
        beta = sampling_policy(estimator, pi)
        rho = np.where(beta > 0, pi / np.where(beta > 0, beta, 1.0), 0.0)
        if estimator.per_decision:
            return _single(S, A, rho * R, g * rho, rho * R, g * rho, g * rho, beta)
        return _is_whole(S, A, rho, R, g, beta)
    if isinstance(estimator, E.WholeReturn):
        return _whole_return(S, A, R, g, pi)
    raise TypeError(f"no second-moment recursion is known for {type(estimator).__name__}; "
                    f"use method='enumeration'")


def _is_whole(S, A, rho, R, g, beta) -> TailForm:
    rho3, r3 = _sat(rho, S, A), _sat(R, S, A)
    K = np.zeros((S, A, S, 2, 2))
    K[..., 0, 0] = rho3
    K[..., 1, 0] = rho3 * r3
    K[..., 1, 1] = g * rho3
    kappa = np.stack([rho3 * r3, g * rho3], axis=-1)[..., None, :]
    return TailForm(np.zeros((S, A, S, 2)), K, np.zeros((S, A, S, 1)), kappa,
                    (g * rho3)[..., None, None], np.array([1.0, 0.0]), 0, beta)


def _whole_return(S, A, R, g, pi) -> TailForm:
    r3 = _sat(R, S, A)
    alpha = np.stack([np.ones_like(r3), r3], axis=-1)
    kappa = np.zeros((S, A, S, 2, 1))
    kappa[..., 1, 0] = g
    H = np.zeros((S, A, S, 2, 2))
    H[..., 0, 0] = 1.0
    H[..., 1, 0] = r3
    H[..., 1, 1] = g
    return TailForm(r3[..., None], np.full((S, A, S, 1, 1), g), alpha, kappa, H,
                    np.zeros(1), 1, pi)
