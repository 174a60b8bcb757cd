"""The exact bias of GRPO's normalisations, by prompt difficulty and by completion length.

GRPO's update (Shao et al. 2024) divides the group-relative advantage by the group's standard
deviation and averages each completion's tokens (1/|o|); DAPO averages over all tokens of the
batch; Dr. GRPO (Liu et al. 2025) drops both. Which of these estimates the policy gradient?
Here the expectation of each variant's update is computed *exactly*, as a finite sum over
groups of completions (``npg.sequence_exact.expected_grpo_direction``), and compared with the
true gradient of the expected reward, grad E r (``objective_gradient``), both by enumeration.

Task: three target strings of 1, 2 and 3 tokens (completions of 2, 3, 4 tokens with the end
token), vocabulary of 3, max length 4; a tabular policy leaning towards the targets so that
the success probabilities differ by prompt. G = 4.

Table 1, per prompt: scale = <g_x, t_x> / |t_x|^2 divided by the unbiased (G-1)/(G L), and the
cosine between g_x and t_x. The unbiased mean/constant variant gives 1 and 1 on every prompt.
Table 2: the effective weight omega(y) each variant puts on the score of a completion y,
divided by the unbiased one ((G-1)/G)(r - E r)/L, for correct and wrong completions by length.
Table 3: the KL penalty's bias: cosine between the expected update with beta = 0.1 and the true
gradient of E r - beta KL(pi || pi_ref).

Expected outcome (measured; exact, so the same on every run; G = 4):
  * mean/constant: scale 1.000 and cosine 1.000000 on every prompt (the identity
    E[update] = (G-1)/(G L) grad E r).
  * mean_std/constant: scales 1.87, 1.89, 1.97 for P(correct) = 0.39, 0.31, 0.05, cosine 1
    (binary reward: a per-prompt rescaling). Table 1b: by difficulty the std division weighs a
    p = 0.02 prompt 1.07x (G = 4), 1.39x (G = 8), 1.86x (G = 16) as much as a p = 0.5 one.
  * 1/|o| (sequence): cosines 0.969, 0.956, 0.942; Table 2: a wrong completion of 1, 2, 3,
    4 tokens gets 4.0, 2.0, 1.33, 1.0 times its unbiased weight (L/|o|): short wrong answers are
    pushed down hardest, long wrong ones least (Liu et al. 2025's length bias).
  * token (DAPO, one group): cosines 0.998-0.9994, weights 1.61 -> 1.23 from 1 to 4 tokens.
  * Table 3: the k3 per-token penalty's expected update has cosine 0.9967 with the true
    gradient of E r - 0.1 KL(pi || pi_ref); the plain k1 penalty adds nothing in expectation
    (cosine 0.9872, the same as ignoring the KL term).

    python examples/11_grpo_bias_table.py [--group-size 4]
"""

from __future__ import annotations

import argparse

import numpy as np

from npg.envs.sequence_tasks import Bandit, TargetPattern
from npg.params import flatten
from npg.policies import TabularSequencePolicy
from npg.sequence_exact import expected_grpo_direction, grpo_bias, objective_gradient

OPTIONS = [("mean", "constant"), ("mean_std", "constant"), ("mean", "sequence"),
           ("mean_std", "sequence"), ("mean", "token"), ("mean_std", "token")]


def setup(bonus=(2.5, 1.6, 0.6), seed=3):
    """The task and a tabular policy with +bonus[x] on each target token of prompt x."""
    task = TargetPattern([(1,), (2, 1), (1, 2, 1)], vocab_size=3, max_len=4)
    policy = TabularSequencePolicy(task.n_prompts, task.space)
    theta = policy.init(seed, scale=0.5)["theta"]
    for x, target in enumerate(task.targets):
        for t in range(len(target)):
            pre = np.full((1, task.space.max_len), -1)
            pre[0, :t] = target[:t]
            theta[x, policy.prefix_index(pre, np.array([t]))[0], target[t]] += bonus[x]
    return task, policy, {"theta": theta}


def difficulty_table(task, policy, params, G):
    L = task.space.max_len
    unbiased = (G - 1) / (G * L)
    rows = {opt: grpo_bias(policy, params, task, G, *opt) for opt in OPTIONS}
    base = rows[OPTIONS[0]]
    print(f"Table 1: exact scale (relative to the unbiased (G-1)/(G L)) and cosine with grad E r,"
          f" G = {G}")
    print(f"{'prompt':>8} {'P(correct)':>10} {'len':>4} | " +
          " | ".join(f"{n + '/' + a:>22}" for n, a in OPTIONS))
    for x in range(task.n_prompts):
        cells = [f"{rows[o]['scale'][x] / unbiased:8.3f} {rows[o]['cosine'][x]:13.6f}"
                 for o in OPTIONS]
        print(f"{task.prompt_names[x]:>8} {base['success'][x]:10.3f} "
              f"{int(base['target_len'][x]):4d} | " + " | ".join(cells))
    return rows


def bandit_table(ps=(0.02, 0.1, 0.3, 0.5, 0.7, 0.9, 0.98), sizes=(2, 4, 8, 16)):
    """The std division alone: one-token prompts with success probability p."""
    task = Bandit(np.tile([0.0, 1.0], (len(ps), 1)))
    policy = TabularSequencePolicy(len(ps), task.space)
    theta = np.zeros((len(ps), 1, 2))
    theta[:, 0, 1] = np.log(np.array(ps) / (1 - np.array(ps)))
    print("\nTable 1b: mean_std scale / unbiased scale by difficulty (one-token bandit prompts)")
    print(f"{'G':>4} | " + " ".join(f"p={p:<5}" for p in ps))
    out = {}
    for G in sizes:
        k = grpo_bias(policy, {"theta": theta}, task, G, "mean_std", "constant")["scale"]
        out[G] = k / ((G - 1) / G)
        print(f"{G:4d} | " + " ".join(f"{v:7.3f}" for v in out[G]))
    return out


def length_table(task, policy, params, G, x=2):
    L = task.space.max_len
    probs = np.exp(policy.completion_log_probs(params))
    r = task.rewards[x]
    lengths = task.space.lengths(task.completions)
    unbiased = (G - 1) / G * (r - probs[x] @ r) / L
    print(f"\nTable 2: effective weight / unbiased weight per completion, prompt "
          f"{task.prompt_names[x]} (P(correct) = {probs[x] @ r:.3f}), G = {G}")
    print(f"{'completion':>16} | " + " | ".join(f"{n + '/' + a:>17}" for n, a in OPTIONS))
    classes = [("correct", 1.0, ell) for ell in sorted(set(lengths[r == 1]))] + \
              [("wrong", 0.0, ell) for ell in sorted(set(lengths))]
    ratios = {c: [] for c in classes}
    for opt in OPTIONS:
        _, (omega, _) = expected_grpo_direction(policy, params, task, G, *opt,
                                                return_weights=True)
        ratio = omega[x] / unbiased
        for c in classes:
            m = (r == c[1]) & (lengths == c[2])
            ratios[c].append(float(np.sum(probs[x, m] * ratio[m]) / np.sum(probs[x, m])))
    for c in classes:
        print(f"{c[0] + ', ' + str(c[2]) + ' tokens':>16} | " +
              " | ".join(f"{v:17.3f}" for v in ratios[c]))
    return ratios


def kl_table(task, policy, params, G, beta=0.1):
    ref = policy.frozen(policy.init(0))
    truth = flatten(objective_gradient(policy, params, task, ref, beta))
    plain = flatten(objective_gradient(policy, params, task))
    print(f"\nTable 3: cosine with the true gradient of E r - {beta} KL(pi || pi_ref) "
          f"(mean/constant advantages, G = {G}); E r alone: "
          f"{plain @ truth / np.linalg.norm(plain) / np.linalg.norm(truth):.6f}")
    for kl in ("k3", "k1"):
        g = flatten(expected_grpo_direction(policy, params, task, G, "mean", "constant",
                                            reference=ref, beta=beta * (G - 1) / G, kl=kl))
        cos = g @ truth / np.linalg.norm(g) / np.linalg.norm(truth)
        print(f"  per-token {kl} penalty: cosine {cos:.6f}")
    return cos


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    p.add_argument("--group-size", type=int, default=4)
    p.add_argument("--quiet", action="store_true", help="accepted for symmetry; tables print")
    args = p.parse_args(argv)
    task, policy, params = setup()
    rows = difficulty_table(task, policy, params, args.group_size)
    bandit_table()
    length_table(task, policy, params, args.group_size)
    kl_table(task, policy, params, args.group_size)
    return rows


if __name__ == "__main__":
    main()
