"""Learning-curve plots from a run directory's CSV logs (matplotlib is optional).

``plot_learning_curve(run_dir)`` draws the return of every finished episode against the
environment steps at which it finished, with the moving mean of the last ``window`` episodes,
and saves ``learning_curve.png`` in the run directory. Without matplotlib it raises an
ImportError saying how to install it.
"""

from __future__ import annotations

import os

import numpy as np

from .logger import EPISODES_FILE, read_csv

__all__ = ["moving_mean", "plot_learning_curve", "MATPLOTLIB_MISSING"]

MATPLOTLIB_MISSING = ("plotting needs matplotlib, which is not installed; "
                      "install it with `pip install matplotlib`")


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


def plot_learning_curve(run_dir: str | os.PathLike, out: str | os.PathLike | None = None,
                        window: int = 20, title: str | None = None) -> str:
    """Save a PNG of episode returns against env steps; returns its path.

    run_dir  a directory with ``episodes.csv`` (written by ``Agent.learn(log_dir=...)``).
    out      the PNG path (default ``run_dir/learning_curve.png``).
    window   episodes in the moving mean drawn over the raw returns.
    """
    log = read_csv(os.path.join(os.fspath(run_dir), EPISODES_FILE))
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError(MATPLOTLIB_MISSING) from None
    out = os.path.join(os.fspath(run_dir), "learning_curve.png") if out is None else os.fspath(out)
    steps, ret = log["env_steps"], log["return"]
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(steps, ret, ".", ms=2, alpha=0.3, label="episode return")
    if ret.size:
        ax.plot(steps, moving_mean(ret, window), lw=2, label=f"mean of last {window}")
    ax.set_xlabel("environment steps")
    ax.set_ylabel("return")
    ax.set_title(title or os.path.basename(os.path.abspath(os.fspath(run_dir))))
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out
