"""Online actor-critics: env steps per CPU-second of ``Agent.learn`` with one env and one update
per step, on the compiled online loop (``npg.engine.online``) and on the reference loop.

    python benchmarks/online.py [--rounds 3] [--steps 20000] [--ref-steps 600] [--only TASK]

Prints, per task, medians over interleaved rounds (engine, reference, engine, ...), each a
fresh agent that first learns 200 steps (compilation, warm caches) and is then timed by
``time.process_time`` (CPU seconds of this process)::

    ONLINE frozenlake_ac <env steps/s>
    ONLINE frozenlake_ac_reference <env steps/s>
    ...

``--sensitivity`` instead measures how far the training dynamics carry a rounding difference:
two engine runs, the second with one critic weight moved by one ulp, and after k steps

    SENSITIVITY <task> steps=<k> rel=<max over arrays of max |a - b| / max |b|> same_episodes=<bool>

(the floor for any fast path whose arithmetic is not the reference's bit for bit).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import npg
from npg.algos.base import state_to_flat

TASKS = {"frozenlake_ac": ("FrozenLake-v1", "ac"), "cartpole_ac": ("CartPole-v1", "ac"),
         "frozenlake_qac": ("FrozenLake-v1", "qac"),
         "frozenlake_qac_pair": ("FrozenLake-v1", "qac", {"q_input": "pair"}),
         "cartpole_ac_lambda": ("CartPole-v1", "ac_lambda")}


def rate(env: str, algo: str, steps: int, engine: bool, config=None) -> float:
    agent = npg.Agent(env, algo=algo, seed=0, config=config)
    agent.online_engine = engine
    agent.learn(200, progress=False)
    t = time.process_time()
    agent.learn(steps, progress=False)
    return steps / (time.process_time() - t)


def sensitivity(task: str, env: str, algo: str, config=None,
                horizons=(200, 1000, 2000, 4000)) -> None:
    runs = [npg.Agent(env, algo=algo, seed=0, config=config) for _ in range(2)]
    W = runs[1].state["critic"]["W2"]
    W[0, 0] = np.nextafter(W[0, 0], np.inf)
    done = 0
    for k in horizons:
        for a in runs:
            a.learn(k - done, progress=False)
        done = k
        fa, fb = (state_to_flat(a.state) for a in runs)
        rel = max(float(np.max(np.abs(np.asarray(fa[n], float) - np.asarray(fb[n], float)))
                        / (np.max(np.abs(np.asarray(fb[n], float))) or 1.0))
                  for n in fa if np.asarray(fa[n]).size)
        same = runs[0].episode_returns == runs[1].episode_returns
        print(f"SENSITIVITY {task} steps={k} rel={rel:.2e} same_episodes={same}", flush=True)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--steps", type=int, default=20000)
    p.add_argument("--ref-steps", type=int, default=600)
    p.add_argument("--sensitivity", action="store_true")
    p.add_argument("--only", default=None, help="substring of the task names to run")
    args = p.parse_args(argv)
    tasks = {k: v for k, v in TASKS.items() if args.only is None or args.only in k}
    if args.sensitivity:
        for task, spec in tasks.items():
            sensitivity(task, *spec)
        return
    for task, spec in tasks.items():
        fast, ref = [], []
        for _ in range(args.rounds):
            fast.append(rate(*spec[:2], args.steps, True, *spec[2:]))
            ref.append(rate(*spec[:2], args.ref_steps, False, *spec[2:]))
        print(f"ONLINE {task} {statistics.median(fast):.0f}", flush=True)
        print(f"ONLINE {task}_reference {statistics.median(ref):.0f}", flush=True)


if __name__ == "__main__":
    main()
