"""npg.losses: finite differences, hand values, identities, backends, bad input."""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from npg.losses import (clipped_surrogate, entropy_loss, explained_variance,
                        policy_gradient_loss, value_loss)
from npg.testing import check_grad

N_EXAMPLES = 200


def _vec(b, lo=-3.0, hi=3.0):
    return arrays(np.float64, (b,), elements=st.floats(lo, hi, allow_nan=False))


@st.composite
def batches(draw, n=3, lo=-3.0, hi=3.0):
    b = draw(st.integers(1, 6))
    return [draw(_vec(b, lo, hi)) for _ in range(n)]


def _fd(f, x, grad):
    """check_grad of the scalar f(x [B]) against grad [B]."""
    check_grad(lambda p: float(f(p["x"])), {"x": grad}, {"x": x})


# ------------------------------------------------------------------ finite differences

@settings(max_examples=N_EXAMPLES)
@given(batches(2))
def test_policy_gradient_loss_fd(data):
    logp, adv = data
    _, d = policy_gradient_loss(logp, adv)
    _fd(lambda x: policy_gradient_loss(x, adv)[0], logp, d)


@settings(max_examples=N_EXAMPLES)
@given(batches(3, -1.0, 1.0), st.floats(0.05, 0.5))
def test_clipped_surrogate_fd(data, eps):
    logp, logp_old, adv = data
    r = np.exp(logp - logp_old)
    # the loss has kinks at r = 1 +- eps: keep the FD stencil (h = 1e-5) away from them
    assume(np.all(np.abs(r - (1 + eps)) > 1e-3) and np.all(np.abs(r - (1 - eps)) > 1e-3))
    _, d, _ = clipped_surrogate(logp, logp_old, adv, eps)
    _fd(lambda x: clipped_surrogate(x, logp_old, adv, eps)[0], logp, d)


@settings(max_examples=N_EXAMPLES)
@given(batches(2))
def test_value_loss_fd(data):
    v, y = data
    _, d = value_loss(v, y)
    _fd(lambda x: value_loss(x, y)[0], v, d)


@settings(max_examples=N_EXAMPLES)
@given(batches(3), st.floats(0.05, 1.0))
def test_clipped_value_loss_fd(data, c):
    v, y, v_old = data
    dv = v - v_old
    v_clip = v_old + np.clip(dv, -c, c)
    # kinks: |v - v_old| = c and (v - y)^2 = (v_clip - y)^2 with v != v_clip
    assume(np.all(np.abs(np.abs(dv) - c) > 1e-3))
    assume(np.all((np.abs(dv) < c) | (np.abs((v - y) ** 2 - (v_clip - y) ** 2) > 1e-3)))
    _, d = value_loss(v, y, v_old, c)
    _fd(lambda x: value_loss(x, y, v_old, c)[0], v, d)


@settings(max_examples=N_EXAMPLES)
@given(batches(1))
def test_entropy_loss_fd(data):
    (ent,) = data
    _, d = entropy_loss(ent)
    _fd(lambda x: entropy_loss(x)[0], ent, d)


# ------------------------------------------------------------------ hand values

def test_hand_values():
    logp, adv = np.log(np.array([0.5, 0.25])), np.array([2.0, -1.0])
    # L = -(2 log 0.5 - log 0.25) / 2 = -(2 (-log 2) + 2 log 2) / 2 = 0;  dL/dlogp = -A / 2
    loss, d = policy_gradient_loss(logp, adv)
    assert abs(float(loss)) < 1e-15
    np.testing.assert_array_equal(d, [-1.0, 0.5])

    # r = [1.5, 0.5], eps = 0.2, A = [1, 1]: min(1.5, 1.2) = 1.2 (clipped, grad 0);
    # min(0.5, 0.8) = 0.5 (unclipped, grad -A r / B = -0.25). L = -(1.2 + 0.5) / 2 = -0.85.
    logp_old = np.zeros(2)
    logp = np.log(np.array([1.5, 0.5]))
    loss, d, stats = clipped_surrogate(logp, logp_old, np.ones(2), 0.2)
    assert float(loss) == pytest.approx(-0.85, abs=1e-15)
    np.testing.assert_allclose(d, [0.0, -0.25], atol=1e-15)
    assert stats["clip_fraction"] == 1.0
    # approx_kl = mean((r - 1) - log r) = ((0.5 - log 1.5) + (-0.5 - log 0.5)) / 2
    assert stats["approx_kl"] == pytest.approx((-np.log(1.5) - np.log(0.5)) / 2, rel=1e-14)

    # v = [1, 3], y = [0, 0], v_old = [0, 0], c = 1: v_clip = [1, 1];
    # max(1, 1) = 1 (tie: unclipped, grad 1/2), max(9, 1) = 9 (grad 3/2); L = (1 + 9) / 4 = 2.5
    loss, d = value_loss(np.array([1.0, 3.0]), np.zeros(2), np.zeros(2), 1.0)
    assert float(loss) == 2.5
    np.testing.assert_array_equal(d, [0.5, 1.5])
    # v = [-0.5], y = [2], v_old = [0], c = 0.1: v_clip = -0.1, (v-y)^2 = 6.25 > 4.41: unclipped
    # v = [0.5], y = [-2], v_old = [2], c = 0.1: v_clip = 1.9, (1.9+2)^2 = 15.21 > 6.25: clipped,
    # |v - v_old| = 1.5 > c: gradient 0
    loss, d = value_loss(np.array([0.5]), np.array([-2.0]), np.array([2.0]), 0.1)
    assert float(loss) == pytest.approx(15.21 / 2)
    assert float(d[0]) == 0.0

    loss, d = entropy_loss(np.array([1.0, 2.0, 3.0, 4.0]))
    assert float(loss) == -2.5
    np.testing.assert_array_equal(d, np.full(4, -0.25))


# ------------------------------------------------------------------ identities

@settings(max_examples=50)
@given(batches(2), st.floats(0.01, 0.5))
def test_ratio_one_equals_vanilla_gradient(data, eps):
    """At logp = logp_old (r = 1, PPO's first minibatch) the clipped surrogate's loss and
    gradient equal the vanilla policy-gradient's (the loss up to the constant -mean A ...
    namely L_clip = -mean(A) while L_pg = -mean(A logp))."""
    logp, adv = data
    loss, d, stats = clipped_surrogate(logp, logp.copy(), adv, eps)
    _, d_pg = policy_gradient_loss(logp, adv)
    np.testing.assert_array_equal(d, d_pg)
    assert float(loss) == pytest.approx(-np.mean(adv), abs=1e-14)
    assert stats == {"approx_kl": 0.0, "clip_fraction": 0.0}


@settings(max_examples=50)
@given(batches(3))
def test_large_clip_is_unclipped(data):
    """clip -> infinity: L_clip = -mean(r A); a huge value clip gives the plain MSE."""
    logp, logp_old, adv = data
    loss, d, _ = clipped_surrogate(logp, logp_old, adv, 1e6)
    r = np.exp(logp - logp_old)
    np.testing.assert_allclose(float(loss), -np.mean(r * adv), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(d, -r * adv / len(adv), rtol=1e-12, atol=1e-300)
    v, y, v_old = data
    l1, d1 = value_loss(v, y, v_old, 1e6)
    l2, d2 = value_loss(v, y)
    np.testing.assert_allclose(d1, d2, rtol=1e-12, atol=1e-15)   # v_old + (v - v_old) ~ v
    assert float(l1) == pytest.approx(float(l2), rel=1e-12, abs=1e-15)


def test_explained_variance():
    y = np.array([1.0, 2.0, 3.0, 4.0])
    assert explained_variance(y, y) == 1.0
    assert explained_variance(np.full(4, 2.5), y) == 0.0          # constant = the mean
    assert explained_variance(np.zeros(4), np.ones(4)) == 0.0     # Var(y) = 0: 0, not NaN


# ------------------------------------------------------------------ backends and dtypes

def test_backends_agree(xp):
    rng = np.random.default_rng(0)
    logp, logp_old, adv, v, y = (rng.normal(size=5) * 0.3 for _ in range(5))
    ref = clipped_surrogate(logp, logp_old, adv, 0.1)
    got = clipped_surrogate(xp.asarray(logp), xp.asarray(logp_old), xp.asarray(adv), 0.1)
    np.testing.assert_allclose(np.asarray(got[1]), ref[1], rtol=1e-12)
    assert got[2] == pytest.approx(ref[2])
    for args in ((v, y), (v, y, logp, 0.2)):
        ref = value_loss(*args)
        got = value_loss(*(xp.asarray(a) if isinstance(a, np.ndarray) else a for a in args))
        np.testing.assert_allclose(np.asarray(got[1]), ref[1], rtol=1e-12)
        assert float(got[0]) == pytest.approx(float(ref[0]), rel=1e-12)
    got = policy_gradient_loss(xp.asarray(logp), xp.asarray(adv))
    np.testing.assert_allclose(np.asarray(got[1]), -adv / 5)
    got = entropy_loss(xp.asarray(v))
    np.testing.assert_allclose(np.asarray(got[1]), np.full(5, -0.2))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_kept(dtype):
    x = np.linspace(-1, 1, 4).astype(dtype)
    for loss, d in (policy_gradient_loss(x, x), value_loss(x, x[::-1]), entropy_loss(x),
                    value_loss(x, x[::-1], x * 0, 0.1), clipped_surrogate(x, x * 0, x, 0.2)[:2]):
        assert loss.dtype == dtype and d.dtype == dtype


def test_extreme_values_stay_finite():
    logp = np.array([-700.0, 0.0, 50.0])
    loss, d, stats = clipped_surrogate(logp, np.zeros(3), np.array([1.0, -1.0, 1.0]), 0.2)
    assert np.isfinite(float(loss)) and np.all(np.isfinite(d))


# ------------------------------------------------------------------ bad input

def test_bad_input():
    x = np.zeros(3)
    with pytest.raises(ValueError, match="adv"):
        policy_gradient_loss(x, np.zeros(2))
    with pytest.raises(TypeError, match="logp"):
        policy_gradient_loss([0.0], x)
    with pytest.raises(TypeError, match="logp"):
        policy_gradient_loss(np.zeros(3, dtype=np.int64), x)
    with pytest.raises(ValueError, match="logp_old"):
        clipped_surrogate(x, np.array([0.0, np.nan, 0.0]), x, 0.2)
    with pytest.raises(ValueError, match="clip"):
        clipped_surrogate(x, x, x, -0.1)
    with pytest.raises(TypeError, match="clip"):
        clipped_surrogate(x, x, x, "0.2")
    with pytest.raises(ValueError, match="v_old"):
        value_loss(x, x, None, 0.2)
    with pytest.raises(ValueError, match="target"):
        value_loss(x, np.zeros((3, 1)))
    with pytest.raises(ValueError, match="at least one"):
        entropy_loss(np.zeros(0))
