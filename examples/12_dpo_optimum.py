"""DPO on sampled preferences against its closed-form optimum pi_ref exp(r / beta) / Z.

A known reward (``TargetPattern(graded=True)``: the fraction of the prompt's target string
produced before the first mistake) labels pairs of completions drawn from the reference policy
by the Bradley-Terry model, P(y_1 > y_2) = sigma(r_1 - r_2). DPO (Rafailov et al. 2023) then
minimises -log sigma(beta [log pi/pi_ref (y_w) - log pi/pi_ref (y_l)]) by full-batch Adam. Its
population minimiser is pi*(y|x) = pi_ref(y|x) exp(r(x,y)/beta) / Z(x), computed here exactly
(``npg.sequence_exact.dpo_optimum``); the script reports KL(pi* || pi) per prompt, for a tabular
policy (which can represent pi* exactly), a linear policy on (prompt, prefix) features and an MLP.
The pairs are aggregated into unique triples with their frequencies (the same loss, far less
work); each policy starts at its own reference (its initial parameters).

Expected outcome (measured; seed 0, 1,000,000 pairs, beta = 0.5, 1,000 Adam steps, lr 0.05;
about 90 s): KL(pi* || pi) per prompt falls from 0.19-0.34 at the reference to
    tabular  1.7e-4, 8.6e-5, 8.3e-5    (target < 1e-3: met)
    linear   1.8e-2, 1.6e-2, 3.0e-2    (its features cannot express pi* exactly)
    MLP      1.3e-4, 1.5e-4, 1.3e-4    (32 tanh units)
With 200,000 pairs the tabular figures are 8.1e-4, 1.6e-3, 6.6e-4: the remaining gap is the
sampling error of the preferences (it does not shrink with 3,000 steps), not the optimiser.

    python examples/12_dpo_optimum.py [--pairs 1000000] [--steps 1000] [--beta 0.5] [--seed 0]
"""

from __future__ import annotations

import argparse

import numpy as np

from npg.algos import DPO, DPOConfig
from npg.algos.dpo import aggregate_pairs
from npg.envs.sequence_tasks import TargetPattern, preference_pairs
from npg.policies import LinearSequencePolicy, MLPSequencePolicy, TabularSequencePolicy
from npg.sequence_exact import dpo_optimum, kl_rows


def make_policies(task, seed):
    """{name: (policy, initial = reference parameters)}."""
    X, space = task.n_prompts, task.space
    tab = TabularSequencePolicy(X, space)
    lin = LinearSequencePolicy(X, space)
    mlp = MLPSequencePolicy(X, space, hidden=(32,))
    return {"tabular": (tab, tab.init(seed, scale=0.5)),
            "linear": (lin, lin.init(seed, out_gain=0.5)),
            "MLP": (mlp, mlp.init(seed, out_gain=0.5))}


def run(task, policy, ref_params, n_pairs, steps, beta, seed):
    """KL(pi* || pi) per prompt at the reference and after DPO."""
    algo = DPO(policy, DPOConfig(beta=beta, lr=0.05))
    state = algo.init(ref_params)
    ref = policy.frozen(ref_params)
    pairs = preference_pairs(task, ref, n_pairs, np.random.default_rng(seed + 1))
    data = algo.prepare(state, aggregate_pairs(pairs))
    for _ in range(steps):
        state, stats = algo.update(state, data)
    star = dpo_optimum(ref.completion_log_probs(), task.rewards, beta)
    before = kl_rows(np.log(star), ref.completion_log_probs())
    after = kl_rows(np.log(star), policy.completion_log_probs(state["params"]))
    return before, after, stats


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    p.add_argument("--pairs", type=int, default=1_000_000)
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--beta", type=float, default=0.5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)
    task = TargetPattern([(1,), (2, 1), (1, 2)], vocab_size=3, max_len=3, graded=True)
    print(f"DPO, beta = {args.beta}, {args.pairs:,} Bradley-Terry pairs from pi_ref, "
          f"{args.steps} full-batch Adam steps; KL(pi* || pi) per prompt "
          f"({', '.join(task.prompt_names)})")
    results = {}
    for name, (policy, params) in make_policies(task, args.seed).items():
        before, after, stats = run(task, policy, params, args.pairs, args.steps, args.beta,
                                   args.seed)
        results[name] = after
        print(f"{name:8s} reference {' '.join(f'{v:.2e}' for v in before)}  ->  DPO "
              f"{' '.join(f'{v:.2e}' for v in after)}  (max {after.max():.2e}; final loss "
              f"{stats['loss']:.4f})")
    return results


if __name__ == "__main__":
    main()
