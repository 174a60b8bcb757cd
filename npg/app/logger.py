"""CSV logs of a training run: one row per finished episode, one row per update.

A run directory holds

    episodes.csv   env_steps, wall_time, return, length      (one row per finished episode)
    updates.csv    update, env_steps, wall_time, <the algorithm's update stats>

``env_steps`` counts environment steps (all N copies) at the end of the rollout in which the
episode finished or the update was computed; ``wall_time`` is seconds since the logger opened.
Episode returns are raw environment rewards (never the scaled ones). Read them back with
``read_csv``; ``npg.app.plotting`` draws them.
"""

from __future__ import annotations

import csv
import io
import math
import os
import time
from typing import Mapping

import numpy as np

from .run_dir import open_for_write

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
    existing files (resumed training) instead of overwriting them; ``truncate_to`` (``{file
    name: bytes}``, as recorded in a checkpoint) first cuts them back to the rows written up
    to that checkpoint, so that a resumed run's logs continue exactly where its checkpoint is.
    ``wall_time_offset`` is added to the logged wall times (the time trained before a resume).
    Files are opened without following symlinks (``npg.app.run_dir.open_for_write``).
    """

    def __init__(self, log_dir: str | os.PathLike, append: bool = False,
                 truncate_to: Mapping[str, int] | None = None, wall_time_offset: float = 0.0):
        if not isinstance(log_dir, (str, os.PathLike)):
            raise TypeError(f"log_dir must be a path; got {type(log_dir).__name__}")
        self.log_dir = os.fspath(log_dir)
        os.makedirs(self.log_dir, exist_ok=True)
        self._t0 = time.perf_counter() - float(wall_time_offset)
        ep_path = os.path.join(self.log_dir, EPISODES_FILE)
        up_path = os.path.join(self.log_dir, UPDATES_FILE)
        if append and truncate_to:
            for path in (ep_path, up_path):
                _truncate(path, truncate_to.get(os.path.basename(path)))
        new = not append or not os.path.exists(ep_path) or os.path.getsize(ep_path) == 0
        self._ep = _text(open_for_write(ep_path, append=append))
        self._ep_writer = csv.writer(self._ep)
        if new:
            self._ep_writer.writerow(_EPISODE_FIELDS)
        self._up_fields = None
        if append and os.path.exists(up_path) and os.path.getsize(up_path) > 0:
            with open(up_path, newline="") as f:
                self._up_fields = next(csv.reader(f))
        self._up = _text(open_for_write(up_path, append=append))
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


def _text(binary):
    return io.TextIOWrapper(binary, newline="", encoding="utf-8")


def _truncate(path: str, size) -> None:
    """Cut ``path`` back to ``size`` bytes (a checkpoint's record of it); ValueError when the
    file is shorter than that (it is not the log the checkpoint was saved with)."""
    if size is None or not os.path.exists(path):
        return
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise ValueError(f"the checkpoint's size of {path!r} must be an int >= 0; got {size!r}")
    if os.path.getsize(path) < size:
        raise ValueError(f"{path!r} is shorter ({os.path.getsize(path)} bytes) than when its "
                         f"checkpoint was saved ({size} bytes): it is not that run's log")
    with open_for_write(path, append=True) as f:
        f.truncate(size)


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
