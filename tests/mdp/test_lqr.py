"""The exact LQR oracle (npg.mdp.lqr): gradients against finite differences, the Riccati optimum,
closed forms, Fazel et al.'s inequalities, and bad input."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from npg.mdp.lqr import (LQR, UnstableGainError, cost, gauss_newton_direction, gradient,
                         log_std_gradient, natural_gradient, riccati, solve_lyapunov,
                         spectral_radius, state_covariance, value_constant, value_matrix)

FD_STEP = 1e-5


def close(num, ana):
    return np.all(np.abs(num - ana) <= 1e-7 + 1e-6 * np.abs(ana))


def random_system(seed, n, m, gamma=1.0, noisy=False, rho=0.8):
    """A random stable system: pick K and B, then A = A_K + B K with rho(A_K) = rho * U(0.2, 1)."""
    rng = np.random.default_rng(seed)
    B = rng.standard_normal((n, m))
    K = 0.5 * rng.standard_normal((m, n))
    F = rng.standard_normal((n, n))
    F *= rho * rng.uniform(0.2, 1.0) / max(spectral_radius(F), 1e-12)
    A = F + B @ K
    Lq = rng.standard_normal((n, n))
    Lr = rng.standard_normal((m, m))
    Q = Lq @ Lq.T / n + 0.5 * np.eye(n)
    R = Lr @ Lr.T / m + 0.5 * np.eye(m)
    S0 = np.eye(n) + 0.1 * np.ones((n, n))
    W = 0.05 * np.eye(n) if noisy else None
    sigma = rng.uniform(0.1, 0.6, m) if noisy else np.zeros(m)
    return LQR(A, B, Q, R, S0, gamma, W), K, sigma


systems = st.tuples(st.integers(0, 2 ** 32 - 1), st.integers(1, 4), st.integers(1, 3),
                    st.sampled_from([(1.0, False), (0.9, True), (0.95, False)]))


@settings(max_examples=40, deadline=None)
@given(systems)
def test_gradient_is_the_central_difference_of_the_cost(case):
    seed, n, m, (gamma, noisy) = case
    lqr, K, sigma = random_system(seed, n, m, gamma, noisy)
    ana = gradient(lqr, K, sigma)
    num = np.empty_like(K)
    for idx in np.ndindex(*K.shape):
        E = np.zeros_like(K)
        E[idx] = FD_STEP
        num[idx] = (cost(lqr, K + E, sigma) - cost(lqr, K - E, sigma)) / (2 * FD_STEP)
    assert close(num, ana)


@settings(max_examples=30, deadline=None)
@given(st.tuples(st.integers(0, 2 ** 32 - 1), st.integers(1, 4), st.integers(1, 3)))
def test_log_std_gradient_is_the_central_difference_of_the_cost(case):
    seed, n, m = case
    lqr, K, sigma = random_system(seed, n, m, 0.9, noisy=True)
    log_s = np.log(sigma)
    ana = log_std_gradient(lqr, K, sigma)
    num = np.array([(cost(lqr, K, np.exp(log_s + FD_STEP * e)) -
                     cost(lqr, K, np.exp(log_s - FD_STEP * e))) / (2 * FD_STEP)
                    for e in np.eye(m)])
    assert close(num, ana)


@settings(max_examples=30, deadline=None)
@given(systems)
def test_riccati_gain_has_zero_gradient_and_solves_the_riccati_equation(case):
    seed, n, m, (gamma, noisy) = case
    lqr, K, sigma = random_system(seed, n, m, gamma, noisy)
    K_star, P = riccati(lqr)
    assert np.max(np.abs(gradient(lqr, K_star, sigma))) <= 1e-10
    g, A, B, Q, R = lqr.gamma, lqr.A, lqr.B, lqr.Q, lqr.R
    dare = Q + g * A.T @ P @ A - g ** 2 * A.T @ P @ B @ np.linalg.solve(
        R + g * B.T @ P @ B, B.T @ P @ A)
    assert np.max(np.abs(dare - P)) <= 1e-9 * max(1.0, np.max(np.abs(P)))
    # optimal among all gains: the starting gain is never better
    assert cost(lqr, K_star, sigma) <= cost(lqr, K, sigma) + 1e-12


def test_scalar_closed_form():
    # n = m = 1: a_K = a - b k, P = (q + r k^2) / (1 - gamma a_K^2), Sigma = s0 / (1 - gamma a_K^2)
    a, b, q, r, k, s0, g = 1.2, 0.7, 2.0, 0.5, 1.1, 3.0, 0.9
    lqr = LQR([[a]], [[b]], [[q]], [[r]], [[s0]], g)
    aK = a - b * k
    P = (q + r * k * k) / (1 - g * aK ** 2)
    S = s0 / (1 - g * aK ** 2)
    assert value_matrix(lqr, [[k]])[0, 0] == pytest.approx(P, rel=1e-13)
    assert state_covariance(lqr, [[k]])[0, 0] == pytest.approx(S, rel=1e-13)
    assert cost(lqr, [[k]]) == pytest.approx(P * s0, rel=1e-13)
    # E_K = (r + g b^2 P) k - g b P a, grad = 2 E_K Sigma
    assert gradient(lqr, [[k]])[0, 0] == pytest.approx(
        2 * ((r + g * b * b * P) * k - g * b * P * a) * S, rel=1e-12)
    # with noise sigma: Sigma0_eff = s0 + g/(1-g) b^2 sigma^2; extra sigma^2 r / (1 - g)
    sig = 0.4
    y = s0 + g / (1 - g) * b * b * sig ** 2
    assert cost(lqr, [[k]], sig) == pytest.approx(P * y + sig ** 2 * r / (1 - g), rel=1e-13)
    assert value_constant(lqr, [[k]], sig) == pytest.approx(
        (g * P * b * b * sig ** 2 + sig ** 2 * r) / (1 - g), rel=1e-13)


@pytest.mark.parametrize("n", [3, 40])
def test_lyapunov_solution_and_both_solvers_agree(n):
    rng = np.random.default_rng(n)
    F = rng.standard_normal((n, n))
    F *= 0.95 / spectral_radius(F)
    Y = rng.standard_normal((n, n))
    Y = Y @ Y.T
    X = solve_lyapunov(F, Y)
    assert np.max(np.abs(X - Y - F @ X @ F.T)) <= 1e-10 * np.max(np.abs(X))
    X2 = solve_lyapunov(F, Y, kron_max=0)                      # Smith doubling
    assert np.max(np.abs(X - X2)) <= 1e-10 * np.max(np.abs(X))


@settings(max_examples=25, deadline=None)
@given(systems)
def test_directions_and_fazel_inequalities(case):
    seed, n, m, (gamma, noisy) = case
    lqr, K, sigma = random_system(seed, n, m, gamma, noisy)
    G = gradient(lqr, K, sigma)
    S = state_covariance(lqr, K, sigma)
    P = value_matrix(lqr, K)
    assert np.allclose(natural_gradient(lqr, K, sigma), G @ np.linalg.inv(S), rtol=1e-8,
                       atol=1e-10)
    M = lqr.R + lqr.gamma * lqr.B.T @ P @ lqr.B
    assert np.allclose(gauss_newton_direction(lqr, K), np.linalg.solve(M, G @ np.linalg.inv(S)),
                       rtol=1e-8, atol=1e-10)
    # Fazel et al. Lemma 11 (gradient domination), with Y the effective start covariance:
    # mu tr(E' M^{-1} E) <= C(K) - C* <= ||Sigma_K*|| tr(E' M^{-1} E),  E = natural_grad / 2
    K_star, _ = riccati(lqr)
    E = natural_gradient(lqr, K) / 2
    gap = cost(lqr, K, sigma) - cost(lqr, K_star, sigma)
    t = np.trace(E.T @ np.linalg.solve(M, E))
    Y = S - lqr.gamma * (lqr.A - lqr.B @ K) @ S @ (lqr.A - lqr.B @ K).T
    mu = np.linalg.eigvalsh(Y)[0]
    top = np.linalg.eigvalsh(state_covariance(lqr, K_star, sigma))[-1]
    assert mu * t <= gap * (1 + 1e-8) + 1e-12
    assert gap <= top * t * (1 + 1e-8) + 1e-12
    # one policy-iteration step (Gauss-Newton, step 1/2) does not increase the cost
    K_pi = K - 0.5 * gauss_newton_direction(lqr, K)
    assert cost(lqr, K_pi, sigma) <= cost(lqr, K, sigma) + 1e-12


# -------------------------------------------------------------------------------- bad input

def good():
    return dict(A=np.eye(2) * 0.5, B=np.ones((2, 1)), Q=np.eye(2), R=np.eye(1))


def test_unstable_gain_names_the_spectral_radius():
    lqr = LQR(**good())
    with pytest.raises(UnstableGainError, match=r"spectral radius .* 2\.5 >= 1"):
        cost(lqr, np.array([[-1.0, -1.0]]))          # A - B K = [[1.5, 1], [1, 1.5]]: rho 2.5
    with pytest.raises(ValueError, match="spectral radius"):
        gradient(lqr, np.array([[-1.0, -1.0]]))


@pytest.mark.parametrize("change, match", [
    (dict(A=np.ones((2, 3))), "A must be square"),
    (dict(B=np.ones((3, 1))), "B must have n = 2 rows"),
    (dict(Q=np.eye(3)), r"Q must have shape \[2, 2\]"),
    (dict(R=np.eye(2)), r"R must have shape \[1, 1\]"),
    (dict(Q=np.diag([1.0, 0.0])), "Q must be positive definite"),
    (dict(R=-np.eye(1)), "R must be positive definite"),
    (dict(Q=np.array([[1.0, 0.5], [0.0, 1.0]])), "Q must be symmetric"),
    (dict(A=np.array([[np.nan, 0], [0, 1]])), "A must be finite"),
    (dict(Sigma0=-np.eye(2)), "Sigma0 must be positive semi-definite"),
    (dict(gamma=1.5), "gamma must lie in"),
    (dict(A=np.ones(2)), "A must be a matrix"),
])
def test_bad_systems_are_refused(change, match):
    kwargs = good()
    kwargs.update(change)
    with pytest.raises(ValueError, match=match):
        LQR(**kwargs)


def test_unstabilisable_system_is_refused_by_riccati():
    # the second state grows by 2 per step and no input reaches it
    lqr = LQR(2 * np.eye(2), np.array([[1.0], [0.0]]), np.eye(2), np.eye(1))
    with pytest.raises(ValueError, match="not stabilisable"):
        riccati(lqr)
    # discounted by 0.2, sqrt(gamma) 2 < 1: stabilisable again, K* acts on the first state only
    K, _ = riccati(LQR(2 * np.eye(2), np.array([[1.0], [0.0]]), np.eye(2), np.eye(1), gamma=0.2))
    assert K[0, 1] == pytest.approx(0.0, abs=1e-12)


def test_bad_gain_and_noise():
    lqr = LQR(**good())
    with pytest.raises(ValueError, match=r"K must have shape \[1, 2\]"):
        cost(lqr, np.zeros((2, 2)))
    with pytest.raises(ValueError, match="needs gamma < 1"):
        cost(lqr, np.zeros((1, 2)), sigma=0.1)
    with pytest.raises(ValueError, match="sigma must be finite and >= 0"):
        cost(LQR(**good(), gamma=0.9), np.zeros((1, 2)), sigma=-0.1)
    with pytest.raises(TypeError, match="lqr must be an LQR"):
        cost("system", np.zeros((1, 2)))
    with pytest.raises(ValueError, match="rho"):
        solve_lyapunov(np.eye(2), np.eye(2))
