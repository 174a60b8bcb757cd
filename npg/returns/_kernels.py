"""Numba kernels for NumPy inputs: each transcribes its public function's recursion line by line.

Layout: time is the outer loop (backwards), environments the inner loop, so the inner loop walks
a contiguous row of a C-ordered [T, N] array and each environment's running quantity lives in a
small carry vector [N]. Flags are boolean arrays. The scalars (gamma, lam, ...) arrive already
cast to the arrays' dtype so a float32 rollout is computed in float32, exactly like the
vectorised path. ``cache=True`` writes the machine code to ``__pycache__`` beside this file, so a
second process loads instead of compiling; no ``fastmath`` (it may assume NaN never occurs); no
random numbers. Importing this module compiles nothing: each kernel compiles (or loads from the
cache) on its first call, once per dtype.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def td_errors_kernel(rew, value, next_value, terminated, gamma, out):
    """out[t] = r_t + gamma (1 - d_t) V'_t - V_t (V'_t is never read where d_t)."""
    T, N = rew.shape
    for t in range(T):
        for i in range(N):
            delta = rew[t, i] - value[t, i]
            if not terminated[t, i]:
                delta += gamma * next_value[t, i]
            out[t, i] = delta


@njit(cache=True)
def _delta_coef(r, v, nv, d, c, gamma, gamma_lam):
    """(delta_t, k_t): delta_t = r_t - V_t + gamma (1 - d_t) V'_t and k_t = gamma lam (1 - e_t).

    Both are selects, not products with the flags, so V'_t is never used where d_t (a NaN there
    stays out), and every load is unconditional (branch-free code the CPU can overlap).
    """
    zero = gamma - gamma                                # 0 in the dtype (gamma is finite)
    y = gamma * nv
    delta = (r - v) + (zero if d else y)
    k = zero if (d | c) else gamma_lam
    return delta, k


@njit(cache=True)
def _trace(delta, k, a_next):
    """A_t = delta_t + k_t A_{t+1}: a multiply, then an add, each rounded (no fused multiply-add).

    The array-API path (``_vectorised.gae``) does the same two operations, so the two paths give
    the same bits, and a run that switches from one to the other (``npg.compiling``: while a
    warm-up child compiles this kernel, the array-API path runs) is the run it would be on
    either. A fused multiply-add would be about 0.5 ns per step faster on one long chain
    (N = 1: 1.3 against 1.8 ns per element at T = 100,000; no difference at N = 8) and one
    rounding per step different. Every path (one column, rows of N) does the same operations
    in the same order, so results do not depend on N or on where the rollout is split.
    """
    return delta + k * a_next


@njit(cache=True)
def gae_kernel(rew, value, next_value, terminated, truncated, gamma, gamma_lam, adv):
    """A_t = delta_t + k_t A_{t+1}, with A_T = 0 and k_t = gamma lam (1 - e_t), e_t = d_t or c_t."""
    T, N = rew.shape
    if N == 1:                                          # a scalar chain: no row loop overhead
        _gae_column(rew.reshape(T), value.reshape(T), next_value.reshape(T),
                    terminated.reshape(T), truncated.reshape(T), gamma, gamma_lam, adv.reshape(T))
        return
    for i in range(N):                                  # t = T - 1: A_T = 0
        delta, k = _delta_coef(rew[T - 1, i], value[T - 1, i], next_value[T - 1, i],
                               terminated[T - 1, i], truncated[T - 1, i], gamma, gamma_lam)
        adv[T - 1, i] = _trace(delta, k, gamma - gamma)
    for t in range(T - 2, -1, -1):                      # envs inner: a contiguous row, N chains
        for i in range(N):
            delta, k = _delta_coef(rew[t, i], value[t, i], next_value[t, i], terminated[t, i],
                                   truncated[t, i], gamma, gamma_lam)
            adv[t, i] = _trace(delta, k, adv[t + 1, i])


@njit(cache=True)
def _gae_column(r, v, nv, d, c, gamma, gamma_lam, adv):
    """gae_kernel for one environment, on [T] views (one scalar chain)."""
    a = gamma - gamma                                   # A_T = 0 in the dtype
    for t in range(r.size - 1, -1, -1):
        delta, k = _delta_coef(r[t], v[t], nv[t], d[t], c[t], gamma, gamma_lam)
        a = _trace(delta, k, a)
        adv[t] = a


@njit(cache=True)
def _bootstrapped_step(r, nv, d, stop, g_next, gamma, lam, one_minus_lam):
    """G_t = r_t + gamma B_t; B_t = 0 if d_t; V'_t if stop (c_t or t = T - 1);
    else (1 - lam) V'_t + lam G_{t+1}. lam = 1 is the discounted return (V'_t unread)."""
    g = r
    if d:
        pass
    elif stop:
        g += gamma * nv
    elif lam == 1:
        g += gamma * g_next
    else:
        g += gamma * (one_minus_lam * nv + lam * g_next)
    return g


@njit(cache=True)
def _bootstrapped_scan(rew, next_value, terminated, truncated, gamma, lam, one_minus_lam, out):
    """Backwards over t: out[t] = _bootstrapped_step(..., out[t + 1]); time outer, envs inner."""
    T, N = rew.shape
    carry = np.zeros(N, out.dtype)                      # G_{t+1}
    if N == 1:
        g = carry[0]
        for t in range(T - 1, -1, -1):
            g = _bootstrapped_step(rew[t, 0], next_value[t, 0], terminated[t, 0],
                                   truncated[t, 0] or t == T - 1, g, gamma, lam, one_minus_lam)
            out[t, 0] = g
        return
    for t in range(T - 1, -1, -1):
        last = t == T - 1
        for i in range(N):
            g = _bootstrapped_step(rew[t, i], next_value[t, i], terminated[t, i],
                                   truncated[t, i] or last, carry[i], gamma, lam, one_minus_lam)
            out[t, i] = g
            carry[i] = g


@njit(cache=True)
def discounted_kernel(rew, next_value, terminated, truncated, gamma, out):
    """G_t = r_t + gamma B_t; B_t = 0 if d_t, V'_t if c_t or t = T-1, else G_{t+1}.

    Monte-Carlo returns pass next_value = zeros (V'_t taken as 0 everywhere).
    """
    one = np.ones(1, out.dtype)[0]                      # typed like the output: float32 stays
    _bootstrapped_scan(rew, next_value, terminated, truncated, gamma, one, one - one, out)


@njit(cache=True)
def lambda_kernel(rew, next_value, terminated, truncated, gamma, lam, one_minus_lam, out):
    """G_t = r_t + gamma B_t; B_t = 0 if d_t, V'_t if c_t or t = T-1,
    else (1 - lam) V'_t + lam G_{t+1}."""
    _bootstrapped_scan(rew, next_value, terminated, truncated, gamma, lam, one_minus_lam, out)


@njit(cache=True)
def nstep_kernel(rew, next_value, terminated, truncated, gamma, n, out):
    """G_t = r_t + gamma r_{t+1} + ... + gamma^{m-1} r_j + gamma^m (1 - d_j) V'_j, j = t + m - 1.

    The window stops at j, the first of: t + n - 1, the step ending the episode, T - 1.
    Evaluated by Horner's rule from j back to t; cost O(T N min(n, episode length)).
    """
    T, N = rew.shape
    for t in range(T):
        for i in range(N):
            j = t                                       # find the window's last step
            while j < T - 1 and j - t < n - 1 and not (terminated[j, i] or truncated[j, i]):
                j += 1
            g = rew[j, i]
            if not terminated[j, i]:
                g += gamma * next_value[j, i]
            for k in range(j - 1, t - 1, -1):
                g = rew[k, i] + gamma * g
            out[t, i] = g


@njit(cache=True)
def episode_discount_kernel(out, terminated, truncated, gamma, w0):
    """In place: out[t] *= w_t with w_0 = w0 [N], w_{t+1} = 1 if e_t else gamma w_t."""
    T, N = out.shape
    w = w0.copy()
    for t in range(T):
        for i in range(N):
            out[t, i] *= w[i]
            if terminated[t, i] or truncated[t, i]:
                w[i] = 1.0
            else:
                w[i] *= gamma
