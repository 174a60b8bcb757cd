"""Stochastic policy-gradient ascent: E||grad J||^2 against the SGD bound, the exact gradient as yardstick.

The textbook rate of stochastic gradient methods on a beta-smooth non-concave objective
(Ghadimi & Lan 2013; Bottou, Curtis & Nocedal 2018, Thm 4.8, in ascent form): unbiased
estimates g_t with E||g_t - grad J(theta_t)||^2 <= sigma^2 and a step eta <= 1/beta give

    (1/T) sum_{t<T} E||grad J(theta_t)||^2 <= 2 (J* - J(theta_0)) / (eta T) + beta eta sigma^2

a 1/T decay down to a noise floor. On a seeded random MDP (S = 5, A = 3, gamma = 0.5, rewards
U[0, 1]) with the tabular softmax, beta = 8 r_max / (1 - gamma)^3 (Mei et al. 2020, Lemma 2) and
eta = 1/beta, this example ascends with the reward-to-go REINFORCE estimate averaged over B
sampled episodes (``npg.estimators``), measures ||grad J(theta_t)||^2 with the *exact* gradient
at every step, averages over seeds, and prints the running average beside the bound at several
T. sigma^2 is the largest trace of the estimator's covariance measured (2,000 one-episode
estimates, divided by B) at the start and end of each run: an estimate of the sup the theorem
needs. The exact-gradient run (sigma = 0) is shown as the yardstick. Plots both (PNG).

Expected outcome (default budget, measured): beta = 62.2, eta = 0.0161, J* - J(theta_0) =
0.676, sigma^2 = 0.15 (B = 8); the 4-seed average of ||grad J||^2 stays below the bound at
every T: T = 10: 0.0344 vs 8.57; T = 100: 0.0343 vs 0.992; T = 1000: 0.0245 vs 0.234. The exact
gradient's run is almost the same curve (0.0345, 0.0345, 0.0244 against 8.42, 0.842, 0.0842):
at eta = 1/beta the noise term beta eta^2 sigma^2 / 2 per step is tiny next to the drift, and
the bound's 1/T term dominates: the worst-case smoothness 8 r_max/(1-gamma)^3 makes the
theorem's step small and its bound loose. About 20 s of one core.

    python examples/17_sgd_rate.py [--steps 1000] [--seeds 4] [--batch 8] [--png PATH]
"""

from __future__ import annotations

import argparse

import numpy as np

import npg.estimators as E
import npg.mdp as M
from npg.mdp import rates as RT
from npg.params import flatten
from npg.policies import TabularSoftmaxPolicy


def parse(argv, steps: int, png: str):
    p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    p.add_argument("--steps", type=int, default=steps, help=f"ascent steps T (default {steps})")
    p.add_argument("--seeds", type=int, default=4)
    p.add_argument("--batch", type=int, default=8, help="episodes per estimate B")
    p.add_argument("--seed", type=int, default=0, help="the MDP's seed")
    p.add_argument("--png", default=png, help="plot path ('' for no plot)")
    p.add_argument("--quiet", action="store_true", help="accepted for uniformity")
    return p.parse_args(argv)


HORIZON = 60                               # gamma^60 = 9e-19: the truncation bias is nil


def grad_sq(mdp, policy, params):
    g = flatten(M.policy_gradient(mdp, policy, params))
    return float(g @ g)


def estimator_variance(mdp, policy, params, rng, batch, m=2000):
    """trace Cov of the B-episode mean estimate, from m one-episode estimates."""
    G = E.gradient_estimates(mdp, policy, params, E.RewardToGo(), m, HORIZON, rng)
    return float(np.sum(np.var(G, axis=0, ddof=1))) / batch


def run(mdp, policy, eta, steps, rng=None, batch=1):
    """||grad J(theta_t)||^2 for t = 0..steps-1 and (sigma^2 at start, end); exact if rng None."""
    params = {"theta": np.zeros((mdp.n_states, mdp.n_actions))}
    sq = np.empty(steps)
    sig = [] if rng is None else [estimator_variance(mdp, policy, params, rng, batch)]
    for t in range(steps):
        sq[t] = grad_sq(mdp, policy, params)
        if rng is None:
            g = flatten(M.policy_gradient(mdp, policy, params))
        else:
            g = E.gradient_estimates(mdp, policy, params, E.RewardToGo(), batch, HORIZON,
                                     rng).mean(axis=0)
        params = {"theta": params["theta"] + eta * g.reshape(params["theta"].shape)}
    if rng is not None:
        sig.append(estimator_variance(mdp, policy, params, rng, batch))
    return sq, sig


def plot(path, T, avg_sgd, avg_exact, bound, bound0):
    if not path:
        return
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed: no plot")
        return
    t = np.arange(1, T + 1)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.loglog(t, avg_sgd, label="SGD: (1/T) sum E||grad J||^2")
    ax.loglog(t, bound, "--", label="bound 2 gap0/(eta T) + beta eta sigma^2")
    ax.loglog(t, avg_exact, label="exact gradient: (1/T) sum ||grad J||^2")
    ax.loglog(t, bound0, ":", label="bound with sigma = 0")
    ax.set_xlabel("T")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    print(f"plot saved to {path}")


def main(argv=None):
    args = parse(argv, 1000, "17_sgd_rate.png")
    rng = np.random.default_rng(args.seed)
    mdp = M.random_mdp(5, 3, rng, gamma=0.5)
    mdp = mdp.replace(R=rng.uniform(size=(5, 3)))
    policy = TabularSoftmaxPolicy(5, 3)
    beta = M.softmax_smoothness_bound(mdp)
    eta, T = 1.0 / beta, max(args.steps, 2)
    gap0 = M.policy_iteration(mdp).J - M.objective(mdp, np.full((5, 3), 1 / 3))
    runs, sigmas = [], []
    for k in range(max(args.seeds, 1)):
        sq, sig = run(mdp, policy, eta, T, np.random.default_rng([args.seed, k]), args.batch)
        runs.append(sq)
        sigmas += sig
    sigma2 = max(sigmas)
    exact, _ = run(mdp, policy, eta, T)
    t = np.arange(1, T + 1)
    avg_sgd = np.cumsum(np.mean(runs, axis=0)) / t
    avg_exact = np.cumsum(exact) / t
    bound = RT.sgd_stationarity_bound(gap0, eta, beta, sigma2, t)
    bound0 = RT.sgd_stationarity_bound(gap0, eta, beta, 0.0, t)
    held = bool(np.all(avg_sgd <= bound))
    print(f"beta = {beta:.3g}, eta = 1/beta = {eta:.3g}, J* - J(theta_0) = {gap0:.4f}, "
          f"sigma^2 = {sigma2:.3g} (B = {args.batch}); bound "
          f"{'held' if held else 'FAILED'} at every T for the {len(runs)}-seed average")
    for T_ in sorted({k for k in (10, 100, 1000, T) if k <= T}):
        print(f"  T = {T_:>5}: SGD {avg_sgd[T_ - 1]:.4g} <= bound {bound[T_ - 1]:.4g}; exact "
              f"gradient {avg_exact[T_ - 1]:.4g} <= {bound0[T_ - 1]:.4g}")
    plot(args.png, T, avg_sgd, avg_exact, bound, bound0)
    return dict(held=held, sigma2=sigma2, avg_sgd=avg_sgd, bound=bound)


if __name__ == "__main__":
    main()
