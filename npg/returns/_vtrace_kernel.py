"""Numba kernel of the V-trace recursion (``npg.returns.vtrace``), the conventions of
``_kernels.py``: time outer (backwards), environments inner, flags boolean, scalars cast to the
arrays' dtype, ``cache=True``, no fastmath, no random numbers; compiled on first call only.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def vtrace_kernel(rew, value, next_value, terminated, truncated, rho, c, gamma, vs, adv):
    """Backwards over t, with D_T = 0 and e_t = d_t or c_t (episode end):

        delta_t  = rho_t (r_t + gamma (1 - d_t) V'_t - V_t)
        D_t      = delta_t + gamma c_t (1 - e_t) D_{t+1}          vs_t = V_t + D_t
        nvs_t    = V'_t + (1 - e_t) D_{t+1}                        (vs at s_{t+1})
        adv_t    = rho_t (r_t + gamma (1 - d_t) nvs_t - V_t)

    V'_t is never read where d_t (it may be NaN there).
    """
    T, N = rew.shape
    zero = gamma - gamma
    carry = np.zeros(N, vs.dtype)                      # D_{t+1}
    for t in range(T - 1, -1, -1):
        for i in range(N):
            d = terminated[t, i]
            ended = d or truncated[t, i]
            nxt = zero if ended else carry[i]
            boot = zero if d else gamma * next_value[t, i]
            boot_vs = zero if d else gamma * (next_value[t, i] + nxt)
            base = rew[t, i] - value[t, i]
            D = rho[t, i] * (base + boot) + gamma * c[t, i] * nxt
            vs[t, i] = value[t, i] + D
            adv[t, i] = rho[t, i] * (base + boot_vs)
            carry[i] = D
