"""A sweep compiles its kernels once, in the parent, before the workers start (Numba's cache is
not safe for concurrent compiles, npg.app.sweep.warm): jobs are grouped by what they compile,
and after ``warm`` a new process training a job of the group compiles nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from npg.app.sweep import make_plan
from npg.app.sweep.warm import kernel_groups

CONFIG = {"n_envs": 2, "n_steps": 32, "batch_size": 64, "n_epochs": 1, "hidden": (16, 16)}


def test_jobs_that_differ_in_real_numbers_or_seeds_share_one_group():
    plan = make_plan("CartPole-v1", "ppo", 64, grid={"lr": [1e-3, 3e-4]}, seeds=3, base=CONFIG)
    assert len(kernel_groups(plan.jobs())) == 1
    plan = make_plan("CartPole-v1", "ppo", 64, grid={"hidden": [(16,), (16, 16)],
                                                     "dtype": ["float32", "float64"]},
                     seeds=2, base=CONFIG)
    groups = kernel_groups(plan.jobs())
    assert len(groups) == 4 and groups[0] == plan.jobs()[0]


_WARM = """
import json, sys
from npg.app.sweep import make_plan
from npg.app.sweep.warm import warm
plan = make_plan("CartPole-v1", "ppo", 64, seeds=2, base=json.loads(sys.argv[1]))
print("GROUPS", warm(plan.jobs()))
"""

_JOB = """
import json, sys
from numba.core import event
compiled = []
class Listener(event.Listener):
    def on_start(self, ev):
        compiled.append(ev.data["dispatcher"].py_func.__qualname__)
    def on_end(self, ev):
        pass
event.register("numba:compile", Listener())
from npg.app.agent import Agent
agent = Agent("CartPole-v1", "ppo", json.loads(sys.argv[1]), seed=1)
agent.learn(1, progress=False)
agent.predict(agent.envs.observation_space.sample(), deterministic=True)
print("COMPILED", json.dumps(compiled))
"""


def _run(code, cache_dir):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache_dir), NPG_BACKGROUND_COMPILE="0")
    out = subprocess.run([sys.executable, "-c", code, json.dumps(CONFIG)], env=env, text=True,
                         capture_output=True, timeout=600, check=True).stdout
    return out.splitlines()[-1].split(" ", 1)


def test_after_warm_a_worker_compiles_nothing(tmp_path):
    assert _run(_WARM, tmp_path) == ["GROUPS", "1"]
    key, compiled = _run(_JOB, tmp_path)
    assert key == "COMPILED" and json.loads(compiled) == []
    key, compiled = _run(_JOB, tmp_path / "cold")          # the control: a cold cache compiles
    assert len(json.loads(compiled)) > 10
