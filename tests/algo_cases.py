"""Helpers for the updater tests: a tiny finite MDP as a gymnasium env with its exact
counterpart, a training loop over ``npg.envs.rollout.Collector``, and random FD batches."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from npg import mdp as M
from npg.envs import CountingEnv, SpaceInfo, make_vec_env, space_info
from npg.params import flatten
from npg.envs.rollout import Collector, Rollout

# ----------------------------------------------------------------------------- the MDP
# States 0, 1 and the absorbing terminal 2. In state 0, action 0 ends the episode with reward
# 0.5 (the greedy choice); action 1 moves to state 1 with reward 0. In state 1 action 1 pays
# 1 and action 0 pays 0; both end the episode. With gamma = 0.9 the optimum is to go on:
# V*(1) = 1, V*(0) = max(0.5, 0.9 * 1) = 0.9, J* = 0.9.
GAMMA = 0.9
J_STAR = 0.9


class TwoStepEnv(gym.Env):
    """The MDP above; observation = state (Discrete(3), one-hot encoded by npg)."""

    def __init__(self):
        self.observation_space = spaces.Discrete(3)
        self.action_space = spaces.Discrete(2)
        self.s = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.s = 0
        return 0, {}

    def step(self, a):
        a = int(a)
        if self.s == 0 and a == 1:
            self.s = 1
            return 1, 0.0, False, False, {}
        r = 0.5 if self.s == 0 else float(a)
        self.s = 2
        return 2, r, True, False, {}


def two_step_mdp(gamma: float = GAMMA) -> M.FiniteMDP:
    P = np.zeros((3, 2, 3))
    P[0, 0, 2] = P[0, 1, 1] = P[1, :, 2] = P[2, :, 2] = 1.0
    R = np.array([[0.5, 0.0], [0.0, 1.0], [0.0, 0.0]])
    return M.FiniteMDP(P, R, np.array([1.0, 0.0, 0.0]), gamma,
                       terminal=np.array([False, False, True]))


def optimal_value(mdp: M.FiniteMDP, iters: int = 200) -> float:
    """J* = mu0 . V* by value iteration."""
    V = np.zeros(mdp.n_states)
    for _ in range(iters):
        V = np.max(mdp.R + mdp.gamma * np.where(mdp.terminal[:, None], 0.0, mdp.P @ V), axis=1)
    return float(mdp.mu0 @ V)


def exact_J(algo, state, mdp: M.FiniteMDP) -> float:
    """J of the learned policy, exactly, from its action probabilities on one-hot states."""
    obs = np.eye(mdp.n_states)
    params = state["policy"]
    pi = np.asarray(algo.policy.probs(params, obs))
    return M.objective(mdp, pi)


# ----------------------------------------------------------------------------- training

def spec_of(env_fn):
    return space_info(make_vec_env(env_fn, 1))


def train(algo, env_fn, n_updates: int, seed: int = 0):
    """n_updates rollouts + updates with ``algo``; returns (state, last stats, collector)."""
    c = algo.config
    envs = make_vec_env(env_fn, c.n_envs, seed=seed)
    col = Collector(envs, seed=seed)
    rng = np.random.default_rng(seed)
    state = algo.init(rng)
    has_v = algo.value(state, np.zeros((1, algo.spec.obs_dim))) is not None
    stats = {}
    for u in range(n_updates):
        box = [state]
        ro = col.collect(lambda o: algo.act(box[0], o, rng),
                         (lambda o: algo.value(box[0], o)) if has_v else None, c.n_steps)
        state, stats = algo.update(state, ro, u / n_updates, rng)
    return state, stats, col


def forever_env():
    """Pays +1 every step, never terminates, truncated after 5 steps, one observation."""
    return CountingEnv(truncate_at=5, n_states=1)


def params_vector(state) -> np.ndarray:
    nets = [state[k] for k in ("policy", "critic") if k in state]
    return np.concatenate([flatten(p) for p in nets])


# ----------------------------------------------------------------------------- fake rollouts

def fake_rollout(rew, terminated, truncated, valid=None, obs_dim=2, n_actions=2, seed=0,
                 value=None, next_value=None) -> Rollout:
    """A Rollout with the given [T, N] reward/flag arrays, random obs and actions."""
    rng = np.random.default_rng(seed)
    rew = np.asarray(rew, np.float64)
    T, N = rew.shape
    valid = np.ones((T, N), bool) if valid is None else np.asarray(valid, bool)
    return Rollout(obs=rng.standard_normal((T, N, obs_dim)),
                   act=rng.integers(0, n_actions, (T, N)), logp=np.zeros((T, N)), rew=rew,
                   terminated=np.asarray(terminated, bool), truncated=np.asarray(truncated, bool),
                   value=value, next_value=next_value, valid=valid,
                   last_obs=rng.standard_normal((N, obs_dim)),
                   episode_returns=np.zeros(0), episode_lengths=np.zeros(0, np.int64))


def random_batch(spec, B: int, rng, keys=("adv", "ret")):
    """obs [B, D], act and random per-sample constants, float64 NumPy."""
    out = {"obs": rng.standard_normal((B, spec.obs_dim))}
    if spec.discrete:
        out["act"] = rng.integers(0, spec.n_actions, B)
    else:
        out["act"] = rng.standard_normal((B, spec.act_dim))
    for k in keys:
        out[k] = rng.standard_normal(B)
    return out


def disc_spec(obs_dim: int = 3, n_actions: int = 3) -> SpaceInfo:
    return SpaceInfo(obs_dim, "box", None, True, n_actions, None, None, None)


def box_spec(obs_dim: int = 3, act_dim: int = 2) -> SpaceInfo:
    return SpaceInfo(obs_dim, "box", None, False, None, act_dim, -np.ones(act_dim),
                     np.ones(act_dim))


# ----------------------------------------------------------------------------- FD checks

def check_loss_grad(loss_and_grad, params: dict, batch: dict, directions: int = 0) -> None:
    """FD check of ``loss_and_grad(params, batch) -> (loss, {net: grads}, stats)`` over all
    nets' parameters together, float64: every coordinate (``npg.testing.check_grad``), or
    ``directions`` random directions (``check_grad_directional``) when > 0."""
    from npg.testing import check_grad, check_grad_directional
    flat = {f"{net}/{k}": v for net, p in params.items() for k, v in p.items()}

    def nest(f):
        out = {}
        for key, v in f.items():
            net, k = key.split("/", 1)
            out.setdefault(net, {})[k] = v
        return out

    _, grads, _ = loss_and_grad(params, batch)
    g = {f"{net}/{k}": np.asarray(v) for net, gs in grads.items() for k, v in gs.items()}
    f = lambda p: float(loss_and_grad(nest(p), batch)[0])  # noqa: E731
    if directions:
        check_grad_directional(f, g, flat, rng=0, n_directions=directions)
    else:
        check_grad(f, g, flat)


def slice_rollout(ro: Rollout, a: int, b: int) -> Rollout:
    """Rows a:b of a rollout (the [T, N] fields; last_obs kept)."""
    fields = ("obs", "act", "logp", "rew", "terminated", "truncated", "value", "next_value",
              "valid")
    kw = {f: (None if getattr(ro, f) is None else getattr(ro, f)[a:b]) for f in fields}
    return Rollout(**kw, last_obs=ro.last_obs, episode_returns=ro.episode_returns,
                   episode_lengths=ro.episode_lengths)


class GaussianBanditEnv(gym.Env):
    """One-step continuous bandit: obs [1.0], action a in [-3, 3], reward 1 - (a - 1)^2.
    For pi = N(mu, sigma^2) (unclipped) J = 1 - (mu - 1)^2 - sigma^2; the optimum is 1."""

    def __init__(self):
        self.observation_space = spaces.Box(-np.inf, np.inf, (1,), np.float32)
        self.action_space = spaces.Box(-3.0, 3.0, (1,), np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.ones(1, np.float32), {}

    def step(self, a):
        r = 1.0 - (float(np.asarray(a).reshape(-1)[0]) - 1.0) ** 2
        return np.ones(1, np.float32), r, True, False, {}


def gaussian_bandit_J(algo, state) -> float:
    mean, log_std = algo.policy.forward(state["policy"], np.ones((1, 1)))[0]
    mu, sigma = float(np.asarray(mean)[0, 0]), float(np.exp(np.asarray(log_std)[0, 0]))
    return 1.0 - (mu - 1.0) ** 2 - sigma ** 2


# ----------------------------------------------------------------------------- PPO FD batches

def ppo_fd_minibatch(algo, rng, obs_dim: int, B: int = 6):
    """A PPO train state with its policy moved off the init (N(0, 0.5^2) per weight) and a
    random minibatch of B steps acted by it: logp_old and v_old perturbed so that ratios and
    value clips are not trivially 1 and 0. Returns ``(state, mb)``; draws from ``rng`` in a
    fixed order (init, perturbation, obs, acting, the rest)."""
    state = algo.init(rng)
    state["policy"] = {k: a + rng.normal(scale=0.5, size=a.shape)
                       for k, a in state["policy"].items()}
    obs = rng.normal(size=(B, obs_dim))
    _, act, logp = algo.act(state, obs, rng)
    mb = {"obs": obs, "act": act, "logp_old": logp + rng.uniform(-0.3, 0.3, B),
          "adv": rng.normal(size=B), "ret": rng.normal(size=B),
          "v_old": algo.value(state, obs) + rng.normal(scale=0.3, size=B)}
    return state, mb
