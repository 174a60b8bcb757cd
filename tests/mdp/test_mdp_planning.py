"""Planning (npg.mdp.planning) and the soft values (npg.mdp.regularized).

Policy iteration against value iteration to 1e-10 on FrozenLake, CliffWalking, Taxi and random
MDPs; the optimal policy's J equals J*; the stopping rules' bounds hold against the exact answer;
soft VI against soft PI; the soft-optimal policy's soft J is J*_tau and no random policy beats
it; grad J_tau against a central difference of J_tau; the finite-horizon optimum; bad input.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import npg.mdp as M
from npg.mdp import planning as PL
from npg.mdp.regularized import (soft_evaluate, soft_objective, soft_policy_gradient,
                                 tabular_softmax_soft_gradient)
from npg.params import flatten
from npg.policies import LinearSoftmaxPolicy, MLPCategoricalPolicy, TabularSoftmaxPolicy
from npg.features import OneHot
from npg.testing import check_grad


def toytext(name):
    pytest.importorskip("gymnasium")
    if name == "frozenlake4":
        return M.frozen_lake("4x4", is_slippery=True, gamma=0.95)
    if name == "frozenlake8":
        return M.frozen_lake("8x8", is_slippery=True, gamma=0.95)
    if name == "cliff":
        return M.cliff_walking(gamma=0.95)
    return M.taxi(gamma=0.95)


@pytest.mark.parametrize("name", ["frozenlake4", "frozenlake8", "cliff", "taxi"])
def test_policy_iteration_matches_value_iteration_on_toy_text(name):
    mdp = toytext(name)
    vi = PL.value_iteration(mdp, tol=1e-11)
    pi = PL.policy_iteration(mdp)
    assert vi.converged and pi.converged
    assert np.max(np.abs(vi.V - pi.V)) <= 1e-10
    assert abs(M.objective(mdp, pi.pi) - pi.J) <= 1e-12
    assert abs(M.objective(mdp, vi.pi) - pi.J) <= 1e-10      # VI's greedy policy is optimal too


@pytest.mark.parametrize("seed", range(6))
def test_policy_iteration_matches_value_iteration_on_random_mdps(seed):
    rng = np.random.default_rng(seed)
    mdp = M.random_mdp(12, 3, rng, gamma=0.9, n_terminal=seed % 3, alpha=0.3,
                       p_terminate=0.05 * (seed % 3 > 0))
    for rule in ("sup", "span"):
        vi = PL.value_iteration(mdp, tol=1e-11, rule=rule)
        pi = PL.policy_iteration(mdp)
        assert np.max(np.abs(vi.V - pi.V)) <= 1e-10
        # the stopping rule's bound holds against the exact optimum
        assert np.max(np.abs(vi.V - pi.V)) <= vi.error_bound + 1e-13
        # Bellman optimality: no single action improves the optimal policy anywhere
        assert np.all(pi.Q.max(axis=1) <= pi.V + 1e-10)
        # J* dominates random deterministic and stochastic policies
        for _ in range(5):
            p = rng.dirichlet(np.ones(3), size=12)
            assert M.objective(mdp, p) <= pi.J + 1e-12


def test_value_iteration_bound_holds_at_a_loose_tolerance():
    mdp = M.random_mdp(10, 3, 0, gamma=0.95)
    exact = PL.policy_iteration(mdp)
    for rule in ("sup", "span"):
        vi = PL.value_iteration(mdp, tol=1e-2, rule=rule)
        err = np.max(np.abs(vi.V - exact.V))
        assert err <= vi.error_bound and vi.error_bound <= 1e-2
        loss = np.max(exact.V - M.evaluate(mdp, vi.pi)[0])
        assert loss <= 2 * 1e-2 + 1e-12                       # Puterman Thm 6.3.1


def test_span_rule_stops_sooner_than_sup_rule():
    mdp = M.random_mdp(10, 3, 1, gamma=0.99)
    assert (PL.value_iteration(mdp, rule="span").n_iter
            < PL.value_iteration(mdp, rule="sup").n_iter)


@pytest.mark.parametrize("seed", range(4))
def test_soft_value_iteration_matches_soft_policy_iteration(seed):
    mdp = M.random_mdp(8, 3, seed, gamma=0.9, n_terminal=1, p_terminate=0.1)
    tau = 0.3
    vi = PL.soft_value_iteration(mdp, tau, tol=1e-11)
    pi = PL.soft_policy_iteration(mdp, tau, tol=1e-11)
    assert np.max(np.abs(vi.Q - pi.Q)) <= 1e-10
    # the soft-optimal policy's soft values are the planner's
    V, Q = soft_evaluate(mdp, vi.pi, tau)
    assert np.max(np.abs(V - vi.V)) <= 1e-9 and np.max(np.abs(Q - vi.Q)) <= 1e-9
    rng = np.random.default_rng(seed)
    for _ in range(5):
        assert soft_objective(mdp, rng.dirichlet(np.ones(3), size=8), tau) <= vi.J + 1e-12


def test_soft_values_tend_to_hard_values_as_tau_falls():
    mdp = M.random_mdp(8, 3, 3, gamma=0.9)
    hard = PL.policy_iteration(mdp).J
    gaps = [PL.soft_value_iteration(mdp, t).J - hard for t in (1.0, 0.1, 0.01)]
    assert all(g >= -1e-10 for g in gaps)                # entropy only adds value at J*_tau
    assert gaps[0] > gaps[1] > gaps[2]
    # J*_tau - J* <= tau log A / (1 - gamma) (the entropy is at most log A per step)
    assert gaps[1] <= 0.1 * np.log(3) / 0.1 + 1e-12


def test_soft_value_identity_and_tau_zero():
    mdp = M.random_mdp(6, 3, 4, gamma=0.8, n_terminal=1, p_terminate=0.2)
    pi = np.random.default_rng(0).dirichlet(np.ones(3), size=6)
    V, Q = soft_evaluate(mdp, pi, 0.5)
    live = mdp.nonterminal
    assert np.allclose((pi * (Q - 0.5 * np.log(pi))).sum(1)[live], V[live], atol=1e-12)
    V0, Q0 = soft_evaluate(mdp, pi, 0.0)
    V1, Q1, _ = M.evaluate(mdp, pi)
    assert np.allclose(V0, V1, atol=1e-13) and np.allclose(Q0, Q1, atol=1e-13)


def _policies(S, A):
    return [TabularSoftmaxPolicy(S, A), LinearSoftmaxPolicy(OneHot(S), A),
            MLPCategoricalPolicy(obs_dim=S, n_actions=A, hidden=(3,))]


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000), k=st.integers(0, 2), tau=st.floats(0.0, 2.0))
def test_soft_policy_gradient_matches_finite_differences(seed, k, tau):
    rng = np.random.default_rng(seed)
    mdp = M.random_mdp(4, 3, rng, gamma=0.8, n_terminal=1, p_terminate=0.1)
    policy = _policies(4, 3)[k]
    params = {key: v + 0.5 * rng.standard_normal(v.shape)
              for key, v in policy.init(rng).items()}
    obs = M.default_obs(mdp, policy, params)

    def J(p):
        return soft_objective(mdp, M.policy_matrix(policy, p, obs), tau)
    check_grad(J, soft_policy_gradient(mdp, policy, params, tau), params)


def test_tabular_soft_gradient_is_the_general_path():
    mdp = M.random_mdp(5, 3, 7, gamma=0.9)
    policy = TabularSoftmaxPolicy(5, 3)
    params = policy.init(1, scale=1.0)
    pi = M.policy_matrix(policy, params, M.default_obs(mdp, policy, params))
    g = flatten(soft_policy_gradient(mdp, policy, params, 0.4))
    assert np.allclose(g, tabular_softmax_soft_gradient(mdp, pi, 0.4).ravel(), atol=1e-13)


def test_backward_induction_frozen_lake_optimum_within_100_steps():
    mdp = toytext("frozenlake4").replace(gamma=1.0)
    V, pi, J = PL.backward_induction(mdp, 100)
    # the examples' "optimum 0.744" for FrozenLake 4x4 within the 100-step limit
    assert abs(J - 0.744) < 5e-4
    # its non-stationary policy achieves it: evaluate forwards
    p, total = mdp.mu0.copy(), 0.0
    for t in range(100):
        total += p @ np.einsum("sa,sa->s", pi[t], mdp.R)
        p = p @ np.einsum("sa,sat->st", pi[t], mdp.P)
    assert abs(total - J) < 1e-12
    # infinite horizon at gamma = 1 is the success probability 14/17 of PI
    assert abs(PL.policy_iteration(mdp).J - 14 / 17) < 1e-10


def test_bad_input():
    mdp = M.random_mdp(4, 2, 0, gamma=1.0, n_terminal=1, p_terminate=0.2)
    with pytest.raises(ValueError, match="gamma"):
        PL.value_iteration(mdp)
    with pytest.raises(ValueError, match="gamma"):
        PL.soft_value_iteration(mdp, 0.1)
    # gamma = 1 and an initial policy that never terminates: typed error, not NaN
    P = np.zeros((2, 2, 2))
    P[0, 0, 0] = P[0, 1, 1] = P[1, :, 1] = 1.0
    loop = M.FiniteMDP(P, np.zeros((2, 2)), np.array([1.0, 0.0]), 1.0, np.array([False, True]))
    with pytest.raises(ValueError, match="terminal"):
        PL.policy_iteration(loop, pi0=np.array([[1.0, 0.0], [1.0, 0.0]]))
    with pytest.raises(ValueError, match="rule"):
        PL.value_iteration(M.random_mdp(3, 2, 0), rule="max")
    with pytest.raises(ValueError, match="tol"):
        PL.value_iteration(M.random_mdp(3, 2, 0), tol=0.0)
    with pytest.raises(ValueError, match="tau"):
        PL.soft_policy_iteration(M.random_mdp(3, 2, 0), tau=-1.0)
    with pytest.raises(TypeError, match="mdp"):
        PL.policy_iteration("not an mdp")
