"""The command line as a user drives it, in subprocesses: presets, config files, custom
environment modules, piped output, provenance and the look-up commands."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from npg.app.agent import Agent
from npg.app.presets import PRESETS, preset

TINY = ["--quiet", "--eval-episodes", "0", "--set", "hidden=8"]
CORRIDOR = textwrap.dedent('''
    import gymnasium as gym
    import numpy as np
    from gymnasium import spaces

    class Corridor(gym.Env):
        """Walk right along 5 cells; reward 1 at the end."""
        observation_space = spaces.Discrete(5)
        action_space = spaces.Discrete(2)

        def reset(self, seed=None, options=None):
            super().reset(seed=seed)
            self.s = 0
            return self.s, {}

        def step(self, a):
            self.s = max(0, min(4, self.s + (1 if a == 1 else -1)))
            return self.s, float(self.s == 4), self.s == 4, False, {}

    gym.register("Corridor-v0", entry_point=Corridor, max_episode_steps=20)
''')


def npg(*args, cwd, check=True):
    env = {**os.environ, "PYTHONPATH": str(cwd)}
    p = subprocess.run([sys.executable, "-m", "npg.app.cli", *args], cwd=cwd, env=env,
                       capture_output=True, text=True, timeout=300)
    if check:
        assert p.returncode == 0, p.stderr
    return p


def test_a_custom_environment_module_trains_from_the_command_line(tmp_path):
    (tmp_path / "mymod.py").write_text(CORRIDOR)
    p = npg("train", "mymod:Corridor-v0", "--algo", "reinforce", "--steps", "256",
            "--set", "n_envs=2", "--set", "n_steps=16", "--out", "a", *TINY, cwd=tmp_path)
    assert "no preset for mymod:Corridor-v0 with reinforce" in p.stderr
    p = npg("--import", "mymod", "Corridor-v0", "--algo", "ppo", "--steps", "64", "--set",
            "n_envs=2", "--set", "n_steps=16", "--set", "batch_size=32", "--out", "b", *TINY,
            cwd=tmp_path)
    assert "32 env steps" not in p.stdout and "64 env steps" in p.stdout
    # the checkpoint holds "mymod:Corridor-v0": never imported without an explicit opt-in
    p = npg("eval", "a", "--episodes", "2", cwd=tmp_path, check=False)
    assert p.returncode == 2 and "names a module to import" in p.stderr
    p = npg("eval", "a", "--episodes", "2", "--allow-import", cwd=tmp_path)
    assert "2 episodes" in p.stdout


def test_a_piped_run_writes_plain_progress_lines(tmp_path):
    p = npg("train", "--steps", "2048", "--eval-episodes", "0", "--set", "hidden=8",
            "--out", "r", cwd=tmp_path)
    assert "\r" not in p.stderr
    lines = [x for x in p.stderr.splitlines() if x.startswith("npg: ")]
    assert lines and lines[-1].startswith("npg: 2,048/2,048 steps (100%)")
    assert "ETA" in lines[-1] and "steps/s" in lines[-1]


def test_the_run_directory_says_what_made_it(tmp_path):
    npg("train", "Pendulum-v1", "--steps", "64", "--set", "n_steps=16", "--out", "r", *TINY,
        cwd=tmp_path)
    rec = json.loads((tmp_path / "r" / "run.json").read_text())
    assert rec["algo"] == "ppo" and rec["env_id"] == "Pendulum-v1"
    assert rec["config"]["use_sde"] is True and rec["config"]["n_steps"] == 16
    assert rec["origin"]["preset"].startswith("Pendulum-v1/ppo: rl-baselines3-zoo")
    assert rec["origin"]["overrides"] == {"n_steps": 16, "hidden": 8}
    (s,) = rec["sessions"]
    assert s["env_steps"] == [0, 64] and s["interrupted"] is False and s["end"]
    assert {"npg", "python", "numpy", "numba", "gymnasium"} <= set(s["versions"])
    assert s["argv"][1:3] == ["train", "Pendulum-v1"]
    npg("resume", "r", "--steps", "64", "--quiet", "--eval-episodes", "0", cwd=tmp_path)
    rec = json.loads((tmp_path / "r" / "run.json").read_text())
    assert [x["env_steps"] for x in rec["sessions"]] == [[0, 64], [64, 128]]
    info = npg("info", "r", cwd=tmp_path).stdout
    assert "ppo on Pendulum-v1, seed 0" in info and "128 env steps" in info
    assert info.count("session ") == 2


def test_look_up_commands(tmp_path):
    p = npg("--version", cwd=tmp_path)
    assert p.stdout.startswith("npg ")
    text = npg("config", "ppo", cwd=tmp_path).stdout
    assert "batch_size = None" in text and "minibatch size" in text and "use_sde = False" in text
    text = npg("check-env", "CartPole-v1", cwd=tmp_path).stdout
    assert "gymnasium's env checker: passed" in text and "npg: supported" in text
    text = npg("check-env", "Blackjack-v1", cwd=tmp_path).stdout   # Tuple observations
    assert "npg: supported: observations encoded to 45 features" in text


def test_presets_are_picked_and_overridden_in_order(tmp_path):
    (tmp_path / "c.toml").write_text("normalize_obs = true\n[config]\nlr = 0.01\nhidden = [16]\n")
    npg("train", "Acrobot-v1", "--steps", "32", "--config", "c.toml", "--set", "n_envs=2",
        "--set", "n_steps=16", "--set", "batch_size=16", "--out", "r", "--quiet",
        "--eval-episodes", "0", cwd=tmp_path)
    a = Agent.load(tmp_path / "r")
    assert (a.config.lr, a.config.hidden, a.config.gae_lambda) == (0.01, (16,), 0.94)
    assert a.normalize_obs and a.scale_reward          # the file's flag and the preset's


def test_changing_the_rollout_keeps_a_whole_rollout_minibatch(tmp_path):
    npg("train", "--steps", "128", "--set", "n_envs=4", "--out", "r", *TINY, cwd=tmp_path)
    assert Agent.load(tmp_path / "r").config.batch_size == 4 * 32


@pytest.mark.parametrize("args, message", [
    (["--config", "bad.toml"], "extra keys ['bogus_table', 'lr']"),
    (["--config", "unknown.toml"], "unknown fields ['not_a_field']"),
    (["--config", "missing.toml"], "no such file"),
    (["--import", "no_such_module_xyz"], "--import 'no_such_module_xyz': cannot import it"),
])
def test_bad_config_files_and_imports_are_one_line_errors(tmp_path, args, message):
    (tmp_path / "bad.toml").write_text("lr = 1.0\n[config]\nn_envs = 2\n[bogus_table]\nx = 1\n")
    (tmp_path / "unknown.toml").write_text("not_a_field = 3\n")
    p = npg("train", "--steps", "32", *args, *TINY, cwd=tmp_path, check=False)
    assert p.returncode == 2 and message in p.stderr and "Traceback" not in p.stderr


def test_every_preset_builds_a_valid_config():
    from npg.algos import get_algorithm, make_config
    for (env, algo), p in PRESETS.items():
        q = preset(env, algo)
        make_config(get_algorithm(algo).config_class, q["config"])
        assert q["steps"] > 0 and q["source"]
