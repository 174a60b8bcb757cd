"""npg's vectorised Pendulum-v1 against gymnasium's Pendulum-v1 in a SyncVectorEnv: the same
seeds give the same states, observations and rewards bit for bit, through autoresets; it is what "auto" picks; checkpoints restore it; bad arguments are named."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from npg.app.agent import Agent
from npg.envs import make_vec_env
from npg.envs.make import has_vector_class
from npg.envs.pendulum_vector import PendulumVectorEnv
from npg.envs.snapshot import restore, snapshot, supported


def _pair(n, seed, **kw):
    ref = gym.make_vec("Pendulum-v1", num_envs=n, vectorization_mode="sync", **kw)
    vec = make_vec_env("Pendulum-v1", n, mode="vector_entry_point", **kw)
    return ref, vec, ref.reset(seed=seed)[0], vec.reset(seed=seed)[0]


def _run_equal(ref, vec, steps, rng, dtype):
    for t in range(steps):
        a = rng.uniform(-3.0, 3.0, size=(ref.num_envs, 1)).astype(dtype)   # some clipped
        o1, r1, te1, tr1, _ = ref.step(a)
        o2, r2, te2, tr2, _ = vec.step(a)
        np.testing.assert_array_equal(o2, o1, err_msg=f"obs at step {t}")
        np.testing.assert_array_equal(r2, r1, err_msg=f"reward at step {t}")
        np.testing.assert_array_equal(te2, te1)
        np.testing.assert_array_equal(tr2, tr1, err_msg=f"truncated at step {t}")
        assert o2.dtype == o1.dtype and r2.dtype == r1.dtype


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("seed", [0, 7])
def test_equals_gymnasium_sync_through_two_autoresets(seed, dtype):
    ref, vec, o1, o2 = _pair(3, seed)
    np.testing.assert_array_equal(o2, o1)
    _run_equal(ref, vec, 450, np.random.default_rng(seed), dtype)
    np.testing.assert_array_equal(vec.reset()[0], ref.reset()[0])     # unseeded: same streams
    _run_equal(ref, vec, 30, np.random.default_rng(seed + 1), dtype)


def test_gravity_kwarg_reset_options_and_seed_lists():
    ref, vec, _, _ = _pair(2, 3, g=9.81)
    _run_equal(ref, vec, 50, np.random.default_rng(0), np.float32)
    opts = {"x_init": 0.5, "y_init": 0.25}
    np.testing.assert_array_equal(vec.reset(seed=[4, 9], options=opts)[0],
                                  ref.reset(seed=[4, 9], options=opts)[0])
    _run_equal(ref, vec, 20, np.random.default_rng(1), np.float32)
    assert vec.single_observation_space == ref.single_observation_space
    assert vec.single_action_space == ref.single_action_space
    assert vec.observation_space == ref.observation_space
    assert vec.spec.id == "Pendulum-v1" and vec.spec.max_episode_steps == 200
    assert vec.spec.kwargs["g"] == 9.81


def test_auto_picks_it_unless_the_kwargs_need_gymnasiums_class():
    assert has_vector_class("Pendulum-v1") and has_vector_class("Pendulum-v1", {"g": 9.0})
    assert not has_vector_class("Pendulum-v1", {"render_mode": "rgb_array"})
    assert has_vector_class("CartPole-v1") and not has_vector_class("Acrobot-v1")
    ag = Agent("Pendulum-v1", "ppo", {"n_envs": 2, "n_steps": 16, "batch_size": 16}, seed=0)
    assert ag.vectorization == "vector_entry_point"
    assert isinstance(ag.envs, PendulumVectorEnv)


def test_training_on_it_equals_training_on_the_sync_env():
    """Same seed, same data, same updates: bitwise equal parameters and returns."""
    cfg = {"n_envs": 2, "n_steps": 64, "batch_size": 32, "n_epochs": 2, "use_sde": True}
    a = Agent("Pendulum-v1", "ppo", cfg, seed=3, vectorization="sync").learn(512, progress=False)
    b = Agent("Pendulum-v1", "ppo", cfg, seed=3).learn(512, progress=False)
    assert b.vectorization == "vector_entry_point"
    for k in a.state["policy"]:
        np.testing.assert_array_equal(b.state["policy"][k], a.state["policy"][k])
    assert b.episode_returns == a.episode_returns and len(a.episode_returns) == 2


def test_snapshot_restores_the_running_episodes_and_generators():
    vec = make_vec_env("Pendulum-v1", 3, mode="vector_entry_point", seed=5)
    rng = np.random.default_rng(0)
    for _ in range(150):
        vec.step(rng.uniform(-2, 2, (3, 1)))
    assert supported(vec) is None
    scalars, arrays = snapshot(vec)
    fresh = make_vec_env("Pendulum-v1", 3, mode="vector_entry_point", seed=99)
    restore(fresh, scalars, arrays)
    for _ in range(120):                                   # past the time limit and a reset
        a = rng.uniform(-2, 2, (3, 1))
        for x, y in zip(vec.step(a)[:4], fresh.step(a)[:4]):
            np.testing.assert_array_equal(y, x)
    scalars["objects"][0]["attrs"]["rngs"]["generators"].pop()
    with pytest.raises(ValueError, match="'rngs' must be a tuple of 3 generators"):
        restore(fresh, scalars, arrays)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="render_mode"):
        PendulumVectorEnv(2, render_mode="human")
    vec = PendulumVectorEnv(2)
    with pytest.raises(ValueError, match="seed: a list of seeds needs one per copy"):
        vec.reset(seed=[1, 2, 3])
    with pytest.raises(TypeError):
        make_vec_env("Pendulum-v1", 2, mode="vector_entry_point", render_mode="human",
                     max_speed=3)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_compiled_step_equals_the_array_step_over_long_spinning_runs(dtype):
    """The Numba step (float actions) against ``step_arrays`` (the same step in NumPy) over
    3,000 steps of 16 copies pushed to spin (large angles), with resets every 200 steps."""
    a, b = PendulumVectorEnv(16), PendulumVectorEnv(16)
    a.reset(seed=3), b.reset(seed=3)
    rng, turns = np.random.default_rng(0), 0.0
    for t in range(3000):
        turns = max(turns, np.abs(a.th).max() / (2 * np.pi))
        u = (rng.uniform(-3.0, 3.0, (16, 1)) + 2.0 * np.sign(a.thdot)[:, None]).astype(dtype)
        out_a, out_b = a.step(u), b.step_arrays(u)
        for x, y in zip(out_a[:4], out_b[:4]):
            assert x.dtype == y.dtype
            np.testing.assert_array_equal(x, y, err_msg=f"step {t}")
    assert turns > 5                                       # big angles were seen
    np.testing.assert_array_equal(a.th, b.th)
    np.testing.assert_array_equal(a.thdot, b.thdot)


def test_other_action_dtypes_take_the_array_step():
    a, b = PendulumVectorEnv(2), PendulumVectorEnv(2)
    a.reset(seed=1), b.reset(seed=1)
    for u in (np.array([[1], [-3]]), np.array([[0.5], [2.5]], np.float16), [[1.0], [0.0]]):
        for x, y in zip(a.step(u)[:4], b.step_arrays(u)[:4]):
            np.testing.assert_array_equal(x, y)
