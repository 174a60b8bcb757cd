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
