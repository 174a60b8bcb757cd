"""Planning, closed forms, entropy regularisation, finite horizon, the exact updaters and the
Hessian of J on every array module (the ``xp`` fixture): each equals the NumPy MDP's result
(1e-12 relative unless a comment says why not) and lives on xp.
"""

import numpy as np
import pytest

import npg.mdp as M
from npg.backend import namespace_of, to_numpy
from npg.params import flatten
from npg.policies import MLPCategoricalPolicy, TabularSoftmaxPolicy

RTOL = 1e-12


def close(got, ref, xp, rtol=RTOL):
    assert namespace_of(got) is xp
    ref = np.asarray(ref)
    scale = max(1.0, float(np.max(np.abs(ref)))) if ref.size else 1.0
    np.testing.assert_allclose(to_numpy(got), ref, rtol=rtol, atol=rtol * scale)


def mdps():
    return (M.random_mdp(6, 3, 11, gamma=0.9),
            M.random_mdp(7, 2, 12, gamma=0.95, n_terminal=2, p_terminate=0.2))


def policy(mdp, seed):
    return np.random.default_rng(seed).dirichlet(np.ones(mdp.n_actions), size=mdp.n_states)


@pytest.mark.parametrize("k", [0, 1], ids=["plain", "terminal"])
def test_planning_matches_numpy(xp, k):
    mdp = mdps()[k]
    dev = mdp.to(xp)
    for f in (lambda m: M.value_iteration(m), lambda m: M.value_iteration(m, rule="sup"),
              lambda m: M.policy_iteration(m), lambda m: M.soft_value_iteration(m, 0.5),
              lambda m: M.soft_policy_iteration(m, 0.5)):
        ref, got = f(mdp), f(dev)
        for field in ("V", "Q", "pi"):            # iterations to 1e-10: agree to the tolerance
            close(getattr(got, field), getattr(ref, field), xp, rtol=1e-9)
        assert got.n_iter == ref.n_iter and got.converged == ref.converged
    V = np.random.default_rng(0).standard_normal(mdp.n_states)
    close(M.bellman_backup(dev, xp.asarray(V)), M.bellman_backup(mdp, V), xp)
    Q = M.bellman_backup(mdp, V)
    close(M.greedy_policy(xp.asarray(Q)), M.greedy_policy(Q), xp)
    close(M.soft_greedy_policy(xp.asarray(Q), 0.3), M.soft_greedy_policy(Q, 0.3), xp)
    close(M.soft_backup(dev, xp.asarray(Q), 0.3), M.soft_backup(mdp, Q, 0.3), xp)
    for got, ref in zip(M.backward_induction(dev, 5, 0.9)[:2], M.backward_induction(mdp, 5, 0.9)):
        close(got, ref, xp)
    assert M.optimal_objective(dev) == pytest.approx(M.optimal_objective(mdp), rel=RTOL)


@pytest.mark.parametrize("k", [0, 1], ids=["plain", "terminal"])
def test_closed_forms_regularised_and_horizon_match_numpy(xp, k):
    mdp = mdps()[k]
    pi = policy(mdp, 1)
    dev, pid = mdp.to(xp), xp.asarray(pi)
    for f in (M.tabular_softmax_gradient, M.tabular_softmax_fisher,
              M.tabular_softmax_natural_gradient, lambda m, p: M.soft_evaluate(m, p, 0.2)[0],
              lambda m, p: M.soft_evaluate(m, p, 0.2)[1],
              lambda m, p: M.tabular_softmax_soft_gradient(m, p, 0.2),
              lambda m, p: M.finite_horizon_evaluate(m, p, 6, 0.9)[1]):
        close(f(dev, pid), f(mdp, pi), xp)
    close(M.policy_entropy(pid), M.policy_entropy(pi), xp)
    assert M.soft_objective(dev, pid, 0.2) == pytest.approx(M.soft_objective(mdp, pi, 0.2),
                                                           rel=RTOL)
    pol = TabularSoftmaxPolicy(mdp.n_states, mdp.n_actions)
    theta = np.log(pi)
    for f in (lambda m, p: M.soft_policy_gradient(m, pol, p, 0.2)["theta"],
              lambda m, p: M.finite_horizon_gradient(m, pol, p, 6, 0.9)["theta"]):
        close(f(dev, {"theta": xp.asarray(theta)}), f(mdp, {"theta": theta}), xp)


@pytest.mark.parametrize("k", [0, 1], ids=["plain", "terminal"])
def test_exact_updaters_match_numpy(xp, k):
    mdp = mdps()[k]
    dev = mdp.to(xp)
    S, A = mdp.n_states, mdp.n_actions
    theta = np.random.default_rng(2).standard_normal((S, A))
    tab = TabularSoftmaxPolicy(S, A)
    mlp = MLPCategoricalPolicy(obs_dim=S, n_actions=A, hidden=(3,), activation="tanh")
    mlp_params = mlp.init(np.random.default_rng(3))
    cases = [(tab, {"theta": theta}), (mlp, mlp_params)]
    for pol, params in cases:
        on = {key: xp.asarray(v) for key, v in params.items()}
        steps = [lambda m, p: M.pg_step(m, pol, p, 1e-5),
                 lambda m, p: M.npg_step(m, pol, p, 0.1, damping=1e-3),
                 lambda m, p: M.entropy_npg_step(m, pol, p, 0.1, 0.05, damping=1e-3)]
        if pol is tab:
            steps.append(lambda m, p: M.npg_step(m, pol, p, 0.1))
        for step in steps:
            ref, got = step(mdp, params), step(dev, on)
            close(flatten(got), flatten(ref), xp, rtol=1e-9)     # through a solve: 1e-9
        new_ref, info_ref = M.trpo_step(mdp, pol, params, 0.01)
        new, info = M.trpo_step(dev, pol, on, 0.01)
        close(flatten(new), flatten(new_ref), xp, rtol=1e-9)
        assert info["n_backtracks"] == info_ref["n_backtracks"]
    close(M.tabular_pg_step(dev, xp.asarray(theta), 1e-5), M.tabular_pg_step(mdp, theta, 1e-5),
          xp)
    close(M.tabular_npg_step(dev, xp.asarray(theta), 0.1, 0.05),
          M.tabular_npg_step(mdp, theta, 0.1, 0.05), xp)
    pi, pi2 = policy(mdp, 4), policy(mdp, 5)
    close(M.pmd_step(dev, xp.asarray(pi), 0.5, 0.1), M.pmd_step(mdp, pi, 0.5, 0.1), xp)
    assert M.visitation_kl(dev, xp.asarray(pi), xp.asarray(pi2)) == pytest.approx(
        M.visitation_kl(mdp, pi, pi2), rel=RTOL)
    new, info = M.cpi_step(dev, xp.asarray(pi))
    new_ref, info_ref = M.cpi_step(mdp, pi)
    close(new, new_ref, xp)
    assert info["alpha"] == info_ref["alpha"]


@pytest.mark.parametrize("k", [0, 1], ids=["plain", "terminal"])
def test_hessian_matches_numpy(xp, k):
    mdp = mdps()[k]
    dev = mdp.to(xp)
    pi = policy(mdp, 6)
    close(M.resolvent(dev, xp.asarray(pi)), M.resolvent(mdp, pi), xp)
    close(M.tabular_softmax_hessian(dev, xp.asarray(pi)), M.tabular_softmax_hessian(mdp, pi), xp)
    S, A = mdp.n_states, mdp.n_actions
    mlp = MLPCategoricalPolicy(obs_dim=S, n_actions=A, hidden=(3,), activation="tanh")
    for pol, params in ((TabularSoftmaxPolicy(S, A), {"theta": np.log(pi)}),
                        (mlp, mlp.init(np.random.default_rng(7)))):
        on = {key: xp.asarray(v) for key, v in params.items()}
        for method in ("pgt", "logits"):
            close(M.hessian(dev, pol, on, method=method), M.hessian(mdp, pol, params,
                                                                   method=method), xp)
    H = M.tabular_softmax_hessian(dev, xp.asarray(pi))
    np.testing.assert_allclose(M.hessian_eigenvalues(H),
                               M.hessian_eigenvalues(M.tabular_softmax_hessian(mdp, pi)),
                               rtol=1e-10, atol=1e-12)
