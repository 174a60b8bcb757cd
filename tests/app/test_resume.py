"""Exact resume: a run saved halfway and continued in a new process equals the run that never
stopped, bit for bit; ``learn(k)`` twice equals ``learn(2k)``; what cannot be restored is said."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings

import gymnasium as gym
import numpy as np
import pytest

from npg.app.agent import Agent
from npg.algos import state_to_flat
from npg.envs import CountingEnv

K = 256                                                   # 8 rollouts of 2 x 16 steps
BASE = {"hidden": (8,), "n_envs": 2, "n_steps": 16}
CASES = [("ppo", "CartPole-v1", {"batch_size": 16, "n_epochs": 2}),
         ("ppo", "Pendulum-v1", {"batch_size": 16, "n_epochs": 2}),
         ("ppo", "Pendulum-v1", {"batch_size": 16, "n_epochs": 2, "use_sde": True,
                                 "sde_sample_freq": 4}),
         ("a2c", "CartPole-v1", {}), ("a2c", "Pendulum-v1", {}),
         ("reinforce", "CartPole-v1", {}), ("reinforce", "Pendulum-v1", {"n_steps": 64}),
         ("ac", "CartPole-v1", {}), ("ac", "Pendulum-v1", {}),
         ("qac", "CartPole-v1", {}), ("qac", "FrozenLake-v1", {})]
IDS = [f"{a}-{e}" + ("-sde" if c.get("use_sde") else "") for a, e, c in CASES]


def make(algo, env, extra, seed=3):
    return Agent(env, algo, {**BASE, **extra}, seed=seed, normalize_obs=env != "FrozenLake-v1",
                 scale_reward=True)


def fingerprint(agent) -> dict:
    out = {k: np.asarray(v) for k, v in state_to_flat(agent.state).items()}
    out["episode_returns"] = np.asarray(agent.episode_returns)
    out["episode_lengths"] = np.asarray(agent.episode_lengths)
    out["carry_obs"] = agent.collector.carry_state()["obs"]
    out.update({f"norm/{k}": v for k, v in agent.collector.state_dict().items()})
    return out


def assert_bitwise(a: dict, b: dict):
    assert a.keys() == b.keys()
    bad = [k for k in a if a[k].shape != b[k].shape or not np.array_equal(a[k], b[k])]
    assert not bad, f"{len(bad)} of {len(a)} arrays differ: {bad[:5]}"


_CONTINUE = """
import json, sys, warnings
import numpy as np
warnings.simplefilter("error")                # a resume that cannot be exact must not pass
from npg.app.agent import Agent
sys.path.insert(0, sys.argv[3])
from test_resume import fingerprint
for d in json.loads(sys.argv[1]):
    a = Agent.load(d).learn(int(sys.argv[2]), progress=False)
    np.savez(d + "/resumed.npz", **fingerprint(a))
"""


@pytest.mark.slow
def test_resume_in_a_new_process_is_bitwise_for_every_updater(tmp_path):
    """Train 2k in one process; train k (schedule 2k), save, load in a *new process*, train k
    more: every parameter, optimiser moment, normaliser statistic, running observation and
    episode of the two runs is equal bit for bit (CartPole's own vector env, Pendulum and
    FrozenLake in gymnasium's SyncVectorEnv; reward scaling and observation normalisation
    on)."""
    dirs, full = [], {}
    for (algo, env, extra), name in zip(CASES, IDS):
        d = str(tmp_path / name)
        full[d] = fingerprint(make(algo, env, extra).learn(2 * K, progress=False))
        make(algo, env, extra).learn(K, progress=False, schedule_steps=2 * K).save(d)
        dirs.append(d)
    tests_dir = str(__import__("pathlib").Path(__file__).parent)
    subprocess.run([sys.executable, "-c", _CONTINUE, json.dumps(dirs), str(K), tests_dir],
                   check=True)
    for d in dirs:
        with np.load(d + "/resumed.npz") as z:
            assert_bitwise(full[d], dict(z))


@pytest.mark.parametrize("algo, env, extra", [CASES[0], CASES[3], CASES[5], CASES[7]],
                         ids=[IDS[0], IDS[3], IDS[5], IDS[7]])
def test_learn_twice_equals_learn_once_over_the_same_schedule(algo, env, extra):
    one = make(algo, env, {**extra, "anneal_lr": True} if algo != "ppo" else extra)
    two = make(algo, env, {**extra, "anneal_lr": True} if algo != "ppo" else extra)
    one.learn(2 * K, progress=False)
    two.learn(K, progress=False, schedule_steps=2 * K)
    two.learn(K, progress=False)
    assert two.schedule_steps == 2 * K
    assert_bitwise(fingerprint(one), fingerprint(two))


def test_the_schedule_extends_like_stable_baselines3_without_a_budget():
    a = make("ppo", "CartPole-v1", CASES[0][2])
    seen = []
    a.learn(64, progress=False, callback=lambda ag, info: seen.append(info["stats"]["lr"]))
    assert a.schedule_steps == 64
    a.learn(64, progress=False, callback=lambda ag, info: seen.append(info["stats"]["lr"]))
    assert a.schedule_steps == 128
    lr = a.config.lr
    np.testing.assert_allclose(seen, [lr, lr * 0.5, lr * 0.5, lr * 0.25])


def test_a_loaded_run_continues_its_logs_from_the_checkpoint(tmp_path):
    """Logs written after the last checkpoint are cut back on resume, so no row is doubled."""
    from npg.app.logger import read_csv
    a = make("ppo", "CartPole-v1", CASES[0][2])
    a.learn(2 * K, progress=False, log_dir=tmp_path, checkpoint_every=K)   # ckpt at K and 2K
    full = read_csv(tmp_path / "updates.csv")
    b = Agent.load(tmp_path / "ckpt-00000001")
    assert b.env_steps == K
    b.learn(K, progress=False, log_dir=tmp_path)
    again = read_csv(tmp_path / "updates.csv")
    np.testing.assert_array_equal(again["env_steps"], full["env_steps"])
    np.testing.assert_array_equal(again["approx_kl"], full["approx_kl"])
    assert np.all(np.diff(again["wall_time"]) >= 0)


class Opaque(CountingEnv):
    """An environment whose state npg does not know how to save (its class is not one whose
    state is plain data by construction)."""


def test_an_environment_that_cannot_be_saved_gives_a_warning_and_no_stitched_episodes(tmp_path):
    def env_fn():
        return gym.wrappers.TimeLimit(Opaque(truncate_at=None), max_episode_steps=40)
    a = Agent(env_fn, "reinforce", {**BASE, "n_steps": 16}, seed=0)
    a.learn(32, progress=False)
    assert a.state["pending"]["obs"].shape[0] > 0          # an episode is running
    a.save(tmp_path)
    with pytest.warns(RuntimeWarning, match="Opaque .* may hold state that is not plain data"):
        b = Agent.load(tmp_path, env=env_fn)
    assert b.state["pending"]["obs"].shape[0] == 0         # never stitched onto a new episode
    b.learn(32, progress=False)


def test_a_fresh_agent_saved_before_learning_loads_without_a_warning(tmp_path):
    make("a2c", "CartPole-v1", {}).save(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert Agent.load(tmp_path).env_steps == 0
