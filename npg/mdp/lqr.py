"""Linear-quadratic regulation: an exact oracle for policy gradients on continuous states.

The system, the policy and the cost (Fazel, Ge, Kakade & Mesbahi, 2018, "Global convergence of
policy gradient methods for the linear quadratic regulator", ICML; discount and noise added):

    x_{t+1} = A x_t + B u_t + w_t,     w_t ~ N(0, W),  x_0 ~ N(0, Sigma0)
    u_t     = -K x_t + sigma * eps_t,  eps_t ~ N(0, I_m), sigma = diag(sigma_1..sigma_m)
    C(K)    = E[ sum_t gamma^t (x_t' Q x_t + u_t' R u_t) ]

| symbol  | shape  | meaning                                                         |
|---------|--------|-----------------------------------------------------------------|
| A       | [n, n] | dynamics                                                        |
| B       | [n, m] | input matrix                                                    |
| Q, R    | [n, n], [m, m] | state and input cost, symmetric positive definite       |
| Sigma0  | [n, n] | E[x_0 x_0'], symmetric positive semi-definite                   |
| W       | [n, n] | process-noise covariance, symmetric PSD (default 0)             |
| K       | [m, n] | the gain, u = -K x + sigma eps                                  |
| sigma   | [m]    | exploration noise standard deviations (default 0)               |

With A_K = A - B K and the per-step injected covariance N = B diag(sigma^2) B' + W:

    P_K     = Q + K' R K + gamma A_K' P_K A_K          (value matrix: V(x) = x' P_K x + c_K)
    Y       = Sigma0 + gamma / (1 - gamma) N            (effective start covariance; Y = Sigma0
                                                         when N = 0, which allows gamma = 1)
    Sigma_K = Y + gamma A_K Sigma_K A_K'                 (= sum_t gamma^t E[x_t x_t'])
    C(K)    = tr(P_K Y) + sum_i sigma_i^2 R_ii / (1 - gamma)
    c_K     = (gamma tr(P_K N) + sum_i sigma_i^2 R_ii) / (1 - gamma)

Gradient (Fazel et al. 2018, Lemma 1, with the discount: A -> sqrt(gamma) A, B -> sqrt(gamma) B):

    E_K         = (R + gamma B' P_K B) K - gamma B' P_K A                                 [m, n]
    grad_K C    = 2 E_K Sigma_K
    d C / d log sigma_i = 2 sigma_i^2 (gamma (B' P_K B)_ii + R_ii) / (1 - gamma)

(derivation: dP_K solves the same Lyapunov equation with source dK' E_K + E_K' dK, so
d tr(P_K Y) = 2 tr(dK' E_K Sigma_K); N and the sigma term do not depend on K). The natural-gradient
direction is grad C Sigma_K^{-1} = 2 E_K and the Gauss-Newton direction is
(R + gamma B' P_K B)^{-1} grad C Sigma_K^{-1}; a Gauss-Newton step of 1/2 is policy iteration
(Hewer, 1971). The cost is finite iff rho(sqrt(gamma) A_K) < 1 (and gamma < 1 when N != 0);
otherwise ``UnstableGainError`` names the spectral radius. Lyapunov equations are solved in NumPy
(``solve_lyapunov``); the Riccati optimum by the structure-preserving doubling algorithm (Chu,
Fan & Lin, 2005) refined by Newton (Hewer) steps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..checks import check_positive_int, check_unit_interval

__all__ = ["LQR", "UnstableGainError", "solve_lyapunov", "spectral_radius", "check_stable",
           "value_matrix", "state_covariance", "cost", "gradient", "log_std_gradient",
           "natural_gradient", "gauss_newton_direction", "riccati", "value_constant",
           "as_sigma"]

SYM_TOL = 1e-10   # relative asymmetry allowed in Q, R, Sigma0, W


class UnstableGainError(ValueError):
    """K does not stabilise the (discounted) system: the cost is infinite."""


def _matrix(name: str, x, shape: tuple | None = None, square: bool = False) -> np.ndarray:
    try:
        a = np.array(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a real matrix; got {type(x).__name__}") from None
    if a.ndim != 2:
        raise ValueError(f"{name} must be a matrix (2-d); got shape {a.shape}")
    if square and a.shape[0] != a.shape[1]:
        raise ValueError(f"{name} must be square; got shape {a.shape}")
    if shape is not None and a.shape != shape:
        raise ValueError(f"{name} must have shape {list(shape)}; got {list(a.shape)}")
    if a.size == 0:
        raise ValueError(f"{name} must be non-empty; got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be finite; it contains NaN or inf")
    return a


def _symmetric(name: str, a: np.ndarray, definite: bool) -> np.ndarray:
    scale = max(1.0, float(np.max(np.abs(a))))
    if np.max(np.abs(a - a.T)) > SYM_TOL * scale:
        raise ValueError(f"{name} must be symmetric; max |{name} - {name}'| = "
                         f"{np.max(np.abs(a - a.T)):.3g}")
    a = 0.5 * (a + a.T)
    low = float(np.linalg.eigvalsh(a)[0])
    if definite and not low > 0.0:
        raise ValueError(f"{name} must be positive definite; its smallest eigenvalue is {low:.3g}")
    if not definite and low < -SYM_TOL * scale:
        raise ValueError(f"{name} must be positive semi-definite; its smallest eigenvalue is "
                         f"{low:.3g}")
    a.setflags(write=False)
    return a


@dataclass(frozen=True, eq=False)
class LQR:
    """A discounted linear-quadratic problem (module docstring); validated, stored read-only.

    Raises ValueError/TypeError naming the argument: A not square, B with a row count other than
    n, Q not [n, n], R not [m, m], Q or R not symmetric positive definite, Sigma0 or W not
    symmetric PSD [n, n], NaN/inf, gamma outside [0, 1].
    """

    A: np.ndarray
    B: np.ndarray
    Q: np.ndarray
    R: np.ndarray
    Sigma0: np.ndarray | None = None
    gamma: float = 1.0
    W: np.ndarray | None = None

    def __post_init__(self):
        A = _matrix("A", self.A, square=True)
        n = A.shape[0]
        B = _matrix("B", self.B)
        if B.shape[0] != n:
            raise ValueError(f"B must have n = {n} rows to match A [{n}, {n}]; got {B.shape}")
        m = B.shape[1]
        Q = _symmetric("Q", _matrix("Q", self.Q, (n, n)), definite=True)
        R = _symmetric("R", _matrix("R", self.R, (m, m)), definite=True)
        S0 = np.eye(n) if self.Sigma0 is None else _matrix("Sigma0", self.Sigma0, (n, n))
        W = np.zeros((n, n)) if self.W is None else _matrix("W", self.W, (n, n))
        for name, value in (("A", A), ("B", B)):
            value.setflags(write=False)
            object.__setattr__(self, name, value)
        object.__setattr__(self, "Q", Q)
        object.__setattr__(self, "R", R)
        object.__setattr__(self, "Sigma0", _symmetric("Sigma0", S0, definite=False))
        object.__setattr__(self, "W", _symmetric("W", W, definite=False))
        object.__setattr__(self, "gamma", check_unit_interval("gamma", self.gamma))

    @property
    def n(self) -> int:
        """State dimension."""
        return int(self.A.shape[0])

    @property
    def m(self) -> int:
        """Input dimension."""
        return int(self.B.shape[1])

    def __repr__(self):
        return f"LQR(n={self.n}, m={self.m}, gamma={self.gamma})"


# ----------------------------------------------------------------------------------------------
# Linear algebra

def spectral_radius(M) -> float:
    """rho(M) = max |eigenvalue of M|."""
    return float(np.max(np.abs(np.linalg.eigvals(np.asarray(M, dtype=np.float64)))))


def solve_lyapunov(F, Y, kron_max: int = 32) -> np.ndarray:
    """X = sum_k F^k Y F'^k, the solution of X = Y + F X F' (rho(F) < 1 required).

    n <= ``kron_max``: one linear solve (I - F (x) F) vec X = vec Y (Kronecker form, row-major
    vec); larger n: Smith's doubling X <- X + F_k X F_k', F_k <- F_k^2 until F_k vanishes. The
    result is symmetrised when Y is symmetric. ValueError when rho(F) >= 1.
    """
    F = np.asarray(F, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    rho = spectral_radius(F)
    if not rho < 1.0:
        raise ValueError(f"solve_lyapunov needs rho(F) < 1; got spectral radius {rho:.6g}")
    n = F.shape[0]
    if n <= kron_max:
        X = np.linalg.solve(np.eye(n * n) - np.kron(F, F), Y.reshape(-1)).reshape(n, n)
    else:
        X, Fk = Y.copy(), F.copy()
        for _ in range(200):
            X = X + Fk @ X @ Fk.T
            Fk = Fk @ Fk
            if np.max(np.abs(Fk)) < 1e-18:
                break
    return 0.5 * (X + X.T) if np.allclose(Y, Y.T, rtol=0, atol=0) else X


def as_sigma(lqr: LQR, sigma) -> np.ndarray:
    """Exploration noise standard deviations [m] from a scalar or an [m] array (>= 0, finite)."""
    _check_lqr(lqr)
    try:
        s = np.asarray(sigma, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"sigma must be a real scalar or [m] array; got {type(sigma).__name__}") \
            from None
    s = np.full(lqr.m, float(s)) if s.ndim == 0 else s
    if s.shape != (lqr.m,):
        raise ValueError(f"sigma must be a scalar or have shape [m] = [{lqr.m}]; got {s.shape}")
    if not np.all(np.isfinite(s)) or np.any(s < 0):
        raise ValueError("sigma must be finite and >= 0")
    return s


def _check_lqr(lqr) -> None:
    if not isinstance(lqr, LQR):
        raise TypeError(f"lqr must be an LQR; got {type(lqr).__name__}")


def _gain(lqr: LQR, K) -> np.ndarray:
    _check_lqr(lqr)
    return _matrix("K", K, (lqr.m, lqr.n))


def check_stable(lqr: LQR, K) -> np.ndarray:
    """K as a float64 [m, n] matrix; ``UnstableGainError`` unless rho(sqrt(gamma)(A - B K)) < 1."""
    K = _gain(lqr, K)
    rho = spectral_radius(np.sqrt(lqr.gamma) * (lqr.A - lqr.B @ K))
    if not rho < 1.0:
        raise UnstableGainError(
            f"K does not stabilise the system: the spectral radius of sqrt(gamma) (A - B K) is "
            f"{rho:.6g} >= 1, so the cost C(K) is infinite")
    return K


def _injected(lqr: LQR, s: np.ndarray) -> np.ndarray:
    """N = B diag(sigma^2) B' + W, the covariance injected into x at every step."""
    N = (lqr.B * s ** 2) @ lqr.B.T + lqr.W
    if lqr.gamma == 1.0 and np.any(N != 0.0):
        raise ValueError("exploration noise sigma > 0 or process noise W != 0 needs gamma < 1: "
                         "the undiscounted cost is infinite")
    return N


def _start_covariance(lqr: LQR, s: np.ndarray) -> np.ndarray:
    N = _injected(lqr, s)
    return lqr.Sigma0 if lqr.gamma == 1.0 else lqr.Sigma0 + lqr.gamma / (1 - lqr.gamma) * N


# ----------------------------------------------------------------------------------------------
# Exact quantities

def value_matrix(lqr: LQR, K) -> np.ndarray:
    """P_K [n, n]: P_K = Q + K' R K + gamma A_K' P_K A_K (cost-to-go x' P_K x without noise)."""
    K = check_stable(lqr, K)
    F = np.sqrt(lqr.gamma) * (lqr.A - lqr.B @ K)
    return solve_lyapunov(F.T, lqr.Q + K.T @ lqr.R @ K)


def state_covariance(lqr: LQR, K, sigma=0.0) -> np.ndarray:
    """Sigma_K [n, n] = sum_t gamma^t E[x_t x_t'], from Sigma_K = Y + gamma A_K Sigma_K A_K'."""
    K = check_stable(lqr, K)
    Y = _start_covariance(lqr, as_sigma(lqr, sigma))
    return solve_lyapunov(np.sqrt(lqr.gamma) * (lqr.A - lqr.B @ K), Y)


def value_constant(lqr: LQR, K, sigma=0.0) -> float:
    """c_K = (gamma tr(P_K N) + sum_i sigma_i^2 R_ii) / (1 - gamma): V(x) = x' P_K x + c_K."""
    s = as_sigma(lqr, sigma)
    N = _injected(lqr, s)
    if lqr.gamma == 1.0:
        return 0.0
    return float((lqr.gamma * np.sum(value_matrix(lqr, K) * N) + s ** 2 @ np.diag(lqr.R))
                 / (1 - lqr.gamma))


def cost(lqr: LQR, K, sigma=0.0) -> float:
    """C(K) = tr(P_K Y) + sum_i sigma_i^2 R_ii / (1 - gamma) (module docstring).

    Gradient: ``gradient`` (2 E_K Sigma_K) and ``log_std_gradient``.
    """
    s = as_sigma(lqr, sigma)
    P = value_matrix(lqr, K)
    extra = 0.0 if lqr.gamma == 1.0 else float(s ** 2 @ np.diag(lqr.R)) / (1 - lqr.gamma)
    return float(np.sum(P * _start_covariance(lqr, s))) + extra


def _e_k(lqr: LQR, K, P) -> np.ndarray:
    g = lqr.gamma
    return (lqr.R + g * lqr.B.T @ P @ lqr.B) @ K - g * lqr.B.T @ P @ lqr.A


def gradient(lqr: LQR, K, sigma=0.0) -> np.ndarray:
    """grad_K C = 2 ((R + gamma B' P_K B) K - gamma B' P_K A) Sigma_K  [m, n] (Fazel et al.)."""
    K = check_stable(lqr, K)
    return 2.0 * _e_k(lqr, K, value_matrix(lqr, K)) @ state_covariance(lqr, K, sigma)


def log_std_gradient(lqr: LQR, K, sigma) -> np.ndarray:
    """d C / d log sigma_i = 2 sigma_i^2 (gamma (B' P_K B)_ii + R_ii) / (1 - gamma)  [m].

    From C = tr(P_K Sigma0) + (gamma tr(P_K B diag(sigma^2) B') + sigma^2 . diag R) / (1 - gamma)
    (+ the W term, constant in sigma); needs gamma < 1 when sigma > 0.
    """
    s = as_sigma(lqr, sigma)
    P = value_matrix(lqr, K)
    if lqr.gamma == 1.0:
        _injected(lqr, s)                     # raises when sigma > 0
        return np.zeros(lqr.m)
    BPB = lqr.B.T @ P @ lqr.B
    return 2.0 * s ** 2 * (lqr.gamma * np.diag(BPB) + np.diag(lqr.R)) / (1 - lqr.gamma)


def natural_gradient(lqr: LQR, K, sigma=0.0) -> np.ndarray:
    """grad_K C Sigma_K^{-1} = 2 E_K [m, n] (Fazel et al.'s natural policy gradient direction).

    ``sigma`` is accepted for symmetry with ``gradient``; Sigma_K cancels, so it has no effect.
    """
    K = check_stable(lqr, K)
    as_sigma(lqr, sigma)
    return 2.0 * _e_k(lqr, K, value_matrix(lqr, K))


def gauss_newton_direction(lqr: LQR, K, sigma=0.0) -> np.ndarray:
    """(R + gamma B' P_K B)^{-1} grad C Sigma_K^{-1} = 2 (K - gamma (R + gamma B'P_K B)^{-1} B'P_K A).

    K - direction / 2 is the policy-iteration (Hewer) update.
    """
    K = check_stable(lqr, K)
    as_sigma(lqr, sigma)
    P = value_matrix(lqr, K)
    return 2.0 * np.linalg.solve(lqr.R + lqr.gamma * lqr.B.T @ P @ lqr.B, _e_k(lqr, K, P))


def _doubling(a, G, H, n, max_iter):
    """H_k of the structure-preserving doubling (``riccati``) until it stops changing."""
    for _ in range(max_iter):
        try:
            M = np.linalg.solve(np.eye(n) + G @ H, np.hstack([a, G @ a.T]))
        except np.linalg.LinAlgError:
            return np.full_like(H, np.nan)
        Ma, MG = M[:, :n], M[:, n:]
        H_new = 0.5 * (H + a.T @ H @ Ma + (H + a.T @ H @ Ma).T)
        a, G = a @ Ma, G + a @ MG
        done = np.max(np.abs(H_new - H)) <= 1e-14 * max(1.0, np.max(np.abs(H_new)))
        H = H_new
        if done or not np.all(np.isfinite(H)):
            break
    return H


def riccati(lqr: LQR, newton_steps: int = 3, max_iter: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """(K*, P*): the optimal gain and value matrix of the discounted Riccati equation

        P = Q + gamma A'PA - gamma^2 A'PB (R + gamma B'PB)^{-1} B'PA,
        K* = gamma (R + gamma B'P B)^{-1} B' P A.

    Structure-preserving doubling (Chu, Fan & Lin 2005) on (sqrt(gamma) A, sqrt(gamma) B):
    A_{k+1} = A_k (I + G_k H_k)^{-1} A_k, G_{k+1} = G_k + A_k (I + G_k H_k)^{-1} G_k A_k',
    H_{k+1} = H_k + A_k' H_k (I + G_k H_k)^{-1} A_k, from A_0 = A, G_0 = B R^{-1} B', H_0 = Q;
    H_k -> P*. Then ``newton_steps`` policy-iteration steps polish K* to machine precision.
    ValueError when the system is not stabilisable (the doubling diverges).
    """
    _check_lqr(lqr)
    check_positive_int("max_iter", max_iter)
    a = np.sqrt(lqr.gamma) * lqr.A
    b = np.sqrt(lqr.gamma) * lqr.B
    G, H, n = b @ np.linalg.solve(lqr.R, b.T), lqr.Q.copy(), lqr.n
    with np.errstate(over="ignore", invalid="ignore"):    # divergence is detected below
        H = _doubling(a, G, H, n, max_iter)
    if not np.all(np.isfinite(H)):
        raise ValueError("the Riccati doubling diverged: (sqrt(gamma) A, sqrt(gamma) B) is not "
                         "stabilisable")
    K = lqr.gamma * np.linalg.solve(lqr.R + lqr.gamma * lqr.B.T @ H @ lqr.B, lqr.B.T @ H @ lqr.A)
    for _ in range(newton_steps):
        K = K - 0.5 * gauss_newton_direction(lqr, K)
    return K, value_matrix(lqr, K)
