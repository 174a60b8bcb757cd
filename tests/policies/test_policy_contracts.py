"""Contract tests: every policy class (tests/policy_cases.py) obeys the same laws.

Run on numpy and array_api_strict (the ``xp`` fixture), in float32 and float64:
probabilities sum to 1; sum_a pi(a|s) grad log pi(a|s) = 0 (discrete); score_sum = w @ scores;
zero weights give exactly zero gradients; gradient keys/shapes equal the params'; dtypes kept;
repeated calls bitwise identical; the Gaussian score has mean zero (Gauss-Hermite quadrature);
KL(pi || pi) = 0; bad input raises naming the argument. In float64 on numpy, with hypothesis
(200 examples per class): central finite differences of log_prob (-> score_sum and scores),
entropy (-> entropy_grad) and KL (-> kl_grad).
"""

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from npg.backend import to_numpy
from npg.params import flatten, size, unflatten
from npg.testing import check_grad, check_grad_directional
from policy_cases import CASES, DISCRETE

NAMES = sorted(CASES)
GAUSSIAN = sorted(set(CASES) - DISCRETE)
DTYPES = ["float32", "float64"]


def _np(x):
    return np.asarray(to_numpy(x))


def _make(name, xp, dtype, seed=0):
    return CASES[name](xp, getattr(xp, dtype), np.random.default_rng(seed))


def _weights(xp, dtype, b, seed=1):
    return xp.asarray(np.random.default_rng(seed).standard_normal(b), dtype=getattr(xp, dtype))


def _tol(dtype):
    return 1e-12 if dtype == "float64" else 2e-5


@pytest.fixture(params=NAMES)
def name(request):
    return request.param


@pytest.fixture(params=DTYPES)
def dtype(request):
    return request.param


# ----------------------------------------------------------------------------------------------
# Laws, on every backend and dtype
# ----------------------------------------------------------------------------------------------

def test_probabilities_sum_to_one(name, xp, dtype):
    if name not in DISCRETE:
        pytest.skip("discrete policies only")
    pol, params, obs, _ = _make(name, xp, dtype)
    p = _np(pol.probs(params, obs))
    assert p.shape == (obs.shape[0], pol.n_actions) and np.all(p >= 0)
    np.testing.assert_allclose(p.sum(1), 1.0, atol=10 * _tol(dtype))


def test_expected_score_is_zero_discrete(name, xp, dtype):
    # sum_a pi(a|s) grad_theta log pi(a|s) = grad_theta sum_a pi(a|s) = grad_theta 1 = 0.
    if name not in DISCRETE:
        pytest.skip("discrete policies only")
    pol, params, obs, _ = _make(name, xp, dtype)
    b = obs.shape[0]
    p = _np(pol.probs(params, obs))
    total = sum(p[:, a, None] * _np(pol.scores(params, obs, xp.full((b,), a, dtype=xp.int64)))
                for a in range(pol.n_actions))
    s0 = _np(pol.scores(params, obs, xp.zeros((b,), dtype=xp.int64)))
    scale = max(1.0, float(np.max(np.abs(s0))))
    assert np.max(np.abs(total)) <= 10 * _tol(dtype) * scale


def test_gaussian_score_mean_zero_by_quadrature(name, xp, dtype):
    # E_{a ~ N(mu, sigma^2)}[grad log pi(a|s)] = 0. The score is a polynomial of degree <= 2 in a,
    # so tensor-product Gauss-Hermite with 3 nodes per dimension is exact:
    # a = mu + sqrt(2) sigma x, weight prod_k w_k / sqrt(pi).
    if name in DISCRETE:
        pytest.skip("Gaussian policies only")
    pol, params, obs, _ = _make(name, xp, dtype)
    dist = pol.dist_params(params, obs[:1, ...])
    if len(dist) == 3:                          # gSDE: sigma^2 = v = phi^2 @ exp(2 L) + eps
        from npg.distributions.sde import variance
        dist = (dist[0], 0.5 * xp.log(variance(dist[1], dist[2])))
    mean, log_std = (_np(v)[:1] for v in dist)
    x, w = np.polynomial.hermite.hermgauss(3)
    K = pol.act_dim
    nodes = np.array(list(itertools.product(x, repeat=K)))                  # [N, K]
    weights = np.prod(np.array(list(itertools.product(w, repeat=K))), 1) / math.pi ** (K / 2)
    act = mean + math.sqrt(2.0) * np.exp(log_std) * nodes
    obs_n = xp.asarray(np.repeat(_np(obs[:1, ...]), len(nodes), axis=0), dtype=obs.dtype)
    S = _np(pol.scores(params, obs_n, xp.asarray(act, dtype=getattr(xp, dtype))))
    assert np.max(np.abs(weights @ S)) <= 100 * _tol(dtype) * max(1.0, np.max(np.abs(S)))


def test_score_sum_equals_weighted_scores(name, xp, dtype):
    pol, params, obs, act = _make(name, xp, dtype)
    w = _weights(xp, dtype, obs.shape[0])
    g = pol.score_sum(params, obs, act, w)
    S = pol.scores(params, obs, act)
    assert tuple(S.shape) == (obs.shape[0], size(params))
    np.testing.assert_allclose(_np(flatten(g)), _np(w) @ _np(S), rtol=10 * _tol(dtype),
                               atol=10 * _tol(dtype))


def test_zero_weights_give_exactly_zero_gradients(name, xp, dtype):
    pol, params, obs, act = _make(name, xp, dtype)
    zero = xp.zeros((obs.shape[0],), dtype=getattr(xp, dtype))
    for g in (pol.score_sum(params, obs, act, zero), pol.entropy_grad(params, obs, zero),
              pol.kl_grad(params, obs, pol.dist_params(params, obs), zero)):
        for k in params:
            assert np.all(_np(g[k]) == 0.0), k


def test_gradient_keys_shapes_and_dtypes(name, xp, dtype):
    pol, params, obs, act = _make(name, xp, dtype)
    dt = getattr(xp, dtype)
    w = _weights(xp, dtype, obs.shape[0])
    old = pol.dist_params(params, obs)
    for g in (pol.score_sum(params, obs, act, w), pol.entropy_grad(params, obs),
              pol.entropy_grad(params, obs, w), pol.kl_grad(params, obs, old, w)):
        assert list(g) == list(params)
        for k in params:
            assert tuple(g[k].shape) == tuple(params[k].shape) and g[k].dtype == dt, k
    assert pol.scores(params, obs, act).dtype == dt
    for out in (pol.log_prob(params, obs, act), pol.entropy(params, obs),
                pol.kl(params, obs, old)):
        assert tuple(out.shape) == (obs.shape[0],) and out.dtype == dt
    a = pol.sample(params, obs, np.random.default_rng(0))
    m = pol.mode(params, obs)
    if name in DISCRETE:
        assert pol.probs(params, obs).dtype == dt
        assert a.dtype == xp.int64 and m.dtype == xp.int64 and tuple(a.shape) == (obs.shape[0],)
        assert np.all((_np(a) >= 0) & (_np(a) < pol.n_actions))
    else:
        assert a.dtype == dt and m.dtype == dt and tuple(a.shape) == (obs.shape[0], pol.act_dim)


def test_repeated_calls_are_bitwise_identical(name, xp, dtype):
    pol, params, obs, act = _make(name, xp, dtype)
    w = _weights(xp, dtype, obs.shape[0])

    def run():
        out = [pol.log_prob(params, obs, act), pol.entropy(params, obs),
               pol.scores(params, obs, act), pol.sample(params, obs, np.random.default_rng(5)),
               *pol.score_sum(params, obs, act, w).values(),
               *pol.entropy_grad(params, obs, w).values()]
        return [_np(o).copy() for o in out]

    for a, b in zip(run(), run()):
        np.testing.assert_array_equal(a, b)
    # Sampling with an explicit seed is reproducible; init from the same seed too.
    p1, p2 = pol.init(np.random.default_rng(9)), pol.init(9)
    for k in p1:
        np.testing.assert_array_equal(_np(p1[k]), _np(p2[k]))


def test_kl_to_itself_is_zero_and_nonnegative(name, xp, dtype):
    pol, params, obs, _ = _make(name, xp, dtype)
    np.testing.assert_array_equal(_np(pol.kl(params, obs, pol.dist_params(params, obs))), 0.0)
    other = {k: v * 0.5 for k, v in params.items()}
    assert np.all(_np(pol.kl(params, obs, pol.dist_params(other, obs))) >= -_tol(dtype))


def test_entropy_grad_default_weights_are_ones(name, xp, dtype):
    pol, params, obs, _ = _make(name, xp, dtype)
    ones = xp.ones((obs.shape[0],), dtype=getattr(xp, dtype))
    g1, g2 = pol.entropy_grad(params, obs), pol.entropy_grad(params, obs, ones)
    for k in params:
        np.testing.assert_allclose(_np(g1[k]), _np(g2[k]), rtol=10 * _tol(dtype),
                                   atol=10 * _tol(dtype))


# ----------------------------------------------------------------------------------------------
# Finite differences, float64 on numpy, 200 examples per class (each checks every identity)
# ----------------------------------------------------------------------------------------------

def _check(f, g, params, seed):
    """Every coordinate for small P; 4 random directions (HIPS-style) for larger ones."""
    if size(params) <= 12:
        check_grad(f, g, params)
    else:
        check_grad_directional(f, g, params, rng=seed, n_directions=4)


@settings(max_examples=200)
@given(seed=st.integers(0, 2 ** 32 - 1), scale=st.sampled_from([0.1, 1.0, 3.0]))
def _fd_body(name, seed, scale):
    rng = np.random.default_rng(seed)
    pol, params, obs, act = CASES[name](np, np.float64, rng)
    # Random parameters of varied size (init is small); Gaussian log_std stays inside its bounds.
    params = {k: v + scale * rng.standard_normal(v.shape) * (0.3 if k == "log_std" else 1.0)
              for k, v in params.items()}
    b = obs.shape[0]
    w = rng.standard_normal(b)
    old = pol.dist_params({k: v + 0.3 * rng.standard_normal(v.shape) for k, v in params.items()},
                          obs)
    S = pol.scores(params, obs, act)
    # (1) d/dtheta sum_b w_b log pi(a_b|s_b) = score_sum(w)
    _check(lambda p: w @ pol.log_prob(p, obs, act), pol.score_sum(params, obs, act, w), params,
           seed)
    # (2) per-sample scores: row b is grad log pi(a_b|s_b) (checked on the last sample)
    _check(lambda p: pol.log_prob(p, obs, act)[-1], unflatten(S[-1], params), params, seed)
    # (3) d/dtheta sum_b w_b H(pi(.|s_b)) = entropy_grad(w)
    _check(lambda p: w @ pol.entropy(p, obs), pol.entropy_grad(params, obs, w), params, seed)
    # (4) d/dtheta sum_b w_b KL(old || pi) = kl_grad(old, w)
    _check(lambda p: w @ pol.kl(p, obs, old), pol.kl_grad(params, obs, old, w), params, seed)


def test_finite_differences(name):
    _fd_body(name)


# ----------------------------------------------------------------------------------------------
# Bad input names the argument
# ----------------------------------------------------------------------------------------------

def test_bad_input(name, xp):
    pol, params, obs, act = _make(name, xp, "float64")
    b = obs.shape[0]
    w = _weights(xp, "float64", b)
    # Wrong observation shape.
    bad_obs = obs[:, None] if obs.ndim == 1 else obs[:, :-1]
    with pytest.raises(ValueError, match="obs"):
        pol.log_prob(params, bad_obs, act)
    # NaN / inf in observations (Box) or float observations for discrete states.
    if obs.ndim == 1:
        with pytest.raises(TypeError, match="obs"):
            pol.entropy(params, xp.astype(obs, xp.float64))
        with pytest.raises(ValueError, match="obs"):
            pol.entropy(params, obs + 100)
    else:
        nan_obs = xp.where(xp.arange(b)[:, None] == 0, xp.asarray(float("nan"), dtype=obs.dtype),
                           obs)
        with pytest.raises(ValueError, match="obs"):
            pol.score_sum(params, nan_obs, act, w)
    # inf in parameters.
    k = next(iter(params))
    bad = dict(params, **{k: params[k] + xp.asarray(float("inf"), dtype=params[k].dtype)})
    with pytest.raises(ValueError, match="params"):
        pol.log_prob(bad, obs, act)
    with pytest.raises(TypeError, match="params"):
        pol.log_prob([1.0], obs, act)
    # Actions: wrong shape, out of range, float for discrete, NaN for Gaussian.
    with pytest.raises(ValueError, match="act"):
        pol.log_prob(params, obs, act[:-1, ...])
    if name in DISCRETE:
        with pytest.raises(ValueError, match="act"):
            pol.score_sum(params, obs, act + pol.n_actions, w)
        with pytest.raises(ValueError, match="act"):
            pol.log_prob(params, obs, act - pol.n_actions)
        with pytest.raises(TypeError, match="act"):
            pol.scores(params, obs, xp.astype(act, xp.float64))
    else:
        with pytest.raises(ValueError, match="act"):
            pol.score_sum(params, obs, act * float("nan"), w)
    # Weights of the wrong shape or not finite.
    with pytest.raises(ValueError, match="w"):
        pol.score_sum(params, obs, act, w[:-1])
    with pytest.raises(ValueError, match="w"):
        pol.entropy_grad(params, obs, w * float("inf"))
    with pytest.raises(TypeError, match="rng"):
        pol.sample(params, obs, None)
