"""npg.distributions: categorical and diagonal Gaussian, values and hand-derived gradients.

Kinds: (1) hand-derived values, (2) identities between functions, (3) central finite
differences in float64 with hypothesis (200 examples per gradient, logits up to +-1000),
plus sampling, masking, extreme values, backends and bad input.
"""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from npg.backend import to_numpy
from npg.distributions import categorical as cat
from npg.distributions import gaussian as gau
from npg.testing import check_grad

FD = settings(max_examples=200)


def _np(x):
    return np.asarray(to_numpy(x))


def _f64(shape, bound):
    return hnp.arrays(np.float64, shape, elements=st.floats(-bound, bound, allow_nan=False,
                                                            allow_subnormal=False))


@st.composite
def cat_case(draw, bound=1000.0):
    """logits z [B, A] in [-bound, bound], actions a [B], weights c [B] for a scalar objective."""
    b, a = draw(st.integers(1, 3)), draw(st.integers(1, 4))
    z = draw(_f64((b, a), bound))
    act = draw(hnp.arrays(np.int64, (b,), elements=st.integers(0, a - 1)))
    c = draw(_f64((b,), 2.0))
    return z, act, c


@st.composite
def gauss_case(draw):
    """mean, log_std (within [-2, 1]), actions [B, K] and weights c [B]."""
    b, k = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    log_std = 1.5 * draw(_f64((b, k), 1.0)) - 0.5                      # in [-2, 1]
    return draw(_f64((b, k), 5.0)), log_std, draw(_f64((b, k), 5.0)), draw(_f64((b,), 2.0))


# ----------------------------------------------------------------------------------------------
# (1) Hand-derived values
# ----------------------------------------------------------------------------------------------

def test_categorical_hand_values():
    # z = [0, log 3]: sum exp = 1 + 3 = 4, so pi = [1/4, 3/4] and log pi = [-log 4, log 3/4].
    z = np.array([[0.0, math.log(3.0)]])
    np.testing.assert_allclose(cat.softmax(z), [[0.25, 0.75]], rtol=1e-15)
    np.testing.assert_allclose(cat.log_softmax(z), [[-math.log(4), math.log(0.75)]], rtol=1e-15)
    # d log pi(0) / dz = onehot(0) - pi = [3/4, -3/4].
    np.testing.assert_allclose(cat.log_prob_grad(z, np.array([0])), [[0.75, -0.75]], rtol=1e-15)
    # H = -(1/4 log 1/4 + 3/4 log 3/4); dH/dz_j = -pi_j (log pi_j + H).
    h = -(0.25 * math.log(0.25) + 0.75 * math.log(0.75))
    np.testing.assert_allclose(cat.entropy(z), [h], rtol=1e-15)
    np.testing.assert_allclose(cat.entropy_grad(z),
                               [[-0.25 * (math.log(0.25) + h), -0.75 * (math.log(0.75) + h)]],
                               rtol=1e-14)
    # KL([1/4, 3/4] || [1/2, 1/2]) = 1/4 log(1/2) + 3/4 log(3/2).
    kl = 0.25 * math.log(0.5) + 0.75 * math.log(1.5)
    np.testing.assert_allclose(cat.kl(z, np.zeros((1, 2))), [kl], rtol=1e-14)
    # Uniform over A: H = log A; mode of [1, 5, 5] is the first maximum, 1.
    assert cat.entropy(np.zeros((1, 5)))[0] == pytest.approx(math.log(5), rel=1e-15)
    assert cat.mode(np.array([[1.0, 5.0, 5.0]]))[0] == 1


def test_gaussian_hand_values():
    # Standard normal at a = mean: log pi = -log(2 pi)/2 per dimension; gradients (0, -1).
    m, s, a = np.zeros((1, 2)), np.zeros((1, 2)), np.zeros((1, 2))
    np.testing.assert_allclose(gau.log_prob(m, s, a), [-math.log(2 * math.pi)], rtol=1e-15)
    dm, ds = gau.log_prob_grad(m, s, a)
    np.testing.assert_array_equal(dm, [[0.0, 0.0]])
    np.testing.assert_array_equal(ds, [[-1.0, -1.0]])
    # mu = 1, sigma = 2 (log_std = log 2), a = 3: u = 1, d/dmu = 2/4, d/dlog_std = 1 - 1 = 0,
    # log pi = -1/2 - log 2 - log(2 pi)/2.
    m, s, a = np.array([[1.0]]), np.array([[math.log(2.0)]]), np.array([[3.0]])
    np.testing.assert_allclose(gau.log_prob(m, s, a),
                               [-0.5 - math.log(2) - 0.5 * math.log(2 * math.pi)], rtol=1e-15)
    dm, ds = gau.log_prob_grad(m, s, a)
    np.testing.assert_allclose(dm, [[0.5]], rtol=1e-15)
    np.testing.assert_allclose(ds, [[0.0]], atol=1e-15)
    # H(N(0, 1)) = (1 + log 2 pi)/2; KL(N(0,1) || N(1,1)) = 1/2; KL(N(0,1) || N(0, e^2)) =
    # 1 + 1/(2 e^2) - 1/2.
    assert gau.entropy(np.zeros((1,)))  == pytest.approx(0.5 * (1 + math.log(2 * math.pi)))
    assert gau.kl(np.zeros(1), np.zeros(1), np.ones(1), np.zeros(1)) == pytest.approx(0.5)
    assert gau.kl(np.zeros(1), np.zeros(1), np.zeros(1), np.ones(1)) == pytest.approx(
        1 + 0.5 * math.exp(-2) - 0.5, rel=1e-14)


# ----------------------------------------------------------------------------------------------
# (2) Identities
# ----------------------------------------------------------------------------------------------

@FD
@given(cat_case())
def test_categorical_identities(case):
    z, act, _ = case
    p, logp = cat.softmax(z), cat.log_softmax(z)
    A = z.shape[1]
    np.testing.assert_allclose(p.sum(-1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(np.exp(logp), p, rtol=1e-12, atol=1e-300)
    # Every score has zero sum, and its expectation under pi vanishes: sum_a pi_a (e_a - pi) = 0.
    all_scores = np.stack([cat.log_prob_grad(z, np.full_like(act, i)) for i in range(A)], 1)
    np.testing.assert_allclose(all_scores.sum(-1), 0.0, atol=1e-12)
    np.testing.assert_allclose(np.einsum("ba,bac->bc", p, all_scores), 0.0, atol=1e-12)
    # H = -E log pi; KL(p || p) = 0 and is shift invariant; d KL / d z_q = q - p.
    np.testing.assert_allclose(cat.entropy(z), -(p * logp).sum(-1), rtol=1e-12, atol=1e-12)
    assert np.all(cat.entropy(z) >= -1e-12)
    np.testing.assert_array_equal(cat.kl(z, z), 0.0)
    np.testing.assert_allclose(cat.kl(z, z + 3.0), 0.0, atol=1e-9)
    np.testing.assert_allclose(cat.entropy_grad(z).sum(-1), 0.0, atol=1e-12)
    np.testing.assert_allclose(cat.kl_grad(z, -z)[1], cat.softmax(-z) - p, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(cat.log_prob(z, act), logp[np.arange(len(act)), act], rtol=1e-15)


def test_gaussian_score_has_mean_zero_and_fisher_by_quadrature():
    # E_{a ~ N(mu, sigma^2)}[d log pi / d mu] = 0, E[d log pi / d log_std] = 0, and the Fisher
    # information E[(d/dmu)^2] = 1/sigma^2, E[(d/dlog_std)^2] = 2, by 40-point Gauss-Hermite
    # quadrature (exact for these polynomials): a = mu + sqrt(2) sigma x_i, weights w_i/sqrt(pi).
    x, wq = np.polynomial.hermite.hermgauss(40)
    mu, ls = 0.7, -0.4
    a = (mu + math.sqrt(2.0) * math.exp(ls) * x)[:, None]
    dm, ds = gau.log_prob_grad(np.full_like(a, mu), np.full_like(a, ls), a)
    wq = wq / math.sqrt(math.pi)
    assert abs(wq @ dm[:, 0]) < 1e-13 and abs(wq @ ds[:, 0]) < 1e-13
    assert wq @ dm[:, 0] ** 2 == pytest.approx(math.exp(-2 * ls), rel=1e-12)
    assert wq @ ds[:, 0] ** 2 == pytest.approx(2.0, rel=1e-12)
    # Densities integrate to 1: sum_i w_i exp(log pi(a_i)) / phi-weight = 1.
    assert wq @ np.ones(len(x)) == pytest.approx(1.0, rel=1e-14)


@FD
@given(gauss_case(), gauss_case())
def test_gaussian_identities(c1, c2):
    m, s, a, _ = c1
    k = m.shape[1]
    m2, s2 = c2[0][:1, :1] + np.zeros_like(m), c2[1][:1, :1] + np.zeros_like(s)
    np.testing.assert_array_equal(gau.kl(m, s, m, s), 0.0)
    assert np.all(gau.kl(m, s, m2, s2) >= -1e-12)
    # KL(p || q) = E_p[log p - log q] with log pi = log_prob: the cross term is checked via the
    # entropy: KL(p || p) = -H(p) - E_p log p = 0; H = -E log pi by quadrature in 1-d below.
    np.testing.assert_allclose(gau.entropy(s), s.sum(-1) + 0.5 * k * (1 + math.log(2 * math.pi)),
                               rtol=1e-12)
    # log_prob is the sum of the 1-d log densities.
    one_d = sum(gau.log_prob(m[:, j:j + 1], s[:, j:j + 1], a[:, j:j + 1]) for j in range(k))
    np.testing.assert_allclose(gau.log_prob(m, s, a), one_d, rtol=1e-12, atol=1e-12)
    # The KL gradient in mu_q is minus the one in mu_p.
    g = gau.kl_grad(m, s, m2, s2)
    np.testing.assert_array_equal(g[2], -g[0])


def test_gaussian_entropy_and_kl_match_quadrature():
    # H = -E log pi and KL(p||q) = E_p[log p - log q], by Gauss-Hermite quadrature in 1-d.
    x, wq = np.polynomial.hermite.hermgauss(60)
    wq = wq / math.sqrt(math.pi)
    mp, sp, mq, sq = 0.3, -0.2, -0.5, 0.4
    a = (mp + math.sqrt(2) * math.exp(sp) * x)[:, None]
    f = lambda m, s: gau.log_prob(np.full_like(a, m), np.full_like(a, s), a)  # noqa: E731
    assert -wq @ f(mp, sp) == pytest.approx(gau.entropy(np.array([sp])), rel=1e-12)
    assert wq @ (f(mp, sp) - f(mq, sq)) == pytest.approx(
        gau.kl(np.array([mp]), np.array([sp]), np.array([mq]), np.array([sq])), rel=1e-12)


# ----------------------------------------------------------------------------------------------
# (3) Finite differences, float64, 200 examples each
# ----------------------------------------------------------------------------------------------

@FD
@given(cat_case())
def test_fd_categorical_log_prob(case):
    z, act, c = case
    check_grad(lambda p: c @ cat.log_prob(p["z"], act), {"z": c[:, None] *
               cat.log_prob_grad(z, act)}, {"z": z})


@FD
@given(cat_case())
def test_fd_categorical_entropy(case):
    z, _, c = case
    check_grad(lambda p: c @ cat.entropy(p["z"]), {"z": c[:, None] * cat.entropy_grad(z)},
               {"z": z})


@FD
@given(cat_case(), st.data())
def test_fd_categorical_kl_both_arguments(case, data):
    z_p, _, c = case
    z_q = data.draw(_f64(z_p.shape, 1000.0))
    gp, gq = cat.kl_grad(z_p, z_q)
    check_grad(lambda p: c @ cat.kl(p["z_p"], p["z_q"]),
               {"z_p": c[:, None] * gp, "z_q": c[:, None] * gq}, {"z_p": z_p, "z_q": z_q})


@FD
@given(gauss_case())
def test_fd_gaussian_log_prob(case):
    m, s, a, c = case
    dm, ds = gau.log_prob_grad(m, s, a)
    check_grad(lambda p: c @ gau.log_prob(p["mean"], p["log_std"], a),
               {"mean": c[:, None] * dm, "log_std": c[:, None] * ds}, {"mean": m, "log_std": s})


@FD
@given(gauss_case())
def test_fd_gaussian_entropy(case):
    _, s, _, c = case
    check_grad(lambda p: c @ gau.entropy(p["log_std"]),
               {"log_std": c[:, None] * gau.entropy_grad(s)}, {"log_std": s})


@FD
@given(gauss_case(), gauss_case())
def test_fd_gaussian_kl_all_arguments(c1, c2):
    m, s, _, c = c1
    mq = np.resize(c2[0], m.shape)
    sq = np.resize(c2[1], s.shape)
    g = gau.kl_grad(m, s, mq, sq)
    check_grad(lambda p: c @ gau.kl(p["mp"], p["sp"], p["mq"], p["sq"]),
               {k: c[:, None] * gk for k, gk in zip(("mp", "sp", "mq", "sq"), g)},
               {"mp": m, "sp": s, "mq": mq, "sq": sq})


# ----------------------------------------------------------------------------------------------
# Extreme values, masking, sampling
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_categorical_extreme_logits_stay_finite(dtype):
    z = np.array([[1000.0, -1000.0, 0.0], [-1000.0, -1000.0, -1000.0]], dtype=dtype)
    a = np.array([1, 2])
    for out in (cat.softmax(z), cat.log_softmax(z), cat.log_prob(z, a), cat.entropy(z),
                cat.entropy_grad(z), cat.log_prob_grad(z, a), cat.kl(z, -z), *cat.kl_grad(z, -z)):
        assert np.all(np.isfinite(out)) and out.dtype == dtype
    np.testing.assert_allclose(cat.softmax(z)[1], 1 / 3, rtol=1e-6)
    assert cat.log_prob(z, a)[0] == pytest.approx(-2000.0)


def test_gaussian_log_std_bounds_stay_finite():
    for dtype in (np.float32, np.float64):
        s = gau.clip_log_std(np.array([[-1e3, 1e3, 0.5]], dtype=dtype))
        np.testing.assert_array_equal(s, np.array([[gau.LOG_STD_MIN, gau.LOG_STD_MAX, 0.5]], dtype))
        m, a = np.zeros_like(s), np.ones_like(s)
        for out in (gau.log_prob(m, s, a), *gau.log_prob_grad(m, s, a), gau.entropy(s),
                    gau.kl(m, s, a, s[:, ::-1]), *gau.kl_grad(m, s, a, s[:, ::-1])):
            assert np.all(np.isfinite(out)) and out.dtype == dtype


def test_mask_logits():
    z = np.array([[1000.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    mask = np.array([[False, True, True], [True, False, False]])
    zm = cat.mask_logits(z, mask)
    assert np.all(np.isfinite(zm)) and zm[0, 0] == cat.MASK_LOGIT
    p = cat.softmax(zm)
    assert p[0, 0] == 0.0 and p[1, 1] == 0.0 and p[1, 0] == 1.0
    for out in (cat.entropy(zm), cat.entropy_grad(zm), cat.log_prob_grad(zm, np.array([1, 0]))):
        assert np.all(np.isfinite(out))
    assert cat.entropy(zm)[1] == 0.0
    draws = cat.sample(np.repeat(zm, 500, axis=0), np.random.default_rng(0))
    assert np.all(draws[:500] != 0) and np.all(draws[500:] == 0)
    with pytest.raises(ValueError, match="mask"):
        cat.mask_logits(z, np.zeros((2, 3), dtype=bool))
    with pytest.raises(TypeError, match="mask"):
        cat.mask_logits(z, np.ones((2, 3)))


def test_categorical_sampling_matches_probabilities():
    # 40000 Gumbel-max draws; each frequency within 4.5 standard errors of pi_a.
    z = np.array([[0.0, 1.0, -1.0, 2.0]])
    n = 40000
    draws = cat.sample(np.repeat(z, n, axis=0), np.random.default_rng(1))
    assert draws.dtype == np.int64 and draws.shape == (n,)
    p = cat.softmax(z)[0]
    freq = np.bincount(draws, minlength=4) / n
    assert np.all(np.abs(freq - p) < 4.5 * np.sqrt(p * (1 - p) / n))
    again = cat.sample(np.repeat(z, n, axis=0), np.random.default_rng(1))
    np.testing.assert_array_equal(draws, again)


def test_gaussian_sampling_moments_and_reproducible():
    n = 40000
    m, s = np.array([[1.0, -2.0]]), np.array([[0.0, math.log(0.5)]])
    x = gau.sample(np.repeat(m, n, 0), np.repeat(s, n, 0), np.random.default_rng(2))
    se = np.exp(s[0]) / math.sqrt(n)
    assert np.all(np.abs(x.mean(0) - m[0]) < 4.5 * se)
    assert np.all(np.abs(x.std(0) / np.exp(s[0]) - 1) < 4.5 / math.sqrt(2 * n))
    np.testing.assert_array_equal(x, gau.sample(np.repeat(m, n, 0), np.repeat(s, n, 0),
                                                np.random.default_rng(2)))
    # A state-independent log_std [K] broadcasts against mean [B, K].
    assert gau.sample(np.zeros((3, 2)), np.zeros(2), np.random.default_rng(0)).shape == (3, 2)


# ----------------------------------------------------------------------------------------------
# Backends: every function gives the numpy values on the xp fixture
# ----------------------------------------------------------------------------------------------

def test_backends_agree(xp):
    rng = np.random.default_rng(3)
    z, zq = rng.standard_normal((4, 3)) * 5, rng.standard_normal((4, 3))
    a = rng.integers(0, 3, 4)
    X = lambda v: xp.asarray(v)  # noqa: E731
    pairs = [
        (cat.softmax(X(z)), cat.softmax(z)), (cat.log_prob(X(z), X(a)), cat.log_prob(z, a)),
        (cat.log_prob_grad(X(z), X(a)), cat.log_prob_grad(z, a)),
        (cat.entropy(X(z)), cat.entropy(z)), (cat.entropy_grad(X(z)), cat.entropy_grad(z)),
        (cat.kl(X(z), X(zq)), cat.kl(z, zq)), (cat.kl_grad(X(z), X(zq))[0], cat.kl_grad(z, zq)[0]),
        (cat.mode(X(z)), cat.mode(z)),
        (cat.sample(X(z), np.random.default_rng(0)), cat.sample(z, np.random.default_rng(0))),
        (cat.mask_logits(X(z), X(z > 0) | X(np.eye(4, 3, dtype=bool))),
         cat.mask_logits(z, (z > 0) | np.eye(4, 3, dtype=bool))),
        (gau.log_prob(X(z), X(zq), X(z + zq)), gau.log_prob(z, zq, z + zq)),
        (gau.log_prob_grad(X(z), X(zq), X(zq))[1], gau.log_prob_grad(z, zq, zq)[1]),
        (gau.entropy(X(zq)), gau.entropy(zq)), (gau.entropy_grad(X(zq)), gau.entropy_grad(zq)),
        (gau.kl(X(z), X(zq), X(zq), X(z / 5)), gau.kl(z, zq, zq, z / 5)),
        (gau.kl_grad(X(z), X(zq), X(zq), X(z / 5))[3], gau.kl_grad(z, zq, zq, z / 5)[3]),
        (gau.sample(X(z), X(zq), np.random.default_rng(0)),
         gau.sample(z, zq, np.random.default_rng(0))),
        (gau.clip_log_std(X(z)), gau.clip_log_std(z)),
    ]
    for got, want in pairs:
        assert type(got).__module__.split(".")[0] == xp.__name__.split(".")[0]
        np.testing.assert_allclose(_np(got), want, rtol=1e-13, atol=1e-15)


# ----------------------------------------------------------------------------------------------
# Bad input
# ----------------------------------------------------------------------------------------------

def test_bad_input_names_the_argument():
    z = np.zeros((2, 3))
    with pytest.raises(TypeError, match="a must be an integer"):
        cat.log_prob(z, np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"a must lie in \[0, 3\)"):
        cat.log_prob_grad(z, np.array([0, 3]))
    with pytest.raises(ValueError, match="a must have shape"):
        cat.log_prob(z, np.array([0, 1, 2]))
    with pytest.raises(TypeError, match="z must be a real floating"):
        cat.softmax(np.zeros((2, 3), dtype=np.int64))
    with pytest.raises(ValueError, match="z_q must have the shape"):
        cat.kl(z, np.zeros((2, 4)))
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator"):
        cat.sample(z, 0)
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator"):
        gau.sample(z, z, None)
    with pytest.raises(TypeError, match="log_std must be a real floating"):
        gau.entropy(np.zeros((2,), dtype=np.int64))
    with pytest.raises(ValueError, match="mean must be an array"):
        gau.log_prob(np.float64(0.0), z, z)
