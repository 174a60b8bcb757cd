"""npg.nn: hand-written backward passes of dense layers, activations and the MLP.

Kinds: (1) hand-derived values, (2) identities between ops (MLP = composition of dense layers and
activations; per-sample grads sum to batch grads), (3) central finite differences in float64 with
hypothesis (200 examples each), plus init properties, backends and bad input.
"""

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from npg import nn
from npg.testing import check_grad

FD = settings(max_examples=200)


def _to_np(x):
    from npg.backend import to_numpy
    return np.asarray(to_numpy(x))


# ----------------------------------------------------------------------------------------------
# (1) Hand-derived values
# ----------------------------------------------------------------------------------------------

def test_tanh_hand_values():
    # tanh(0) = 0, tanh'(0) = 1 - 0^2 = 1; tanh(ln 2) = (2 - 1/2)/(2 + 1/2) = 3/5, so
    # tanh'(ln 2) = 1 - 9/25 = 16/25.
    y, vjp = nn.tanh(np.array([0.0, math.log(2.0)]))
    np.testing.assert_allclose(y, [0.0, 0.6], rtol=1e-15, atol=1e-15)
    np.testing.assert_allclose(vjp(np.array([1.0, 2.0])), [1.0, 2.0 * 16 / 25], rtol=1e-15)


def test_relu_and_identity_hand_values():
    # relu(-2, 0, 3) = (0, 0, 3); derivative [x > 0] = (0, 0, 1) (0 at the kink by convention).
    y, vjp = nn.relu(np.array([-2.0, 0.0, 3.0]))
    np.testing.assert_array_equal(y, [0.0, 0.0, 3.0])
    np.testing.assert_array_equal(vjp(np.array([5.0, 6.0, 7.0])), [0.0, 0.0, 7.0])
    y, vjp = nn.identity(np.array([1.5]))
    assert vjp(np.array([4.0]))[0] == 4.0 and y[0] == 1.5


def test_dense_hand_values():
    # x = [[1, 2]], W = [[1, 0, -1], [2, 1, 0]], b = [0, 1, 2]:  y = x W + b = [5, 3, 1].
    # With d_y = [[1, 1, 1]]: dW = x^T d_y = [[1,1,1],[2,2,2]], db = [1,1,1],
    # d_x = d_y W^T = [1 + 0 - 1, 2 + 1 + 0] = [0, 3].
    x = np.array([[1.0, 2.0]])
    p = {"W": np.array([[1.0, 0.0, -1.0], [2.0, 1.0, 0.0]]), "b": np.array([0.0, 1.0, 2.0])}
    y, vjp = nn.dense(p, x)
    np.testing.assert_array_equal(y, [[5.0, 3.0, 1.0]])
    g, d_x = vjp(np.ones((1, 3)))
    np.testing.assert_array_equal(g["W"], [[1, 1, 1], [2, 2, 2]])
    np.testing.assert_array_equal(g["b"], [1, 1, 1])
    np.testing.assert_array_equal(d_x, [[0.0, 3.0]])


def test_mlp_hand_values_one_hidden_unit():
    # 1 -> 1 -> 1 tanh MLP, W1 = ln 2, b1 = 0, W2 = 2, b2 = 1, x = 1:
    #   h = tanh(ln 2) = 3/5, y = 2 * 3/5 + 1 = 11/5.
    # dy/dW2 = h = 3/5, dy/db2 = 1, dy/dh = W2 = 2, dy/da = 2 (1 - 9/25) = 32/25,
    # dy/dW1 = x * 32/25 = 32/25, dy/db1 = 32/25, dy/dx = W1 * 32/25 = 32 ln 2 / 25.
    p = {"W1": np.array([[math.log(2.0)]]), "b1": np.zeros(1),
         "W2": np.array([[2.0]]), "b2": np.ones(1)}
    y, vjp = nn.mlp_forward(p, np.ones((1, 1)), "tanh")
    np.testing.assert_allclose(y, [[2.2]], rtol=1e-15)
    g, d_x = vjp(np.ones((1, 1)))
    want = {"W1": 32 / 25, "b1": 32 / 25, "W2": 0.6, "b2": 1.0}
    assert list(g) == ["W1", "b1", "W2", "b2"]
    for k, v in want.items():
        np.testing.assert_allclose(g[k], [[v]] if k[0] == "W" else [v], rtol=1e-14)
    np.testing.assert_allclose(d_x, [[32 * math.log(2.0) / 25]], rtol=1e-14)


# ----------------------------------------------------------------------------------------------
# (3) Central finite differences, float64, hypothesis
# ----------------------------------------------------------------------------------------------

dims = st.integers(1, 3)
seeds = st.integers(0, 2**32 - 1)


@FD
@given(B=dims, n_in=dims, n_out=dims, seed=seeds, scale=st.floats(0.1, 3.0))
def test_dense_fd(B, n_in, n_out, seed, scale):
    rng = np.random.default_rng(seed)
    p = {"W": scale * rng.standard_normal((n_in, n_out)), "b": rng.standard_normal(n_out),
         "x": rng.standard_normal((B, n_in))}
    c = rng.standard_normal((B, n_out))           # L = sum(c * y): dL/dy = c

    def loss(q):
        return float(np.sum(c * nn.dense(q, q["x"])[0]))
    g, d_x = nn.dense(p, p["x"])[1](c)
    check_grad(loss, {**g, "x": d_x}, p)


@FD
@given(name=st.sampled_from(nn.ACTIVATIONS), B=dims, n=dims, seed=seeds,
       scale=st.floats(0.01, 5.0))
def test_activation_fd(name, B, n, seed, scale):
    rng = np.random.default_rng(seed)
    x = scale * rng.standard_normal((B, n))
    assume(name != "relu" or np.min(np.abs(x)) > 1e-3)    # keep the FD step off the kink
    c = rng.standard_normal((B, n))
    f = nn.activation_fn(name)

    def loss(q):
        return float(np.sum(c * f(q["x"])[0]))
    check_grad(loss, {"x": f(x)[1](c)}, {"x": x})


def _preacts(params, x, activation):
    """Pre-activations a_1 .. a_{L-1} of the hidden layers, recomputed plainly."""
    out, h = [], x
    for l in range(1, nn.n_layers(params)):
        a = h @ params[f"W{l}"] + params[f"b{l}"]
        out.append(a)
        h = np.tanh(a) if activation == "tanh" else np.maximum(a, 0) if activation == "relu" else a
    return out


@FD
@given(sizes=st.lists(dims, min_size=2, max_size=4), B=dims, seed=seeds,
       activation=st.sampled_from(nn.ACTIVATIONS), out_activation=st.sampled_from(nn.ACTIVATIONS),
       ortho=st.booleans(), bias_scale=st.floats(0.0, 1.0))
def test_mlp_vjp_fd(sizes, B, seed, activation, out_activation, ortho, bias_scale):
    rng = np.random.default_rng(seed)
    p = nn.mlp_init(sizes, rng, activation, orthogonal=ortho)
    p = {k: v + bias_scale * rng.standard_normal(v.shape) if k[0] == "b" else v
         for k, v in p.items()}
    x = rng.standard_normal((B, sizes[0]))
    if "relu" in (activation, out_activation):
        acts = _preacts(p, x, activation)
        if out_activation == "relu":
            acts.append(nn.mlp_apply(p, x, activation))
        assume(all(np.min(np.abs(a)) > 1e-3 for a in acts if a.size))
    c = rng.standard_normal((B, sizes[-1]))

    def loss(q):
        return float(np.sum(c * nn.mlp_apply(q, q["x"], activation, out_activation)))
    g, d_x = nn.mlp_forward(p, x, activation, out_activation)[1](c)
    check_grad(loss, {**g, "x": d_x}, {**p, "x": x})


# ----------------------------------------------------------------------------------------------
# (2) Identities, on every backend
# ----------------------------------------------------------------------------------------------

def _params_on(xp, params, dtype="float64"):
    return {k: xp.asarray(np.asarray(v), dtype=getattr(xp, dtype)) for k, v in params.items()}


@pytest.mark.parametrize("activation", nn.ACTIVATIONS)
@pytest.mark.parametrize("seed", range(4))
def test_per_sample_grads_sum_to_batch_grads(xp, activation, seed):
    rng = np.random.default_rng(seed)
    sizes = (3, 5, 4, 2)
    B = 6
    p = _params_on(xp, nn.mlp_init(sizes, rng, activation))
    x = xp.asarray(rng.standard_normal((B, 3)))
    d_y = xp.asarray(rng.standard_normal((B, 2)))
    _, vjp = nn.mlp_forward(p, x, activation)
    g, d_x = vjp(d_y)
    gs, d_xs = vjp(d_y, per_sample=True)
    assert list(gs) == list(p)
    for k in p:
        assert tuple(gs[k].shape) == (B,) + tuple(p[k].shape)
        np.testing.assert_allclose(_to_np(xp.sum(gs[k], axis=0)), _to_np(g[k]),
                                   rtol=1e-12, atol=1e-13)
    np.testing.assert_array_equal(_to_np(d_xs), _to_np(d_x))
    # each sample's gradient is the batch gradient of that sample alone
    g0, _ = nn.mlp_forward(p, x[:1, :], activation)[1](d_y[:1, :])
    for k in p:
        np.testing.assert_allclose(_to_np(gs[k][0, ...]), _to_np(g0[k]), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("activation", nn.ACTIVATIONS)
def test_mlp_is_the_composition_of_dense_and_activations(xp, activation):
    rng = np.random.default_rng(1)
    p = _params_on(xp, nn.mlp_init((3, 4, 2), rng, activation))
    x = xp.asarray(rng.standard_normal((5, 3)))
    d_y = xp.asarray(rng.standard_normal((5, 2)))
    a1, vjp1 = nn.dense({"W": p["W1"], "b": p["b1"]}, x)
    h1, vjp_act = nn.activation_fn(activation)(a1)
    y, vjp2 = nn.dense({"W": p["W2"], "b": p["b2"]}, h1)
    g2, d_h1 = vjp2(d_y)
    g1, d_x = vjp1(vjp_act(d_h1))
    y_mlp, vjp = nn.mlp_forward(p, x, activation)
    g, d_x_mlp = vjp(d_y)
    np.testing.assert_allclose(_to_np(y_mlp), _to_np(y), rtol=1e-14, atol=1e-15)
    want = {"W1": g1["W"], "b1": g1["b"], "W2": g2["W"], "b2": g2["b"]}
    for k in want:
        np.testing.assert_allclose(_to_np(g[k]), _to_np(want[k]), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(_to_np(d_x_mlp), _to_np(d_x), rtol=1e-13, atol=1e-15)


def test_backends_agree_with_numpy_and_keep_dtype(xp):
    rng = np.random.default_rng(2)
    p_np = nn.mlp_init((4, 6, 3), rng, "tanh")
    x_np = rng.standard_normal((8, 4))
    d_np = rng.standard_normal((8, 3))
    y_ref, vjp_ref = nn.mlp_forward(p_np, x_np)
    g_ref, dx_ref = vjp_ref(d_np)
    for dtype, tol in (("float64", 1e-12), ("float32", 1e-5)):
        p = _params_on(xp, p_np, dtype)
        x = xp.asarray(x_np, dtype=getattr(xp, dtype))
        y, vjp = nn.mlp_forward(p, x)
        g, d_x = vjp(xp.asarray(d_np, dtype=getattr(xp, dtype)), input_grad=False)
        assert y.dtype == getattr(xp, dtype) and d_x is None
        np.testing.assert_allclose(_to_np(y), y_ref, rtol=tol, atol=tol)
        for k in p:
            assert g[k].dtype == getattr(xp, dtype)
            np.testing.assert_allclose(_to_np(g[k]), g_ref[k], rtol=tol, atol=tol)


def test_vjp_leaves_its_inputs_untouched_and_repeats_bitwise():
    rng = np.random.default_rng(3)
    p = nn.mlp_init((2, 3, 3, 2), rng, "tanh")
    x = rng.standard_normal((4, 2))
    d_y = rng.standard_normal((4, 2))
    keep = {k: v.copy() for k, v in p.items()}, x.copy(), d_y.copy()
    _, vjp = nn.mlp_forward(p, x)
    g1, dx1 = vjp(d_y)
    g2, dx2 = vjp(d_y)
    for k in p:
        np.testing.assert_array_equal(p[k], keep[0][k])
        np.testing.assert_array_equal(g1[k], g2[k])
    np.testing.assert_array_equal(x, keep[1])
    np.testing.assert_array_equal(d_y, keep[2])
    np.testing.assert_array_equal(dx1, dx2)


def test_extreme_inputs_stay_finite():
    # tanh saturates at +-1 for inputs of 1e6; its derivative 1 - y^2 is then exactly 0, not NaN.
    p = nn.mlp_init((2, 4, 2), 0, "tanh")
    x = np.array([[1e6, -1e6], [1e-300, 0.0]])
    y, vjp = nn.mlp_forward(p, x)
    g, d_x = vjp(np.ones_like(y))
    assert np.all(np.isfinite(y)) and np.all(np.isfinite(d_x))
    assert all(np.all(np.isfinite(v)) for v in g.values())


# ----------------------------------------------------------------------------------------------
# Initialisation
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (4, 4), (1, 6), (6, 1)])
def test_orthogonal_matrix_is_orthogonal(shape):
    W = nn.orthogonal_matrix(shape, np.random.default_rng(0), gain=2.0)
    assert W.shape == shape
    small = min(shape)
    gram = W.T @ W if shape[0] >= shape[1] else W @ W.T      # the [min, min] Gram matrix
    np.testing.assert_allclose(gram, 4.0 * np.eye(small), atol=1e-12)


def test_mlp_init_shapes_gains_and_seeds(xp):
    from npg.backend import use_backend
    with use_backend(xp):
        p = nn.mlp_init((4, 64, 64, 2), 7, "tanh", orthogonal=True, out_gain=0.01,
                        dtype="float32")
    assert list(p) == ["W1", "b1", "W2", "b2", "W3", "b3"]
    assert nn.mlp_sizes(p) == (4, 64, 64, 2)
    assert all(v.dtype == xp.float32 for v in p.values())
    W2 = _to_np(p["W2"]).astype(np.float64)
    np.testing.assert_allclose(W2.T @ W2, (5 / 3) ** 2 * np.eye(64), atol=1e-5)
    W3 = _to_np(p["W3"]).astype(np.float64)
    np.testing.assert_allclose(W3.T @ W3, 1e-4 * np.eye(2), atol=1e-9)
    np.testing.assert_array_equal(_to_np(p["b1"]), np.zeros(64))
    q = nn.mlp_init((4, 64, 64, 2), np.random.default_rng(7), "tanh", orthogonal=True,
                    out_gain=0.01, dtype="float32")
    for k in p:
        np.testing.assert_array_equal(_to_np(p[k]), np.asarray(q[k]))


def test_mlp_init_gaussian_scale():
    # std of W_l entries = gain / sqrt(n_in): relu gain sqrt(2), n_in = 400 -> std 0.0707.
    W = nn.mlp_init((400, 300, 1), 0, "relu")["W1"]
    assert abs(W.std() - math.sqrt(2.0) / 20.0) < 0.002
    assert abs(W.mean()) < 0.001


# ----------------------------------------------------------------------------------------------
# Bad input
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("sizes,err,word", [
    ((4, 0, 2), ValueError, r"sizes\[1\]"), ((4, -3, 2), ValueError, r"sizes\[1\]"),
    ((4, 2.5, 2), TypeError, r"sizes\[1\]"), ((4,), ValueError, "sizes"),
    (4, TypeError, "sizes"), ("42", TypeError, "sizes"), ((4, True, 2), TypeError, r"sizes\[1\]")])
def test_bad_sizes(sizes, err, word):
    with pytest.raises(err, match=word):
        nn.mlp_init(sizes, 0)


def test_bad_activation_and_gain():
    with pytest.raises(ValueError, match="activation.*sigmoid"):
        nn.mlp_init((2, 3, 1), 0, "sigmoid")
    with pytest.raises(TypeError, match="activation"):
        nn.mlp_init((2, 3, 1), 0, None)
    with pytest.raises(ValueError, match="out_activation"):
        nn.mlp_forward(nn.mlp_init((2, 3, 1), 0), np.zeros((1, 2)), "tanh", "softplus")
    with pytest.raises(ValueError, match="gain"):
        nn.mlp_init((2, 3, 1), 0, gain=-1.0)
    with pytest.raises(TypeError, match="orthogonal"):
        nn.mlp_init((2, 3, 1), 0, orthogonal="yes")


def test_bad_shapes():
    p = nn.mlp_init((2, 3, 1), 0)
    with pytest.raises(ValueError, match=r"x must .*\[B, 2\]"):
        nn.mlp_forward(p, np.zeros((4, 3)))
    with pytest.raises(ValueError, match="x must"):
        nn.mlp_forward(p, np.zeros(2))
    with pytest.raises(TypeError, match="x must"):
        nn.mlp_forward(p, [[0.0, 0.0]])
    _, vjp = nn.mlp_forward(p, np.zeros((4, 2)))
    with pytest.raises(ValueError, match="d_y"):
        vjp(np.zeros((4, 2)))
    with pytest.raises(ValueError, match="W1"):
        nn.mlp_forward({"W": p["W1"]}, np.zeros((4, 2)))
