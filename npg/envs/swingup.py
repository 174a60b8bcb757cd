"""Cart-pole swing-up: the pole starts hanging down and must be swung up and balanced with a
continuous force on the cart (a vectorised NumPy implementation).

Dynamics: the frictionless cart-pole of Barto, Sutton & Anderson (1983) in the corrected form of
Florian (2007, "Correct equations for the dynamics of the cart-pole system", eqs. 23-24), the
equations gymnasium's CartPole integrates, with theta = 0 upright and theta = pi hanging:

    theta_acc = (g sin th - cos th (F + m_p l th_dot^2 sin th) / M) / (l (4/3 - m_p cos^2 th / M))
    x_acc     = (F + m_p l (th_dot^2 sin th - theta_acc cos th)) / M,      M = m_c + m_p

with g = 9.8, cart mass m_c = 1, pole mass m_p = 0.1, half-length l = 0.5 (gymnasium's
constants) and force F = 10 clip(u, -1, 1) N for the action u in [-1, 1]; semi-implicit Euler
with dt = 0.01 s (v += dt a; x += dt v), so T = 1000 steps are 10 s. They conserve the energy
E = M x_dot^2 / 2 + m_p l x_dot th_dot cos th + (2/3) m_p l^2 th_dot^2 + m_p g l cos th and the
horizontal momentum M x_dot + m_p l th_dot cos th when F = 0 (tests/envs/test_swingup.py).

Observation [x, x_dot, cos th, sin th, th_dot] (Box, float64). Start: x, x_dot, th_dot ~
U(-0.05, 0.05), th = pi + U(-0.05, 0.05). No termination; truncation at T = 1000 steps.

Reward (the DeepMind Control Suite's cartpole "swingup", Tassa et al. 2018, smooth variant), in
[0, 1] per step, so the return of an episode is at most 1000:

    r = upright * centered * small_control * small_velocity
    upright        = (1 + cos th) / 2
    centered       = (1 + gauss(x, margin 2)) / 2
    small_control  = (4 + max(0, 1 - u^2)) / 5
    small_velocity = (1 + gauss(th_dot, margin 5)) / 2
    gauss(y, margin) = exp(-0.5 (y s / margin)^2) with s = sqrt(-2 ln 0.1) (0.1 at the margin)

A pole hanging still at the centre earns 0; balancing upright, centred and still earns ~1 a step.

Ids: ``register()`` (called when this module is imported; ``import npg`` does not import it)
registers "npg/CartPoleSwingUp-v0" (single env, T = 1000 time limit); the vectorised
``CartPoleSwingUpVectorEnv`` is built directly (SAME_STEP autoreset, like ``LQRVectorEnv``).
"""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv

from ..checks import as_generator, check_positive_int

__all__ = ["ENV_ID", "GRAVITY", "MASS_CART", "MASS_POLE", "HALF_LENGTH", "FORCE_MAG", "DT",
           "MAX_STEPS", "swingup_dynamics", "swingup_reward", "energy", "observe",
           "CartPoleSwingUpEnv", "CartPoleSwingUpVectorEnv", "register"]

ENV_ID = "npg/CartPoleSwingUp-v0"
GRAVITY, MASS_CART, MASS_POLE, HALF_LENGTH, FORCE_MAG, DT, MAX_STEPS = (9.8, 1.0, 0.1, 0.5,
                                                                        10.0, 0.01, 1000)
_GAUSS_SCALE = math.sqrt(-2.0 * math.log(0.1))


def swingup_dynamics(state: np.ndarray, force: np.ndarray, dt: float = DT) -> np.ndarray:
    """One semi-implicit Euler step of the state [N, 4] = (x, x_dot, th, th_dot) under the
    force [N] (newtons); returns the new state [N, 4]."""
    x, x_dot, th, th_dot = state.T
    M = MASS_CART + MASS_POLE
    sin, cos = np.sin(th), np.cos(th)
    temp = (force + MASS_POLE * HALF_LENGTH * th_dot ** 2 * sin) / M
    th_acc = (GRAVITY * sin - cos * temp) / (HALF_LENGTH * (4.0 / 3.0 - MASS_POLE * cos ** 2 / M))
    x_acc = temp - MASS_POLE * HALF_LENGTH * th_acc * cos / M
    x_dot = x_dot + dt * x_acc
    th_dot = th_dot + dt * th_acc
    return np.stack([x + dt * x_dot, x_dot, th + dt * th_dot, th_dot], axis=1)


def energy(state: np.ndarray) -> np.ndarray:
    """Total mechanical energy [N] of the cart-pole (module docstring)."""
    x, x_dot, th, th_dot = state.T
    M, m, l = MASS_CART + MASS_POLE, MASS_POLE, HALF_LENGTH
    return (0.5 * M * x_dot ** 2 + m * l * x_dot * th_dot * np.cos(th)
            + (2.0 / 3.0) * m * l ** 2 * th_dot ** 2 + m * GRAVITY * l * np.cos(th))


def _gauss(y, margin):
    return np.exp(-0.5 * (y * _GAUSS_SCALE / margin) ** 2)


def swingup_reward(state: np.ndarray, u: np.ndarray) -> np.ndarray:
    """r [N] of the module docstring for states [N, 4] and clipped actions u [N]."""
    x, _, th, th_dot = state.T
    upright = (1.0 + np.cos(th)) / 2.0
    centered = (1.0 + _gauss(x, 2.0)) / 2.0
    small_control = (4.0 + np.maximum(0.0, 1.0 - u ** 2)) / 5.0
    small_velocity = (1.0 + _gauss(th_dot, 5.0)) / 2.0
    return upright * centered * small_control * small_velocity


def observe(state: np.ndarray) -> np.ndarray:
    """[N, 5] observations (x, x_dot, cos th, sin th, th_dot)."""
    x, x_dot, th, th_dot = state.T
    return np.stack([x, x_dot, np.cos(th), np.sin(th), th_dot], axis=1)


def _initial(rng, n: int) -> np.ndarray:
    s = rng.uniform(-0.05, 0.05, (n, 4))
    s[:, 2] += math.pi
    return s


def _check_action(actions, n: int) -> np.ndarray:
    a = np.asarray(actions, dtype=np.float64).reshape(-1)
    if a.shape != (n,):
        raise ValueError(f"actions must have {n} entries (one force per env); got "
                         f"shape {np.shape(actions)}")
    if not np.all(np.isfinite(a)):
        raise ValueError("actions must be finite")
    return np.clip(a, -1.0, 1.0)


_OBS_SPACE = spaces.Box(-np.inf, np.inf, (5,), np.float64)
_ACT_SPACE = spaces.Box(-1.0, 1.0, (1,), np.float64)


class CartPoleSwingUpEnv(gym.Env):
    """One cart-pole swing-up (the time limit comes from the registration's TimeLimit)."""

    metadata = {"render_modes": []}

    def __init__(self):
        self.observation_space = _OBS_SPACE
        self.action_space = _ACT_SPACE
        self.state = None

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.state = _initial(self.np_random, 1)
        return observe(self.state)[0], {}

    def step(self, action):
        if self.state is None:
            raise RuntimeError("call reset() before step()")
        u = _check_action(action, 1)
        self.state = swingup_dynamics(self.state, FORCE_MAG * u)
        return observe(self.state)[0], float(swingup_reward(self.state, u)[0]), False, False, {}


class CartPoleSwingUpVectorEnv(VectorEnv):
    """``num_envs`` swing-ups stepped together; truncated after ``max_steps`` (SAME_STEP
    autoreset: the real final observation is in ``info["final_obs"]``)."""

    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP, "render_modes": []}

    def __init__(self, num_envs: int, max_steps: int = MAX_STEPS):
        self.num_envs = check_positive_int("num_envs", num_envs)
        self.max_steps = check_positive_int("max_steps", max_steps)
        self.single_observation_space, self.single_action_space = _OBS_SPACE, _ACT_SPACE
        self.observation_space = spaces.Box(-np.inf, np.inf, (self.num_envs, 5), np.float64)
        self.action_space = spaces.Box(-1.0, 1.0, (self.num_envs, 1), np.float64)
        self.render_mode = None
        self._rng = np.random.default_rng()
        self.state, self.t = None, None

    def reset(self, *, seed=None, options=None):
        if seed is not None:
            self._rng = as_generator(int(seed), "seed")
        self.state = _initial(self._rng, self.num_envs)
        self.t = np.zeros(self.num_envs, np.int64)
        return observe(self.state), {}

    def step(self, actions):
        if self.state is None:
            raise RuntimeError("call reset() before step()")
        u = _check_action(actions, self.num_envs)
        self.state = swingup_dynamics(self.state, FORCE_MAG * u)
        r = swingup_reward(self.state, u)
        obs = observe(self.state)
        self.t += 1
        truncated = self.t >= self.max_steps
        info = {}
        if truncated.any():
            info = {"final_obs": obs.copy(), "_final_obs": truncated.copy()}
            self.state[truncated] = _initial(self._rng, int(truncated.sum()))
            self.t[truncated] = 0
            obs = observe(self.state)
        return obs, r, np.zeros(self.num_envs, bool), truncated, info


def register() -> str:
    """Register ``ENV_ID`` with gymnasium (idempotent); returns the id."""
    if ENV_ID not in gym.registry:
        gym.register(id=ENV_ID, entry_point="npg.envs.swingup:CartPoleSwingUpEnv",
                     max_episode_steps=MAX_STEPS)
    return ENV_ID


register()
