"""Learning benchmark for issue 15's updaters, several seeds each, with the target stated:

* ac_lambda on FrozenLake-v1 (slippery): target greedy success rate >= 0.5 (optimal ~0.74);
* ac_lambda on CartPole-v1: target mean of the last 20 training episodes >= 195;
* vtrace (lagged behaviour, lag 4) on CartPole-v1: same target.

Prints one line per run and a summary per task (how many seeds met the target).

    python benchmarks/traces_learning.py [--seeds 0 1 2 3 4] [--only cartpole] [--scale 1]
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np

from npg.app.agent import Agent

TASKS = {
    "frozenlake ac_lambda": ("FrozenLake-v1", "ac_lambda",
                             {"policy": "linear", "lam": 0.9, "critic_lam": 0.9, "lr": 0.5,
                              "critic_lr": 0.5, "gamma": 0.99}, 60_000, "eval", 0.5),
    "cartpole ac_lambda": ("CartPole-v1", "ac_lambda",
                           {"hidden": (32,), "lam": 0.8, "critic_lam": 0.8, "lr": 5e-4,
                            "critic_lr": 5e-3, "gamma": 0.99, "discount_actor": False},
                           100_000, "train", 195.0),
    "cartpole vtrace lag 4": ("CartPole-v1", "vtrace",
                              {"behaviour_lag": 4, "lr": 1e-3, "critic_lr": 1e-3,
                               "n_envs": 8, "n_steps": 32}, 200_000, "train", 195.0),
}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    p.add_argument("--only", default=None)
    p.add_argument("--scale", type=float, default=1.0, help="multiply every budget")
    args = p.parse_args(argv)
    warnings.simplefilter("ignore")
    for name, (env, algo, cfg, steps, metric, target) in TASKS.items():
        if args.only and args.only not in name:
            continue
        steps = int(steps * args.scale)
        got = []
        for seed in args.seeds:
            agent = Agent(env, algo, cfg, seed=seed)
            agent.learn(steps, progress=False)
            value = (float(np.mean(agent.evaluate(100))) if metric == "eval"
                     else agent.mean_return(20))
            got.append(value)
            print(f"{name:24s} seed {seed}: {metric} {value:8.3f} after {steps:,} steps",
                  flush=True)
        met = sum(v >= target for v in got)
        print(f"{name:24s} target {metric} >= {target}: met by {met}/{len(got)} seeds "
              f"(median {np.median(got):.3f})", flush=True)


if __name__ == "__main__":
    main()
