"""Pendulum-v1 for N copies in one NumPy step: gymnasium's dynamics, vectorised.

gymnasium's ``PendulumEnv`` (``gymnasium.envs.classic_control.pendulum``), as registered under
"Pendulum-v1" with a 200-step time limit, has no vectorised class, so a ``SyncVectorEnv`` steps
its copies one Python call at a time. This class steps all copies with one array operation per
line of the same equations. For copy i with state (th, thdot), action u and g = 10 (m = l = 1,
dt = 0.05):

    u'      = clip(u, -2, 2)
    cost    = norm(th)^2 + 0.1 thdot^2 + 0.001 u'^2,   norm(x) = ((x + pi) mod 2 pi) - pi
    thdot'  = clip(thdot + (3 g / (2 l) sin th + 3 / (m l^2) u') dt, -8, 8)
    th'     = th + thdot' dt
    obs     = [cos th', sin th', thdot'] (float32),    reward = -cost (float64)

never terminated; truncated after 200 steps; reset state uniform on [-pi, pi] x [-1, 1] (or
the ``x_init`` / ``y_init`` bounds of ``options``, as gymnasium's). Autoreset is NEXT_STEP (the
step after an episode's end resets that copy and returns reward 0 and no end), the mode of
gymnasium's own ``CartPoleVectorEnv``.

Seeding follows ``SyncVectorEnv``: copy i has its own generator, ``reset(seed=s)`` seeds copy
i with s + i (a list seeds each copy), and every reset draws that copy's initial state from its
generator exactly as ``PendulumEnv.reset`` does. The squares of the cost are taken as NumPy's
scalars take them (``_sq``). So states, observations and rewards equal those of
``gymnasium.make_vec("Pendulum-v1", N, vectorization_mode="sync")`` bit for bit (tested), and
a run trains the same with either.

For float32 and float64 actions (what policies give) the step's arithmetic runs as one Numba
loop over the copies (``step_kernel``), written to round exactly as the array code does: the
squares by ``math.pow`` (C's ``pow`` / ``powf``, as NumPy's scalars), the action's terms in the
action's dtype (NumPy 2 keeps a Python float beside a float32 array in float32), sin th taken
by NumPy before the call and cos / sin of the new angle by NumPy after it. ``step_arrays`` is the
same step in NumPy arrays, used for other action dtypes; the two are tested equal bit for bit.
"""

from __future__ import annotations

import math

import numpy as np
from gymnasium import spaces
from gymnasium.envs.classic_control.utils import verify_number_and_cast
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space
from numba import njit

__all__ = ["PendulumVectorEnv", "step_kernel"]

MAX_SPEED, MAX_TORQUE, DT, M, L = 8, 2.0, 0.05, 1.0, 1.0
DEFAULT_X, DEFAULT_Y = np.pi, 1.0


def _sq(x: np.ndarray) -> np.ndarray:
    """x ** 2 element by element as NumPy's scalars compute it (C's ``pow`` / ``powf``, as
    gymnasium's scalar code does), not as an array's ``x * x``: the two differ in the last bit
    for about one input in a thousand. N Python-level powers per step: cheap for small N."""
    return np.array([v ** 2 for v in x], dtype=x.dtype)


@njit(cache=True, nogil=True)
def step_kernel(th, thdot, u, sin_th, steps, max_steps, g, two, k, reward, truncated):
    """The step's arithmetic in place for every copy (module docstring): th, thdot [N] float64,
    u [N] the actions (float32 or float64), sin_th = np.sin(th); k = (0.001, 3 / (m l^2), 2,
    -max_torque, max_torque) in u's dtype. Writes reward (-cost) and truncated [N]. The
    exponent ``two`` (2.0) arrives as an argument: a constant 2.0 lets LLVM turn pow(x, 2)
    into x * x, which differs from C's pow in the last bit for some x."""
    two_pi = 2 * np.pi
    for i in range(th.shape[0]):
        ui = min(max(u[i], k[3]), k[4])
        norm = ((th[i] + np.pi) % two_pi) - np.pi
        u_cost = k[0] * math.pow(ui, k[2])                 # in u's dtype
        cost = math.pow(norm, two) + 0.1 * math.pow(thdot[i], two) + u_cost
        new_thdot = thdot[i] + (3 * g / (2 * L) * sin_th[i] + k[1] * ui) * DT
        thdot[i] = min(max(new_thdot, -MAX_SPEED), MAX_SPEED)
        th[i] = th[i] + thdot[i] * DT
        steps[i] += 1
        reward[i] = -cost
        truncated[i] = steps[i] >= max_steps


class PendulumVectorEnv(VectorEnv):
    """``num_envs`` copies of Pendulum-v1 (module docstring), ``max_episode_steps`` each."""

    metadata = {"render_modes": [], "autoreset_mode": AutoresetMode.NEXT_STEP}
    KWARGS = ("g",)               # PendulumEnv's constructor arguments this class takes

    def __init__(self, num_envs: int = 1, max_episode_steps: int = 200, g: float = 10.0,
                 render_mode: str | None = None):
        if render_mode is not None:
            raise ValueError(f"render_mode: PendulumVectorEnv does not render; got "
                             f"{render_mode!r} (use vectorization 'sync' to render)")
        self.num_envs, self.max_episode_steps = int(num_envs), int(max_episode_steps)
        self.g, self.render_mode = g, None
        high = np.array([1.0, 1.0, MAX_SPEED], dtype=np.float32)
        self.single_action_space = spaces.Box(-MAX_TORQUE, MAX_TORQUE, (1,), np.float32)
        self.single_observation_space = spaces.Box(-high, high, dtype=np.float32)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.rngs = tuple(seeding.np_random(None)[0] for _ in range(self.num_envs))
        self.th = np.zeros(self.num_envs)
        self.thdot = np.zeros(self.num_envs)
        self.steps = np.zeros(self.num_envs, dtype=np.int64)
        self.prev_done = np.zeros(self.num_envs, dtype=bool)
        self.high = np.array([DEFAULT_X, DEFAULT_Y])

    def _seed(self, seed) -> None:
        if seed is None:
            return
        seeds = [seed + i for i in range(self.num_envs)] if isinstance(seed, int) else seed
        if len(seeds) != self.num_envs:
            raise ValueError(f"seed: a list of seeds needs one per copy ({self.num_envs}); got "
                             f"{len(seeds)}")
        self.rngs = tuple(seeding.np_random(s)[0] for s in seeds)

    def _draw(self, i: int) -> None:
        """Copy i's initial state, drawn as ``PendulumEnv.reset`` draws it."""
        self.th[i], self.thdot[i] = self.rngs[i].uniform(low=-self.high, high=self.high)
        self.steps[i] = 0

    def reset(self, *, seed=None, options: dict | None = None):
        """All copies reset; ``options`` may set the bounds ``x_init`` and ``y_init``."""
        self._seed(seed)
        opts = options or {}
        self.high = np.array([verify_number_and_cast(opts.get("x_init", DEFAULT_X)),
                              verify_number_and_cast(opts.get("y_init", DEFAULT_Y))])
        for i in range(self.num_envs):
            self._draw(i)
        self.prev_done[:] = False
        return self._obs(), {}

    def _obs(self) -> np.ndarray:
        return np.stack([np.cos(self.th), np.sin(self.th), self.thdot], axis=1).astype(np.float32)

    def step(self, actions):
        """One step of every copy (module docstring); copies whose episode ended at the last
        step are reset instead, with reward 0."""
        a = np.asarray(actions).reshape(self.num_envs, 1)[:, 0]
        plain = all(isinstance(x, np.ndarray) and x.dtype == np.float64 and x.flags.c_contiguous
                    and x.flags.writeable for x in (self.th, self.thdot))
        if a.dtype not in (np.float32, np.float64) or not plain or self.steps.dtype != np.int64:
            return self.step_arrays(actions)
        N = self.num_envs
        reward, truncated = np.empty(N), np.empty(N, dtype=bool)
        k = np.array([0.001, 3.0 / (M * L ** 2), 2.0, -MAX_TORQUE, MAX_TORQUE], a.dtype)
        step_kernel(self.th, self.thdot, np.ascontiguousarray(a), np.sin(self.th), self.steps,
                    self.max_episode_steps, float(self.g), 2.0, k, reward, truncated)
        return self._finish_step(reward, truncated)

    def _finish_step(self, reward, truncated):
        """Reset the copies that ended at the previous step (reward 0, not truncated)."""
        terminated = np.zeros(self.num_envs, dtype=bool)
        if self.prev_done.any():
            for i in np.flatnonzero(self.prev_done):
                self._draw(int(i))
            reward[self.prev_done] = 0.0
            truncated[self.prev_done] = False
        self.prev_done = truncated.copy()
        return self._obs(), reward, terminated, truncated, {}

    def step_arrays(self, actions):
        """``step`` in NumPy arrays (any action dtype)."""
        u = np.clip(np.asarray(actions).reshape(self.num_envs, 1), -MAX_TORQUE, MAX_TORQUE)[:, 0]
        th, thdot = self.th, self.thdot
        norm = ((th + np.pi) % (2 * np.pi)) - np.pi
        cost = _sq(norm) + 0.1 * _sq(thdot) + 0.001 * _sq(u)
        new_thdot = thdot + (3 * self.g / (2 * L) * np.sin(th) + 3.0 / (M * L ** 2) * u) * DT
        self.thdot = np.clip(new_thdot, -MAX_SPEED, MAX_SPEED)
        self.th = th + self.thdot * DT
        self.steps += 1
        return self._finish_step(-cost.astype(np.float64), self.steps >= self.max_episode_steps)
