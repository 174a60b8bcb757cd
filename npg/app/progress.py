"""Training progress: a tqdm bar in a terminal, plain log lines anywhere else.

    bar = ProgressBar(total=50_000)
    bar.update(done=2048, info={"return": 21.5})       # absolute count, not an increment
    bar.close()

In a terminal (``stream.isatty()``) the bar is tqdm's: steps, percentage, elapsed time, ETA,
rate and the recent mean return. The first update of a run includes Numba's compilation (tens of
seconds on a cold cache), so the rate and the ETA are measured from the end of the first update
on: the bar restarts its clock there and shows the first update's duration as ``first update``.

Anywhere else (a pipe, a log file, CI) a carriage-return bar would write one long line of frames;
there the bar writes one plain line every ``log_interval`` seconds and at the end::

    npg: 12,288/50,000 steps (25%)  9,870 steps/s  elapsed 0:00:14  ETA 0:00:04  return 143.2

``stream=None`` writes nothing.
"""

from __future__ import annotations

import shutil
import sys
import time
from typing import Mapping, TextIO

from ..checks import check_positive_int

__all__ = ["ProgressBar", "format_bar", "format_line"]


def format_bar(done: int, total: int, rate: float, info: Mapping[str, float] | None = None,
               width: int = 24) -> str:
    """A text bar: ``width`` cells filled in proportion to ``done / total``, the percentage,
    the counts, the rate (steps/s) and any ``info`` items (``key value``)."""
    frac = min(max(done / total, 0.0), 1.0)
    filled = int(round(frac * width))
    parts = [f"[{'#' * filled}{'.' * (width - filled)}] {frac * 100:3.0f}%",
             f"{done:,}/{total:,} steps", f"{rate:,.0f} steps/s"]
    parts += _info(info)
    return "  ".join(parts)


def _info(info) -> list[str]:
    return [f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in (info or {}).items()]


def _clock(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


def format_line(done: int, total: int, rate: float | None, elapsed: float,
                info: Mapping[str, float] | None = None) -> str:
    """One plain progress line (no carriage return): counts, percentage, rate, elapsed time,
    ETA (from ``rate``; "?" while unknown) and the ``info`` items."""
    frac = min(max(done / total, 0.0), 1.0)
    eta = _clock((total - done) / rate) if rate else "?"
    speed = f"{rate:,.0f} steps/s" if rate else "? steps/s"
    parts = [f"npg: {done:,}/{total:,} steps ({frac * 100:.0f}%)", speed,
             f"elapsed {_clock(elapsed)}", f"ETA {eta}"] + _info(info)
    return "  ".join(parts)


class ProgressBar:
    """Progress of ``total`` steps on ``stream`` (default ``sys.stderr``; None: silent).

    A terminal gets a tqdm bar (redrawn at most every ``min_interval`` s); anything else gets a
    plain line every ``log_interval`` s and a last one at ``close``. Rates and ETAs are measured
    from the end of the first update, after compilation.
    """

    def __init__(self, total: int, stream: TextIO | None = sys.stderr, min_interval: float = 0.2,
                 log_interval: float = 10.0):
        self.total = check_positive_int("total", total)
        self.stream = stream
        self.min_interval, self.log_interval = float(min_interval), float(log_interval)
        self._t0 = time.perf_counter()
        self._first: tuple[float, int] | None = None        # (time, done) after update 1
        self._last_line, self._done, self._info = -float("inf"), 0, None
        self._tqdm = None
        if stream is not None and _isatty(stream):
            from tqdm import tqdm
            self._tqdm = tqdm(total=self.total, file=stream, unit="step",
                              mininterval=self.min_interval, leave=True, smoothing=0.0,
                              ncols=shutil.get_terminal_size().columns)   # 80 if unknown

    def rate(self, now: float | None = None) -> float | None:
        """Steps per second since the end of the first update (None before the second)."""
        now = time.perf_counter() if now is None else now
        if self._first is None or self._done <= self._first[1] or now <= self._first[0]:
            return None
        return (self._done - self._first[1]) / (now - self._first[0])

    def update(self, done: int, info: Mapping[str, float] | None = None) -> None:
        """Show ``done`` steps (absolute) and the ``info`` figures."""
        now = time.perf_counter()
        self._done, self._info = int(done), info
        if self._first is None:
            self._first = (now, self._done)
            if self._tqdm is not None:                  # restart tqdm's clock after compiling
                self._tqdm.reset(total=self.total)
                self._tqdm.initial = self._done
                self._tqdm.update(self._done)
                self._tqdm.set_postfix_str(f"first update {now - self._t0:.1f}s", refresh=False)
        elif self._tqdm is not None:
            self._tqdm.update(self._done - self._tqdm.n)
        if self._tqdm is not None:
            post = "  ".join([f"first update {self._first[0] - self._t0:.1f}s"] + _info(info))
            self._tqdm.set_postfix_str(post, refresh=False)
            return
        if self.stream is not None and (now - self._last_line >= self.log_interval):
            self._write_line(now)

    def _write_line(self, now: float) -> None:
        self._last_line = now
        self.stream.write(format_line(self._done, self.total, self.rate(now), now - self._t0,
                                      self._info) + "\n")
        self.stream.flush()

    def close(self) -> None:
        """End the bar (tqdm), or write the last line (elsewhere) if any update was shown."""
        if self._tqdm is not None:
            self._tqdm.close()
            self._tqdm = None
        elif self.stream is not None and self._first is not None:
            self._write_line(time.perf_counter())
            self._first = None


def _isatty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False
