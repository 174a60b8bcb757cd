"""Agent API: determinism, checkpoints, logs, evaluation, prediction, bad input; and the small
pieces it uses (logger, progress bar, plotting)."""

from __future__ import annotations

import io
import os
import sys

import gymnasium as gym
import numpy as np
import pytest

from npg.app.agent import Agent
from npg.algos import ALGORITHMS, state_to_flat
from npg.envs import make_vec_env
from npg.app.logger import CSVLogger, read_csv
from npg.app.plotting import MATPLOTLIB_MISSING, moving_mean, plot_learning_curve
from npg.app.progress import ProgressBar, format_bar, format_line

SMALL = {"n_envs": 2, "n_steps": 16, "batch_size": 16, "n_epochs": 2, "hidden": (8,)}


def small_ppo(seed=0, **kw):
    return Agent("CartPole-v1", "ppo", dict(SMALL), seed=seed, **kw)


def flat_state(agent):
    return {k: np.asarray(v) for k, v in state_to_flat(agent.state).items()}


def assert_same_state(a, b):
    fa, fb = flat_state(a), flat_state(b)
    assert fa.keys() == fb.keys()
    for k in fa:
        assert fa[k].dtype == fb[k].dtype, k
        np.testing.assert_array_equal(fa[k], fb[k], err_msg=k)


# ---------------------------------------------------------------- determinism

def test_same_seed_gives_bitwise_identical_learning():
    a, b = small_ppo(3).learn(96, progress=False), small_ppo(3).learn(96, progress=False)
    assert a.n_updates == b.n_updates == 3 and a.env_steps == 96
    assert_same_state(a, b)
    assert a.episode_returns == b.episode_returns


def test_different_seeds_differ():
    a, b = small_ppo(0).learn(32, progress=False), small_ppo(1).learn(32, progress=False)
    assert not np.array_equal(flat_state(a)["policy/W1"], flat_state(b)["policy/W1"])


def test_steps_round_up_to_whole_rollouts_and_learning_continues():
    a = small_ppo().learn(33, progress=False)          # 32 steps per rollout -> 2 rollouts
    assert (a.env_steps, a.n_updates) == (64, 2)
    a.learn(1, progress=False)
    assert (a.env_steps, a.n_updates) == (96, 3)


@pytest.mark.parametrize("name", sorted(ALGORITHMS))
def test_every_algorithm_learns_saves_and_loads(name, tmp_path):
    cfg = {"hidden": (8,)}
    if name == "ppo":
        cfg = dict(SMALL)
    agent = Agent("CartPole-v1", name, cfg, seed=1)
    per = agent.config.n_envs * agent.config.n_steps
    agent.learn(per * 2, progress=False)
    agent.save(tmp_path)
    loaded = Agent.load(tmp_path)
    assert_same_state(agent, loaded)
    obs = np.random.default_rng(0).normal(size=(6, 4))
    np.testing.assert_array_equal(agent.predict(obs), loaded.predict(obs))
    loaded.learn(per, progress=False)
    assert loaded.n_updates == agent.n_updates + 1


# ---------------------------------------------------------------- checkpoints

def test_loaded_agent_acts_identically_and_resumes(tmp_path):
    a = small_ppo(normalize_obs=True, scale_reward=True).learn(64, progress=False)
    a.save(tmp_path)
    b = Agent.load(tmp_path)
    assert (b.env_steps, b.n_updates, b.normalize_obs, b.scale_reward) == (64, 2, True, True)
    assert b.config == a.config
    assert_same_state(a, b)
    for k, v in a.collector.state_dict().items():
        np.testing.assert_array_equal(v, b.collector.state_dict()[k])
    obs = np.random.default_rng(1).normal(size=(20, 4))
    np.testing.assert_array_equal(a.predict(obs), b.predict(obs))
    # the predict generator's state is saved too: stochastic actions agree
    np.testing.assert_array_equal(a.predict(obs, deterministic=False),
                                  b.predict(obs, deterministic=False))
    np.testing.assert_array_equal(a.evaluate(3), b.evaluate(3))
    # resuming: the next update starts from the saved optimiser state and update generator
    ro = a.collector.collect(a._act_fn, a._value_fn(), a.config.n_steps)
    sa, _ = a.algo.update(a.state, ro, 0.5, a.rngs["update"])
    sb, _ = b.algo.update(b.state, ro, 0.5, b.rngs["update"])
    a.state, b.state = sa, sb
    assert_same_state(a, b)


def test_float32_state_round_trips(tmp_path):
    a = Agent("Pendulum-v1", "ppo", {**SMALL, "dtype": "float32"}, seed=0)
    a.learn(32, progress=False)
    assert flat_state(a)["policy/W1"].dtype == np.float32
    a.save(tmp_path)
    assert_same_state(a, Agent.load(tmp_path))


def test_load_rejects_a_directory_without_an_agent(tmp_path):
    with pytest.raises(ValueError, match="agent.json"):
        Agent.load(tmp_path)
    with pytest.raises(TypeError, match="path"):
        Agent.load(3)


def test_checkpoint_every_saves_into_log_dir(tmp_path):
    small_ppo().learn(64, progress=False, log_dir=tmp_path, checkpoint_every=32)
    assert Agent.load(tmp_path).env_steps == 64


# ---------------------------------------------------------------- logs and callbacks

def test_csv_logs_have_one_row_per_episode_and_update(tmp_path):
    a = small_ppo().learn(128, progress=False, log_dir=tmp_path)
    ep = read_csv(tmp_path / "episodes.csv")
    up = read_csv(tmp_path / "updates.csv")
    assert set(ep) == {"env_steps", "wall_time", "return", "length"}
    np.testing.assert_array_equal(ep["return"], a.episode_returns)
    np.testing.assert_array_equal(ep["length"], a.episode_lengths)
    # CartPole pays +1 per step: return = length
    np.testing.assert_array_equal(ep["return"], ep["length"])
    np.testing.assert_array_equal(up["update"], [1, 2, 3, 4])
    np.testing.assert_array_equal(up["env_steps"], [32, 64, 96, 128])
    assert {"approx_kl", "clip_fraction", "explained_variance", "wall_time"} <= set(up)
    assert np.all(np.diff(up["wall_time"]) >= 0)
    a.learn(32, progress=False, log_dir=tmp_path)        # continues the same files
    np.testing.assert_array_equal(read_csv(tmp_path / "updates.csv")["update"], [1, 2, 3, 4, 5])


def test_callback_sees_each_update_and_can_stop():
    seen = []

    def cb(agent, info):
        seen.append(info["env_steps"])
        assert "approx_kl" in info["stats"]
        return len(seen) < 2
    a = small_ppo().learn(320, progress=False, callback=cb)
    assert seen == [32, 64] and a.n_updates == 2


def test_progress_bar_goes_to_stderr(capsys):
    small_ppo().learn(32, progress=True)
    err = capsys.readouterr().err
    assert "100%" in err and "32/32 steps" in err


# ---------------------------------------------------------------- predict and evaluate

def test_predict_single_and_batch():
    a = small_ppo()
    obs = np.random.default_rng(0).normal(size=(5, 4))
    batch = a.predict(obs)
    assert batch.shape == (5,) and set(np.unique(batch)) <= {0, 1}
    assert a.predict(obs[2]) == batch[2]
    with pytest.raises(ValueError, match="obs must be"):
        a.predict(np.zeros(3))


def test_predict_discrete_observations_and_box_actions():
    f = Agent("FrozenLake-v1", "reinforce", {"hidden": (8,), "n_envs": 2, "n_steps": 8})
    assert f.predict(5) in range(4) and f.predict(np.array([0, 15])).shape == (2,)
    p = Agent("Pendulum-v1", "ppo", {**SMALL, "log_std_init": 2.0})
    a = p.predict(np.zeros((50, 3)), deterministic=False)
    assert a.shape == (50, 1) and np.all(np.abs(a) <= 2.0) and np.any(np.abs(a) == 2.0)


def test_evaluate_is_seeded_and_counts_episodes():
    a = small_ppo()
    r1 = a.evaluate(5, n_envs=2, seed=7)
    assert r1.shape == (5,) and r1.dtype == np.float64 and np.all(r1 >= 1)
    np.testing.assert_array_equal(r1, a.evaluate(5, n_envs=2, seed=7))
    # episode j is reset with seed + j whatever the batching: deterministic returns agree
    np.testing.assert_array_equal(r1, a.evaluate(5, n_envs=5, seed=7))
    s1 = a.evaluate(4, deterministic=False, seed=3)
    np.testing.assert_array_equal(s1, a.evaluate(4, deterministic=False, seed=3))


def test_agent_on_a_given_vector_env():
    envs = make_vec_env("CartPole-v1", 2, seed=0)
    a = Agent(envs, "ppo", {k: v for k, v in SMALL.items() if k != "n_envs"}, seed=0)
    assert a.config.n_envs == 2 and a.env_id == "CartPole-v1"
    a.learn(32, progress=False)
    assert a.evaluate(2).shape == (2,)


def test_agent_on_an_env_callable():
    a = Agent(lambda: gym.make("CartPole-v1"), "ppo", SMALL, seed=0)
    a.learn(32, progress=False)
    assert a.vectorization == "sync" and a.evaluate(2).shape == (2,)


# ---------------------------------------------------------------- bad input

@pytest.mark.parametrize("steps, err", [(0, ValueError), (-5, ValueError), (1.5, TypeError),
                                        (True, TypeError), ("10", TypeError)])
def test_non_positive_or_non_int_step_counts_raise(steps, err):
    with pytest.raises(err, match="total_steps"):
        small_ppo().learn(steps, progress=False)


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="algo must be one of"):
        Agent("CartPole-v1", "dqn")
    with pytest.raises(TypeError, match="seed"):
        Agent("CartPole-v1", seed=1.0)
    with pytest.raises(ValueError, match="seed"):
        Agent("CartPole-v1", seed=-1)
    with pytest.raises(TypeError, match="env must be"):
        Agent(3)
    with pytest.raises(ValueError, match="vectorization"):
        Agent("CartPole-v1", vectorization="threads")
    with pytest.raises(ValueError, match="unknown fields"):
        Agent("CartPole-v1", config={"learning_rate": 1.0})
    with pytest.raises(ValueError, match="clip_range"):
        Agent("CartPole-v1", config={"clip_range": 0.0})
    with pytest.raises(ValueError, match="batch_size"):
        Agent("CartPole-v1", config={"batch_size": 1})
    with pytest.raises(ValueError, match="n_envs"):
        Agent(make_vec_env("CartPole-v1", 2), config={"n_envs": 3})
    with pytest.raises(TypeError, match="normalize_obs"):
        Agent("CartPole-v1", normalize_obs="yes")
    class TextObs(gym.Env):
        observation_space = gym.spaces.Text(5)
        action_space = gym.spaces.Discrete(2)

        def reset(self, seed=None, options=None):
            return "abc", {}
    with pytest.raises(TypeError, match="not supported|supported"):
        Agent(TextObs)                                  # Text observations
    assert Agent("Blackjack-v1", "a2c", {"hidden": (4,)}).spec.obs_dim == 32 + 11 + 2


def test_bad_learn_and_evaluate_arguments():
    a = small_ppo()
    with pytest.raises(ValueError, match="log_dir"):
        a.learn(32, progress=False, checkpoint_every=32)
    with pytest.raises(ValueError, match="checkpoint_every"):
        a.learn(32, progress=False, checkpoint_every=0, log_dir="x")
    with pytest.raises(TypeError, match="callback"):
        a.learn(32, progress=False, callback=3)
    with pytest.raises(ValueError, match="n_episodes"):
        a.evaluate(0)
    assert a.n_updates == 0


# ---------------------------------------------------------------- logger, progress, plots

def test_logger_update_columns_are_fixed_by_the_first_row(tmp_path):
    with CSVLogger(tmp_path) as log:
        log.log_update(1, 10, {"b": 2.0, "a": 1.0})
        log.log_update(2, 20, {"a": 3.0, "c": 9.0})          # c dropped, b left empty
        log.log_episodes(20, [1.5, 2.5], [3, 4])
    up = read_csv(tmp_path / "updates.csv")
    assert list(up) == ["update", "env_steps", "wall_time", "a", "b"]
    np.testing.assert_array_equal(up["a"], [1.0, 3.0])
    assert up["b"][0] == 2.0 and np.isnan(up["b"][1])
    np.testing.assert_array_equal(read_csv(tmp_path / "episodes.csv")["length"], [3, 4])
    with pytest.raises(ValueError, match="does not exist"):
        read_csv(tmp_path / "missing.csv")


def test_format_bar_hand_values():
    # 5 of 20 steps: a quarter of 8 cells filled, 25%, counts with thousands separators
    assert format_bar(5, 20, 1234.4, {"return": 1.5}, width=8) == (
        "[##......]  25%  5/20 steps  1,234 steps/s  return 1.5")
    assert format_bar(3000, 3000, 0.0, width=4).startswith("[####] 100%  3,000/3,000")


def test_progress_bar_in_a_pipe_writes_plain_lines():
    s = io.StringIO()                                   # not a terminal: no carriage returns
    bar = ProgressBar(10, s, log_interval=0.0)
    bar.update(5)
    bar.update(10, {"return": 2.0})
    bar.close()
    lines = s.getvalue().splitlines()
    assert "\r" not in s.getvalue() and len(lines) == 3
    assert lines[0].startswith("npg: 5/10 steps (50%)  ? steps/s") and "ETA ?" in lines[0]
    assert lines[1].startswith("npg: 10/10 steps (100%)") and lines[1].endswith("return 2")
    quiet = ProgressBar(10, None)
    quiet.update(10)
    quiet.close()
    with pytest.raises(ValueError, match="total"):
        ProgressBar(0)


def test_progress_bar_in_a_terminal_is_tqdm_with_the_rate_after_compilation():
    class Terminal(io.StringIO):
        def isatty(self):
            return True
    s = Terminal()
    bar = ProgressBar(100, s, min_interval=0.0)
    bar.update(10)                                     # the first update (compilation) ...
    bar._first = (bar._first[0] - 5.0, 10)             # ... pretend it ended 5 s ago
    bar.update(60, {"return": 3.5})
    assert 9.0 < bar.rate() < 11.0                     # 50 steps in ~5 s, compile excluded
    bar.close()
    text = s.getvalue()
    assert "\r" in text and "60/100" in text and "return 3.5" in text and "first" in text


def test_format_line_hand_values():
    assert format_line(250, 1000, 50.0, 3725.0, {"return": 1.5}) == (
        "npg: 250/1,000 steps (25%)  50 steps/s  elapsed 1:02:05  ETA 0:00:15  return 1.5")


def test_moving_mean_hand_values():
    # windows of 2: [1], [1, 2], [2, 3], [3, 6]
    np.testing.assert_allclose(moving_mean([1.0, 2.0, 3.0, 6.0], 2), [1.0, 1.5, 2.5, 4.5])
    np.testing.assert_allclose(moving_mean([4.0, 0.0], 10), [4.0, 2.0])
    with pytest.raises(ValueError, match="window"):
        moving_mean([1.0], 0)


def test_plot_learning_curve_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    small_ppo().learn(64, progress=False, log_dir=tmp_path)
    path = plot_learning_curve(tmp_path)
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_plot_without_matplotlib_says_how_to_install(tmp_path, monkeypatch):
    with CSVLogger(tmp_path) as log:
        log.log_episodes(1, [1.0], [1])
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match="pip install matplotlib"):
        plot_learning_curve(tmp_path)
    assert "matplotlib" in MATPLOTLIB_MISSING and os.path.exists(tmp_path / "episodes.csv")


def test_blas_threads_is_restored_and_validated():
    from npg.engine.blas import blas_threads, get_blas_threads
    before = get_blas_threads()
    with blas_threads(1):
        assert get_blas_threads() in (1, None)
    assert get_blas_threads() == before
    with pytest.raises(ValueError, match="positive int"):
        with blas_threads(0):
            pass
    with pytest.raises(ValueError, match="blas_threads"):
        small_ppo().learn(32, progress=False, blas_threads=0)


def test_an_environment_instance_is_one_copy_and_keeps_its_kwargs(tmp_path):
    env = gym.make("FrozenLake-v1", is_slippery=False)
    a = Agent(env, "reinforce", {"n_steps": 16, "hidden": (4,)}, seed=0)
    assert (a.config.n_envs, a.env_id) == (1, "FrozenLake-v1")
    assert a.env_kwargs["is_slippery"] is False
    a.learn(64, progress=False)
    a.save(tmp_path)
    b = Agent.load(tmp_path)
    assert b.env_kwargs == a.env_kwargs
    np.testing.assert_array_equal(a.evaluate(3), b.evaluate(3))
    with pytest.raises(ValueError, match="an environment instance gives one copy, so n_envs "
                                         "must be 1; got n_envs = 4"):
        Agent(gym.make("CartPole-v1"), "reinforce", {"n_envs": 4})
