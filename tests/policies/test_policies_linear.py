"""Tabular and linear policies: hand values, identities between parametrisations, the linear
score formula, log_std clipping, finite differences (hypothesis, 200 examples) and validation.
"""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from npg.distributions.gaussian import LOG_STD_MAX, LOG_STD_MIN
from npg.features import OneHot, Polynomial, StateActionFeatures
from npg.params import flatten, unflatten
from npg.policies import LinearGaussianPolicy, LinearSoftmaxPolicy, TabularSoftmaxPolicy
from npg.testing import check_grad

FD = settings(max_examples=200)


def _f64(shape, bound):
    return hnp.arrays(np.float64, shape, elements=st.floats(-bound, bound, allow_nan=False,
                                                            allow_subnormal=False))


# ----------------------------------------------------------------------------------------------
# Hand-derived values
# ----------------------------------------------------------------------------------------------

def test_tabular_hand_values():
    # theta[1] = [0, log 3] so pi(.|1) = [1/4, 3/4]; state 0 is uniform (theta[0] = 0).
    pol = TabularSoftmaxPolicy(2, 2)
    p = {"theta": np.array([[0.0, 0.0], [0.0, math.log(3.0)]])}
    obs, act = np.array([1, 1, 0]), np.array([0, 1, 1])
    np.testing.assert_allclose(pol.probs(p, obs), [[0.25, 0.75], [0.25, 0.75], [0.5, 0.5]])
    np.testing.assert_allclose(pol.log_prob(p, obs, act), np.log([0.25, 0.75, 0.5]))
    # Scores: row s_b gets onehot(a_b) - pi(.|s_b): [3/4, -3/4], [-1/4, 1/4], [-1/2, 1/2].
    # With w = (1, 2, 1): row 1 = [3/4 - 1/2, -3/4 + 1/2] = [1/4, -1/4]; row 0 = [-1/2, 1/2].
    g = pol.score_sum(p, obs, act, np.array([1.0, 2.0, 1.0]))
    np.testing.assert_allclose(g["theta"], [[-0.5, 0.5], [0.25, -0.25]], rtol=1e-15)
    S = pol.scores(p, obs, act)
    np.testing.assert_allclose(S[0], [0, 0, 0.75, -0.75], rtol=1e-15)
    # Entropy of the uniform state is log 2 with zero gradient (a maximum).
    assert pol.entropy(p, obs)[2] == pytest.approx(math.log(2.0))
    np.testing.assert_allclose(pol.entropy_grad(p, obs[2:])["theta"], 0.0, atol=1e-16)
    # init(scale=0) is the uniform policy; mode picks argmax theta[s].
    np.testing.assert_array_equal(pol.init(0, scale=0.0)["theta"], np.zeros((2, 2)))
    np.testing.assert_array_equal(pol.mode(p, obs), [1, 1, 0])


def test_linear_gaussian_hand_values():
    # phi(s) = [1, s], W = [[1], [2]]: mean = 1 + 2 s; log_std = log 2; a = mean + 2 gives u = 1:
    # d/dW = phi (a - mean)/sigma^2 = phi * 2/4, d/dlog_std = u^2 - 1 = 0.
    pol = LinearGaussianPolicy(Polynomial(1, 1), act_dim=1)
    p = {"W": np.array([[1.0], [2.0]]), "log_std": np.array([math.log(2.0)])}
    obs = np.array([[3.0]])
    mean, ls = pol.dist_params(p, obs)
    np.testing.assert_allclose(mean, [[7.0]])
    np.testing.assert_allclose(ls, [[math.log(2.0)]])
    g = pol.score_sum(p, obs, np.array([[9.0]]), np.array([1.0]))
    np.testing.assert_allclose(g["W"], [[0.5], [1.5]], rtol=1e-15)
    np.testing.assert_allclose(g["log_std"], [0.0], atol=1e-15)
    np.testing.assert_allclose(pol.log_prob(p, obs, np.array([[9.0]])),
                               [-0.5 - math.log(2.0) - 0.5 * math.log(2 * math.pi)], rtol=1e-15)


# ----------------------------------------------------------------------------------------------
# Identities between parametrisations
# ----------------------------------------------------------------------------------------------

def test_tabular_equals_linear_onehot():
    # LinearSoftmax over one-hot state features with theta [S, A] is the tabular policy.
    rng = np.random.default_rng(0)
    tab, lin = TabularSoftmaxPolicy(5, 3), LinearSoftmaxPolicy(OneHot(5), 3)
    p = {"theta": rng.standard_normal((5, 3)) * 3}
    obs, act, w = rng.integers(0, 5, 9), rng.integers(0, 3, 9), rng.standard_normal(9)
    np.testing.assert_allclose(tab.log_prob(p, obs, act), lin.log_prob(p, obs, act), rtol=1e-15)
    np.testing.assert_allclose(tab.score_sum(p, obs, act, w)["theta"],
                               lin.score_sum(p, obs, act, w)["theta"], rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(tab.scores(p, obs, act), lin.scores(p, obs, act), rtol=1e-15)
    np.testing.assert_allclose(tab.entropy_grad(p, obs, w)["theta"],
                               lin.entropy_grad(p, obs, w)["theta"], rtol=1e-13, atol=1e-15)


def test_linear_score_formula_and_state_action_equivalence():
    # grad log pi(a|s) = phi(s, a) - sum_a' pi(a'|s) phi(s, a'),
    # with phi(s, a) = onehot(a) (x) phi(s);
    # the same policy as state features with theta [D, A] when theta_flat[a D + d] = theta[d, a].
    rng = np.random.default_rng(1)
    base = Polynomial(2, 2)
    A, D = 3, base.dim
    sa = StateActionFeatures(base, A)
    pol_s, pol_sa = LinearSoftmaxPolicy(base, A), LinearSoftmaxPolicy(sa, A)
    theta = rng.standard_normal((D, A))
    p_s, p_sa = {"theta": theta}, {"theta": theta.T.reshape(-1)}
    obs, act = rng.standard_normal((6, 2)), rng.integers(0, A, 6)
    np.testing.assert_allclose(pol_s.probs(p_s, obs), pol_sa.probs(p_sa, obs), rtol=1e-13)
    phi = sa(obs)                                                         # [B, A, A D]
    pi = pol_sa.probs(p_sa, obs)
    want = phi[np.arange(6), act] - np.einsum("ba,bad->bd", pi, phi)
    np.testing.assert_allclose(pol_sa.scores(p_sa, obs, act), want, rtol=1e-12, atol=1e-14)
    # The state-feature scores [B, D, A] are the same numbers, transposed to [B, A, D].
    S_s = pol_s.scores(p_s, obs, act).reshape(6, D, A).transpose(0, 2, 1).reshape(6, -1)
    np.testing.assert_allclose(S_s, want, rtol=1e-12, atol=1e-14)


def test_log_std_is_clipped_and_gradient_stops_outside_bounds():
    pol = LinearGaussianPolicy(Polynomial(1, 1), act_dim=3)
    p = {"W": np.zeros((2, 3)), "log_std": np.array([LOG_STD_MIN - 5, 0.3, LOG_STD_MAX + 5])}
    obs, act = np.array([[0.5], [-1.0]]), np.array([[1.0, 1.0, 1.0], [0.0, 2.0, -3.0]])
    _, ls = pol.dist_params(p, obs)
    np.testing.assert_array_equal(ls[0], [LOG_STD_MIN, 0.3, LOG_STD_MAX])
    g = pol.score_sum(p, obs, act, np.ones(2))
    assert g["log_std"][0] == 0.0 and g["log_std"][2] == 0.0 and g["log_std"][1] != 0.0
    assert np.all(np.isfinite(pol.log_prob(p, obs, act)))
    assert np.all(np.isfinite(pol.scores(p, obs, act)))
    # Entropy gradient: d/dlog_std sum_b H = B inside the bounds, 0 outside; 0 for W.
    ge = pol.entropy_grad(p, obs)
    np.testing.assert_array_equal(ge["log_std"], [0.0, 2.0, 0.0])
    np.testing.assert_array_equal(ge["W"], 0.0)


def test_extreme_tabular_logits_stay_finite():
    pol = TabularSoftmaxPolicy(2, 3)
    p = {"theta": np.array([[1000.0, -1000.0, 0.0], [-1000.0, -1000.0, -1000.0]])}
    obs, act = np.array([0, 1, 0]), np.array([1, 2, 0])
    for out in (pol.log_prob(p, obs, act), pol.entropy(p, obs), pol.scores(p, obs, act),
                *pol.entropy_grad(p, obs).values(),
                *pol.score_sum(p, obs, act, np.ones(3)).values()):
        assert np.all(np.isfinite(out))
    assert pol.log_prob(p, obs, act)[0] == pytest.approx(-2000.0)


# ----------------------------------------------------------------------------------------------
# Finite differences (float64, 200 examples each)
# ----------------------------------------------------------------------------------------------

@st.composite
def tabular_case(draw):
    s, a, b = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 4))
    theta = draw(_f64((s, a), 1000.0))                                    # logits up to +-1000
    obs = draw(hnp.arrays(np.int64, (b,), elements=st.integers(0, s - 1)))
    act = draw(hnp.arrays(np.int64, (b,), elements=st.integers(0, a - 1)))
    return TabularSoftmaxPolicy(s, a), {"theta": theta}, obs, act, draw(_f64((b,), 2.0))


@FD
@given(tabular_case())
def test_fd_tabular_extreme_logits(case):
    pol, p, obs, act, w = case
    check_grad(lambda q: w @ pol.log_prob(q, obs, act), pol.score_sum(p, obs, act, w), p)
    check_grad(lambda q: w @ pol.entropy(q, obs), pol.entropy_grad(p, obs, w), p)
    check_grad(lambda q: pol.log_prob(q, obs, act)[0],
               unflatten(pol.scores(p, obs, act)[0], p), p)


@FD
@given(st.integers(0, 2 ** 32 - 1))
def test_fd_linear_softmax_state_action_features(seed):
    rng = np.random.default_rng(seed)
    pol = LinearSoftmaxPolicy(StateActionFeatures(Polynomial(1, 1), 2), 2)
    p = {"theta": rng.standard_normal(4) * 3}
    obs, act, w = rng.standard_normal((3, 1)), rng.integers(0, 2, 3), rng.standard_normal(3)
    old = pol.dist_params({"theta": rng.standard_normal(4)}, obs)
    check_grad(lambda q: w @ pol.log_prob(q, obs, act), pol.score_sum(p, obs, act, w), p)
    check_grad(lambda q: w @ pol.entropy(q, obs), pol.entropy_grad(p, obs, w), p)
    check_grad(lambda q: w @ pol.kl(q, obs, old), pol.kl_grad(p, obs, old, w), p)


@FD
@given(st.integers(0, 2 ** 32 - 1))
def test_fd_linear_gaussian_per_sample_scores(seed):
    rng = np.random.default_rng(seed)
    pol = LinearGaussianPolicy(Polynomial(1, 1), act_dim=2)
    p = {"W": rng.standard_normal((2, 2)), "log_std": rng.uniform(-1.5, 1.0, 2)}
    obs, act = rng.standard_normal((3, 1)), rng.standard_normal((3, 2)) * 2
    S = pol.scores(p, obs, act)
    for b in range(3):
        check_grad(lambda q: pol.log_prob(q, obs, act)[b], unflatten(S[b], p), p)
    np.testing.assert_allclose(flatten(pol.score_sum(p, obs, act, np.ones(3))), S.sum(0),
                               rtol=1e-12, atol=1e-14)


# ----------------------------------------------------------------------------------------------
# Construction and validation
# ----------------------------------------------------------------------------------------------

def test_constructors_store_hyperparameters_and_validate():
    pol = TabularSoftmaxPolicy(3, 2)
    assert vars(pol) == {"n_states": 3, "n_actions": 2}
    assert "TabularSoftmaxPolicy(n_states=3" in repr(pol)
    with pytest.raises(ValueError, match="n_states"):
        TabularSoftmaxPolicy(0, 2)
    with pytest.raises(TypeError, match="n_actions"):
        TabularSoftmaxPolicy(3, 2.0)
    with pytest.raises(TypeError, match="features"):
        LinearSoftmaxPolicy(np.zeros(3), 2)
    with pytest.raises(TypeError, match="features"):
        LinearGaussianPolicy(StateActionFeatures(OneHot(2), 2), 1)
    with pytest.raises(ValueError, match="log_std_init"):
        LinearGaussianPolicy(OneHot(2), 1, log_std_init=5.0)
    with pytest.raises(TypeError, match="rng"):
        pol.init(None)


def test_params_validation():
    pol = LinearGaussianPolicy(Polynomial(2, 1), act_dim=2)
    p = pol.init(0)
    obs = np.zeros((2, 2))
    with pytest.raises(ValueError, match="params must have keys"):
        pol.entropy({"W": p["W"]}, obs)
    with pytest.raises(ValueError, match=r"params\['W'\] must have shape"):
        pol.entropy({"W": p["W"][:1], "log_std": p["log_std"]}, obs)
    with pytest.raises(TypeError, match=r"params\['log_std'\] must have the dtype"):
        pol.entropy({"W": p["W"], "log_std": p["log_std"].astype(np.float32)}, obs)
    with pytest.raises(TypeError, match=r"params\['W'\] must be a real floating"):
        pol.entropy({"W": p["W"].astype(np.int64), "log_std": p["log_std"]}, obs)
    with pytest.raises(ValueError, match="old_dist_params"):
        pol.kl(p, obs, (np.zeros((2, 2)),))
