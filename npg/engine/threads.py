"""The thread hand-off of the compiled PPO update: how its two threads wait, and when to use two.

``ppo_loop`` runs the actor's and the critic's halves of a minibatch step on two threads
(Numba ``prange``; the threading layer is OpenMP's libgomp where available); both orders of
work give the same update bit for bit, so the choice is one of speed only.

How the threads wait. Between parallel regions libgomp's workers wait for work: they spin
``GOMP_SPINCOUNT`` times, then sleep on a futex (``OMP_WAIT_POLICY=PASSIVE``: no spin;
unset: 300,000 spins, about 10 ms on the 2-core development machine). Measured there
(``python benchmarks/limit.py``, two update threads against one, CartPole PPO, float32 /
float64):

    wait                      quiet machine     one other busy process
    PASSIVE (no spin)          0.82x / 1.10x     0.98x / 0.98x    (a sleeping worker wakes late)
    GOMP_SPINCOUNT=1000        1.57x / 1.54x     0.78x / 0.93x
    GOMP_SPINCOUNT=10000       1.57x / 1.74x     0.31x / 0.46x    (spinning steals the core)

On a machine with two independent cores and AVX-512 (2026-12-04), float32: two threads
against one 1.14-1.18x at 1,000 spins (about 12 us there, shorter than the ~50 us the worker
waits between regions, so it sleeps and is woken every step), 1.40-1.48x at 10,000,
1.51-1.59x at 100,000; but a whole CartPole run beside one busy process fell from 39.8k env
steps/s (1,000) to 29.8k (10,000) and 20.0k (100,000), as the spinning worker slows the
rollouts between updates, which the chooser below does not time.

A 20-step update hands work over every ~80-170 us, so a worker that sleeps costs a futex wake
each time, and one that spins long starves the thread doing the work when the cores are
shared. So ``before_first_parallel_call`` sets ``GOMP_SPINCOUNT=1000`` (microseconds of
spinning: the robust choice under load, not the fastest on a quiet machine) unless the user
set ``GOMP_SPINCOUNT`` or ``OMP_WAIT_POLICY``. libgomp reads them once, when Numba first
starts its thread pool, so they are set then, not when npg is imported.

When to use two. Whether the second thread pays depends on the load of the machine at the
time, so ``ThreadChooser`` measures it: with ``threads=None`` each update runs with the thread
count that has the lower recent wall time per minibatch step (an exponential average over its
updates), and every ``PROBE_EVERY``-th update tries the other, so a change in load is noticed.
"""

from __future__ import annotations

import os
import threading

__all__ = ["before_first_parallel_call", "ThreadChooser", "chooser", "SPIN_COUNT"]

SPIN_COUNT = "1000"
_DONE = False


def before_first_parallel_call() -> None:
    """Set ``GOMP_SPINCOUNT`` (module docstring) unless the user chose a wait, then start
    Numba's thread pool (``numba.get_num_threads`` starts it). Starting it here is needed, not
    only tidy: a cached function that calls a parallel one starts the pool when it is loaded
    only if the parallel callee was compiled, not loaded from the cache, in the process that
    compiled the caller (numba/numba#8578: a library loaded from the cache keeps no
    ``reload_init``). A two-thread update cached in that state crashed the next process that
    loaded it (SIGSEGV; tests/engine/test_threads.py builds the state)."""
    global _DONE
    if not _DONE:
        if "OMP_WAIT_POLICY" not in os.environ:
            os.environ.setdefault("GOMP_SPINCOUNT", SPIN_COUNT)
        import numba
        numba.get_num_threads()
        _DONE = True


class ThreadChooser:
    """1 or 2 threads by measured wall seconds per minibatch step (module docstring).

    pick() -> 1 or 2; record(threads, seconds_per_step) after the update. The first
    measurement of each count is discarded (it may include loading the compiled code); two
    threads run until they have a measurement, then one thread does, then the cheaper runs."""

    PROBE_EVERY = 8
    ALPHA = 0.3          # weight of the newest measurement in the average

    def __init__(self):
        self.cost = {1: None, 2: None}
        self.seen = {1: 0, 2: 0}
        self.calls = 0
        self._lock = threading.Lock()

    def pick(self) -> int:
        with self._lock:
            self.calls += 1
            for k in (2, 1):
                if self.cost[k] is None:
                    return k
            best = 1 if self.cost[1] <= self.cost[2] else 2
            return 3 - best if self.calls % self.PROBE_EVERY == 0 else best

    def record(self, threads: int, seconds_per_step: float) -> None:
        with self._lock:
            self.seen[threads] += 1
            if self.seen[threads] == 1:
                return
            c, a = self.cost[threads], self.ALPHA
            self.cost[threads] = (seconds_per_step if c is None
                                  else (1 - a) * c + a * seconds_per_step)


_CHOOSERS: dict = {}


def chooser(key) -> ThreadChooser:
    """The process's chooser for one kind of update (``key``: dtype, batch size, parameter
    count, actor kind)."""
    c = _CHOOSERS.get(key)
    if c is None:
        if len(_CHOOSERS) >= 64:
            _CHOOSERS.clear()
        c = _CHOOSERS[key] = ThreadChooser()
    return c
