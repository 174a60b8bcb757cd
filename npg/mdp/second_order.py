"""The exact Hessian of J(theta) on a finite MDP: a tabular closed form and the general path.

Notation: pi [S, A], Q, A [S, A], V [S], d [S] (unnormalised discounted visitation) of
``npg.mdp.exact``; M = (I - gamma P_NN)^{-1} on the non-terminal states (0 elsewhere) [S, S];
K[(s, a), x] = gamma sum_y P(y|s, a) M(y, x) [S*A, S]; Sigma_s = diag(pi_s) - pi_s pi_s^T.

**Tabular softmax closed form** (theta = logits z [S, A], flattened s-major). Differentiating
dJ/dpi(a|s) = d(s) Q(s, a) once more through dd(s)/dpi(b|x) = d(x) K[(x, b), s] and
dQ(s, a)/dpi(b|x) = K[(s, a), x] Q(x, b) gives the policy-space Hessian

    d^2 J / dpi(a|s) dpi(b|x) = d(x) K[(x, b), s] Q(s, a) + d(s) K[(s, a), x] Q(x, b)

and the chain rule through pi_s = softmax(z_s) (dpi_s/dz_s = Sigma_s, and
sum_a Q(s,a) d^2 pi(a|s)/dz_s^2 = diag(pi A) - (pi A) pi^T - pi (pi A)^T with (pi A)_a =
pi(a|s) A(s, a)) gives

    H = U + U^T + blockdiag_s d(s) [diag(pi_s A_s) - (pi_s A_s) pi_s^T - pi_s (pi_s A_s)^T]
    U[(s, c), (x, e)] = pi(c|s) A(s, c) d(x) Ktilde[(x, e), s]
    Ktilde[(x, e), s] = pi(e|x) (K[(x, e), s] - sum_b pi(b|x) K[(x, b), s])

(cf. the second-order analysis of Mei et al. 2020, Lemma 2, and Agarwal et al. 2021, Lemma D.4,
which bound ||H||_2 <= 8 r_max / (1 - gamma)^3; ``softmax_smoothness_bound``). For any other
policy the chain rule through the logits gives H = Jz^T H_z Jz + sum_{s,a} g(s,a) d^2 z(s,a)
with g = d pi A (``method="logits"``, ``npg.mdp.logit_curvature``).

**General path** (``method="pgt"``, every categorical policy): differentiate the policy gradient
theorem grad J = sum_{s,a} w(s, a) psi(s, a), w = d pi Q, psi = grad log pi (scores [S*A, P]),
along every coordinate direction at once:

    D pi(a|s)  = pi(a|s) psi(s, a)                                     [S*A, P]
    D V        = M sum_a D pi(a|.) Q(., a)                             [S, P]
    D Q        = gamma P D V                                           [S*A, P]
    D d        = gamma M^T sum_{s,a} d(s) D pi(a|s) P(.|s, a)          [S, P]
    D w        = D d pi Q + d D pi Q + d pi D Q                        [S*A, P]
    H = psi^T D w + sum_{s,a} w(s,a) grad^2 log pi(a|s)
      = psi^T D w - Jz^T blockdiag_s(d(s) V(s) Sigma_s) Jz + N(d pi A)

where grad^2 log pi(a|s) = -Jz_s^T Sigma_s Jz_s + sum_b (1[a=b] - pi(b|s)) grad^2 z(s, b) and N is
``weighted_logit_hessian``. psi^T D w alone is not symmetric; the sum is (tested).

Eigenvalues, the smoothness constant ||H||_2 and the curvature along an optimisation path are
below. A non-finite Hessian raises ValueError (never a silent NaN).

Array module: the MDP's (``FiniteMDP.xp``): M, K, the tabular Hessian and the PGT terms are
array-API code on that module. The logits' Jacobian and curvature (``npg.mdp.logit_curvature``,
NumPy code: the R-operator's einsums) are computed in NumPy and converted once per call to the
MDP's module; for the tabular and linear policies the curvature term is exactly zero.
``curvature_along_path`` returns host (NumPy) summaries.
"""

from __future__ import annotations

import numpy as np

from ..backend import create, namespace_of, to_numpy
from ..params import flatten
from .exact import check_policy_matrix, evaluate, visitation
from .finite import FiniteMDP
from .exact import _live_block, _p_pi
from .gradient import _check_policy, _obs, _scores64, mdp_policy_matrix
from .logit_curvature import logit_jacobian, logit_layers, weighted_logit_hessian

__all__ = ["resolvent", "tabular_softmax_hessian", "hessian", "hessian_eigenvalues",
           "smoothness", "softmax_smoothness_bound", "curvature_along_path"]


def resolvent(mdp: FiniteMDP, pi) -> np.ndarray:
    """M = (I - gamma P_NN)^{-1} on the non-terminal states, 0 on terminal rows/columns [S, S].

    Row s is the discounted visitation from s: d = M^T mu0, V = M r_pi. gamma = 1 with a policy
    that never terminates: ValueError (as ``npg.mdp.evaluate``).
    """
    pi = check_policy_matrix(mdp, pi)
    evaluate(mdp, pi)                                   # the singular case's typed error
    xp = mdp.xp
    idx, P_NN = _live_block(mdp, _p_pi(mdp, pi))
    inv = xp.linalg.inv(_to_mdp(mdp, np.eye(P_NN.shape[0])) - mdp.gamma * P_NN)
    if idx is None:
        return inv
    # embed into [S, S] as E^T inv E with the one-hot rows E [N, S] of the live states: each
    # entry is one product by 1 plus exact zeros, so the embedding adds no rounding
    E = xp.astype(xp.take(create(xp, "eye", mdp.n_states, dtype=xp.bool, device=mdp.device),
                          idx, axis=0), xp.float64)
    return E.T @ inv @ E


def _to_mdp(mdp: FiniteMDP, x):
    """A NumPy array as float64 on the MDP's module and device (one conversion; NumPy: as is)."""
    if mdp.xp is np:
        return np.asarray(x, dtype=np.float64)
    return create(mdp.xp, "asarray", np.asarray(x, dtype=np.float64), device=mdp.device)


def _check_finite_hessian(H):
    xp = namespace_of(H) or np
    if not bool(xp.all(xp.isfinite(H))):
        raise ValueError("the Hessian of J is not finite (NaN or inf): the values or the "
                         "policy's parameters overflowed; check the parameters' scale")
    return H


def tabular_softmax_hessian(mdp: FiniteMDP, pi):
    """d^2 J / dtheta^2 of the tabular softmax at logits with policy pi, ``[S*A, S*A]``."""
    pi = check_policy_matrix(mdp, pi)
    xp, (S, A) = mdp.xp, pi.shape
    _, Q, Adv = evaluate(mdp, pi)
    d = visitation(mdp, pi)
    K = mdp.gamma * (xp.reshape(mdp.P, (S * A, S)) @ resolvent(mdp, pi))   # [S*A, S]
    K3 = xp.reshape(K, (S, A, S))
    Kt = pi[:, :, None] * (K3 - xp.sum(pi[:, :, None] * K3, axis=1)[:, None, :])
    W = xp.reshape(d[:, None, None] * Kt, (S * A, S))                      # d(x) Kt[(x,e), s]
    pa = xp.reshape(pi * Adv, (-1,))                                       # pi(c|s) A(s, c)
    U = pa[:, None] * xp.repeat(W.T, A, axis=0)                           # [S*A, S*A]
    pA = pi * Adv
    eye_A = _to_mdp(mdp, np.eye(A))
    blocks = d[:, None, None] * (pA[:, :, None] * eye_A - pA[:, :, None] * pi[:, None, :]
                                 - pi[:, :, None] * pA[:, None, :])       # [S, A, A]
    same = create(xp, "eye", S, dtype=xp.bool, device=mdp.device)[:, None, :, None]
    diag = xp.reshape(xp.where(same, blocks[:, :, None, :], 0.0), (S * A, S * A))
    return _check_finite_hessian(U + U.T + diag)


def _softmax_curvature(pi, Jz, weight):
    """sum_s weight(s) Jz_s^T Sigma_s Jz_s, [P, P]."""
    xp, (S, A) = namespace_of(pi), pi.shape
    Y = xp.reshape(Jz, (S, A, -1))
    SY = pi[:, :, None] * (Y - xp.sum(pi[:, :, None] * Y, axis=1)[:, None, :])
    return xp.reshape(Y, (S * A, -1)).T @ xp.reshape(weight[:, None, None] * SY, (S * A, -1))


def _pgt_hessian(mdp, policy, params, obs, pi):
    xp, (S, A) = mdp.xp, pi.shape
    _, Q, Adv = evaluate(mdp, pi)
    V = xp.sum(pi * Q, axis=1)
    d = visitation(mdp, pi)
    M = resolvent(mdp, pi)
    psi = _scores64(mdp, policy, params, obs)                               # [S*A, P]
    Pf = xp.reshape(mdp.P, (S * A, S))
    d_rep, pi_f, Q_f = xp.repeat(d, A), xp.reshape(pi, (-1,)), xp.reshape(Q, (-1,))
    Dpi = pi_f[:, None] * psi                                               # [S*A, P]
    DV = M @ xp.sum(xp.reshape(Dpi * Q_f[:, None], (S, A, -1)), axis=1)     # [S, P]
    live = xp.repeat(mdp.nonterminal, A)[:, None]
    DQ = xp.where(live, mdp.gamma * (Pf @ DV), 0.0)
    Dd = mdp.gamma * (M.T @ (Pf.T @ (d_rep[:, None] * Dpi)))              # [S, P]
    Dw = (xp.repeat(Dd, A, axis=0) * (pi_f * Q_f)[:, None] + d_rep[:, None] * Dpi * Q_f[:, None]
          + (d_rep * pi_f)[:, None] * DQ)
    Jz = _to_mdp(mdp, logit_jacobian(policy, params, obs))
    H = psi.T @ Dw - _softmax_curvature(pi, Jz, d * V)
    c = to_numpy(d[:, None] * pi * Adv)
    return H + _to_mdp(mdp, weighted_logit_hessian(policy, params, obs, c))


def _logits_hessian(mdp, policy, params, obs, pi):
    _, _, Adv = evaluate(mdp, pi)
    d = visitation(mdp, pi)
    Jz = _to_mdp(mdp, logit_jacobian(policy, params, obs))
    Hz = tabular_softmax_hessian(mdp, pi)
    c = to_numpy(d[:, None] * pi * Adv)
    return Jz.T @ Hz @ Jz + _to_mdp(mdp, weighted_logit_hessian(policy, params, obs, c))


def hessian(mdp: FiniteMDP, policy, params, obs=None, method: str = "pgt"):
    """d^2 J / dtheta^2, float64 ``[P, P]`` in flatten(params) order on the MDP's module,
    symmetrised.

    method "pgt": the policy gradient theorem differentiated (module docstring); "logits": the
    tabular closed form pulled back through the logits' Jacobian plus the logits' curvature.
    Policies: tabular, linear softmax, MLP categorical, shared actor-critic.
    ValueError when the result is not finite.
    """
    _check_policy(mdp, policy)
    logit_layers(policy)                   # TypeError for a class without exact 2nd derivatives
    if method not in ("pgt", "logits"):
        raise ValueError(f"method must be 'pgt' or 'logits'; got {method!r}")
    obs = _obs(mdp, policy, params, obs)
    pi = mdp_policy_matrix(mdp, policy, params, obs)
    H = (_pgt_hessian if method == "pgt" else _logits_hessian)(mdp, policy, params, obs, pi)
    H = _check_finite_hessian(H)
    return 0.5 * (H + H.T)


def hessian_eigenvalues(H) -> np.ndarray:
    """Eigenvalues of the symmetric Hessian H [P, P], ascending (``np.linalg.eigvalsh``); NumPy
    float64 (H from any module is converted once: a spectrum is a host summary)."""
    H = np.asarray(to_numpy(H), dtype=np.float64)
    if H.ndim != 2 or H.shape[0] != H.shape[1]:
        raise ValueError(f"H must be a square matrix [P, P]; got shape {H.shape}")
    _check_finite_hessian(H)
    if not np.allclose(H, H.T, rtol=1e-8, atol=1e-12 * max(1.0, float(np.abs(H).max()))):
        raise ValueError("H must be symmetric (a Hessian); got an asymmetric matrix")
    return np.linalg.eigvalsh(0.5 * (H + H.T))


def smoothness(H) -> float:
    """||H||_2 = max |eigenvalue|: the local smoothness constant of J at this theta."""
    ev = hessian_eigenvalues(H)
    return float(max(abs(ev[0]), abs(ev[-1])))


def softmax_smoothness_bound(mdp: FiniteMDP) -> float:
    """8 r_max / (1 - gamma)^3 with r_max = max |R| (Mei et al. 2020, Lemma 2; Agarwal et al.
    2021, Lemma D.4: J of the tabular softmax is this smooth for |r| <= r_max); inf at gamma = 1.
    """
    if mdp.gamma >= 1.0:
        return float("inf")
    return 8.0 * float(np.max(np.abs(mdp.R))) / (1.0 - mdp.gamma) ** 3


def curvature_along_path(mdp: FiniteMDP, policy, path, obs=None) -> dict:
    """Second-order quantities at each point theta_k of an optimisation path (a list of params).

    Returns NumPy arrays [K]: "smoothness" ||H(theta_k)||_2, "max_eig" and "min_eig" of
    H(theta_k), and "step_curvature" u^T H(theta_k) u / ||u||^2 along u = theta_{k+1} - theta_k
    (NaN at the last point and for zero steps); "smoothness_max" is the largest ||H||_2 seen.
    """
    path = list(path)
    if not path:
        raise ValueError("path must hold at least one params dict")
    out = {k: np.full(len(path), np.nan) for k in ("smoothness", "max_eig", "min_eig",
                                                      "step_curvature")}
    for k, params in enumerate(path):
        H = np.asarray(to_numpy(hessian(mdp, policy, params, obs)), dtype=np.float64)
        ev = hessian_eigenvalues(H)
        out["smoothness"][k] = max(abs(ev[0]), abs(ev[-1]))
        out["max_eig"][k], out["min_eig"][k] = ev[-1], ev[0]
        if k + 1 < len(path):
            u = (np.asarray(to_numpy(flatten(path[k + 1])), np.float64)
                 - np.asarray(to_numpy(flatten(params)), np.float64))
            nu = float(u @ u)
            if nu > 0:
                out["step_curvature"][k] = float(u @ H @ u) / nu
    out["smoothness_max"] = float(np.max(out["smoothness"]))
    return out
