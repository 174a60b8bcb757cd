"""Product-of-categoricals (MultiDiscrete) and Bernoulli (MultiBinary) distributions: FD
gradient properties in float64 and contract tests (normalisation over the enumerated joint,
expected score 0, weighted score sums, dtype kept, zero weights, bad input)."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from npg.distributions import product as P

EPS, ATOL, RTOL = 1e-5, 1e-7, 1e-6
NVECS = [(2,), (3, 2), (1, 4, 2), (2, 2, 3)]


def fd_grad(f, z):
    g = np.zeros_like(z)
    for i in np.ndindex(z.shape):
        e = np.zeros_like(z)
        e[i] = EPS
        g[i] = (f(z + e) - f(z - e)) / (2 * EPS)
    return g


def close(num, ana):
    assert np.all(np.abs(num - ana) <= ATOL + RTOL * np.abs(ana)), (num, ana)


def md_case(seed, nvec, B=3, scale=2.0):
    rng = np.random.default_rng(seed)
    z = scale * rng.normal(size=(B, sum(nvec)))
    a = np.stack([rng.integers(0, n, B) for n in nvec], axis=-1)
    return rng, z, a


def joint(nvec):
    return np.array(list(itertools.product(*[range(n) for n in nvec])), np.int64)


# ------------------------------------------------------------------------------ FD: MultiDiscrete

@settings(deadline=None, max_examples=25)
@given(seed=st.integers(0, 10_000), nvec=st.sampled_from(NVECS))
def test_md_log_prob_grad_fd(seed, nvec):
    _, z, a = md_case(seed, nvec)
    close(fd_grad(lambda x: P.md_log_prob(x, a, nvec).sum(), z),
          P.md_log_prob_grad(z, a, nvec))


@settings(deadline=None, max_examples=25)
@given(seed=st.integers(0, 10_000), nvec=st.sampled_from(NVECS))
def test_md_entropy_grad_fd(seed, nvec):
    _, z, _ = md_case(seed, nvec)
    close(fd_grad(lambda x: P.md_entropy(x, nvec).sum(), z), P.md_entropy_grad(z, nvec))


@settings(deadline=None, max_examples=25)
@given(seed=st.integers(0, 10_000), nvec=st.sampled_from(NVECS))
def test_md_kl_grad_fd(seed, nvec):
    rng, zp, _ = md_case(seed, nvec)
    zq = 2.0 * rng.normal(size=zp.shape)
    gp, gq = P.md_kl_grad(zp, zq, nvec)
    close(fd_grad(lambda x: P.md_kl(x, zq, nvec).sum(), zp), gp)
    close(fd_grad(lambda x: P.md_kl(zp, x, nvec).sum(), zq), gq)


# ------------------------------------------------------------------------------ FD: MultiBinary

@settings(deadline=None, max_examples=25)
@given(seed=st.integers(0, 10_000), K=st.integers(1, 5), scale=st.sampled_from([0.5, 3.0, 20.0]))
def test_bern_grads_fd(seed, K, scale):
    rng = np.random.default_rng(seed)
    z, zq = scale * rng.normal(size=(3, K)), scale * rng.normal(size=(3, K))
    a = rng.integers(0, 2, (3, K))
    close(fd_grad(lambda x: P.bern_log_prob(x, a).sum(), z), P.bern_log_prob_grad(z, a))
    close(fd_grad(lambda x: P.bern_entropy(x).sum(), z), P.bern_entropy_grad(z))
    gp, gq = P.bern_kl_grad(z, zq)
    close(fd_grad(lambda x: P.bern_kl(x, zq).sum(), z), gp)
    close(fd_grad(lambda x: P.bern_kl(z, x).sum(), zq), gq)


# ------------------------------------------------------------------------------ contracts

@pytest.mark.parametrize("nvec", NVECS)
def test_md_contracts_over_the_enumerated_joint(nvec):
    _, z, _ = md_case(1, nvec, B=2)
    J = joint(nvec)                                         # [M, K] every joint action
    logp = np.stack([P.md_log_prob(z, np.broadcast_to(j, (2, len(nvec))), nvec) for j in J])
    p = np.exp(logp)                                        # [M, B]
    assert np.allclose(p.sum(axis=0), 1.0, atol=1e-14, rtol=0)
    score = np.stack([P.md_log_prob_grad(z, np.broadcast_to(j, (2, len(nvec))), nvec)
                      for j in J])                          # [M, B, W]
    assert np.allclose((p[..., None] * score).sum(axis=0), 0.0, atol=1e-14)
    assert np.allclose(-(p * logp).sum(axis=0), P.md_entropy(z, nvec), atol=1e-13)
    zq = np.random.default_rng(2).normal(size=z.shape)
    logq = np.stack([P.md_log_prob(zq, np.broadcast_to(j, (2, len(nvec))), nvec) for j in J])
    assert np.allclose((p * (logp - logq)).sum(axis=0), P.md_kl(z, zq, nvec), atol=1e-13)
    assert np.all(P.md_kl(z, zq, nvec) >= 0) and np.allclose(P.md_kl(z, z, nvec), 0.0)


@pytest.mark.parametrize("K", [1, 2, 4])
def test_bern_contracts_over_the_enumerated_joint(K):
    z = 3.0 * np.random.default_rng(K).normal(size=(2, K))
    J = joint((2,) * K)
    logp = np.stack([P.bern_log_prob(z, np.broadcast_to(j, (2, K))) for j in J])
    p = np.exp(logp)
    assert np.allclose(p.sum(axis=0), 1.0, atol=1e-14, rtol=0)
    score = np.stack([P.bern_log_prob_grad(z, np.broadcast_to(j, (2, K))) for j in J])
    assert np.allclose((p[..., None] * score).sum(axis=0), 0.0, atol=1e-14)
    assert np.allclose(-(p * logp).sum(axis=0), P.bern_entropy(z), atol=1e-13)
    zq = np.random.default_rng(9).normal(size=z.shape)
    logq = np.stack([P.bern_log_prob(zq, np.broadcast_to(j, (2, K))) for j in J])
    assert np.allclose((p * (logp - logq)).sum(axis=0), P.bern_kl(z, zq), atol=1e-13)


@settings(deadline=None, max_examples=15)
@given(seed=st.integers(0, 10_000), nvec=st.sampled_from(NVECS))
def test_weighted_score_sum_and_zero_weights(seed, nvec):
    """d/dz sum_b w_b log pi(a_b | z_b) = w_b score_b row by row (FD of the weighted sum), and
    zero weights give an exactly zero gradient."""
    rng, z, a = md_case(seed, nvec, B=4)
    w = rng.normal(size=4)
    w[1] = 0.0
    g = w[:, None] * P.md_log_prob_grad(z, a, nvec)
    close(fd_grad(lambda x: (w * P.md_log_prob(x, a, nvec)).sum(), z), g)
    assert np.all(g[1] == 0.0)
    zb = rng.normal(size=(4, 3))
    ab = rng.integers(0, 2, (4, 3))
    gb = w[:, None] * P.bern_log_prob_grad(zb, ab)
    close(fd_grad(lambda x: (w * P.bern_log_prob(x, ab)).sum(), zb), gb)
    assert np.all(gb[1] == 0.0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_kept(dtype):
    nvec = (3, 2)
    z = np.random.default_rng(0).normal(size=(4, 5)).astype(dtype)
    a = np.array([[0, 1], [2, 0], [1, 1], [0, 0]])
    for out in (P.md_log_prob(z, a, nvec), P.md_log_prob_grad(z, a, nvec),
                P.md_entropy(z, nvec), P.md_entropy_grad(z, nvec), P.md_kl(z, z, nvec),
                *P.md_kl_grad(z, z, nvec)):
        assert out.dtype == dtype
    zb, ab = z[:, :3], a[:, :1].repeat(3, axis=1) % 2
    for out in (P.bern_log_prob(zb, ab), P.bern_log_prob_grad(zb, ab), P.bern_entropy(zb),
                P.bern_entropy_grad(zb), P.bern_kl(zb, zb), *P.bern_kl_grad(zb, zb),
                P.sigmoid(zb), P.softplus(zb)):
        assert out.dtype == dtype


def test_extreme_logits_stay_finite():
    z = np.array([[-800.0, 0.0, 800.0]])
    for out in (P.bern_log_prob(z, np.array([[1, 0, 1]])), P.bern_entropy(z),
                P.bern_kl(z, -z), P.bern_log_prob_grad(z, np.array([[0, 1, 0]]))):
        assert np.all(np.isfinite(out))
    assert P.sigmoid(z).tolist() == [[0.0, 0.5, 1.0]]


# ------------------------------------------------------------------------------ sampling

def test_md_sample_frequencies_z_test():
    nvec, n = (3, 2), 40_000
    z = np.array([0.5, -1.0, 1.0, 2.0, 0.0])
    a = P.md_sample(np.broadcast_to(z, (n, 5)).copy(), nvec, np.random.default_rng(0))
    J = joint(nvec)
    p = np.exp([P.md_log_prob(z[None], j[None], nvec)[0] for j in J])
    freq = np.array([np.mean(np.all(a == j, axis=1)) for j in J])
    zs = (freq - p) / np.sqrt(p * (1 - p) / n)
    assert np.all(np.abs(zs) < 4.5)
    assert np.array_equal(P.md_mode(z[None], nvec)[0], [2, 0])


def test_bern_sample_frequencies_z_test():
    z, n = np.array([-2.0, 0.0, 1.5]), 40_000
    a = P.bern_sample(np.broadcast_to(z, (n, 3)).copy(), np.random.default_rng(1))
    p = P.sigmoid(z)
    zs = (a.mean(axis=0) - p) / np.sqrt(p * (1 - p) / n)
    assert np.all(np.abs(zs) < 4.5)
    assert P.bern_mode(z[None]).tolist() == [[0, 0, 1]]


# ------------------------------------------------------------------------------ bad input

def test_bad_input():
    with pytest.raises(ValueError, match=r"nvec\[1\] = 0"):
        P.check_nvec([3, 0, 2])
    with pytest.raises(ValueError, match="at least one dimension"):
        P.check_nvec([])
    with pytest.raises(TypeError, match="nvec"):
        P.check_nvec([2.5])
    z = np.zeros((2, 5))
    with pytest.raises(ValueError, match="5|sum of nvec"):
        P.md_log_prob(np.zeros((2, 4)), np.zeros((2, 2), np.int64), (3, 2))
    with pytest.raises(ValueError, match=r"\[0, n_k\)"):
        P.md_log_prob(z, np.array([[3, 0], [0, 0]]), (3, 2))
    with pytest.raises(ValueError, match="shape"):
        P.md_log_prob(z, np.zeros((2, 3), np.int64), (3, 2))
    with pytest.raises(TypeError, match="integer"):
        P.md_log_prob(z, np.zeros((2, 2)), (3, 2))
    with pytest.raises(ValueError, match="finite"):
        P.bern_entropy(np.array([[np.nan]]))
    with pytest.raises(ValueError, match=r"\[0, n_k\)"):
        P.bern_log_prob(np.zeros((1, 2)), np.array([[2, 0]]))
    with pytest.raises(TypeError, match="Generator"):
        P.bern_sample(np.zeros((1, 2)), 0)


@pytest.mark.parametrize("binary", [False, True])
def test_every_function_on_every_backend_equals_numpy(xp, binary):
    # The same logits and actions on another array module (array_api_strict, CuPy) give NumPy's
    # values (to rounding) and the same draws from the same Generator.
    from npg.backend import to_numpy
    rng = np.random.default_rng(7)
    nvec = (2,) * 4 if binary else (3, 2, 4)
    z = rng.normal(size=(5, len(nvec) if binary else sum(nvec)))
    a = np.stack([rng.integers(0, n, 5) for n in nvec], axis=-1)
    zx, ax = xp.asarray(z), xp.asarray(a)
    dist, dist_x = P.ProductLogits(z, nvec, binary), P.ProductLogits(zx, nvec, binary)
    lp, h, d = dist.terms(a)
    lpx, hx, dx = dist_x.terms(ax)
    w, v = rng.normal(size=5), rng.normal(size=5)
    for got, want in ((lpx, lp), (hx, h), (dx(xp.asarray(w), xp.asarray(v)), d(w, v)),
                      (dist_x.log_prob(ax), dist.log_prob(a)), (dist_x.entropy(), dist.entropy())):
        np.testing.assert_allclose(to_numpy(got), want, rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(to_numpy(dist_x.mode()), dist.mode())
    np.testing.assert_array_equal(to_numpy(dist_x.sample(np.random.default_rng(3))),
                                  dist.sample(np.random.default_rng(3)))
    with pytest.raises(ValueError, match="must lie in"):
        dist_x.log_prob(xp.asarray(a + 4))
