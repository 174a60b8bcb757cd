"""Plain-Python reference loops for npg.returns, written independently of the kernels.

They cut each environment's trajectory into episode segments [s, j] first (j ends the episode or
the rollout), then apply the textbook recursion inside each segment, one scalar at a time. The
kernels instead fold the boundary tests into every step; agreement tests both readings.
"""

import numpy as np


def segments(term, trunc):
    """[(s, j)] inclusive step ranges of one environment's episodes (or episode pieces)."""
    T, out, s = len(term), [], 0
    for t in range(T):
        if term[t] or trunc[t] or t == T - 1:
            out.append((s, t))
            s = t + 1
    return out


def _boot(term, next_value, j, i):
    """(1 - d_j) V'_j, without touching V'_j when terminated (it may be NaN)."""
    return 0.0 if term[j, i] else float(next_value[j, i])


def discounted(rew, term, trunc, gamma, next_value=None, weighting=False, start=None):
    T, N = rew.shape
    out = np.zeros((T, N))
    for i in range(N):
        for s, j in segments(term[:, i], trunc[:, i]):
            g = 0.0 if next_value is None else _boot(term, next_value, j, i)
            for t in range(j, s - 1, -1):
                g = float(rew[t, i]) + gamma * g
                out[t, i] = g
            if weighting:
                k0 = (0 if start is None else int(start[i])) if s == 0 else 0
                for t in range(s, j + 1):
                    out[t, i] *= gamma ** (k0 + t - s)
    return out


def td(rew, value, next_value, term, gamma):
    T, N = rew.shape
    out = np.zeros((T, N))
    for i in range(N):
        for t in range(T):
            out[t, i] = float(rew[t, i]) + gamma * _boot(term, next_value, t, i) - value[t, i]
    return out


def gae(rew, value, next_value, term, trunc, gamma, lam):
    T, N = rew.shape
    adv = np.zeros((T, N))
    for i in range(N):
        for s, j in segments(term[:, i], trunc[:, i]):
            a = 0.0
            for t in range(j, s - 1, -1):
                delta = float(rew[t, i]) + gamma * _boot(term, next_value, t, i) - value[t, i]
                a = delta + gamma * lam * a
                adv[t, i] = a
    return adv, adv + value


def lambda_return(rew, next_value, term, trunc, gamma, lam):
    T, N = rew.shape
    out = np.zeros((T, N))
    for i in range(N):
        for s, j in segments(term[:, i], trunc[:, i]):
            g = float(rew[j, i]) + gamma * _boot(term, next_value, j, i)
            out[j, i] = g
            for t in range(j - 1, s - 1, -1):
                g = float(rew[t, i]) + gamma * ((1 - lam) * next_value[t, i] + lam * g)
                out[t, i] = g
    return out


def nstep(rew, next_value, term, trunc, gamma, n):
    T, N = rew.shape
    out = np.zeros((T, N))
    for i in range(N):
        for s, j_end in segments(term[:, i], trunc[:, i]):
            for t in range(s, j_end + 1):
                j = min(t + n - 1, j_end)
                g = _boot(term, next_value, j, i)
                for k in range(j, t - 1, -1):
                    g = float(rew[k, i]) + gamma * g
                out[t, i] = g
    return out


def lambda_return_from_nstep(rew, next_value, term, trunc, gamma, lam):
    """The forward view (Sutton & Barto eq. 12.9, episodic form): with m = j - t + 1 steps left
    in the segment, G^lambda_t = (1 - lam) sum_{n=1}^{m-1} lam^{n-1} G^(n)_t + lam^{m-1} G^(m)_t.
    """
    T, N = rew.shape
    G = {n: nstep(rew, next_value, term, trunc, gamma, n) for n in range(1, T + 1)}
    out = np.zeros((T, N))
    for i in range(N):
        for s, j in segments(term[:, i], trunc[:, i]):
            for t in range(s, j + 1):
                m = j - t + 1
                acc = sum((1 - lam) * lam ** (n - 1) * G[n][t, i] for n in range(1, m))
                out[t, i] = acc + lam ** (m - 1) * G[m][t, i]
    return out


def make_rollout(seed, T, N, p_term=0.1, p_trunc=0.1, consistent=False, nan_at_terminal=True):
    """A random rollout dict; masks drawn independently, so a step can be both flags.

    ``consistent``: next_value[t] = value[t+1] inside episodes (the alignment contract).
    ``nan_at_terminal``: next_value is NaN wherever terminated (it must never be read there).
    """
    rng = np.random.default_rng(seed)
    rew = rng.uniform(-1.0, 1.0, (T, N))
    value = rng.uniform(-2.0, 2.0, (T, N))
    next_value = rng.uniform(-2.0, 2.0, (T, N))
    term = rng.random((T, N)) < p_term
    trunc = rng.random((T, N)) < p_trunc
    if consistent:
        inside = ~(term | trunc)[:-1]
        next_value[:-1][inside] = value[1:][inside]
    if nan_at_terminal:
        next_value[term] = np.nan
    return dict(rew=rew, value=value, next_value=next_value, term=term, trunc=trunc)
