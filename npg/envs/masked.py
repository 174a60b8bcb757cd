"""A small environment whose legal actions change with the state and come as an action mask in
``info["action_mask"]`` (the convention of gymnasium's toy-text environments, e.g. Taxi-v3):
the masked task of npg's tests and command-line checks.

``MaskedLine(length=6, horizon=12, jump=True)``: position s in [0, length), observed one-hot
(Box [length]); actions 0 left, 1 right, 2 stay, 3 jump (+2). Legal: left iff s > 0, right iff
s < length - 1, stay always, jump iff ``jump`` and s is even and s + 2 < length. The episode
starts at s in {0, 1, 2} (uniform), ends (terminated) with reward +1 at s = length - 1 and is
truncated after ``horizon`` steps; other steps give 0. An illegal action raises a
``ValueError``, so a policy that ignores the mask cannot go unnoticed. ``dead_at``: a state
whose mask is all False (a broken environment, for the error path).
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium import spaces

__all__ = ["MaskedLine"]


class MaskedLine(gym.Env):
    metadata = {"render_modes": []}

    def __init__(self, length: int = 6, horizon: int = 12, jump: bool = True,
                 dead_at: int | None = None):
        if isinstance(length, bool) or not isinstance(length, int) or length < 3:
            raise ValueError(f"length must be an int >= 3; got {length!r}")
        if isinstance(horizon, bool) or not isinstance(horizon, int) or horizon < 1:
            raise ValueError(f"horizon must be a positive int; got {horizon!r}")
        self.length, self.horizon, self.jump, self.dead_at = length, horizon, bool(jump), dead_at
        self.observation_space = spaces.Box(0.0, 1.0, (length,), np.float64)
        self.action_space = spaces.Discrete(4)
        self.s, self.t = 0, 0

    def legal(self, s: int) -> np.ndarray:
        """The action mask of state s, bool [4]."""
        if s == self.dead_at:
            return np.zeros(4, bool)
        return np.array([s > 0, s < self.length - 1, True,
                         self.jump and s % 2 == 0 and s + 2 < self.length])

    def _out(self):
        o = np.zeros(self.length)
        o[self.s] = 1.0
        return o, {"action_mask": self.legal(self.s)}

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        self.s, self.t = int(self.np_random.integers(0, 3)), 0
        return self._out()

    def step(self, action):
        a = int(action)
        if not 0 <= a < 4 or not self.legal(self.s)[a]:
            raise ValueError(f"action {a} is illegal in state {self.s} (mask "
                             f"{self.legal(self.s).astype(int).tolist()})")
        self.s += (-1, 1, 0, 2)[a]
        self.t += 1
        o, info = self._out()
        term = self.s == self.length - 1
        return o, float(term), term, self.t >= self.horizon and not term, info
