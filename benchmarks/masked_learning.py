"""Learning with an action mask: PPO and REINFORCE on ``npg.envs.masked.MaskedLine``.

MaskedLine's legal actions change with the state (``info["action_mask"]``) and the environment
raises on an illegal action, so every run also checks that no masked action was ever taken.
Optimal play uses the state-dependent "jump": 3 steps to the goal from s0 = 0 and 1, 2 from 2.
For each algorithm and seed this prints the greedy masked policy's steps to the goal from each
start (None: not reached within the 12-step horizon), the mean return of the last 20 training
episodes, and the wall time.

Measured (2 shared cores, 8192 steps): PPO [3, 3, 2] for seeds 0, 1, 2; REINFORCE [3, 3, 2]
for seeds 0 and 2, [3, None, 2] for seed 1.

    python benchmarks/masked_learning.py [--steps 8192] [--seeds 3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from npg import Agent
from npg.envs.masked import MaskedLine

CONFIGS = {"ppo": {"n_envs": 4, "n_steps": 32, "batch_size": 64, "n_epochs": 4, "lr": 3e-3},
           "reinforce": {"n_envs": 4, "n_steps": 32, "lr": 1e-2}}


def steps_to_goal(agent, s0: int, horizon: int = 12):
    env = MaskedLine()
    env.reset(seed=0)
    env.s = s0
    o, info = env._out()
    for n in range(1, horizon + 1):
        o, _, term, _, info = env.step(agent.predict(o, action_mask=info["action_mask"]))
        if term:
            return n
    return None


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=8192)
    p.add_argument("--seeds", type=int, default=3)
    args = p.parse_args(argv)
    for algo, cfg in CONFIGS.items():
        for seed in range(args.seeds):
            t = time.perf_counter()
            agent = Agent(lambda: MaskedLine(), algo=algo, config=cfg, seed=seed)
            agent.learn(args.steps, progress=False)
            paths = [steps_to_goal(agent, s0) for s0 in range(3)]
            print(f"{algo:10s} seed {seed}: steps to goal from s0 = 0, 1, 2: {paths}; last-20 "
                  f"mean return {np.mean(agent.episode_returns[-20:]):.2f}; "
                  f"{time.perf_counter() - t:.1f} s")


if __name__ == "__main__":
    main()
