"""Rollout throughput on CartPole-v1 with 8 environments, in each vectorisation mode.

Prints env steps per second of
  env only     ``envs.step`` with pre-drawn random actions (the ceiling),
  collector    ``Collector.collect`` with a trivial act_fn (pre-drawn random actions) and no
               value function: the collector's own per-step overhead on top of the env,
  + linear pi  with a linear softmax policy sampled in NumPy and a linear value function
               (obs [8, 4] @ W [4, 2]; inverse-CDF sampling): a realistic small act_fn,
and the collector's overhead in microseconds per vector step (difference of two noisy figures on
a shared machine), then the collector's own cost measured directly on a null environment.

    python benchmarks/rollout.py [--steps 20000] [--num-envs 8] [--repeats 3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from gymnasium import spaces
from gymnasium.vector import VectorEnv

from npg.envs import make_vec_env
from npg.envs.rollout import Collector


class NullVectorEnv(VectorEnv):
    """CartPole's spaces, no physics: step returns preallocated arrays (collector cost only)."""

    def __init__(self, num_envs: int):
        self.num_envs, self.metadata = num_envs, {}
        self.single_observation_space = spaces.Box(-1.0, 1.0, (4,), np.float32)
        self.single_action_space = spaces.Discrete(2)
        self._obs, self._rew = np.zeros((num_envs, 4), np.float32), np.ones(num_envs, np.float32)
        self._flag = np.zeros(num_envs, bool)

    def reset(self, *, seed=None, options=None):
        return self._obs, {}

    def step(self, actions):
        return self._obs, self._rew, self._flag, self._flag, {}


def env_only(envs, actions) -> float:
    step = envs.step
    for a in actions[:50]:                               # warm-up
        step(a)
    t0 = time.perf_counter()
    for a in actions:
        step(a)
    return time.perf_counter() - t0


def collector_time(envs, act_fn, value_fn, n_steps: int, chunk: int = 256) -> float:
    c = Collector(envs)
    c.collect(act_fn, value_fn, 8)                       # warm-up: reset, first allocations
    t0 = time.perf_counter()
    for _ in range(n_steps // chunk):
        c.collect(act_fn, value_fn, chunk)
    return time.perf_counter() - t0


def linear_policy(rng, n_envs):
    W, w = rng.standard_normal((4, 2)) * 0.1, rng.standard_normal(4) * 0.1
    rows = np.arange(n_envs)

    def act(obs):
        z = obs @ W
        z = z - z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        a = (rng.random((n_envs, 1)) > np.cumsum(p, axis=1)).sum(axis=1)
        return a, a, np.log(p[rows, a])

    return act, (lambda obs: obs @ w)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=20000, help="vector steps per measurement")
    ap.add_argument("--num-envs", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=3, help="report the best of this many")
    args = ap.parse_args()
    N = args.num_envs
    print(f"CartPole-v1, {N} envs, {args.steps} vector steps per figure (async: a quarter), "
          f"best of {args.repeats}")
    print(f"{'mode':>20} {'env only':>12} {'collector':>12} {'+ linear pi':>12} "
          f"{'overhead us/step':>17}")
    for mode in ("sync", "async", "vector_entry_point"):
        steps = args.steps // 4 if mode == "async" else args.steps
        rng = np.random.default_rng(0)
        actions = rng.integers(0, 2, (steps, N))
        envs = make_vec_env("CartPole-v1", N, mode=mode, seed=0)
        zeros = np.zeros(N)
        act, value = linear_policy(rng, N)
        t_env = t_col = t_lin = np.inf
        for _ in range(args.repeats):                    # best of: the machine is shared
            t_env = min(t_env, env_only(envs, actions))
            it = iter(np.tile(actions, (2, 1)))

            def trivial(obs):
                a = next(it)
                return a, a, zeros
            t_col = min(t_col, collector_time(envs, trivial, None, steps))
            t_lin = min(t_lin, collector_time(envs, act, value, steps))
        envs.close()
        done = steps // 256 * 256
        rate = lambda t, n: n * N / t  # noqa: E731
        overhead = (t_col / done - t_env / steps) * 1e6
        print(f"{mode:>20} {rate(t_env, steps):>12,.0f} {rate(t_col, done):>12,.0f} "
              f"{rate(t_lin, done):>12,.0f} {overhead:>17.1f}")

    a, zeros = np.zeros(N, np.int64), np.zeros(N)
    t_null = min(collector_time(NullVectorEnv(N), lambda o: (a, a, zeros), None, args.steps)
                 for _ in range(args.repeats))
    print(f"collector alone (null env, trivial act_fn): "
          f"{t_null / (args.steps // 256 * 256) * 1e6:.2f} us per vector step")


if __name__ == "__main__":
    main()
