"""Exact V, Q, A, visitation, J, grad J, Fisher and natural gradient on finite MDPs (npg.mdp).

Five kinds of test: hand-derived values on a two-state chain; identities (Bellman, J = d . r_pi,
sum_a pi A = 0, stationary vs visitation, finite horizon -> infinite horizon); grad J against a
central difference of the exact J for every categorical policy class over random MDPs and
parameters (hypothesis, float64); tabular closed forms against the general path; the Fisher
matrix against the expected outer product of finite-difference scores; bad input.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import npg.mdp as M
from npg.backend import to_numpy
from npg.features import OneHot, Polynomial
from npg.mdp import FiniteMDP
from npg.params import flatten
from npg.policies import LinearSoftmaxPolicy, TabularSoftmaxPolicy
from npg.testing import check_grad, numeric_grad


def chain(gamma=0.9):
    """S = 2, A = 2: from state 0, action 0 stays (reward 1), action 1 ends in the terminal
    state 1 (reward 2)."""
    P = np.zeros((2, 2, 2))
    P[0, 0, 0] = P[0, 1, 1] = P[1, :, 1] = 1.0
    return FiniteMDP(P, np.array([[1.0, 2.0], [0.0, 0.0]]), np.array([1.0, 0.0]), gamma,
                     np.array([False, True]))


def tabular(S, A):
    return TabularSoftmaxPolicy(S, A)


def linear_onehot(S, A):
    return LinearSoftmaxPolicy(OneHot(S), A)


def linear_poly(S, A):
    return LinearSoftmaxPolicy(Polynomial(obs_dim=S, degree=1), A)   # over one-hot rows


def mlp(S, A):
    from npg.policies import MLPCategoricalPolicy
    return MLPCategoricalPolicy(obs_dim=S, n_actions=A, hidden=(4,), activation="tanh")


def shared(S, A):
    from npg.policies import SharedActorCritic                  # value-head params get grad 0
    return SharedActorCritic(obs_dim=S, n_actions=A, hidden=(3,), activation="tanh")


POLICIES = [tabular, linear_onehot, linear_poly, mlp, shared]


def make_policy(factory, S, A, rng, scale):
    """(policy, params): the class's init, then N(0, scale^2) added to every parameter."""
    try:
        pol = factory(S, A)
    except ImportError:
        pytest.skip(f"{factory.__name__} policy not available yet")
    params = {k: np.asarray(v, dtype=np.float64) + scale * rng.standard_normal(np.shape(v))
              for k, v in pol.init(rng).items()}
    return pol, params


def J_of(mdp, pol, obs):
    return lambda p: M.objective(mdp, M.policy_matrix(pol, p, obs))


mdp_args = st.fixed_dictionaries({
    "seed": st.integers(0, 2**32 - 1),
    "S": st.integers(2, 4),
    "A": st.integers(2, 3),
    "gamma": st.sampled_from([0.0, 0.5, 0.9, 0.97, 1.0]),
    "n_terminal": st.integers(0, 1),
    "alpha": st.sampled_from([0.3, 1.0]),
    "scale": st.sampled_from([0.1, 1.0, 3.0]),
})


def draw(args, factory):
    """A random MDP (terminating with probability >= 0.3 per step when gamma = 1) and policy."""
    rng = np.random.default_rng(args["seed"])
    n_term = max(args["n_terminal"], int(args["gamma"] == 1.0))
    S = args["S"] + n_term
    mdp = M.random_mdp(S, args["A"], rng, gamma=args["gamma"], n_terminal=n_term,
                       alpha=args["alpha"], p_terminate=0.3 if n_term else 0.0)
    pol, params = make_policy(factory, S, args["A"], rng, args["scale"])
    return mdp, pol, params


# ------------------------------------------------------------------ hand-derived values

def test_chain_values_by_hand(xp):
    # pi(0|0) = p = 1/2. V(0) = p (1 + gamma V(0)) + (1 - p) 2  =>  V(0) = (2 - p) / (1 - gamma p)
    # = 1.5 / 0.55 at gamma = 0.9; Q(0, 0) = 1 + gamma V(0), Q(0, 1) = 2; d(0) = 1 / (1 - gamma p).
    # On every array module (the MDP moved with .to(xp)).
    mdp = chain(0.9).to(xp)
    pi = xp.asarray(np.array([[0.5, 0.5], [0.5, 0.5]]))
    V, Q, A = (to_numpy(x) for x in M.evaluate(mdp, pi))
    np.testing.assert_allclose(V, [1.5 / 0.55, 0.0], rtol=1e-14)
    np.testing.assert_allclose(Q, [[1 + 0.9 * 1.5 / 0.55, 2.0], [0.0, 0.0]], rtol=1e-14)
    np.testing.assert_allclose(A[0], Q[0] - V[0], rtol=1e-14)
    np.testing.assert_allclose(to_numpy(M.visitation(mdp, pi)), [1 / 0.55, 0.0], rtol=1e-14)
    np.testing.assert_allclose(to_numpy(M.visitation(mdp, pi, normalized=True)), [1.0, 0.0])
    assert M.objective(mdp, pi) == pytest.approx(1.5 / 0.55, rel=1e-14)


def test_chain_gradient_by_hand(xp):
    # With theta[0] = (0, 0): p = sigmoid(theta00 - theta01) = 1/2, dp/dtheta00 = p (1 - p) = 1/4,
    # dV/dp = d/dp (2 - p)/(1 - gamma p) = (2 gamma - 1) / (1 - gamma p)^2, so
    # dJ/dtheta00 = (2 gamma - 1) / (4 (1 - gamma/2)^2) = -dJ/dtheta01; state 1 has zero gradient.
    gamma = 0.9
    mdp = chain(gamma).to(xp)
    pol = TabularSoftmaxPolicy(2, 2)
    g = to_numpy(M.policy_gradient(mdp, pol, {"theta": xp.asarray(np.zeros((2, 2)))})["theta"])
    expect = (2 * gamma - 1) / (4 * (1 - gamma / 2) ** 2)
    np.testing.assert_allclose(g, [[expect, -expect], [0.0, 0.0]], rtol=1e-13, atol=1e-15)


def test_chain_undiscounted_and_never_terminating(xp):
    # gamma = 1: V(0) = (2 - p)/(1 - p) = 3 at p = 1/2. On every array module.
    def ch(gamma):
        return chain(gamma).to(xp)
    pi = xp.asarray(np.full((2, 2), 0.5))
    assert M.objective(ch(1.0), pi) == pytest.approx(3.0, rel=1e-14)
    # p = 1 (logits +-1000: an exactly deterministic "stay" policy) never terminates: singular.
    pol = TabularSoftmaxPolicy(2, 2)
    params = {"theta": xp.asarray(np.array([[1000.0, -1000.0], [0.0, 0.0]]))}
    with pytest.raises(ValueError, match="never reaches a terminal state from state"):
        M.policy_gradient(ch(1.0), pol, params)
    with pytest.raises(ValueError, match="singular"):
        M.visitation(ch(1.0), xp.asarray(np.array([[1.0, 0.0], [1.0, 0.0]])))
    # The same policy with gamma < 1 is fine and finite: V(0) = 1 / (1 - gamma).
    g = to_numpy(M.policy_gradient(ch(0.99), pol, params)["theta"])
    assert np.all(np.isfinite(g))
    assert M.objective(ch(0.99), xp.asarray(np.array([[1.0, 0.0], [1.0, 0.0]]))) == \
        pytest.approx(100.0)


def test_chain_stationary_distribution_and_average_reward_by_hand(xp):
    # With reset, state 1 restarts at 0: rho0 = p rho0 + rho1, rho1 = (1 - p) rho0, so
    # rho = (1, 1 - p) / (2 - p); average reward rho0 (p * 1 + (1 - p) * 2) = 1 for every p.
    p = 0.3
    pi = xp.asarray(np.array([[p, 1 - p], [0.5, 0.5]]))
    mdp = chain().to(xp)
    np.testing.assert_allclose(to_numpy(M.stationary_distribution(mdp, pi)),
                               [1 / 1.7, 0.7 / 1.7])
    assert M.average_reward(mdp, pi) == pytest.approx(1.0, rel=1e-12)
    # Without reset the absorbing state takes all the mass.
    np.testing.assert_allclose(to_numpy(M.stationary_distribution(mdp, pi, reset=False)),
                               [0, 1], atol=1e-12)


def test_frozen_lake_deterministic_shortest_path_by_hand(xp):
    # 4x4 non-slippery, path 0 -D-> 4 -D-> 8 -R-> 9 -D-> 13 -R-> 14 -R-> 15 (goal): the reward 1
    # arrives on the 6th move (t = 5), so J = gamma^5.
    mdp = M.frozen_lake("4x4", is_slippery=False, gamma=0.9).to(xp)
    pi = np.full((16, 4), 0.25)
    for s, a in [(0, 1), (4, 1), (8, 2), (9, 1), (13, 2), (14, 2)]:
        pi[s] = np.eye(4)[a]
    pi = xp.asarray(pi)
    assert M.objective(mdp, pi) == pytest.approx(0.9 ** 5, rel=1e-13)
    assert M.finite_horizon_objective(mdp, pi, 6) == pytest.approx(1.0)
    assert M.finite_horizon_objective(mdp, pi, 5) == 0.0


# ------------------------------------------------------------------ identities

@pytest.mark.parametrize("seed", range(5))
def test_bellman_and_visitation_identities(seed):
    rng = np.random.default_rng(seed)
    mdp = M.random_mdp(6, 3, rng, gamma=0.9, n_terminal=seed % 2, p_terminate=0.1)
    pi = rng.dirichlet(np.ones(3), size=6)
    V, Q, A = M.evaluate(mdp, pi)
    P_pi, r_pi = M.transition_matrix(mdp, pi), M.expected_reward(mdp, pi)
    live = mdp.nonterminal
    np.testing.assert_allclose((V - r_pi - mdp.gamma * P_pi @ V)[live], 0, atol=1e-12)
    np.testing.assert_allclose((pi * Q).sum(1), V, atol=1e-12)
    np.testing.assert_allclose((pi * A).sum(1), 0, atol=1e-12)
    d = M.visitation(mdp, pi)
    np.testing.assert_allclose((d - mdp.gamma * d @ P_pi)[live], mdp.mu0[live], atol=1e-12)
    J = M.objective(mdp, pi)
    assert J == pytest.approx(d @ r_pi, rel=1e-12, abs=1e-14)
    if not mdp.terminal.any():
        assert d.sum() == pytest.approx(1 / (1 - mdp.gamma), rel=1e-12)
    np.testing.assert_allclose(M.visitation(mdp, pi, normalized=True), d / d.sum())
    # finite horizon: H = 1 gives mu0 . r_pi; long horizons converge to the discounted J
    assert M.finite_horizon_objective(mdp, pi, 1) == pytest.approx(mdp.mu0 @ r_pi)
    assert M.finite_horizon_objective(mdp, pi, 400, gamma=0.9) == pytest.approx(J, abs=1e-12)


@pytest.mark.parametrize("gamma", [0.0, 0.5, 0.95])
def test_visitation_from_the_stationary_distribution_is_stationary(gamma):
    # d^T (I - gamma P_pi) = rho^T and rho^T P_pi = rho^T give d = rho / (1 - gamma).
    rng = np.random.default_rng(1)
    mdp = M.random_mdp(5, 2, rng, gamma=gamma)
    pi = rng.dirichlet(np.ones(2), size=5)
    rho = M.stationary_distribution(mdp, pi)
    np.testing.assert_allclose(rho @ M.transition_matrix(mdp, pi), rho, atol=1e-13)
    started = mdp.replace(mu0=rho)
    np.testing.assert_allclose(M.visitation(started, pi, normalized=True), rho, atol=1e-12)
    np.testing.assert_allclose((1 - gamma) * M.visitation(started, pi), rho, atol=1e-12)
    assert M.average_reward(mdp, pi) == pytest.approx(
        (1 - gamma) * M.objective(started, pi), rel=1e-10)


def test_gradient_with_Q_equals_gradient_with_A():
    # sum_a pi(a|s) grad log pi(a|s) = 0, so weights d pi Q and d pi A give the same score sum.
    rng = np.random.default_rng(2)
    mdp = M.random_mdp(5, 3, rng, gamma=0.8)
    pol, params = make_policy(linear_poly, 5, 3, rng, 1.0)
    obs = M.default_obs(mdp, pol)
    pi = M.policy_matrix(pol, params, obs)
    _, _, A = M.evaluate(mdp, pi)
    obs_pairs, act = M.state_action_pairs(obs, 3)
    w = (M.visitation(mdp, pi)[:, None] * pi * A).reshape(-1)
    by_A = pol.score_sum(params, obs_pairs, act, w)
    g = M.policy_gradient(mdp, pol, params)
    np.testing.assert_allclose(flatten(g), flatten(by_A), rtol=1e-10, atol=1e-13)


# ------------------------------------------------------------------ grad J vs finite differences

@pytest.mark.parametrize("factory", POLICIES, ids=lambda f: f.__name__)
@settings(max_examples=200)
@given(args=mdp_args)
def test_policy_gradient_matches_central_difference_of_exact_J(factory, args):
    mdp, pol, params = draw(args, factory)
    obs = M.default_obs(mdp, pol)
    check_grad(J_of(mdp, pol, obs), M.policy_gradient(mdp, pol, params), params)


@pytest.mark.parametrize("factory", [tabular, mlp], ids=lambda f: f.__name__)
@settings(max_examples=200)
@given(args=mdp_args, horizon=st.integers(1, 6), gamma=st.sampled_from([1.0, 0.9]))
def test_finite_horizon_gradient_matches_central_difference(factory, args, horizon, gamma):
    mdp, pol, params = draw(args, factory)
    obs = M.default_obs(mdp, pol)
    f = lambda p: M.finite_horizon_objective(mdp, M.policy_matrix(pol, p, obs), horizon, gamma)
    check_grad(f, M.finite_horizon_gradient(mdp, pol, params, horizon, gamma), params)


def test_finite_horizon_gradient_tends_to_the_discounted_gradient():
    rng = np.random.default_rng(3)
    mdp = M.random_mdp(5, 3, rng, gamma=0.8)
    pol, params = make_policy(tabular, 5, 3, rng, 1.0)
    g_H = M.finite_horizon_gradient(mdp, pol, params, 300, gamma=0.8)["theta"]
    np.testing.assert_allclose(g_H, M.policy_gradient(mdp, pol, params)["theta"], atol=1e-13)


# ------------------------------------------------------------------ closed forms

@pytest.mark.parametrize("seed", range(4))
def test_tabular_closed_forms_agree_with_the_general_path(seed):
    rng = np.random.default_rng(seed)
    mdp = M.random_mdp(5, 3, rng, gamma=[0.5, 0.9, 0.99, 1.0][seed], n_terminal=1,
                       p_terminate=0.2)
    pol, params = make_policy(tabular, 5, 3, rng, 2.0)
    pi = M.policy_matrix(pol, params, M.default_obs(mdp, pol))
    g = M.tabular_softmax_gradient(mdp, pi)
    np.testing.assert_allclose(M.policy_gradient(mdp, pol, params)["theta"], g,
                               rtol=1e-10, atol=1e-13)
    lin, _ = make_policy(linear_onehot, 5, 3, rng, 0.0)       # theta [S, A]: the same policy
    np.testing.assert_allclose(M.policy_gradient(mdp, lin, params)["theta"], g,
                               rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(M.fisher(mdp, pol, params), M.tabular_softmax_fisher(mdp, pi),
                               rtol=1e-10, atol=1e-13)
    npg_ = M.natural_gradient(mdp, pol, params).reshape(5, 3)
    # the terminal state has d = 0 and gets no step; the others get A - mean_a A
    np.testing.assert_allclose(npg_, M.tabular_softmax_natural_gradient(mdp, pi),
                               rtol=1e-7, atol=1e-9)
    d = M.visitation(mdp, pi)
    np.testing.assert_allclose(M.natural_gradient(mdp, pol, params, normalized=True),
                               d.sum() * npg_.reshape(-1), rtol=1e-7, atol=1e-9)


def test_natural_gradient_step_is_soft_policy_iteration():
    # theta' = theta + eta (A - mean A) gives pi'(a|s) proportional to pi(a|s) exp(eta A(s, a)).
    rng = np.random.default_rng(7)
    mdp = M.random_mdp(4, 3, rng, gamma=0.9)
    pol, params = make_policy(tabular, 4, 3, rng, 1.0)
    obs = M.default_obs(mdp, pol)
    pi = M.policy_matrix(pol, params, obs)
    _, _, A = M.evaluate(mdp, pi)
    eta = 0.7
    step = M.natural_gradient(mdp, pol, params).reshape(4, 3)
    new = M.policy_matrix(pol, {"theta": params["theta"] + eta * step}, obs)
    expect = pi * np.exp(eta * A)
    np.testing.assert_allclose(new, expect / expect.sum(1, keepdims=True), rtol=1e-9)


# ------------------------------------------------------------------ Fisher and natural gradient

@pytest.mark.parametrize("factory", POLICIES, ids=lambda f: f.__name__)
@pytest.mark.parametrize("seed", range(2))
def test_fisher_is_the_expected_outer_product_of_scores(factory, seed):
    # F = sum_{s,a} d(s) pi(a|s) score score^T with every score taken by central differences
    # of log pi(a|s) (independent of the policy's own ``scores``).
    rng = np.random.default_rng(seed)
    mdp = M.random_mdp(3, 2, rng, gamma=0.7, n_terminal=seed, p_terminate=0.2)
    pol, params = make_policy(factory, 3, 2, rng, 1.0)
    obs = M.default_obs(mdp, pol)
    pi = M.policy_matrix(pol, params, obs)
    d = M.visitation(mdp, pi)
    F = 0.0
    for s in range(3):
        for a in range(2):
            logp = lambda p: pol.log_prob(p, obs[s:s + 1], np.array([a]))[0]
            score = flatten(numeric_grad(logp, params))
            F = F + d[s] * pi[s, a] * np.outer(score, score)
    F_exact = M.fisher(mdp, pol, params)
    assert F_exact.shape == (flatten(params).size,) * 2
    np.testing.assert_allclose(F_exact, F, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(F_exact, F_exact.T, atol=1e-14)
    assert np.linalg.eigvalsh(F_exact).min() > -1e-12


@pytest.mark.parametrize("factory", POLICIES, ids=lambda f: f.__name__)
def test_natural_gradient_solves_the_fisher_system(factory):
    rng = np.random.default_rng(11)
    mdp = M.random_mdp(4, 3, rng, gamma=0.9)
    pol, params = make_policy(factory, 4, 3, rng, 1.0)
    F = M.fisher(mdp, pol, params)
    g = flatten(M.policy_gradient(mdp, pol, params))
    x = M.natural_gradient(mdp, pol, params)
    np.testing.assert_allclose(F @ x, g, rtol=1e-6, atol=1e-9 * np.abs(g).max())
    damped = M.natural_gradient(mdp, pol, params, damping=0.1)
    np.testing.assert_allclose((F + 0.1 * np.eye(F.shape[0])) @ damped, g, atol=1e-10)


# ------------------------------------------------------------------ backends, extremes

def test_policy_gradient_runs_on_every_backend(xp):
    rng = np.random.default_rng(5)
    mdp = M.random_mdp(4, 3, rng, gamma=0.9)
    for factory in (tabular, linear_poly, mlp):
        pol, params = make_policy(factory, 4, 3, rng, 1.0)
        ref = M.policy_gradient(mdp, pol, params)
        on_xp = {k: xp.asarray(v) for k, v in params.items()}
        g = M.policy_gradient(mdp, pol, on_xp)
        for k in params:
            assert type(g[k]) is type(on_xp[k]) and g[k].dtype == on_xp[k].dtype
            np.testing.assert_allclose(to_numpy(g[k]), ref[k], rtol=1e-12, atol=1e-15)
        F = M.fisher(mdp, pol, on_xp)
        np.testing.assert_allclose(F, M.fisher(mdp, pol, params), rtol=1e-12, atol=1e-15)


def test_extreme_logits_stay_finite():
    rng = np.random.default_rng(6)
    mdp = M.random_mdp(5, 3, rng, gamma=0.99)
    pol = TabularSoftmaxPolicy(5, 3)
    params = {"theta": 1000.0 * rng.choice([-1.0, 1.0], size=(5, 3))}
    g = M.policy_gradient(mdp, pol, params)["theta"]
    assert np.all(np.isfinite(g))
    assert np.all(np.isfinite(M.natural_gradient(mdp, pol, params)))
    assert np.all(np.isfinite(M.finite_horizon_gradient(mdp, pol, params, 50)["theta"]))


def test_float32_params_give_float32_gradients():
    mdp = M.random_mdp(4, 2, 0, gamma=0.9)
    pol = TabularSoftmaxPolicy(4, 2)
    g = M.policy_gradient(mdp, pol, {"theta": np.zeros((4, 2), dtype=np.float32)})
    assert g["theta"].dtype == np.float32


def test_default_obs():
    mdp = M.random_mdp(4, 2, 0)
    assert M.default_obs(mdp, tabular(4, 2)).tolist() == [0, 1, 2, 3]
    assert M.default_obs(mdp, linear_onehot(4, 2)).tolist() == [0, 1, 2, 3]
    np.testing.assert_array_equal(M.default_obs(mdp, linear_poly(4, 2)), np.eye(4))
    with pytest.raises(ValueError, match="n_states"):
        M.default_obs(mdp, tabular(5, 2))


# ------------------------------------------------------------------ bad input

def test_bad_policy_matrix():
    mdp = chain()
    for pi, match in [(np.full((2, 2), 0.6), "rows must sum to 1"),
                      (np.array([[1.5, -0.5], [0.5, 0.5]]), "probabilities >= 0"),
                      (np.full((2, 3), 1 / 3), r"pi must have shape \[S, A\] = \[2, 2\]"),
                      (np.full((2, 2), np.nan), "pi must be finite")]:
        with pytest.raises(ValueError, match=match):
            M.evaluate(mdp, pi)
    with pytest.raises(TypeError, match="mdp must be a FiniteMDP"):
        M.evaluate("mdp", np.full((2, 2), 0.5))


def test_bad_policy_and_arguments():
    mdp = chain()
    params = {"theta": np.zeros((2, 2))}
    with pytest.raises(ValueError, match="n_actions"):
        M.policy_gradient(mdp, TabularSoftmaxPolicy(2, 3), {"theta": np.zeros((2, 3))})
    with pytest.raises(TypeError, match="categorical npg policy"):
        M.policy_gradient(mdp, object(), params)
    with pytest.raises(ValueError, match="obs must hold one observation per state"):
        M.policy_gradient(mdp, TabularSoftmaxPolicy(2, 2), params, obs=np.arange(3))
    with pytest.raises(ValueError, match="damping"):
        M.natural_gradient(mdp, TabularSoftmaxPolicy(2, 2), params, damping=-1.0)
    with pytest.raises(ValueError, match="horizon"):
        M.finite_horizon_gradient(mdp, TabularSoftmaxPolicy(2, 2), params, 0)
    with pytest.raises(ValueError, match="gamma"):
        M.finite_horizon_objective(mdp, np.full((2, 2), 0.5), 3, gamma=1.5)


def test_non_unique_stationary_distribution_is_an_error():
    mdp = M.random_mdp(4, 2, 0, n_terminal=2, p_terminate=0.5)       # two absorbing classes
    with pytest.raises(ValueError, match="not unique"):
        M.stationary_distribution(mdp, np.full((4, 2), 0.5), reset=False)
