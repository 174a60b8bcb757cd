"""The update's thread choice: the chooser's schedule on given costs, the wait policy it sets
(and leaves alone when the user chose one), and that automatic updates are measured."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from npg.engine.threads import ThreadChooser, chooser


def _run(c, cost):
    """Picks of ``c`` over 24 updates where thread count k costs cost[k] per step."""
    picks = []
    for _ in range(24):
        k = c.pick()
        picks.append(k)
        c.record(k, cost[k])
    return picks


@pytest.mark.parametrize("cost,best", [({1: 2.0, 2: 1.0}, 2), ({1: 1.0, 2: 3.0}, 1)])
def test_it_measures_both_then_keeps_the_cheaper_and_probes_the_other(cost, best):
    picks = _run(ThreadChooser(), cost)
    assert picks[:4] == [2, 2, 1, 1]           # first sample of each discarded (warm-up)
    rest = picks[4:]
    assert rest.count(best) >= len(rest) - 3
    assert 3 - best in rest                    # probed again (every PROBE_EVERY-th update)


def test_a_change_of_load_moves_the_choice():
    c = ThreadChooser()
    _run(c, {1: 2.0, 2: 1.0})
    assert c.pick() == 2 or c.pick() == 2
    picks = _run(c, {1: 2.0, 2: 8.0})          # the machine got busy: two threads now slow
    assert picks[-8:].count(1) >= 7


def test_chooser_is_one_per_kind_of_update():
    assert chooser(("<f8", 256, 9155, "categorical")) is chooser(("<f8", 256, 9155,
                                                                 "categorical"))
    assert chooser(("<f4", 256, 9155, "categorical")) is not chooser(("<f8", 256, 9155,
                                                                     "categorical"))


_CHILD = """
import os, sys
from npg.engine.threads import before_first_parallel_call
before_first_parallel_call()
print(os.environ.get("GOMP_SPINCOUNT"), os.environ.get("OMP_WAIT_POLICY"))
"""


@pytest.mark.parametrize("env,want", [({}, "1000 None"),
                                      ({"OMP_WAIT_POLICY": "PASSIVE"}, "None PASSIVE"),
                                      ({"GOMP_SPINCOUNT": "5"}, "5 None")])
def test_wait_policy_is_set_once_unless_the_user_chose_one(env, want):
    base = {k: v for k, v in os.environ.items() if k not in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY")}
    out = subprocess.run([sys.executable, "-c", _CHILD], env={**base, **env}, check=True,
                         capture_output=True, text=True).stdout.split()
    assert " ".join(out) == want
    assert "GOMP_SPINCOUNT" not in subprocess.run(      # importing the engine sets nothing
        [sys.executable, "-c", "import os, npg.engine.ppo; print(dict(os.environ))"],
        env=base, check=True, capture_output=True, text=True).stdout


def test_automatic_updates_are_measured():
    from npg.app.agent import Agent
    from npg.engine import threads as T
    T._CHOOSERS.clear()
    ag = Agent("CartPole-v1", "ppo", {"n_envs": 4, "n_steps": 64, "batch_size": 256,
                                      "n_epochs": 2}, seed=0)
    ag.learn(256 * 5, progress=False)
    (c,) = T._CHOOSERS.values()
    assert sum(c.seen.values()) == 5 and c.seen[2] >= 2 and c.seen[1] >= 1
    assert np.isfinite(c.cost[2])


_TWO_THREAD_UPDATE = """
import numpy as np
from npg.algos.ppo import PPO, PPOConfig
from npg.envs.spaces import SpaceInfo
from npg.engine.warmup_child import synthetic_rollout
algo = PPO(PPOConfig(n_envs=2, n_steps=4, batch_size=8, n_epochs=2),
           SpaceInfo(4, "box", None, True, 2, None, None, None))
algo.fast_threads = 2
state = algo.init(np.random.default_rng(0))
new, _ = algo.update(state, synthetic_rollout(algo.spec, algo.dtype), 0.0,
                     np.random.default_rng(1))
print(new["policy"]["W1"].tobytes().hex(), new["critic"]["W2"].tobytes().hex())
"""


@pytest.mark.slow                       # compiles the two-thread update on an empty cache
def test_a_cached_two_thread_update_whose_parallel_region_came_from_the_cache_runs(tmp_path):
    """Numba loses a parallel callee's thread-pool start when the caller is compiled while the
    callee is loaded from the cache (numba/numba#8578: the loaded library has no reload_init),
    so a later process that loads the caller (``ppo_loop._epochs``) starts no pool and its
    parallel region crashed (SIGSEGV). The three processes build that cache state: the first
    compiles everything, ``_epochs`` is dropped from the cache, the second compiles it beside
    the cached ``_halves_parallel``, the third loads both. ``before_first_parallel_call``
    starts the pool itself, so the third runs and gives the first's numbers bit for bit."""
    import glob
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))

    def update():
        p = subprocess.run([sys.executable, "-c", _TWO_THREAD_UPDATE], capture_output=True,
                           text=True, timeout=600, env=env)
        assert p.returncode == 0, (p.returncode, p.stderr[-2000:])
        return p.stdout
    first = update()
    dropped = glob.glob(str(tmp_path / "**" / "ppo_loop._epochs-*"), recursive=True)
    assert dropped                              # the index and the machine code of _epochs
    for f in dropped:
        os.remove(f)
    assert update() == first
    assert update() == first
