"""The convergence theorems' bounds, as functions, for checking exact runs step by step.

Every bound is stated for rewards in [0, r_max] (the papers take r_max = 1; rescaling rewards by
c rescales values by c and turns a step eta into eta c, which gives the r_max factors below).

* Mei, Xiao, Szepesvari & Schuurmans 2020 (ICML), Thm 4: softmax PG with eta = (1-gamma)^3 /
  (8 r_max) and mu(s) > 0 everywhere, for t >= 1,
      J* - J(theta_t) <= 16 S r_max ||d*_mu / mu||_inf^2 ||1/mu||_inf / (c_t^2 (1-gamma)^6 t)
  with d*_mu = (1 - gamma) d^{pi*} and c_t = min_{1<=k<=t} min_s pi_k(a*(s)|s) (the theorem
  takes the infimum over all t; its induction only uses the steps taken, so the running
  minimum is what holds at step t).
* Agarwal, Kakade, Lee & Mahajan 2021 (JMLR), Thm 5.3: NPG from theta_0 = 0 (uniform) with any
  eta > 0, for t >= 1,
      J* - J(theta_t) <= log|A| / (eta t) + r_max / ((1-gamma)^2 t).
* Cen, Cheng, Chen, Wei & Chi 2021 (Oper. Res.), Thm 1: entropy-regularised NPG with
  0 < eta <= (1-gamma)/tau, for t >= 0,
      ||Q*_tau - Q_tau^{(t+1)}||_inf <= C1 gamma (1 - eta tau)^t
      ||log pi*_tau - log pi^{(t+1)}||_inf <= 2 C1 / tau (1 - eta tau)^t
      C1 = ||Q*_tau - Q_tau^{(0)}||_inf + 2 tau (1 - eta tau/(1-gamma)) ||log pi*_tau - log pi^{(0)}||_inf.
* Ascent lemma (the engine of Mei et al.'s proofs; Nesterov 2004, Lemma 1.2.3): for a
  beta-smooth J and eta <= 1/beta, J(theta + eta g) >= J(theta) + eta (1 - beta eta / 2) ||g||^2,
  g = grad J(theta).
* Stochastic gradient ascent (Ghadimi & Lan 2013; Bottou, Curtis & Nocedal 2018, Thm 4.8 in
  ascent form): unbiased estimates with E||g_hat - grad J||^2 <= sigma^2 and eta <= 1/beta give
      (1/T) sum_{t<T} E ||grad J(theta_t)||^2 <= 2 (J* - J(theta_0)) / (eta T) + beta eta sigma^2.
"""

from __future__ import annotations

import numpy as np

from ..checks import check_positive
from .exact import check_policy_matrix, visitation
from .finite import FiniteMDP
from .planning import soft_policy_iteration
from .regularized import _log_pi, soft_evaluate
from .host import numpy_boundary

__all__ = ["reward_bound", "mismatch_coefficient", "optimal_action_probability",
           "mei_pg_bound", "agarwal_npg_bound", "cen_constant", "cen_bounds", "ascent_lemma_bound",
           "sgd_stationarity_bound"]


@numpy_boundary
def reward_bound(mdp: FiniteMDP) -> float:
    """r_max = max R, after checking R >= 0 (the theorems' rewards lie in [0, r_max])."""
    if np.any(mdp.R < 0):
        raise ValueError("the convergence theorems assume rewards in [0, r_max]; mdp.R has "
                         f"negative entries (min {float(mdp.R.min()):.4g}); shift the rewards")
    return float(np.max(mdp.R))


def _check_steps(t) -> np.ndarray:
    t = np.asarray(t, dtype=np.float64)
    if np.any(t < 1):
        raise ValueError("t must be >= 1 (the bounds hold from the first step on)")
    return t


@numpy_boundary
def mismatch_coefficient(mdp: FiniteMDP, pi_star) -> float:
    """||d*_mu / mu||_inf with d*_mu = (1 - gamma) d^{pi*}; ValueError unless mu0 > 0."""
    if np.any(mdp.mu0 <= 0):
        raise ValueError("mu0 must be positive on every state for Mei et al.'s bound")
    d_star = (1.0 - mdp.gamma) * visitation(mdp, pi_star)
    return float(np.max(d_star / mdp.mu0))


def optimal_action_probability(pi, pi_star) -> float:
    """min_s pi(a*(s)|s), a*(s) = argmax_a pi*(a|s) (Mei et al.'s c at one step)."""
    pi = np.asarray(pi, dtype=np.float64)
    a_star = np.argmax(np.asarray(pi_star), axis=1)
    return float(np.min(pi[np.arange(pi.shape[0]), a_star]))


@numpy_boundary
def mei_pg_bound(mdp: FiniteMDP, t, c, pi_star):
    """16 S r_max ||d*/mu||^2 ||1/mu|| / (c^2 (1-gamma)^6 t) (module docstring)."""
    r_max = reward_bound(mdp)
    t = _check_steps(t)
    c = np.asarray(c, dtype=np.float64)
    coef = mismatch_coefficient(mdp, pi_star)
    return (16.0 * mdp.n_states * r_max * coef ** 2 * float(np.max(1.0 / mdp.mu0))
            / (c ** 2 * (1.0 - mdp.gamma) ** 6 * t))


@numpy_boundary
def agarwal_npg_bound(mdp: FiniteMDP, eta: float, t):
    """log|A| / (eta t) + r_max / ((1-gamma)^2 t) (module docstring)."""
    r_max = reward_bound(mdp)
    eta = check_positive("eta", eta)
    t = _check_steps(t)
    return np.log(mdp.n_actions) / (eta * t) + r_max / ((1.0 - mdp.gamma) ** 2 * t)


@numpy_boundary
def cen_constant(mdp: FiniteMDP, tau: float, eta: float, pi0) -> tuple[float, np.ndarray,
                                                                      np.ndarray]:
    """(C1, Q*_tau, pi*_tau) of Cen et al.'s Theorem 1 (module docstring)."""
    tau = check_positive("tau", tau)
    eta = check_positive("eta", eta)
    pi0 = check_policy_matrix(mdp, pi0)
    star = soft_policy_iteration(mdp, tau, tol=1e-13)
    _, Q0 = soft_evaluate(mdp, pi0, tau)
    live = mdp.nonterminal
    dq = np.max(np.abs(star.Q - Q0)[live])
    dlog = np.max(np.abs(_log_pi(star.pi) - _log_pi(pi0))[live])
    C1 = float(dq + 2.0 * tau * (1.0 - eta * tau / (1.0 - mdp.gamma)) * dlog)
    return C1, star.Q, star.pi


def cen_bounds(C1: float, eta: float, tau: float, gamma: float, t) -> tuple:
    """(C1 gamma (1 - eta tau)^t, 2 C1 / tau (1 - eta tau)^t): bounds at iterate t + 1."""
    t = np.asarray(t, dtype=np.float64)
    rate = (1.0 - eta * check_positive("tau", tau)) ** t
    return C1 * gamma * rate, 2.0 * C1 / tau * rate


def ascent_lemma_bound(J: float, grad_sq_norm: float, eta: float, beta: float) -> float:
    """J + eta (1 - beta eta / 2) ||g||^2: the guaranteed J after one step (eta <= 1/beta)."""
    return J + eta * (1.0 - beta * eta / 2.0) * grad_sq_norm


def sgd_stationarity_bound(gap0: float, eta: float, beta: float, sigma2: float, T):
    """2 gap0 / (eta T) + beta eta sigma^2 (module docstring); gap0 = J* - J(theta_0)."""
    T = _check_steps(T)
    return 2.0 * gap0 / (eta * T) + beta * eta * sigma2

