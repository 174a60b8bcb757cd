"""Critics: hand-derived losses, finite differences (NumPy) and equal results on every backend,
identities, bad input."""

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from npg import strategies as nst
from npg.backend import to_numpy
from npg.testing import check_grad
from npg.values import LinearQ, LinearValue, MLPQ, MLPValue, TabularQ, TabularValue

FD = settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                       HealthCheck.filter_too_much])


class Raw:
    """Test feature map phi(s) = s (float obs [B, D] -> [B, D]); npg.features is tested apart."""

    def __init__(self, dim):
        self.dim = dim

    def __call__(self, obs):
        return obs

    def __repr__(self):
        return f"Raw({self.dim})"


def _on(xp, tree):
    return {k: xp.asarray(v) for k, v in tree.items()}


def _np_tree(tree):
    return {k: np.asarray(to_numpy(v)) for k, v in tree.items()}


def _fd_check(xp, critic, params, args):
    """loss_grad on backend xp: central differences of its loss against its grads on NumPy, and
    on any other backend the same loss and grads as NumPy's (to 1e-12), which is the same check
    without 2P loss evaluations on a slow namespace."""
    loss, grads = critic.loss_grad(_on(xp, params), *[xp.asarray(a) for a in args])
    assert float(loss) >= 0.0
    if xp is not np:
        ref_loss, ref_grads = critic.loss_grad(_on(np, params), *[np.asarray(a) for a in args])
        np.testing.assert_allclose(float(loss), float(ref_loss), rtol=1e-12, atol=1e-300)
        for k, g in _np_tree(grads).items():
            np.testing.assert_allclose(g, ref_grads[k], rtol=1e-12, atol=1e-14, err_msg=k)
        return
    check_grad(lambda p: float(critic.loss_grad(_on(np, p), *args)[0]), _np_tree(grads),
               params)


def _relu_margin(params, obs, critic):
    """min |pre-activation| over hidden units: FD is only valid away from relu's kink at 0."""
    h, margin = obs, np.inf
    L = len(critic.hidden) + 1
    for l in range(1, L):
        a = h @ params[f"W{l}"] + params[f"b{l}"]
        margin = min(margin, float(np.min(np.abs(a))))
        h = np.maximum(a, 0.0)
    return margin


# ------------------------------------------------------------------ finite differences

@FD
@given(data=st.data(), S=nst.sizes(1, 4), B=nst.sizes(1, 4))
def test_fd_tabular_value(xp, data, S, B):
    critic = TabularValue(S)
    params = data.draw(nst.params({"v": (S,)}, bound=5.0))
    obs = data.draw(nst.discrete_observations(B, S))
    y = data.draw(nst.box_observations(1, B, bound=5.0))[0]
    _fd_check(xp, critic, params, (obs, y))


@FD
@given(data=st.data(), S=nst.sizes(1, 3), A=nst.sizes(1, 3), B=nst.sizes(1, 4))
def test_fd_tabular_q(xp, data, S, A, B):
    critic = TabularQ(S, A)
    params = data.draw(nst.params({"q": (S, A)}, bound=5.0))
    obs = data.draw(nst.discrete_observations(B, S))
    act = data.draw(nst.discrete_actions(B, A))
    y = data.draw(nst.box_observations(1, B, bound=5.0))[0]
    _fd_check(xp, critic, params, (obs, act, y))


@FD
@given(data=st.data(), D=nst.sizes(1, 4), B=nst.sizes(1, 4))
def test_fd_linear_value(xp, data, D, B):
    critic = LinearValue(Raw(D))
    params = data.draw(nst.params({"w": (D,)}, bound=5.0))
    obs = data.draw(nst.box_observations(B, D, bound=3.0))
    y = data.draw(nst.box_observations(1, B, bound=5.0))[0]
    _fd_check(xp, critic, params, (obs, y))


@FD
@given(data=st.data(), D=nst.sizes(1, 3), A=nst.sizes(1, 3), B=nst.sizes(1, 4))
def test_fd_linear_q(xp, data, D, A, B):
    critic = LinearQ(Raw(D), A)
    params = data.draw(nst.params({"W": (D, A)}, bound=5.0))
    obs = data.draw(nst.box_observations(B, D, bound=3.0))
    act = data.draw(nst.discrete_actions(B, A))
    y = data.draw(nst.box_observations(1, B, bound=5.0))[0]
    _fd_check(xp, critic, params, (obs, act, y))


HIDDEN = st.sampled_from([(2,), (3,), (2, 2)])
ACTIVATION = st.sampled_from(["tanh", "relu"])


def _mlp_params(data, critic):
    shapes = {}
    sizes = (critic.obs_dim,) + critic.hidden + (critic._sizes[-1],)
    for l in range(1, len(sizes)):
        shapes[f"W{l}"], shapes[f"b{l}"] = (sizes[l - 1], sizes[l]), (sizes[l],)
    return data.draw(nst.params(shapes, bound=2.0))


@FD
@given(data=st.data(), D=nst.sizes(1, 3), B=nst.sizes(1, 3), hidden=HIDDEN, act_fn=ACTIVATION)
def test_fd_mlp_value(xp, data, D, B, hidden, act_fn):
    critic = MLPValue(D, hidden, act_fn)
    params = _mlp_params(data, critic)
    obs = data.draw(nst.box_observations(B, D, bound=2.0))
    if act_fn == "relu":
        assume(_relu_margin(params, obs, critic) > 1e-3)
    y = data.draw(nst.box_observations(1, B, bound=3.0))[0]
    _fd_check(xp, critic, params, (obs, y))


@FD
@given(data=st.data(), D=nst.sizes(1, 3), A=nst.sizes(1, 3), B=nst.sizes(1, 3), hidden=HIDDEN,
       act_fn=ACTIVATION)
def test_fd_mlp_q(xp, data, D, A, B, hidden, act_fn):
    critic = MLPQ(D, A, hidden, act_fn)
    params = _mlp_params(data, critic)
    obs = data.draw(nst.box_observations(B, D, bound=2.0))
    if act_fn == "relu":
        assume(_relu_margin(params, obs, critic) > 1e-3)
    act = data.draw(nst.discrete_actions(B, A))
    y = data.draw(nst.box_observations(1, B, bound=3.0))[0]
    _fd_check(xp, critic, params, (obs, act, y))


# ------------------------------------------------------------------ hand-derived values

def test_tabular_value_by_hand(xp):
    # v = [0, 1, 2, 3], states [0, 1, 1, 3] -> V = [0, 1, 1, 3]; y = 1 -> errors [-1, 0, 0, 2]
    # loss = (1 + 0 + 0 + 4) / (2*4) = 0.625
    # grad v[s] = sum of errors at s / B: v[0]: -1/4, v[1]: (0 + 0)/4, v[2]: 0, v[3]: 2/4
    critic = TabularValue(4)
    loss, g = critic.loss_grad({"v": xp.asarray([0.0, 1.0, 2.0, 3.0])}, xp.asarray([0, 1, 1, 3]),
                               xp.ones(4, dtype=xp.float64))
    assert float(loss) == 0.625
    np.testing.assert_array_equal(to_numpy(g["v"]), [-0.25, 0.0, 0.0, 0.5])


def test_tabular_q_by_hand(xp):
    # q = [[0, 1], [2, 3]]; (s, a) = (1, 0), (1, 1), (0, 1): Q = [2, 3, 1]; y = [1, 1, 1]
    # errors [1, 2, 0]; loss = (1 + 4 + 0) / 6 = 5/6
    # grad q[1, 0] = 1/3, grad q[1, 1] = 2/3, grad q[0, 1] = 0/3, grad q[0, 0] = 0
    critic = TabularQ(2, 2)
    params = {"q": xp.asarray([[0.0, 1.0], [2.0, 3.0]])}
    loss, g = critic.loss_grad(params, xp.asarray([1, 1, 0]), xp.asarray([0, 1, 1]),
                               xp.asarray([1.0, 1.0, 1.0]))
    np.testing.assert_allclose(float(loss), 5 / 6, rtol=1e-15)
    np.testing.assert_allclose(to_numpy(g["q"]), [[0.0, 0.0], [1 / 3, 2 / 3]], rtol=1e-15)
    np.testing.assert_array_equal(to_numpy(critic.value(params, xp.asarray([1, 0]),
                                                        xp.asarray([1, 0]))), [3.0, 0.0])


def test_linear_value_by_hand(xp):
    # phi = [[1, 2], [0, 1]], w = [1, -1]: V = [-1, -1]; y = [1, -2]: errors [-2, 1]
    # loss = (4 + 1) / 4 = 1.25;  grad w = phi^T err / B = ([-2, -4] + [0, 1]) / 2 = [-1, -1.5]
    critic = LinearValue(Raw(2))
    loss, g = critic.loss_grad({"w": xp.asarray([1.0, -1.0])},
                               xp.asarray([[1.0, 2.0], [0.0, 1.0]]), xp.asarray([1.0, -2.0]))
    assert float(loss) == 1.25
    np.testing.assert_array_equal(to_numpy(g["w"]), [-1.0, -1.5])


def test_mlp_value_with_zero_output_layer_by_hand(xp):
    # With W2 = 0 and b2 = 0.5, V(s) = 0.5 for every s, and dL/db2 = mean(V - y), dL/dW2 =
    # mean_b (V - y) h_b, dL/dW1 = dL/db1 = 0 (the only path to layer 1 is through W2 = 0).
    critic = MLPValue(2, (3,), "tanh")
    params = _on(xp, {k: np.asarray(to_numpy(v)) for k, v in critic.init(0).items()})
    params["W2"] = xp.zeros((3, 1), dtype=xp.float64)
    params["b2"] = xp.asarray([0.5])
    obs = xp.asarray([[0.1, 0.2], [-0.3, 0.4]])
    y = xp.asarray([1.5, -0.5])                              # errors [-1, 1]: mean 0
    loss, g = critic.loss_grad(params, obs, y)
    assert float(loss) == 0.5                                # (1 + 1) / 4
    h = np.tanh(to_numpy(obs) @ to_numpy(params["W1"]))
    np.testing.assert_allclose(to_numpy(g["W2"])[:, 0], (h[1] - h[0]) / 2, rtol=1e-14)
    np.testing.assert_array_equal(to_numpy(g["b2"]), [0.0])
    assert not np.any(to_numpy(g["W1"])) and not np.any(to_numpy(g["b1"]))


# ------------------------------------------------------------------ identities

def test_tabular_equals_linear_with_one_hot_features(xp):
    from npg.features import OneHot        # written by the features engineer (npg/features.py)
    rng = np.random.default_rng(3)
    S, A, B = 5, 3, 9
    obs, act = xp.asarray(rng.integers(0, S, B)), xp.asarray(rng.integers(0, A, B))
    y = xp.asarray(rng.standard_normal(B))
    v, q = rng.standard_normal(S), rng.standard_normal((S, A))
    lt, gt = TabularValue(S).loss_grad({"v": xp.asarray(v)}, obs, y)
    ll, gl = LinearValue(OneHot(S)).loss_grad({"w": xp.asarray(v)}, obs, y)
    np.testing.assert_allclose(float(lt), float(ll), rtol=1e-14)
    np.testing.assert_allclose(to_numpy(gt["v"]), to_numpy(gl["w"]), rtol=1e-14, atol=1e-16)
    lt, gt = TabularQ(S, A).loss_grad({"q": xp.asarray(q)}, obs, act, y)
    ll, gl = LinearQ(OneHot(S), A).loss_grad({"W": xp.asarray(q)}, obs, act, y)
    np.testing.assert_allclose(float(lt), float(ll), rtol=1e-14)
    np.testing.assert_allclose(to_numpy(gt["q"]), to_numpy(gl["W"]), rtol=1e-14, atol=1e-16)


def test_q_with_one_action_is_a_state_value(xp):
    # With A = 1 every action is 0, so Q(s, 0) is a V critic with the same parameters.
    rng = np.random.default_rng(4)
    vq, vv = MLPQ(3, 1, (4,)), MLPValue(3, (4,))
    params = _on(xp, {k: np.asarray(to_numpy(p)) for k, p in vv.init(rng).items()})
    obs, y = xp.asarray(rng.standard_normal((6, 3))), xp.asarray(rng.standard_normal(6))
    lq, gq = vq.loss_grad(params, obs, xp.zeros(6, dtype=xp.int64), y)
    lv, gv = vv.loss_grad(params, obs, y)
    assert float(lq) == float(lv)
    for k in params:
        np.testing.assert_array_equal(to_numpy(gq[k]), to_numpy(gv[k]))


@pytest.mark.parametrize("make", [lambda: (TabularQ(4, 3), "int"), lambda: (LinearQ(Raw(2), 3),
                                                                           "box"),
                                  lambda: (MLPQ(2, 3, (4,), "relu"), "box")])
def test_q_value_gathers_forward_and_loss_is_half_mse(xp, make):
    critic, kind = make()
    rng = np.random.default_rng(5)
    params = {k: np.asarray(to_numpy(v)) for k, v in critic.init(rng).items()}
    params = _on(xp, {k: v + rng.standard_normal(v.shape) for k, v in params.items()})
    obs = xp.asarray(rng.integers(0, 4, 6) if kind == "int" else rng.standard_normal((6, 2)))
    act = xp.asarray(rng.integers(0, 3, 6))
    q = to_numpy(critic.forward(params, obs)[0])
    qa = to_numpy(critic.value(params, obs, act))
    np.testing.assert_array_equal(qa, q[np.arange(6), to_numpy(act)])
    y = rng.standard_normal(6)
    loss = critic.loss_grad(params, obs, act, xp.asarray(y))[0]
    np.testing.assert_allclose(float(loss), 0.5 * np.mean((qa - y) ** 2), rtol=1e-13)


# ------------------------------------------------------------------ contracts

CRITICS = {
    "tabular_v": (lambda: TabularValue(4), "int", False),
    "tabular_q": (lambda: TabularQ(4, 2), "int", True),
    "linear_v": (lambda: LinearValue(Raw(3)), "box", False),
    "linear_q": (lambda: LinearQ(Raw(3), 2), "box", True),
    "mlp_v": (lambda: MLPValue(3, (5, 4)), "box", False),
    "mlp_q": (lambda: MLPQ(3, 2, (5,), "relu"), "box", True),
}


def _batch(xp, kind, rng, dtype, B=5):
    obs = rng.integers(0, 4, B) if kind == "int" else rng.standard_normal((B, 3))
    obs = xp.asarray(obs) if kind == "int" else xp.asarray(obs, dtype=dtype)
    return obs, xp.asarray(rng.integers(0, 2, B)), xp.asarray(rng.standard_normal(B),
                                                              dtype=dtype)


@pytest.mark.parametrize("name", list(CRITICS))
def test_contract_keys_shapes_dtype_repeatable(xp, name):
    make, kind, is_q = CRITICS[name]
    critic = make()
    rng = np.random.default_rng(6)
    for dtype in (xp.float32, xp.float64):
        params = {k: xp.asarray(np.asarray(to_numpy(v)) + rng.standard_normal(v.shape),
                                dtype=dtype) for k, v in critic.init(0).items()}
        obs, act, y = _batch(xp, kind, rng, dtype)
        args = (obs, act, y) if is_q else (obs, y)
        loss, grads = critic.loss_grad(params, *args)
        assert list(grads) == list(params)
        assert loss.dtype == dtype
        for k in params:
            assert grads[k].shape == params[k].shape and grads[k].dtype == dtype
        loss2, grads2 = critic.loss_grad(params, *args)
        assert float(loss2) == float(loss)
        for k in params:
            np.testing.assert_array_equal(to_numpy(grads2[k]), to_numpy(grads[k]))
        v = critic.value(params, *args[:-1])
        assert v.shape == (5,) and v.dtype == dtype


@pytest.mark.parametrize("name", list(CRITICS))
def test_contract_zero_error_gives_zero_gradient(xp, name):
    make, kind, is_q = CRITICS[name]
    critic = make()
    rng = np.random.default_rng(7)
    params = _on(xp, {k: np.asarray(to_numpy(v)) + rng.standard_normal(v.shape)
                      for k, v in critic.init(1).items()})
    obs, act, _ = _batch(xp, kind, rng, xp.float64)
    y = critic.value(params, obs, act) if is_q else critic.value(params, obs)
    loss, grads = critic.loss_grad(params, *((obs, act, y) if is_q else (obs, y)))
    assert float(loss) == 0.0
    assert all(not np.any(to_numpy(g)) for g in grads.values())


def test_init_is_seeded():
    a, b, c = MLPValue(3, (4,)).init(0), MLPValue(3, (4,)).init(0), MLPValue(3, (4,)).init(1)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["W1"], c["W1"])
    o = MLPQ(4, 2, (4,)).init(np.random.default_rng(0), orthogonal=True)
    np.testing.assert_allclose(o["W1"].T @ o["W1"], (5 / 3) ** 2 * np.eye(4), atol=1e-12)
    assert TabularQ(3, 2).init(0, dtype="float32")["q"].dtype == np.float32


def test_extreme_legal_inputs_stay_finite():
    critic = MLPValue(2, (3,))
    params = critic.init(0)
    loss, g = critic.loss_grad(params, np.array([[1e6, -1e6]]), np.array([1e6]))
    assert np.isfinite(float(loss)) and all(np.all(np.isfinite(v)) for v in g.values())


# ------------------------------------------------------------------ bad input

def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="hidden"):
        MLPValue(3, (4, 0))
    with pytest.raises(TypeError, match="hidden"):
        MLPQ(3, 2, "64")
    with pytest.raises(ValueError, match="activation"):
        MLPValue(3, (4,), "sigmoid")
    with pytest.raises(ValueError, match="n_states"):
        TabularValue(0)
    with pytest.raises(TypeError, match="n_actions"):
        TabularQ(3, 2.0)
    with pytest.raises(TypeError, match="features"):
        LinearValue(3)
    with pytest.raises(ValueError, match="obs_dim"):
        MLPQ(-1, 2)


def test_bad_inputs_name_the_argument(xp):
    tab, q, mlp = TabularValue(3), TabularQ(3, 2), MLPValue(2, (3,))
    pt, pq = _on(xp, tab.init(0)), _on(xp, q.init(0))
    pm = _on(xp, mlp.init(0))
    s, y = xp.asarray([0, 2]), xp.asarray([0.0, 1.0])
    with pytest.raises(ValueError, match="obs"):
        tab.loss_grad(pt, xp.asarray([0, 3]), y)                  # state out of range
    with pytest.raises(TypeError, match="obs"):
        tab.loss_grad(pt, xp.asarray([0.0, 1.0]), y)              # float states
    with pytest.raises(ValueError, match="target"):
        tab.loss_grad(pt, s, xp.asarray([0.0, 1.0, 2.0]))         # wrong target length
    with pytest.raises(ValueError, match="target"):
        tab.loss_grad(pt, s, xp.asarray([0.0, float("nan")]))
    with pytest.raises(ValueError, match="act"):
        q.loss_grad(pq, s, xp.asarray([0, 2]), y)                 # action out of range
    with pytest.raises(TypeError, match="act"):
        q.loss_grad(pq, s, xp.asarray([0.0, 1.0]), y)             # float actions
    with pytest.raises(ValueError, match="act"):
        q.value(pq, s, xp.asarray([0]))                           # wrong action count
    with pytest.raises(ValueError, match="obs"):
        mlp.loss_grad(pm, xp.ones((2, 3)), y)                     # wrong obs width
    with pytest.raises(ValueError, match="obs"):
        mlp.loss_grad(pm, xp.asarray([[0.0, float("inf")], [0.0, 0.0]]), y)
    with pytest.raises(ValueError, match="params"):
        mlp.loss_grad({**pm, "W1": pm["W1"] * float("nan")}, xp.ones((2, 2)), y)
    with pytest.raises(ValueError, match="params"):
        tab.loss_grad({"w": pt["v"]}, s, y)                       # wrong key
    with pytest.raises(ValueError, match=r"params\['v'\]"):
        tab.loss_grad({"v": xp.zeros(4, dtype=xp.float64)}, s, y) # wrong shape


def test_linear_critics_pass_features_errors_through(xp):
    from npg.features import OneHot, Polynomial
    lin, lq = LinearValue(Polynomial(obs_dim=2, degree=1)), LinearQ(OneHot(3), 2)
    pl, pq = _on(xp, lin.init(0)), _on(xp, lq.init(0))
    y = xp.asarray([0.0, 1.0])
    with pytest.raises(ValueError, match="obs"):
        lin.loss_grad(pl, xp.ones((2, 3)), y)
    with pytest.raises(ValueError, match="obs"):
        lq.loss_grad(pq, xp.asarray([0, 5]), xp.asarray([0, 1]), y)
    with pytest.raises(ValueError, match=r"params\['W'\]"):
        lq.loss_grad({"W": xp.zeros((3, 3), dtype=xp.float64)}, xp.asarray([0, 1]),
                     xp.asarray([0, 1]), y)
