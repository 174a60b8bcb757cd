"""True versus empirical Fisher matrices, and the compatible-features identity, exactly.

Scores psi(s, a) = grad_theta log pi(a|s) [P]; dbar = d / sum d the normalised visitation.

* True Fisher (Amari 1998; Kakade 2001): actions from the model itself,
      F = sum_s dbar(s) sum_a pi(a|s) psi psi^T                                       [P, P]
  (``npg.mdp.fisher(normalized=True)``). Its Monte Carlo estimate from (s, a) drawn by the
  policy, (1/B) sum_b psi_b psi_b^T (``sampled_fisher``), is unbiased for it.
* Empirical Fisher (Kunstner, Balles & Hennig 2019, "Limitations of the empirical Fisher
  approximation for natural gradient descent"): actions from data, here a behaviour policy beta,
      EF(beta) = sum_s dbar(s) sum_a beta(a|s) psi psi^T                               [P, P]
  equal to F only when beta = pi; and the gradient-outer-product form that adaptive methods use,
      G = sum_s dbar(s) sum_a pi(a|s) w(s, a)^2 psi psi^T,   w = Q or A                [P, P]
  the second moment of the per-sample estimator psi w, whose preconditioned step G^+ grad J is
  not the natural gradient (Kunstner et al.'s point, here with an exact yardstick).
* Compatible features (Sutton, McAllester, Singh & Mansour 2000, Thm 2; Kakade 2001): with
  features psi(s, a) (for a linear softmax policy psi = phi(s, a) - sum_b pi(b|s) phi(s, b),
  "phi - E phi"), the critic
      w* = argmin_w sum_s d(s) sum_a pi(a|s) (Q(s, a) - psi(s, a) . w)^2
  satisfies the normal equations F_d w* = sum d pi psi Q = grad J (F_d the Fisher weighted by the
  unnormalised d), so grad J = F_d w* exactly and the min-norm w* is the natural gradient
  F_d^+ grad J. Replacing Q by A gives the same w* (sum_a pi psi V = 0).
"""

from __future__ import annotations

import numpy as np

from ..backend import to_numpy
from ..policies import LinearSoftmaxPolicy
from .exact import check_policy_matrix, evaluate, visitation
from .finite import FiniteMDP
from .gradient import _check_policy, _obs, policy_matrix, state_action_pairs
from .host import numpy_boundary

__all__ = ["score_matrix", "sampled_fisher", "empirical_fisher", "gradient_second_moment",
           "compatible_features", "compatible_critic", "cosine"]


def score_matrix(policy, params, obs, n_actions: int) -> np.ndarray:
    """psi(s, a) for every pair, NumPy float64 ``[S, A, P]``."""
    obs_pairs, act = state_action_pairs(obs, n_actions)
    G = np.asarray(to_numpy(policy.scores(params, obs_pairs, act)), dtype=np.float64)
    return G.reshape(int(obs.shape[0]), n_actions, -1)


def _weighted_outer(psi: np.ndarray, w: np.ndarray) -> np.ndarray:
    """sum_{s,a} w(s, a) psi(s, a) psi(s, a)^T, [P, P]."""
    G = psi.reshape(-1, psi.shape[-1])
    return G.T @ (w.reshape(-1)[:, None] * G)


def sampled_fisher(policy, params, obs, act) -> np.ndarray:
    """(1/B) sum_b psi(s_b, a_b) psi(s_b, a_b)^T from a batch obs [B, ...], act int [B]."""
    G = np.asarray(to_numpy(policy.scores(params, obs, act)), dtype=np.float64)
    if G.shape[0] == 0:
        raise ValueError("obs and act must hold at least one sample")
    return G.T @ G / G.shape[0]


def _setup(mdp, policy, params, obs):
    _check_policy(mdp, policy)
    obs = _obs(mdp, policy, params, obs)
    pi = check_policy_matrix(mdp, policy_matrix(policy, params, obs))
    return obs, pi, score_matrix(policy, params, obs, mdp.n_actions)


@numpy_boundary
def empirical_fisher(mdp: FiniteMDP, policy, params, behaviour=None, obs=None) -> np.ndarray:
    """EF(beta) = sum_s dbar(s) sum_a beta(a|s) psi psi^T, [P, P]; beta defaults to pi (then F).

    dbar is the policy's own normalised visitation (the states are the model's; the actions are
    the data's).
    """
    obs, pi, psi = _setup(mdp, policy, params, obs)
    beta = pi if behaviour is None else check_policy_matrix(mdp, behaviour)
    d = visitation(mdp, pi, normalized=True)
    return _weighted_outer(psi, d[:, None] * beta)


@numpy_boundary
def gradient_second_moment(mdp: FiniteMDP, policy, params, weight: str = "Q",
                           obs=None) -> np.ndarray:
    """G = sum_s dbar(s) sum_a pi(a|s) w(s, a)^2 psi psi^T with w = Q or A, [P, P]."""
    if weight not in ("Q", "A"):
        raise ValueError(f"weight must be 'Q' or 'A'; got {weight!r}")
    obs, pi, psi = _setup(mdp, policy, params, obs)
    _, Q, A = evaluate(mdp, pi)
    w = Q if weight == "Q" else A
    d = visitation(mdp, pi, normalized=True)
    return _weighted_outer(psi, d[:, None] * pi * w ** 2)


def compatible_features(policy, params, obs) -> np.ndarray:
    """phi(s, a) - sum_b pi(b|s) phi(s, b) for a ``LinearSoftmaxPolicy``, ``[S, A, P]``.

    State features phi(s) [S, D] enter as onehot(a) (x) phi(s) (theta [D, A] flattened
    row-major: index d * A + a); state-action features phi(s, a) [S, A, D] directly.
    """
    if not isinstance(policy, LinearSoftmaxPolicy):
        raise TypeError(f"policy must be a LinearSoftmaxPolicy (features phi); got "
                        f"{type(policy).__name__}; use score_matrix for other policies")
    theta = params["theta"]
    phi = np.asarray(to_numpy(policy.features(obs, theta.dtype)), dtype=np.float64)
    pi = np.asarray(to_numpy(policy.probs(params, obs)), dtype=np.float64)
    S, A = pi.shape
    if not policy.features.state_action:
        phi = np.einsum("ab,sd->sadb", np.eye(A), phi).reshape(S, A, -1)
    return phi - np.einsum("sb,sbp->sp", pi, phi)[:, None, :]


@numpy_boundary
def compatible_critic(mdp: FiniteMDP, policy, params, target: str = "Q", obs=None,
                      rcond: float = 1e-10) -> np.ndarray:
    """w* = argmin_w sum_s d(s) sum_a pi(a|s) (target(s, a) - psi(s, a) . w)^2 (min norm), [P].

    Solved as weighted least squares on sqrt(d pi) psi (``np.linalg.lstsq``), target Q or A.
    Identities (tested): F_d w* = grad J; w* = ``npg.mdp.natural_gradient``.
    """
    if target not in ("Q", "A"):
        raise ValueError(f"target must be 'Q' or 'A'; got {target!r}")
    obs, pi, psi = _setup(mdp, policy, params, obs)
    _, Q, A = evaluate(mdp, pi)
    y = (Q if target == "Q" else A).reshape(-1)
    root = np.sqrt(visitation(mdp, pi)[:, None] * pi).reshape(-1)
    X = root[:, None] * psi.reshape(-1, psi.shape[-1])
    return np.linalg.lstsq(X, root * y, rcond=rcond)[0]


def cosine(u, v) -> float:
    """u . v / (|u| |v|) (0 when either is zero): how far two preconditioned steps agree."""
    u, v = np.ravel(np.asarray(u, dtype=np.float64)), np.ravel(np.asarray(v, dtype=np.float64))
    n = float(np.linalg.norm(u) * np.linalg.norm(v))
    return float(u @ v) / n if n > 0 else 0.0

