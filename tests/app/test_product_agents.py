"""Agents on MultiDiscrete and MultiBinary tasks (npg.envs.multi_action): REINFORCE, A2C and
PPO learn against the untrained agent of the same seed, predict returns the environment's
actions, a run resumes bit for bit, and ``npg train`` takes such a task from the command line."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

from npg.algos import state_to_flat
from npg.app.agent import Agent
from npg.envs.multi_action import DIALS_ID, SWITCHES_ID, Dials, Switches

PPO_CFG = {"n_envs": 8, "n_steps": 64, "batch_size": 128, "n_epochs": 4}
LEARN = [  # (task, algo, config, margin): measured on seeds 0-2 (sampled eval, 100 episodes)
    (DIALS_ID, "ppo", {**PPO_CFG, "lr": 1e-3}, 3.0),          # -7.0 -> -2.5, -2.1, -1.8
    (DIALS_ID, "a2c", {"lr": 3e-3, "critic_lr": 3e-3}, 4.0),  # -7.0 -> -0.8 on all three
    (DIALS_ID, "reinforce", {"n_envs": 8, "n_steps": 64, "lr": 3e-3, "baseline": "value"},
     1.2),                                                    # -7.0 -> -5.1, -5.0, -4.8
    (SWITCHES_ID, "ppo", {**PPO_CFG, "lr": 3e-3}, 0.5),       # -2.6 -> -1.8, -1.8, -1.7
]


def sampled_return(agent) -> float:
    return float(agent.evaluate(100, deterministic=False, seed=1000).mean())


@pytest.mark.parametrize("env, algo, cfg, margin", LEARN,
                         ids=[f"{e.split('/')[1]}-{a}" for e, a, _, _ in LEARN])
def test_updaters_learn_product_action_tasks(env, algo, cfg, margin):
    """16,384 steps; the trained policy's sampled return beats the untrained one's (same seed,
    same evaluation episodes and draws) by ``margin`` (about half the gain measured)."""
    before = sampled_return(Agent(env, algo, cfg, seed=0))
    agent = Agent(env, algo, cfg, seed=0).learn(16_384, progress=False)
    assert sampled_return(agent) > before + margin


@pytest.mark.parametrize("env, cls", [(DIALS_ID, Dials), (SWITCHES_ID, Switches)])
def test_predict_gives_the_environments_actions(env, cls):
    agent = Agent(env, "a2c", {"n_envs": 2}, seed=0)
    space = cls().action_space
    o, _ = cls().reset(seed=0)
    for det in (True, False):
        a = agent.predict(o, deterministic=det)
        assert a.shape == space.shape and space.contains(a)
    batch = np.stack([cls().reset(seed=s)[0] for s in range(5)])
    a = agent.predict(batch, deterministic=False)
    assert a.shape == (5,) + space.shape and all(space.contains(x) for x in a)


@pytest.mark.parametrize("algo, cfg", [
    ("ppo", {"n_envs": 2, "n_steps": 16, "batch_size": 16, "n_epochs": 2}),
    ("reinforce", {"n_envs": 2, "n_steps": 16}),
    ("a2c", {"n_envs": 2, "n_steps": 8}),
])
@pytest.mark.parametrize("env", [DIALS_ID, SWITCHES_ID])
def test_a_product_action_run_resumes_bitwise(tmp_path, algo, cfg, env):
    """Saved halfway and loaded (REINFORCE's pending [T', N, K] integer actions included), the
    run equals the one that never stopped."""
    cfg = {**cfg, "hidden": (8,)}

    def make():
        return Agent(env, algo, cfg, seed=3, normalize_obs=True, scale_reward=True)
    whole = make().learn(8 * 32, progress=False)
    half = make().learn(4 * 32, progress=False, schedule_steps=8 * 32)
    path = half.save(tmp_path / "ckpt")
    with warnings.catch_warnings():
        warnings.simplefilter("error")                   # an inexact resume must not pass
        resumed = Agent.load(path).learn(4 * 32, progress=False)
    a, b = state_to_flat(whole.state), state_to_flat(resumed.state)
    assert a.keys() == b.keys()
    for k in a:
        assert np.array_equal(np.asarray(a[k]), np.asarray(b[k])), k
    if algo == "reinforce":
        assert resumed.state["pending"]["act"].dtype == np.int64
    assert whole.episode_returns == resumed.episode_returns


def npg(*args, cwd):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [
        os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
        os.environ.get("PYTHONPATH")]))}
    p = subprocess.run([sys.executable, "-m", "npg.app.cli", *args], cwd=cwd, env=env,
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    return p


def test_npg_train_takes_a_multidiscrete_task_from_the_command_line(tmp_path):
    tiny = ["--quiet", "--set", "hidden=8", "--set", "n_envs=2", "--set", "n_steps=16"]
    p = npg("train", "npg.envs.multi_action:" + DIALS_ID, "--algo", "ppo", "--steps", "128",
            "--set", "batch_size=32", "--eval-episodes", "3", "--out", "d", *tiny, cwd=tmp_path)
    assert "128 env steps" in p.stdout and "evaluation (deterministic)" in p.stdout
    p = npg("eval", "d", "--episodes", "2", "--allow-import", cwd=tmp_path)
    assert "2 episodes" in p.stdout
    p = npg("--import", "npg.envs.multi_action", SWITCHES_ID, "--algo", "a2c", "--steps", "64",
            "--eval-episodes", "0", "--out", "s", *tiny, cwd=tmp_path)
    assert "64 env steps" in p.stdout
    p = npg("check-env", "npg.envs.multi_action:" + DIALS_ID, cwd=tmp_path)
    assert "supported" in p.stdout and "categorical action dimensions [3, 3, 3]" in p.stdout
