"""The estimator harness on every array module: same seed, same estimates as NumPy, kept on xp.

``gradient_estimates`` and ``compare_estimators`` on an MDP moved with ``FiniteMDP.to(xp)`` and a
policy whose parameters live on xp: the trajectories are the same (host uniforms), so every
estimator's M estimates equal the NumPy MDP's to 1e-12 relative and live on xp (array_api_strict
takes the gather path, NumPy and CuPy ``bincount``). Reports are host data (``summarize``).
"""

import numpy as np
import pytest

import npg.estimators as E
import npg.mdp as M
from npg.backend import namespace_of, to_numpy
from npg.policies import MLPCategoricalPolicy, TabularSoftmaxPolicy


def setup(seed=0):
    mdp = M.random_mdp(6, 3, seed, gamma=0.9, n_terminal=1, p_terminate=0.1)
    pol = TabularSoftmaxPolicy(6, 3)
    params = {"theta": np.random.default_rng(seed).standard_normal((6, 3))}
    pi = M.policy_matrix(pol, params, M.default_obs(mdp, pol))
    return mdp, pol, params, pi


def estimators(mdp, pi):
    V, Q, A = M.evaluate(mdp, pi)
    beta = np.random.default_rng(1).dirichlet(np.ones(3), size=6)
    return [E.WholeReturn(), E.RewardToGo(), E.RewardToGo(False), E.Baseline(V), E.ExactQ(Q),
            E.ExactA(A), E.TD(V), E.GAE(V, 0.7), E.ImportanceSampled(beta),
            E.ImportanceSampled(beta, per_decision=False)]


NAMES = [e.name for e in estimators(setup()[0], setup()[3])]


@pytest.mark.parametrize("k", range(len(NAMES)), ids=NAMES)
def test_estimates_match_numpy(xp, k):
    mdp, pol, params, pi = setup()
    est = estimators(mdp, pi)[k]
    ref = E.gradient_estimates(mdp, pol, params, est, 200, 30, 0)
    dev = mdp.to(xp)
    got = E.gradient_estimates(dev, pol, {"theta": xp.asarray(params["theta"])}, est, 200, 30, 0)
    assert namespace_of(got) is xp and tuple(got.shape) == ref.shape
    np.testing.assert_allclose(to_numpy(got), ref, rtol=1e-12, atol=1e-12 * np.abs(ref).max())


def test_tables_on_the_module_give_the_same_weights(xp):
    # the estimator's tables may be given on xp (e.g. from M.evaluate on the moved MDP)
    mdp, pol, params, pi = setup(2)
    dev, pid = mdp.to(xp), xp.asarray(pi)
    V, Q, _ = M.evaluate(dev, pid)
    traj = M.sample_trajectories(dev, pid, 100, 20, 3)
    ref_traj = M.sample_trajectories(mdp, pi, 100, 20, 3)
    Vn, Qn, _ = M.evaluate(mdp, pi)
    for est, est_ref in ((E.GAE(V, 0.5), E.GAE(Vn, 0.5)), (E.ExactQ(Q), E.ExactQ(Qn))):
        w = est.weights(traj, mdp.gamma, pid)
        assert namespace_of(w) is xp
        np.testing.assert_allclose(to_numpy(w), est_ref.weights(ref_traj, mdp.gamma, pi),
                                   rtol=1e-12, atol=1e-13)


def test_compare_estimators_reports_match_numpy(xp):
    mdp = M.random_mdp(5, 2, 4, gamma=0.8)
    pol = MLPCategoricalPolicy(obs_dim=5, n_actions=2, hidden=(4,), activation="tanh")
    params = pol.init(np.random.default_rng(5))
    pi = M.policy_matrix(pol, params, M.default_obs(mdp, pol, params))
    V, _, _ = M.evaluate(mdp, pi)
    ests = [E.RewardToGo(), E.GAE(V, 0.9)]
    ref = E.compare_estimators(mdp, pol, params, ests, 300, 25, 6)
    dev_params = {k: xp.asarray(v) for k, v in params.items()}
    got = E.compare_estimators(mdp.to(xp), pol, dev_params, ests, 300, 25, 6)
    for name in ref:
        np.testing.assert_allclose(got[name].z, ref[name].z, rtol=1e-9, atol=1e-9)
        assert got[name].mse == pytest.approx(ref[name].mse, rel=1e-12)


def test_mixed_modules_in_the_harness_are_refused():
    import array_api_strict as strict
    mdp, pol, params, pi = setup()
    with pytest.raises(TypeError, match=r"params\['theta'\] lives on numpy"):
        E.gradient_estimates(mdp.to(strict), pol, params, E.RewardToGo(), 10, 5, 0)
    traj = M.sample_trajectories(mdp.to(strict), strict.asarray(pi), 10, 5, 0)
    with pytest.raises(TypeError, match="traj.states lives on array_api_strict but w lives on "
                                        "numpy"):
        E.estimates_from_weights(traj, np.zeros((5, 10)), np.zeros((18, 18)), 3)
