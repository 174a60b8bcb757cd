"""NumPy and CuPy side by side: where a GPU pays for npg's exact and sampled quantities.

Rows (each the same call on a NumPy MDP / arrays and on the MDP moved with ``mdp.to("cupy")``):

* exact grad J (``npg.mdp.policy_gradient``) and the natural gradient F^+ grad J
  (``npg.mdp.natural_gradient``) on random MDPs with S states, A = 4, gamma = 0.99, for a linear
  softmax policy over D = 32 random state features (P = 33 * 4 parameters): two / three S x S
  solves, the part that grows with S;
* the trajectory sampler (``npg.mdp.sample_trajectories``) at M trajectories of at most T = 100
  steps on a random MDP with S = 100, A = 4 and 5 terminal states (the uniforms come from the
  host Generator and are copied once a draw);
* an MLP policy's ``score_sum`` (obs_dim 16, hidden (64, 64), A = 4) at batch B.

Then the crossover: the smallest measured S at which CuPy's grad J beats NumPy's.

    python benchmarks/gpu.py            # quick: S = 200, 500; M = 1e5; B = 65,536
    python benchmarks/gpu.py --full     # the sizes of issue 20: S = 500, 2000, 5000; M = 1e6
    python benchmarks/gpu.py --sizes 500,1000 --n-traj 200000 --batch 65536 --rounds 3
    OPENBLAS_NUM_THREADS=1 python benchmarks/gpu.py     # on a small or busy CPU machine

(On a machine shared with other processes a multi-threaded BLAS can make a 100 x 100 solve
30x slower than one thread; the NumPy column is then not NumPy's speed.)

Timing: wall-clock seconds of one call, median of ``--rounds`` rounds after a warm-up, NumPy and
CuPy interleaved round by round; CuPy calls end with a device synchronize. NumPy's CPU seconds
(``time.process_time``, all BLAS threads) are printed too. Each CuPy result is compared with
NumPy's (max relative difference), so a GPU run also checks the numbers. Without CuPy or a GPU the
CuPy column reads "not measured": no figure is invented for it.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import npg.mdp as M
from npg.backend import cupy_available, to_numpy
from npg.features import Polynomial
from npg.params import flatten
from npg.policies import LinearSoftmaxPolicy, MLPCategoricalPolicy

A, D, HORIZON = 4, 32, 100


def _sync(cp):
    if cp is not None:
        cp.cuda.Device().synchronize()


def _time(fn, cp):
    """(wall s, cpu s, result) of one call."""
    _sync(cp)
    w0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    _sync(cp)
    return time.perf_counter() - w0, time.process_time() - c0, out


def _flat(x):
    if isinstance(x, dict):
        x = flatten(x)
    if hasattr(x, "states"):
        x = x.states
    return np.asarray(to_numpy(x), dtype=np.float64)


def measure(name, size, numpy_fn, cupy_fn, rounds, cp):
    """One row: medians of interleaved rounds, and the CuPy/NumPy result difference."""
    numpy_fn()
    if cupy_fn is not None:
        cupy_fn()
        _sync(cp)
    wall, cpu, gpu = [], [], []
    for _ in range(rounds):
        w, c, ref = _time(numpy_fn, None)
        wall.append(w)
        cpu.append(c)
        if cupy_fn is not None:
            g, _, got = _time(cupy_fn, cp)
            gpu.append(g)
    row = dict(name=name, size=size, numpy=float(np.median(wall)), cpu=float(np.median(cpu)),
               cupy=float(np.median(gpu)) if gpu else None, diff=None)
    if cupy_fn is not None:
        a, b = _flat(ref), _flat(got)
        row["diff"] = float(np.max(np.abs(a - b)) / max(1e-300, float(np.max(np.abs(a)))))
    return row


HEADER = (f"{'quantity':<18} {'size':<9} {'NumPy s':>9} {'NumPy cpu s':>12} {'CuPy s':>13} "
          f"{'speed-up':>9} {'rel diff':>9}")


def show(r):
    """Print one row as soon as it is measured (a long run keeps what it measured)."""
    gpu = "not measured" if r["cupy"] is None else f"{r['cupy']:.4f}"
    up = "-" if r["cupy"] is None else f"{r['numpy'] / r['cupy']:.1f}x"
    diff = "-" if r["diff"] is None else f"{r['diff']:.1e}"
    print(f"{r['name']:<18} {r['size']:<9} {r['numpy']:>9.4f} {r['cpu']:>12.4f} {gpu:>13} "
          f"{up:>9} {diff:>9}", flush=True)
    return r


def exact_rows(sizes, rounds, cp):
    rows = []
    pol = LinearSoftmaxPolicy(Polynomial(obs_dim=D, degree=1), A)
    for S in sizes:
        mdp = M.random_mdp(S, A, S, gamma=0.99)
        obs = np.random.default_rng(S).standard_normal((S, D))
        params = pol.init(0)
        dev = mdp.to("cupy") if cp is not None else None
        dparams = {k: cp.asarray(v) for k, v in params.items()} if cp is not None else None
        dobs = cp.asarray(obs) if cp is not None else None
        for name, fn in (("grad J", M.policy_gradient), ("natural gradient", M.natural_gradient)):
            rows.append(show(measure(
                name, f"S={S}", lambda fn=fn: fn(mdp, pol, params, obs),
                None if cp is None else (lambda fn=fn: fn(dev, pol, dparams, dobs)), rounds, cp)))
    return rows


def sampler_row(n_traj, rounds, cp):
    mdp = M.random_mdp(100, A, 7, gamma=0.99, n_terminal=5, p_terminate=0.02)
    pi = np.full((100, A), 1.0 / A)
    dev = mdp.to("cupy") if cp is not None else None
    return measure("sampler", f"M={n_traj:.0e}",
                   lambda: M.sample_trajectories(mdp, pi, n_traj, HORIZON, 0),
                   None if cp is None else
                   (lambda: M.sample_trajectories(dev, cp.asarray(pi), n_traj, HORIZON, 0)),
                   rounds, cp)


def score_sum_row(batch, rounds, cp):
    pol = MLPCategoricalPolicy(obs_dim=16, n_actions=A, hidden=(64, 64), activation="tanh")
    params = {k: np.asarray(v, np.float64) for k, v in pol.init(0).items()}
    rng = np.random.default_rng(1)
    obs, act, w = (rng.standard_normal((batch, 16)), rng.integers(0, A, batch),
                   rng.standard_normal(batch))
    cupy_fn = None
    if cp is not None:
        dp = {k: cp.asarray(v) for k, v in params.items()}
        do, da, dw = cp.asarray(obs), cp.asarray(act), cp.asarray(w)
        cupy_fn = lambda: pol.score_sum(dp, do, da, dw)  # noqa: E731
    return measure("MLP score_sum", f"B={batch}", lambda: pol.score_sum(params, obs, act, w),
                   cupy_fn, rounds, cp)


def crossover(rows):
    grad = [r for r in rows if r["name"] == "grad J"]
    if not grad or grad[0]["cupy"] is None:
        return "not measured (no CuPy / GPU here)"
    for r in grad:
        if r["cupy"] < r["numpy"]:
            return f"the GPU wins from {r['size']} on (smallest measured size where it is faster)"
    return f"the GPU did not win at any measured size (largest {grad[-1]['size']})"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="S = 500, 2000, 5000; M = 1e6")
    ap.add_argument("--sizes", type=str, default=None, help="comma-separated S values")
    ap.add_argument("--n-traj", type=int, default=None, help="sampler's M (0: skip the row)")
    ap.add_argument("--batch", type=int, default=65_536, help="score_sum's B (0: skip the row)")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    sizes = ([int(s) for s in args.sizes.split(",") if s] if args.sizes is not None
             else [500, 2000, 5000] if args.full else [200, 500])
    n_traj = args.n_traj or (1_000_000 if args.full else 100_000)
    cp = None
    if cupy_available():
        import cupy as cp  # noqa: PLC0415
    print(HEADER, flush=True)
    rows = exact_rows(sizes, args.rounds, cp)
    if args.n_traj != 0:
        rows.append(show(sampler_row(n_traj, args.rounds, cp)))
    if args.batch:
        rows.append(show(score_sum_row(args.batch, args.rounds, cp)))
    print(f"crossover (grad J): {crossover(rows)}")
    if cp is None:
        print("CuPy column: not measured (CuPy or a CUDA GPU is missing on this machine)")


if __name__ == "__main__":
    main()
