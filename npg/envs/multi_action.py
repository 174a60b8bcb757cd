"""Two small tasks with several actions per step: the MultiDiscrete and MultiBinary tasks of
npg's tests and command-line checks (gymnasium ships none).

``Dials(nvec=(4, 4, 4), horizon=10)``: K dials, dial k showing p_k in [0, n_k) and a target
t_k; both are drawn uniformly at reset and observed as ``MultiDiscrete(nvec + nvec)`` (the
positions, then the targets; npg encodes them one-hot per dial). The action is
``MultiDiscrete((3,) * K)``: a_k = 0 turns dial k down, 1 leaves it, 2 turns it up (clipped to
[0, n_k - 1]). Each step pays -(number of dials off target after the step) / K; the episode
terminates when every dial is on target and is truncated after ``horizon`` steps. An optimal
policy turns every dial straight toward its target: its return is
-(1/K) sum_{j >= 1} #{k : |p_k - t_k| > j}, at worst -(3 + 2 + 1)/3 = -2 for (4, 4, 4) and
-0.48 on average; a uniformly random policy's mean return is -7.1 (2000 episodes each).

``Switches(k=4, horizon=6)``: k switches s in {0, 1}^k and a target bit pattern g, both
uniform at reset (s != g), observed as ``MultiBinary(2k)`` (s then g). The action is
``MultiBinary(k)``: bit j = 1 flips switch j. Each step pays -(number of switches off target
after the step) / k; terminated when s = g, truncated after ``horizon`` steps. The optimal
policy flips exactly the mismatched switches (a = s XOR g) and ends in one step with return 0;
a uniformly random policy's mean return is -2.55 (2000 episodes).

Ids: ``register()`` (called when this module is imported; ``import npg`` does not import it)
registers "npg/Dials-v0" and "npg/Switches-v0", so ``npg train npg.envs.multi_action:npg/Dials-v0``
works from the command line.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium import spaces

__all__ = ["Dials", "Switches", "register", "DIALS_ID", "SWITCHES_ID"]

DIALS_ID = "npg/Dials-v0"
SWITCHES_ID = "npg/Switches-v0"


def _check_int(name: str, x, low: int) -> int:
    if isinstance(x, bool) or not isinstance(x, (int, np.integer)) or x < low:
        raise ValueError(f"{name} must be an int >= {low}; got {x!r}")
    return int(x)


class Dials(gym.Env):
    """Turn K dials to their targets (module docstring)."""

    metadata = {"render_modes": []}

    def __init__(self, nvec=(4, 4, 4), horizon: int = 10):
        if not isinstance(nvec, (tuple, list)) or not nvec:
            raise ValueError(f"nvec must be a non-empty tuple of ints >= 2; got {nvec!r}")
        self.nvec = np.array([_check_int(f"nvec[{i}]", n, 2) for i, n in enumerate(nvec)])
        self.horizon = _check_int("horizon", horizon, 1)
        K = self.nvec.size
        self.observation_space = spaces.MultiDiscrete(np.concatenate([self.nvec, self.nvec]))
        self.action_space = spaces.MultiDiscrete(np.full(K, 3))
        self.pos = np.zeros(K, np.int64)
        self.target = np.zeros(K, np.int64)
        self.t = 0

    def _obs(self):
        return np.concatenate([self.pos, self.target]).astype(self.observation_space.dtype)

    def _off(self) -> int:
        return int(np.count_nonzero(self.pos != self.target))

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.pos = self.np_random.integers(0, self.nvec)
        self.target = self.np_random.integers(0, self.nvec)
        self.t = 0
        return self._obs(), {}

    def step(self, action):
        a = np.asarray(action)
        if not self.action_space.contains(a.astype(self.action_space.dtype)) or a.shape != \
                self.action_space.shape:
            raise ValueError(f"action {action!r} is not in {self.action_space}")
        self.pos = np.clip(self.pos + a.astype(np.int64) - 1, 0, self.nvec - 1)
        self.t += 1
        off = self._off()
        return self._obs(), -off / self.nvec.size, off == 0, self.t >= self.horizon and off > 0, {}


class Switches(gym.Env):
    """Flip k switches to a target pattern (module docstring)."""

    metadata = {"render_modes": []}

    def __init__(self, k: int = 4, horizon: int = 6):
        self.k = _check_int("k", k, 1)
        self.horizon = _check_int("horizon", horizon, 1)
        self.observation_space = spaces.MultiBinary(2 * self.k)
        self.action_space = spaces.MultiBinary(self.k)
        self.s = np.zeros(self.k, np.int8)
        self.g = np.zeros(self.k, np.int8)
        self.t = 0

    def _obs(self):
        return np.concatenate([self.s, self.g]).astype(np.int8)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.s = self.np_random.integers(0, 2, self.k).astype(np.int8)
        self.g = self.s.copy()
        while np.array_equal(self.g, self.s):
            self.g = self.np_random.integers(0, 2, self.k).astype(np.int8)
        self.t = 0
        return self._obs(), {}

    def step(self, action):
        a = np.asarray(action)
        if a.shape != (self.k,) or not np.isin(a, (0, 1)).all():
            raise ValueError(f"action {action!r} is not in {self.action_space}")
        self.s = self.s ^ a.astype(np.int8)
        self.t += 1
        off = int(np.count_nonzero(self.s != self.g))
        return self._obs(), -off / self.k, off == 0, self.t >= self.horizon and off > 0, {}


def register() -> tuple[str, str]:
    """Register ``DIALS_ID`` and ``SWITCHES_ID`` with gymnasium (idempotent); returns them."""
    if DIALS_ID not in gym.registry:
        gym.register(id=DIALS_ID, entry_point="npg.envs.multi_action:Dials")
    if SWITCHES_ID not in gym.registry:
        gym.register(id=SWITCHES_ID, entry_point="npg.envs.multi_action:Switches")
    return DIALS_ID, SWITCHES_ID


register()
