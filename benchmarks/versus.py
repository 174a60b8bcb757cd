"""npg against Stable-Baselines3 at the same settings, interleaved, per CPU-second.

Each workload trains for a fixed number of env steps in a fresh subprocess, alternating npg and
SB3 round by round (so both see the same machine load), and is timed by the child's CPU time
(user + system, all threads, from ``resource.getrusage(RUSAGE_CHILDREN)``) and wall time. Each
child first runs a short warm-up (Numba's cache load or compile for npg, torch's start-up for
SB3) that is not timed. Printed per workload, as medians over the rounds:

    VERSUS <workload> npg=<steps per CPU-second> sb3=<steps per CPU-second> ratio=<x>

Workloads (rl-baselines3-zoo's PPO settings, ``npg.app.presets``; SB3 with the same n_envs, n_steps,
batch, epochs, gamma, lambda, lr and clip schedules, 64-64 tanh networks, CPU, float32 as torch
trains; npg in its preset's dtype unless the name says f32 or f64):

    cartpole_ppo       CartPole-v1, npg's default (the preset's float32)  20,480 steps
    cartpole_ppo_f32   CartPole-v1, npg float32                    20,480 steps
    cartpole_ppo_f64   CartPole-v1, npg float64                    20,480 steps
    pendulum_gsde      Pendulum-v1 with gSDE                        8,192 steps
    pendulum_gsde_sync the same on gymnasium's SyncVectorEnv          8,192 steps
                       (pendulum_gsde: npg's vectorised Pendulum-v1, which "auto" picks)
    lunarlander_ppo    LunarLander-v3 (needs Box2D)                32,768 steps

Stable-Baselines3 is an optional benchmark dependency (``pip install stable-baselines3`` beside a
CPU torch), never a dependency of npg; without it the script says so and exits 0.

    OPENBLAS_NUM_THREADS=1 python benchmarks/versus.py [--rounds 3] [--workloads ...]
                                                       [--threads auto|1|2]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

WORKLOADS = {"cartpole_ppo": ("CartPole-v1", 20_480, "preset", "auto"),
             "cartpole_ppo_f32": ("CartPole-v1", 20_480, "float32", "auto"),
             "cartpole_ppo_f64": ("CartPole-v1", 20_480, "float64", "auto"),
             "pendulum_gsde": ("Pendulum-v1", 8_192, "preset", "auto"),
             "pendulum_gsde_sync": ("Pendulum-v1", 8_192, "preset", "sync"),
             "lunarlander_ppo": ("LunarLander-v3", 32_768, "preset", "auto")}

_NPG = """
import sys
from npg.app.agent import Agent
from npg.app.presets import preset
env, steps, dtype, threads, vec = sys.argv[1], int(sys.argv[2]), *sys.argv[3:6]
p = preset(env, "ppo")
def make():
    cfg = p["config"] if dtype == "preset" else {**p["config"], "dtype": dtype}
    a = Agent(env, "ppo", cfg, seed=0, vectorization=vec,
              normalize_obs=p["normalize_obs"], scale_reward=p["scale_reward"])
    if threads != "auto":
        a.algo.fast_threads = int(threads)
    return a
per = p["config"]["n_envs"] * p["config"]["n_steps"]
make().learn(per, progress=False)                       # warm-up: Numba cache / compile
import resource, time
r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
a = make().learn(steps, progress=False)
r1, t1 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
print("RESULT", a.env_steps, cpu, t1 - t0)
"""

_SB3 = """
import sys, resource, time
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env
from npg.app.presets import preset
torch.set_num_threads(1)
env, steps = sys.argv[1], int(sys.argv[2])
c = preset(env, "ppo")["config"]
def lin(x):
    return lambda progress: progress * x
def make():
    venv = make_vec_env(env, n_envs=c["n_envs"], seed=0)
    kw = dict(n_steps=c["n_steps"], batch_size=c["batch_size"], n_epochs=c["n_epochs"],
              gamma=c["gamma"], gae_lambda=c["gae_lambda"], ent_coef=c["ent_coef"],
              vf_coef=c["vf_coef"] / 2, max_grad_norm=c["max_grad_norm"],
              learning_rate=lin(c["lr"]) if c["anneal_lr"] else c["lr"],
              clip_range=lin(c["clip_range"]) if c["anneal_clip"] else c["clip_range"],
              use_sde=c.get("use_sde", False), sde_sample_freq=c.get("sde_sample_freq", -1),
              policy_kwargs=dict(net_arch=dict(pi=[64, 64], vf=[64, 64]),
                                 activation_fn=torch.nn.Tanh),
              device="cpu", seed=0, verbose=0)
    return PPO("MlpPolicy", venv, **kw)
make().learn(c["n_envs"] * c["n_steps"])               # warm-up
r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
m = make().learn(steps)
r1, t1 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
print("RESULT", m.num_timesteps, cpu, t1 - t0)
"""


def child(code: str, *args) -> tuple[int, float, float]:
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    p = subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True,
                       text=True, env=env, timeout=1800)
    if p.returncode != 0:
        raise RuntimeError(p.stderr.strip().splitlines()[-1] if p.stderr else "failed")
    line = [x for x in p.stdout.splitlines() if x.startswith("RESULT")][-1].split()
    return int(line[1]), float(line[2]), float(line[3])


def available(module: str) -> bool:
    p = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True)
    return p.returncode == 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--workloads", nargs="+", default=list(WORKLOADS), choices=list(WORKLOADS))
    ap.add_argument("--json", default=None, help="also write every measurement here")
    ap.add_argument("--threads", default="auto", choices=["auto", "1", "2"],
                    help="npg's update threads (PPO.fast_threads; auto: one for minibatches "
                         "under 128 rows, else the count measured faster, npg.engine.threads)")
    a = ap.parse_args(argv)
    if not available("stable_baselines3"):
        print("versus: Stable-Baselines3 is not installed (pip install stable-baselines3 with "
              "a CPU torch); skipped")
        return 0
    rows = []
    for name in a.workloads:
        env, steps, dtype, vec = WORKLOADS[name]
        if env.startswith("LunarLander") and not available("Box2D"):
            print(f"versus: {name} skipped (Box2D not installed)")
            continue
        per = {"npg": [], "sb3": []}
        for r in range(a.rounds):
            for who in (("npg", "sb3") if r % 2 == 0 else ("sb3", "npg")):
                n, cpu, wall = (child(_NPG, env, steps, dtype, a.threads, vec) if who == "npg"
                                else child(_SB3, env, steps))
                per[who].append(n / cpu)
                rows.append({"workload": name, "who": who, "round": r, "steps": n,
                             "cpu_s": cpu, "wall_s": wall, "load": os.getloadavg()[0]})
                print(f"  {name} round {r} {who}: {n:,} steps, {cpu:.1f} CPU-s, {wall:.1f} s "
                      f"({n / cpu:,.0f} steps/CPU-s, {n / wall:,.0f} steps/s)", flush=True)
        mn, ms = statistics.median(per["npg"]), statistics.median(per["sb3"])
        print(f"VERSUS {name} npg={mn:.0f} sb3={ms:.0f} ratio={mn / ms:.2f}", flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"time": time.time(), "rows": rows}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
