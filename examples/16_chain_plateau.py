"""The exponentially long plateau of softmax policy gradient on a chain, against NPG.

Li, Wei, Chi, Gu & Chen (2021, "Softmax policy gradient methods can take exponential time to
converge") show that exact softmax PG can need a number of steps exponential in the number of
states, while NPG's iteration count does not grow that way. The mechanism is visible on the
simplest chain (``npg.mdp.chain.chain_mdp``: n states in a line, action 0 moves forward, the
other A - 1 actions end the episode with reward 0, reward 1 for leaving the last state
forward): under the uniform start the goal is reached with probability A^-n, so every
component d(s) pi(a|s) A(s, a) of the exact gradient is exponentially small, whereas the
natural gradient's step A(s, a) / (1 - gamma) carries no visitation factor.

For n = 2..N (A = 4, gamma = 0.95) this example counts the exact steps until J >= 0.9 J*
for gradient ascent (lr 1) and NPG (eta 0.1), prints both with the PG count's growth factor per
added state (exponential growth: a factor that stays > 1; the theory's rate is A-dependent), and
plots the counts and one pair of learning curves (PNG).

Expected outcome (default budget, measured): steps to 0.9 J* for n = 2..8: gradient ascent 35,
76, 177, 477, 1470, 4954, 17599 (growth x2.17, x2.33, x2.69, x3.08, x3.37, x3.55 per added
state, rising towards A = 4); NPG 3, 5, 6, 7, 8, 9, 11 (one or two more steps per state).
About 20 s of one core.

    python examples/16_chain_plateau.py [--steps 50000] [--max-n 8] [--png PATH]
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np

import npg.mdp as M
from npg.mdp.chain import chain_mdp


def parse(argv, steps: int, png: str):
    p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    p.add_argument("--steps", type=int, default=steps, help=f"step cap per run ({steps})")
    p.add_argument("--max-n", type=int, default=8, help="longest chain (default 8)")
    p.add_argument("--seed", type=int, default=0, help="unused: everything is deterministic")
    p.add_argument("--png", default=png, help="plot path ('' for no plot)")
    p.add_argument("--quiet", action="store_true", help="accepted for uniformity")
    return p.parse_args(argv)


def softmax(theta):
    e = np.exp(theta - theta.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def steps_to(mdp, step, eta, target, cap):
    """(first t with J(theta_t) >= target, or None within cap; J curve)."""
    theta = np.zeros((mdp.n_states, mdp.n_actions))
    curve = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", M.StepSizeWarning)
        for t in range(1, cap + 1):
            theta = step(mdp, theta, eta)
            curve.append(M.objective(mdp, softmax(theta)))
            if curve[-1] >= target:
                return t, np.array(curve)
    return None, np.array(curve)


def plot(path, ns, pg, npg_, curves):
    if not path:
        return
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed: no plot")
        return
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    axes[0].semilogy(ns, [np.nan if v is None else v for v in pg], "o-", label="gradient ascent")
    axes[0].semilogy(ns, [np.nan if v is None else v for v in npg_], "s-", label="NPG")
    axes[0].set_xlabel("chain length n")
    axes[0].set_ylabel("steps to J >= 0.9 J*")
    axes[0].legend()
    for label, c in curves.items():
        axes[1].semilogx(np.arange(1, c.size + 1), c, label=label)
    axes[1].set_xlabel("step t")
    axes[1].set_ylabel("J(theta_t)")
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    print(f"plot saved to {path}")


def main(argv=None):
    args = parse(argv, 50_000, "16_chain_plateau.png")
    ns = list(range(2, max(args.max_n, 2) + 1))
    pg, npg_, curves = [], [], {}
    for n in ns:
        mdp = chain_mdp(n, n_actions=4, gamma=0.95)
        J_star = M.policy_iteration(mdp).J
        t_pg, c_pg = steps_to(mdp, M.tabular_pg_step, 1.0, 0.9 * J_star, args.steps)
        t_npg, c_npg = steps_to(mdp, M.tabular_npg_step, 0.1, 0.9 * J_star, args.steps)
        pg.append(t_pg)
        npg_.append(t_npg)
        if n == ns[-1]:
            curves = {f"PG, n={n}": c_pg, f"NPG, n={n}": c_npg}
        show = lambda t: f">{args.steps}" if t is None else str(t)
        print(f"n = {n}: J* = {J_star:.4f}; steps to 0.9 J*: gradient ascent {show(t_pg)}, "
              f"NPG {show(t_npg)}")
    done = [v for v in pg if v is not None]
    growth = [b / a for a, b in zip(done, done[1:])]
    print("gradient ascent's count grows by x" + ", x".join(f"{g:.2f}" for g in growth)
          + " per added state (exponential); NPG's by "
          + ", ".join(str(b - a) for a, b in zip(npg_, npg_[1:]) if a and b) + " steps")
    plot(args.png, ns, pg, npg_, curves)
    return dict(n=ns, pg=pg, npg=npg_, growth=growth)


if __name__ == "__main__":
    main()
