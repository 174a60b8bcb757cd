"""The V-trace actor-critic (npg.algos.off_policy): its expected actor step against the exact
formula on finite MDPs (untruncated: the behaviour-weighted policy gradient, grad J itself on a
contextual bandit; truncated: biased by the exact amount), on-policy equality with the
lambda = 1 actor-critic, the lagged behaviour copy, learning from a replay of a fixed behaviour
policy's data, and bad input."""

import math

import numpy as np
import pytest

import npg.mdp as M
from npg.algos import ActorCritic
from npg.algos.off_policy import (OffPolicyActorCritic, OffPolicyConfig, OffPolicyData,
                                  vtrace_loss_and_grad)
from npg.mdp.vtrace import truncated_target_policy, vtrace_policy_gradient
from npg.params import flatten
from npg.policies import TabularSoftmaxPolicy
from npg.envs.rollout import Collector
from npg.envs import make_vec_env
from npg.values import TabularValue

from algo_cases import GAMMA, J_STAR, TwoStepEnv, exact_J, fake_rollout, spec_of, two_step_mdp


def _setup(seed, bandit=False):
    rng = np.random.default_rng(seed)
    if bandit:                      # 3 contexts, every action ends the episode in state 3
        P = np.zeros((4, 3, 4))
        P[:, :, 3] = 1.0
        R = np.vstack([rng.normal(size=(3, 3)), np.zeros((1, 3))])
        mdp = M.FiniteMDP(P, R, np.array([0.5, 0.3, 0.2, 0.0]), 0.9,
                          terminal=np.array([False, False, False, True]))
    else:
        mdp = M.random_mdp(4, 3, rng, gamma=0.9)
    pol = TabularSoftmaxPolicy(mdp.n_states, 3)
    params = {"theta": rng.normal(size=(mdp.n_states, 3))}
    mu = rng.dirichlet(np.ones(3) * 1.5, mdp.n_states)
    return rng, mdp, pol, params, mu


def _sampled_steps(rng, mdp, pol, params, mu, rho_bar, H, n_batches=30, M_traj=1500):
    """The updater's actor step on independent batches, as per-trajectory sums [K, P]."""
    pi = M.policy_matrix(pol, params, np.arange(mdp.n_states))
    V = M.evaluate(mdp, truncated_target_policy(pi, mu, rho_bar))[0]
    critic = TabularValue(mdp.n_states)
    out = []
    for _ in range(n_batches):
        tr = M.sample_trajectories(mdp, mu, M_traj, H, rng)
        s = tr.states
        data = OffPolicyData(s[:-1], tr.actions, np.log(mu[s[:-1], tr.actions]), tr.rew,
                             tr.terminated, tr.truncated, tr.valid, s[1:])
        _, grads, _ = vtrace_loss_and_grad(pol, critic, {"policy": params,
                                                              "critic": {"v": V}},
                                           data, mdp.gamma, rho_bar, 1.0, 1.0, 0.5, 0.0)
        out.append(-flatten(grads["policy"]) * int(tr.valid.sum()) / M_traj)
    return np.array(out)


def _z(samples, want):
    se = samples.std(axis=0, ddof=1) / math.sqrt(samples.shape[0])
    return (samples.mean(axis=0) - want) / np.maximum(se, 1e-300), se


@pytest.mark.parametrize("bandit", [False, True])
def test_expected_step_untruncated_and_truncated(bandit):
    rng, mdp, pol, params, mu = _setup(1, bandit)
    H = 1 if bandit else 4
    if not bandit:                  # no terminal states: every slot is a valid step
        assert not mdp.terminal.any()
    exact = {rb: flatten(vtrace_policy_gradient(mdp, pol, params, mu, H, rb))
             for rb in (math.inf, 0.8)}
    for rb in (math.inf, 0.8):
        z, se = _z(_sampled_steps(rng, mdp, pol, params, mu, rb, H), exact[rb])
        assert np.all(np.abs(z) < 4.5), (rb, z)
    bias = exact[0.8] - exact[math.inf]
    live = se > 0                                  # the terminal state's row has no samples
    assert np.max(np.abs(bias[live]) / se[live]) > 10    # the bias is resolved, and exact
    if bandit:                                     # untruncated: grad J itself
        np.testing.assert_allclose(exact[math.inf],
                                   flatten(M.policy_gradient(mdp, pol, params)), atol=1e-12)


def test_on_policy_equals_lambda_one_actor_critic():
    """mu = pi, lam = 1, untruncated: the V-trace loss gradient equals ActorCritic's with
    GAE(lambda = 1) on the same rollout (targets vs = G^lambda, advantages A = G - V)."""
    spec = spec_of(TwoStepEnv)
    cfg = dict(gamma=0.9, hidden=(4,), vf_coef=0.7, ent_coef=0.05)
    off = OffPolicyActorCritic(OffPolicyConfig(rho_bar=math.inf, c_bar=math.inf, **cfg), spec)
    ac = ActorCritic({"gae_lambda": 1.0, **cfg}, spec)
    state = off.init(0)
    T, N = 6, 2
    term = np.zeros((T, N), bool)
    trunc = np.zeros((T, N), bool)
    term[2, 0], trunc[4, 1] = True, True
    ro = fake_rollout(np.random.default_rng(1).normal(size=(T, N)), term, trunc, obs_dim=3)
    ro.logp = np.asarray(off.policy.log_prob(state["policy"], ro.obs.reshape(T * N, 3),
                                             ro.act.reshape(-1))).reshape(T, N)
    v = off.value(state, ro.obs.reshape(T * N, 3)).reshape(T, N)
    nxt = np.concatenate([ro.obs[1:], ro.last_obs[None]]).reshape(T * N, 3)
    ro.value = v
    ro.next_value = np.where(term, 0.0, off.value(state, nxt).reshape(T, N))
    ro.next_value[4, 1] = 0.37                     # a truncation's real final V
    params = {"policy": state["policy"], "critic": state["critic"]}
    _, g_off, _ = vtrace_loss_and_grad(off.policy, off.critic, params,
                                       OffPolicyData.from_rollout(ro), 0.9, math.inf,
                                       math.inf, 1.0, 0.7, 0.05)
    _, g_ac, _ = ac.loss_and_grad(params, ac.batch(state, ro))
    for net in ("policy", "critic"):
        np.testing.assert_allclose(flatten(g_off[net]), flatten(g_ac[net]), atol=1e-13)


def test_lagged_behaviour_copy():
    algo = OffPolicyActorCritic({"behaviour_lag": 3, "hidden": (4,), "n_envs": 2,
                                 "n_steps": 4, "gamma": 0.9}, spec_of(TwoStepEnv))
    state = algo.init(0)
    envs = make_vec_env(TwoStepEnv, 2, seed=0)
    col = Collector(envs, seed=0)
    rng = np.random.default_rng(0)
    for u in range(1, 7):
        box = [state]
        ro = col.collect(lambda o: algo.act(box[0], o, rng), lambda o: algo.value(box[0], o), 4)
        behaviour = flatten(state["behaviour"])
        want = np.asarray(algo.policy.log_prob(state["behaviour"], ro.obs.reshape(8, -1),
                                               ro.act.reshape(-1))).reshape(4, 2)
        np.testing.assert_allclose(ro.logp, want, atol=1e-12)    # logp is log mu
        state, stats = algo.update(state, ro, 0.0, rng)
        same = np.allclose(flatten(state["behaviour"]), flatten(state["policy"]))
        assert same == (u % 3 == 0)
        if u % 3:
            np.testing.assert_array_equal(flatten(state["behaviour"]), behaviour)


@pytest.mark.slow
def test_learns_from_replay_of_uniform_behaviour():
    """Stored rollouts of the uniform policy, replayed: the learner reaches J* - 0.05 on the
    two-step MDP whose greedy first choice is wrong."""
    spec = spec_of(TwoStepEnv)
    algo = OffPolicyActorCritic({"policy": "linear", "lr": 0.05, "critic_lr": 0.05,
                                 "gamma": GAMMA, "ent_coef": 0.0, "n_envs": 8, "n_steps": 8,
                                 "rho_bar": 1.0, "c_bar": 1.0}, spec)
    envs = make_vec_env(TwoStepEnv, 8, seed=2)
    col = Collector(envs, seed=2)
    rng = np.random.default_rng(2)
    uniform = lambda o: (lambda a: (a, a, np.full(len(o), math.log(0.5))))(  # noqa: E731
        rng.integers(0, 2, len(o)))
    replay = [col.collect(uniform, lambda o: np.zeros(len(o)), 8) for _ in range(10)]
    state = algo.init(2)
    for epoch in range(60):
        for ro in replay:
            state, _ = algo.update(state, ro, 0.0, rng)
    assert exact_J(algo, state, two_step_mdp()) > J_STAR - 0.05


def test_bad_input():
    spec = spec_of(TwoStepEnv)
    for bad in ({"rho_bar": -1.0}, {"c_bar": float("nan")}, {"vtrace_lambda": 2.0},
                {"behaviour_lag": -1}, {"behaviour_lag": 1.5}):
        with pytest.raises((ValueError, TypeError)):
            OffPolicyActorCritic(bad, spec)
    algo = OffPolicyActorCritic({"hidden": (3,)}, spec)
    state = algo.init(0)
    ro = fake_rollout(np.zeros((2, 1)), [[False], [True]], [[False], [False]], obs_dim=3)
    ro.value, ro.next_value = np.zeros((2, 1)), np.zeros((2, 1))
    ro.logp = np.array([[-np.inf], [-0.5]])
    with pytest.raises(ValueError, match="behaviour_logp is -inf"):
        algo.update(state, ro, 0.0, 0)
    ro.logp = None
    with pytest.raises(ValueError, match="logp"):
        algo.update(state, ro, 0.0, 0)
