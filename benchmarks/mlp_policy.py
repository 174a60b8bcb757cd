"""Time the MLP categorical policy's forward pass plus weighted-score backward pass.

    python benchmarks/mlp_policy.py [--repeats 15] [--backend numpy] [--clock wall|cpu]

For obs 4 -> 64 -> 64 -> 2 and obs 8 -> 64 -> 64 -> 4 (tanh), batches of 256 and 4096, in
float64 and float32, prints microseconds per call (median and minimum over repeats) of:

  score_sum     ``policy.score_sum(params, obs, act, w)``: input checks, forward, softmax,
                w (onehot(a) - pi), backward (the public fast path every estimator uses)
  forward+vjp   ``npg.nn.mlp_forward`` + ``vjp(d_z, input_grad=False)``, no input checks
  plain         a straightforward NumPy transcription for comparison: ``np.tanh``, fresh
                arrays for every intermediate, ``d * (1 - h**2)``, and the input gradient
                d_x computed too (what the lean path avoids)

The lean choices measured here (in-place activations and backward temporaries on NumPy, tanh'
read from the output, an exp-based float64 tanh, no d_x for the first layer) are the ones kept
in ``npg/nn.py``. Figures depend on the CPU and on other load; compare rows of one run. On a
busy shared machine, ``OPENBLAS_NUM_THREADS=1 ... --clock cpu`` (process CPU time, meaningful
with one thread) is far steadier than wall time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

from npg import nn
from npg.backend import to_numpy, use_backend
from npg.distributions import categorical
from npg.policies import MLPCategoricalPolicy


def plain_score_sum(p, x, act, w):
    """Reference: the textbook backward pass with no memory reuse (NumPy only)."""
    h1 = np.tanh(x @ p["W1"] + p["b1"])
    h2 = np.tanh(h1 @ p["W2"] + p["b2"])
    z = h2 @ p["W3"] + p["b3"]
    e = np.exp(z - z.max(axis=1, keepdims=True))
    pi = e / e.sum(axis=1, keepdims=True)
    g3 = w[:, None] * (np.eye(z.shape[1])[act] - pi)
    g2 = (g3 @ p["W3"].T) * (1 - h2 ** 2)
    g1 = (g2 @ p["W2"].T) * (1 - h1 ** 2)
    d_x = g1 @ p["W1"].T
    return {"W1": x.T @ g1, "b1": g1.sum(0), "W2": h1.T @ g2, "b2": g2.sum(0),
            "W3": h2.T @ g3, "b3": g3.sum(0)}, d_x


def lean_score_sum(p, x, act, w):
    """forward + vjp straight through npg.nn (no policy-level input checks)."""
    z, vjp = nn.mlp_forward(p, x, "tanh")
    return vjp(w[:, None] * categorical._log_prob_grad(z, act), input_grad=False)[0]


CLOCK = {"wall": time.perf_counter, "cpu": time.process_time}


def time_call(fn, repeats: int, sync=lambda: None, clock=time.perf_counter):
    """(median, min) microseconds per call; each repeat runs enough calls for ~20 ms."""
    fn()
    sync()
    t0 = time.perf_counter()
    fn()
    sync()
    once = max(time.perf_counter() - t0, 1e-7)
    number = max(1, int(0.02 / once))
    per_call = []
    for _ in range(repeats):
        t0 = clock()
        for _ in range(number):
            fn()
        sync()
        per_call.append((clock() - t0) / number * 1e6)
    return statistics.median(per_call), min(per_call)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--backend", default="numpy", help="numpy or cupy")
    ap.add_argument("--clock", default="wall", choices=sorted(CLOCK),
                    help="wall time, or process CPU time (steadier on a busy machine)")
    args = ap.parse_args()
    clock = CLOCK[args.clock]
    threads = os.environ.get("OPENBLAS_NUM_THREADS", "default")
    print(f"npg MLP policy benchmark: backend {args.backend}, numpy {np.__version__}, "
          f"OPENBLAS_NUM_THREADS={threads}; {args.clock} microseconds per call, median (min) of "
          f"{args.repeats} repeats")
    print(f"{'network':<16}{'dtype':<9}{'B':>6}  {'score_sum':>18}  {'forward+vjp':>18}  "
          f"{'plain':>18}")
    with use_backend(args.backend) as xp:
        sync = (lambda: xp.cuda.Stream.null.synchronize()) if args.backend == "cupy" else \
            (lambda: None)
        for obs_dim, n_actions in ((4, 2), (8, 4)):
            pol = MLPCategoricalPolicy(obs_dim, n_actions, (64, 64), "tanh")
            for dtype in ("float64", "float32"):
                params = pol.init(0, dtype=dtype, out_gain=1.0)
                for B in (256, 4096):
                    rng = np.random.default_rng(1)
                    obs = xp.asarray(rng.standard_normal((B, obs_dim)), dtype=getattr(xp, dtype))
                    act = xp.asarray(rng.integers(0, n_actions, B))
                    w = xp.asarray(rng.standard_normal(B), dtype=getattr(xp, dtype))
                    cells = [time_call(lambda: pol.score_sum(params, obs, act, w), args.repeats,
                                       sync, clock),
                             time_call(lambda: lean_score_sum(params, obs, act, w),
                                       args.repeats, sync, clock)]
                    if xp is np:
                        cells.append(time_call(lambda: plain_score_sum(params, obs, act, w),
                                               args.repeats, clock=clock))
                        ref = plain_score_sum(params, obs, act, w)[0]
                        got = pol.score_sum(params, obs, act, w)
                        tol = 1e-9 if dtype == "float64" else 1e-3
                        assert all(np.allclose(to_numpy(got[k]), ref[k], rtol=tol, atol=tol)
                                   for k in ref), "lean and plain gradients disagree"
                    text = [f"{med:9.1f} ({mn:6.1f})" for med, mn in cells]
                    text += ["-"] * (3 - len(text))
                    net = f"{obs_dim}-64-64-{n_actions}"
                    print(f"{net:<16}{dtype:<9}{B:>6}  " + "  ".join(f"{t:>18}" for t in text))


if __name__ == "__main__":
    main()
