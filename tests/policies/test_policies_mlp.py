"""MLP policies and the shared-trunk actor-critic: what the generic contract tests do not cover.

The shared trunk's two-headed vjp against finite differences of a combined loss, the value head,
the Gaussian's state-independent log_std (clipping and its gradient), identities with npg.nn,
initialisation, and bad constructor arguments.
"""

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from npg import nn
from npg.backend import to_numpy, use_backend
from npg.distributions import categorical
from npg.distributions.gaussian import LOG_STD_MAX, LOG_STD_MIN
from npg.params import allclose_tree
from npg.policies import MLPCategoricalPolicy, MLPGaussianPolicy, SharedActorCritic
from npg.testing import check_grad

FD = settings(max_examples=200)


def _np(x):
    return np.asarray(to_numpy(x))


def _on(xp, params, dtype="float64"):
    return {k: xp.asarray(np.asarray(v), dtype=getattr(xp, dtype)) for k, v in params.items()}


def _trunk_preacts(params, obs, n_hidden, activation):
    """Pre-activations of every trunk layer, recomputed plainly with NumPy."""
    out, h = [], obs
    for l in range(1, n_hidden + 1):
        a = h @ params[f"W{l}"] + params[f"b{l}"]
        out.append(a)
        h = np.tanh(a) if activation == "tanh" else np.maximum(a, 0.0)
    return out


# ----------------------------------------------------------------------------------------------
# Shared trunk: FD of L = alpha * sum_b log pi(a_b|s_b) + beta * sum_b V(s_b)^2
# ----------------------------------------------------------------------------------------------

@FD
@given(seed=st.integers(0, 2**32 - 1), hidden=st.lists(st.integers(1, 3), min_size=1, max_size=2),
       obs_dim=st.integers(1, 3), n_actions=st.integers(1, 3), B=st.integers(1, 3),
       activation=st.sampled_from(["tanh", "relu"]), alpha=st.floats(-2.0, 2.0),
       beta=st.floats(-2.0, 2.0), scale=st.sampled_from([0.3, 1.0, 2.0]))
def test_shared_trunk_vjp_matches_fd_of_combined_loss(seed, hidden, obs_dim, n_actions, B,
                                                      activation, alpha, beta, scale):
    rng = np.random.default_rng(seed)
    pol = SharedActorCritic(obs_dim, n_actions, hidden, activation)
    params = {k: v + scale * rng.standard_normal(v.shape) for k, v in pol.init(rng).items()}
    obs = rng.standard_normal((B, obs_dim))
    act = rng.integers(0, n_actions, B)
    if activation == "relu":
        assume(all(np.min(np.abs(a)) > 1e-3
                   for a in _trunk_preacts(params, obs, len(hidden), activation)))

    def loss(p):
        (z, v), _ = pol.forward_both(p, obs)
        return alpha * float(np.sum(categorical.log_prob(z, act))) + beta * float(np.sum(v * v))

    (z, v), vjp = pol.forward_both(params, obs)
    # dL/dz = alpha (onehot(a) - softmax(z)),  dL/dv = 2 beta v
    grads = vjp(alpha * categorical.log_prob_grad(z, act), 2.0 * beta * v)
    assert list(grads) == list(params)
    check_grad(loss, grads, params)


def test_shared_hand_values_identity_trunk():
    # obs_dim 1, hidden (1,), identity trunk: h = x W1 + b1, v = h W_v + b_v.
    # W1 = 2, b1 = 1, W_v = 3, b_v = -1, x = 0.5:  h = 2, v = 5.
    # dv/dW_v = h = 2, dv/db_v = 1, dv/dh = W_v = 3, dv/dW1 = x * 3 = 1.5, dv/db1 = 3;
    # the policy head gets nothing from d_v.
    pol = SharedActorCritic(1, 2, (1,), "identity")
    p = {"W1": np.array([[2.0]]), "b1": np.array([1.0]), "W_pi": np.array([[1.0, -1.0]]),
         "b_pi": np.zeros(2), "W_v": np.array([[3.0]]), "b_v": np.array([-1.0])}
    (z, v), vjp = pol.forward_both(p, np.array([[0.5]]))
    np.testing.assert_array_equal(v, [5.0])
    np.testing.assert_array_equal(z, [[2.0, -2.0]])
    g = vjp(None, np.ones(1))
    want = {"W1": [[1.5]], "b1": [3.0], "W_pi": [[0.0, 0.0]], "b_pi": [0.0, 0.0],
            "W_v": [[2.0]], "b_v": [1.0]}
    for k, val in want.items():
        np.testing.assert_array_equal(g[k], val)


def test_shared_value_head_and_linearity_of_the_two_heads(xp):
    rng = np.random.default_rng(4)
    pol = SharedActorCritic(3, 4, (5, 6), "tanh")
    params = _on(xp, pol.init(rng, pi_gain=1.0))
    obs = xp.asarray(rng.standard_normal((7, 3)))
    d_z = xp.asarray(rng.standard_normal((7, 4)))
    d_v = xp.asarray(rng.standard_normal(7))
    # V(s) = trunk(s) W_v + b_v with the trunk's every layer activated
    h = nn.mlp_apply(params, obs, "tanh", out_activation="tanh")
    v_ref = _np(h) @ _np(params["W_v"])[:, 0] + _np(params["b_v"])[0]
    np.testing.assert_allclose(_np(pol.value(params, obs)), v_ref, rtol=1e-13, atol=1e-14)
    (z, v), vjp = pol.forward_both(params, obs)
    np.testing.assert_allclose(_np(z), _np(pol.forward(params, obs)[0]), rtol=0, atol=0)
    both, pi_only, v_only = vjp(d_z, d_v), vjp(d_z, None), vjp(None, d_v)
    # The policy-only vjp is the CategoricalPolicy one; it leaves the value head exactly zero.
    assert allclose_tree(pi_only, pol.forward(params, obs)[1](d_z), rtol=0.0)
    for k in ("W_v", "b_v"):
        assert not np.any(_np(pi_only[k]))
    for k in ("W_pi", "b_pi"):
        assert not np.any(_np(v_only[k]))
    for k in params:   # vjp is linear: the heads' contributions add
        np.testing.assert_allclose(_np(both[k]), _np(pi_only[k]) + _np(v_only[k]), rtol=1e-12,
                                   atol=1e-14)
    # per-sample gradients sum to the batch gradients, keys and shapes [B, *shape]
    per = vjp(d_z, d_v, per_sample=True)
    for k in params:
        assert tuple(per[k].shape) == (7,) + tuple(params[k].shape)
        np.testing.assert_allclose(_np(xp.sum(per[k], axis=0)), _np(both[k]), rtol=1e-12,
                                   atol=1e-13)
    zero = vjp(None, None)
    assert all(not np.any(_np(g)) for g in zero.values())


# ----------------------------------------------------------------------------------------------
# MLP categorical: identities with npg.nn and the categorical distribution
# ----------------------------------------------------------------------------------------------

def test_mlp_categorical_is_softmax_of_the_network(xp):
    rng = np.random.default_rng(5)
    pol = MLPCategoricalPolicy(4, 3, (8, 8), "relu")
    params = _on(xp, pol.init(rng, out_gain=1.0))
    obs = xp.asarray(rng.standard_normal((6, 4)))
    act = xp.asarray(rng.integers(0, 3, 6))
    w = xp.asarray(rng.standard_normal(6))
    z, net_vjp = nn.mlp_forward(params, obs, "relu")
    np.testing.assert_allclose(_np(pol.probs(params, obs)), _np(categorical.softmax(z)),
                               rtol=1e-14, atol=1e-15)
    # score_sum = backprop of w_b (onehot(a_b) - pi_b) through the network
    want, _ = net_vjp(w[:, None] * categorical.log_prob_grad(z, act))
    assert allclose_tree(pol.score_sum(params, obs, act, w), want, rtol=1e-13, atol=1e-15)


def test_initial_policy_is_near_uniform_and_init_options():
    pol = MLPCategoricalPolicy(4, 2, (64, 64), "tanh", orthogonal=True)
    params = pol.init(0)
    obs = np.random.default_rng(0).standard_normal((50, 4))
    np.testing.assert_allclose(pol.probs(params, obs), 0.5, atol=0.05)  # out_gain 0.01
    W2 = params["W2"]
    np.testing.assert_allclose(W2.T @ W2, (5 / 3) ** 2 * np.eye(64), atol=1e-12)
    p32 = pol.init(0, dtype="float32")
    assert all(v.dtype == np.float32 for v in p32.values())
    with use_backend("array_api_strict") as xs:
        pa = pol.init(0)
    assert all(v.dtype == xs.float64 for v in pa.values())
    np.testing.assert_array_equal(_np(pa["W1"]), params["W1"])


# ----------------------------------------------------------------------------------------------
# MLP Gaussian: state-independent log_std
# ----------------------------------------------------------------------------------------------

def test_gaussian_log_std_is_state_independent_and_its_score(xp):
    rng = np.random.default_rng(6)
    pol = MLPGaussianPolicy(3, 2, (4,), "tanh", log_std_init=-0.5)
    params = _on(xp, pol.init(rng))
    np.testing.assert_array_equal(_np(params["log_std"]), [-0.5, -0.5])
    obs = xp.asarray(rng.standard_normal((5, 3)))
    act = xp.asarray(rng.standard_normal((5, 2)))
    w = xp.asarray(rng.standard_normal(5))
    (mean, log_std), _ = pol.forward(params, obs)
    assert tuple(log_std.shape) == (5, 2)
    np.testing.assert_array_equal(_np(log_std), -0.5)
    # grad_log_std sum_b w_b log pi = sum_b w_b (((a - mean)/sigma)^2 - 1), sigma = e^{-1/2}
    u = (_np(act) - _np(mean)) / math.exp(-0.5)
    want = _np(w) @ (u * u - 1.0)
    g = pol.score_sum(params, obs, act, w)
    np.testing.assert_allclose(_np(g["log_std"]), want, rtol=1e-12)
    assert list(g) == ["W1", "b1", "W2", "b2", "log_std"]
    # The entropy sum_b sum_k (log_std_k + (1 + log 2 pi)/2) has gradient B per dimension.
    np.testing.assert_allclose(_np(pol.entropy_grad(params, obs)["log_std"]), [5.0, 5.0])


def test_gaussian_log_std_clipped_with_zero_gradient_outside_bounds():
    rng = np.random.default_rng(7)
    pol = MLPGaussianPolicy(2, 3, (3,), "relu")
    params = pol.init(rng)
    params["log_std"] = np.array([LOG_STD_MIN - 5.0, 0.3, LOG_STD_MAX + 1.0])
    obs = rng.standard_normal((4, 2))
    act = rng.standard_normal((4, 3))
    (_, log_std), _ = pol.forward(params, obs)
    np.testing.assert_array_equal(log_std[0], [LOG_STD_MIN, 0.3, LOG_STD_MAX])
    g = pol.score_sum(params, obs, act, np.ones(4))
    assert g["log_std"][0] == 0.0 and g["log_std"][2] == 0.0 and g["log_std"][1] != 0.0
    lp = pol.log_prob(params, obs, act)       # sigma = e^-20 stays finite
    assert np.all(np.isfinite(lp)) and np.all(np.isfinite(g["W1"]))


@FD
@given(seed=st.integers(0, 2**32 - 1), log_std=st.floats(-3.0, 1.5), B=st.integers(1, 3))
def test_gaussian_log_std_score_fd(seed, log_std, B):
    rng = np.random.default_rng(seed)
    pol = MLPGaussianPolicy(2, 2, (2,), "tanh", log_std_init=log_std)
    params = {k: v + rng.standard_normal(v.shape) * (0.2 if k == "log_std" else 1.0)
              for k, v in pol.init(rng).items()}
    obs = rng.standard_normal((B, 2))
    act = rng.standard_normal((B, 2))
    w = rng.standard_normal(B)
    check_grad(lambda p: float(w @ pol.log_prob(p, obs, act)),
               pol.score_sum(params, obs, act, w), params)


# ----------------------------------------------------------------------------------------------
# Bad constructor arguments name the argument
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("cls", [MLPCategoricalPolicy, MLPGaussianPolicy, SharedActorCritic])
def test_bad_constructor_arguments(cls):
    with pytest.raises(ValueError, match=r"hidden\[1\]"):
        cls(3, 2, (4, 0))
    with pytest.raises(ValueError, match=r"hidden\[0\]"):
        cls(3, 2, (-1,))
    with pytest.raises(TypeError, match=r"hidden\[0\]"):
        cls(3, 2, (4.0,))
    with pytest.raises(TypeError, match="hidden"):
        cls(3, 2, 64)
    with pytest.raises(ValueError, match="activation"):
        cls(3, 2, (4,), "gelu")
    with pytest.raises(ValueError, match="obs_dim"):
        cls(0, 2, (4,))
    with pytest.raises(ValueError, match="n_actions|act_dim"):
        cls(3, 0, (4,))
    with pytest.raises(TypeError, match="orthogonal"):
        cls(3, 2, (4,), "tanh", orthogonal=1)
    with pytest.raises(TypeError, match="rng"):
        cls(3, 2, (4,)).init(None)
    with pytest.raises(TypeError, match="dtype"):
        cls(3, 2, (4,)).init(0, dtype="int32")


def test_bad_arguments_specific():
    with pytest.raises(ValueError, match="hidden"):
        SharedActorCritic(3, 2, ())
    assert MLPCategoricalPolicy(3, 2, ()).init(0)["W1"].shape == (3, 2)   # a linear softmax
    with pytest.raises(ValueError, match="log_std_init"):
        MLPGaussianPolicy(3, 2, (4,), log_std_init=5.0)
    with pytest.raises(TypeError, match="log_std_init"):
        MLPGaussianPolicy(3, 2, (4,), log_std_init="big")
    with pytest.raises(ValueError, match="pi_gain"):
        SharedActorCritic(3, 2, (4,)).init(0, pi_gain=0.0)
    pol = SharedActorCritic(3, 2, (4,))
    with pytest.raises(ValueError, match="obs"):
        pol.value(pol.init(0), np.zeros((2, 4)))
    with pytest.raises(ValueError, match="params"):
        pol.value({k: v * np.nan for k, v in pol.init(0).items()}, np.zeros((2, 3)))
