"""Figures of a sweep (matplotlib, ``pip install 'npg[plot]'``), each titled with the task,
the algorithm and the number of seeds:

    curves.png      the IQM learning curve of every config over env steps, with its 95 %
                    bootstrap band (runs resampled at each step), configs overlaid
    intervals.png   IQM, median and mean of the final return per config with their
                    stratified bootstrap intervals (Agarwal et al., 2021, fig. 1 style)
    profile.png     the performance profile of the final return (fraction of runs scoring
                    above tau) with bootstrap bands

``plot_sweep(SWEEP_DIR)`` writes all three into the sweep directory and returns their paths.
"""

from __future__ import annotations

import os

import numpy as np

from .curves import sweep_curves
from .stats import METRICS, interval, profile_interval

__all__ = ["plot_sweep", "curve_band"]


def _plt():
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ModuleNotFoundError:
        raise ImportError("plots need matplotlib: pip install 'npg[plot]'") from None
    return plt


def curve_band(curves: np.ndarray, n_resamples: int = 1000, confidence: float = 0.95,
               seed: int = 0):
    """``(iqm, low, high)``, each ``[G]``, of ``curves [R, G]``: the IQM over runs at each step
    and its percentile bootstrap interval (NaN where a run has no episode yet, or R < 2)."""
    from .stats import _scipy_stats
    curves = np.asarray(curves, dtype=np.float64)
    g = curves.shape[1]
    mid, lo, hi = (np.full(g, np.nan) for _ in range(3))
    ok = np.all(np.isfinite(curves), axis=0)
    if not ok.any():
        return mid, lo, hi
    st = _scipy_stats()
    x = curves[:, ok].T                                       # [G', R]
    mid[ok] = st.trim_mean(x, 0.25, axis=-1)
    if curves.shape[0] >= 2:
        res = st.bootstrap((x,), lambda s, axis: st.trim_mean(s, 0.25, axis=axis),
                           n_resamples=n_resamples, confidence_level=confidence, axis=-1,
                           vectorized=True, method="percentile", rng=np.random.default_rng(seed))
        lo[ok], hi[ok] = res.confidence_interval.low, res.confidence_interval.high
    return mid, lo, hi


def _title(data, what: str) -> str:
    n = sorted({len(c["seeds"]) for c in data["configs"] if c["seeds"]})
    seeds = f"{n[0]} seeds" if len(n) == 1 else f"{n[0]}-{n[-1]} seeds"
    return f"{data['env']}, {data['algo']}: {what} ({seeds} per config)"


def plot_sweep(sweep_dir, out_dir=None, seed: int = 0, n_resamples: int = 1000) -> list[str]:
    """Write curves.png, intervals.png and profile.png (module docstring); returns the paths."""
    plt = _plt()
    data = sweep_curves(sweep_dir)
    configs = [c for c in data["configs"] if c["seeds"]]
    if not configs:
        raise ValueError(f"{os.fspath(sweep_dir)!r} has no finished job to plot")
    out_dir = os.fspath(sweep_dir if out_dir is None else out_dir)
    os.makedirs(out_dir, exist_ok=True)
    paths = []
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for c in configs:
        mid, lo, hi = curve_band(c["curves"], n_resamples, seed=seed)
        line, = ax.plot(data["grid"], mid, label=c["label"])
        ax.fill_between(data["grid"], lo, hi, color=line.get_color(), alpha=0.2)
    ax.set(xlabel="environment steps", ylabel="IQM training return (95% CI)",
           title=_title(data, "learning curves"))
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    paths.append(_save(fig, plt, os.path.join(out_dir, "curves.png")))
    fig, axes = plt.subplots(1, len(METRICS), figsize=(3 * len(METRICS) + 1.5,
                                                       0.6 * len(configs) + 1.8), sharey=True)
    for ax, m in zip(np.atleast_1d(axes), ("iqm", "median", "mean")):
        for k, c in enumerate(configs):
            p, lo, hi = interval(c["final"], m, 2 * n_resamples, seed=seed)
            if np.isfinite(lo):
                ax.barh(k, hi - lo, left=lo, height=0.6, alpha=0.5, color=f"C{k}")
            ax.plot([p, p], [k - 0.3, k + 0.3], color="k")
        ax.set(title=m.upper() if m == "iqm" else m, xlabel="final return")
        ax.set_yticks(range(len(configs)), [c["label"] for c in configs], fontsize=8)
        ax.grid(axis="x", alpha=0.3)
    fig.suptitle(_title(data, "final return, 95% stratified bootstrap CIs"), fontsize=10)
    paths.append(_save(fig, plt, os.path.join(out_dir, "intervals.png")))
    allf = np.concatenate([c["final"] for c in configs])
    taus = np.linspace(allf.min(), allf.max(), 101)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for c in configs:
        prof, lo, hi = profile_interval(c["final"], taus, n_resamples, seed=seed)
        line, = ax.plot(taus, prof, label=c["label"])
        if np.all(np.isfinite(lo)):
            ax.fill_between(taus, lo, hi, color=line.get_color(), alpha=0.2)
    ax.set(xlabel="final return tau", ylabel="fraction of runs with return > tau",
           title=_title(data, "performance profile"))
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    paths.append(_save(fig, plt, os.path.join(out_dir, "profile.png")))
    return paths


def _save(fig, plt, path: str) -> str:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
