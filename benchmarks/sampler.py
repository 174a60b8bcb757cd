"""Throughput of the vectorised finite-MDP sampler and of the estimator harness.

Prints trajectories per second and environment steps per second of
``npg.mdp.sampler.sample_trajectories`` on FrozenLake 4x4 / 8x8 (slippery), CliffWalking and Taxi
under a uniform policy, and the time for one ``compare_estimators`` call (M estimates of three
estimators on FrozenLake 4x4). Best of ``--repeat`` runs. Run:  python benchmarks/sampler.py
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import npg.estimators as E
from npg.mdp import cliff_walking, frozen_lake, taxi
from npg.mdp.sampler import sample_trajectories
from npg.policies import TabularSoftmaxPolicy


def best_of(fn, repeat):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-traj", type=int, default=10_000)
    ap.add_argument("--horizon", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    m, horizon = args.n_traj, args.horizon

    mdps = {"FrozenLake 4x4": frozen_lake("4x4", True, 0.99),
            "FrozenLake 8x8": frozen_lake("8x8", True, 0.99),
            "CliffWalking": cliff_walking(0.99), "Taxi": taxi(0.99)}
    print(f"sample_trajectories, M = {m}, horizon T = {horizon}, uniform policy")
    print(f"{'MDP':16s} {'S':>4s} {'A':>2s} {'seconds':>8s} {'traj/s':>10s} {'steps/s':>10s} "
          f"{'mean len':>8s}")
    for name, mdp in mdps.items():
        pi = np.full((mdp.n_states, mdp.n_actions), 1.0 / mdp.n_actions)
        rng = np.random.default_rng(0)
        t, tr = best_of(lambda: sample_trajectories(mdp, pi, m, horizon, rng), args.repeat)
        steps = int(tr.valid.sum())
        print(f"{name:16s} {mdp.n_states:4d} {mdp.n_actions:2d} {t:8.3f} {m / t:10.3g} "
              f"{steps / t:10.3g} {steps / m:8.1f}")

    mdp = mdps["FrozenLake 4x4"]
    pol = TabularSoftmaxPolicy(mdp.n_states, mdp.n_actions)
    params, obs = pol.init(np.random.default_rng(0)), np.arange(mdp.n_states)
    ests = [E.RewardToGo(), E.TD(np.zeros(mdp.n_states)), E.GAE(np.zeros(mdp.n_states), 0.9)]
    t, _ = best_of(lambda: E.compare_estimators(mdp, pol, params, ests, m, horizon,
                                                np.random.default_rng(1), obs=obs), args.repeat)
    print(f"\ncompare_estimators on FrozenLake 4x4: M = {m}, 3 estimators, T = {horizon}: "
          f"{t:.3f} s ({3 * m / t:.3g} estimates/s)")


if __name__ == "__main__":
    main()
