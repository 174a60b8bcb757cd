"""Aggregate statistics of many runs (Agarwal et al., 2021, "Deep reinforcement learning at
the edge of the statistical precipice", NeurIPS), on a score matrix ``scores [R, M]`` (R runs
of each of M tasks; one sweep has M = 1):

    mean      (1/M) sum_m (1/R) sum_r x_rm                 (the mean over tasks of task means)
    median    the median of all R M scores
    IQM       the mean of the middle 50 % of all R M scores: scipy.stats.trim_mean(x, 0.25)
              (robust to outlier runs, far less variable than the median)
    profile   tau -> (1/M) sum_m (1/R) sum_r 1[x_rm > tau]    (the performance profile: the
              fraction of runs scoring above tau)
    P(X > Y)  (1/M) sum_m P(X_m > Y_m), P(X_m > Y_m) = U_m / (R_x R_y), U_m the Mann-Whitney U
              of x_m against y_m: the probability that a run of X beats a run of Y, ties
              counting half (probability of improvement)

Interval estimates are stratified bootstrap confidence intervals: the runs of each task are
resampled with replacement independently of the other tasks' (scipy.stats.bootstrap with one
sample per task and ``paired=False`` is exactly that), percentile intervals by default as in
rliable. Point estimates equal rliable's ``aggregate_mean``, ``aggregate_iqm``,
``run_score_distributions`` and ``probability_of_improvement`` (tests/app/test_sweep_stats.py
checks them where rliable is installed); rliable's ``aggregate_median`` is the median over
tasks of the task means, which for one task is the mean, so ``median`` here is of all runs.

Why SciPy and not rliable: rliable's bootstrap is arch's ``IIDBootstrap``; installing rliable
pulls arch, statsmodels, pandas and seaborn (measured in docs/sweeps.md), while
scipy.stats has the same bootstrap, trimmed mean and Mann-Whitney U in one package; rliable's
last release is from 2024. SciPy is imported only when a statistic is computed
(``pip install 'npg[stats]'``).
"""

from __future__ import annotations

import numpy as np

__all__ = ["mean", "median", "iqm", "performance_profile", "probability_of_improvement",
           "interval", "profile_interval", "improvement_interval", "METRICS", "aggregate_sweep",
           "format_table"]


def _scipy_stats():
    try:
        import scipy.stats
    except ModuleNotFoundError:
        raise ImportError("aggregate statistics need SciPy: pip install 'npg[stats]'") from None
    return scipy.stats


def _matrix(scores, name: str = "scores") -> np.ndarray:
    x = np.asarray(scores, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2 or x.shape[0] < 1 or x.shape[1] < 1:
        raise ValueError(f"{name} must be [R runs] or [R runs, M tasks] with R, M >= 1; got "
                         f"shape {np.shape(scores)}")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} must be finite; got NaN or inf")
    return x


def _cols(x: np.ndarray) -> tuple:
    return tuple(x[:, m] for m in range(x.shape[1]))


# statistics of samples (one per task), vectorised along `axis` for scipy.stats.bootstrap
def _mean_of(*cols, axis=-1):
    return np.mean([np.mean(c, axis=axis) for c in cols], axis=0)


def _median_of(*cols, axis=-1):
    return np.median(np.concatenate(cols, axis=axis), axis=axis)


def _iqm_of(*cols, axis=-1):
    return _scipy_stats().trim_mean(np.concatenate(cols, axis=axis), 0.25, axis=axis)


METRICS = {"mean": _mean_of, "median": _median_of, "iqm": _iqm_of}


def mean(scores) -> float:
    return float(_mean_of(*_cols(_matrix(scores))))


def median(scores) -> float:
    return float(_median_of(*_cols(_matrix(scores))))


def iqm(scores) -> float:
    return float(_iqm_of(*_cols(_matrix(scores))))


def _bootstrap(samples, statistic, n_resamples, confidence, seed, method):
    if not isinstance(n_resamples, int) or isinstance(n_resamples, bool) or n_resamples < 1:
        raise ValueError(f"n_resamples must be a positive int; got {n_resamples!r}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1); got {confidence!r}")
    if any(len(s) < 2 for s in samples):
        nan = np.full(np.shape(statistic(*samples)), np.nan)
        return nan, nan                          # one run: no interval
    res = _scipy_stats().bootstrap(samples, statistic, n_resamples=n_resamples,
                                   confidence_level=confidence, vectorized=True, paired=False,
                                   method=method, rng=np.random.default_rng(seed))
    return res.confidence_interval.low, res.confidence_interval.high


def interval(scores, metric: str = "iqm", n_resamples: int = 2000, confidence: float = 0.95,
             seed: int = 0, method: str = "percentile") -> tuple[float, float, float]:
    """``(point, low, high)`` of ``metric`` ("mean", "median", "iqm") with its stratified
    bootstrap interval (NaN bounds with a single run)."""
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {sorted(METRICS)}; got {metric!r}")
    cols = _cols(_matrix(scores))
    lo, hi = _bootstrap(cols, METRICS[metric], n_resamples, confidence, seed, method)
    return float(METRICS[metric](*cols)), float(lo), float(hi)


def _profile_of(taus):
    def stat(*cols, axis=-1):                  # [T, ...]: scipy wants resamples last
        p = np.mean([np.mean(np.moveaxis(c, axis, -1)[..., None] > taus, axis=-2)
                     for c in cols], axis=0)
        return np.moveaxis(p, -1, 0)
    return stat


def performance_profile(scores, taus) -> np.ndarray:
    """``[len(taus)]``: the fraction of runs scoring above each tau (module docstring)."""
    taus = np.asarray(taus, dtype=np.float64).ravel()
    return _profile_of(taus)(*_cols(_matrix(scores)))


def profile_interval(scores, taus, n_resamples: int = 2000, confidence: float = 0.95,
                     seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(profile, low, high)``, each ``[len(taus)]``, with stratified bootstrap bands."""
    taus = np.asarray(taus, dtype=np.float64).ravel()
    cols = _cols(_matrix(scores))
    lo, hi = _bootstrap(cols, _profile_of(taus), n_resamples, confidence, seed, "percentile")
    return _profile_of(taus)(*cols), np.asarray(lo), np.asarray(hi)


def _poi_of(n_tasks: int):
    def stat(*cols, axis=-1):
        xs, ys = cols[:n_tasks], cols[n_tasks:]
        ps = []
        for x, y in zip(xs, ys):
            gt = (x[..., :, None] > y[..., None, :]).mean(axis=(-2, -1))
            eq = (x[..., :, None] == y[..., None, :]).mean(axis=(-2, -1))
            ps.append(gt + 0.5 * eq)
        return np.mean(ps, axis=0)
    return stat


def probability_of_improvement(x, y) -> float:
    """P(X > Y) of score matrices ``x [R_x, M]`` and ``y [R_y, M]`` (module docstring), from
    SciPy's Mann-Whitney U."""
    x, y = _matrix(x, "x"), _matrix(y, "y")
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"x and y must have the same number of tasks; got {x.shape[1]} and "
                         f"{y.shape[1]}")
    mwu = _scipy_stats().mannwhitneyu
    return float(np.mean([mwu(x[:, m], y[:, m]).statistic / (x.shape[0] * y.shape[0])
                          for m in range(x.shape[1])]))


def improvement_interval(x, y, n_resamples: int = 2000, confidence: float = 0.95,
                         seed: int = 0) -> tuple[float, float, float]:
    """``(P(X > Y), low, high)``: the runs of X and of Y of each task resampled independently."""
    x, y = _matrix(x, "x"), _matrix(y, "y")
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"x and y must have the same number of tasks; got {x.shape[1]} and "
                         f"{y.shape[1]}")
    lo, hi = _bootstrap(_cols(x) + _cols(y), _poi_of(x.shape[1]), n_resamples, confidence,
                        seed, "percentile")
    return probability_of_improvement(x, y), float(lo), float(hi)


def aggregate_sweep(sweep_dir, n_resamples: int = 2000, confidence: float = 0.95,
                    seed: int = 0, n_points: int = 50, window: int = 20) -> dict:
    """Per config of a sweep: ``{metric: (point, low, high)}`` of the final return and of the
    AUC (``npg.app.sweep.curves``), and P(config beats the config of best IQM final return).
    ``n`` counts the config's finished jobs; a score that is NaN (a run that finished no
    episode, and was not evaluated) is left out of that score's statistics."""
    from .curves import sweep_curves
    data = sweep_curves(sweep_dir, n_points, window)
    rows = []
    for c in data["configs"]:
        row = {"label": c["label"], "index": c["index"], "n": len(c["seeds"])}
        for score in ("final", "auc"):
            x = c[score][np.isfinite(c[score])]      # a run that never ended an episode: NaN
            for m in METRICS:
                row[f"{score}_{m}"] = interval(x, m, n_resamples, confidence, seed) \
                    if x.size else (np.nan, np.nan, np.nan)
        rows.append(row)
    ranked = [r for r in rows if np.isfinite(r["final_iqm"][0])]
    best = max(ranked, key=lambda r: r["final_iqm"][0]) if ranked else None
    for r in rows:
        fin = lambda row: (lambda f: f[np.isfinite(f)])(data["configs"][row["index"]]["final"])
        r["p_beats_best"] = (np.nan, np.nan, np.nan) if r is best or r not in ranked else \
            improvement_interval(fin(r), fin(best), n_resamples, confidence, seed)
    return {"env": data["env"], "algo": data["algo"], "steps": data["steps"], "rows": rows,
            "best": None if best is None else best["label"], "confidence": confidence}


def _fmt(t) -> str:
    p, lo, hi = t
    if not np.isfinite(p):
        return "-"
    return f"{p:.1f} [{lo:.1f}, {hi:.1f}]" if np.isfinite(lo) else f"{p:.1f}"


def format_table(table: dict) -> str:
    """The aggregate table as text: one line per config."""
    pct = int(round(100 * table["confidence"]))
    head = [f"{table['algo']} on {table['env']}, {table['steps']:,} steps; point estimate "
            f"[{pct}% stratified bootstrap CI]; best (IQM final): {table['best']}"]
    cols = ["config", "n", "IQM final", "mean final", "median final", "IQM AUC",
            "P(beats best)"]
    body = []
    for r in table["rows"]:
        pb = r["p_beats_best"]
        body.append([r["label"], str(r["n"]), _fmt(r["final_iqm"]), _fmt(r["final_mean"]),
                     _fmt(r["final_median"]), _fmt(r["auc_iqm"]),
                     "-" if not np.isfinite(pb[0]) else
                     (f"{pb[0]:.2f} [{pb[1]:.2f}, {pb[2]:.2f}]" if np.isfinite(pb[1])
                      else f"{pb[0]:.2f}")])
    widths = [max(len(x) for x in col) for col in zip(cols, *body)]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()
    return "\n".join(head + [line(cols)] + [line(b) for b in body])
