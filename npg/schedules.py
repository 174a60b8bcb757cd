"""Learning-rate schedules: small callables of the step count ``t`` (0 for the first update).

    constant(v)(t)                    = v
    linear(start, end, n_steps)(t)    = start + (end - start) * min(t, n_steps) / n_steps

``linear`` is clamped: after ``n_steps`` updates it stays at ``end``. An optimizer calls its
schedule with the number of updates taken before the current one, so the first update uses
``schedule(0)`` (optax's convention).
"""

from __future__ import annotations

import math

from .checks import check_positive_int, check_real

__all__ = ["constant", "linear", "Constant", "Linear"]


def _finite(name: str, x) -> float:
    v = check_real(name, x)
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite; got {v}")
    return v


def _step(t) -> int:
    if isinstance(t, bool) or not isinstance(t, int) and not hasattr(t, "__index__"):
        raise TypeError(f"step count t must be an int; got {type(t).__name__}")
    t = int(t)
    if t < 0:
        raise ValueError(f"step count t must be >= 0; got {t}")
    return t


class Constant:
    """``constant(v)(t) = v`` for every step t >= 0."""

    def __init__(self, value: float):
        self.value = _finite("value", value)

    def __call__(self, t) -> float:
        _step(t)
        return self.value

    def __repr__(self):
        return f"constant({self.value!r})"

    def __eq__(self, other):
        return isinstance(other, Constant) and other.value == self.value


class Linear:
    """Linear interpolation from ``start`` (t = 0) to ``end`` (t >= n_steps), then clamped.

    linear(start, end, n_steps)(t) = start + (end - start) * min(t, n_steps) / n_steps
    """

    def __init__(self, start: float, end: float, n_steps: int):
        self.start = _finite("start", start)
        self.end = _finite("end", end)
        self.n_steps = check_positive_int("n_steps", n_steps)

    def __call__(self, t) -> float:
        frac = min(_step(t), self.n_steps) / self.n_steps
        span = self.end - self.start
        if math.isinf(span):                   # |end - start| > float max: interpolate apart
            return self.start * (1.0 - frac) + self.end * frac
        return self.start + span * frac

    def __repr__(self):
        return f"linear(start={self.start!r}, end={self.end!r}, n_steps={self.n_steps})"

    def __eq__(self, other):
        return isinstance(other, Linear) and (other.start, other.end, other.n_steps) == (
            self.start, self.end, self.n_steps)


constant = Constant
linear = Linear
