"""Policy gradient on LQR: exact gradient descent, natural gradient and Gauss-Newton converge
linearly to the Riccati gain K*, each at least as fast as the rate Fazel et al. (2018) prove.

The problem is a fixed random system (n = 4 states, m = 2 inputs, A with spectral radius 0.95 so
that K0 = 0 is stabilising, Q = I, R = I, Sigma0 = I, undiscounted, no noise). npg.mdp.lqr gives
the exact cost C(K) = tr(P_K Sigma0), its gradient 2 E_K Sigma_K and K* (Riccati). The three
updates, with mu = sigma_min(Sigma0) and Sigma* = Sigma_{K*}:

    gradient descent  K <- K - eta grad C(K)
    natural gradient  K <- K - eta grad C(K) Sigma_K^{-1}                  (= K - 2 eta E_K)
    Gauss-Newton      K <- K - eta (R + B'P_K B)^{-1} grad C(K) Sigma_K^{-1}, eta = 1/2

and the per-step bounds on C(K') - C* <= rate (C(K) - C*) that follow from Fazel et al.'s cost
difference lemma and gradient domination C(K) - C* <= ||Sigma*|| tr(E_K'(R + B'P_K B)^{-1} E_K):

    Gauss-Newton, eta = 1/2:   rate = 1 - mu / ||Sigma*||
    natural gradient, eta = 1 / (2 (||R|| + ||B||^2 C(K0) / mu)) <= 1 / (2 ||R + B'P_K B||):
                               rate = 1 - 2 eta mu sigma_min(R) / ||Sigma*||
    gradient descent, a fixed eta where C(K') <= C(K) - eta/2 ||grad C||^2 (checked per step),
    with ||E_K|| <= ||grad C|| / (2 mu):
                               rate = 1 - 2 eta mu^2 sigma_min(R) / ||Sigma*||

Expected outcome (default settings, measured; 10 s): every method converges linearly and its
worst measured one-step ratio (C(K_{k+1}) - C*) / (C(K_k) - C*) stays below its bound, which is
loose, as worst-case constants are:

    method            eta      steps  final gap  worst ratio  bound
    Gauss-Newton      0.5          4   2.7e-15    0.0090      0.5975   (quadratic near K*)
    natural gradient  0.0047     578   1.0e-13    0.9499      0.9962
    gradient descent  0.0005    3000   2.8e-08    0.9944      0.9996

Gradient descent's first step from K0 = 0 (|grad C| = 569) does not satisfy the sufficient
decrease its bound assumes (the landscape is steepest there); its ratio is checked on the other
2999 steps. A PNG of C(K_k) - C* against k, with the bounds, is written when matplotlib is
installed.

    python examples/18_lqr_rates.py [--iters 3000] [--eta-gd 5e-4] [--png lqr_rates.png]
"""

from __future__ import annotations

import argparse

import numpy as np

from npg.mdp.lqr import (LQR, cost, gauss_newton_direction, gradient, natural_gradient,
                         riccati, spectral_radius, state_covariance)


def make_system(seed: int, gamma: float) -> LQR:
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((4, 4))
    A *= 0.95 / spectral_radius(A)
    B = rng.standard_normal((4, 2))
    return LQR(A, B, np.eye(4), np.eye(2), np.eye(4), gamma)


def run(lqr, K0, step, eta, iters, c_star, tol=1e-13):
    """(gaps C(K_k) - C* [k + 1], descent [k] bool) for K_{k+1} = K_k - eta step(K_k).

    descent[k]: the sufficient decrease C(K_{k+1}) <= C(K_k) - eta/2 |grad|^2 that the
    gradient-descent rate assumes (True for the other methods, whose bounds need no check).
    Stops at a gap below ``tol``.
    """
    K, gaps, descent = K0.copy(), [cost(lqr, K0) - c_star], []
    for _ in range(iters):
        d = step(lqr, K)
        K_new = K - eta * d
        c_new = cost(lqr, K_new)
        descent.append(step is not gradient or
                       c_new <= gaps[-1] + c_star - eta / 2 * np.sum(d * d) + 1e-12)
        K = K_new
        gaps.append(c_new - c_star)
        if gaps[-1] < tol:
            break
    return np.array(gaps), np.array(descent)


def worst_ratio(gaps, use, floor=1e-10):
    """max_k gap_{k+1} / gap_k over the steps ``use`` whose gap is above the rounding floor."""
    keep = use & (gaps[:-1] > floor * max(1.0, gaps[0])) & (gaps[1:] > 0)
    ratios = gaps[1:][keep] / gaps[:-1][keep]
    return float(np.max(ratios)) if ratios.size else 0.0


def rates(lqr, K0, K_star, eta_gd):
    """(eta, bound) per method, from mu, ||Sigma*||, sigma_min(R), ||B||, C(K0)."""
    mu = np.linalg.eigvalsh(lqr.Sigma0)[0]
    s_star = np.linalg.eigvalsh(state_covariance(lqr, K_star))[-1]
    r_min, r_max = np.linalg.eigvalsh(lqr.R)[[0, -1]]
    eta_ng = 1.0 / (2 * (r_max + lqr.gamma * np.linalg.norm(lqr.B, 2) ** 2 * cost(lqr, K0) / mu))
    return {"Gauss-Newton": (gauss_newton_direction, 0.5, 1 - mu / s_star),
            "natural gradient": (natural_gradient, eta_ng, 1 - 2 * eta_ng * mu * r_min / s_star),
            "gradient descent": (gradient, eta_gd, 1 - 2 * eta_gd * mu ** 2 * r_min / s_star)}


def plot(curves, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed: no plot")
        return
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, (gaps, bound) in curves.items():
        line, = ax.semilogy(np.maximum(gaps, 1e-16), label=f"{name} (measured)")
        k = np.arange(gaps.size)
        ax.semilogy(k, gaps[0] * bound ** k, "--", color=line.get_color(), alpha=0.6,
                    label=f"{name} bound {bound:.4g}$^k$")
    ax.set_xlabel("iteration k")
    ax.set_ylabel("C(K_k) - C(K*)")
    ax.set_ylim(1e-14, None)
    ax.set_title("Exact policy gradient on LQR (Fazel et al. 2018)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"wrote {path}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iters", type=int, default=3000, help="iterations per method")
    ap.add_argument("--eta-gd", type=float, default=5e-4, help="gradient-descent step")
    ap.add_argument("--gamma", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--png", default="lqr_rates.png", help="'' for no plot")
    args = ap.parse_args(argv)

    lqr = make_system(args.seed, args.gamma)
    K_star, _ = riccati(lqr)
    c_star = cost(lqr, K_star)
    K0 = np.zeros((lqr.m, lqr.n))
    print(f"LQR n={lqr.n} m={lqr.m} gamma={lqr.gamma}: C(K0 = 0) = {cost(lqr, K0):.6g}, "
          f"C(K*) = {c_star:.6g}, |grad C(K*)| = {np.linalg.norm(gradient(lqr, K_star)):.1e}")
    print(f"{'method':18s} {'eta':>9s} {'steps':>6s} {'final gap':>10s} {'worst ratio':>12s} "
          f"{'bound':>9s}  within bound")
    curves, result = {}, {}
    for name, (step, eta, bound) in rates(lqr, K0, K_star, args.eta_gd).items():
        gaps, descent = run(lqr, K0, step, eta, args.iters, c_star)
        worst = worst_ratio(gaps, descent)
        ok = worst <= bound
        note = "" if descent.all() else (f" (on the {descent.sum()} of {descent.size} steps "
                                         f"with sufficient decrease)")
        print(f"{name:18s} {eta:9.3g} {gaps.size - 1:6d} {gaps[-1]:10.2e} {worst:12.6f} "
              f"{bound:9.6f}  {'yes' if ok else 'NO'}{note}")
        curves[name], result[name] = (gaps, bound), dict(worst=worst, bound=bound, ok=ok,
                                                         gaps=gaps, descent=descent)
    if args.png:
        plot(curves, args.png)
    return result


if __name__ == "__main__":
    main()
