"""Collector / Rollout on hand-written deterministic environments and on CartPole.

CountingEnv observes its step count t (0 after reset); the value function ``V(obs) = obs[0] + 100``
therefore tells which observation it was given (+100 keeps it apart from the 0 that marks
terminated and phantom steps).
"""

import io

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces
from gymnasium.vector import SyncVectorEnv
from hypothesis import given, settings
from hypothesis import strategies as st

from npg.envs import CountingEnv, ObsNormalizer, RewardScaler, clip_action, make_vec_env
from npg.envs.rollout import Collector, episode_stats

MODES = ["NextStep", "SameStep", "Disabled"]


def act_zero(obs):
    a = np.zeros(obs.shape[0], np.int64)
    return a, a, np.zeros(obs.shape[0])


def value_count(obs):
    return obs[:, 0] + 100.0


def counting(autoreset, *kwargs_per_env):
    return SyncVectorEnv([lambda kw=kw: CountingEnv(**kw) for kw in kwargs_per_env],
                         autoreset_mode=autoreset)


@pytest.mark.parametrize("mode", MODES)
def test_phantom_reset_transitions_are_never_valid(mode):
    c = Collector(counting(mode, {"truncate_at": 3}, {"terminate_at": 2}))
    r = c.collect(act_zero, value_count, 12)
    t_obs = r.obs[..., 0]
    # a valid step starts from a count the episode really acts in: 0 .. end - 1
    assert np.all(t_obs[:, 0][r.valid[:, 0]] <= 2) and np.all(t_obs[:, 1][r.valid[:, 1]] <= 1)
    if mode == "NextStep":
        # exactly the step after each end is a phantom one: it starts at the final count and
        # pays nothing
        np.testing.assert_array_equal(r.valid[1:], ~r.done[:-1])
        assert np.all(r.rew[~r.valid] == 0) and np.all(t_obs[:, 0][~r.valid[:, 0]] == 3)
        assert r.n_valid == 12 * 2 - np.count_nonzero(r.done[:-1])
    else:
        assert r.valid.all()
    flat = r.flat()
    assert flat["obs"].shape == (r.n_valid, 1)
    assert np.all(flat["obs"][:, 0] <= 2)


@pytest.mark.parametrize("mode", MODES)
def test_next_value_is_value_of_the_real_final_observation(mode):
    c = Collector(counting(mode, {"truncate_at": 3}, {"terminate_at": 2}, {}))
    r = c.collect(act_zero, value_count, 10)
    # env 0 truncates on the step that returns count 3: next_value = V(3) = 103, never V(reset)
    tr = r.truncated[:, 0]
    assert tr.sum() >= 2 and np.all(r.next_value[tr, 0] == 103.0)
    # env 1 terminates: no bootstrap
    assert np.all(r.next_value[r.terminated[:, 1], 1] == 0.0)
    # every other valid step: next_value = V(count + 1)
    ok = r.valid & ~r.done
    np.testing.assert_array_equal(r.next_value[ok], r.obs[..., 0][ok] + 101.0)
    np.testing.assert_array_equal(r.value, r.obs[..., 0] + 100.0)
    # env 2 never ends
    np.testing.assert_array_equal(r.obs[:, 2, 0], np.arange(10))


@pytest.mark.parametrize("mode", MODES)
def test_terminated_and_truncated_stay_apart(mode):
    c = Collector(counting(mode, {"truncate_at": 3}, {"terminate_at": 3},
                           {"terminate_at": 3, "truncate_at": 3}))
    r = c.collect(act_zero, value_count, 7)
    ends = np.zeros(7, bool)
    ends[[2, 6] if mode == "NextStep" else [2, 5]] = True
    np.testing.assert_array_equal(r.truncated[:, 0], ends)
    assert not r.terminated[:, 0].any()
    np.testing.assert_array_equal(r.terminated[:, 1], ends)
    assert not r.truncated[:, 1].any()
    np.testing.assert_array_equal(r.terminated[:, 2], ends)     # both on one step
    np.testing.assert_array_equal(r.truncated[:, 2], ends)
    # terminated wins for bootstrapping: a terminal state has value 0
    assert np.all(r.next_value[ends, 2] == 0.0) and np.all(r.next_value[ends, 0] == 103.0)


@pytest.mark.parametrize("mode", MODES)
def test_episode_statistics_across_collect_calls(mode):
    c = Collector(counting(mode, {"truncate_at": 3}, {"terminate_at": 4, "reward": 2.0}))
    r1 = c.collect(act_zero, None, 6)
    r2 = c.collect(act_zero, None, 6)
    rets = np.concatenate([r1.episode_returns, r2.episode_returns])
    lens = np.concatenate([r1.episode_lengths, r2.episode_lengths])
    # every episode of env 0 is 3 steps paying 1, every episode of env 1 is 4 steps paying 2
    np.testing.assert_array_equal(rets, np.where(lens == 3, 3.0, 8.0))
    assert set(lens) == {3, 4}
    n_ep0 = 3 if mode == "NextStep" else 4         # 12 steps: phantom steps cost one each
    assert np.count_nonzero(lens == 3) == n_ep0
    assert r1.value is None and r1.next_value is None


def test_rollouts_of_fixed_length_continue_episodes():
    make = lambda: make_vec_env("CartPole-v1", 3, seed=7)  # noqa: E731
    act = lambda o: ((o[:, 2] > 0).astype(np.int64),) * 2 + (np.zeros(len(o)),)  # noqa: E731
    one = Collector(make()).collect(act, value_count, 40)
    c = Collector(make())
    parts = [c.collect(act, value_count, 8) for _ in range(5)]
    for k in ("obs", "act", "rew", "terminated", "truncated", "value", "next_value", "valid"):
        np.testing.assert_array_equal(getattr(one, k),
                                      np.concatenate([getattr(p, k) for p in parts]), k)
    np.testing.assert_array_equal(one.episode_returns,
                                  np.concatenate([p.episode_returns for p in parts]))


def test_sync_and_async_give_the_same_rollout():
    rollouts = []
    for mode in ("sync", "async"):
        envs = make_vec_env("CartPole-v1", 3, mode=mode, seed=3)
        rng = np.random.default_rng(0)

        def act(o):
            a = rng.integers(0, 2, o.shape[0])
            return a, a, np.full(o.shape[0], -np.log(2.0))
        rollouts.append(Collector(envs).collect(act, value_count, 60))
        envs.close()
    a, b = rollouts
    for k in ("obs", "act", "rew", "terminated", "truncated", "value", "next_value", "valid",
              "episode_returns", "episode_lengths"):
        np.testing.assert_array_equal(getattr(a, k), getattr(b, k), k)
    assert a.done.any()


def test_cartpole_own_vector_env_marks_its_phantom_steps():
    envs = make_vec_env("CartPole-v1", 4, mode="vector_entry_point", seed=0)
    rng = np.random.default_rng(1)

    def act(o):
        a = rng.integers(0, 2, o.shape[0])
        return a, a, np.zeros(o.shape[0])
    r = Collector(envs).collect(act, None, 120)
    assert (~r.valid).any()
    assert np.all(r.rew[r.valid] == 1.0) and np.all(r.rew[~r.valid] == 0.0)
    # the lengths of the episodes that began in this rollout count their valid steps
    assert r.episode_lengths.min() >= 8 and r.episode_returns.tolist() == \
        r.episode_lengths.astype(float).tolist()
    envs.close()


def test_discrete_observations_are_one_hot_in_the_rollout():
    c = Collector(counting("NextStep", {"truncate_at": 4, "n_states": 5}))
    r = c.collect(act_zero, None, 6)
    counts = [0, 1, 2, 3, 4, 0]      # 4 is the final obs at the phantom step
    np.testing.assert_array_equal(r.obs[:, 0], np.eye(5)[counts])


def test_gaussian_actions_clipped_for_the_env_unclipped_in_the_rollout():
    c = Collector(counting("NextStep", {"act_dim": 2, "low": -1.0, "high": 1.0}))
    lo, hi = c.space_info.act_low, c.space_info.act_high
    sample = np.array([[3.0, -0.25]])

    def act(o):
        return clip_action(sample, lo, hi), sample, np.zeros(1)
    r = c.collect(act, None, 3)
    np.testing.assert_array_equal(r.act[:, 0], np.repeat(sample, 3, axis=0))
    # the env echoes the action it received in obs[1:]: the clipped one
    np.testing.assert_array_equal(r.obs[1:, 0, 1:], [[1.0, -0.25]] * 2)


def test_observation_normaliser_statistics_are_numpy_mean_and_var():
    make = lambda: make_vec_env("CartPole-v1", 4, seed=5)  # noqa: E731
    act = lambda o: (np.zeros(len(o), np.int64),) * 2 + (np.zeros(len(o)),)  # noqa: E731
    plain = Collector(make()).collect(act, None, 50)
    norm = ObsNormalizer(clip=1e9)
    r = Collector(make(), obs_normalizer=norm).collect(act, None, 50)
    raw = np.concatenate([plain.obs, plain.last_obs[None]]).reshape(-1, 4)  # every obs seen
    np.testing.assert_allclose(norm.moments.mean, raw.mean(axis=0), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(norm.moments.var, raw.var(axis=0), rtol=1e-10)
    # the last observation is normalised with the final statistics
    np.testing.assert_allclose(r.last_obs, norm.normalize(plain.last_obs), rtol=1e-12)


def test_normaliser_state_saves_loads_and_freezes_through_the_collector():
    envs = make_vec_env("CartPole-v1", 2, seed=0)
    c = Collector(envs, ObsNormalizer(), RewardScaler(gamma=0.9))
    c.collect(act_zero, None, 30)
    buf = io.BytesIO()
    np.savez(buf, **c.state_dict())
    buf.seek(0)
    state = dict(np.load(buf))
    assert set(state) == {"obs_mean", "obs_var", "obs_count", "ret_mean", "ret_var", "ret_count"}
    d = Collector(make_vec_env("CartPole-v1", 2, seed=1), ObsNormalizer(), RewardScaler())
    d.load_state_dict(state)
    d.frozen = True
    assert d.frozen
    d.collect(act_zero, None, 10)
    after = d.state_dict()
    for k in state:
        np.testing.assert_array_equal(after[k], state[k], k)


def test_reward_scaler_ignores_phantom_steps():
    # +1 forever, truncated at 2: the returns R = 1, 1 + gamma (then reset) on valid steps only
    s = RewardScaler(gamma=0.5, clip=1e6)
    c = Collector(counting("NextStep", {"truncate_at": 2}), reward_scaler=s)
    r = c.collect(act_zero, None, 9)          # 3 episodes of 2 valid steps + 3 phantom steps
    assert s.moments.count == 6
    assert s.moments.mean == pytest.approx(1.25) and s.moments.var == pytest.approx(0.0625)
    assert np.all(r.rew[~r.valid] == 0.0)
    np.testing.assert_array_equal(r.episode_returns, [2.0, 2.0, 2.0])   # raw, unscaled


def _episode_stats_loop(rew, valid, done, ret0, len0):
    ret, ln, rets, lens = ret0.copy(), len0.copy(), [], []
    for t in range(rew.shape[0]):
        ret += np.where(valid[t], rew[t], 0.0)
        ln += valid[t]
        for i in np.flatnonzero(done[t]):
            rets.append(ret[i])
            lens.append(ln[i])
            ret[i], ln[i] = 0.0, 0
    return np.array(rets), np.array(lens, dtype=np.int64), ret, ln


@settings(max_examples=200)
@given(T=st.integers(1, 9), N=st.integers(1, 4), seed=st.integers(0, 2**31))
def test_vectorised_episode_stats_equal_a_plain_loop(T, N, seed):
    rng = np.random.default_rng(seed)
    rew = rng.integers(-3, 4, (T, N)).astype(np.float64)   # integers: sums are exact
    done, valid = rng.random((T, N)) < 0.3, rng.random((T, N)) < 0.8
    ret0, len0 = rng.integers(0, 5, N).astype(np.float64), rng.integers(0, 5, N)
    got = episode_stats(rew, valid, done, ret0, len0)
    want = _episode_stats_loop(rew, valid, done, ret0, len0)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g.reshape(-1), w.reshape(-1))


def test_float32_rollouts():
    c = Collector(make_vec_env("CartPole-v1", 2, seed=0), dtype=np.float32)
    r = c.collect(act_zero, lambda o: o[:, 0], 5)
    assert r.obs.dtype == r.rew.dtype == r.value.dtype == r.logp.dtype == np.float32


def test_flat_aligns_extra_arrays_and_checks_them():
    c = Collector(counting("NextStep", {"truncate_at": 2}, {"truncate_at": 2}))
    r = c.collect(act_zero, value_count, 6)
    adv = np.arange(12.0).reshape(6, 2)
    flat = r.flat(adv=adv)
    np.testing.assert_array_equal(flat["adv"], adv[r.valid])
    assert flat["obs"].shape[0] == flat["act"].shape[0] == r.n_valid == 8
    with pytest.raises(ValueError, match="adv"):
        r.flat(adv=np.zeros((5, 2)))


class _TextObsEnv(CountingEnv):                 # Dict observations are supported; Text is not
    def __init__(self):
        super().__init__()
        self.observation_space = spaces.Text(3)


def test_bad_input():
    envs = counting("NextStep", {"truncate_at": 3})
    with pytest.raises(TypeError, match="VectorEnv"):
        Collector(gym.make("CartPole-v1"))
    with pytest.raises(TypeError, match="Text"):
        Collector(SyncVectorEnv([_TextObsEnv]))
    with pytest.raises(TypeError, match="obs_normalizer"):
        Collector(envs, obs_normalizer="yes")
    with pytest.raises(TypeError, match="dtype"):
        Collector(envs, dtype=np.int32)
    c = Collector(envs)
    with pytest.raises(ValueError, match="n_steps"):
        c.collect(act_zero, None, 0)
    with pytest.raises(TypeError, match="act_fn"):
        c.collect(None, None, 3)
    with pytest.raises(ValueError, match="logp"):
        c.collect(lambda o: (np.zeros(1, np.int64),) * 2 + (0.0,), None, 3)
    with pytest.raises(ValueError, match="value_fn"):
        c.collect(act_zero, lambda o: np.zeros(2), 3)
    with pytest.raises(ValueError, match="NaN"):
        c.collect(lambda o: (np.zeros(1, np.int64),) * 2 + (np.full(1, np.nan),), None, 3)
    with pytest.raises(ValueError, match="NaN"):
        c.collect(act_zero, lambda o: np.full(1, np.inf), 3)
    good = np.array([1])     # the env gets a legal action, the stored one is out of range
    with pytest.raises(ValueError, match=r"\[0, 2\)"):
        Collector(counting("NextStep", {"n_actions": 2})).collect(
            lambda o: (good, np.array([5]), np.zeros(1)), None, 2)


@pytest.mark.parametrize("mode", MODES)
def test_async_matches_sync_in_every_autoreset_mode(mode):
    rollouts = []
    for vec in ("sync", "async"):
        envs = make_vec_env(CountingEnv, 2, mode=vec, seed=0, autoreset_mode=mode, truncate_at=3)
        rollouts.append(Collector(envs).collect(act_zero, value_count, 7))
        envs.close()
    a, b = rollouts
    for k in ("obs", "rew", "terminated", "truncated", "value", "next_value", "valid"):
        np.testing.assert_array_equal(getattr(a, k), getattr(b, k), k)
    assert np.all(a.next_value[a.truncated] == 103.0)
