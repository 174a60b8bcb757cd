"""npg.features: one-hot, polynomial, RBF and state-action feature maps."""

import math

import numpy as np
import pytest

from npg.backend import to_numpy
from npg.features import RBF, OneHot, Polynomial, StateActionFeatures


def _np(x):
    return np.asarray(to_numpy(x))


def test_onehot_values():
    phi = OneHot(4)(np.array([2, 0, 3]))
    np.testing.assert_array_equal(phi, np.eye(4)[[2, 0, 3]])
    assert phi.dtype == np.float64 and OneHot(4).dim == 4
    assert OneHot(4)(np.array([1]), np.float32).dtype == np.float32
    assert OneHot(3).discrete and not OneHot(3).state_action


def test_polynomial_hand_values():
    # s = (2, 3), degree 3: [1, s1, s2, s1^2, s1 s2, s2^2, s1^3, s1^2 s2, s1 s2^2, s2^3]
    #                     = [1, 2, 3, 4, 6, 9, 8, 12, 18, 27]
    f = Polynomial(obs_dim=2, degree=3)
    np.testing.assert_array_equal(f(np.array([[2.0, 3.0]])),
                                  [[1, 2, 3, 4, 6, 9, 8, 12, 18, 27]])
    # degree 1 is [1, s]; degree 0 the constant alone.
    np.testing.assert_array_equal(Polynomial(3, 1)(np.array([[5.0, 6.0, 7.0]])), [[1, 5, 6, 7]])
    np.testing.assert_array_equal(Polynomial(3, 0)(np.ones((2, 3))), [[1.0], [1.0]])


@pytest.mark.parametrize("obs_dim,degree", [(1, 1), (2, 2), (3, 2), (4, 3)])
def test_polynomial_matches_exponents(obs_dim, degree):
    # Identity: phi_i(s) = prod_j s_j^{e_ij}, and dim = C(obs_dim + degree, degree).
    f = Polynomial(obs_dim, degree)
    e = f.exponents()
    assert f.dim == e.shape[0] == math.comb(obs_dim + degree, degree)
    assert len({tuple(r) for r in e}) == f.dim and np.all(e.sum(1) <= degree)
    s = np.random.default_rng(0).standard_normal((5, obs_dim))
    np.testing.assert_allclose(f(s), np.prod(s[:, None, :] ** e[None], axis=2), rtol=1e-14)


def test_rbf_values():
    # phi_d(s) = exp(-||s - c_d||^2 / (2 l^2)): 1 at a centre, exp(-1/2) at distance l.
    f = RBF(np.array([[0.0, 0.0], [1.0, 1.0]]), width=2.0)
    phi = f(np.array([[0.0, 0.0], [2.0, 0.0]]))
    np.testing.assert_allclose(phi[0], [1.0, math.exp(-2.0 / 8.0)], rtol=1e-14)
    np.testing.assert_allclose(phi[1], [math.exp(-0.5), math.exp(-2.0 / 8.0)], rtol=1e-14)
    g = RBF.grid([0.0, -1.0], [1.0, 1.0], n_per_dim=3)
    assert g.dim == 9 and g.obs_dim == 2 and g.width == pytest.approx(0.5)
    s = np.random.default_rng(1).standard_normal((4, 2))
    direct = np.exp(-((s[:, None] - g.centres[None]) ** 2).sum(-1) / (2 * g.width ** 2))
    np.testing.assert_allclose(g(s), direct, rtol=1e-12, atol=1e-300)


def test_state_action_features_block_structure():
    # phi(s, a)[a' D + d] = [a' = a] phi(s)_d.
    base = Polynomial(2, 1)
    f = StateActionFeatures(base, n_actions=3)
    s = np.array([[2.0, 3.0], [-1.0, 0.5]])
    phi = f(s)
    assert phi.shape == (2, 3, 9) and f.dim == 9 and f.state_action
    for a in range(3):
        want = np.zeros((2, 9))
        want[:, 3 * a:3 * a + 3] = base(s)
        np.testing.assert_array_equal(phi[:, a], want)
    with pytest.raises(TypeError, match="features"):
        StateActionFeatures(f, 2)


def test_backends_agree(xp):
    rng = np.random.default_rng(2)
    s, st = rng.standard_normal((4, 2)), rng.integers(0, 5, 4)
    maps = [(Polynomial(2, 2), s), (RBF.grid([-1, -1], [1, 1], 3), s), (OneHot(5), st),
            (StateActionFeatures(Polynomial(2, 1), 2), s)]
    for f, x in maps:
        got = f(xp.asarray(x))
        assert type(got).__module__.split(".")[0] == xp.__name__.split(".")[0]
        np.testing.assert_allclose(_np(got), f(x), rtol=1e-13)
        assert f(xp.asarray(x), xp.float32).dtype == xp.float32


def test_bad_input():
    with pytest.raises(TypeError, match="obs"):
        OneHot(3)(np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"obs must lie in \[0, 3\)"):
        OneHot(3)(np.array([0, 3]))
    with pytest.raises(ValueError, match="obs"):
        OneHot(3)(np.zeros((2, 1), dtype=np.int64))
    with pytest.raises(ValueError, match=r"obs must have shape \[B, 2\]"):
        Polynomial(2, 2)(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="obs must be finite"):
        Polynomial(2, 2)(np.array([[np.nan, 0.0]]))
    with pytest.raises(ValueError, match="obs must be finite"):
        RBF(np.zeros((1, 2)), 1.0)(np.array([[np.inf, 0.0]]))
    with pytest.raises(ValueError, match="n must be a positive int"):
        OneHot(0)
    with pytest.raises(ValueError, match="degree"):
        Polynomial(2, -1)
    with pytest.raises(TypeError, match="degree"):
        Polynomial(2, 1.5)
    with pytest.raises(ValueError, match="width"):
        RBF(np.zeros((1, 2)), 0.0)
    with pytest.raises(ValueError, match="centres"):
        RBF(np.zeros(3), 1.0)
