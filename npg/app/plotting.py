"""Learning-curve plots from run directories' CSV logs (matplotlib is optional).

``plot_learning_curve(run_dir)`` draws the return of every finished episode against the
environment steps at which it finished (faint dots), with the moving mean of the last
``window`` episodes (a line), and saves ``learning_curve.png`` in the run directory.
``plot_learning_curves([dir_1, ..., dir_n])`` draws 1 to ``MAX_RUNS`` = 10 runs on one axes,
one colour each (matplotlib's ten "tab10" colours, so no two runs share one), and
``learning_curve_figure`` returns that figure unsaved. Without matplotlib they raise an
ImportError saying how to install it.

Layout, chosen to read at 1 to 10 runs: a 9 x 4.8 inch figure saved at 150 dpi (1350 x 720
pixels); the legend sits outside the axes, to their right, so it never covers a curve, with
one entry per run (a single run: "episode return" and "mean of last N"); the title names the
environment and algorithm from each run's ``run.json`` (``npg.app.provenance``) when they are
shared, and the legend names each run by its directory (plus its algorithm or environment
where the runs differ in them).
"""

from __future__ import annotations

import json
import os

import numpy as np

from .logger import EPISODES_FILE, read_csv

__all__ = ["moving_mean", "plot_learning_curve", "plot_learning_curves",
           "learning_curve_figure", "MATPLOTLIB_MISSING", "MAX_RUNS", "FIGSIZE", "DPI"]

MATPLOTLIB_MISSING = ("plotting needs matplotlib, which is not installed; "
                      "install it with `pip install matplotlib`")
MAX_RUNS = 10
FIGSIZE = (9.0, 4.8)
DPI = 150


def moving_mean(x, window: int) -> np.ndarray:
    """``m[i] = mean(x[max(0, i - window + 1) : i + 1])``: the mean of the last ``window``
    values up to i (fewer at the start), ``[E] -> [E]``, by one cumulative sum."""
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 1:
        raise ValueError(f"window must be a positive int; got {window!r}")
    x = np.asarray(x, dtype=np.float64)
    c = np.concatenate([[0.0], np.cumsum(x)])
    i = np.arange(1, x.size + 1)
    lo = np.maximum(i - window, 0)
    return (c[i] - c[lo]) / (i - lo)


def _pyplot():
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError(MATPLOTLIB_MISSING) from None
    return plt


def _run_record(run_dir: str) -> dict:
    """``run.json``'s algo and env_id (empty strings without one)."""
    try:
        with open(os.path.join(run_dir, "run.json")) as f:
            rec = json.load(f)
    except (OSError, ValueError):
        rec = {}
    return {"algo": str(rec.get("algo") or ""), "env": str(rec.get("env_id") or "")}


def _check_runs(run_dirs) -> list[str]:
    if isinstance(run_dirs, (str, os.PathLike)):
        run_dirs = [run_dirs]
    dirs = [os.fspath(d) for d in run_dirs]
    if not 1 <= len(dirs) <= MAX_RUNS:
        raise ValueError(f"run_dirs must name 1 to {MAX_RUNS} run directories (one colour "
                         f"each); got {len(dirs)} (for a sweep, `npg compare DIR --plot`)")
    return dirs


def _names(dirs, recs) -> tuple[list[str], str]:
    """Legend labels and the title: shared algo / env go to the title, differing ones to the
    labels; labels are the directories' names (their paths where names repeat)."""
    base = [os.path.basename(os.path.abspath(d)) for d in dirs]
    labels = base if len(set(base)) == len(base) else list(dirs)
    shared = {}
    for key in ("env", "algo"):
        values = {r[key] for r in recs}
        if len(values) == 1:
            shared[key] = values.pop()
        else:
            labels = [f"{lab} ({r[key]})" if r[key] else lab for lab, r in zip(labels, recs)]
    title = " / ".join(v for v in (shared.get("env"), shared.get("algo")) if v)
    if len(dirs) == 1:
        title = f"{title}: {base[0]}" if title else base[0]
    return labels, title


def learning_curve_figure(run_dirs, window: int = 20, title: str | None = None):
    """The matplotlib Figure of 1 to 10 runs' learning curves (module docstring): per run the
    episode returns as dots and their moving mean over ``window`` episodes as a line, the
    legend outside the axes on the right. ``run_dirs``: one directory or a sequence."""
    dirs = _check_runs(run_dirs)
    moving_mean([], window)                                   # validates window
    logs = [read_csv(os.path.join(d, EPISODES_FILE)) for d in dirs]
    labels, auto_title = _names(dirs, [_run_record(d) for d in dirs])
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=FIGSIZE)
    colours = plt.get_cmap("tab10").colors
    single = len(dirs) == 1
    for i, (log, label) in enumerate(zip(logs, labels)):
        steps, ret = log["env_steps"], log["return"]
        c = colours[i % len(colours)]
        ax.plot(steps, ret, ".", ms=2, alpha=0.3 if single else 0.15, color=c,
                label="episode return" if single else "_nolegend_")
        if ret.size:
            ax.plot(steps, moving_mean(ret, window), lw=2, color=c,
                    label=f"mean of last {window}" if single else label)
    from matplotlib.ticker import FuncFormatter
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:,.0f}"))   # 1,000,000, not 1e6
    ax.set_xlabel("environment steps")
    ax.set_ylabel("episode return" if single else f"return (mean of last {window} episodes)")
    ax.set_title(title or auto_title)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, frameon=False,
              fontsize="small", markerscale=4)
    fig.tight_layout()
    return fig


def plot_learning_curves(run_dirs, out: str | os.PathLike, window: int = 20,
                         title: str | None = None) -> str:
    """Save ``learning_curve_figure(run_dirs, window, title)`` as the PNG ``out``; returns
    its path."""
    out = os.fspath(out)
    fig = learning_curve_figure(run_dirs, window, title)
    try:
        fig.savefig(out, dpi=DPI, bbox_inches="tight")
    finally:
        _pyplot().close(fig)
    return out


def plot_learning_curve(run_dir: str | os.PathLike, out: str | os.PathLike | None = None,
                        window: int = 20, title: str | None = None) -> str:
    """Save a PNG of one run's episode returns against env steps; returns its path.

    run_dir  a directory with ``episodes.csv`` (written by ``Agent.learn(log_dir=...)``).
    out      the PNG path (default ``run_dir/learning_curve.png``).
    window   episodes in the moving mean drawn over the raw returns.
    """
    read_csv(os.path.join(os.fspath(run_dir), EPISODES_FILE))   # a missing log: its error
    _pyplot()
    out = os.path.join(os.fspath(run_dir), "learning_curve.png") if out is None else out
    return plot_learning_curves([run_dir], out, window, title)
