"""Training throughput of CartPole-v1 PPO at the tuned settings against the environment alone.

Prints env steps per second of
  env only      the same vector env (CartPole's own CartPoleVectorEnv, 8 copies) stepped with
                pre-drawn random actions: the ceiling for any learner on this env;
  collect only  npg.rollout.Collector with the initial PPO policy and critic, no updates;
  training      Agent.learn (collect -> 20 epochs of one 256-sample minibatch per rollout),
                in float64 (the default) and float32, with one BLAS thread (npg.blas, the
                default) and, with --blas-default, with OpenBLAS's own thread pool;
and the ratio training / env only. Training and collection use PPO's fast path (acting in one
compiled call per step, ``npg.algos.ppo_fast``; the whole update in one compiled call,
``npg.algos.ppo_compiled``, with the actor's and the critic's halves of each minibatch step on
two threads, ``PPO.fast_threads = 2``, the default). ``--one-thread`` also measures
``fast_threads = 1``; ``--reference`` the reference path (``PPO.fast_path = False``:
``loss_and_grad`` per minibatch, the checked acting path). Each figure is the best of
--repeats runs after a warm-up (the first call compiles or loads Numba's cache). Not part of
the test suite.

    python benchmarks/throughput.py [--steps 20480] [--repeats 3] [--blas-default] [--reference]
                                    [--one-thread]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from npg.agent import Agent
from npg.blas import blas_threads
from npg.envs import make_vec_env

TUNED = dict(n_envs=8, n_steps=32, batch_size=256, n_epochs=20, gamma=0.98, gae_lambda=0.8,
             lr=1e-3, clip_range=0.2, ent_coef=0.0)


def env_only(steps: int) -> float:
    envs = make_vec_env("CartPole-v1", 8, mode="vector_entry_point", seed=0)
    acts = np.random.default_rng(0).integers(0, 2, size=(steps // 8, 8))
    t0 = time.perf_counter()
    for a in acts:
        envs.step(a)
    dt = time.perf_counter() - t0
    envs.close()
    return acts.size / dt


def collect_only(steps: int, dtype: str, fast: bool = True) -> float:
    agent = Agent("CartPole-v1", "ppo", dict(TUNED, dtype=dtype), seed=0)
    agent.algo.fast_path = fast
    value_fn = agent._value_fn()
    act_fn = agent._rollout_act_fn(value_fn)         # what Agent.learn collects with
    with blas_threads(1):
        agent.collector.collect(act_fn, value_fn, 32)
        t0 = time.perf_counter()
        for _ in range(steps // 256):
            agent.collector.collect(act_fn, value_fn, 32)
        dt = time.perf_counter() - t0
    return (steps // 256) * 256 / dt


def training(steps: int, dtype: str, threads, fast: bool = True, fast_threads: int = 2) -> float:
    agent = Agent("CartPole-v1", "ppo", dict(TUNED, dtype=dtype), seed=0)
    agent.algo.fast_path = fast
    agent.algo.fast_threads = fast_threads
    agent.learn(512, progress=False, blas_threads=threads)        # warm-up (Numba compile)
    t0 = time.perf_counter()
    agent.learn(steps, progress=False, blas_threads=threads)
    return steps / (time.perf_counter() - t0)


def best(fn, repeats: int, *args) -> float:
    return max(fn(*args) for _ in range(repeats))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    p.add_argument("--steps", type=int, default=20_480, help="env steps per measurement")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--blas-default", action="store_true",
                   help="also measure with OpenBLAS's default thread pool")
    p.add_argument("--one-thread", action="store_true",
                   help="also measure PPO.fast_threads = 1 (actor and critic on one thread)")
    p.add_argument("--reference", action="store_true",
                   help="also measure the reference (checked, unfused) path")
    a = p.parse_args(argv)
    env = best(env_only, a.repeats, a.steps)
    print(f"CartPole-v1 x8 (CartPoleVectorEnv), {a.steps:,} steps per measurement, best of "
          f"{a.repeats}")
    print(f"{'env only (random actions)':40s} {env:10,.0f} steps/s")
    rows = [("collect only, float64", best(collect_only, a.repeats, a.steps, "float64")),
            ("collect only, float32", best(collect_only, a.repeats, a.steps, "float32"))]
    for dtype in ("float64", "float32"):
        rows.append((f"PPO training, {dtype}, 1 BLAS thread",
                     best(training, a.repeats, a.steps, dtype, 1)))
        if a.one_thread:
            rows.append((f"PPO training, {dtype}, fast_threads=1",
                         best(training, a.repeats, a.steps, dtype, 1, True, 1)))
        if a.blas_default:
            rows.append((f"PPO training, {dtype}, default BLAS threads",
                         best(training, a.repeats, a.steps, dtype, None)))
    if a.reference:
        for dtype in ("float64", "float32"):
            rows.append((f"reference path: collect, {dtype}",
                         best(collect_only, a.repeats, a.steps, dtype, False)))
            rows.append((f"reference path: training, {dtype}",
                         best(training, a.repeats, a.steps, dtype, 1, False)))
    for name, rate in rows:
        print(f"{name:40s} {rate:10,.0f} steps/s   {rate / env:6.1%} of env only")


if __name__ == "__main__":
    main()
