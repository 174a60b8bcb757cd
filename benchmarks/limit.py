"""How close PPO's compiled update comes to the FLOP limit of this machine's BLAS, per task.

For each task (the rl-baselines3-zoo settings of ``npg.app.presets``), one update's dense
products are counted: per minibatch of R rows and per layer l of each network (sizes n_0..n_L),
the forward h_{l-1} W_l, the weight gradient h_{l-1}^T g_l and, above the first layer, the input
gradient g_l W_l^T, each 2 R n_{l-1} n_l FLOPs. Then

    mflop_per_step   those FLOPs per environment step (n_epochs passes over the rollout, / its
                     n_envs n_steps steps), in MFLOP
    gemm_gflops      the rate of exactly those products on one core: OpenBLAS's cblas_?gemm
                     called from compiled code (``npg.engine.gemm``, as the update calls it) in a
                     loop at the run's shapes and dtype, GFLOP/s
    share_one_core   the update's own FLOP rate (counted FLOPs / wall time of
                     ``npg.engine.ppo.update`` with one thread) as a share of gemm_gflops: the
                     part of the one-core limit the whole update reaches, activations, loss
                     layer, Adam and all
    share_two_cores  the same with two threads (actor and critic halves in parallel) as a
                     share of 2 x gemm_gflops

printed as ``LIMIT <task> mflop_per_step=<m> gemm_gflops=<g> share_one_core=<p>%
share_two_cores=<q>%`` (medians of --rounds interleaved rounds), then the two-thread speed-up.
Run it alone on the machine (``uptime``); OpenBLAS is held at one thread.

    python benchmarks/limit.py [--rounds 5] [--tasks cartpole_ppo_f32 ...]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from numba import njit

from npg.app.agent import Agent
from npg.app.presets import preset
from npg.engine import ppo as engine
from npg.engine.blas import blas_threads
from npg.engine.gemm import blas_table, gemm

TASKS = {"cartpole_ppo": ("CartPole-v1", "float64"), "cartpole_ppo_f32": ("CartPole-v1", "float32"),
         "pendulum_gsde": ("Pendulum-v1", "float64")}


def products(sizes, rows):
    """(m, n, k, trans_a, trans_b) of one minibatch step's products for one network."""
    out = []
    for l in range(1, len(sizes)):
        n_in, n_out = sizes[l - 1], sizes[l]
        out.append((rows, n_out, n_in, False, False))        # h W
        out.append((n_in, n_out, rows, True, False))         # h^T g
        if l > 1:
            out.append((rows, n_in, n_out, False, True))     # g W^T
    return out


@njit(cache=True, nogil=True)
def _gemm_reps(A, B, C, ta, tb, blas, reps):
    for _ in range(reps):
        gemm(A, B, C, ta, tb, blas)


def gemm_gflops(prods, dtype, reps: int = 400) -> float:
    """GFLOP/s of the products ``prods`` run in turn, each ``reps`` times, on one thread."""
    rng, blas = np.random.default_rng(0), blas_table()
    flops = secs = 0.0
    for m, n, k, ta, tb in prods:
        A = rng.random((k, m) if ta else (m, k)).astype(dtype)
        B = rng.random((n, k) if tb else (k, n)).astype(dtype)
        C = np.empty((m, n), dtype)
        _gemm_reps(A, B, C, ta, tb, blas, 2)
        t0 = time.perf_counter()
        _gemm_reps(A, B, C, ta, tb, blas, reps)
        secs += time.perf_counter() - t0
        flops += 2.0 * m * n * k * reps
    return flops / secs / 1e9


def setup(task: str):
    """An agent at the task's preset, a rollout from it, and the update's batch."""
    env, dtype = TASKS[task]
    p = preset(env, "ppo")
    agent = Agent(env, "ppo", {**p["config"], "dtype": dtype}, seed=0,
                  normalize_obs=p["normalize_obs"], scale_reward=p["scale_reward"])
    algo = agent.algo
    agent.learn(algo.config.n_envs * algo.config.n_steps, progress=False)
    value_fn = agent._value_fn()
    rollout = agent.collector.collect(agent._rollout_act_fn(value_fn), value_fn,
                                      algo.config.n_steps)
    return agent, algo._batch(agent.state, rollout)


def update_seconds(agent, batch, threads: int) -> float:
    algo, c = agent.algo, agent.algo.config
    params = {n: agent.state[n] for n in algo.nets}
    t0 = time.perf_counter()
    engine.update(c, algo.spec, params, agent.state["opt"], batch, c.lr, c.clip_range,
                  np.random.default_rng(0), algo._optimizer(c.lr), threads)
    return time.perf_counter() - t0


def measure(task: str, rounds: int) -> dict:
    agent, batch = setup(task)
    c, spec = agent.algo.config, agent.algo.spec
    B = int(batch["adv"].shape[0])
    n_mb = -(-B // c.batch_size)
    rows = -(-B // n_mb)
    out_a = spec.n_actions if spec.discrete else spec.act_dim
    prods = (products((spec.obs_dim, *c.hidden, out_a), rows)
             + products((spec.obs_dim, *c.hidden, 1), rows))
    flops = c.n_epochs * n_mb * sum(2.0 * m * n * k for m, n, k, _, _ in prods)
    dtype = np.dtype(c.dtype)
    res = {"gemm": [], "one": [], "two": []}
    with blas_threads(1):
        update_seconds(agent, batch, 1), update_seconds(agent, batch, 2)    # compile / load
        for _ in range(rounds):
            res["gemm"].append(gemm_gflops(prods, dtype))
            res["one"].append(flops / update_seconds(agent, batch, 1) / 1e9)
            res["two"].append(flops / update_seconds(agent, batch, 2) / 1e9)
    med = {k: statistics.median(v) for k, v in res.items()}
    return dict(mflop=flops / (c.n_envs * c.n_steps) / 1e6, gemm=med["gemm"],
                one=med["one"] / med["gemm"], two=med["two"] / (2 * med["gemm"]),
                speedup=med["two"] / med["one"])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--tasks", nargs="+", default=list(TASKS), choices=list(TASKS))
    a = ap.parse_args(argv)
    for task in a.tasks:
        r = measure(task, a.rounds)
        print(f"LIMIT {task} mflop_per_step={r['mflop']:.3f} gemm_gflops={r['gemm']:.1f} "
              f"share_one_core={100 * r['one']:.0f}% share_two_cores={100 * r['two']:.0f}%",
              flush=True)
        print(f"  {task}: two update threads {r['speedup']:.2f}x one", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
