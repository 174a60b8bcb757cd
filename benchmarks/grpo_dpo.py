"""GRPO and DPO throughput for the MLP sequence policy: updates/s and completions/s.

    OPENBLAS_NUM_THREADS=1 python benchmarks/grpo_dpo.py [--repeats 5] [--clock wall|cpu]

Task: ``TinyArithmetic(base=3)`` (vocabulary 4, max length 3, 9 prompts); policy:
``MLPSequencePolicy`` with hidden (32,) and (64, 64) tanh layers on the (prompt, prefix)
encoding. Figures (median over repeats):

  sample         completions/s of ``policy.sample`` (token-by-token generation, batch G n)
  GRPO update    updates/s of ``GRPO.update`` (sampling, rewards, advantages, mu = 1 and 4
                 inner Adam steps), and completions/s = updates/s * G n
  DPO step       steps/s of ``DPO.update`` on B pairs (2 B completions scored per step)

Every figure depends on the CPU and its load; on the shared 2-core machine use
``OPENBLAS_NUM_THREADS=1`` and ``--clock cpu`` for steadier numbers.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from npg.algos import DPO, GRPO, DPOConfig, GRPOConfig
from npg.envs.sequence_tasks import TinyArithmetic, preference_pairs
from npg.policies import MLPSequencePolicy


def timed(fn, n: int, repeats: int, clock) -> float:
    """Median seconds per call of fn() over ``repeats`` blocks of n calls."""
    fn()
    times = []
    for _ in range(repeats):
        t = clock()
        for _ in range(n):
            fn()
        times.append((clock() - t) / n)
    return statistics.median(times)


def bench(hidden, G, n_prompts, inner, pairs, repeats, clock):
    task = TinyArithmetic(base=3)
    policy = MLPSequencePolicy(task.n_prompts, task.space, hidden=hidden)
    params = policy.init(0)
    rng = np.random.default_rng(0)
    B = G * n_prompts
    x = np.repeat(np.arange(n_prompts) % task.n_prompts, G)
    t_sample = timed(lambda: policy.sample(params, x, rng), 5, repeats, clock)
    algo = GRPO(policy, task, GRPOConfig(group_size=G, n_prompts=n_prompts, inner_iters=inner))
    box = {"state": algo.init(params)}

    def grpo_step():
        box["state"], _ = algo.update(box["state"], rng)
    t_grpo = timed(grpo_step, 3, repeats, clock)
    dpo = DPO(policy, DPOConfig(beta=0.1))
    dstate = {"state": dpo.init(params)}
    data = dpo.prepare(dstate["state"], preference_pairs(task, policy.frozen(params), pairs, 1))

    def dpo_step():
        dstate["state"], _ = dpo.update(dstate["state"], data)
    t_dpo = timed(dpo_step, 3, repeats, clock)
    print(f"hidden {str(hidden):9s} G {G:3d} n {n_prompts:3d} mu {inner} | sample "
          f"{B / t_sample:9.0f} completions/s | GRPO {1 / t_grpo:7.1f} updates/s "
          f"{B / t_grpo:9.0f} completions/s | DPO ({pairs} pairs) {1 / t_dpo:7.1f} steps/s "
          f"{2 * pairs / t_dpo:9.0f} completions/s")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--clock", choices=("wall", "cpu"), default="wall")
    args = p.parse_args(argv)
    clock = time.perf_counter if args.clock == "wall" else time.process_time
    for hidden in ((32,), (64, 64)):
        for G, n, inner in ((8, 8, 1), (8, 8, 4), (16, 32, 1)):
            bench(hidden, G, n, inner, 256, args.repeats, clock)


if __name__ == "__main__":
    main()
