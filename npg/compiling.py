"""Whether this process should call its small Numba kernels now, or take their NumPy path.

A Numba kernel compiles on its first call in a process (a second or so each on the 2-core
development machine: the GAE kernel 1.2 CPU-s, npg's CartPole step 0.4) unless Numba's on-disk
cache holds it, when it loads in milliseconds. While ``npg.engine.warmup``'s child process
compiles a training run's kernels into that cache, the textbook functions that have a NumPy
path of their own take it instead of compiling the same kernel a second time on the core the
run trains on:

* ``npg.returns`` (td_errors, n-step, lambda-returns, GAE, discounted returns, V-trace): their
  array-API path, bit for bit the kernels' numbers (the n-step return to rounding: it sums in
  another order), so a run that switches paths is the run it would be on either;
* ``npg.envs.CartPoleVectorEnv``: gymnasium's own ``step``, equal bit for bit.

They ask ``kernels_ready()``, which is True unless a hold is active; ``hold(until)`` is how the
warm-up holds them until the child has compiled its "kernels" stage (``until()`` True, which
it also is when the child failed). Nothing here imports Numba.
"""

from __future__ import annotations

from typing import Callable

__all__ = ["kernels_ready", "hold", "holds"]

_HOLDS: list[Callable[[], bool]] = []


def kernels_ready() -> bool:
    """True when no hold is active (a hold ends, and is dropped, once its ``until()`` is True)."""
    if _HOLDS:
        _HOLDS[:] = [until for until in _HOLDS if not until()]
    return not _HOLDS


def hold(until: Callable[[], bool]) -> None:
    """Hold the kernels (``kernels_ready()`` False) until ``until()`` returns True."""
    if not callable(until):
        raise TypeError(f"until must be a callable () -> bool; got {type(until).__name__}")
    _HOLDS.append(until)


def holds() -> int:
    """The number of holds still active (for tests and diagnostics)."""
    kernels_ready()
    return len(_HOLDS)
