"""MultiDiscrete and MultiBinary actions through the spaces and the collector, and the two
tasks of npg.envs.multi_action (Dials, Switches)."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces
from gymnasium.utils.env_checker import check_env

from npg.envs import action_decoder, make_vec_env, space_info
from npg.envs.multi_action import DIALS_ID, SWITCHES_ID, Dials, Switches
from npg.envs.rollout import Collector


class _Holder:
    def __init__(self, obs, act):
        self.observation_space, self.action_space = obs, act


@pytest.mark.parametrize("make", [Dials, Switches, lambda: Dials((2, 5), horizon=3)])
def test_the_tasks_pass_gymnasiums_checker(make):
    env = make()
    with pytest.warns(UserWarning, match="render"):           # no render modes: by design
        check_env(env)


def test_space_info_of_product_action_spaces():
    d = space_info(Dials())
    assert (d.obs_dim, d.obs_kind, d.discrete, d.n_actions) == (24, "composite", False, None)
    assert (d.act_dim, d.nvec, d.binary, d.act_low, d.act_high) == (3, (3, 3, 3), False, None,
                                                                    None)
    s = space_info(Switches(k=5))
    assert (s.obs_dim, s.act_dim, s.nvec, s.binary) == (10, 5, (2,) * 5, True)
    m = space_info(_Holder(spaces.Box(-1, 1, (2,)), spaces.MultiDiscrete([[2, 3], [4, 1]])))
    assert (m.act_dim, m.nvec) == (4, (2, 3, 4, 1))             # flattened in C order
    b = space_info(_Holder(spaces.Box(-1, 1, (2,)), spaces.MultiBinary((2, 3))))
    assert (b.act_dim, b.nvec, b.binary) == (6, (2,) * 6, True)


def test_product_action_decoders_add_start_and_reshape():
    sp = spaces.MultiDiscrete([[2, 3], [4, 5]], start=[[1, 1], [0, -2]])
    a = action_decoder(sp)(np.array([[0, 2, 3, 4], [1, 0, 0, 0]]))
    assert a.shape == (2, 2, 2) and a.dtype == sp.dtype
    np.testing.assert_array_equal(a[0], [[1, 3], [3, 2]])
    assert all(sp.contains(x) for x in a)
    bits = spaces.MultiBinary((2, 2))
    b = action_decoder(bits)(np.array([[0, 1, 1, 0]]))
    assert b.shape == (1, 2, 2) and b.dtype == bits.dtype and bits.contains(b[0])


def test_product_spaces_without_values_are_refused():
    sp = spaces.MultiDiscrete([2, 3])
    sp.nvec = np.array([2, 0])                        # gymnasium refuses it at construction
    with pytest.raises(ValueError, match="dimension 1 has 0 values"):
        space_info(_Holder(spaces.Box(-1, 1, (2,)), sp))
    with pytest.raises(ValueError, match="have to be positive"):   # gymnasium's own check
        spaces.MultiBinary(0)
    with pytest.raises(TypeError, match="action space"):       # Dict actions stay refused
        space_info(_Holder(spaces.Box(-1, 1, (2,)), spaces.Dict({"a": spaces.Discrete(2)})))


def _uniform_act(nvec, rng, shift=0):
    def act(obs):
        a = np.stack([rng.integers(0, n, obs.shape[0]) for n in nvec], axis=-1) + shift
        return a, a, np.full(obs.shape[0], -float(np.log(np.prod(nvec))))
    return act


@pytest.mark.parametrize("make, nvec", [(Dials, (3, 3, 3)), (Switches, (2,) * 4)])
def test_the_collector_stores_integer_actions_per_dimension(make, nvec):
    envs = make_vec_env(make, 3, seed=0)
    r = Collector(envs).collect(_uniform_act(nvec, np.random.default_rng(0)), None, 20)
    assert r.act.shape == (20, 3, len(nvec)) and r.act.dtype == np.int64
    assert r.obs.shape == (20, 3, space_info(envs).obs_dim)
    assert np.all(r.act >= 0) and np.all(r.act < np.array(nvec))
    assert len(r.episode_returns) > 0 and np.all(r.episode_returns <= 0)
    flat = r.flat()
    assert flat["act"].shape == (r.n_valid, len(nvec))


class LenientDials(Dials):
    """Dials that clips what it gets, so only npg's own check can notice a bad action."""

    def step(self, action):
        return super().step(np.clip(np.asarray(action), 0, 2))


def test_the_collector_names_an_action_out_of_range():
    envs = make_vec_env(LenientDials, 2, seed=0)
    act = _uniform_act((3, 3, 3), np.random.default_rng(0), shift=1)   # up to 3: out of range
    with pytest.raises(ValueError, match=r"\[0, n_k\) per dimension"):
        Collector(envs).collect(act, None, 30)


def test_optimal_play_gives_the_returns_the_docstring_states():
    """Dials: turning each dial toward its target, at worst -2 for (4, 4, 4) and -0.48 on
    average; Switches: flipping the mismatched bits ends the episode at once with return 0."""
    rets = []
    env = Dials()
    for ep in range(300):
        env.reset(seed=ep)
        total, done = 0.0, False
        while not done:
            _, r, te, tr, _ = env.step(np.sign(env.target - env.pos) + 1)
            total, done = total + r, te or tr
        assert te
        rets.append(total)
    assert min(rets) >= -2.0 and -0.6 < np.mean(rets) < -0.35
    env = Switches()
    for ep in range(50):
        env.reset(seed=ep)
        _, r, te, _, _ = env.step(env.s ^ env.g)
        assert te and r == 0.0


def test_ids_are_registered_on_import_and_bad_arguments_are_refused():
    assert gym.make(DIALS_ID).unwrapped.nvec.tolist() == [4, 4, 4]
    assert gym.make(SWITCHES_ID).unwrapped.k == 4
    with pytest.raises(ValueError, match=r"nvec\[1\]"):
        Dials((3, 1))
    with pytest.raises(ValueError, match="horizon"):
        Switches(horizon=0)
    env = Dials()
    env.reset(seed=0)
    with pytest.raises(ValueError, match="not in"):
        env.step(np.array([3, 0, 0]))
    env = Switches()
    env.reset(seed=0)
    with pytest.raises(ValueError, match="not in"):
        env.step(np.array([2, 0, 0, 0]))
