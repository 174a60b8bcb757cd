"""CSV logs of a training run: one row per finished episode, one row per update.

A run directory holds

    episodes.csv   env_steps, wall_time, return, length      (one row per finished episode)
    updates.csv    update, env_steps, wall_time, <the algorithm's update stats>

``env_steps`` counts environment steps (all N copies) at the end of the rollout in which the
episode finished or the update was computed; ``wall_time`` is seconds since the logger opened.
Episode returns are raw environment rewards (never the scaled ones). Read them back with
``read_csv``; ``npg.plotting`` draws them.
"""

from __future__ import annotations

import csv
import math
import os
import time
from typing import Mapping

import numpy as np

__all__ = ["CSVLogger", "read_csv", "EPISODES_FILE", "UPDATES_FILE"]

EPISODES_FILE = "episodes.csv"
UPDATES_FILE = "updates.csv"
_EPISODE_FIELDS = ("env_steps", "wall_time", "return", "length")


def _cell(v) -> str:
    if isinstance(v, (float, np.floating)):
        return repr(float(v))
    return str(v)


class CSVLogger:
    """Appends episode and update rows under ``log_dir`` (created if missing).

    The update columns are fixed by the first ``log_update`` call (sorted stat names); later
    stats not among them are dropped, missing ones are left empty. ``append=True`` continues
    existing files (resumed training) instead of overwriting them.
    """

    def __init__(self, log_dir: str | os.PathLike, append: bool = False):
        if not isinstance(log_dir, (str, os.PathLike)):
            raise TypeError(f"log_dir must be a path; got {type(log_dir).__name__}")
        self.log_dir = os.fspath(log_dir)
        os.makedirs(self.log_dir, exist_ok=True)
        self._t0 = time.perf_counter()
        mode = "a" if append else "w"
        ep_path = os.path.join(self.log_dir, EPISODES_FILE)
        new = mode == "w" or not os.path.exists(ep_path) or os.path.getsize(ep_path) == 0
        self._ep = open(ep_path, mode, newline="")
        self._ep_writer = csv.writer(self._ep)
        if new:
            self._ep_writer.writerow(_EPISODE_FIELDS)
        up_path = os.path.join(self.log_dir, UPDATES_FILE)
        self._up_fields = None
        if append and os.path.exists(up_path) and os.path.getsize(up_path) > 0:
            with open(up_path, newline="") as f:
                self._up_fields = next(csv.reader(f))
        self._up = open(up_path, mode, newline="")
        self._up_writer = csv.writer(self._up)

    @property
    def wall_time(self) -> float:
        return time.perf_counter() - self._t0

    def log_episodes(self, env_steps: int, returns, lengths) -> None:
        """One row per finished episode (``returns [E]``, ``lengths [E]``)."""
        t = self.wall_time
        for r, n in zip(np.asarray(returns).tolist(), np.asarray(lengths).tolist()):
            self._ep_writer.writerow((env_steps, _cell(t), _cell(float(r)), int(n)))

    def log_update(self, update: int, env_steps: int, stats: Mapping[str, float]) -> None:
        """One row of update statistics."""
        if self._up_fields is None:
            self._up_fields = ["update", "env_steps", "wall_time"] + sorted(stats)
            self._up_writer.writerow(self._up_fields)
        row = {"update": update, "env_steps": env_steps, "wall_time": self.wall_time, **stats}
        self._up_writer.writerow([_cell(row[k]) if k in row else "" for k in self._up_fields])

    def flush(self) -> None:
        self._ep.flush()
        self._up.flush()

    def close(self) -> None:
        self._ep.close()
        self._up.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def read_csv(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """A CSV log as ``{column: float64 array}`` (empty cells become NaN); ValueError if the
    file is missing or has no header."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ValueError(f"path must be an existing CSV log; {path!r} does not exist")
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if not rows:
        raise ValueError(f"path must be a CSV log with a header row; {path!r} is empty")
    header, body = rows[0], rows[1:]
    cols = {k: np.array([float(r[i]) if i < len(r) and r[i] != "" else math.nan for r in body],
                        dtype=np.float64) for i, k in enumerate(header)}
    return cols
