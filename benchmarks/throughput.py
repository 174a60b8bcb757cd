"""Training throughput of CartPole-v1 PPO at the tuned settings against the environment alone.

Prints env steps per second of
  env only      the same vector env (CartPole's own CartPoleVectorEnv, 8 copies) stepped with
                pre-drawn random actions: the ceiling for any learner on this env;
  collect only  npg.envs.rollout.Collector with the initial PPO policy and critic, no updates;
  training      Agent.learn (collect -> 20 epochs of one 256-sample minibatch per rollout),
                in float64 (the default) and float32, with one BLAS thread (npg.engine.blas, the
                default) and, with --blas-default, with OpenBLAS's own thread pool;
and the ratio training / env only. Training and collection use PPO's fast path (acting in one
compiled call per step, ``npg.engine.acting``; the whole update in one compiled call,
``npg.engine.ppo``, with the actor's and the critic's halves of each minibatch step on two
threads for minibatches of 128 rows or more, ``PPO.fast_threads = None``, the default).
``--one-thread`` also measures ``fast_threads = 1``; ``--reference`` the reference path (``PPO.fast_path = False``:
``loss_and_grad`` per minibatch, the checked acting path). Each figure is the best of
--repeats runs after a warm-up (the first call compiles or loads Numba's cache). Not part of
the test suite.

``--breakdown`` splits one float32 cycle (collect 256 env steps, then one update) into its parts,
each the best of many timed calls in this run: the environment alone, acting (32 calls of the
collector's act_fn), the rest of collection, the compiled minibatch steps
(``npg.engine.ppo.update``), the rest of the update (GAE, batch assembly, packing), and, as a
floor for the minibatch steps, the BLAS products they contain timed alone with ``np.matmul``.

    python benchmarks/throughput.py [--steps 20480] [--repeats 3] [--blas-default] [--reference]
                                    [--one-thread] [--breakdown] [--online] [--limit] [--cold]

The issue-13 lines come from the scripts beside this one, run in this process: ``--online``
prints ``ONLINE <task> <env steps/s>`` (``online.py``: frozenlake_ac, cartpole_ac,
frozenlake_qac, per CPU-second, engine and reference), ``--limit`` prints ``LIMIT <task>
mflop_per_step=... gemm_gflops=... share_one_core=...% share_two_cores=...%`` (``limit.py``)
and ``--cold`` prints ``COLD cold=<s> warm=<s> ratio=<x>`` for ``npg train CartPole-v1`` with a
fresh ``NUMBA_CACHE_DIR`` (``cold.py``).
"""

from __future__ import annotations

import argparse
import time
import timeit

import numpy as np

from npg.app.agent import Agent
from npg.engine import ppo as engine
from npg.engine.blas import blas_threads
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


def training(steps: int, dtype: str, threads, fast: bool = True, fast_threads=None) -> float:
    agent = Agent("CartPole-v1", "ppo", dict(TUNED, dtype=dtype), seed=0)
    agent.algo.fast_path = fast
    agent.algo.fast_threads = fast_threads
    agent.learn(512, progress=False, blas_threads=threads)        # warm-up (Numba compile)
    t0 = time.perf_counter()
    agent.learn(steps, progress=False, blas_threads=threads)
    return steps / (time.perf_counter() - t0)


def best(fn, repeats: int, *args) -> float:
    return max(fn(*args) for _ in range(repeats))


def _ms(fn, number: int) -> float:
    """Best of 7 timings of ``number`` calls of fn, in ms per call."""
    return min(timeit.repeat(fn, number=number, repeat=7)) / number * 1e3


def _ms_interleaved(fns: dict, number: int, rounds: int = 9) -> dict:
    """Like ``_ms`` for several functions timed in turn, round after round, so that a spell
    of load on the machine hits them alike; the best round of each."""
    out = {k: float("inf") for k in fns}
    for _ in range(rounds):
        for k, fn in fns.items():
            out[k] = min(out[k], timeit.timeit(fn, number=number) / number * 1e3)
    return out


def _gemm_floor_ms(state, nets, batch: int, dtype) -> float:
    """The dense products of one minibatch step, alone: per layer l of each network
    h_{l-1} W_l (forward), h_{l-1}^T g_l (dL/dW_l) and, above the first layer, g_l W_l^T."""
    rng, calls = np.random.default_rng(0), []
    for net in nets:
        L = sum(1 for k in state[net] if k.startswith("W"))
        for l in range(1, L + 1):
            n_in, n_out = state[net][f"W{l}"].shape
            h, W = rng.random((batch, n_in), dtype), rng.random((n_in, n_out), dtype)
            g = rng.random((batch, n_out), dtype)
            calls += [lambda h=h, W=W: h @ W, lambda h=h, g=g: h.T @ g]
            if l > 1:
                calls.append(lambda g=g, W=W: g @ W.T)
    return sum(_ms(f, 500) for f in calls)


def breakdown(n_epochs: int = 20) -> list[tuple[str, float]]:
    """ms per cycle of 256 env steps (float32, one BLAS thread, two update threads)."""
    agent = Agent("CartPole-v1", "ppo", dict(TUNED, dtype="float32"), seed=0)
    agent.learn(2048, progress=False)                        # warm-up, a partly trained policy
    algo, state, col = agent.algo, agent.state, agent.collector
    value_fn = agent._value_fn()
    act_fn = agent._rollout_act_fn(value_fn)
    with blas_threads(1):
        rollout = col.collect(act_fn, value_fn, 32)
        obs = np.ascontiguousarray(rollout.obs[0])
        batch = algo._batch(state, rollout)

        def steps():
            engine.update(algo.config, algo.spec, {n: state[n] for n in algo.nets},
                          state["opt"], batch, 1e-3, 0.2, np.random.default_rng(0),
                          algo._optimizer(1e-3))

        envs, a0 = col.envs, np.zeros(8, np.int64)
        t = _ms_interleaved({"env": lambda: envs.step(a0), "act": lambda: act_fn(obs)}, 500)
        t.update(_ms_interleaved({"collect": lambda: col.collect(act_fn, value_fn, 32),
                                  "steps": steps,
                                  "update": lambda: algo.update(state, rollout, 0.5, 0)}, 5))
        floor = n_epochs * _gemm_floor_ms(state, algo.nets, 256, np.float32)
    env, act, collect, step_ms, update = (t[k] for k in ("env", "act", "collect", "steps",
                                                         "update"))
    env, act = 32 * env, 32 * act
    return [("environment (action 0, every copy)", env), ("acting (32 act_fn calls)", act),
            ("rest of collection", collect - env - act), ("compiled minibatch steps", step_ms),
            ("rest of the update", update - step_ms),
            ("  of the steps: BLAS products alone, 1 thread", floor),
            ("  the same split ideally over 2 threads", floor / 2)]


def print_breakdown() -> None:
    parts = breakdown()
    total = sum(ms for name, ms in parts if not name.startswith(" "))
    print("\none float32 cycle (256 env steps + one update of 20 minibatch steps), ms:")
    for name, ms in parts:
        print(f"{name:46s} {ms:7.2f}" + ("" if name.startswith(" ") else f"  {ms / total:6.1%}"))
    print(f"{'sum':46s} {total:7.2f}   -> {256 / total * 1e3:,.0f} env steps/s")


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
    p.add_argument("--breakdown", action="store_true",
                   help="also split one float32 cycle into its parts (ms)")
    p.add_argument("--online", action="store_true", help="ONLINE lines (online.py)")
    p.add_argument("--limit", action="store_true", help="LIMIT lines (limit.py)")
    p.add_argument("--cold", action="store_true", help="the COLD line (cold.py)")
    a = p.parse_args(argv)
    if a.online or a.limit or a.cold:
        import cold, limit, online            # the scripts beside this one
        for flag, script in ((a.online, online), (a.limit, limit), (a.cold, cold)):
            if flag:
                script.main([])
        return
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
    if a.breakdown:
        print_breakdown()


if __name__ == "__main__":
    main()
