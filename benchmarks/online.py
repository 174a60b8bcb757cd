"""Online actor-critics: env steps per CPU-second of ``Agent.learn`` with one env and one update
per step, on the compiled online loop (``npg.engine.online``) and on the reference loop.

    python benchmarks/online.py [--rounds 3] [--steps 20000] [--ref-steps 600]

Prints, per task, medians over interleaved rounds (engine, reference, engine, ...), each a
fresh agent that first learns 200 steps (compilation, warm caches) and is then timed by
``time.process_time`` (CPU seconds of this process)::

    ONLINE frozenlake_ac <env steps/s>
    ONLINE frozenlake_ac_reference <env steps/s>
    ...
"""

from __future__ import annotations

import argparse
import statistics
import time

import npg

TASKS = {"frozenlake_ac": ("FrozenLake-v1", "ac"), "cartpole_ac": ("CartPole-v1", "ac"),
         "frozenlake_qac": ("FrozenLake-v1", "qac"), "cartpole_ac_lambda": ("CartPole-v1", "ac_lambda")}


def rate(env: str, algo: str, steps: int, engine: bool) -> float:
    agent = npg.Agent(env, algo=algo, seed=0)
    agent.online_engine = engine
    agent.learn(200, progress=False)
    t = time.process_time()
    agent.learn(steps, progress=False)
    return steps / (time.process_time() - t)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--steps", type=int, default=20000)
    p.add_argument("--ref-steps", type=int, default=600)
    args = p.parse_args()
    for task, (env, algo) in TASKS.items():
        fast, ref = [], []
        for _ in range(args.rounds):
            fast.append(rate(env, algo, args.steps, True))
            ref.append(rate(env, algo, args.ref_steps, False))
        print(f"ONLINE {task} {statistics.median(fast):.0f}", flush=True)
        print(f"ONLINE {task}_reference {statistics.median(ref):.0f}", flush=True)


if __name__ == "__main__":
    main()
