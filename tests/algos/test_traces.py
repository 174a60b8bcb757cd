"""Eligibility traces (npg.algos.traces): the backward view against the forward view
(lambda-returns) with frozen weights for tabular, linear and MLP critics, replacing traces by
hand, lambda = 0 against the one-step actor-critic, resets at episode ends, learning a tiny
MDP, and bad input."""

import numpy as np
import pytest

from npg.algos import ActorCritic
from npg.algos.traces import (ACLambdaConfig, ActorCriticLambda, td_lambda_episode,
                              td_lambda_step, trace_update, zeros_like)
from npg.features import Polynomial
from npg.params import flatten
from npg.returns import lambda_returns
from npg.values import LinearValue, MLPValue, TabularValue

from algo_cases import GAMMA, J_STAR, TwoStepEnv, exact_J, fake_rollout, spec_of, train, \
    two_step_mdp


def _critics(rng, S=5, D=3):
    tab = TabularValue(S)
    w_tab = {"v": rng.normal(size=S)}
    lin = LinearValue(Polynomial(D, 2))
    w_lin = {k: rng.normal(size=v.shape) for k, v in lin.init(0).items()}
    mlp = MLPValue(D, hidden=(6, 5))
    w_mlp = {k: v + 0.3 * rng.normal(size=v.shape) for k, v in mlp.init(rng).items()}
    return [("tabular", tab, w_tab, lambda T: rng.integers(0, S, T + 1)),
            ("linear", lin, w_lin, lambda T: rng.normal(size=(T + 1, D))),
            ("mlp", mlp, w_mlp, lambda T: rng.normal(size=(T + 1, D)))]


def _forward_view(critic, params, obs, rew, next_obs, term, trunc, gamma, lam):
    """sum_t (G^lam_t - v(S_t)) grad v(S_t) from npg.returns.lambda_returns (one vjp)."""
    v, vjp = critic.forward(params, obs)
    nv = critic.forward(params, next_obs)[0]
    G = lambda_returns(rew, v, nv, term, trunc, gamma, lam)
    return vjp(G - v)


@pytest.mark.parametrize("lam", [0.0, 0.5, 0.9, 1.0])
@pytest.mark.parametrize("end", ["terminated", "truncated", "rollout_end"])
def test_backward_view_equals_forward_view_offline(lam, end):
    """Frozen weights: accumulated TD(lambda) increments == offline lambda-return updates."""
    rng = np.random.default_rng(int(lam * 10) + len(end))
    T, gamma = 9, 0.95
    for name, critic, params, draw in _critics(rng):
        states = draw(T)
        obs, next_obs = states[:-1], states[1:]
        rew = rng.normal(size=T)
        term, trunc = np.zeros(T, bool), np.zeros(T, bool)
        if end == "terminated":
            term[-1] = True
        elif end == "truncated":
            trunc[-1] = True
        back = td_lambda_episode(critic, params, obs, rew, next_obs, term, trunc, gamma, lam)
        fwd = _forward_view(critic, params, obs, rew, next_obs, term, trunc, gamma, lam)
        scale = 1 + np.max(np.abs(flatten(fwd)))
        assert np.max(np.abs(flatten(back) - flatten(fwd))) <= 1e-12 * scale, name


def test_two_episodes_traces_do_not_leak():
    """Two episodes back to back (a terminated step in the middle): the backward view over the
    concatenation is the sum of the two episodes' increments."""
    rng = np.random.default_rng(3)
    _, critic, params, draw = _critics(rng)[1]
    s = draw(10)
    rew = rng.normal(size=10)
    term, trunc = np.zeros(10, bool), np.zeros(10, bool)
    term[3], trunc[9] = True, True
    whole = td_lambda_episode(critic, params, s[:-1], rew, s[1:], term, trunc, 0.9, 0.8)
    a = td_lambda_episode(critic, params, s[:4], rew[:4], s[1:5], term[:4], trunc[:4], 0.9, 0.8)
    b = td_lambda_episode(critic, params, s[4:-1], rew[4:], s[5:], term[4:], trunc[4:], 0.9,
                          0.8)
    np.testing.assert_allclose(flatten(whole), flatten(a) + flatten(b), atol=1e-13)


def test_replacing_trace_by_hand():
    """Tabular state 0 visited at t = 0 and t = 1 (gamma lam = 0.5): accumulating
    z(0) = 0.5 * 1 + 1 = 1.5, replacing z(0) = 1."""
    critic = TabularValue(3)
    params = {"v": np.zeros(3)}
    g = critic.forward(params, np.array([0]))[1](np.ones(1))
    z = zeros_like(params)
    acc = trace_update(trace_update(z, g, 0.5), g, 0.5)
    rep = trace_update(trace_update(z, g, 0.5, "replacing"), g, 0.5, "replacing")
    np.testing.assert_allclose(acc["v"], [1.5, 0, 0])
    np.testing.assert_allclose(rep["v"], [1.0, 0, 0])


def test_online_step_resets_trace_and_bootstraps_truncation():
    critic = TabularValue(2)
    params = {"v": np.array([1.0, 2.0])}
    z = zeros_like(params)
    # truncated step: delta = 0 + 0.5 * 2 - 1 = 0, bootstraps; trace cleared after
    p, z1, delta = td_lambda_step(critic, params, z, np.array([0]), 0.0, 2.0, False, True,
                                  0.5, 1.0, 0.1)
    assert delta == pytest.approx(0.0) and not np.any(z1["v"])
    # terminated step: delta = 1 - 1 = 0 (no bootstrap from next_value = 99)
    _, _, delta = td_lambda_step(critic, params, z, np.array([0]), 1.0, 99.0, True, True,
                                 0.5, 1.0, 0.1)
    assert delta == pytest.approx(0.0)


def test_lambda_zero_equals_one_step_actor_critic():
    """ActorCriticLambda(lam = 0, no I) and ActorCritic(T = N = 1, SGD, vf_coef = 1) take the
    same step at every step of an episode (each recomputing values with its current weights)."""
    spec = spec_of(TwoStepEnv)
    a_theta, a_w = 0.3, 0.2
    lam_algo = ActorCriticLambda(ACLambdaConfig(lam=0.0, critic_lam=0.0, lr=a_theta,
                                                critic_lr=a_w, discount_actor=False,
                                                gamma=0.9, hidden=(5,)), spec)
    ac = ActorCritic({"optimizer": "sgd", "lr": a_theta, "critic_lr": a_w, "vf_coef": 1.0,
                      "gamma": 0.9, "hidden": (5,)}, spec)
    s1 = lam_algo.init(0)
    s2 = ac.init(0)
    s2["policy"], s2["critic"] = dict(s1["policy"]), dict(s1["critic"])
    rng = np.random.default_rng(0)
    start = flatten(s1["policy"])
    for step in range(6):
        ro = fake_rollout([[rng.normal()]], [[step == 2]], [[step == 4]], obs_dim=3, seed=step)
        ro.value = ac.value(s2, ro.obs[0])[None]
        ro.next_value = np.where(ro.terminated, 0.0,
                                 ac.value(s2, ro.last_obs if step != 4 else ro.last_obs))
        s1, _ = lam_algo.update(s1, ro, 0.0, rng)
        s2, _ = ac.update(s2, ro, 0.0, rng)
        for net in ("policy", "critic"):
            np.testing.assert_allclose(flatten(s1[net]), flatten(s2[net]), rtol=0, atol=1e-13)
    assert np.max(np.abs(flatten(s1["policy"]) - start)) > 1e-3       # the steps were not zero


@pytest.mark.slow
def test_learns_two_step_mdp():
    """Actor-critic(lambda) learns the two-step MDP whose greedy choice is wrong (J* = 0.9)."""
    algo = ActorCriticLambda(ACLambdaConfig(lam=0.8, critic_lam=0.8, lr=0.5, critic_lr=0.3,
                                            gamma=GAMMA, policy="linear"), spec_of(TwoStepEnv))
    state, _, _ = train(algo, TwoStepEnv, 1500, seed=1)
    assert exact_J(algo, state, two_step_mdp()) > J_STAR - 0.05


def test_bad_input():
    spec = spec_of(TwoStepEnv)
    for bad in ({"lam": 1.5}, {"critic_lam": -0.1}, {"trace": "dutch"}, {"optimizer": "adam"},
                {"max_grad_norm": 1.0}, {"lam": "0.5"}):
        with pytest.raises((ValueError, TypeError)):
            ActorCriticLambda(bad, spec)
    critic = TabularValue(2)
    params = {"v": np.zeros(2)}
    with pytest.raises(ValueError, match="lam"):
        td_lambda_step(critic, params, zeros_like(params), np.array([0]), 0.0, 0.0, False,
                       False, 0.9, 1.2, 0.1)
    with pytest.raises(ValueError, match="trace"):
        td_lambda_episode(critic, params, np.array([0]), np.zeros(1), np.array([1]),
                          np.zeros(1, bool), np.zeros(1, bool), 0.9, 0.5, kind="dutch")
