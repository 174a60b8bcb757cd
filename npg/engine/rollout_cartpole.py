"""A whole PPO rollout on CartPole in one compiled call: acting and the environment fused.

``Collector.collect`` steps the environment and calls the policy once per vector step from
Python: at the zoo settings (8 copies, 32 steps) the Python between the kernels costs more than
the kernels. Where everything of a step is known compiled code, this module runs all T steps in
one Numba loop instead:

* the policy: a categorical MLP actor and MLP critic on NumPy (``npg.engine.acting``'s
  ``kernels.act_value_small``: logits, log pi(a), V and the Gumbel-max draw, the same kernel
  the per-step path calls);
* the environment: npg's ``CartPoleVectorEnv`` (``npg.envs.cartpole_vector``), its
  ``step_kernel``, NEXT_STEP autoreset, no observation normaliser, no reward scaler, no action mask.

The random draws are the per-step path's, in the same order: the Gumbel noise of all T steps
is drawn first, ``rng.gumbel(size=(T, N, A))`` (T draws of ``size=(N, A)`` read the same
stream in the same order), and the reset draws come from a pool ``np_random.uniform(low, high,
size=4 N T)`` of the environment's generator, read in the order the parent class's ``uniform(
size=(4, k))`` would fill its array; afterwards the generator is set back and advanced by
exactly the numbers used. So rollouts, episodes, environment state and both generators equal
the per-step loop's bit for bit (tested), for every dtype.

cos and sin: the environment takes NumPy's, the kernel Numba's (libm's). ``trig_agrees``
compares them once per process on 20,001 angles in [-0.5, 0.5] rad (CartPole's angles stay
within +-0.42); where any differs the fused path is not used.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from numba import njit

from ..envs.cartpole_vector import CartPoleVectorEnv, step_kernel
from . import kernels as K

__all__ = ["Plan", "supports", "trig_agrees", "run"]


class Plan:
    """What the fused rollout needs of the policy: the actor's and the critic's weight tuples
    (``acting.weights``), the kernels' activation code and the acting Generator."""

    def __init__(self, actor_w, critic_w, code: int, rng: np.random.Generator, dtype):
        self.actor_w, self.critic_w, self.code, self.rng = actor_w, critic_w, code, rng
        self.dtype = np.dtype(dtype)

    def supports(self, envs) -> bool:
        """``supports(envs, A)`` for this actor's A actions."""
        return supports(envs, int(self.actor_w[0][-1].shape[1]))

    def run(self, envs, obs, act, logp, rew, term, trunc, value) -> None:
        """``run(self, envs, ...)``: the rollout into the collector's buffers."""
        run(self, envs, obs, act, logp, rew, term, trunc, value)


@functools.lru_cache(maxsize=1)
def trig_agrees() -> bool:
    """Whether Numba's math.cos / math.sin equal np.cos / np.sin on CartPole's angle range."""
    x = np.linspace(-0.5, 0.5, 20_001)
    c, s = _trig(x)
    return bool(np.array_equal(c, np.cos(x)) and np.array_equal(s, np.sin(x)))


@njit(cache=True, nogil=True)
def _trig(x):
    c, s = np.empty_like(x), np.empty_like(x)
    for i in range(x.shape[0]):
        c[i], s[i] = math.cos(x[i]), math.sin(x[i])
    return c, s


def supports(envs, n_actions: int) -> bool:
    """Whether ``run`` can step ``envs``: npg's CartPoleVectorEnv in its plain state (float64
    state [4, N], int32 counters, scalar reset bounds), Euler or semi-implicit Euler."""
    e = envs
    return (type(e) is CartPoleVectorEnv and n_actions == 2 and isinstance(e.state, np.ndarray)
            and e.state.dtype == np.float64 and e.state.shape == (4, e.num_envs)
            and e.state.flags.c_contiguous and e.state.flags.writeable
            and e.steps.dtype == np.int32 and e.prev_done.dtype == np.bool_
            and np.ndim(e.low) == 0 and np.ndim(e.high) == 0
            and e.kinematics_integrator in ("euler", "semi-implicit euler") and trig_agrees())


@njit(cache=True, nogil=True, error_model="numpy")
def _rollout(obs, act, logp, rew, term, trunc, value, gumbel, Wa, ba, Wc, bc, code, state,
             steps, prev_done, max_steps, consts, euler, sutton_barto, pool):
    """T steps (module docstring); obs [T + 1, N, D] with obs[0] set. Returns (the number of
    pool values used, -1), or (used, t) when obs[t] is not finite (nothing after it written)."""
    T, N = act.shape
    used = 0
    cos_t, sin_t = np.empty(N), np.empty(N)
    for t in range(T):
        if not K.act_value_small(obs[t], Wa, ba, Wc, bc, code, gumbel[t], act[t], logp[t],
                                 value[t]):
            return used, t
        for i in range(N):                  # libm's, equal to NumPy's (trig_agrees)
            cos_t[i] = math.cos(state[2, i])
            sin_t[i] = math.sin(state[2, i])
        step_kernel(state, act[t], cos_t, sin_t, steps, max_steps, consts, euler, term[t],
                    trunc[t])
        k = 0
        for i in range(N):
            k += prev_done[i]
        j = 0
        for i in range(N):                  # resets: column j of the parent's (4, k) draw
            if prev_done[i]:
                for r in range(4):
                    state[r, i] = pool[used + r * k + j]
                steps[i] = 0
                term[t, i] = False
                trunc[t, i] = False
                j += 1
        used += 4 * k
        for i in range(N):
            if prev_done[i]:
                rew[t, i] = 0.0
            elif sutton_barto:                 # -float32(terminated): -1 or -0
                rew[t, i] = -1.0 if term[t, i] else -0.0
            else:
                rew[t, i] = 1.0
            prev_done[i] = term[t, i] or trunc[t, i]
            for r in range(4):
                obs[t + 1, i, r] = np.float32(state[r, i])
    v_last = K.mlp_small(obs[T], Wc, bc, code)
    for i in range(N):
        value[T, i] = v_last[i, 0]
    return used, -1


def run(plan: Plan, envs, obs, act, logp, rew, term, trunc, value) -> None:
    """Fill the rollout buffers of ``Collector.collect`` (obs [T + 1, N, D] with obs[0] set,
    act, logp, rew (float64), term, trunc [T, N], value [T + 1, N]) and advance ``envs`` and
    ``plan.rng`` as T per-step calls would. ValueError when an observation is not finite."""
    T, N = act.shape
    Wa, ba = plan.actor_w
    Wc, bc = plan.critic_w
    gumbel = np.asarray(plan.rng.gumbel(size=(T, N, Wa[-1].shape[1])), dtype=plan.dtype)
    gen = envs.np_random
    saved = gen.bit_generator.state
    pool = gen.uniform(low=envs.low, high=envs.high, size=4 * N * T)
    used, bad = _rollout(obs, act, logp, rew, term, trunc, value, gumbel, Wa, ba, Wc, bc,
                          plan.code, envs.state, envs.steps, envs.prev_done,
                          envs.max_episode_steps, envs.physics_constants(),
                          envs.kinematics_integrator == "euler", envs.sutton_barto,
                          pool)
    gen.bit_generator.state = saved
    if used:
        gen.uniform(low=envs.low, high=envs.high, size=used)
    if bad >= 0:
        raise ValueError(f"obs must be finite (no NaN or inf); got a non-finite observation at "
                         f"rollout step {bad}")
