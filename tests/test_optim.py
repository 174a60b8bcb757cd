"""Optimizers and schedules: published update rules by hand, convergence, clipping, state I/O."""

import math
import warnings

import numpy as np
import pytest

from npg.optim import SGD, Adam, RMSprop, clip_by_global_norm
from npg.schedules import Constant, Linear, constant, linear


def _np(x):
    from npg.backend import to_numpy
    return np.asarray(to_numpy(x))


def _run(opt, grad_fn, x0, n_steps):
    params = {"x": x0}
    state = opt.init(params)
    for _ in range(n_steps):
        params, state = opt.step(params, {"x": grad_fn(params["x"])}, state)
    return params["x"], state


# ------------------------------------------------------------------ Adam: published update rule

def test_adam_two_steps_by_hand(xp):
    # Kingma & Ba (2015), Algorithm 1 with lr = 0.1, b1 = 0.9, b2 = 0.999, eps = 1e-8.
    # Coordinate 0: theta_0 = 1, g_1 = 2, g_2 = -1.
    #   t=1: m = 0.1*2 = 0.2;  v = 0.001*4 = 0.004;  m_hat = 0.2/0.1 = 2;  v_hat = 0.004/0.001 = 4
    #        theta_1 = 1 - 0.1 * 2 / (sqrt(4) + 1e-8) = 1 - 0.0999999995
    #   t=2: m = 0.9*0.2 + 0.1*(-1) = 0.08;  v = 0.999*0.004 + 0.001*1 = 0.004996
    #        m_hat = 0.08 / (1 - 0.9^2) = 0.08/0.19 = 0.42105263...
    #        v_hat = 0.004996 / (1 - 0.999^2) = 0.004996/0.001999 = 2.49924962...
    #        theta_2 = theta_1 - 0.1 * 0.42105263 / (1.58090152 + 1e-8) = theta_1 - 0.0266337038
    #        = 0.8733662967...
    # Coordinate 1: theta_0 = 0, g_1 = g_2 = 1e-9, where eps's position matters:
    #   t=1: m_hat = 1e-9, v_hat = 1e-18, sqrt(v_hat) = 1e-9:  step = 0.1 * 1e-9 / (1e-9 + 1e-8)
    #        = 0.1/11  (eps inside the root would give 0.1 * 1e-9 / sqrt(1e-18 + 1e-8) ~ 1e-6)
    #   t=2: m_hat = 1e-9 and v_hat = 1e-18 again (constant gradient): another 0.1/11.
    opt = Adam(lr=0.1, b1=0.9, b2=0.999, eps=1e-8)
    params = {"theta": xp.asarray([1.0, 0.0], dtype=xp.float64)}
    state = opt.init(params)
    params, state = opt.step(params, {"theta": xp.asarray([2.0, 1e-9])}, state)
    first = 1.0 - 0.1 * 2.0 / (2.0 + 1e-8)
    np.testing.assert_allclose(_np(params["theta"]), [first, -0.1 / 11], rtol=1e-12, atol=0)
    params, state = opt.step(params, {"theta": xp.asarray([-1.0, 1e-9])}, state)
    m_hat, v_hat = 0.08 / 0.19, 0.004996 / 0.001999
    second = first - 0.1 * m_hat / (math.sqrt(v_hat) + 1e-8)
    np.testing.assert_allclose(_np(params["theta"]), [second, -0.2 / 11], rtol=1e-12, atol=0)
    np.testing.assert_allclose(second, 0.8733662967024313, rtol=1e-12)
    assert state["step"] == 2
    np.testing.assert_allclose(_np(state["m.theta"]), [0.08, 1e-9 * (1 - 0.81)], rtol=1e-12)
    np.testing.assert_allclose(_np(state["v.theta"]), [0.004996, 1e-18 * 0.001999], rtol=1e-12)


def test_rmsprop_two_steps_by_hand(xp):
    # Tieleman & Hinton (2012) in PyTorch's form, lr = 0.01, alpha = 0.99, eps = 1e-5.
    # Coordinate 0: theta_0 = 1, g_1 = 2, g_2 = -1.
    #   t=1: v = 0.01*4 = 0.04;  theta_1 = 1 - 0.01 * 2 / (0.2 + 1e-5) = 1 - 0.0999950002...
    #   t=2: v = 0.99*0.04 + 0.01*1 = 0.0496;  theta_2 = theta_1 + 0.01 / (sqrt(0.0496) + 1e-5)
    #        = theta_1 + 0.0449000...   (no bias correction: the first steps exceed lr)
    # Coordinate 1: theta_0 = 0, g = 1e-6 twice, where eps's position matters:
    #   t=1: v = 1e-14, sqrt(v) = 1e-7:  step = 0.01 * 1e-6 / (1e-7 + 1e-5) = 0.01/10.1
    #        (eps inside the root would give 0.01 * 1e-6 / sqrt(1e-14 + 1e-5) ~ 3.2e-6)
    opt = RMSprop(lr=0.01, alpha=0.99, eps=1e-5)
    params = {"theta": xp.asarray([1.0, 0.0], dtype=xp.float64)}
    state = opt.init(params)
    params, state = opt.step(params, {"theta": xp.asarray([2.0, 1e-6])}, state)
    first = 1.0 - 0.01 * 2.0 / (0.2 + 1e-5)
    np.testing.assert_allclose(_np(params["theta"]), [first, -0.01 / 10.1], rtol=1e-12, atol=0)
    params, state = opt.step(params, {"theta": xp.asarray([-1.0, 1e-6])}, state)
    second = first + 0.01 / (math.sqrt(0.0496) + 1e-5)
    v1 = 0.99 * 1e-14 + 0.01 * 1e-12
    step2 = 0.01 * 1e-6 / (math.sqrt(v1) + 1e-5)
    np.testing.assert_allclose(_np(params["theta"]), [second, -0.01 / 10.1 - step2],
                               rtol=1e-12, atol=0)
    assert state["step"] == 2
    np.testing.assert_allclose(_np(state["v.theta"]), [0.0496, 1.99e-14], rtol=1e-12)


def test_sgd_momentum_two_steps_by_hand(xp):
    # u_1 = g_1 = 2;  theta_1 = 1 - 0.1*2 = 0.8
    # u_2 = 0.9*2 + (-1) = 0.8;  theta_2 = 0.8 - 0.1*0.8 = 0.72
    # Nesterov: d_1 = g_1 + 0.9 u_1 = 3.8 -> theta_1 = 0.62;  u_2 = 0.8,
    #           d_2 = -1 + 0.9*0.8 = -0.28 -> theta_2 = 0.62 + 0.028 = 0.648
    for nesterov, expect in ((False, (0.8, 0.72)), (True, (0.62, 0.648))):
        opt = SGD(lr=0.1, momentum=0.9, nesterov=nesterov)
        params = {"w": xp.asarray([1.0])}
        state = opt.init(params)
        for g, e in zip((2.0, -1.0), expect):
            params, state = opt.step(params, {"w": xp.asarray([g])}, state)
            np.testing.assert_allclose(_np(params["w"]), [e], rtol=1e-13)


def test_plain_sgd_is_theta_minus_lr_grad(xp):
    opt = SGD(lr=0.5)
    params = {"a": xp.asarray([[1.0, 2.0]]), "b": xp.asarray(3.0)}
    new, state = opt.step(params, {"a": xp.asarray([[1.0, -1.0]]), "b": xp.asarray(4.0)},
                          opt.init(params))
    np.testing.assert_array_equal(_np(new["a"]), [[0.5, 2.5]])
    np.testing.assert_array_equal(_np(new["b"]), 1.0)
    assert state == {"step": 1}


# ------------------------------------------------------------------ convergence

A_DIAG = np.array([1.0, 10.0, 0.1])
C = np.array([1.0, -2.0, 0.5])


def _quadratic_grad(x):
    """f(x) = 1/2 sum_i a_i (x_i - c_i)^2, grad f = a * (x - c), minimum at c."""
    return A_DIAG * (x - C)


def _rosenbrock_grad(x):
    """f(x, y) = (1 - x)^2 + 100 (y - x^2)^2, minimum at (1, 1):
    df/dx = -2 (1 - x) - 400 x (y - x^2),  df/dy = 200 (y - x^2)."""
    u, v = x
    return np.array([-2.0 * (1.0 - u) - 400.0 * u * (v - u * u), 200.0 * (v - u * u)])


@pytest.mark.parametrize("opt", [SGD(lr=0.1, momentum=0.9), SGD(lr=0.1, momentum=0.9,
                                                                 nesterov=True),
                                 Adam(lr=linear(0.1, 0.0, 3000)),
                                 RMSprop(lr=linear(0.05, 0.0, 3000))], ids=repr)
def test_minimises_a_quadratic(opt):
    x, _ = _run(opt, _quadratic_grad, np.zeros(3), 3000)
    np.testing.assert_allclose(x, C, atol=1e-4)


@pytest.mark.parametrize("opt", [SGD(lr=1e-3, momentum=0.9), Adam(lr=linear(0.02, 0.0, 6000))],
                         ids=repr)
def test_minimises_rosenbrock(opt):
    x, _ = _run(opt, _rosenbrock_grad, np.array([-1.2, 1.0]), 6000)
    np.testing.assert_allclose(x, [1.0, 1.0], atol=2e-3)


# ------------------------------------------------------------------ state, dtype, backends

@pytest.mark.parametrize("opt", [SGD(0.1), SGD(0.05, momentum=0.5), Adam(0.01), RMSprop(0.01)],
                         ids=repr)
def test_state_round_trips_through_savez(opt, tmp_path):
    rng = np.random.default_rng(0)
    params = {"W1": rng.standard_normal((3, 2)), "b1": rng.standard_normal(2)}
    grads = [{k: rng.standard_normal(v.shape) for k, v in params.items()} for _ in range(4)]
    p, s = params, opt.init(params)
    for g in grads[:2]:
        p, s = opt.step(p, g, s)
    np.savez(tmp_path / "state.npz", **s)
    loaded = dict(np.load(tmp_path / "state.npz"))
    assert set(loaded) == set(s)
    p_a, s_a = p, s
    p_b, s_b = p, loaded
    for g in grads[2:]:
        p_a, s_a = opt.step(p_a, g, s_a)
        p_b, s_b = opt.step(p_b, g, s_b)
    for k in params:
        np.testing.assert_array_equal(p_a[k], p_b[k])
    assert s_b["step"] == 4


@pytest.mark.parametrize("opt", [SGD(0.1, momentum=0.9), Adam(0.01), RMSprop(0.01)], ids=repr)
def test_dtype_is_kept(opt, xp):
    params = {"w": xp.asarray([1.0, -2.0], dtype=xp.float32)}
    state = opt.init(params)
    for _ in range(2):
        params, state = opt.step(params, {"w": xp.asarray([0.5, 0.25], dtype=xp.float32)},
                                 state)
    assert params["w"].dtype == xp.float32
    assert all(v.dtype == xp.float32 for k, v in state.items() if k != "step")


@pytest.mark.parametrize("opt", [SGD(0.1, momentum=0.9, nesterov=True), Adam(0.01),
                                 RMSprop(0.01)], ids=repr)
def test_backends_agree_with_numpy(opt, xp):
    rng = np.random.default_rng(1)
    p0 = {"W": rng.standard_normal((2, 3)), "b": rng.standard_normal(3)}
    gs = [{k: rng.standard_normal(v.shape) for k, v in p0.items()} for _ in range(3)]
    p_np, s_np = p0, opt.init(p0)
    p_x = {k: xp.asarray(v) for k, v in p0.items()}
    s_x = opt.init(p_x)
    for g in gs:
        p_np, s_np = opt.step(p_np, g, s_np)
        p_x, s_x = opt.step(p_x, {k: xp.asarray(v) for k, v in g.items()}, s_x)
    for k in p0:
        np.testing.assert_allclose(_np(p_x[k]), p_np[k], rtol=1e-14, atol=1e-15)


def test_step_does_not_modify_its_inputs():
    params = {"w": np.array([1.0, 2.0])}
    grads = {"w": np.array([0.5, -0.5])}
    opt = Adam(0.1)
    state = opt.init(params)
    before = {k: np.copy(v) for k, v in state.items() if k != "step"}
    opt.step(params, grads, state)
    np.testing.assert_array_equal(params["w"], [1.0, 2.0])
    assert state["step"] == 0
    for k, v in before.items():
        np.testing.assert_array_equal(state[k], v)


def test_schedule_is_called_with_the_steps_taken_so_far():
    seen = []

    def lr(t):
        seen.append(t)
        return 0.1
    opt = SGD(lr)
    _run(opt, lambda x: x, np.ones(2), 3)
    assert seen == [0, 1, 2]


# ------------------------------------------------------------------ clipping

def test_clip_by_global_norm(xp):
    # ||(3, 4, 12)|| = 13: clipped to norm 6.5 the gradient is halved.
    grads = {"a": xp.asarray([3.0, 4.0]), "b": xp.asarray([[12.0]])}
    clipped, norm = clip_by_global_norm(grads, 6.5)
    assert float(norm) == 13.0
    np.testing.assert_allclose(_np(clipped["a"]), [1.5, 2.0], rtol=1e-15)
    np.testing.assert_allclose(_np(clipped["b"]), [[6.0]], rtol=1e-15)
    same, norm = clip_by_global_norm(grads, 13.0)            # at or below: bit for bit
    for k in grads:
        np.testing.assert_array_equal(_np(same[k]), _np(grads[k]))


def test_clip_handles_zero_and_huge_float32(xp):
    zero = {"w": xp.zeros((3,), dtype=xp.float32)}
    clipped, norm = clip_by_global_norm(zero, 1.0)
    assert float(norm) == 0.0 and bool(xp.all(clipped["w"] == 0))
    huge = {"w": xp.asarray([3e30, 4e30], dtype=xp.float32)}  # squares overflow float32
    clipped, norm = clip_by_global_norm(huge, 1.0)
    assert norm.dtype == xp.float32 and math.isclose(float(norm), 5e30, rel_tol=1e-6)
    np.testing.assert_allclose(_np(clipped["w"]), [0.6, 0.8], rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("scale", [1e-40, 1e-25, 1e-12, 1.0, 1e12, 1e19, 1e30])
def test_global_norm_is_accurate_at_every_magnitude(dtype, scale):
    """The direct form sqrt(sum g^2) where it is safe, the scaled one where the squares would
    overflow or underflow: within a few ulp of the norm computed in float64 after scaling."""
    from npg.params import global_norm
    rng = np.random.default_rng(7)
    g = {"W": (rng.standard_normal((64, 64)) * scale).astype(dtype),
         "b": (rng.standard_normal(64) * scale).astype(dtype)}
    flat = np.concatenate([np.asarray(v, np.float64).ravel() for v in g.values()])
    s = np.max(np.abs(flat))                        # > 0: 1e-40 is a float32 subnormal
    want = s * math.sqrt(np.sum((flat / s) ** 2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = global_norm(g)
    assert got.dtype == dtype
    assert abs(float(got) - want) <= 8 * np.finfo(dtype).eps * want


@pytest.mark.parametrize("opt", [SGD(0.1, momentum=0.9), Adam(0.1), RMSprop(0.1)], ids=repr)
def test_a_step_whose_sums_overflow_is_accepted(opt):
    """Finite parameters near float32's max overflow the one-sum finiteness check; the
    element-wise check then accepts the step."""
    params = {"w": np.full(8, 3e38, np.float32)}
    new, _ = opt.step(params, {"w": np.ones(8, np.float32)}, opt.init(params))
    assert np.all(np.isfinite(new["w"]))


def test_adam_names_a_corrupted_second_moment():
    params = {"w": np.ones(3)}
    state = dict(Adam(0.1).init(params), **{"v.w": np.array([1.0, -5.0, 1.0])})
    with pytest.raises(ValueError, match=r"state\['v.w'\] must be >= 0"):
        Adam(0.1).step(params, {"w": np.zeros(3)}, state)


def test_clip_bad_input():
    with pytest.raises(ValueError, match="max_norm"):
        clip_by_global_norm({"w": np.ones(2)}, 0.0)
    with pytest.raises(ValueError, match="grads"):
        clip_by_global_norm({"w": np.array([np.nan])}, 1.0)
    with pytest.raises(TypeError, match="grads"):
        clip_by_global_norm([np.ones(2)], 1.0)


# ------------------------------------------------------------------ schedules

def test_schedules_values_and_repr():
    c = constant(3e-4)
    assert c(0) == c(10 ** 6) == 3e-4 and repr(c) == "constant(0.0003)"
    s = linear(1.0, 0.0, 4)
    assert [s(t) for t in range(6)] == [1.0, 0.75, 0.5, 0.25, 0.0, 0.0]     # clamped after 4
    assert repr(s) == "linear(start=1.0, end=0.0, n_steps=4)"
    assert linear(0.0, 2.0, 3)(np.int64(3)) == 2.0
    assert isinstance(s, Linear) and isinstance(c, Constant) and s == linear(1, 0, 4)


def test_schedules_bad_input():
    with pytest.raises(ValueError, match="n_steps"):
        linear(1.0, 0.0, 0)
    with pytest.raises(TypeError, match="n_steps"):
        linear(1.0, 0.0, 2.5)
    with pytest.raises(ValueError, match="start"):
        linear(float("nan"), 0.0, 3)
    with pytest.raises(TypeError, match="value"):
        constant("fast")
    with pytest.raises(ValueError, match="step count"):
        linear(1.0, 0.0, 3)(-1)
    with pytest.raises(TypeError, match="step count"):
        constant(1.0)(0.5)


# ------------------------------------------------------------------ bad input

@pytest.mark.parametrize("make, exc, name", [
    (lambda: SGD(lr=-1.0), ValueError, "lr"),
    (lambda: SGD(lr="big"), TypeError, "lr"),
    (lambda: SGD(lr=0.1, momentum=1.0), ValueError, "momentum"),
    (lambda: SGD(lr=0.1, nesterov=True), ValueError, "nesterov"),
    (lambda: SGD(lr=0.1, momentum=0.9, nesterov=1), TypeError, "nesterov"),
    (lambda: Adam(lr=0.0), ValueError, "lr"),
    (lambda: Adam(b1=1.0), ValueError, "b1"),
    (lambda: Adam(b2=-0.1), ValueError, "b2"),
    (lambda: Adam(eps=0.0), ValueError, "eps"),
    (lambda: Adam(eps=None), TypeError, "eps"),
    (lambda: RMSprop(lr=-0.1), ValueError, "lr"),
    (lambda: RMSprop(alpha=1.0), ValueError, "alpha"),
    (lambda: RMSprop(alpha="0.9"), TypeError, "alpha"),
    (lambda: RMSprop(eps=0.0), ValueError, "eps"),
])
def test_bad_hyperparameters(make, exc, name):
    with pytest.raises(exc, match=name):
        make()


@pytest.mark.parametrize("opt", [SGD(0.1, momentum=0.9), Adam(0.1), RMSprop(0.1)], ids=repr)
def test_bad_gradients_and_state(opt):
    params = {"w": np.ones(3)}
    state = opt.init(params)
    with pytest.raises(ValueError, match="keys"):
        opt.step(params, {"v": np.ones(3)}, state)
    with pytest.raises(ValueError, match=r"grads\['w'\]"):
        opt.step(params, {"w": np.ones(2)}, state)
    with pytest.raises(ValueError, match=r"grads\['w'\].*finite"):
        opt.step(params, {"w": np.array([1.0, np.inf, 0.0])}, state)
    with pytest.raises(ValueError, match="state"):
        opt.step(params, {"w": np.ones(3)}, {"step": 0})
    with pytest.raises(ValueError, match="lr schedule"):
        type(opt)(lambda t: float("nan")).step(params, {"w": np.ones(3)}, state)


@pytest.mark.parametrize("opt", [SGD(0.1), SGD(lambda t: 0.0, momentum=0.9),
                                 SGD(0.1, 0.9, True), Adam(0.1), Adam(lambda t: 0.0),
                                 RMSprop(0.1)], ids=lambda o: type(o).__name__)
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_a_non_finite_gradient_is_named_without_a_warning_first(opt, bad):
    """Finiteness is checked after the update (a NaN or inf gradient makes it non-finite for
    any lr, 0 * inf being NaN); the error names the gradient, and NumPy warns of nothing."""
    params = {"a": np.ones(2, np.float32), "w": np.ones(3, np.float32)}
    grads = {"a": np.ones(2, np.float32), "w": np.array([1.0, bad, 0.0], np.float32)}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match=r"grads\['w'\] must be finite"):
            opt.step(params, grads, opt.init(params))
        with pytest.raises(ValueError, match=r"grads\['w'\] must be finite"):
            clip_by_global_norm(grads, 1.0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_adam_is_algorithm_1_bit_for_bit(dtype):
    """The in-place update performs Algorithm 1's operations on the same operands: equal to
    the formula written out, to the bit, over steps with gradients of every scale."""
    rng = np.random.default_rng(3)
    lr, b1, b2, eps = 1e-3, 0.9, 0.999, 1e-8
    opt = Adam(lr, b1, b2, eps)
    p = {"W": rng.standard_normal((5, 7)).astype(dtype)}
    state, m, v = opt.init(p), np.zeros((5, 7), dtype), np.zeros((5, 7), dtype)
    want = p["W"]
    for t in range(1, 8):
        g = (rng.standard_normal((5, 7)) * 10.0 ** rng.uniform(-20, 3)).astype(dtype)
        m = b1 * m + (1.0 - b1) * g
        v = b2 * v + (1.0 - b2) * (g * g)
        want = want - lr * (m / (1.0 - b1 ** t)) / (np.sqrt(v / (1.0 - b2 ** t)) + eps)
        p, state = opt.step(p, {"W": g}, state)
        assert p["W"].dtype == dtype
        assert np.array_equal(p["W"], want) and np.array_equal(state["m.W"], m)
        assert np.array_equal(state["v.W"], v)


@pytest.mark.parametrize("opt", [SGD(0.1), SGD(0.05, momentum=0.5, nesterov=True), Adam(0.01),
                                 RMSprop(0.01)], ids=repr)
def test_a_tree_steps_as_its_arrays_one_by_one_bit_for_bit(opt):
    """Each dtype's arrays are updated as one flattened vector: the same bits as stepping each
    array alone, each array's dtype, shape and key order kept (mixed dtypes, a 0-d array)."""
    rng = np.random.default_rng(4)
    shapes = {"W1": ((3, 4), np.float32), "b1": ((4,), np.float64), "W2": ((4, 2), np.float32),
              "s": ((), np.float64), "b2": ((2,), np.float32)}
    p = {k: rng.standard_normal(s).astype(dt) for k, (s, dt) in shapes.items()}
    state = opt.init(p)
    alone = {k: ({k: v}, opt.init({k: v})) for k, v in p.items()}
    for _ in range(3):
        g = {k: rng.standard_normal(v.shape).astype(v.dtype) for k, v in p.items()}
        p, state = opt.step(p, g, state)
        alone = {k: opt.step(pk, {k: g[k]}, sk) for k, (pk, sk) in alone.items()}
        assert list(p) == list(shapes)
        bufs = list(dict.fromkeys(k.split(".")[0] for k in opt.init(p) if k != "step"))
        assert [k for k in state if k != "step"] == [f"{b}.{k}" for k in shapes for b in bufs]
        for k, (pk, sk) in alone.items():
            assert p[k].dtype == pk[k].dtype and p[k].shape == pk[k].shape
            assert np.array_equal(p[k], pk[k])
            assert all(np.array_equal(state[b], sk[b]) for b in sk if b != "step")
    clipped, norm = clip_by_global_norm(g, 0.1)
    assert list(clipped) == list(g) and all(clipped[k].dtype == g[k].dtype for k in g)
    want = np.sqrt(sum(np.sum(v.astype(np.float64) ** 2) for v in g.values()))
    np.testing.assert_allclose(float(norm), want, rtol=1e-6)
    for k in g:
        np.testing.assert_allclose(clipped[k], g[k] * (0.1 / want), rtol=1e-5)
