"""Time of the exact policy gradient (npg.mdp.policy_gradient) on FrozenLake 8x8 and on a random
MDP with S = 500, A = 8. Targets: under 10 ms and under 1 s.

    python benchmarks/exact_grad.py [--repeats 20]
    OPENBLAS_NUM_THREADS=1 python benchmarks/exact_grad.py     # on a small or busy machine

The S = 500 case is dominated by two 500 x 500 LAPACK solves (V and the visitation); on a
machine shared with other processes a multi-threaded BLAS can be 10x slower than one thread.

Prints the median and best wall-clock time of one call (policy matrix, V/Q by a linear solve,
visitation by a second solve, weighted score sum over all S*A pairs), for the tabular softmax and
an MLP over one-hot states when it is available.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import npg.mdp as M
from npg.policies import TabularSoftmaxPolicy


def _policies(S, A):
    yield "tabular", TabularSoftmaxPolicy(S, A)
    try:
        from npg.policies import MLPCategoricalPolicy
        yield "mlp(64,64)", MLPCategoricalPolicy(obs_dim=S, n_actions=A, hidden=(64, 64))
    except ImportError:
        pass


def timeit(fn, repeats):
    fn()                                              # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), float(np.min(times))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=20)
    args = ap.parse_args()
    cases = [("FrozenLake 8x8 (S=64, A=4)", M.frozen_lake("8x8", gamma=0.99), 0.010),
             ("random MDP (S=500, A=8)", M.random_mdp(500, 8, 0, gamma=0.99), 1.0)]
    print(f"{'MDP':<28} {'policy':<11} {'median ms':>10} {'best ms':>9} {'target ms':>10}")
    for name, mdp, target in cases:
        for pol_name, pol in _policies(mdp.n_states, mdp.n_actions):
            params = pol.init(0)
            med, best = timeit(lambda: M.policy_gradient(mdp, pol, params), args.repeats)
            print(f"{name:<28} {pol_name:<11} {1e3 * med:>10.2f} {1e3 * best:>9.2f} "
                  f"{1e3 * target:>10.0f}")


if __name__ == "__main__":
    main()
