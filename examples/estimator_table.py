"""How good is each policy-gradient estimator? Measured against the exact gradient on FrozenLake.

For a tabular softmax policy on slippery FrozenLake 4x4 the exact gradient grad J comes from the
policy gradient theorem solved by linear algebra (``npg.mdp.policy_gradient``). Every estimator
then draws M one-trajectory estimates and we print, per estimator:

    |bias|    ||mean - grad J||, with the largest |z| = |bias_j| / stderr_j over coordinates
    variance  trace of the covariance of one estimate (sum of per-coordinate variances)
    MSE       E||g - grad J||^2 = variance + |bias|^2
    cos(one)  mean cosine between ONE estimate and grad J (how useful a single sample is)

beside the same figures computed exactly, without sampling, by the second-moment recursion of
``npg.estimator_stats`` (exact for the sampler's horizon cap; docs/estimator_statistics.md):
exact |bias| = ||E g - grad J||, exact variance tr Cov(g), exact MSE and cos(E g, grad J). The
sampled columns scatter around the exact ones by their sampling error. Then the GAE(lambda)
sweep: the variance and the squared bias against lambda, with the exact critic and with an
imperfect one, sampled (markers) and exact (lines), plotted to PNG when matplotlib is installed.
docs/estimators.md explains the table. Run:
    python examples/estimator_table.py [--n-traj 20000] [--png gae_lambda.png] [--no-exact]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import npg.estimators as E
from npg.estimator_stats import recursive_moments
from npg.mdp import evaluate, frozen_lake, policy_gradient
from npg.params import flatten
from npg.policies import TabularSoftmaxPolicy


def make_problem(seed: int):
    """FrozenLake 4x4 (slippery), gamma 0.95, a random tabular policy leaning down and right."""
    mdp = frozen_lake("4x4", is_slippery=True, gamma=0.95)
    policy = TabularSoftmaxPolicy(mdp.n_states, mdp.n_actions)
    rng = np.random.default_rng(seed)
    theta = 0.3 * rng.standard_normal((mdp.n_states, mdp.n_actions))
    theta[:, [1, 2]] += 1.0                      # actions 1 = down, 2 = right: reach the goal
    params = {"theta": theta}
    obs = np.arange(mdp.n_states)
    return mdp, policy, params, obs


def estimators(pi, V, Q, A, rng):
    v_bad = V + rng.normal(0.0, 0.1 * np.abs(V).max(), V.shape)   # an imperfect critic
    beta = 0.5 * pi + 0.5 / pi.shape[1]                            # an exploratory behaviour
    return [
        E.WholeReturn(), E.RewardToGo(), E.RewardToGo(discount_weight=False),
        E.Baseline(np.full(V.shape, V.mean()), name="baseline: constant"),
        E.Baseline(V, name="baseline: exact V"), E.Baseline(v_bad, name="baseline: imperfect V"),
        E.ExactQ(Q), E.ExactA(A),
        E.TD(V, name="TD(0): exact V"), E.TD(v_bad, name="TD(0): imperfect V"),
        E.GAE(V, 0.95, name="GAE(0.95): exact V"), E.GAE(v_bad, 0.95, name="GAE(0.95): imperf. V"),
        E.ImportanceSampled(beta), E.ImportanceSampled(beta, per_decision=False),
    ]


def exact_reports(mdp, policy, params, obs, ests, exact, horizon):
    """{name: ExactMoments} by the recursion (trace only: variances, not full covariances)."""
    return {e.name: recursive_moments(mdp, policy, params, e, horizon, obs, exact,
                                      trace_only=True) for e in ests}


def print_table(reports, exact, exact_stats=None):
    print(f"|grad J| = {np.linalg.norm(exact):.4g}")
    head = (f"{'estimator':26s} {'|bias|':>9s} {'max|z|':>7s} {'variance':>10s} {'MSE':>10s} "
            f"{'cos(mean)':>9s} {'cos(one)':>8s}")
    if exact_stats is not None:
        head += f" | {'exact |bias|':>12s} {'exact var':>10s} {'exact MSE':>10s} {'exact cos':>9s}"
        print(f"{'':26s} {'sampled':^58s} | {'exact (no sampling)':^44s}")
    print(head)
    for name, r in reports.items():
        line = (f"{name:26s} {r.bias_norm:9.2e} {r.max_abs_z:7.1f} {r.variance:10.3e} "
                f"{r.mse:10.3e} {r.cosine:9.4f} {r.mean_cosine:8.3f}")
        if exact_stats is not None:
            x = exact_stats[name]
            line += f" | {x.bias_norm:12.2e} {x.variance:10.3e} {x.mse:10.3e} {x.cosine:9.4f}"
        print(line)


def gae_sweep(mdp, policy, params, obs, exact, V, v_bad, n_traj, horizon, rng,
              lams=(0.0, 0.25, 0.5, 0.7, 0.8, 0.9, 0.95, 0.98, 1.0), with_exact=True):
    """Rows (lambda, var exact V, var imperfect V, bias^2 imperfect V) sampled, and exact
    (NaN columns without ``with_exact``): two arrays [len(lams), 4]."""
    ests = {}
    for lam in lams:
        ests[f"exact {lam}"] = E.GAE(V, lam)
        ests[f"imperfect {lam}"] = E.GAE(v_bad, lam)
    reps = E.compare_estimators(mdp, policy, params, ests, n_traj, horizon, rng, obs=obs,
                                exact=exact)
    rows = np.array([(lam, reps[f"exact {lam}"].variance, reps[f"imperfect {lam}"].variance,
                      reps[f"imperfect {lam}"].bias_norm ** 2) for lam in lams])
    ex = np.full(rows.shape, np.nan)
    ex[:, 0] = lams
    if with_exact:
        xs = exact_reports(mdp, policy, params, obs, [
            E.GAE(vals, lam, name=f"{kind} {lam}") for lam in lams
            for kind, vals in (("exact", V), ("imperfect", v_bad))], exact, horizon)
        ex[:, 1:] = [(xs[f"exact {lam}"].variance, xs[f"imperfect {lam}"].variance,
                      xs[f"imperfect {lam}"].bias_norm ** 2) for lam in lams]
    print(f"\n{'lambda':>6s} {'var (exact V)':>14s} {'var (imperf. V)':>16s} "
          f"{'bias^2 (imperf.)':>17s}   exact: {'var (exact V)':>13s} {'var (imperf.)':>13s} "
          f"{'bias^2':>10s}")
    for r, x in zip(rows, ex):
        print(f"{r[0]:6.2f} {r[1]:14.3e} {r[2]:16.3e} {r[3]:17.3e}          {x[1]:13.3e} "
              f"{x[2]:13.3e} {x[3]:10.3e}")
    return rows, ex


def plot(rows, path, exact_rows=None):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed: no plot")
        return
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    labels = ("variance, exact V", "variance, imperfect V", "bias$^2$, imperfect V")
    for j, (marker, label) in enumerate(zip("os^", labels), start=1):
        line, = ax.plot(rows[:, 0], rows[:, j], marker, label=f"{label} (sampled)")
        if exact_rows is not None and np.all(np.isfinite(exact_rows[:, j])):
            ax.plot(exact_rows[:, 0], exact_rows[:, j], "-", color=line.get_color(),
                    label=f"{label} (exact)")
    ax.set_xlabel("GAE $\\lambda$")
    ax.set_ylabel("per-estimate value")
    ax.set_yscale("log")
    ax.set_ylim(bottom=0.3 * np.min(rows[:, 1:][rows[:, 1:] > 0]))  # exact bias^2 at lam = 1 is 0
    ax.set_title("GAE($\\lambda$) policy gradient on FrozenLake 4x4")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"wrote {path}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-traj", type=int, default=20_000)
    ap.add_argument("--horizon", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--png", default="gae_variance_vs_lambda.png", help="'' for no plot")
    ap.add_argument("--no-exact", action="store_true", help="sampled columns only")
    args = ap.parse_args(argv)

    mdp, policy, params, obs = make_problem(args.seed)
    pi, _ = E.score_table(policy, params, obs)
    V, Q, A = evaluate(mdp, pi)
    exact = flatten(policy_gradient(mdp, policy, params, obs))
    rng = np.random.default_rng(args.seed + 1)
    ests = estimators(pi, V, Q, A, np.random.default_rng(args.seed + 2))
    v_bad = ests[5].values

    t0 = time.perf_counter()
    reports = E.compare_estimators(mdp, policy, params, ests, args.n_traj, args.horizon, rng,
                                   obs=obs, exact=exact)
    print(f"FrozenLake 4x4 slippery, gamma {mdp.gamma}, J = {mdp.mu0 @ V:.4f}, "
          f"M = {args.n_traj} trajectories per estimator ({time.perf_counter() - t0:.1f} s)")
    exact_stats = None
    if not args.no_exact:
        t0 = time.perf_counter()
        exact_stats = exact_reports(mdp, policy, params, obs, ests, exact, args.horizon)
        print(f"exact moments by recursion, horizon {args.horizon} "
              f"({time.perf_counter() - t0:.1f} s)")
    print_table(reports, exact, exact_stats)
    ratio = reports["baseline: exact V"].variance / reports["reward-to-go"].variance
    print(f"variance ratio, exact-V baseline / reward-to-go: {ratio:.3f}"
          + ("" if exact_stats is None else f" (exact: "
             f"{exact_stats['baseline: exact V'].variance / exact_stats['reward-to-go'].variance:.3f})"))
    rows, exact_rows = gae_sweep(mdp, policy, params, obs, exact, V, v_bad, args.n_traj,
                                 args.horizon, rng, with_exact=not args.no_exact)
    if args.png:
        plot(rows, args.png, exact_rows)
    return reports, exact_stats


if __name__ == "__main__":
    main()
