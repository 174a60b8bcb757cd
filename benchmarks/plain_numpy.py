"""npg against a plain-NumPy PPO (no Numba, no torch) at the same CartPole-v1 settings, per CPU-second.

The yardstick is a ~150-line PPO script written in plain float32 NumPy for this comparison (the
rl-baselines3-zoo CartPole-v1 settings of ``npg.app.presets``: 8 envs of gymnasium's
CartPoleVectorEnv, 32 steps, one 256-row minibatch, 20 epochs, 64-64 tanh actor and critic,
Adam, clipping and lr annealed). It is not part of npg: pass its path. Each run is a fresh
subprocess, rounds interleaved (npg float32, npg float64, the yardstick; the order rotates),
timed by the child's own CPU time (user + system); npg's children warm up first as in
``versus.py``. Printed, as medians over the rounds:

    PLAIN npg_f32=<steps/CPU-s> npg_f64=<steps/CPU-s> numpy=<steps/CPU-s> ratio_f32=<x> ratio_f64=<x>

    OPENBLAS_NUM_THREADS=1 python benchmarks/plain_numpy.py --yardstick PATH/minimal_numpy_ppo.py
        [--rounds 3] [--steps 20480] [--threads auto|1|2]

The yardstick is called as ``python PATH SEED STEPS OUT_JSONL`` and must print one JSON line
with ``timesteps`` and ``cpu_s``; without the file the script says so and exits 0.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from versus import _NPG, child  # noqa: E402


def yardstick(path: str, steps: int) -> tuple[int, float]:
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    with tempfile.TemporaryDirectory() as d:
        p = subprocess.run([sys.executable, path, "0", str(steps), os.path.join(d, "out.jsonl")],
                           capture_output=True, text=True, env=env, timeout=1800)
    if p.returncode != 0:
        raise RuntimeError(p.stderr.strip().splitlines()[-1] if p.stderr else "failed")
    row = json.loads([x for x in p.stdout.splitlines() if x.startswith("{")][-1])
    return int(row["timesteps"]), float(row["cpu_s"])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument("--yardstick", required=True, help="path of the plain-NumPy PPO script")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=20_480)
    ap.add_argument("--threads", default="auto", choices=["auto", "1", "2"])
    a = ap.parse_args(argv)
    if not os.path.isfile(a.yardstick):
        print(f"plain_numpy: no yardstick script at {a.yardstick!r}; skipped")
        return 0
    per = {"f32": [], "f64": [], "numpy": []}
    order = list(per)
    for r in range(a.rounds):
        for who in order[r % 3:] + order[:r % 3]:
            if who == "numpy":
                n, cpu = yardstick(a.yardstick, a.steps)
            else:
                dtype = "float32" if who == "f32" else "float64"
                n, cpu, _ = child(_NPG, "CartPole-v1", a.steps, dtype, a.threads, "auto")
            per[who].append(n / cpu)
            print(f"  round {r} {who}: {n:,} steps, {cpu:.2f} CPU-s ({n / cpu:,.0f} steps/CPU-s)",
                  flush=True)
    m = {k: statistics.median(v) for k, v in per.items()}
    print(f"PLAIN npg_f32={m['f32']:.0f} npg_f64={m['f64']:.0f} numpy={m['numpy']:.0f} "
          f"ratio_f32={m['f32'] / m['numpy']:.2f} ratio_f64={m['f64'] / m['numpy']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
