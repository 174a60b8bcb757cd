"""npg's compiled CartPole vector env against gymnasium's ``CartPoleVectorEnv``: the same seeds
and actions give the same states, observations, rewards, flags and generator states bit for
bit, through many autoresets, for both integrators and both rewards; it is what "auto" and
"vector_entry_point" build; checkpoints of either class restore into the other; bad actions
are named."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.envs.classic_control.cartpole import CartPoleVectorEnv as GymCartPoleVectorEnv

from npg.app.agent import Agent
from npg.envs import make_vec_env
from npg.envs.cartpole_vector import CartPoleVectorEnv
from npg.envs.snapshot import restore, snapshot, supported


def _pair(n, seed, **kw):
    ref = gym.make_vec("CartPole-v1", num_envs=n, vectorization_mode="vector_entry_point", **kw)
    vec = make_vec_env("CartPole-v1", n, mode="vector_entry_point", **kw)
    assert type(ref) is GymCartPoleVectorEnv and type(vec) is CartPoleVectorEnv
    return ref, vec, ref.reset(seed=seed)[0], vec.reset(seed=seed)[0]


def _run_equal(ref, vec, steps, rng, obs):
    ends = 0
    for t in range(steps):
        if t % 3:
            a = rng.integers(0, 2, ref.num_envs)
        else:                                      # a balancing policy: long episodes too
            a = (obs[:, 2] + 0.5 * obs[:, 3] > 0).astype(np.int32)
        out_ref, out_vec = ref.step(a), vec.step(a)
        for name, x, y in zip(("obs", "reward", "terminated", "truncated"), out_ref, out_vec):
            assert y.dtype == x.dtype and y.shape == x.shape, name
            np.testing.assert_array_equal(y, x, err_msg=f"{name} at step {t}")
        obs = out_ref[0]
        ends += int(out_ref[2].sum() + out_ref[3].sum())
    assert ref.np_random.bit_generator.state == vec.np_random.bit_generator.state
    np.testing.assert_array_equal(vec.state, ref.state)
    np.testing.assert_array_equal(vec.steps, ref.steps)
    return ends


@pytest.mark.parametrize("integrator", ["euler", "semi-implicit euler"])
@pytest.mark.parametrize("sutton_barto", [False, True])
def test_equals_gymnasium_through_many_autoresets(integrator, sutton_barto):
    ref, vec, o1, o2 = _pair(8, 3, sutton_barto_reward=sutton_barto)
    ref.unwrapped.kinematics_integrator = vec.kinematics_integrator = integrator
    np.testing.assert_array_equal(o2, o1)
    ends = _run_equal(ref, vec, 3000, np.random.default_rng(0), o1)
    assert ends > 200                                  # terminations and resets were exercised
    o1, o2 = ref.reset()[0], vec.reset()[0]            # unseeded: the same stream continues
    np.testing.assert_array_equal(o2, o1)
    _run_equal(ref, vec, 50, np.random.default_rng(1), o1)


def test_truncation_and_changed_constants_and_reset_bounds():
    ref, vec, o1, _ = _pair(3, 0)
    for e in (ref.unwrapped, vec):
        e.max_episode_steps, e.force_mag, e.gravity = 7, 5.0, 9.81
    opts = {"low": -0.2, "high": 0.2}
    o1 = ref.reset(seed=11, options=opts)[0]
    np.testing.assert_array_equal(vec.reset(seed=11, options=opts)[0], o1)
    _run_equal(ref, vec, 40, np.random.default_rng(2), o1)


def test_action_dtypes_and_bad_actions():
    ref, vec, o1, _ = _pair(2, 0)
    for a in (np.array([1, 0], np.uint8), np.array([0, 1], np.int64)):
        for x, y in zip(ref.step(a)[:4], vec.step(a)[:4]):
            np.testing.assert_array_equal(y, x)
    with pytest.raises(ValueError, match=r"action: CartPole actions must be 0 or 1; got 2 at "
                                         r"index 1"):
        vec.step(np.array([0, 2]))
    with pytest.raises(AssertionError):                # not an int array: gymnasium's checks
        vec.step([0, 3])


def test_make_and_auto_build_it_and_the_online_engine_takes_it():
    ag = Agent("CartPole-v1", "ppo", {"n_envs": 2, "n_steps": 16, "batch_size": 16}, seed=0)
    assert ag.vectorization == "vector_entry_point" and type(ag.envs) is CartPoleVectorEnv
    v0 = make_vec_env("CartPole-v0", 2, mode="vector_entry_point", seed=0)
    assert type(v0) is CartPoleVectorEnv and v0.max_episode_steps == 200
    assert v0.spec.id == "CartPole-v0"
    from npg.engine.online_env import CartPoleOne
    assert CartPoleOne.supports(make_vec_env("CartPole-v1", 1, mode="vector_entry_point",
                                             seed=0))


def test_checkpoints_of_either_class_restore_into_the_other():
    ref, vec, o1, _ = _pair(4, 5)
    rng = np.random.default_rng(0)
    for _ in range(60):
        a = rng.integers(0, 2, 4)
        ref.step(a), vec.step(a)
    assert supported(vec) is None and supported(ref) is None
    for src, dst_cls in ((ref, CartPoleVectorEnv), (vec, GymCartPoleVectorEnv)):
        scalars, arrays = snapshot(src)
        fresh = dst_cls(4, 500)
        fresh.reset(seed=99)
        restore(fresh, scalars, arrays)
        for _ in range(80):
            a = rng.integers(0, 2, 4)
            for x, y in zip(src.step(a)[:4], fresh.step(a)[:4]):
                np.testing.assert_array_equal(y, x)
