"""Spaces -> vectors (npg.envs.spaces) and building vector envs (npg.envs.make)."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces
from gymnasium.vector import AutoresetMode

from npg.envs import (CountingEnv, action_decoder, autoreset_mode_of, clip_action,
                      make_vec_env, obs_encoder, space_info)


class _Holder:
    """Just spaces, to probe unsupported ones without writing a whole Env."""

    def __init__(self, obs, act):
        self.observation_space, self.action_space = obs, act


def test_space_info_of_classic_envs():
    cp = space_info(gym.make("CartPole-v1"))
    assert (cp.obs_dim, cp.obs_kind, cp.discrete, cp.n_actions, cp.act_dim) == (4, "box", True,
                                                                                 2, None)
    pe = space_info(gym.make("Pendulum-v1"))
    assert (pe.obs_dim, pe.discrete, pe.n_actions, pe.act_dim) == (3, False, None, 1)
    np.testing.assert_array_equal(pe.act_low, [-2.0])
    np.testing.assert_array_equal(pe.act_high, [2.0])
    fl = space_info(gym.make("FrozenLake-v1"))
    assert (fl.obs_dim, fl.obs_kind, fl.n_states, fl.n_actions) == (16, "discrete", 16, 4)


def test_space_info_of_a_vector_env_is_that_of_one_copy():
    envs = make_vec_env("CartPole-v1", 3, seed=0)
    info = space_info(envs)
    assert info.obs_dim == 4 and info.n_actions == 2
    envs.close()


UNSUPPORTED_OBS = [
    spaces.Text(5),
    spaces.Graph(spaces.Box(0, 1, (2,)), None),
    spaces.Dict({"a": spaces.Discrete(2), "t": spaces.Text(3)}),    # a part that is not
    spaces.Tuple((spaces.Discrete(2), spaces.Sequence(spaces.Discrete(2)))),
]


@pytest.mark.parametrize("space", UNSUPPORTED_OBS, ids=lambda s: type(s).__name__)
def test_unsupported_observation_spaces_raise_typeerror_naming_them(space):
    with pytest.raises(TypeError, match=type(space).__name__) as err:
        space_info(_Holder(space, spaces.Discrete(2)))
    assert "Discrete" in str(err.value) and "Box" in str(err.value)
    with pytest.raises(TypeError, match="observation"):
        obs_encoder(space)


@pytest.mark.parametrize("space", UNSUPPORTED_OBS[:2] + [spaces.Box(0, 3, (2,), np.int64)],
                         ids=lambda s: type(s).__name__)
def test_unsupported_action_spaces_raise_typeerror(space):
    with pytest.raises(TypeError, match="action space"):
        space_info(_Holder(spaces.Box(-1, 1, (2,)), space))


def test_multidiscrete_and_multibinary_actions_are_supported():
    """Refused until issue 16's product policies were wired in; now K integer dimensions
    (tests/envs/test_multi_action.py covers them end to end)."""
    md = space_info(_Holder(spaces.Box(-1, 1, (2,)), spaces.MultiDiscrete([2, 2])))
    assert (md.discrete, md.act_dim, md.nvec, md.binary) == (False, 2, (2, 2), False)
    mb = space_info(_Holder(spaces.Box(-1, 1, (2,)), spaces.MultiBinary(3)))
    assert (mb.discrete, mb.act_dim, mb.nvec, mb.binary) == (False, 3, (2, 2, 2), True)


def test_space_info_rejects_things_without_spaces():
    with pytest.raises(TypeError, match="env must be"):
        space_info(object())


def test_discrete_observations_are_one_hot():
    # Discrete(4, start=2): state s -> e_{s - 2}
    enc = obs_encoder(spaces.Discrete(4, start=2))
    out = np.full((3, 4), 7.0)
    enc(np.array([2, 5, 3]), out)
    np.testing.assert_array_equal(out, [[1, 0, 0, 0], [0, 0, 0, 1], [0, 1, 0, 0]])
    with pytest.raises(ValueError, match=r"\[2, 6\)"):
        enc(np.array([6, 2, 2]), out)


def test_box_observations_are_flattened_and_cast():
    enc = obs_encoder(spaces.Box(-1, 1, (2, 3), np.float32))
    x = np.arange(12, dtype=np.float32).reshape(2, 2, 3)
    out = enc(x, np.empty((2, 6), np.float64))
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, np.arange(12).reshape(2, 6))


def test_action_decoders():
    np.testing.assert_array_equal(action_decoder(spaces.Discrete(3, start=-1))(np.array([0, 2])),
                                  [-1, 1])
    a = action_decoder(spaces.Box(-1, 1, (2, 2), np.float32))(np.zeros((5, 4)))
    assert a.shape == (5, 2, 2) and a.dtype == np.float32


def test_clip_action_clips_to_the_box_per_dimension():
    a = np.array([[-3.0, 0.5], [0.2, 9.0]])
    np.testing.assert_array_equal(clip_action(a, np.array([-1.0, 0.0]), np.array([1.0, 2.0])),
                                  [[-1.0, 0.5], [0.2, 2.0]])


@pytest.mark.parametrize("mode", ["sync", "vector_entry_point"])
def test_make_vec_env_modes_and_autoreset(mode):
    envs = make_vec_env("CartPole-v1", 2, mode=mode, seed=1)
    assert envs.num_envs == 2
    assert autoreset_mode_of(envs) == AutoresetMode.NEXT_STEP
    envs.close()


def test_make_vec_env_accepts_a_callable_and_other_autoreset_modes():
    envs = make_vec_env(CountingEnv, 2, seed=0, autoreset_mode="SameStep", truncate_at=3)
    assert autoreset_mode_of(envs) == AutoresetMode.SAME_STEP
    assert envs.envs[0].truncate_at == 3
    envs.close()


def test_make_vec_env_bad_input():
    with pytest.raises(ValueError, match="mode"):
        make_vec_env("CartPole-v1", 2, mode="threads")
    with pytest.raises(ValueError, match="num_envs"):
        make_vec_env("CartPole-v1", 0)
    with pytest.raises(TypeError, match="num_envs"):
        make_vec_env("CartPole-v1", 2.0)
    with pytest.raises(TypeError, match="env_id"):
        make_vec_env(3, 2)
    with pytest.raises(TypeError, match="seed"):
        make_vec_env("CartPole-v1", 2, seed=1.5)
    with pytest.raises(ValueError, match="autoreset_mode"):
        make_vec_env("CartPole-v1", 2, autoreset_mode="sometimes")
    with pytest.raises(ValueError, match="vector_entry_point"):
        make_vec_env("CartPole-v1", 2, mode="vector_entry_point", autoreset_mode="SameStep")
    with pytest.raises(ValueError, match="vector_entry_point"):
        make_vec_env(CountingEnv, 2, mode="vector_entry_point")


def test_composite_observations_are_encoded_part_by_part():
    # Dict keys in the space's (sorted) order: bits [1, 0] | cell one-hot of 3 |
    # md one-hot blocks of 2 and 3 | pos as is
    sp = spaces.Dict({"pos": spaces.Box(-1, 1, (2,)), "cell": spaces.Discrete(3),
                      "bits": spaces.MultiBinary(2), "md": spaces.MultiDiscrete([2, 3])})
    batch = {"pos": np.array([[0.5, -0.5], [0.1, 0.2]]), "cell": np.array([2, 0]),
             "bits": np.array([[1, 0], [0, 1]]), "md": np.array([[1, 2], [0, 0]])}
    got = obs_encoder(sp)(batch, np.empty((2, 12)))
    np.testing.assert_array_equal(got, [[1, 0, 0, 0, 1, 0, 1, 0, 0, 1, 0.5, -0.5],
                                        [0, 1, 1, 0, 0, 1, 0, 1, 0, 0, 0.1, 0.2]])
    t = spaces.Tuple((spaces.Discrete(2, start=1), spaces.Box(0, 1, (1,))))
    got = obs_encoder(t)((np.array([2, 1]), np.array([[0.3], [0.7]])), np.empty((2, 3)))
    np.testing.assert_array_equal(got, [[0, 1, 0.3], [1, 0, 0.7]])


def test_a_dict_observation_env_trains():
    import gymnasium as gym
    from npg.app.agent import Agent

    class DictCorridor(gym.Env):
        observation_space = spaces.Dict({"cell": spaces.Discrete(4),
                                         "flag": spaces.MultiBinary(1)})
        action_space = spaces.Discrete(2)

        def reset(self, seed=None, options=None):
            super().reset(seed=seed)
            self.s = 0
            return {"cell": self.s, "flag": np.array([0], np.int8)}, {}

        def step(self, a):
            self.s = max(0, min(3, self.s + (1 if a else -1)))
            done = self.s == 3
            return ({"cell": self.s, "flag": np.array([int(done)], np.int8)}, float(done),
                    done, False, {})
    env_fn = lambda: gym.wrappers.TimeLimit(DictCorridor(), 20)     # noqa: E731
    a = Agent(env_fn, "reinforce", {"n_envs": 2, "n_steps": 20, "hidden": (8,)}, seed=0)
    assert a.spec.obs_dim == 5 and a.spec.obs_kind == "composite"
    a.learn(400, progress=False)
    assert len(a.episode_returns) > 0
    a.evaluate(2)


def test_a_multidiscrete_observation_with_an_empty_dimension_is_refused():
    with pytest.raises(ValueError, match="have to be positive"):     # gymnasium refuses it
        spaces.MultiDiscrete([2, 0])
    sp = spaces.MultiDiscrete([2, 3])
    sp.nvec = np.array([2, 0])                                       # and so does npg
    with pytest.raises(ValueError, match="a dimension with no values"):
        obs_encoder(sp)
