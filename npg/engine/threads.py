"""The thread hand-off of the compiled PPO update: how its two threads wait.

``ppo_loop`` runs the actor's and the critic's halves of a minibatch step on two threads
(Numba ``prange``; the threading layer is OpenMP's libgomp where available). Between parallel
regions libgomp's worker threads wait for work; by default they spin for a while first. With a
spinning wait, a step whose second thread is descheduled by other work on the machine stalls
for whole scheduler slices, and the spinning itself is CPU time taken from the other thread's
work. Measured on the 2-core development machine, CartPole PPO float32 with one other busy
process: 2.0k env steps/s spinning against 23.3k sleeping; idle: 31.5k against 30.0k. With
four other busy processes (load 4.8), one 256-row minibatch step cost 3.4 ms of CPU time
spinning against 0.58 ms on one thread. So waiting threads sleep (``OMP_WAIT_POLICY=PASSIVE``)
unless the user chose a policy.

libgomp reads the variable once, when Numba first starts its thread pool (the first parallel
call), so ``before_first_parallel_call`` sets it then, not when npg is imported.
"""

from __future__ import annotations

import os

__all__ = ["before_first_parallel_call"]

_DONE = False


def before_first_parallel_call() -> None:
    """Set ``OMP_WAIT_POLICY=PASSIVE`` (unless already set) before the thread pool starts."""
    global _DONE
    if not _DONE:
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        _DONE = True
