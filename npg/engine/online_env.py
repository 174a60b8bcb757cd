"""Stepping the one copy of a one-environment ``VectorEnv`` without the batching overhead.

The online actor-critics step one environment per update, where a vector env's step (action
checks, batching, info merging) costs 3-10x the environment's own dynamics. Each stepper here
does exactly what the vector env's ``step`` does for its single copy in NEXT_STEP autoreset mode
(``npg.envs.make``), and keeps the vector env's own attributes up to date, so that the two can
be interleaved and a snapshot (``npg.envs.snapshot``) sees the same state:

    stepper = one_env_stepper(envs)
    obs, reward, terminated, truncated = stepper.step(action)     # action: an int
    stepper.sync()                          # before anything else reads or steps ``envs``

* ``SyncOne`` (``SyncVectorEnv`` with one copy): the step after an episode's end resets the
  copy (reward 0, not terminated or truncated); otherwise the copy's own ``step``.
* ``FrozenLakeOne`` (``SyncVectorEnv`` over ``gym.make("FrozenLake-v1")``'s usual chain
  TimeLimit > OrderEnforcing > PassiveEnvChecker > FrozenLakeEnv, not rendering): the
  wrappers' and the environment's step inlined once the checker has done its two checks
  (``categorical_sample``: the first k with cumsum(p)_k > u, u one ``random()`` of the env's
  Generator, else 0); tested bitwise against the vector env.
* ``CartPoleOne`` (gymnasium's ``CartPoleVectorEnv`` or npg's compiled subclass of it, with
  one copy, Euler integrator, the default reward): its arithmetic in the same order on float64 scalars (cos and sin by the
  same NumPy loops, the reset draw by the same Generator call); tested bitwise against it.
* ``VectorOne`` (anything else in NEXT_STEP mode): the vector env's own ``step``.
"""

from __future__ import annotations

import numpy as np
from gymnasium.vector import AutoresetMode, SyncVectorEnv
from gymnasium.vector.utils import concatenate

__all__ = ["one_env_stepper", "SyncOne", "FrozenLakeOne", "CartPoleOne", "VectorOne"]


def one_env_stepper(envs):
    """The fastest exact stepper of ``envs`` (one copy, NEXT_STEP autoreset)."""
    if isinstance(envs, SyncVectorEnv) and envs.autoreset_mode == AutoresetMode.NEXT_STEP:
        return FrozenLakeOne(envs) if FrozenLakeOne.supports(envs) else SyncOne(envs)
    if CartPoleOne.supports(envs):
        return CartPoleOne(envs)
    return VectorOne(envs)


class VectorOne:
    """The vector env's own step on a batch of one action."""

    def __init__(self, envs):
        self.envs = envs
        self._a = np.zeros(1, np.int64)

    def step(self, action: int):
        self._a[0] = action
        obs, r, te, tr, _ = self.envs.step(self._a)
        return obs, float(r[0]), bool(te[0]), bool(tr[0])

    def sync(self) -> None:
        pass


class SyncOne:
    """``SyncVectorEnv.step`` (NEXT_STEP) for its one copy; obs is the copy's observation."""

    def __init__(self, envs: SyncVectorEnv):
        self.envs, self.env = envs, envs.envs[0]
        self._obs = None

    def step(self, action: int):
        vec = self.envs
        if vec._autoreset_envs[0]:
            obs, _ = self.env.reset()
            r, te, tr = 0.0, False, False
        else:
            obs, r, te, tr, _ = self.env.step(np.int64(action))
        vec._rewards[0], vec._terminations[0], vec._truncations[0] = r, te, tr
        done = bool(vec._terminations[0] or vec._truncations[0])
        vec._autoreset_envs[0] = done
        self._obs = obs
        return obs, float(vec._rewards[0]), bool(vec._terminations[0]), \
            bool(vec._truncations[0])

    def sync(self) -> None:
        """The batched observation buffer, as the vector env's step leaves it."""
        if self._obs is not None:
            vec = self.envs
            vec._env_obs[0] = self._obs
            vec._observations = concatenate(vec.single_observation_space, vec._env_obs,
                                            vec._observations)


class FrozenLakeOne(SyncOne):
    """``SyncOne`` with FrozenLake's step inlined (module docstring)."""

    @staticmethod
    def _chain(env):
        from gymnasium.envs.toy_text.frozen_lake import FrozenLakeEnv
        from gymnasium.wrappers.common import OrderEnforcing, PassiveEnvChecker, TimeLimit
        kinds = (TimeLimit, OrderEnforcing, PassiveEnvChecker, FrozenLakeEnv)
        chain = [env]
        while hasattr(chain[-1], "env") and len(chain) < 5:
            chain.append(chain[-1].env)
        if len(chain) != 4 or any(type(o) is not k for o, k in zip(chain, kinds)):
            return None
        return chain

    @classmethod
    def supports(cls, envs) -> bool:
        if envs.num_envs != 1:
            return False
        chain = cls._chain(envs.envs[0])
        return chain is not None and chain[3].render_mode is None

    def __init__(self, envs):
        super().__init__(envs)
        self.limit, self.order, self.checker, self.base = self._chain(self.env)
        self.table = [[(np.cumsum(np.asarray([t[0] for t in tr])).tolist(),
                        [(int(t[1]), t[2], t[3]) for t in tr]) for a, tr in sorted(acts.items())]
                      for _, acts in sorted(self.base.P.items())]

    def step(self, action: int):
        vec, c = self.envs, self.checker
        if vec._autoreset_envs[0] or not (self.order._has_reset and c.checked_step
                                          and c.checked_data_reuse):
            return super().step(action)
        base, limit = self.base, self.limit
        cs, outcomes = self.table[base.s][action]
        u = base.np_random.random()
        i = 0
        for k in range(len(cs)):
            if cs[k] > u:
                i = k
                break
        s, r, te = outcomes[i]
        base.s, base.lastaction = s, np.int64(action)
        limit._elapsed_steps += 1
        tr = limit._elapsed_steps >= limit._max_episode_steps
        vec._rewards[0], vec._terminations[0], vec._truncations[0] = r, te, tr
        vec._autoreset_envs[0] = te or tr
        self._obs = s
        return s, float(vec._rewards[0]), bool(te), bool(tr)


class CartPoleOne:
    """``CartPoleVectorEnv.step`` for ``num_envs = 1`` on scalars (module docstring)."""

    @staticmethod
    def supports(envs) -> bool:
        from gymnasium.envs.classic_control.cartpole import CartPoleVectorEnv
        from ..envs.cartpole_vector import CartPoleVectorEnv as Compiled
        return (type(envs) in (CartPoleVectorEnv, Compiled) and envs.num_envs == 1
                and envs.kinematics_integrator == "euler" and not envs._sutton_barto_reward
                and envs.state is not None)

    def __init__(self, envs):
        self.envs = envs
        e = envs
        self.x, self.x_dot, self.theta, self.theta_dot = (float(v) for v in e.state[:, 0])
        self.steps, self.prev_done = int(e.steps[0]), bool(e.prev_done[0])
        self._k = (e.gravity, e.masspole, e.total_mass, e.length, e.polemass_length,
                   e.force_mag, e.tau, e.x_threshold, e.theta_threshold_radians,
                   e.max_episode_steps)
        self._obs = np.empty(4, np.float32)

    def step(self, action: int):
        g, mp, M, length, pml, force_mag, tau, x_thr, th_thr, max_steps = self._k
        if self.prev_done:                  # the phantom step: reset, reward 0
            s = self.envs.np_random.uniform(low=self.envs.low, high=self.envs.high, size=(4, 1))
            self.x, self.x_dot, self.theta, self.theta_dot = (float(v) for v in s[:, 0])
            self.steps, self.prev_done = 0, False
            r, te, tr = 0.0, False, False
        else:
            x, x_dot, theta, theta_dot = self.x, self.x_dot, self.theta, self.theta_dot
            force = force_mag if action == 1 else -force_mag
            costheta, sintheta = float(np.cos(theta)), float(np.sin(theta))
            temp = (force + pml * (theta_dot * theta_dot) * sintheta) / M
            thetaacc = (g * sintheta - costheta * temp) / (
                length * (4.0 / 3.0 - mp * (costheta * costheta) / M))
            xacc = temp - pml * thetaacc * costheta / M
            self.x, self.x_dot = x + tau * x_dot, x_dot + tau * xacc
            self.theta, self.theta_dot = theta + tau * theta_dot, theta_dot + tau * thetaacc
            te = bool(self.x < -x_thr or self.x > x_thr or self.theta < -th_thr
                      or self.theta > th_thr)
            self.steps += 1
            tr = self.steps >= max_steps
            r = 1.0
            self.prev_done = te or tr
        o = self._obs
        o[0], o[1], o[2], o[3] = self.x, self.x_dot, self.theta, self.theta_dot
        return o, r, te, tr

    def sync(self) -> None:
        """The vector env's state arrays, as its own step leaves them."""
        e = self.envs
        e.state = np.array([[self.x], [self.x_dot], [self.theta], [self.theta_dot]])
        e.steps[0], e.prev_done[0] = self.steps, self.prev_done
