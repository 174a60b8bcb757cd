"""Entropy-regularised NPG with exact quantities: Cen et al.'s linear rate (1 - eta tau)^t.

Cen, Cheng, Chen, Wei & Chi (2021, Thm 1): the entropy-regularised NPG update on the tabular
softmax, pi' ~ pi^(1 - eta tau/(1-gamma)) exp(eta Q_tau / (1-gamma)), with 0 < eta <= (1-gamma)/tau
satisfies for every t >= 0

    ||Q*_tau - Q_tau^{(t+1)}||_inf      <= C1 gamma (1 - eta tau)^t
    ||log pi*_tau - log pi^{(t+1)}||_inf <= 2 C1 / tau (1 - eta tau)^t.

On a seeded random MDP (S = 5, A = 3, gamma = 0.9, rewards U[0, 1], tau = 0.1, so the largest
step is (1-gamma)/tau = 1, which is soft policy iteration) this example runs the update at
eta = 1, 0.5, 0.1 from a random initial policy, checks both bounds at every step, and fits the
measured linear rate of ||Q*_tau - Q_tau^{(t)}||_inf beside the theorem's 1 - eta tau. At
eta = 1.2 > (1 - gamma)/tau a StepSizeWarning names the bound. Plots errors and bounds (PNG).

Expected outcome (default budget, seed 0, measured): both bounds held at every step for every
eta. Measured rates per step of ||Q* - Q_t|| and ||log pi* - log pi_t||: 0.0019 and 0.010 at
eta = 1 (theorem 0.9: soft policy iteration converges superlinearly near the optimum), 0.24 and
0.50 at eta = 0.5 (theorem 0.95), 0.80 and 0.90 at eta = 0.1 (theorem 0.99). The policy
contracts at about 1 - eta tau / (1 - gamma) (0.5 and 0.9 here) and Q at its square, since
the soft value is stationary at pi*_tau: the theorem's 1 - eta tau is a worst case. About 2 s.

    python examples/15_entropy_npg_linear_rate.py [--steps 150] [--seed 0] [--png PATH]
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np

import npg.mdp as M
from npg.mdp import rates as RT


def parse(argv, steps: int, png: str):
    p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    p.add_argument("--steps", type=int, default=steps, help=f"NPG steps (default {steps})")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--png", default=png, help="plot path ('' for no plot)")
    p.add_argument("--quiet", action="store_true", help="accepted for uniformity")
    return p.parse_args(argv)


def softmax(theta):
    e = np.exp(theta - theta.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def run(mdp, tau, eta, theta0, steps, Q_star, pi_star):
    """(||Q* - Q_t||_inf, ||log pi* - log pi_t||_inf) for t = 1..steps."""
    theta = theta0.copy()
    eq, el = np.empty(steps), np.empty(steps)
    for t in range(steps):
        theta = M.tabular_npg_step(mdp, theta, eta, tau)
        pi = softmax(theta)
        eq[t] = np.max(np.abs(Q_star - M.soft_evaluate(mdp, pi, tau)[1]))
        el[t] = np.max(np.abs(np.log(pi_star) - np.log(pi)))
    return eq, el


def linear_rate(err, floor=1e-9):
    """exp(slope) of log err against t over the steps where err > floor."""
    idx = np.flatnonzero(err > floor)
    if idx.size < 2:
        return float("nan")
    idx = idx[: max(2, idx.size)]
    return float(np.exp(np.polyfit(idx, np.log(err[idx]), 1)[0]))


def plot(path, curves):
    if not path:
        return
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed: no plot")
        return
    fig, ax = plt.subplots(figsize=(6, 4))
    for label, (t, y, style) in curves.items():
        ax.semilogy(t, y, style, label=label)
    ax.set_xlabel("step t")
    ax.set_ylabel("||Q*_tau - Q_tau^(t)||_inf")
    ax.set_title("entropy-regularised NPG (Cen et al. 2021, Thm 1)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    print(f"plot saved to {path}")


def main(argv=None):
    args = parse(argv, 150, "15_entropy_npg_linear_rate.png")
    rng = np.random.default_rng(args.seed)
    mdp = M.random_mdp(5, 3, rng, gamma=0.9)
    mdp = mdp.replace(R=rng.uniform(size=(5, 3)))
    tau, T = 0.1, max(args.steps, 2)
    theta0 = rng.standard_normal((5, 3))
    curves, out = {}, {}
    for eta in (1.0, 0.5, 0.1):
        C1, Q_star, pi_star = RT.cen_constant(mdp, tau, eta, softmax(theta0))
        eq, el = run(mdp, tau, eta, theta0, T, Q_star, pi_star)
        bq, bl = RT.cen_bounds(C1, eta, tau, mdp.gamma, np.arange(T))
        held = bool(np.all(eq <= bq + 1e-12) and np.all(el <= bl + 1e-12))
        rate, rate_log = linear_rate(eq), linear_rate(el)
        out[eta] = dict(held=held, rate=rate, rate_log_pi=rate_log, theorem=1 - eta * tau)
        print(f"eta = {eta:>4}: both bounds {'held' if held else 'FAILED'} at all {T} steps; "
              f"measured rate per step: ||Q* - Q_t|| {rate:.3g}, ||log pi* - log pi_t|| "
              f"{rate_log:.3g} (theorem: 1 - eta tau = {1 - eta * tau:.3g})")
        t = np.arange(1, T + 1)
        curves[f"eta={eta}"] = (t, np.maximum(eq, 1e-16), "-")
        curves[f"bound eta={eta}"] = (t, bq, "--")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", M.StepSizeWarning)
        M.tabular_npg_step(mdp, theta0, 1.2, tau)
    print(f"eta = 1.2: {caught[0].message if caught else 'no warning'}")
    plot(args.png, curves)
    return out


if __name__ == "__main__":
    main()
