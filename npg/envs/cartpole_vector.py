"""CartPole for N copies in one compiled step: gymnasium's ``CartPoleVectorEnv``, bit for bit.

gymnasium's own vectorised CartPole (``gymnasium.envs.classic_control.cartpole``, the
"vector_entry_point" of "CartPole-v1" and "CartPole-v0") steps its copies with about forty NumPy
calls on arrays of N = 8 numbers, plus a check that the actions lie in the action space: about
50 us a step, a fifth of a PPO cycle at the zoo settings (``benchmarks/throughput.py
--breakdown``). This subclass keeps everything of that class (constructor, spaces, ``reset``,
the generator, rendering, the attributes a checkpoint saves) and replaces ``step`` by one Numba
loop over the copies with the same equations in the same order (Florian 2007, "Correct
equations for the dynamics of the cart-pole system", as gymnasium writes them). For copy i with
state (x, x', th, th'), action a in {0, 1}, F = +-force_mag, m = masspole, M = total_mass,
l = length, m l = polemass_length:

    temp   = (F + m l th'^2 sin th) / M
    th''   = (g sin th - cos th temp) / (l (4/3 - m cos^2 th / M))
    x''    = temp - m l th'' cos th / M
    Euler: x += tau x', x' += tau x'', th += tau th', th' += tau th''
           (semi-implicit Euler updates the velocity first, as gymnasium's option does)

terminated when |x| > x_threshold or |th| > theta_threshold_radians; truncated after
max_episode_steps; reward 1 (Sutton-Barto: -terminated). Autoreset NEXT_STEP: a copy whose
episode ended at the previous step is reset from the class's single generator,
``np_random.uniform(low, high, size=(4, k))`` for the k such copies in index order, exactly as
the parent draws it. cos th and sin th are NumPy's (``np.cos``, ``np.sin`` on the angle vector),
so the compiled loop has no transcendental function of its own whose last bit could differ.
States, observations, rewards and flags equal the parent's bit for bit (tested over long
trajectories with resets). Actions that are not an integer array of shape [N] take the parent's
own ``step`` (its checks and its arithmetic), and so does every step while ``npg.compiling``
holds the kernels (a warm-up child is compiling this one into the cache).
"""

from __future__ import annotations

import numpy as np
from gymnasium.envs.classic_control.cartpole import CartPoleVectorEnv as _GymCartPoleVectorEnv
from numba import njit

from .. import compiling

__all__ = ["CartPoleVectorEnv", "step_kernel"]

_CONSTANTS: dict = {}        # the constants tuple -> the float64 array the kernel reads


@njit(cache=True, nogil=True)
def step_kernel(state, action, cos_t, sin_t, steps, max_steps, c, euler, term, trunc):
    """One step of every copy in place (module docstring); c = (gravity, masspole,
    total_mass, length, polemass_length, force_mag, tau, x_threshold, theta_threshold).
    Returns the index of the first action not in {0, 1}, or -1."""
    N = action.shape[0]
    for i in range(N):
        if action[i] != 0 and action[i] != 1:
            return i
    g, mp, mt, ln, pml, fm, tau, xt, tht = c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8]
    for i in range(N):
        x, x_dot, th, th_dot = state[0, i], state[1, i], state[2, i], state[3, i]
        co, si = cos_t[i], sin_t[i]
        force = fm if action[i] == 1 else -fm
        temp = (force + pml * (th_dot * th_dot) * si) / mt
        th_acc = (g * si - co * temp) / (ln * (4.0 / 3.0 - mp * (co * co) / mt))
        x_acc = temp - pml * th_acc * co / mt
        if euler:
            x = x + tau * x_dot
            x_dot = x_dot + tau * x_acc
            th = th + tau * th_dot
            th_dot = th_dot + tau * th_acc
        else:
            x_dot = x_dot + tau * x_acc
            x = x + tau * x_dot
            th_dot = th_dot + tau * th_acc
            th = th + tau * th_dot
        state[0, i], state[1, i], state[2, i], state[3, i] = x, x_dot, th, th_dot
        term[i] = (x < -xt) | (x > xt) | (th < -tht) | (th > tht)
        steps[i] += 1
        trunc[i] = steps[i] >= max_steps
    return -1


class CartPoleVectorEnv(_GymCartPoleVectorEnv):
    """gymnasium's ``CartPoleVectorEnv`` with a compiled ``step`` (module docstring)."""

    def physics_constants(self) -> np.ndarray:
        """The physical constants as the kernel reads them (rebuilt when one was changed; kept
        outside the instance, whose attributes are the state a checkpoint saves)."""
        key = (self.gravity, self.masspole, self.total_mass, self.length,
               self.polemass_length, self.force_mag, self.tau, self.x_threshold,
               self.theta_threshold_radians)
        c = _CONSTANTS.get(key)
        if c is None:
            if len(_CONSTANTS) >= 16:
                _CONSTANTS.clear()
            c = _CONSTANTS[key] = np.array(key, dtype=np.float64)
        return c

    @property
    def sutton_barto(self) -> bool:
        """Whether the reward is Sutton and Barto's (-1 on termination, else 0)."""
        return bool(self._sutton_barto_reward)

    def step(self, action):
        a = action if isinstance(action, np.ndarray) else None
        state = self.state
        if (a is None or not compiling.kernels_ready() or a.shape != (self.num_envs,)
                or a.dtype.kind not in "iu"
                or not isinstance(state, np.ndarray) or state.dtype != np.float64
                or state.shape != (4, self.num_envs) or self.steps.dtype != np.int32
                or self.kinematics_integrator not in ("euler", "semi-implicit euler")):
            return super().step(action)
        if not state.flags.c_contiguous or not state.flags.writeable:
            state = self.state = np.array(state, dtype=np.float64, order="C")
        N = self.num_envs
        term, trunc = np.empty(N, np.bool_), np.empty(N, np.bool_)
        bad = step_kernel(state, a, np.cos(state[2]), np.sin(state[2]), self.steps,
                    self.max_episode_steps, self.physics_constants(),
                    self.kinematics_integrator == "euler", term, trunc)
        if bad >= 0:
            raise ValueError(f"action: CartPole actions must be 0 or 1; got {int(a[bad])} at "
                             f"index {bad} of {a.tolist()}")
        if self._sutton_barto_reward:
            reward = -np.array(term, dtype=np.float32)
        else:
            reward = np.ones(N, dtype=np.float32)
        done = self.prev_done
        if done.any():
            k = int(done.sum())
            state[:, done] = self.np_random.uniform(low=self.low, high=self.high, size=(4, k))
            self.steps[done] = 0
            reward[done] = 0.0
            term[done] = False
            trunc[done] = False
        self.prev_done = term | trunc
        return state.T.astype(np.float32), reward, term, trunc, {}
