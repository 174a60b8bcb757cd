"""Exact policy gradient against a finite difference, for every policy class, on FrozenLake.

The policy gradient theorem, computed (not sampled) on the 4x4 FrozenLake MDP:

    grad J(theta) = sum_s d_pi(s) sum_a pi(a|s) Q_pi(s, a) grad_theta log pi(a|s)

with d_pi the discounted state visitation. ``npg.mdp.policy_gradient`` evaluates it with the
policy's own hand-derived score function; here it is compared with a central finite difference
of the exact objective J(theta) = mu0 . V_pi, coordinate by coordinate.

Expected outcome: for every policy class the largest |exact - numeric| is below 1e-7 and the
script prints "all gradients agree".

    python examples/00_gradient_check.py
"""

from __future__ import annotations

import argparse

import numpy as np

from npg import mdp
from npg.features import OneHot
from npg.params import flatten
from npg.policies import (LinearSoftmaxPolicy, MLPCategoricalPolicy, SharedActorCritic,
                          TabularSoftmaxPolicy)
from npg.testing import numeric_grad


def policies(n_states: int, n_actions: int):
    """One instance of every discrete policy class, all reading FrozenLake's states."""
    return {
        "tabular softmax": TabularSoftmaxPolicy(n_states, n_actions),
        "linear softmax (one-hot)": LinearSoftmaxPolicy(OneHot(n_states), n_actions),
        "MLP 16-8-4 (tanh)": MLPCategoricalPolicy(n_states, n_actions, hidden=(8,)),
        "shared trunk 16-8-(4,1)": SharedActorCritic(n_states, n_actions, hidden=(8,)),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--gamma", type=float, default=0.95)
    args = parser.parse_args(argv)

    env = mdp.frozen_lake("4x4", is_slippery=True, gamma=args.gamma)
    rng = np.random.default_rng(args.seed)
    print(f"FrozenLake 4x4 (slippery), gamma = {args.gamma}: "
          f"S = {env.n_states}, A = {env.n_actions}\n")
    print(f"{'policy':<26} {'P':>4} {'J(theta)':>10} {'|grad J|':>10} {'max |exact - FD|':>17}")
    worst = 0.0
    for name, policy in policies(env.n_states, env.n_actions).items():
        params = policy.init(rng)
        obs = mdp.default_obs(env, policy, params)

        def J(p, policy=policy, obs=obs):
            return mdp.objective(env, mdp.policy_matrix(policy, p, obs))

        exact = flatten(mdp.policy_gradient(env, policy, params, obs))
        numeric = flatten(numeric_grad(J, params))
        err = float(np.max(np.abs(exact - numeric)))
        worst = max(worst, err)
        print(f"{name:<26} {exact.size:>4} {J(params):>10.6f} {np.linalg.norm(exact):>10.3e} "
              f"{err:>17.2e}")
    ok = worst < 1e-7
    print("\nall gradients agree" if ok else f"\nMISMATCH: {worst:.2e}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
