"""The continuing (average-reward) view exactly (npg.mdp.differential): the differential values'
defining equations, agreement with npg.mdp.average_reward, the average-reward policy gradient
against central differences for every categorical policy class, and the sampled differential
actor-critic (npg.algos.average_reward) against the exact gradient."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import npg.mdp as M
from npg.features import OneHot, Polynomial
from npg.mdp.differential import (average_reward_gradient, continuing_average_reward,
                                  continuing_transitions, differential_values)
from npg.policies import LinearSoftmaxPolicy, MLPCategoricalPolicy, TabularSoftmaxPolicy
from npg.testing import check_grad
from npg.algos.average_reward import DifferentialActorCritic, differential_ac_step
from npg.values import TabularValue

FACTORIES = {
    "tabular": lambda S, A: TabularSoftmaxPolicy(S, A),
    "linear_onehot": lambda S, A: LinearSoftmaxPolicy(OneHot(S), A),
    "linear_poly": lambda S, A: LinearSoftmaxPolicy(Polynomial(obs_dim=S, degree=1), A),
    "mlp": lambda S, A: MLPCategoricalPolicy(obs_dim=S, n_actions=A, hidden=(4,),
                                             activation="tanh"),
}


def _policy(name, S, A, rng):
    pol = FACTORIES[name](S, A)
    params = pol.init(rng)
    return pol, {k: v + rng.normal(size=v.shape) for k, v in params.items()}


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31), S=st.integers(2, 6), A=st.integers(2, 4),
       n_terminal=st.integers(0, 1))
def test_differential_equations(seed, S, A, n_terminal):
    """V~ = r_pi - rho + P_pi V~, d . V~ = 0, sum_a pi Q~ = V~, rho = npg.mdp.average_reward."""
    rng = np.random.default_rng(seed)
    mdp = M.random_mdp(S, A, rng, n_terminal=n_terminal, p_terminate=0.2 * n_terminal)
    pi = rng.dirichlet(np.ones(A), S)
    rho, d, V, Q = differential_values(mdp, pi)
    P_pi = np.einsum("sa,sat->st", pi, continuing_transitions(mdp))
    r_pi = np.einsum("sa,sa->s", pi, mdp.R)
    np.testing.assert_allclose(V, r_pi - rho + P_pi @ V, atol=1e-10)
    assert abs(d @ V) < 1e-10
    np.testing.assert_allclose(np.sum(pi * Q, axis=1), V, atol=1e-10)
    assert rho == pytest.approx(M.average_reward(mdp, pi, reset=True), abs=1e-12)
    np.testing.assert_allclose(d, M.stationary_distribution(mdp, pi), atol=1e-10)


def test_hand_two_state_cycle():
    """Two states, one action, 0 -> 1 (reward 1) -> 0 (reward 3): rho = 2, d = (1/2, 1/2);
    V~(0) = 1 - 2 + V~(1), d . V~ = 0 gives V~ = (-1/2, 1/2)."""
    P = np.zeros((2, 1, 2))
    P[0, 0, 1] = P[1, 0, 0] = 1.0
    mdp = M.FiniteMDP(P, np.array([[1.0], [3.0]]), np.array([1.0, 0.0]), 0.9)
    rho, d, V, _ = differential_values(mdp, np.ones((2, 1)))
    assert rho == pytest.approx(2.0, abs=1e-14)
    np.testing.assert_allclose(d, [0.5, 0.5], atol=1e-14)
    np.testing.assert_allclose(V, [-0.5, 0.5], atol=1e-14)


@pytest.mark.parametrize("name", sorted(FACTORIES))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gradient_matches_central_differences(name, seed):
    rng = np.random.default_rng(seed)
    S, A = 5, 3
    mdp = M.random_mdp(S, A, rng, n_terminal=seed % 2, p_terminate=0.2 * (seed % 2))
    pol, params = _policy(name, S, A, rng)
    obs = M.default_obs(mdp, pol)

    def rho(p):                     # npg.mdp.exact's average reward (terminal rows -> mu0)
        return M.average_reward(mdp, M.policy_matrix(pol, p, obs), reset=True)

    check_grad(rho, average_reward_gradient(mdp, pol, params), params)


def test_bad_input():
    mdp = M.random_mdp(3, 2, 0)
    with pytest.raises(ValueError, match="pi"):
        differential_values(mdp, np.ones((3, 3)))
    with pytest.raises(TypeError, match="mdp"):
        continuing_transitions("mdp")
    P = np.zeros((2, 1, 2))
    P[0, 0, 0] = P[1, 0, 1] = 1.0                          # two closed classes
    two = M.FiniteMDP(P, np.zeros((2, 1)), np.array([0.5, 0.5]), 0.9)
    with pytest.raises(ValueError, match="closed classes"):
        differential_values(two, np.ones((2, 1)))


# ---------------------------------------------------------------------- the sampled updater



def _chain_steps(mdp, pi, M, T, rng, start):
    """M independent chains of T transitions from ``start`` states, vectorised."""
    S, A = pi.shape
    s = start
    for _ in range(T):
        a = (rng.random(M)[:, None] > np.cumsum(pi[s], axis=1)).sum(axis=1)
        a = np.minimum(a, A - 1)
        s2 = (rng.random(M)[:, None] > np.cumsum(mdp.P[s, a], axis=1)).sum(axis=1)
        yield s, a, mdp.R[s, a], np.minimum(s2, S - 1)
        s = np.minimum(s2, S - 1)


@pytest.mark.slow
@pytest.mark.parametrize("lam", [0.0, 0.7])
def test_expected_actor_step_is_exact_gradient(lam):
    """Exact critic (v = V~, R_bar = rho), frozen weights, S_0 ~ d_pi: the mean of delta_t z_t
    per chain, z-tested against grad rho (Bonferroni over S*A coordinates, |z| < 4.5)."""
    rng = np.random.default_rng(4)
    mdp = M.random_mdp(3, 2, rng)
    pol = TabularSoftmaxPolicy(3, 2)
    params = {"theta": rng.normal(size=(3, 2))}
    obs = M.default_obs(mdp, pol)
    pi = M.policy_matrix(pol, params, obs)
    rho, d, V, _ = differential_values(mdp, pi)
    critic = TabularValue(3)
    w = {"v": V.copy()}
    n_chains, T = 200, 25
    start = rng.choice(3, size=n_chains, p=d)
    z = [{"policy": {"theta": np.zeros((3, 2))}, "critic": {"v": np.zeros(3)}}
         for _ in range(n_chains)]
    acc = np.zeros((n_chains, 6))
    for s, a, r, s2 in _chain_steps(mdp, pi, n_chains, T, rng, start):
        for m in range(n_chains):
            new, z[m], _, _ = differential_ac_step(
                pol, critic, {"policy": params, "critic": w}, z[m], rho, np.array([s[m]]),
                np.array([a[m]]), r[m], V[s2[m]], lam, 0.0, 1.0, 0.0, 0.0)
            acc[m] += (new["policy"]["theta"] - params["theta"]).ravel() / T
    want = average_reward_gradient(mdp, pol, params)["theta"].ravel()
    zs = (acc.mean(axis=0) - want) / (acc.std(axis=0, ddof=1) / np.sqrt(n_chains))
    assert np.all(np.abs(zs) < 4.5), zs
    assert np.max(np.abs(want)) > 5 * np.max(acc.std(axis=0, ddof=1) / np.sqrt(n_chains))


@pytest.mark.slow
def test_differential_actor_critic_learns():
    """On a random 3-state continuing MDP the sampled updater (learning critic, R_bar and
    policy) reaches within 0.05 of the best deterministic policy's average reward."""
    import itertools
    rng = np.random.default_rng(2)
    mdp = M.random_mdp(3, 2, rng, alpha=0.5)
    best = max(continuing_average_reward(mdp, np.eye(2)[list(p)])
               for p in itertools.product(range(2), repeat=3))
    pol, critic = TabularSoftmaxPolicy(3, 2), TabularValue(3)
    params = {"policy": {"theta": np.zeros((3, 2))}, "critic": {"v": np.zeros(3)}}
    tr = {"policy": {"theta": np.zeros((3, 2))}, "critic": {"v": np.zeros(3)}}
    avg, s = 0.0, 0
    for _ in range(3000):
        pi = M.policy_matrix(pol, params["policy"], np.arange(3))
        a = int(rng.choice(2, p=pi[s]))
        s2 = int(rng.choice(3, p=mdp.P[s, a]))
        params, tr, avg, _ = differential_ac_step(
            pol, critic, params, tr, avg, np.array([s]), np.array([a]), mdp.R[s, a],
            params["critic"]["v"][s2], 0.5, 0.5, 0.2, 0.1, 0.02)
        s = s2
    got = continuing_average_reward(mdp, M.policy_matrix(pol, params["policy"], np.arange(3)))
    assert got > best - 0.05, (got, best)


def test_updater_bad_input():
    from algo_cases import TwoStepEnv, spec_of
    for bad in ({"lam": 2.0}, {"avg_lr": -1.0}, {"trace": "x"}, {"optimizer": "adam"}):
        with pytest.raises((ValueError, TypeError)):
            DifferentialActorCritic(bad, spec_of(TwoStepEnv))
    algo = DifferentialActorCritic({"policy": "linear"}, spec_of(TwoStepEnv))
    assert "avg_reward" in algo.init(0)
