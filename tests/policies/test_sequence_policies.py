"""Sequence policies: the contract laws, finite-difference gradients, reference copies, bad input.

Laws (every policy class, float32 and float64): probabilities over all completions sum to 1;
sum_y pi(y|x) grad log pi(y|x) = 0; score_sum = w @ scores; token_scores sum over t to scores;
token_score_sum = sum_{b,t} w_bt token_scores; zero weights give exactly zero; gradient keys and
shapes equal the params'; dtype kept; repeated calls bitwise equal; sampling frequencies match
the enumerated probabilities (seeded z-test). FD (float64, hypothesis) of log_prob ->
score_sum and of the token log-probs -> token_score_sum.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from npg.distributions.sequence import SequenceSpace
from npg.params import flatten, unflatten
from npg.policies import (LinearSequencePolicy, MLPSequencePolicy, TabularSequencePolicy)
from npg.testing import check_grad

SPACE = SequenceSpace(3, 3, eos=0)
X = 2


def _tabular(dtype, seed=0):
    pol = TabularSequencePolicy(X, SPACE)
    return pol, pol.init(seed, scale=0.7, dtype=dtype)


def _linear(dtype, seed=0):
    pol = LinearSequencePolicy(X, SPACE)
    return pol, pol.init(seed, dtype=dtype, out_gain=1.0)


def _mlp(dtype, seed=0):
    pol = MLPSequencePolicy(X, SPACE, hidden=(5,), activation="tanh")
    return pol, pol.init(seed, dtype=dtype, out_gain=1.0)


def _mlp_eos2(dtype, seed=0):
    space = SequenceSpace(4, 2, eos=2)
    pol = MLPSequencePolicy(X, space, hidden=(4, 3), activation="relu")
    return pol, pol.init(seed, dtype=dtype, out_gain=1.0)


CASES = {"tabular": _tabular, "linear": _linear, "mlp": _mlp, "mlp_eos2": _mlp_eos2}


@pytest.fixture(params=sorted(CASES))
def name(request):
    return request.param


@pytest.fixture(params=["float32", "float64"])
def dtype(request):
    return request.param


def _batch(pol, seed=1, b=6):
    rng = np.random.default_rng(seed)
    ys = pol.space.enumerate()
    return rng.integers(0, X, b), ys[rng.integers(0, ys.shape[0], b)]


def _tol(dtype):
    return 1e-11 if dtype == "float64" else 3e-5


def test_completion_probabilities_sum_to_one(name, dtype):
    pol, p = CASES[name](dtype)
    probs = np.exp(pol.completion_log_probs(p).astype(np.float64))
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=100 * _tol(dtype))


def test_expected_score_is_zero(name, dtype):
    pol, p = CASES[name](dtype)
    ys = pol.space.enumerate()
    for x in range(X):
        prompts = np.full(ys.shape[0], x)
        w = np.exp(pol.log_prob(p, prompts, ys))
        g = flatten(pol.score_sum(p, prompts, ys, w))
        assert np.max(np.abs(g)) <= 100 * _tol(dtype)


def test_score_identities(name, dtype):
    pol, p = CASES[name](dtype)
    x, y = _batch(pol)
    w = np.random.default_rng(2).standard_normal(x.shape[0])
    S = pol.scores(p, x, y)
    T = pol.token_scores(p, x, y)
    assert S.shape == (x.shape[0], flatten(p).size) and S.dtype == np.dtype(dtype)
    np.testing.assert_allclose(T.sum(axis=1), S, atol=10 * _tol(dtype))
    np.testing.assert_allclose(flatten(pol.score_sum(p, x, y, w)), w @ S, atol=10 * _tol(dtype))
    wt = np.random.default_rng(3).standard_normal(y.shape) * pol.space.mask(y)
    np.testing.assert_allclose(flatten(pol.token_score_sum(p, x, y, wt)),
                               np.einsum("bt,btp->p", wt, T), atol=10 * _tol(dtype))
    assert np.all(T[pol.space.mask(y) == 0] == 0)


def test_gradients_keep_keys_shapes_dtype_and_zero(name, dtype):
    pol, p = CASES[name](dtype)
    x, y = _batch(pol)
    g = pol.score_sum(p, x, y, np.zeros(x.shape[0]))
    assert list(g) == list(p)
    for k in p:
        assert g[k].shape == p[k].shape and g[k].dtype == p[k].dtype and not np.any(g[k])
    assert pol.log_prob(p, x, y).dtype == np.dtype(dtype)


def test_calls_are_repeatable_bit_for_bit(name, dtype):
    pol, p = CASES[name](dtype)
    x, y = _batch(pol)
    w = np.linspace(-1, 1, x.shape[0])
    a, b = pol.score_sum(p, x, y, w), pol.score_sum(p, x, y, w)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    s1, s2 = pol.sample(p, x, np.random.default_rng(5)), pol.sample(p, x, np.random.default_rng(5))
    assert np.array_equal(s1, s2)


def test_sampling_frequencies_match_enumerated_probabilities(name):
    pol, p = CASES[name]("float64")
    ys = pol.space.enumerate()
    probs = np.exp(pol.completion_log_probs(p))
    n = 6000
    for x in range(X):
        y = pol.sample(p, np.full(n, x), np.random.default_rng(10 + x))
        where = {c: i for i, c in enumerate(pol.space.decode(ys))}
        idx = [where[c] for c in pol.space.decode(y)]
        freq = np.bincount(idx, minlength=ys.shape[0]) / n
        z = (freq - probs[x]) / np.sqrt(probs[x] * (1 - probs[x]) / n)
        assert np.max(np.abs(z)) < 4.5


def test_frozen_reference_is_a_read_only_copy(name):
    pol, p = CASES[name]("float64")
    ref = pol.frozen(p)
    x, y = _batch(pol)
    before = ref.log_prob(x, y)
    p[next(iter(p))] += 1.0                      # the live params move, the copy does not
    np.testing.assert_array_equal(ref.log_prob(x, y), before)
    with pytest.raises(ValueError):
        next(iter(ref.params.values()))[...] = 0.0


@pytest.mark.parametrize("case", sorted(CASES))
@settings(max_examples=4, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_log_prob_gradients_match_finite_differences(case, seed):
    name = case
    pol, p = CASES[name]("float64", seed)
    rng = np.random.default_rng(seed)
    theta = flatten(p) + 0.5 * rng.standard_normal(flatten(p).size)
    p = unflatten(theta, p)
    x, y = _batch(pol, seed, b=3)
    w = rng.standard_normal(3)
    check_grad(lambda q: np.sum(w * pol.log_prob(q, x, y)), pol.score_sum(p, x, y, w), p)
    wt = rng.standard_normal(y.shape) * pol.space.mask(y)
    check_grad(lambda q: np.sum(wt * pol.token_log_probs(q, x, y)),
               pol.token_score_sum(p, x, y, wt), p)


def test_tabular_prefix_index_is_a_bijection():
    pol = TabularSequencePolicy(1, SequenceSpace(4, 3, eos=1))
    others = [0, 2, 3]
    seen = set()
    for t in range(3):
        for head in np.array(np.meshgrid(*[others] * t)).reshape(t, -1).T if t else [[]]:
            pre = np.full((1, 3), -1)
            pre[0, :t] = head
            seen.add(int(pol.prefix_index(pre, np.array([t]))[0]))
    assert seen == set(range(pol.n_prefixes)) and pol.n_prefixes == 1 + 3 + 9


def test_tabular_represents_any_distribution_over_completions():
    # Set theta[x, prefix] to the log of conditional probabilities of a target pi(y|x).
    pol = TabularSequencePolicy(1, SPACE)
    ys = SPACE.enumerate()
    target = np.random.default_rng(0).dirichlet(np.ones(ys.shape[0]))
    theta = np.zeros(pol.param_shapes()["theta"])
    for t in range(SPACE.max_len):
        for prefix in {y[:t] for y in SPACE.decode(ys) if len(y) > t}:
            mass = [sum(target[i] for i, y in enumerate(SPACE.decode(ys))
                        if y[:t] == prefix and len(y) > t and y[t] == v) for v in range(3)]
            pre = np.full((1, 3), -1)
            pre[0, :t] = prefix
            s = pol.prefix_index(pre, np.array([t]))[0]
            theta[0, s] = np.log(np.maximum(mass, 1e-300))
    np.testing.assert_allclose(np.exp(pol.completion_log_probs({"theta": theta}))[0], target,
                               rtol=1e-10)


@pytest.mark.parametrize("make", [_tabular, _linear, _mlp])
def test_bad_input_raises_naming_the_argument(make):
    pol, p = make("float64")
    x, y = _batch(pol, b=2)
    with pytest.raises(ValueError, match="prompts"):
        pol.log_prob(p, np.array([0, X]), y)
    with pytest.raises(TypeError, match="prompts"):
        pol.log_prob(p, np.array([0.0, 1.0]), y)
    with pytest.raises(ValueError, match="tokens"):
        pol.log_prob(p, x, np.array([[1, 1, 7], [0, -1, -1]]))
    with pytest.raises(ValueError, match="longer than max_len"):
        pol.log_prob(p, x, np.array([[1, 1, 1, 0], [0, -1, -1, -1]]))
    with pytest.raises(ValueError, match="one row per prompt"):
        pol.log_prob(p, x[:1], y)
    with pytest.raises(ValueError, match="params"):
        pol.log_prob({k: v[..., :1] for k, v in p.items()}, x, y)
    with pytest.raises(ValueError, match="w must"):
        pol.token_score_sum(p, x, y, np.zeros((2, 2)))
    with pytest.raises(TypeError, match="space"):
        type(pol)(X, "space") if make is not _mlp else MLPSequencePolicy(X, "space")
