"""The run directory protects itself (one writer, no symlinks followed, no run replaced by
accident), Ctrl-C saves and stops cleanly, and evaluation cannot hang."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

from npg.app.agent import Agent
from npg.envs import CountingEnv
from npg.app.interrupt import TrainingInterrupted
from npg.app.logger import read_csv
from npg.app.run_dir import RunExistsError, RunLock, RunLockedError, prepare

SMALL = {"n_envs": 2, "n_steps": 16, "batch_size": 16, "n_epochs": 1, "hidden": (8,)}


def small():
    return Agent("CartPole-v1", "ppo", dict(SMALL), seed=0)


def test_a_second_writer_is_refused_while_a_run_holds_the_lock(tmp_path):
    with RunLock(tmp_path):
        with pytest.raises(RunLockedError, match=f"in use by another npg process \\(pid "
                                                 f"{os.getpid()}\\)"):
            small().learn(32, progress=False, log_dir=tmp_path)
        with pytest.raises(RunLockedError):
            small().save(tmp_path)
    small().learn(32, progress=False, log_dir=tmp_path)       # free again afterwards


def test_the_lock_is_released_when_its_process_is_killed(tmp_path):
    code = ("import sys, time; from npg.app.run_dir import RunLock; RunLock(sys.argv[1]).acquire(); "
            "print('locked', flush=True); time.sleep(60)")
    p = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE,
                         text=True)
    assert p.stdout.readline().strip() == "locked"
    with pytest.raises(RunLockedError, match=f"pid {p.pid}"):
        RunLock(tmp_path).acquire()
    p.kill()
    p.wait()
    p.stdout.close()
    RunLock(tmp_path).acquire().release()


@pytest.mark.parametrize("name", ["episodes.csv", "updates.csv", ".lock"])
def test_symlinks_placed_in_a_run_directory_are_never_written_through(tmp_path, name):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    run = tmp_path / "run"
    run.mkdir()
    os.symlink(victim, run / name)
    with pytest.raises(ValueError, match=f"{name}' is a symlink"):
        small().learn(32, progress=False, log_dir=run)
    assert victim.read_text() == "precious\n"


def test_a_symlinked_run_directory_is_refused(tmp_path):
    (tmp_path / "real").mkdir()
    os.symlink(tmp_path / "real", tmp_path / "link")
    with pytest.raises(ValueError, match="is a symlink"):
        prepare(tmp_path / "link")
    with pytest.raises(ValueError, match="is a symlink"):
        small().save(tmp_path / "link")


def test_an_existing_run_is_replaced_only_with_force(tmp_path):
    small().learn(64, progress=False, log_dir=tmp_path, checkpoint_every=32)
    (tmp_path / "notes.txt").write_text("mine\n")
    with pytest.raises(RunExistsError, match="already holds a run; pass --force"):
        prepare(tmp_path)
    prepare(tmp_path, force=True)
    assert sorted(os.listdir(tmp_path)) == [".lock", "notes.txt"]   # only npg's files went
    with pytest.raises(ValueError, match="not a directory"):
        prepare(tmp_path / "notes.txt")


@pytest.fixture
def interactive_sigint():
    """SIGINT as in an interactive process (a background job, as CI may be, ignores it)."""
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, before)


def _sigint_as_in_a_terminal():
    signal.signal(signal.SIGINT, signal.SIG_DFL)     # Python then installs KeyboardInterrupt


def test_ctrl_c_finishes_the_update_saves_and_keeps_logs_consistent(tmp_path,
                                                                    interactive_sigint):
    def press_ctrl_c(agent, info):          # the signal arrives during the collection of
        if agent.n_updates == 2:                # the third rollout, at its first action
            make = agent._rollout_act_fn
            agent._rollout_act_fn = lambda value_fn: _ctrl_c_once(make(value_fn))
    a = small()
    with pytest.raises(TrainingInterrupted, match="interrupted at 96 env steps; checkpoint "
                                                   "saved") as exc:
        a.learn(320, progress=False, log_dir=tmp_path, callback=press_ctrl_c)
    assert exc.value.env_steps == 96 and exc.value.saved.endswith("ckpt-00000001")
    b = Agent.load(tmp_path)
    assert (b.env_steps, b.n_updates) == (96, 3)
    np.testing.assert_array_equal(read_csv(tmp_path / "updates.csv")["update"], [1, 2, 3])
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def _ctrl_c_once(step):
    pressed = []

    def wrapped(obs):
        if not pressed:
            pressed.append(True)
            os.kill(os.getpid(), signal.SIGINT)
        return step(obs)
    return wrapped


def test_cli_ctrl_c_exits_130_with_one_line(tmp_path):
    run = tmp_path / "run"
    p = subprocess.Popen([sys.executable, "-m", "npg.app.cli", "train", "--steps", "2000000",
                          "--quiet", "--eval-episodes", "0", "--out", str(run)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         preexec_fn=_sigint_as_in_a_terminal)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        log = run / "updates.csv"
        if log.exists() and len(log.read_text().splitlines()) >= 3:
            break
        time.sleep(0.1)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 130, err
    last = [line for line in err.splitlines() if line.strip()][-1]
    assert last.startswith("npg train: training interrupted at ") and "npg resume" in last
    assert "Traceback" not in err
    steps = Agent.load(run).env_steps
    assert read_csv(run / "updates.csv")["env_steps"][-1] == steps


def test_an_ignored_sigint_stays_ignored():
    from npg.app.interrupt import deferred_interrupt
    before = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with deferred_interrupt():
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, before)


def test_evaluation_has_a_step_cap_and_says_when_it_cut(tmp_path):
    def endless():
        return CountingEnv(terminate_at=None, truncate_at=None)
    a = Agent(endless, "reinforce", {"n_envs": 2, "n_steps": 8, "hidden": (4,)}, seed=0)
    with pytest.warns(RuntimeWarning, match="3 of 3 episodes reached max_steps = 50"):
        ret = a.evaluate(3, max_steps=50)
    np.testing.assert_array_equal(ret, 50 * np.ones(3))


def test_evaluation_refuses_nan_rewards():
    class NaNReward(gym.Wrapper):
        def step(self, action):
            obs, r, te, tr, info = self.env.step(action)
            return obs, float("nan"), te, tr, info
    a = Agent("CartPole-v1", "a2c", {"hidden": (4,)}, seed=0)
    with pytest.raises(ValueError, match="NaN or infinite reward"):
        a.evaluate(2, env=lambda: NaNReward(gym.make("CartPole-v1")))


def test_no_finished_episode_is_warned_about_once():
    def endless():
        return CountingEnv(terminate_at=None, truncate_at=None)
    a = Agent(endless, "reinforce", {"n_envs": 2, "n_steps": 8, "hidden": (4,)}, seed=0)
    with pytest.warns(RuntimeWarning, match="no episode has ended in 160 env steps") as rec:
        a.learn(16 * 20, progress=False)
    assert len([w for w in rec if "no episode has ended" in str(w.message)]) == 1


@pytest.mark.parametrize("build, error, message", [
    (lambda: Agent("CartPole-v1", env_kwargs={"bogus": 1}), TypeError,
     "env 'CartPole-v1' could not be built with env_kwargs {'bogus': 1}"),
    (lambda: Agent(lambda: None), TypeError, "must return a gymnasium.Env; got NoneType"),
    (lambda: Agent("MountainCar-v0", vectorization="vector_entry_point"), ValueError,
     "'MountainCar-v0' has none"),
    (lambda: Agent("CartPol-v1"), ValueError, "did you mean 'CartPole-v1'"),
    (lambda: small().evaluate(1, env="Nope-v0"), ValueError, "not a registered"),
    (lambda: small().evaluate(1, env="MountainCar-v0"), ValueError,
     "env 'MountainCar-v0' has observation space Box"),
])
def test_environment_mistakes_name_the_environment(build, error, message):
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")
                       .replace("{", r"\{").replace("}", r"\}")):
        build()


def test_evaluation_takes_only_legal_actions_of_a_masked_task():
    """MaskedLine raises on an illegal action, so an evaluation that ignored the environment's
    info["action_mask"] would fail; stochastic evaluation of an untrained policy would hit an
    illegal action within a few steps otherwise."""
    from npg.envs.masked import MaskedLine
    a = Agent(lambda: MaskedLine(), "ppo", {"n_envs": 2, "n_steps": 16, "n_epochs": 1,
                                           "hidden": (8,)}, seed=0)
    ret = a.evaluate(8, deterministic=False)
    assert ret.shape == (8,) and np.all((ret == 0) | (ret == 1))
