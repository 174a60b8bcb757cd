"""The npg command line: argument parsing, train -> eval -> plot on a tiny budget, errors."""

from __future__ import annotations

import io
import os

import pytest

from npg.app import cli
from npg.app.agent import Agent
from npg.algos.base import state_to_flat


def run(argv):
    out = io.StringIO()
    code = cli.main(argv, out=out)
    return code, out.getvalue()


def test_parse_set_reads_literals_and_strings():
    got = cli.parse_set(["lr=3e-4", "hidden=32,32", "target_kl=None", "norm_adv=false",
                         "dtype=float32", "n_envs = 4", "clip_range_vf=null", "x=True"])
    assert got == {"lr": 3e-4, "hidden": (32, 32), "target_kl": None, "norm_adv": False,
                   "dtype": "float32", "n_envs": 4, "clip_range_vf": None, "x": True}
    for bad in ("lr", "=3"):
        with pytest.raises(ValueError, match="key=value"):
            cli.parse_set([bad])


def test_train_defaults_are_ppo_on_cartpole_for_50k_steps():
    a = cli._parser().parse_args(["train"])
    assert (a.env, a.algo, a.seed) == ("CartPole-v1", "ppo", 0)
    config, norm, scale, steps, origin = cli._resolve_config(a, io.StringIO())
    assert steps == 50_000 and (norm, scale) == (False, False)      # the CartPole preset
    assert origin["preset"].startswith("CartPole-v1/ppo: rl-baselines3-zoo")


def test_train_takes_the_presets_dtype_and_set_overrides_it(tmp_path):
    """CartPole-v1's preset trains in float32 (benchmarks/dtype.py); --set dtype=float64 and
    --no-preset give float64, and the run's parameters and checkpoint are in that dtype."""
    for extra, want in (([], "float32"), (["--set", "dtype=float64"], "float64"),
                        (["--no-preset"], "float64")):
        d = str(tmp_path / want / str(len(extra)))
        code, _ = run(["train", "CartPole-v1", "--steps", "32", "--quiet", "--set", "n_envs=2",
                       "--set", "n_steps=16", "--set", "batch_size=16", "--set", "n_epochs=1",
                       "--set", "hidden=8", "--eval-episodes", "0", "--out", d, *extra])
        assert code == 0
        agent = Agent.load(d)
        assert agent.config.dtype == want
        params = state_to_flat(agent.state["policy"])
        assert params and {v.dtype.name for v in params.values()} == {want}


def test_train_eval_plot_round_trip(tmp_path):
    d = str(tmp_path / "run")
    code, text = run(["train", "CartPole-v1", "--steps", "64", "--seed", "2", "--quiet",
                      "--set", "n_envs=2", "--set", "n_steps=16", "--set", "batch_size=16",
                      "--set", "n_epochs=1", "--set", "hidden=8", "--eval-episodes", "2",
                      "--out", d])
    assert code == 0
    assert "64 env steps" in text and "evaluation (deterministic)" in text
    agent = Agent.load(d)
    assert (agent.seed, agent.env_steps, agent.config.hidden) == (2, 64, (8,))
    code, text = run(["eval", d, "--episodes", "3", "--stochastic", "--seed", "1"])
    assert code == 0 and "stochastic" in text and "3 episodes" in text
    pytest.importorskip("matplotlib")
    code, text = run(["plot", d])
    assert code == 0 and "learning_curve.png" in text


def test_env_id_without_command_means_train(tmp_path):
    code, text = run(["FrozenLake-v1", "--algo", "reinforce", "--steps", "16", "--quiet",
                      "--set", "n_envs=2", "--set", "n_steps=8", "--eval-episodes", "0",
                      "--env-kwarg", "is_slippery=False", "--out", str(tmp_path)])
    assert code == 0 and "reinforce on FrozenLake-v1" in text
    assert Agent.load(tmp_path).env_kwargs == {"is_slippery": False}


def test_plot_without_matplotlib_exits_with_a_message(tmp_path, monkeypatch, capsys):
    import sys
    (tmp_path / "episodes.csv").write_text("env_steps,wall_time,return,length\n1,0.1,1.0,1\n")
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    code, _ = run(["plot", str(tmp_path)])
    assert code == 1 and "pip install matplotlib" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["train", "--set", "bogus=1", "--quiet"], "unknown fields"),
    (["train", "--steps", "0", "--quiet"], "total_steps"),
    (["train", "--algo", "dqn"], "algo must be one of"),
    (["train", "--set", "lr"], "key=value"),
    (["eval", "/nonexistent/run"], "agent.json"),
])
def test_bad_arguments_exit_2_with_a_message(argv, message, capsys, tmp_path):
    with pytest.raises(SystemExit) as exc:
        cli.main(argv + (["--out", str(tmp_path)] if argv[0] == "train" else []),
                 out=io.StringIO())
    assert exc.value.code == 2 and message in capsys.readouterr().err


# ---------------------------------------------------------------- resume, protection, errors

TINY = ["--quiet", "--eval-episodes", "0", "--set", "n_envs=2", "--set", "n_steps=16",
        "--set", "batch_size=16", "--set", "n_epochs=1", "--set", "hidden=8"]


def test_resume_continues_a_run_to_its_schedule_and_beyond(tmp_path):
    d = str(tmp_path / "run")
    assert run(["train", "--steps", "64", "--out", d, *TINY])[0] == 0
    with pytest.raises(SystemExit) as exc:
        cli.main(["resume", d, "--quiet", "--eval-episodes", "0"], out=io.StringIO())
    assert exc.value.code == 2                     # nothing left of its 64-step schedule
    code, text = run(["resume", d, "--steps", "32", "--quiet", "--eval-episodes", "0"])
    assert code == 0 and "resuming ppo on CartPole-v1 at 64 env steps for 32 more" in text
    assert Agent.load(d).env_steps == 96


def test_train_refuses_an_existing_run_without_force(tmp_path, capsys):
    d = str(tmp_path / "run")
    assert run(["train", "--steps", "64", "--out", d, *TINY])[0] == 0
    with pytest.raises(SystemExit) as exc:
        cli.main(["train", "--steps", "32", "--out", d, *TINY], out=io.StringIO())
    assert exc.value.code == 2 and "already holds a run; pass --force" in capsys.readouterr().err
    assert Agent.load(d).env_steps == 64           # untouched
    assert run(["train", "--steps", "32", "--out", d, "--force", *TINY])[0] == 0
    assert Agent.load(d).env_steps == 32


def test_the_default_run_directory_never_replaces_a_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for _ in range(2):
        assert run(["train", "--steps", "32", *TINY])[0] == 0
    assert sorted(os.listdir(tmp_path / "runs")) == ["CartPole-v1-ppo-seed0",
                                                      "CartPole-v1-ppo-seed0-2"]


@pytest.mark.parametrize("argv, message", [
    (["NoSuchEnv-v0"], "env 'NoSuchEnv-v0' is not a registered gymnasium environment"),
    (["CartPole"], "did you mean 'CartPole-v1'"),
    (["Taxi-v3"], "deprecated"),
    (["trian"], "unknown command 'trian' (did you mean 'train'?)"),
    (["train", "--out", "FILE"], "exists and is not a directory"),
    (["eval", "DAMAGED"], "SHA-256 does not match"),
    (["resume", "DAMAGED"], "SHA-256 does not match"),
])
def test_every_error_is_one_line_without_a_traceback(argv, message, tmp_path, capsys,
                                                     monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "FILE").write_text("x")
    if "DAMAGED" in argv:
        Agent("CartPole-v1", "a2c", {"hidden": (4,)}, seed=0).save(tmp_path / "DAMAGED")
        npz = next((tmp_path / "DAMAGED").glob("ckpt-*/agent.npz"))
        data = bytearray(npz.read_bytes())
        data[len(data) // 2] ^= 0xFF
        npz.write_bytes(bytes(data))
    with pytest.raises(SystemExit) as exc:
        cli.main(argv + ["--quiet"] * (argv[0] not in ("eval", "resume")), out=io.StringIO())
    err = capsys.readouterr().err
    assert exc.value.code == 2 and message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_debug_shows_the_traceback(tmp_path):
    with pytest.raises(ValueError, match="not a registered"):
        cli.main(["train", "NoSuchEnv-v0", "--debug", "--out", str(tmp_path)],
                 out=io.StringIO())


def test_version():
    with pytest.raises(SystemExit) as exc:
        cli.main(["--version"], out=io.StringIO())
    assert exc.value.code == 0


def test_train_help_lists_every_registered_updater(capsys):
    from npg.algos import ALGORITHMS
    with pytest.raises(SystemExit):
        cli.main(["train", "--help"], out=io.StringIO())
    text = " ".join(capsys.readouterr().out.split())
    assert all(name in text for name in ALGORITHMS)
