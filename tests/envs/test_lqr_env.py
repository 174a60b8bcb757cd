"""The LQR gymnasium environments (npg.envs.lqr_env): physics, gymnasium contracts, and npg's
sampled policy gradients of a linear Gaussian policy against the exact LQR gradient.

Statistical test. The problem: n = 2, m = 1, gamma = 0.9, process noise W = 0.01 I, exploration
sigma = 0.5, a gain 0.3 away from K*. Episodes have T = 200 steps, truncated (time limit): the
Monte-Carlo returns cut at T differ from the infinite-horizon ones by terms carrying
gamma^200 = 7e-10 relative to |grad J|, far below the standard errors here (>= 1e-3 |grad J|).
M = 16 000 episodes; per coordinate z = (mean - exact) / stderr with |z| < 4.5 (Bonferroni over
4 estimators x 3 coordinates: false alarm < 12 * 6.8e-6). Power: a bias of 0.049 sd per
coordinate gives E[z] = 0.049 sqrt(M) = 6.1 = 4.5 + 1.645, flagged with probability >= 95%. In
absolute terms (measured sd per coordinate; exact grad J = [3.57, -3.36, -5.11]):
  REINFORCE, reward-to-go          sd ~ (84, 63, 37):   flags a bias >= (4.1, 3.1, 1.8), coarse;
  REINFORCE, exact-V baseline      sd ~ (11, 8.5, 7.2): flags a bias >= (0.53, 0.41, 0.35);
  actor-critic TD(0), exact V      sd ~ (8.1, 6.4, 5.7): flags a bias >= (0.39, 0.31, 0.28);
  actor-critic GAE(0.9), exact V   sd ~ (10, 7.7, 6.6):  flags a bias >= (0.49, 0.37, 0.32).
The biased variant below (gamma^t dropped) is flagged with |z| > 45.
"""

import math

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from npg.envs.lqr_env import (LinearFeatures, LQREnv, LQRVectorEnv, exact_policy_gradient,
                              exact_value, gain_of)
from npg.mdp.lqr import LQR, cost, riccati
from npg.params import flatten
from npg.policies import LinearGaussianPolicy
from npg.returns import discounted_returns, gae, td_errors
from npg.envs.rollout import Collector

Z_MAX = 4.5
T = 200


def system():
    A = np.array([[1.0, 0.2], [0.0, 0.9]])
    B = np.array([[0.0], [0.5]])
    return LQR(A, B, np.eye(2), 0.5 * np.eye(1), np.eye(2), gamma=0.9, W=0.01 * np.eye(2))


def policy_and_params(lqr):
    K_star, _ = riccati(lqr)
    policy = LinearGaussianPolicy(LinearFeatures(2), 1, log_std_init=math.log(0.5))
    params = {"W": -(K_star + np.array([[0.3, -0.2]])).T.copy(),
              "log_std": np.array([math.log(0.5)])}
    return policy, params


@pytest.mark.filterwarnings("ignore:.*(infinity|symmetric and normalized):UserWarning")
def test_env_follows_the_system_and_passes_gymnasium_checks():
    lqr = LQR(np.array([[1.0, 0.2], [0.0, 0.9]]), np.array([[0.0], [0.5]]), np.eye(2),
              0.5 * np.eye(1), gamma=0.9)
    env = LQREnv(lqr, max_steps=3)
    check_env(env, skip_render_check=True)
    x, _ = env.reset(seed=0)
    u = np.array([0.7])
    x1, r, term, trunc, _ = env.step(u)
    np.testing.assert_allclose(x1, lqr.A @ x + lqr.B @ u, rtol=1e-14)
    assert r == pytest.approx(-(x @ x + 0.5 * 0.49), rel=1e-14)
    assert not term and not trunc
    env.step(u)
    assert env.step(u)[3]                                            # truncated at step 3


def test_vector_env_resets_truncated_copies_in_the_same_step():
    lqr = system()
    env = LQRVectorEnv(lqr, 5, max_steps=2)
    x, _ = env.reset(seed=1)
    env.step(np.zeros((5, 1)))
    x2, r, term, trunc, info = env.step(np.zeros((5, 1)))
    assert trunc.all() and not term.any() and info["_final_obs"].all()
    assert info["final_obs"].shape == (5, 2) and not np.allclose(info["final_obs"], x2)


def sampled_estimates(lqr, policy, params, n_envs=4000, n_rollouts=4, seed=0):
    """Per-episode gradient estimates [M, P] from npg's Collector on LQRVectorEnv."""
    envs = LQRVectorEnv(lqr, n_envs, max_steps=T)
    col = Collector(envs, seed=seed)
    rng = np.random.default_rng(seed + 1)
    V = exact_value(lqr, params)

    def act(obs):
        a = policy.sample(params, obs, rng)
        return a, a, policy.log_prob(params, obs, a)

    g = lqr.gamma
    disc = (g ** np.arange(T))[:, None]
    out = {"reinforce": [], "baseline": [], "td": [], "gae": [], "no gamma^t": [], "returns": []}
    for _ in range(n_rollouts):
        ro = col.collect(act, V, T)                # exactly one whole episode per copy
        assert ro.truncated[-1].all() and not ro.truncated[:-1].any()
        G = discounted_returns(ro.rew, ro.terminated, ro.truncated, g)
        delta = td_errors(ro.rew, ro.value, ro.next_value, ro.terminated, g)
        adv, _ = gae(ro.rew, ro.value, ro.next_value, ro.terminated, ro.truncated, g, 0.9)
        scores = policy.scores(params, ro.obs.reshape(-1, 2), ro.act.reshape(-1, 1))
        scores = scores.reshape(T, n_envs, -1)
        for name, w in (("reinforce", disc * G), ("baseline", disc * (G - ro.value[:T])),
                        ("td", disc * delta), ("gae", disc * adv), ("no gamma^t", G)):
            out[name].append(np.einsum("tn,tnp->np", w, scores))
        out["returns"].append(G[0])
    return {k: np.concatenate(v) for k, v in out.items()}


@pytest.mark.slow
def test_sampled_reinforce_and_actor_critic_gradients_are_unbiased():
    lqr = system()
    policy, params = policy_and_params(lqr)
    exact = flatten(exact_policy_gradient(lqr, params))
    est = sampled_estimates(lqr, policy, params)
    M = est["reinforce"].shape[0]
    for name in ("reinforce", "baseline", "td", "gae"):
        g = est[name]
        z = (g.mean(axis=0) - exact) / (g.std(axis=0, ddof=1) / math.sqrt(M))
        assert np.max(np.abs(z)) < Z_MAX, (name, z)
    # the exact critic lowers the variance (trace) by a wide margin
    assert est["td"].var(axis=0).sum() < 0.2 * est["reinforce"].var(axis=0).sum()
    # power: dropping gamma^t biases the estimate, and the same z-test sees it
    g = est["no gamma^t"]
    z = (g.mean(axis=0) - exact) / (g.std(axis=0, ddof=1) / math.sqrt(M))
    assert np.max(np.abs(z)) > 10 * Z_MAX
    # the mean discounted return is -C(K, sigma)
    K, sigma = gain_of(params)
    ret = est["returns"]
    z_ret = (ret.mean() + cost(lqr, K, sigma)) / (ret.std(ddof=1) / math.sqrt(M))
    assert abs(z_ret) < Z_MAX


def test_exact_policy_gradient_matches_central_differences_of_minus_the_cost():
    lqr = system()
    _, params = policy_and_params(lqr)
    grads = exact_policy_gradient(lqr, params)
    h = 1e-5
    for key in ("W", "log_std"):
        for idx in np.ndindex(*params[key].shape):
            plus = {k: v.copy() for k, v in params.items()}
            minus = {k: v.copy() for k, v in params.items()}
            plus[key][idx] += h
            minus[key][idx] -= h
            num = -(cost(lqr, *gain_of(plus)) - cost(lqr, *gain_of(minus))) / (2 * h)
            assert abs(num - grads[key][idx]) <= 1e-7 + 1e-6 * abs(grads[key][idx])


def test_bad_input():
    lqr = system()
    with pytest.raises(TypeError, match="lqr must be an npg.mdp.lqr.LQR"):
        LQREnv("system")
    with pytest.raises(ValueError, match="max_steps must be a positive int"):
        LQREnv(lqr, max_steps=0)
    env = LQREnv(lqr)
    with pytest.raises(RuntimeError, match="reset"):
        env.step(np.zeros(1))
    env.reset(seed=0)
    with pytest.raises(ValueError, match="action must have 1 entries per system"):
        env.step(np.zeros(2))
    with pytest.raises(ValueError, match="action must be finite"):
        env.step(np.array([np.nan]))
    with pytest.raises(ValueError, match=r"obs must have shape \[B, 2\]"):
        LinearFeatures(2)(np.zeros((3, 3)))
    assert isinstance(env, gym.Env)
