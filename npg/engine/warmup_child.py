"""The child process of ``npg.engine.warmup``: compile one configuration's kernels into Numba's
on-disk cache by running the algorithm's public methods on synthetic data.

    python -m npg.engine.warmup_child JOB_DIR

``JOB_DIR/job.pkl`` holds the algorithm class, its config and space spec, the exercise
("module:function"), the marker path, the parent's pid and the directory of the parent's
npg (a child that imported another npg compiles nothing and exits with status 3). The
exercise calls ``done(kind)`` after each kind ("acting", "rollout", "kernels", "update",
"parallel"); each writes ``JOB_DIR/<kind>``, which the parent's ``warmup.ready`` looks for.
At the end the child writes the marker (the cache is warm for this configuration) and removes
``JOB_DIR``. Its output goes to ``JOB_DIR/child.log`` (read by the parent when it fails).
Nothing here is random in a way that matters: the synthetic data only fix the argument types,
which decide what compiles.

With ``NPG_WARMUP_PROFILE=FILE`` in the environment the child also writes, as JSON, the CPU
seconds each compiled function took itself (callees excluded; Numba's ``numba:compile``
events) and the signatures it was compiled for (``benchmarks/cold.py`` prints them).
"""

from __future__ import annotations

import importlib
import json
import os
import pickle
import shutil
import sys
import time

import numpy as np

__all__ = ["exercise_kernels", "exercise_ppo", "synthetic_rollout", "main"]


def synthetic_rollout(spec, dtype, T: int = 4, N: int = 2, seed: int = 0):
    """A ``Rollout`` [T, N] with the array types ``Collector`` produces (obs, logp, rewards and
    values in ``dtype``, int64 Discrete actions or ``dtype`` Box actions, bool flags), random
    contents, one episode end in the middle: it only decides which kernels compile."""
    from ..envs.rollout_data import Rollout
    rng = np.random.default_rng(seed)
    D = spec.obs_dim
    if spec.discrete:
        act = rng.integers(0, spec.n_actions, (T, N)).astype(np.int64)
    else:
        act = rng.standard_normal((T, N, spec.act_dim)).astype(dtype)
    term = np.zeros((T, N), bool)
    term[T // 2, 0] = True
    f = lambda *shape: rng.standard_normal(shape).astype(dtype)       # noqa: E731
    return Rollout(obs=f(T, N, D), act=act, logp=-np.abs(f(T, N)), rew=f(T, N),
                   terminated=term, truncated=np.zeros((T, N), bool), value=f(T, N),
                   next_value=f(T, N), valid=np.ones((T, N), bool), last_obs=f(N, D),
                   episode_returns=np.zeros(0), episode_lengths=np.zeros(0, np.int64))


def exercise_kernels(algo) -> None:
    """The small kernels outside the engine that a run calls from its first update on (which
    ``npg.compiling`` holds until this is done): GAE on a rollout of the config's dtype, and
    npg's CartPole step where the spaces are CartPole's (4 observations, 2 actions)."""
    from ..returns import gae
    r = synthetic_rollout(algo.spec, algo.dtype)
    gae(r.rew, r.value, r.next_value, r.terminated, r.truncated, 0.99, 0.95)
    spec = algo.spec
    if spec.discrete and spec.n_actions == 2 and spec.obs_dim == 4:
        from ..envs.cartpole_vector import CartPoleVectorEnv
        envs = CartPoleVectorEnv(2)
        envs.reset(seed=0)
        envs.step(np.zeros(2, np.int64))


def exercise_ppo(algo, done) -> None:
    """PPO: every acting call a run makes (``act_value``, ``act`` sampled and deterministic,
    ``value``, on rows of the config's dtype), then a fused CartPole rollout (where the spaces
    are CartPole's), then the small kernels (``exercise_kernels``), then one ``update`` on one
    thread and one on two (the thread count decides what compiles: ``ppo_loop``).

    The order is that of what the reference path costs while it waits (CartPole's PPO preset,
    float32, measured on the development machine): acting on it 24 us per env step,
    gymnasium's CartPole step (used until the fused rollout is ready) 7 us, GAE's array-API
    path 93 us per [32, 8] update (0.4 us per env step; the kernel 16)."""
    rng = np.random.default_rng(0)
    state = algo.init(rng)
    obs = rng.standard_normal((2, algo.spec.obs_dim)).astype(algo.dtype)
    if not getattr(algo.config, "use_sde", False):
        algo.act_value(state, obs, rng)
    algo.act(state, obs, rng)
    algo.act(state, obs[:1], rng, deterministic=True)
    algo.value(state, obs)
    done("acting")
    if not getattr(algo.config, "use_sde", False):
        _exercise_fused_rollout(algo, state, rng)
    done("rollout")
    exercise_kernels(algo)
    done("kernels")
    threads, rollout = algo.fast_threads, synthetic_rollout(algo.spec, algo.dtype)
    try:
        algo.fast_threads = 1
        algo.update(state, rollout, 0.0, rng)
        done("update")
        algo.fast_threads = 2
        algo.update(state, rollout, 0.0, rng)
        done("parallel")
    finally:
        algo.fast_threads = threads


def _exercise_fused_rollout(algo, state, rng) -> None:
    """A two-step rollout of npg's CartPoleVectorEnv in one call (``engine.rollout_cartpole``),
    for the configurations whose spaces are CartPole's (4 observations, 2 actions)."""
    spec = algo.spec
    if not (spec.discrete and spec.n_actions == 2 and spec.obs_dim == 4):
        return
    if getattr(algo, "rollout_plan", None) is None or algo.rollout_plan(state, rng) is None:
        return
    from ..envs.cartpole_vector import CartPoleVectorEnv
    from ..envs.rollout import Collector
    envs = CartPoleVectorEnv(2)
    act = lambda o, mask=None: algo.act_value(state, o, rng)          # noqa: E731
    act.rollout_plan = lambda: algo.rollout_plan(state, rng)
    Collector(envs, dtype=algo.dtype, seed=0).collect(act, lambda o: algo.value(state, o), 2)


def _exercise(path: str):
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def _write_marker(marker: str, payload: dict) -> None:
    """Write the warm-cache marker atomically (a reader sees all of it or nothing)."""
    os.makedirs(os.path.dirname(marker), exist_ok=True)
    tmp = f"{marker}.{os.getpid()}.tmp"
    with open(tmp, "w") as f:
        json.dump(payload, f)
    os.replace(tmp, marker)


class _CompileProfile:
    """Exclusive CPU seconds per compiled function, from Numba's compile events (nested:
    a caller's compile includes its callees', subtracted here)."""

    def __init__(self):
        from numba.core import event
        self.rows, self.stack = [], []
        profile = self

        class Listener(event.Listener):
            def on_start(self, ev):
                profile.stack.append([time.process_time(), 0.0])

            def on_end(self, ev):
                t0, inner = profile.stack.pop()
                dur = time.process_time() - t0
                if profile.stack:
                    profile.stack[-1][1] += dur
                f = ev.data["dispatcher"].py_func
                profile.rows.append([f"{f.__module__}.{f.__qualname__}", dur - inner,
                                     str(ev.data["args"])])
        event.register("numba:compile", Listener())

    def write(self, path: str) -> None:
        with open(path, "w") as f:
            json.dump(self.rows, f)


def main(job_dir: str) -> int:
    from . import warmup
    warmup._MODE["in_child"] = True               # this process compiles: always "ready"
    with open(os.path.join(job_dir, "job.pkl"), "rb") as f:
        job = pickle.load(f)
    profile_path = os.environ.get("NPG_WARMUP_PROFILE")
    profile = _CompileProfile() if profile_path else None
    t0, times = time.perf_counter(), {}

    def done(kind: str) -> None:
        times[kind] = round(time.perf_counter() - t0, 3)
        open(os.path.join(job_dir, kind), "w").close()

    if job.get("npg") != warmup._npg_dir():
        print(f"npg: the compiler process imported npg from {warmup._npg_dir()}, not the "
              f"caller's {job.get('npg')}; nothing compiled", file=sys.stderr)
        return 3
    algo = job["cls"](job["config"], job["spec"])
    _exercise(job["exercise"])(algo, done)
    if profile is not None:
        profile.write(profile_path)
    _write_marker(job["marker"], {"algo": algo.name, "config": repr(algo.config),
                                  "seconds": times, "cpu_s": round(time.process_time(), 3)})
    shutil.rmtree(job_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
