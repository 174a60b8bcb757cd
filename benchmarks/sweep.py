"""Sweep backends on this machine: a 2 x 5 (config x seed) CartPole PPO sweep run one job at a
time, on the process pool and on a local Ray cluster; wall times, speed-ups over serial, and the
per-job overhead of the pool and of Ray measured on jobs of a single update.

    python benchmarks/sweep.py [--steps 10000] [--seeds 5] [--workers N] [--no-ray]

Every backend runs the same plan into its own sweep directory (under a temporary directory);
the pool and the Ray cluster are each started once (their start-up times are printed apart)
and reused for both of their rows. The per-job overhead is (backend wall x workers / jobs) - (serial wall / jobs) on 20 jobs
of 32 env steps each: what starting, shipping and collecting one job costs beyond training it.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

from npg.app.sweep import make_plan, run_sweep
from npg.app.sweep.backends import default_workers, make_backend, worker_threads


def _time(plan, backend, root, name, workers):
    d = os.path.join(root, name)
    t0 = time.perf_counter()
    res = run_sweep(plan, d, backend=backend, workers=workers)
    wall = time.perf_counter() - t0
    if res["failed"]:
        raise RuntimeError(f"{name}: jobs failed: {res['failed']}")
    return wall


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    p.add_argument("--steps", type=int, default=10_000)
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--workers", type=int, default=None)
    p.add_argument("--no-ray", action="store_true")
    a = p.parse_args(argv)
    workers = a.workers or default_workers()
    plan = make_plan("CartPole-v1", "ppo", a.steps, {"lr": [1e-3, 3e-4]}, a.seeds,
                     eval_episodes=0)
    tiny = make_plan("CartPole-v1", "ppo", 32, {"lr": [1e-3, 3e-4]}, 10, eval_episodes=0,
                     base={"n_envs": 2, "n_steps": 16, "batch_size": 32, "n_epochs": 1})
    n, m = len(plan.jobs()), len(tiny.jobs())
    print(f"{n} jobs of PPO on CartPole-v1, {a.steps:,} steps each; {workers} workers on "
          f"{default_workers()} cores (python {sys.version.split()[0]}); load average at the "
          f"start {os.getloadavg()[0]:.1f}")
    rows = []
    with tempfile.TemporaryDirectory() as root:
        run_sweep(tiny, os.path.join(root, "warm"), backend="serial")    # Numba caches warm
        serial = _time(plan, "serial", root, "serial", None)
        serial_tiny = _time(tiny, "serial", root, "serial-tiny", None)
        rows.append(("serial", serial, None))
        t0 = time.perf_counter()
        pool_be = make_backend("pool", workers=workers)
        pool_be.call(worker_threads)          # spawned and imported: as Ray's workers are
        print(f"pool start (spawn {workers} workers, import numpy/numba): "
              f"{time.perf_counter() - t0:.1f} s")
        try:
            rows.append(("pool", _time(plan, pool_be, root, "pool", None),
                         _time(tiny, pool_be, root, "pool-tiny", None)))
        finally:
            pool_be.close()
        if not a.no_ray:
            try:
                t0 = time.perf_counter()
                ray_be = make_backend("ray", workers=workers)
                print(f"Ray local cluster start: {time.perf_counter() - t0:.1f} s")
            except ImportError as err:
                print(f"Ray skipped: {err}")
            else:
                try:
                    rows.append(("ray", _time(plan, ray_be, root, "ray", None),
                                 _time(tiny, ray_be, root, "ray-tiny", None)))
                finally:
                    ray_be.close()
    print(f"load average (1/5/15 min) at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}"
          f" on {os.cpu_count()} cores: other processes share the cores when it exceeds them")
    print(f"{'backend':8s} {'wall s':>8s} {'speed-up':>9s} {'overhead/job ms':>16s}")
    for name, wall, tiny_wall in rows:
        over = "" if tiny_wall is None else \
            f"{1e3 * (tiny_wall * workers / m - serial_tiny / m):16.0f}"
        print(f"{name:8s} {wall:8.1f} {serial / wall:8.2f}x {over}")


if __name__ == "__main__":
    main()
