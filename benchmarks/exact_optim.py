"""Times of the exact second-order and trust-region computations (npg.mdp.second_order, updaters).

Problems: slippery FrozenLake 8x8 (S = 64, A = 4, P = 256 tabular logits) and a seeded random
MDP with S = 500, A = 8 (P = 4,000), gamma 0.99 and 0.9. For each it times

    hessian, tabular closed form       npg.mdp.tabular_softmax_hessian(mdp, pi)
    hessian, general path (PGT)        npg.mdp.hessian(mdp, policy, params)   [P, P]
    eigenvalues                        npg.mdp.hessian_eigenvalues(H)
    TRPO step, tabular                 npg.mdp.trpo_step(mdp, policy, params, 0.01)
    TRPO step, Fisher solve            the same on LinearSoftmaxPolicy(OneHot(S)) (lstsq path;
                                       FrozenLake only unless --fisher-500: an SVD of [P, P])

each the median of --repeat runs (after one warm-up), and prints one line per figure.

    python benchmarks/exact_optim.py [--repeat 3] [--fisher-500]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import npg.mdp as M
from npg.features import OneHot
from npg.policies import LinearSoftmaxPolicy, TabularSoftmaxPolicy


def timed(fn, repeat: int) -> float:
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def problems():
    try:
        yield "FrozenLake 8x8", M.frozen_lake("8x8", is_slippery=True, gamma=0.99)
    except ImportError:
        print("gymnasium not installed: FrozenLake 8x8 skipped")
    yield "random S=500 A=8", M.random_mdp(500, 8, 0, gamma=0.9, alpha=0.1)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--fisher-500", action="store_true",
                    help="also time the lstsq TRPO path at S = 500 (slow: an SVD of 4000^2)")
    args = ap.parse_args(argv)
    rows = []
    for name, mdp in problems():
        S, A = mdp.n_states, mdp.n_actions
        policy = TabularSoftmaxPolicy(S, A)
        params = policy.init(1, scale=0.5)
        pi = M.policy_matrix(policy, params, M.default_obs(mdp, policy, params))
        H = M.hessian(mdp, policy, params)
        figures = {
            "hessian, tabular closed form": lambda: M.tabular_softmax_hessian(mdp, pi),
            "hessian, general path (PGT)": lambda: M.hessian(mdp, policy, params),
            "eigenvalues of H": lambda: M.hessian_eigenvalues(H),
            "TRPO step, tabular closed form": lambda: M.trpo_step(mdp, policy, params, 0.01),
        }
        if S <= 100 or args.fisher_500:
            lin = LinearSoftmaxPolicy(OneHot(S), A)
            figures["TRPO step, Fisher lstsq path"] = lambda: M.trpo_step(mdp, lin, params, 0.01)
        print(f"{name}: S = {S}, A = {A}, P = {S * A}, ||H||_2 = {M.smoothness(H):.4g} "
              f"(bound 8 r_max/(1-gamma)^3 = {M.softmax_smoothness_bound(mdp):.4g})")
        for what, fn in figures.items():
            sec = timed(fn, args.repeat)
            rows.append((name, what, sec))
            print(f"  {what:<32} {sec * 1e3:10.1f} ms")
    return rows


if __name__ == "__main__":
    main()
