"""Why ``ac`` / ``qac`` with their defaults collapse on CartPole-v1 and FrozenLake, and which
settings fix it (issue 15, item 5). Prints, per setting and seed: the policy entropy on the
last update, the mean of the last 20 training episodes and the greedy evaluation return.

The defaults are N = T = 1 (an update after every step) with Adam at lr = critic_lr = 1e-2
and no entropy bonus: Adam normalises each step to about lr whatever the size of the TD error,
so 1e-2 per step on every weight of a 64-64 MLP drives the softmax to a deterministic policy
within a few thousand steps (entropy ~1e-6) before the critic is any good.

    python benchmarks/ac_defaults.py [--steps 30000] [--seeds 0 1]
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np

from npg.app.agent import Agent

SETTINGS = {
    "ac defaults": ("CartPole-v1", "ac", {}),
    "ac lr 1e-3": ("CartPole-v1", "ac", {"lr": 1e-3, "critic_lr": 1e-3}),
    "ac lr 1e-3, N=8 T=5 GAE .95, ent .01": (
        "CartPole-v1", "ac", {"lr": 1e-3, "critic_lr": 1e-3, "n_envs": 8, "n_steps": 5,
                              "gae_lambda": 0.95, "ent_coef": 0.01}),
    "ac_lambda defaults": ("CartPole-v1", "ac_lambda", {}),
    "ac_lambda SGD 1e-2/5e-2 (earlier defaults)": ("CartPole-v1", "ac_lambda",
                                                   {"lr": 1e-2, "critic_lr": 5e-2}),
    "ac_lambda hidden 32, lr 3e-3/1e-2, no I": (
        "CartPole-v1", "ac_lambda", {"hidden": (32,), "lr": 3e-3, "critic_lr": 1e-2,
                                     "discount_actor": False}),
    "ac_lambda hidden 32, lr 5e-4/5e-3, lam .8, no I": (
        "CartPole-v1", "ac_lambda", {"hidden": (32,), "lr": 5e-4, "critic_lr": 5e-3,
                                     "lam": 0.8, "critic_lam": 0.8, "discount_actor": False}),
    "qac defaults": ("CartPole-v1", "qac", {}),
    "qac lr 1e-3, baseline": ("CartPole-v1", "qac", {"lr": 1e-3, "critic_lr": 1e-3,
                                                     "baseline": True}),
    "qac FrozenLake defaults": ("FrozenLake-v1", "qac", {}),
    "qac FrozenLake, the text's 20-10-1 (s, a) critic": (
        "FrozenLake-v1", "qac", {"_pair_critic": True}),
    "qac FrozenLake linear, lr 1e-1 crit 1e-1, baseline": (
        "FrozenLake-v1", "qac", {"policy": "linear", "lr": 0.1, "critic_lr": 0.1,
                                 "baseline": True, "gamma": 0.99}),
}


def run(env, algo, cfg, steps, seed):
    """Train, then the mean policy entropy on probe states (all 16 FrozenLake states; 64
    CartPole states N(0, 0.1^2), near the upright start), the last-20 training mean and a
    10-episode greedy evaluation."""
    cfg = dict(cfg)
    pair = cfg.pop("_pair_critic", False)
    agent = Agent(env, algo, cfg, seed=seed)
    if pair:                     # swap in MLPStateActionQ (what a q_input="pair" field would do)
        from npg.values_sa import MLPStateActionQ
        spec = agent.algo.spec
        agent.algo.critic = MLPStateActionQ(spec.obs_dim, spec.n_actions, hidden=(20, 10))
        fresh = agent.algo.init(np.random.default_rng(seed))
        agent.state["critic"], agent.state["opt"] = fresh["critic"], fresh["opt"]
    agent.learn(steps, progress=False)
    probe = (np.eye(16) if env.startswith("FrozenLake")
             else 0.1 * np.random.default_rng(0).normal(size=(64, agent.algo.spec.obs_dim)))
    ent = float(np.mean(agent.algo.policy.entropy(agent.state["policy"], probe)))
    return {"entropy": ent, "train": agent.mean_return(20),
            "eval": float(np.mean(agent.evaluate(10)))}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    p.add_argument("--steps", type=int, default=30_000)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    p.add_argument("--only", default=None, help="substring of the settings to run")
    args = p.parse_args(argv)
    warnings.simplefilter("ignore")
    print(f"{'setting':55s} seed  entropy   train20   eval10")
    for name, (env, algo, cfg) in SETTINGS.items():
        if args.only and args.only not in name:
            continue
        for seed in args.seeds:
            try:
                s = run(env, algo, cfg, args.steps, seed)
            except ValueError as err:                  # a diverged run names its overflow
                print(f"{name:55s} {seed:4d}  diverged: {str(err)[:60]}", flush=True)
                continue
            print(f"{name:55s} {seed:4d}  {s['entropy']:.2e}  {s['train']:8.2f}  "
                  f"{s['eval']:7.2f}", flush=True)


if __name__ == "__main__":
    main()
