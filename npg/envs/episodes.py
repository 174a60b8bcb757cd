"""Episode returns and lengths from a ``[T, N]`` block of steps, vectorised (no loop over T).

Used by ``npg.envs.rollout.Collector`` to report the episodes that finish in each rollout, with the
running returns and lengths carried from one rollout to the next.
"""

from __future__ import annotations

import numpy as np

__all__ = ["episode_stats"]


def episode_stats(rew, valid, done, ret0, len0):
    """Returns and lengths of the episodes that end in a ``[T, N]`` block, vectorised.

    rew [T, N] raw rewards, valid [T, N], done [T, N] (terminated or truncated); ret0 [N],
    len0 [N] the return and length so far of the episodes running at the start of the block.
    With P[u, i] = ret0_i + sum_{v < u} valid r[v, i]  (P [T + 1, N], prefix sums) and s the
    step after env i's previous end (0 if none in the block), an episode ending at step t has
        return = P[t + 1, i] - P[s, i],     length likewise with r replaced by 1.
    Returns ``(returns [E], lengths [E], ret [N], len [N])``: the finished episodes in the
    order they end (by step, then env index), and the carry for the next block.
    """
    T, N = rew.shape
    steps = np.arange(1, T + 1)[:, None]
    r = np.where(valid, rew, 0.0)
    r[0] += ret0
    n = valid.astype(np.int64)
    n[0] += len0
    zero = np.zeros((1, N))
    P = np.concatenate([zero, np.cumsum(r, axis=0)])
    L = np.concatenate([zero.astype(np.int64), np.cumsum(n, axis=0)])
    after_end = np.maximum.accumulate(np.where(done, steps, 0), axis=0)
    start = np.concatenate([zero.astype(np.int64), after_end[:-1]])
    t, i = np.nonzero(done)
    s, s_last = start[t, i], after_end[-1]
    cols = np.arange(N)
    return (P[t + 1, i] - P[s, i], L[t + 1, i] - L[s, i],
            P[T] - P[s_last, cols], L[T] - L[s_last, cols])
