"""MLPProductPolicy (MultiDiscrete / MultiBinary actions) and the updater terms of
npg.distributions.product: FD gradients in float64, sampling, bad input."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from npg.distributions import product as P
from npg.policies.product import MLPProductPolicy

EPS, ATOL, RTOL = 1e-5, 1e-7, 1e-6


def close(num, ana):
    assert np.all(np.abs(num - ana) <= ATOL + RTOL * np.abs(ana)), (num, ana)


def make(kind, seed):
    nvec = (3, 1, 2) if kind == "multi_discrete" else (2, 2)
    pol = MLPProductPolicy(3, nvec, kind, hidden=(5,), activation="tanh")
    rng = np.random.default_rng(seed)
    params = pol.init(rng, out_gain=1.0)
    obs = rng.normal(size=(4, 3))
    act = np.stack([rng.integers(0, n, 4) for n in nvec], axis=-1)
    return pol, params, obs, act, rng


@settings(deadline=None, max_examples=10)
@given(seed=st.integers(0, 10_000), kind=st.sampled_from(["multi_discrete", "multi_binary"]))
def test_score_sum_matches_fd_of_weighted_log_prob(seed, kind):
    pol, params, obs, act, rng = make(kind, seed)
    w = rng.normal(size=4)
    g = pol.score_sum(params, obs, act, w)
    for k, p in params.items():
        for i in np.ndindex(p.shape):
            plus = {**params, k: p.copy()}
            minus = {**params, k: p.copy()}
            plus[k][i] += EPS
            minus[k][i] -= EPS
            num = (w @ pol.log_prob(plus, obs, act) - w @ pol.log_prob(minus, obs, act)) / (2 * EPS)
            close(num, g[k][i])


@settings(deadline=None, max_examples=20)
@given(seed=st.integers(0, 10_000), kind=st.sampled_from(["multi_discrete", "multi_binary"]))
def test_terms_d_dist_matches_fd(seed, kind):
    """d_dist(d_logp, d_ent) = d/dz [sum_b d_logp_b logp_b + d_ent_b H_b]."""
    rng = np.random.default_rng(seed)
    nvec = (3, 2) if kind == "multi_discrete" else (2, 2, 2)
    W = sum(nvec) if kind == "multi_discrete" else len(nvec)
    z = 2.0 * rng.normal(size=(3, W))
    a = np.stack([rng.integers(0, n, 3) for n in nvec], axis=-1)
    terms = (lambda x: P.md_terms(x, a, nvec)) if kind == "multi_discrete" else \
        (lambda x: P.bern_terms(x, a))
    u, v = rng.normal(size=3), rng.normal(size=3)
    f = lambda x: float(u @ terms(x)[0] + v @ terms(x)[1])   # noqa: E731
    g = terms(z)[2](u, v)
    for i in np.ndindex(z.shape):
        e = np.zeros_like(z)
        e[i] = EPS
        close((f(z + e) - f(z - e)) / (2 * EPS), g[i])
    logp, ent, _ = terms(z)
    if kind == "multi_discrete":
        assert np.allclose(logp, P.md_log_prob(z, a, nvec)) and np.allclose(ent, P.md_entropy(z, nvec))
    else:
        assert np.allclose(logp, P.bern_log_prob(z, a)) and np.allclose(ent, P.bern_entropy(z))


@pytest.mark.parametrize("kind", ["multi_discrete", "multi_binary"])
def test_sample_mode_and_shapes(kind):
    pol, params, obs, act, _ = make(kind, 0)
    a = pol.sample(params, obs, np.random.default_rng(0))
    assert a.shape == (4, len(pol.nvec)) and a.dtype == np.int64
    assert np.all(a < np.array(pol.nvec)) and np.all(a >= 0)
    m = pol.mode(params, obs)
    lp_mode = pol.log_prob(params, obs, m)
    assert np.all(lp_mode >= pol.log_prob(params, obs, a) - 1e-12)
    assert pol.entropy(params, obs).shape == (4,)
    assert set(params) == set(pol.param_shapes())


def test_bad_input():
    with pytest.raises(ValueError, match=r"nvec\[0\] = 0"):
        MLPProductPolicy(3, (0, 2))
    with pytest.raises(ValueError, match="kind"):
        MLPProductPolicy(3, (2,), kind="box")
    with pytest.raises(ValueError, match="multi_binary"):
        MLPProductPolicy(3, (3,), kind="multi_binary")
    pol, params, obs, act, _ = make("multi_discrete", 1)
    with pytest.raises(ValueError, match="obs"):
        pol.log_prob(params, obs[:, :2], act)
    with pytest.raises(ValueError, match=r"\[0, n_k\)"):
        pol.log_prob(params, obs, act + 5)
    with pytest.raises(ValueError, match="w must"):
        pol.score_sum(params, obs, act, np.ones(3))


@pytest.mark.parametrize("kind", ["multi_discrete", "multi_binary"])
def test_contracts_over_every_joint_action(kind):
    """Enumerating every joint action a of (3, 1, 2) or (2, 2): sum_a pi(a|s) = 1 and
    sum_a pi(a|s) grad log pi(a|s) = 0 (the score has mean zero), per observation."""
    import itertools
    pol, params, obs, _, _ = make(kind, 4)
    joint = np.array(list(itertools.product(*[range(n) for n in pol.nvec])))    # [J, K]
    for s in obs:
        o = np.repeat(s[None], len(joint), axis=0)
        p = np.exp(pol.log_prob(params, o, joint))
        np.testing.assert_allclose(p.sum(), 1.0, rtol=1e-13)
        g = pol.score_sum(params, o, joint, p)
        for k in g:
            np.testing.assert_allclose(g[k], 0.0, atol=1e-14)


@pytest.mark.parametrize("kind", ["multi_discrete", "multi_binary"])
def test_zero_weights_dtype_and_repeatability(kind):
    pol, params, obs, act, _ = make(kind, 5)
    g0 = pol.score_sum(params, obs, act, np.zeros(4))
    assert all(np.all(v == 0.0) for v in g0.values()) and set(g0) == set(params)
    p32 = pol.init(np.random.default_rng(0), dtype="float32")
    g = pol.score_sum(p32, obs, act, np.ones(4))
    assert all(v.dtype == np.float32 and v.shape == p32[k].shape for k, v in g.items())
    assert pol.log_prob(p32, obs, act).dtype == np.float32
    a, b = pol.score_sum(params, obs, act, np.ones(4)), pol.score_sum(params, obs, act, np.ones(4))
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert np.array_equal(pol.sample(params, obs, 3), pol.sample(params, obs, 3))


def test_for_spec_reads_the_space_info():
    from npg.envs import SpaceInfo
    md = SpaceInfo(3, "box", None, False, None, 2, None, None, (3, 4))
    mb = SpaceInfo(3, "box", None, False, None, 2, None, None, (2, 2), True)
    assert MLPProductPolicy.for_spec(md).kind == "multi_discrete"
    assert MLPProductPolicy.for_spec(md).width == 7
    assert MLPProductPolicy.for_spec(mb, hidden=(4,)).kind == "multi_binary"
    with pytest.raises(ValueError, match="spec must describe"):
        MLPProductPolicy.for_spec(SpaceInfo(3, "box", None, True, 2, None, None, None))
