"""npg.engine.warmup: background compilation in a child process, and when ``ready`` says yes.

The fast tests run the mechanism with stand-in exercises defined here (the child imports this
module by name: pytest puts its directory on sys.path and the child inherits sys.path), so
they compile nothing. The slow test runs PPO's real exercise and checks that afterwards the
parent's engine calls load everything from the cache: no compilation in this process.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import numpy as np
import pytest

from npg import compiling
from npg.engine import warmup, warmup_child


@dataclass
class StubConfig:
    dtype: str = "float64"
    hidden: tuple = (4,)
    activation: str = "tanh"
    fail: bool = False
    wait_for: str = ""          # a file the exercise waits for before reporting "update"


@dataclass
class StubSpec:
    obs_dim: int = 3
    discrete: bool = True
    n_actions: int = 2


class StubAlgo:
    """An "algorithm" whose exercise (``stub_exercise``) compiles nothing."""

    name = "stub"

    def __init__(self, config, spec):
        self.config, self.spec = config, spec


def stub_exercise(algo, done) -> None:
    done("acting")
    done("rollout")
    done("kernels")
    if algo.config.fail:
        raise RuntimeError("stub exercise failed on purpose")
    t_end = time.monotonic() + 60
    while algo.config.wait_for and not os.path.exists(algo.config.wait_for):
        if time.monotonic() > t_end:
            raise RuntimeError("the test never released the stub exercise")
        time.sleep(0.01)
    done("update")
    done("parallel")


@pytest.fixture
def stub(monkeypatch, tmp_path):
    """Background compilation on, the stub exercise registered, no jobs left over."""
    monkeypatch.delenv(warmup.ENV_VAR, raising=False)
    monkeypatch.setitem(warmup.EXERCISES, "stub", f"{__name__}:stub_exercise")
    monkeypatch.setattr(warmup, "_JOBS", {})
    monkeypatch.setattr(compiling, "_HOLDS", [])
    warmup.enable()
    yield tmp_path
    warmup.enable(False)


def _algo(**kw):
    return StubAlgo(StubConfig(**kw), StubSpec())


def test_off_by_default_everything_is_ready(monkeypatch):
    monkeypatch.delenv(warmup.ENV_VAR, raising=False)
    monkeypatch.setattr(warmup, "_JOBS", {})
    assert not warmup.enabled()
    assert warmup.ready(_algo(), "update") and warmup.ready(_algo(), "acting")
    assert warmup.status(_algo())["started"] is False


def test_environment_variable_overrides_enable(monkeypatch):
    warmup.enable()
    try:
        monkeypatch.setenv(warmup.ENV_VAR, "0")
        assert not warmup.enabled()
        assert warmup.ready(_algo(), "update")
    finally:
        warmup.enable(False)
    monkeypatch.setenv(warmup.ENV_VAR, "1")
    assert warmup.enabled()


def test_unknown_kind_is_a_value_error():
    with pytest.raises(ValueError, match="kind must be one of"):
        warmup.ready(_algo(), "learn")


def test_algorithm_without_exercise_is_ready(stub):
    algo = _algo()
    algo.name = "no_such_algo"
    assert warmup.ready(algo, "update")


def test_child_reports_kinds_in_order_then_writes_the_marker(stub):
    release = stub / "release"
    algo = _algo(wait_for=str(release))
    job = warmup.start(algo, cache_dir=stub)
    assert job.proc is not None
    t_end = time.monotonic() + 60
    while not job.ready("acting"):
        assert time.monotonic() < t_end
        time.sleep(0.01)
    assert not job.ready("update")            # the exercise waits for the release file
    assert not os.path.exists(job.marker)
    release.touch()
    assert warmup.wait(algo, timeout=60)
    assert os.path.exists(job.marker) and job.proc.returncode == 0
    assert not os.path.exists(job.dir)        # the child removes its job directory
    assert warmup.status(algo) == {"started": True, "running": False,
                                   "done": ["acting", "kernels", "parallel", "rollout",
                                            "update"],
                                   "failed": None}


def test_warm_marker_means_no_child_and_ready_at_once(stub):
    algo = _algo()
    warmup.start(algo, cache_dir=stub)
    assert warmup.wait(algo, timeout=60)
    warmup._JOBS.clear()                      # a new process: the marker is all it has
    job = warmup.start(algo, cache_dir=stub)
    assert job.proc is None and job.ready("acting") and job.ready("update")


def test_marker_depends_on_the_configuration(stub):
    a, b, c = _algo(), _algo(dtype="float32"), _algo(hidden=(4, 4))
    paths = {warmup.marker_path(x, stub) for x in (a, b, c)}
    assert len(paths) == 3
    assert warmup.marker_path(_algo(), stub) == warmup.marker_path(a, stub)


def test_failed_child_warns_and_falls_back_to_ready(stub):
    algo = _algo(fail=True)
    job = warmup.start(algo, cache_dir=stub)
    job.proc.wait(timeout=60)
    with pytest.warns(RuntimeWarning, match="stub exercise failed on purpose"):
        assert job.ready("update")
    assert warmup.status(algo)["failed"] is not None
    assert not os.path.exists(job.marker)


def test_child_imports_the_callers_npg_not_one_in_the_working_directory(stub, monkeypatch):
    """A working directory holding another npg (a source checkout beside an installed copy)
    does not reach the child: ``python -m`` would put it first on the child's path."""
    work = stub / "work"
    (work / "npg").mkdir(parents=True)
    (work / "npg" / "__init__.py").write_text("raise ImportError('a stray npg')\n")
    monkeypatch.chdir(work)
    algo = _algo()
    job = warmup.start(algo, cache_dir=stub)
    assert warmup.wait(algo, timeout=60)
    assert warmup.status(algo)["failed"] is None and job.proc.returncode == 0
    assert os.path.exists(job.marker)


def test_child_that_imported_another_npg_compiles_nothing(tmp_path, capsys, monkeypatch):
    import pickle
    monkeypatch.setitem(warmup._MODE, "in_child", False)    # main() sets it; restored after
    marker = tmp_path / "marker.json"
    job = {"cls": StubAlgo, "config": StubConfig(), "spec": StubSpec(),
           "exercise": f"{__name__}:stub_exercise", "marker": str(marker),
           "parent": os.getpid(), "npg": str(tmp_path / "elsewhere" / "npg")}
    (tmp_path / "job.pkl").write_bytes(pickle.dumps(job))
    assert warmup_child.main(str(tmp_path)) == 3
    assert "not the caller's" in capsys.readouterr().err
    assert not marker.exists() and not (tmp_path / "acting").exists()


def test_synthetic_rollout_has_the_collectors_types():
    from npg.envs.spaces import SpaceInfo
    spec = SpaceInfo(4, "box", None, True, 2, None, None, None)
    for dt in (np.float32, np.float64):
        ro = warmup_child.synthetic_rollout(spec, np.dtype(dt), T=5, N=3)
        assert ro.obs.shape == (5, 3, 4) and ro.obs.dtype == dt
        assert ro.act.dtype == np.int64 and ro.act.max() < 2
        assert ro.rew.dtype == dt and ro.value.dtype == dt and ro.next_value.dtype == dt
        assert ro.terminated.dtype == bool and ro.terminated.sum() == 1
        assert ro.n_valid == 15


@pytest.mark.slow
def test_ppo_child_fills_the_cache_so_the_parent_compiles_nothing(monkeypatch, tmp_path):
    """After PPO's exercise ran in the child, this process's first engine calls (acting and
    the compiled update) load from the cache: no ``numba:compile`` event here."""
    from numba.core import event
    from npg.algos.ppo import PPO
    from npg.envs.spaces import SpaceInfo
    monkeypatch.delenv(warmup.ENV_VAR, raising=False)
    monkeypatch.setattr(warmup, "_JOBS", {})
    spec = SpaceInfo(4, "box", None, True, 2, None, None, None)
    algo = PPO({"hidden": (16, 16), "n_envs": 2, "n_steps": 4, "batch_size": 4,
                "n_epochs": 2}, spec)
    warmup.enable()
    try:
        warmup.start(algo, cache_dir=tmp_path)
        assert warmup.wait(algo, timeout=600)
    finally:
        warmup.enable(False)
    assert warmup.status(algo)["failed"] is None
    compiled = []

    class Listener(event.Listener):
        def on_start(self, ev):
            compiled.append(ev.data["dispatcher"].py_func.__qualname__)

        def on_end(self, ev):
            pass
    listener = Listener()
    event.register("numba:compile", listener)
    try:
        warmup_child.exercise_ppo(algo, lambda kind: None)
    finally:
        event.unregister("numba:compile", listener)
    assert compiled == []


def test_enable_returns_the_previous_setting():
    assert warmup.enable() is False
    assert warmup.enable(False) is True


def test_cli_train_scopes_background_compilation(monkeypatch, tmp_path):
    """``npg train`` turns it on for its run only (later code in the process is unaffected);
    NPG_BACKGROUND_COMPILE=0 keeps this test from starting a compiler process."""
    import io
    from npg.app import cli
    monkeypatch.setenv(warmup.ENV_VAR, "0")
    seen = []
    real_enable = warmup.enable
    monkeypatch.setattr(warmup, "enable", lambda on=True: seen.append(on) or real_enable(on))
    rc = cli.main(["train", "CartPole-v1", "--steps", "64", "--set", "n_envs=2", "--set",
                   "n_steps=32", "--set", "batch_size=64", "--set", "n_epochs=1",
                   "--eval-episodes", "0", "--quiet", "--out", str(tmp_path / "run")],
                  out=io.StringIO())
    assert rc == 0 and seen == [True, False]
    monkeypatch.delenv(warmup.ENV_VAR)
    assert not warmup.enabled()
