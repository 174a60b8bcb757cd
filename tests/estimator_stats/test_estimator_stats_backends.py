"""The NumPy-code modules behind ``npg.mdp.host.numpy_boundary`` on every array module: given an
MDP moved with ``FiniteMDP.to(xp)`` (and parameters, tables on xp) they convert once and return
exactly the NumPy MDP's results, as NumPy. Exact estimator moments, the optimal baseline, the
return variance, V-trace, differential values, the Fisher comparisons and the rate constants.
"""

import numpy as np
import pytest

import npg.estimators as E
import npg.mdp as M
from npg.backend import namespace_of
from npg.estimator_stats import (baseline_quadratic, enumerated_moments, exact_moments,
                                 optimal_baseline, return_variance)
from npg.mdp.host import to_host
from npg.policies import TabularSoftmaxPolicy


def problem():
    mdp = M.random_mdp(4, 2, 3, gamma=0.8, n_terminal=1, p_terminate=0.2)
    pol = TabularSoftmaxPolicy(4, 2)
    params = {"theta": 0.5 * np.random.default_rng(4).standard_normal((4, 2))}
    pi = M.policy_matrix(pol, params, M.default_obs(mdp, pol))
    return mdp, pol, params, pi


def test_exact_moments_convert_once_and_match_numpy(xp):
    mdp, pol, params, pi = problem()
    dev, on = mdp.to(xp), {"theta": xp.asarray(params["theta"])}
    V, Q, _ = M.evaluate(mdp, pi)
    for est, est_dev in ((E.RewardToGo(), E.RewardToGo()),
                         (E.GAE(V, 0.5), E.GAE(xp.asarray(V), 0.5)),
                         (E.ExactQ(Q), E.ExactQ(xp.asarray(Q)))):
        ref = exact_moments(mdp, pol, params, est, 4)
        got = exact_moments(dev, pol, on, est_dev, 4)
        assert namespace_of(got.mean) is np
        np.testing.assert_array_equal(got.mean, ref.mean)
        np.testing.assert_array_equal(got.cov, ref.cov)
    ref = enumerated_moments(mdp, pol, params, E.RewardToGo(), 3)
    np.testing.assert_array_equal(enumerated_moments(dev, pol, on, E.RewardToGo(), 3).cov,
                                  ref.cov)
    np.testing.assert_array_equal(optimal_baseline(dev, pol, on, 4),
                                  optimal_baseline(mdp, pol, params, 4))
    assert baseline_quadratic(dev, pol, on, 4).second == baseline_quadratic(mdp, pol, params,
                                                                            4).second
    assert return_variance(dev, xp.asarray(pi), 5) == return_variance(mdp, pi, 5)


def test_numpy_code_modules_of_npg_mdp_convert_once(xp):
    mdp, pol, params, pi = problem()
    dev, pid = mdp.to(xp), xp.asarray(pi)
    mu = np.full((4, 2), 0.5)
    V = np.arange(4.0)
    np.testing.assert_array_equal(M.vtrace_operator(dev, pid, xp.asarray(mu), xp.asarray(V)),
                                  M.vtrace_operator(mdp, pi, mu, V))
    np.testing.assert_array_equal(M.occupancy(dev, xp.asarray(mu), 6), M.occupancy(mdp, mu, 6))
    on = {"theta": xp.asarray(params["theta"])}
    np.testing.assert_array_equal(M.empirical_fisher(dev, pol, on),
                                  M.empirical_fisher(mdp, pol, params))
    np.testing.assert_array_equal(M.compatible_critic(dev, pol, on),
                                  M.compatible_critic(mdp, pol, params))
    cont = M.random_mdp(4, 2, 5, gamma=0.9)
    for got, ref in zip(M.differential_values(cont.to(xp), xp.asarray(pi)),
                        M.differential_values(cont, pi)):
        np.testing.assert_array_equal(got, ref)


def test_to_host_converts_containers_and_passes_the_rest():
    import array_api_strict as strict
    mdp = M.random_mdp(3, 2, 0)
    x = to_host({"a": [strict.asarray([1.0])], "b": (mdp.to(strict), 2.0, "s")})
    assert isinstance(x["a"][0], np.ndarray) and x["b"][0].xp is np and x["b"][1:] == (2.0, "s")
    pol = TabularSoftmaxPolicy(3, 2)
    assert to_host(pol) is pol
    with pytest.raises(ValueError, match="rows must sum to 1"):   # checks run after the copy
        M.occupancy(mdp.to(strict), strict.asarray(np.full((3, 2), 0.7)), 3)
