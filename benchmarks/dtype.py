"""The training dtype: a PPO preset (CartPole-v1's unless --env) in float32 and float64, 10 seeds.

Each seed trains ``npg.app.presets``' PPO preset of the task (CartPole-v1's is what ``npg train
CartPole-v1`` runs: 50,000 env steps) once per dtype, the two runs of a seed back to back (the order
alternating from seed to seed, so that a drift in the machine's load hits both alike), and
stops when the mean return of the last 20 training episodes first reaches the preset's
``threshold`` (success; CartPole-v1's 475, as ``benchmarks/learning.py`` defines it for
``cartpole_ppo``). The kernels of both dtypes are
compiled and loaded before the first timed run (warm cache). Time to goal: wall seconds
(``time.perf_counter``) and CPU seconds of this process (``time.process_time``: both of the
engine's threads) from the start of ``learn`` to the update that reached the goal; medians
over the seeds that succeeded.

    python benchmarks/dtype.py [--seeds 10] [--first-seed 0] [--env CartPole-v1]

prints one line per run, then per dtype

    DTYPE <dtype> success=<k>/<n> median_time_to_goal_s=<t> median_cpu_s=<c>
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

from npg.app.agent import Agent
from npg.app.presets import preset

DTYPES = ("float32", "float64")
WINDOW = 20


def run(env: str, dtype: str, seed: int, steps: int | None = None) -> dict:
    """One seed of ``env``'s preset in ``dtype``, stopped at the goal: env steps, wall and CPU
    seconds to it (None if the budget ran out first)."""
    p = preset(env, "ppo")
    agent = Agent(env, "ppo", {**p["config"], "dtype": dtype}, seed=seed,
                  normalize_obs=p["normalize_obs"], scale_reward=p["scale_reward"])
    hit = {"steps": None, "wall": None, "cpu": None}
    t0, c0 = time.perf_counter(), time.process_time()

    def callback(ag, info):
        if len(ag.episode_returns) >= WINDOW and ag.mean_return(WINDOW) >= p["threshold"]:
            hit.update(steps=ag.env_steps, wall=time.perf_counter() - t0,
                       cpu=time.process_time() - c0)
            return False
        return True
    try:
        agent.learn(p["steps"] if steps is None else steps, progress=False, callback=callback)
    finally:
        agent.close()
    hit["ran_s"] = time.perf_counter() - t0
    return hit


def main(argv=None) -> int:
    a = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    a.add_argument("--seeds", type=int, default=10)
    a.add_argument("--first-seed", type=int, default=0)
    a.add_argument("--env", default="CartPole-v1", help="a task with a PPO preset")
    args = a.parse_args(argv)
    print(f"load: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    for dt in DTYPES:                         # compile / load both dtypes' kernels first
        run(args.env, dt, 10_000, steps=1_024)
    rows = {dt: [] for dt in DTYPES}
    for i, seed in enumerate(range(args.first_seed, args.first_seed + args.seeds)):
        for dt in (DTYPES if i % 2 == 0 else DTYPES[::-1]):
            h = run(args.env, dt, seed)
            rows[dt].append(h)
            at = ("not reached" if h["steps"] is None else
                  f"goal at {h['steps']:,} steps, {h['wall']:.1f} s wall, {h['cpu']:.1f} CPU s")
            print(f"seed {seed} {dt}: {at}  (ran {h['ran_s']:.1f} s)", flush=True)
    print(f"load: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for dt in DTYPES:
        ok = [h for h in rows[dt] if h["steps"] is not None]
        t = statistics.median(h["wall"] for h in ok) if ok else float("nan")
        c = statistics.median(h["cpu"] for h in ok) if ok else float("nan")
        s = statistics.median(h["steps"] for h in ok) if ok else float("nan")
        print(f"DTYPE {dt} success={len(ok)}/{len(rows[dt])} median_time_to_goal_s={t:.2f} "
              f"median_cpu_s={c:.2f}  (median env steps to goal {s:,.0f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
