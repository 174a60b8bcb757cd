"""Learning benchmark for issue 15's online updaters, several seeds each, with the target stated:

* ac_lambda on FrozenLake-v1 (slippery): target greedy success rate >= 0.5 (optimal ~0.74);
* ac_lambda on CartPole-v1: target mean of the last 20 training episodes >= 195;
* vtrace (lagged behaviour, lag 4) on CartPole-v1: same target;
* ac and qac with their defaults on CartPole-v1 (greedy evaluation >= 195) and FrozenLake-v1
  (greedy success rate >= 0.5).

Prints one line per run (with the loop that ran it: the compiled online engine where
``npg.engine.online.applies`` returns None, else the reason for the reference loop) and a
summary per task (how many seeds met the target). On FrozenLake each line also gives the
exact success rate within the 100-step limit of the learned greedy policy and of the learned
stochastic policy, and the policy's mean entropy over the non-terminal states
(``npg.mdp.frozen_lake``, ``finite_horizon_objective``): the 100-episode evaluation is
within about +-0.05 of the first. The optimum within 100 steps is 0.744.

    python benchmarks/traces_learning.py [--seeds 0 1 2 3 4] [--only cartpole] [--scale 1]
        [--set lr=1e-3 --set hidden=32,]     (override the task's config; Python literals)
"""

from __future__ import annotations

import argparse
import ast
import time
import warnings

import numpy as np

from npg.app.agent import Agent
from npg.engine.online import applies

FL, CP = "FrozenLake-v1", "CartPole-v1"
# name: (env, algo, config, env steps, metric, target)
TASKS = {
    "frozenlake ac_lambda": (FL, "ac_lambda", {"lr": 0.02, "critic_lr": 0.02},
                             60_000, "eval", 0.5),
    "cartpole ac_lambda": (CP, "ac_lambda",
                           {"hidden": (32,), "lam": 0.8, "critic_lam": 0.8, "lr": 5e-4,
                            "critic_lr": 5e-3, "gamma": 0.99, "discount_actor": False},
                           200_000, "train", 195.0),
    "cartpole vtrace lag 4": (CP, "vtrace",
                              {"behaviour_lag": 4, "lr": 1e-3, "critic_lr": 1e-3,
                               "n_envs": 8, "n_steps": 32}, 200_000, "train", 195.0),
    "cartpole ac defaults": (CP, "ac", {}, 50_000, "eval", 195.0),
    "frozenlake ac defaults": (FL, "ac", {}, 50_000, "eval", 0.5),
    "cartpole qac defaults": (CP, "qac", {}, 50_000, "eval", 195.0),
    "frozenlake qac defaults": (FL, "qac", {}, 50_000, "eval", 0.5),
}


def parse_set(items) -> dict:
    out = {}
    for item in items or []:
        key, _, text = item.partition("=")
        try:
            out[key] = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            out[key] = text
    return out


def exact_frozenlake(agent) -> str:
    """Exact success within 100 steps of the greedy and of the stochastic learned policy, and
    the mean entropy (nats) of pi(.|s) over the non-terminal states (one-hot observations)."""
    from npg.mdp import finite_horizon_objective, frozen_lake
    mdp = frozen_lake("4x4", is_slippery=True, gamma=0.99)
    pi = np.asarray(agent.algo.policy.probs(agent.state["policy"], np.eye(mdp.n_states)))
    greedy = np.eye(pi.shape[1])[np.argmax(pi, axis=1)]
    live = ~np.asarray(mdp.terminal)
    ent = -np.sum(pi * np.log(np.maximum(pi, 1e-300)), axis=1)[live].mean()
    return (f"exact greedy {finite_horizon_objective(mdp, greedy, 100):.3f}, stochastic "
            f"{finite_horizon_objective(mdp, pi, 100):.3f}, entropy {ent:.2f}")


def run(env, algo, cfg, steps, metric, seed):
    """Train one seed; the metric (mean of 100 greedy evaluation episodes, or of the last 20
    training episodes), the loop used and the CPU seconds."""
    agent = Agent(env, algo, cfg, seed=seed)
    why = applies(agent.algo, agent.collector) if agent.online_engine else "engine off"
    t0 = time.process_time()
    agent.learn(steps, progress=False)
    cpu = time.process_time() - t0
    value = (float(np.mean(agent.evaluate(100))) if metric == "eval"
             else agent.mean_return(20))
    loop = "engine" if why is None else f"reference ({why})"
    return value, loop + (f"; {exact_frozenlake(agent)}" if env == FL else ""), cpu


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    p.add_argument("--only", default=None, help="substring of the task names to run")
    p.add_argument("--scale", type=float, default=1.0, help="multiply every budget")
    p.add_argument("--set", action="append", help="key=value config override (every task)")
    args = p.parse_args(argv)
    warnings.simplefilter("ignore")
    extra = parse_set(args.set)
    for name, (env, algo, cfg, steps, metric, target) in TASKS.items():
        if args.only and args.only not in name:
            continue
        steps, cfg = int(steps * args.scale), {**cfg, **extra}
        got = []
        for seed in args.seeds:
            try:
                value, loop, cpu = run(env, algo, cfg, steps, metric, seed)
            except ValueError as err:                  # a diverged run names its overflow
                print(f"{name:24s} seed {seed}: diverged: {str(err)[:70]}", flush=True)
                got.append(float("nan"))
                continue
            got.append(value)
            print(f"{name:24s} seed {seed}: {metric} {value:8.3f} after {steps:,} steps "
                  f"[{loop}, {cpu:.1f} s CPU]", flush=True)
        met = sum(v >= target for v in got)
        print(f"{name:24s} {cfg} target {metric} >= {target}: met by {met}/{len(got)} seeds "
              f"(median {np.nanmedian(got):.3f})", flush=True)


if __name__ == "__main__":
    main()
