"""Cold start: `npg train CartPole-v1` on an empty Numba cache against the same command on a warm one.

Each round runs, in a subprocess, ``npg train CartPole-v1 --quiet`` (the default PPO preset,
50k steps, progress off, the final 10-episode evaluation included) with ``NUMBA_CACHE_DIR`` a
fresh temporary directory (cold), waits for the background compiler process that run may
have left behind (``npg.engine.warmup``) to finish, then runs the same command again on that
now-warm cache (warm). Wall seconds from the subprocess's start to its exit; medians over the
rounds (>= 2). The cold run's compiler child profiles its compilation
(``NPG_WARMUP_PROFILE``): CPU seconds per compiled function, callees excluded (without a
child, the same exercise is profiled in a subprocess on another fresh cache).

    python benchmarks/cold.py [--rounds 2] [--steps N] [--inprocess]

prints one line per run, the per-kernel compile seconds of the first round, and

    COLD cold=<s> warm=<s> ratio=<x>

``--inprocess`` also times the cold run with ``NPG_BACKGROUND_COMPILE=0`` (every kernel
compiled in the training process before it is used: the behaviour without ``warmup``).
"""

from __future__ import annotations

import argparse
import collections
import glob
import json
import os
import pathlib
import resource
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent


def run_train(cache: str, out: str, steps: int | None, extra_env: dict) -> dict:
    """One ``npg train CartPole-v1`` in a subprocess: wall and CPU seconds, its summary line."""
    env = dict(os.environ, NUMBA_CACHE_DIR=cache, **extra_env)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + ([env["PYTHONPATH"]]
                                                       if env.get("PYTHONPATH") else []))
    cmd = [sys.executable, "-m", "npg.app.cli", "train", "CartPole-v1", "--quiet", "--out", out,
           "--force"] + ([] if steps is None else ["--steps", str(steps)])
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        raise RuntimeError(f"npg train failed ({p.returncode}): {p.stderr[-2000:]}")
    done = [ln for ln in p.stdout.splitlines() if ln.startswith("done:")]
    return {"wall": wall, "cpu": (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime),
            "summary": done[0] if done else "", "t0": t0}


def wait_marker(cache: str, t0: float, timeout: float) -> dict | None:
    """Wait for the warm-cache marker of ``npg.engine.warmup`` under ``cache``; its contents
    and the seconds since ``t0`` when it was seen, or None (no background compilation)."""
    t_end = time.perf_counter() + timeout
    while True:
        found = glob.glob(os.path.join(cache, "**", "npg-warm-*.json"), recursive=True)
        if found:
            with open(found[0]) as f:
                return {"seen_s": time.perf_counter() - t0, **json.load(f)}
        if time.perf_counter() > t_end or not glob.glob(
                os.path.join(tempfile.gettempdir(), "npg-warmup-*")):
            return None
        time.sleep(0.2)


_PROFILE_SNIPPET = """
import sys
from npg.algos.ppo import PPO
from npg.app.presets import preset
from npg.envs.spaces import SpaceInfo
from npg.engine import warmup_child
profile = warmup_child._CompileProfile()
spec = SpaceInfo(4, "box", None, True, 2, None, None, None)   # CartPole-v1's spaces
warmup_child.exercise_ppo(PPO(preset("CartPole-v1", "ppo")["config"], spec), lambda k: None)
profile.write(sys.argv[1])
"""


def profile_here(cache: str, path: str) -> None:
    """The compile profile without a background child (it compiled in-process): the child's
    exercise, run in a subprocess on a fresh cache under the same compile-event listener."""
    env = dict(os.environ, NUMBA_CACHE_DIR=cache)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + ([env["PYTHONPATH"]]
                                                       if env.get("PYTHONPATH") else []))
    subprocess.run([sys.executable, "-c", _PROFILE_SNIPPET, path], env=env, check=True)


def print_profile(path: str) -> None:
    rows = json.load(open(path))
    per = collections.defaultdict(lambda: [0.0, set()])
    for name, sec, sig in rows:
        per[name][0] += sec
        per[name][1].add(sig)
    total = sum(v[0] for v in per.values())
    print(f"compile profile (CPU s, callees excluded): total {total:.1f} s, "
          f"{len(rows)} compilations")
    internals = sum(v[0] for k, v in per.items() if not k.startswith("npg."))
    for name, (sec, sigs) in sorted(per.items(), key=lambda kv: -kv[1][0]):
        if name.startswith("npg."):
            print(f"  {sec:6.2f}  {name}  ({len(sigs)} signature{'s' * (len(sigs) > 1)})")
    print(f"  {internals:6.2f}  Numba's own overloads (slice-assignment error messages, np.max, "
          f"np.empty, ...)")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--steps", type=int, default=None, help="default: the preset's 50,000")
    p.add_argument("--inprocess", action="store_true",
                   help="also time a cold run with NPG_BACKGROUND_COMPILE=0")
    p.add_argument("--timeout", type=float, default=600.0,
                   help="seconds to wait for a background compiler to finish")
    a = p.parse_args(argv)
    if a.rounds < 2:
        p.error("--rounds must be >= 2 (medians)")
    print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}", flush=True)
    cold, warm, inproc = [], [], []
    for r in range(a.rounds):
        with tempfile.TemporaryDirectory(prefix="npg-cold-") as tmp:
            cache, out = os.path.join(tmp, "cache"), os.path.join(tmp, "run")
            prof = os.path.join(tmp, "profile.json")
            c = run_train(cache, out, a.steps, {"NPG_WARMUP_PROFILE": prof})
            marker = wait_marker(cache, c["t0"], a.timeout)
            bg = ("background compiler: none (compiled in-process)" if marker is None else
                  f"background compiler done {marker['seen_s']:.1f} s after the start "
                  f"(acting ready at {marker['seconds'].get('acting', float('nan')):.1f} s, "
                  f"update at {marker['seconds'].get('update', float('nan')):.1f} s of its "
                  f"own clock; {marker['cpu_s']:.1f} CPU s)")
            print(f"round {r}: cold {c['wall']:.1f} s wall, {c['cpu']:.1f} CPU s  {c['summary']}"
                  f"\n  {bg}", flush=True)
            w = run_train(cache, out, a.steps, {})
            print(f"round {r}: warm {w['wall']:.1f} s wall, {w['cpu']:.1f} CPU s  {w['summary']}",
                  flush=True)
            cold.append(c["wall"])
            warm.append(w["wall"])
            if r == 0:
                if not os.path.exists(prof):
                    profile_here(os.path.join(tmp, "cache2"), prof)
                print_profile(prof)
        if a.inprocess:
            with tempfile.TemporaryDirectory(prefix="npg-cold-") as tmp:
                i = run_train(os.path.join(tmp, "cache"), os.path.join(tmp, "run"), a.steps,
                              {"NPG_BACKGROUND_COMPILE": "0"})
                print(f"round {r}: cold in-process {i['wall']:.1f} s wall, {i['cpu']:.1f} CPU s"
                      f"  {i['summary']}", flush=True)
                inproc.append(i["wall"])
    c, w = statistics.median(cold), statistics.median(warm)
    if inproc:
        print(f"COLD_INPROCESS cold={statistics.median(inproc):.1f} warm={w:.1f} "
              f"ratio={statistics.median(inproc) / w:.2f}")
    print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}")
    print(f"COLD cold={c:.1f} warm={w:.1f} ratio={c / w:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
