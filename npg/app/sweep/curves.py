"""Learning curves of many runs on one grid of environment steps, and their scalar summaries.

A run's curve at env step s is the mean raw return of its last ``window`` training episodes
finished by step s (the running mean the progress bar shows):

    c(s) = mean{ R_e : e among the last ``window`` episodes with env_steps_e <= s }

evaluated on the grid s_g = g S / G, g = 1..G (S the planned steps); NaN before the first
episode has ended. From it:

    final return   the deterministic evaluation's mean return (``done.json``) when the sweep
                   evaluated, else c(S)
    AUC            the normalised area under the curve, (1 / G) sum_g c(s_g) (the grid points
                   where c is defined; a mean return over training, in return units), which
                   rewards learning early as well as well (Agarwal et al., 2021, sec. 5)

All from the run directories' ``episodes.csv`` (``npg.app.logger.read_csv``).
"""

from __future__ import annotations

import os

import numpy as np

__all__ = ["run_curve", "sweep_curves", "auc"]


def run_curve(run_dir, grid: np.ndarray, window: int = 20) -> np.ndarray:
    """``[G]`` running-mean return of run directory ``run_dir`` at the env steps ``grid``."""
    from ..logger import EPISODES_FILE, read_csv
    if not isinstance(window, int) or isinstance(window, bool) or window < 1:
        raise ValueError(f"window must be a positive int; got {window!r}")
    grid = np.asarray(grid, dtype=np.float64)
    log = read_csv(os.path.join(os.fspath(run_dir), EPISODES_FILE))
    steps, rets = log.get("env_steps", np.empty(0)), log.get("return", np.empty(0))
    csum = np.concatenate([[0.0], np.cumsum(rets)])
    n = np.searchsorted(steps, grid, side="right")       # episodes finished by each s_g
    lo = np.maximum(n - window, 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = (csum[n] - csum[lo]) / (n - lo)
    out[n == 0] = np.nan
    return out


def auc(curves: np.ndarray) -> np.ndarray:
    """``[R]`` normalised area under each curve of ``curves [R, G]`` (NaN points skipped; NaN
    for a curve that is NaN everywhere)."""
    curves = np.asarray(curves, dtype=np.float64)
    ok = np.isfinite(curves)
    total = np.where(ok, curves, 0.0).sum(axis=-1)
    count = ok.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def sweep_curves(sweep_dir, n_points: int = 50, window: int = 20) -> dict:
    """Per config of the sweep in ``sweep_dir``, over its done jobs: ``{"grid": [G],
    "configs": [{"index", "label", "config", "seeds": [R], "curves": [R, G],
    "final": [R], "auc": [R]}]}``."""
    from .jobs import read_result
    from .runner import job_dirs, load_plan
    if not isinstance(n_points, int) or isinstance(n_points, bool) or n_points < 2:
        raise ValueError(f"n_points must be an int >= 2; got {n_points!r}")
    plan = load_plan(sweep_dir)
    grid = np.linspace(plan.steps / n_points, plan.steps, n_points)
    dirs = job_dirs(sweep_dir, plan)
    out = []
    for i, cfg in enumerate(plan.configs):
        seeds, curves, final = [], [], []
        for j in (j for j in plan.jobs() if j["config_index"] == i):
            res = read_result(dirs[j["id"]]) if os.path.isdir(dirs[j["id"]]) else None
            if res is None or res["status"] != "done":
                continue
            c = run_curve(dirs[j["id"]], grid, window)
            seeds.append(j["seed"])
            curves.append(c)
            fr = res.get("final_return")
            final.append(c[-1] if fr is None else fr)
        curves = np.array(curves).reshape(len(seeds), n_points)
        out.append({"index": i, "label": config_label(cfg, i), "config": cfg, "seeds": seeds,
                    "curves": curves, "final": np.asarray(final, dtype=np.float64),
                    "auc": auc(curves)})
    return {"grid": grid, "configs": out, "env": plan.env, "algo": plan.algo,
            "steps": plan.steps}


def config_label(cfg: dict, index: int) -> str:
    """``"lr=0.001 hidden=(8,)"`` (``"c000"`` style for the empty config)."""
    if not cfg:
        return f"c{index:03d}"
    return " ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
                    for k, v in cfg.items())
