"""Tiny deterministic environments whose every transition is known, for tests and examples.

``CountingEnv`` counts the steps of its episode: the observation at step t is t (plus, with Box
actions, the last action it received), every step pays ``reward``, and the episode terminates
and/or is truncated at fixed step counts. With ``truncate_at=k`` and no termination it is the
"pays +1 forever, only truncated" environment whose true value is 1/(1 - gamma) (ignoring the
time limit), and its value at step t with the time limit is (1 - gamma^(k - t)) / (1 - gamma).
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium import spaces

__all__ = ["CountingEnv"]


class CountingEnv(gym.Env):
    """Observation t (the step count of the episode), reward ``reward`` per step.

    terminate_at  the step count at which ``terminated`` is True (None: never).
    truncate_at   the step count at which ``truncated`` is True (None: never); both may be equal.
    n_states      None: Box observation ``[t]`` (float32); an int S: Discrete(S) observation
                  ``min(t, S - 1)``.
    act_dim       None: Discrete(n_actions) actions; an int K: Box(low, high, (K,)) actions that
                  must lie inside the bounds (an AssertionError otherwise) and are appended to
                  the Box observation, ``[t, a_1 .. a_K]`` (zeros after reset).
    The step count t is 0 after reset, and the step taken at count t returns count t + 1; the
    episode ends on the step that returns count ``terminate_at`` or ``truncate_at``.
    """

    metadata = {"render_modes": []}

    def __init__(self, terminate_at: int | None = None, truncate_at: int | None = None,
                 reward: float = 1.0, n_states: int | None = None, n_actions: int = 2,
                 act_dim: int | None = None, low: float = -1.0, high: float = 1.0):
        self.terminate_at, self.truncate_at = terminate_at, truncate_at
        self.reward, self.n_states, self.act_dim = float(reward), n_states, act_dim
        if n_states is not None:
            self.observation_space = spaces.Discrete(n_states)
        else:
            d = 1 + (act_dim or 0)
            self.observation_space = spaces.Box(-np.inf, np.inf, (d,), np.float32)
        if act_dim is None:
            self.action_space = spaces.Discrete(n_actions)
        else:
            self.action_space = spaces.Box(low, high, (act_dim,), np.float32)
        self.t = 0
        self.last_action = np.zeros(act_dim or 0, dtype=np.float32)

    def _obs(self):
        if self.n_states is not None:
            return min(self.t, self.n_states - 1)
        return np.concatenate([[np.float32(self.t)], self.last_action]).astype(np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        self.last_action = np.zeros(self.act_dim or 0, dtype=np.float32)
        return self._obs(), {}

    def step(self, action):
        assert self.action_space.contains(np.asarray(action, dtype=self.action_space.dtype)), \
            f"action {action!r} outside {self.action_space}"
        if self.act_dim is not None:
            self.last_action = np.asarray(action, dtype=np.float32).reshape(-1)
        self.t += 1
        terminated = self.terminate_at is not None and self.t >= self.terminate_at
        truncated = self.truncate_at is not None and self.t >= self.truncate_at
        return self._obs(), self.reward, bool(terminated), bool(truncated), {}
