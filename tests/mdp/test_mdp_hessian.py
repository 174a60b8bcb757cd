"""The exact Hessian of J (npg.mdp.second_order) and the logits' curvature (npg.mdp.logit_curvature).

Central differences of the exact gradient for every categorical policy class (hypothesis,
float64, npg's tolerance rule); symmetry of the unsymmetrised general path; the tabular closed
form against the general path; the R-operator against differences of the vjp; the smoothness
bound of Mei et al. / Agarwal et al. at random points; the curvature along a path; bad input.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import npg.mdp as M
from npg.features import OneHot, Polynomial
from npg.mdp import second_order as HS
from npg.mdp.logit_curvature import logit_jacobian, weighted_logit_hessian
from npg.params import flatten, unflatten
from npg.policies import (LinearSoftmaxPolicy, MLPCategoricalPolicy, SharedActorCritic,
                          TabularSoftmaxPolicy)
from npg.testing import ATOL, RTOL, STEP

POLICIES = {
    "tabular": lambda S, A: TabularSoftmaxPolicy(S, A),
    "linear_onehot": lambda S, A: LinearSoftmaxPolicy(OneHot(S), A),
    "linear_poly": lambda S, A: LinearSoftmaxPolicy(Polynomial(obs_dim=S, degree=1), A),
    "mlp_tanh": lambda S, A: MLPCategoricalPolicy(obs_dim=S, n_actions=A, hidden=(3,)),
    "mlp_relu2": lambda S, A: MLPCategoricalPolicy(obs_dim=S, n_actions=A, hidden=(3, 2),
                                                   activation="relu"),
    "shared": lambda S, A: SharedActorCritic(obs_dim=S, n_actions=A, hidden=(3,)),
}


def setup(name, seed, scale=0.7, S=4, A=3, gamma=0.8):
    rng = np.random.default_rng(seed)
    mdp = M.random_mdp(S, A, rng, gamma=gamma, n_terminal=1, p_terminate=0.1)
    policy = POLICIES[name](S, A)
    params = {k: v + scale * rng.standard_normal(v.shape) for k, v in policy.init(rng).items()}
    return mdp, policy, params


def fd_hessian(mdp, policy, params, h=STEP):
    """Column i: (grad J(theta + h e_i) - grad J(theta - h e_i)) / 2h."""
    theta = flatten(params)
    H = np.empty((theta.size, theta.size))
    for i in range(theta.size):
        e = np.zeros_like(theta)
        e[i] = h
        gp = flatten(M.policy_gradient(mdp, policy, unflatten(theta + e, params)))
        gm = flatten(M.policy_gradient(mdp, policy, unflatten(theta - e, params)))
        H[:, i] = (gp - gm) / (2 * h)
    return H


def assert_close(num, ana):
    err = np.abs(num - ana)
    assert np.all(err <= ATOL + RTOL * np.abs(ana)), float(np.max(err))


@pytest.mark.parametrize("name", sorted(POLICIES))
@settings(max_examples=4, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_hessian_matches_central_differences_of_the_exact_gradient(name, seed):
    mdp, policy, params = setup(name, seed)
    num = fd_hessian(mdp, policy, params)
    for method in ("pgt", "logits"):
        assert_close(num, HS.hessian(mdp, policy, params, method=method))


@pytest.mark.parametrize("name", sorted(POLICIES))
def test_general_path_is_symmetric_before_symmetrising(name):
    mdp, policy, params = setup(name, 3)
    obs = M.default_obs(mdp, policy, params)
    pi = M.policy_matrix(policy, params, obs)
    H = HS._pgt_hessian(mdp, policy, params, obs, pi)
    assert np.max(np.abs(H - H.T)) <= 1e-12 * max(1.0, np.abs(H).max())
    assert not np.allclose(H, 0.0)


@pytest.mark.parametrize("seed", range(4))
def test_tabular_closed_form_equals_the_general_path(seed):
    mdp, policy, params = setup("tabular", seed, scale=1.5, S=6, A=3, gamma=0.9)
    pi = M.policy_matrix(policy, params, M.default_obs(mdp, policy, params))
    closed = HS.tabular_softmax_hessian(mdp, pi)
    general = HS.hessian(mdp, policy, params, method="pgt")
    assert np.max(np.abs(closed - general)) <= 1e-12 * max(1.0, np.abs(closed).max())
    # a linear policy on one-hot features is the same function: same Hessian (theta is [S, A])
    lin = LinearSoftmaxPolicy(OneHot(6), 3)
    assert np.allclose(HS.hessian(mdp, lin, params), closed, atol=1e-12)


def test_hessian_of_a_two_armed_bandit_by_hand():
    # one state, gamma = 0, J = sum_a pi_a r_a: H = diag(pi A) - (pi A) pi^T - pi (pi A)^T
    mdp = M.FiniteMDP(np.ones((1, 2, 1)), np.array([[1.0, 0.0]]), np.ones(1), 0.0)
    policy = TabularSoftmaxPolicy(1, 2)
    params = {"theta": np.array([[0.0, 0.0]])}
    # pi = (1/2, 1/2), A = (1/2, -1/2), pi A = (1/4, -1/4):
    # H = [[1/4 - 1/8 - 1/8, 0 + 1/8 - 1/8], ...] = 0 at the uniform policy (an inflection)
    assert np.allclose(HS.hessian(mdp, policy, params), 0.0, atol=1e-15)
    # theta = (log 3, 0): pi = (3/4, 1/4), A = (1/4, -3/4), pi A = (3/16, -3/16):
    # H_00 = 3/16 - 2 (3/16)(3/4) = -3/32;  J = sigmoid(t) has J'' = s(1-s)(1-2s) = -3/32
    params = {"theta": np.array([[np.log(3.0), 0.0]])}
    H = HS.hessian(mdp, policy, params)
    assert np.allclose(H, [[-3 / 32, 3 / 32], [3 / 32, -3 / 32]], atol=1e-15)


@pytest.mark.parametrize("name", ["mlp_tanh", "mlp_relu2", "shared"])
@settings(max_examples=5, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_weighted_logit_hessian_matches_differences_of_the_vjp(name, seed):
    mdp, policy, params = setup(name, seed)
    obs = M.default_obs(mdp, policy, params)
    c = np.random.default_rng(seed).standard_normal((4, 3))
    N = weighted_logit_hessian(policy, params, obs, c)
    theta = flatten(params)

    def grad(t):
        return flatten(policy.forward(unflatten(t, params), obs)[1](c))
    num = np.empty_like(N)
    for i in range(theta.size):
        e = np.zeros_like(theta)
        e[i] = STEP
        num[:, i] = (grad(theta + e) - grad(theta - e)) / (2 * STEP)
    assert_close(num, N)
    # the Jacobian: row (s, a) . v is the directional derivative of z(s, a)
    Jz = logit_jacobian(policy, params, obs)
    v = np.random.default_rng(1).standard_normal(theta.size)
    z = lambda t: np.asarray(policy.forward(unflatten(t, params), obs)[0]).reshape(-1)
    assert_close((z(theta + STEP * v) - z(theta - STEP * v)) / (2 * STEP), Jz @ v)


@pytest.mark.parametrize("seed", range(5))
def test_smoothness_bound_holds_at_random_points(seed):
    mdp, policy, params = setup("tabular", seed, scale=3.0, S=6, A=3, gamma=0.9)
    H = HS.hessian(mdp, policy, params)
    assert HS.smoothness(H) <= HS.softmax_smoothness_bound(mdp)


def test_curvature_along_a_path():
    mdp, policy, params = setup("tabular", 2)
    path = [params]
    for _ in range(4):
        g = M.policy_gradient(mdp, policy, path[-1])
        path.append({k: path[-1][k] + 1.0 * g[k] for k in g})
    out = HS.curvature_along_path(mdp, policy, path)
    assert out["smoothness"].shape == (5,) and np.isnan(out["step_curvature"][-1])
    assert np.all(out["min_eig"][:-1] <= out["step_curvature"][:-1] + 1e-12)
    assert np.all(out["step_curvature"][:-1] <= out["max_eig"][:-1] + 1e-12)
    assert out["smoothness_max"] == out["smoothness"].max()
    ev = HS.hessian_eigenvalues(HS.hessian(mdp, policy, path[1]))
    assert np.isclose(ev[-1], out["max_eig"][1])


def test_bad_input(monkeypatch):
    mdp, policy, params = setup("tabular", 0)
    with pytest.raises(ValueError, match="method"):
        HS.hessian(mdp, policy, params, method="autograd")
    with pytest.raises(ValueError, match="not finite"):
        HS.hessian_eigenvalues(np.array([[1.0, np.nan], [np.nan, 1.0]]))
    with pytest.raises(ValueError, match="symmetric"):
        HS.hessian_eigenvalues(np.array([[1.0, 2.0], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="square"):
        HS.smoothness(np.ones((2, 3)))
    # a curvature term that overflowed (simulated): a typed error, not NaN/inf
    import npg.mdp.second_order as module
    monkeypatch.setattr(module, "weighted_logit_hessian",
                        lambda policy, params, obs, c: np.full((12, 12), np.inf))
    with pytest.raises(ValueError, match="not finite"):
        HS.hessian(mdp, policy, params)
    monkeypatch.undo()
    # gamma = 1 and a policy that never terminates
    P = np.zeros((2, 2, 2))
    P[0, 0, 0] = P[0, 1, 1] = P[1, :, 1] = 1.0
    loop = M.FiniteMDP(P, np.zeros((2, 2)), np.array([1.0, 0.0]), 1.0, np.array([False, True]))
    stay = {"theta": np.array([[60.0, -60.0], [0.0, 0.0]])}
    with pytest.raises(ValueError, match="terminal|singular"):
        HS.hessian(loop, TabularSoftmaxPolicy(2, 2), stay)

    class Other:
        n_actions = 3
        n_states = 4

        def probs(self, params, obs):
            return np.full((4, 3), 1 / 3)

        def scores(self, params, obs, act):
            return np.zeros((12, 1))

        def forward(self, params, obs):
            return np.zeros((4, 3)), None
    with pytest.raises(TypeError, match="policy"):
        HS.hessian(mdp, Other(), {"theta": np.zeros(1)})


@pytest.mark.parametrize("name", ["tabular", "mlp_tanh"])
def test_hessian_at_gamma_one_with_a_terminating_mdp(name):
    rng = np.random.default_rng(8)
    mdp = M.random_mdp(4, 3, rng, gamma=1.0, n_terminal=1, p_terminate=0.3)
    policy = POLICIES[name](4, 3)
    params = {k: v + 0.5 * rng.standard_normal(v.shape) for k, v in policy.init(rng).items()}
    assert_close(fd_hessian(mdp, policy, params), HS.hessian(mdp, policy, params))
