"""A minimal text progress bar for training loops (no dependencies).

    bar = ProgressBar(total=50_000)
    bar.update(done=2048, info={"return": 21.5})      # redraws at most every ``min_interval`` s
    bar.close()

The bar is one line rewritten in place with a carriage return::

    [#########...............]  37% 18,432/50,000 steps  9,870 steps/s  return 143.2

It writes to ``stream`` (default ``sys.stderr``) and is silent when ``stream`` is None.
"""

from __future__ import annotations

import sys
import time
from typing import Mapping, TextIO

from ._checks import check_positive_int

__all__ = ["ProgressBar", "format_bar"]


def format_bar(done: int, total: int, rate: float, info: Mapping[str, float] | None = None,
               width: int = 24) -> str:
    """The text of the bar: ``width`` cells filled in proportion to ``done / total``, the
    percentage, the counts, the rate (steps/s) and any ``info`` items (``key value``)."""
    frac = min(max(done / total, 0.0), 1.0)
    filled = int(round(frac * width))
    parts = [f"[{'#' * filled}{'.' * (width - filled)}] {frac * 100:3.0f}%",
             f"{done:,}/{total:,} steps", f"{rate:,.0f} steps/s"]
    for k, v in (info or {}).items():
        parts.append(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}")
    return "  ".join(parts)


class ProgressBar:
    """One self-overwriting line showing steps done out of ``total``.

    total         steps the bar runs to (> 0).
    stream        where to write (default ``sys.stderr``); None writes nothing.
    min_interval  seconds between redraws (the final update always draws).
    """

    def __init__(self, total: int, stream: TextIO | None = sys.stderr, min_interval: float = 0.2):
        self.total = check_positive_int("total", total)
        self.stream = stream
        self.min_interval = float(min_interval)
        self._t0 = time.perf_counter()
        self._last = -float("inf")
        self._width = 0

    def update(self, done: int, info: Mapping[str, float] | None = None) -> None:
        """Show ``done`` steps (absolute, not an increment) and the ``info`` figures."""
        if self.stream is None:
            return
        now = time.perf_counter()
        if now - self._last < self.min_interval and done < self.total:
            return
        self._last = now
        rate = done / max(now - self._t0, 1e-9)
        text = format_bar(done, self.total, rate, info)
        pad = " " * max(self._width - len(text), 0)
        self._width = len(text)
        self.stream.write("\r" + text + pad)
        self.stream.flush()

    def close(self) -> None:
        """End the line."""
        if self.stream is not None and self._width:
            self.stream.write("\n")
            self.stream.flush()
