"""Speed of npg.returns: ns per element for GAE and discounted returns, first-call latency with a
cold and a warm Numba cache, and the time of ``import npg``.

    python benchmarks/returns.py            # prints the tables (about a minute)

Variants per (T, N): the pure-Python loop (lists, scalar floats), the NumPy loop over T (the
array-API path of npg.returns run on NumPy), the Numba kernel (time outer, environments inner; one chain per environment),
an environments-outer Numba kernel for comparison, the public function (validation, contiguity,
finiteness check included), and the memory floor: one compiled pass that reads every input once
and writes the output once, flat, in memory order (no recursion).
CPU time of this thread (time.thread_time), so other processes on the machine disturb it less. Times are the best of several repeats.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time

import numpy as np
from numba import njit

from npg.returns import _kernels, _vectorised, discounted_returns, gae

SHAPES = [(2048, 8), (128, 1024), (100_000, 1)]
GAMMA, LAM = 0.99, 0.95


@njit(cache=True)
def floor_gae(rew, value, next_value, terminated, truncated, out):
    """Reads the five inputs once, writes one output, one flat pass: the memory floor for GAE."""
    r, v, nv, d, c, o = (rew.ravel(), value.ravel(), next_value.ravel(), terminated.ravel(),
                         truncated.ravel(), out.reshape(-1))
    for k in range(r.size):
        o[k] = r[k] + v[k] + nv[k] + d[k] + c[k]


@njit(cache=True)
def floor_discounted(rew, next_value, terminated, truncated, out):
    r, nv, d, c, o = (rew.ravel(), next_value.ravel(), terminated.ravel(), truncated.ravel(),
                      out.reshape(-1))
    for k in range(r.size):
        o[k] = r[k] + nv[k] + d[k] + c[k]


@njit(cache=True)
def gae_env_outer(rew, value, next_value, terminated, truncated, gamma, gamma_lam, adv):
    """The same recursion with environments outer: strided column walks, no carry vector."""
    T, N = rew.shape
    for i in range(N):
        a_next = 0.0
        for t in range(T - 1, -1, -1):
            a = rew[t, i] - value[t, i]
            if not terminated[t, i]:
                a += gamma * next_value[t, i]
            if not (terminated[t, i] or truncated[t, i]):
                a += gamma_lam * a_next
            adv[t, i] = a
            a_next = a


def python_gae(r, v, nv, d, c, gamma, lam):
    T, N = len(r), len(r[0])
    adv = [[0.0] * N for _ in range(T)]
    carry = [0.0] * N
    for t in range(T - 1, -1, -1):
        rt, vt, nvt, dt, ct, at = r[t], v[t], nv[t], d[t], c[t], adv[t]
        for i in range(N):
            a = rt[i] - vt[i] + (0.0 if dt[i] else gamma * nvt[i])
            if not (dt[i] or ct[i]):
                a += gamma * lam * carry[i]
            at[i] = carry[i] = a
    return adv


def python_discounted(r, nv, d, c, gamma):
    T, N = len(r), len(r[0])
    out = [[0.0] * N for _ in range(T)]
    carry = [0.0] * N
    for t in range(T - 1, -1, -1):
        rt, nvt, dt, ct, ot = r[t], nv[t], d[t], c[t], out[t]
        for i in range(N):
            if dt[i]:
                g = rt[i]
            elif ct[i] or t == T - 1:
                g = rt[i] + gamma * nvt[i]
            else:
                g = rt[i] + gamma * carry[i]
            ot[i] = carry[i] = g
    return out


def best_time(f, min_total=0.3, repeats=5):
    """Best seconds per call over ``repeats`` batches, each batch running >= min_total / repeats."""
    f()
    n, t0 = 1, time.thread_time()
    f()
    one = max(time.thread_time() - t0, 1e-7)
    n = max(1, int(min_total / repeats / one))
    best = float("inf")
    for _ in range(repeats):
        t0 = time.thread_time()
        for _ in range(n):
            f()
        best = min(best, (time.thread_time() - t0) / n)
    return best


def rollout(T, N, seed=0):
    rng = np.random.default_rng(seed)
    r, v, nv = (rng.normal(size=(T, N)) for _ in range(3))
    d, c = rng.random((T, N)) < 0.01, rng.random((T, N)) < 0.005
    return r, v, nv, d, c


def table():
    print(f"ns per element (best of 5), gamma={GAMMA}, lam={LAM}, float64, C-contiguous")
    head = f"{'function':<11}{'T x N':>14}{'python':>9}{'np loop':>9}{'numba':>8}" \
           f"{'env-out':>9}{'public':>8}{'floor':>7}{'numba/floor':>12}{'py/numba':>9}"
    print(head)
    for T, N in SHAPES:
        r, v, nv, d, c = rollout(T, N)
        lists = [x.tolist() for x in (r, v, nv, d, c)]
        out = np.empty_like(r)
        g, gl = GAMMA, GAMMA * LAM
        rows = {
            "gae": dict(
                python=lambda: python_gae(*lists, g, LAM),
                np_loop=lambda: _vectorised.gae(np, r, v, nv, d, c, g, gl),
                numba=lambda: _kernels.gae_kernel(r, v, nv, d, c, g, gl, out),
                env_outer=lambda: gae_env_outer(r, v, nv, d, c, g, gl, out),
                public=lambda: gae(r, v, nv, d, c, g, LAM),
                floor=lambda: floor_gae(r, v, nv, d, c, out)),
            "discounted": dict(
                python=lambda: python_discounted(lists[0], lists[2], lists[3], lists[4], g),
                np_loop=lambda: _vectorised.discounted(np, r, nv, d, c, g, True),
                numba=lambda: _kernels.discounted_kernel(r, nv, d, c, g, out),
                env_outer=None,
                public=lambda: discounted_returns(r, d, c, g, nv),
                floor=lambda: floor_discounted(r, nv, d, c, out))}
        for name, fs in rows.items():
            ns = {k: (np.nan if f is None else best_time(f, 1.0 if k == "python" else 0.3)
                      * 1e9 / (T * N)) for k, f in fs.items()}
            print(f"{name:<11}{f'{T} x {N}':>14}{ns['python']:>9.1f}{ns['np_loop']:>9.1f}"
                  f"{ns['numba']:>8.2f}{ns['env_outer']:>9.2f}{ns['public']:>8.2f}"
                  f"{ns['floor']:>7.2f}{ns['numba'] / ns['floor']:>12.2f}"
                  f"{ns['python'] / ns['numba']:>9.0f}")


FIRST_CALL = """
import time
t0 = time.perf_counter()
import numpy as np
import npg.returns as R
x = np.ones((4, 2)); f = np.zeros((4, 2), bool)
t1 = time.perf_counter()
R.gae(x, x, x, f, f, 0.99, 0.95)
t2 = time.perf_counter()
print(t2 - t1)
"""

IMPORT = "import time; t0 = time.perf_counter(); import npg; print(time.perf_counter() - t0)"


def _subprocess_seconds(code, env):
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True)
    return float(out.stdout.strip().splitlines()[-1])


def latencies(repeats=3):
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        cold = _subprocess_seconds(FIRST_CALL, env)           # empty cache: compiles
        warm = min(_subprocess_seconds(FIRST_CALL, env) for _ in range(repeats))
        imp = sorted(_subprocess_seconds(IMPORT, env) for _ in range(5))
    print("first gae call in a fresh process (imports numba, compiles or loads the kernel):")
    print(f"  cold cache (compiles): {cold * 1e3:8.1f} ms")
    print(f"  warm cache (loads):    {warm * 1e3:8.1f} ms  (best of {repeats})")
    print(f"import npg: median {imp[2] * 1e3:.1f} ms, best {imp[0] * 1e3:.1f} ms (5 processes)")


if __name__ == "__main__":
    table()
    latencies()
