"""npg.testing's gradient checks and npg.strategies: they accept right gradients, reject wrong
ones, and the strategies draw what they promise."""

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import find, given, settings
from hypothesis import strategies as st

from npg import strategies as nst
from npg.testing import (GradientCheckError, check_grad, check_grad_directional, numeric_grad)


def f(p):
    """f(w, b) = sum_i sin(w_i) + 1/2 ||b||^2 + w_0 b_0 (w_0 = w.flat[0]), a smooth test function.

    df/dw_i = cos(w_i) + [i = 0] b_0,    df/db_j = b_j + [j = 0] w_0.
    """
    w, b = p["w"], p["b"]
    return float(np.sum(np.sin(w)) + 0.5 * np.sum(b * b) + w.flat[0] * b[0])


def grad_f(p):
    w, b = p["w"], p["b"]
    gw, gb = np.cos(w), np.array(b, dtype=np.float64)
    gw.flat[0] += b[0]
    gb[0] += w.flat[0]
    return {"w": gw, "b": gb}


SHAPES = {"w": (2, 2), "b": (3,)}
CHECKS = [check_grad, lambda fn, g, p: check_grad_directional(fn, g, p, rng=0, n_directions=6)]
IDS = ["full", "directional"]


@pytest.mark.parametrize("check", CHECKS, ids=IDS)
@settings(max_examples=200)
@given(params=nst.params(SHAPES, bound=3.0))
def test_checks_pass_on_the_right_gradient(check, params):
    check(f, grad_f(params), params)


@pytest.mark.parametrize("check", CHECKS, ids=IDS)
@settings(max_examples=50)
@given(params=nst.params(SHAPES, bound=3.0), key=st.sampled_from(["w", "b"]),
       i=st.integers(0, 2))
def test_checks_reject_a_wrong_gradient(check, params, key, i):
    g = grad_f(params)
    g[key].flat[i % g[key].size] += 1e-3           # far outside 1e-7 + 1e-6 |g|
    with pytest.raises(GradientCheckError):
        check(f, g, params)


def test_full_check_rejects_a_single_wrong_coordinate_and_names_it():
    params = {"w": np.array([[0.1, 0.2], [0.3, 0.4]]), "b": np.array([1.0, -1.0, 2.0])}
    g = grad_f(params)
    g["b"][2] *= -1.0
    with pytest.raises(GradientCheckError, match=r"grad\['b'\].*index 2"):
        check_grad(f, g, params)


def test_checks_reject_wrong_keys_and_shapes_and_non_float64():
    params = {"w": np.zeros((2, 2)), "b": np.zeros(3)}
    g = grad_f(params)
    with pytest.raises(GradientCheckError, match="keys"):
        check_grad(f, {"w": g["w"]}, params)
    with pytest.raises(GradientCheckError, match="shape"):
        check_grad(f, {"w": g["w"].ravel(), "b": g["b"]}, params)
    with pytest.raises(TypeError, match="float64"):
        check_grad(f, g, {"w": np.zeros((2, 2), np.float32), "b": np.zeros(3)})


def test_numeric_grad_of_a_quadratic_is_exact_up_to_rounding():
    # f(x) = 1/2 x^T A x: central differences are exact for quadratics (the O(h^2) error term
    # involves the third derivative, which is 0), so only rounding ~ eps |f| / h remains.
    A = np.array([[2.0, 0.5], [0.5, 1.0]])
    x = np.array([0.3, -0.7])
    num = numeric_grad(lambda p: 0.5 * p["x"] @ A @ p["x"], {"x": x})
    np.testing.assert_allclose(num["x"], A @ x, rtol=0, atol=1e-10)


# ------------------------------------------------------------------ strategies

@settings(max_examples=100)
@given(p=nst.params({"W": (2, 3), "b": (3,), "s": ()}, bound=1.5))
def test_params_strategy(p):
    assert list(p) == ["W", "b", "s"]
    assert [v.shape for v in p.values()] == [(2, 3), (3,), ()]
    for v in p.values():
        assert v.dtype == np.float64 and np.all(np.abs(v) <= 1.5)


@settings(max_examples=100)
@given(obs=nst.box_observations(nst.sizes(1, 3), 4, bound=2.0),
       s=nst.discrete_observations(5, nst.sizes(1, 3)),
       a=nst.discrete_actions(4, 3), u=nst.continuous_actions(3, 2, bound=1.0))
def test_observation_and_action_strategies(obs, s, a, u):
    assert obs.dtype == np.float64 and obs.ndim == 2 and obs.shape[1] == 4
    assert 1 <= obs.shape[0] <= 3 and np.all(np.abs(obs) <= 2.0)
    assert s.shape == (5,) and s.dtype == np.int64 and np.all((0 <= s) & (s < 3))
    assert a.shape == (4,) and np.all((0 <= a) & (a < 3))
    assert u.shape == (3, 2) and u.dtype == np.float64 and np.all(np.abs(u) <= 1.0)


@settings(max_examples=100)
@given(z=nst.logits(3, 4))
def test_logits_strategy_bounds(z):
    assert z.shape == (3, 4) and z.dtype == np.float64
    assert np.all(np.isfinite(z)) and np.all(np.abs(z) <= 1000.0)


def test_logits_strategy_reaches_the_extremes():
    z = find(nst.logits(2, 3), lambda z: np.max(z) == 1000.0 and np.min(z) == -1000.0,
             settings=settings(database=None, max_examples=2000))
    assert np.max(z) == 1000.0


@settings(max_examples=150)
@given(p=nst.probability_vectors(nst.sizes(1, 6), batch=nst.sizes(1, 3)),
       q=nst.probability_vectors(4, min_prob=0.05))
def test_probability_vectors_strategy(p, q):
    assert p.ndim == 2 and np.all(p >= 0) and np.all(np.abs(p.sum(-1) - 1.0) <= 1e-12)
    assert q.shape == (4,) and np.all(q >= 0.05 - 1e-15) and abs(q.sum() - 1.0) <= 1e-12


def test_probability_vectors_rejects_impossible_min_prob():
    with pytest.raises(ValueError, match="min_prob"):
        find(nst.probability_vectors(4, min_prob=0.5), lambda p: True)


def test_import_npg_does_not_import_hypothesis():
    code = ("import sys, npg; bad = [m for m in ('npg.strategies', 'hypothesis') "
            "if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
