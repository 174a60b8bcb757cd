"""Running moments (Chan et al.), observation normalisation and reward scaling."""

import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from npg.envs import ObsNormalizer, RewardScaler, RunningMeanVar


@settings(max_examples=200)
@given(sizes=st.lists(st.integers(0, 7), min_size=1, max_size=6), seed=st.integers(0, 2**31),
       scale=st.sampled_from([1e-3, 1.0, 1e4]))
def test_running_moments_equal_numpy_over_all_data(sizes, seed, scale):
    rng = np.random.default_rng(seed)
    batches = [scale * rng.standard_normal((n, 3)) + 5.0 for n in sizes]
    m = RunningMeanVar((3,))
    for b in batches:
        m.update(b)
    data = np.concatenate(batches)
    assert m.count == data.shape[0]
    if data.shape[0]:
        np.testing.assert_allclose(m.mean, data.mean(axis=0), rtol=1e-12, atol=1e-12 * scale)
        np.testing.assert_allclose(m.var, data.var(axis=0), rtol=1e-9, atol=1e-12 * scale**2)
    else:   # no data yet: the identity normalisation
        np.testing.assert_array_equal(m.mean, 0.0)
        np.testing.assert_array_equal(m.var, 1.0)


def test_running_moments_hand_values():
    # batches [1, 3] and [5]: mean 3, population var ((1-3)^2 + 0 + (5-3)^2) / 3 = 8/3.
    # Chan: n_a = 2, m_a = 2, v_a = 1; n_b = 1, m_b = 5, v_b = 0; delta = 3, n = 3;
    # m = 2 + 3 * 1/3 = 3; v = (1*2 + 0 + 9 * 2/3) / 3 = 8/3.
    m = RunningMeanVar(())
    m.update(np.array([1.0, 3.0]))
    m.update(np.array([5.0]))
    assert m.mean == pytest.approx(3.0) and m.var == pytest.approx(8 / 3)


def test_obs_normalizer_formula_clip_and_freeze():
    norm = ObsNormalizer(clip=2.0, eps=1e-8)
    x = np.array([[0.0, 1.0], [2.0, 1.0], [4.0, 1.0]])
    norm.observe(x)
    y = norm.normalize(np.array([[2.0 + np.sqrt(8 / 3), 1.0], [100.0, 1e30]]))
    # column 0: mean 2, var 8/3 -> 1 (up to eps) and clipped 2; column 1: var 0 -> finite clip
    np.testing.assert_allclose(y, [[1.0, 0.0], [2.0, 2.0]], rtol=1e-7)
    norm.frozen = True
    norm.observe(np.full((4, 2), 50.0))
    assert norm.moments.count == 3


def test_obs_normalizer_output_dtype_and_dim_check():
    norm = ObsNormalizer()
    norm.observe(np.ones((2, 3)))
    out = np.empty((2, 3), np.float32)
    assert norm.normalize(np.ones((2, 3)), out=out).dtype == np.float32
    with pytest.raises(ValueError, match="3 features"):
        norm.observe(np.ones((2, 4)))


def _roundtrip(state):
    buf = io.BytesIO()
    np.savez(buf, **state)
    buf.seek(0)
    return dict(np.load(buf))


def test_obs_normalizer_state_saves_and_loads():
    rng = np.random.default_rng(0)
    a = ObsNormalizer(clip=5.0)
    a.observe(rng.standard_normal((20, 4)) * 3 + 1)
    b = ObsNormalizer(clip=5.0)
    b.load_state_dict(_roundtrip(a.state_dict()))
    x = rng.standard_normal((6, 4))
    np.testing.assert_array_equal(a.normalize(x), b.normalize(x))
    a.observe(x)
    b.observe(x)
    np.testing.assert_array_equal(a.state_dict()["obs_var"], b.state_dict()["obs_var"])
    with pytest.raises(ValueError, match="finite"):
        b.load_state_dict({"obs_mean": np.array([np.nan]), "obs_var": np.ones(1),
                           "obs_count": 1.0})


def test_reward_scaler_matches_a_hand_computed_return_variance():
    # One env, gamma 0.5, rewards 1, 1, 1, episode ends at the 2nd step:
    # R = 1, then 0.5*1 + 1 = 1.5 (end -> 0), then 1. Var over the returns seen so far.
    s = RewardScaler(gamma=0.5, clip=1e6, eps=1e-8)   # no clipping here
    seen, dones = [], [False, True, False]
    R = 0.0
    for d in dones:
        R = 0.5 * R + 1.0
        seen.append(R)
        out = s.scale(np.array([1.0]), np.array([d]), np.array([True]))
        np.testing.assert_allclose(out, [1.0 / np.sqrt(np.var(seen) + 1e-8)])
        R = 0.0 if d else R
    assert seen == [1.0, 1.5, 1.0]


def test_reward_scaler_skips_invalid_steps_and_keeps_sign():
    s = RewardScaler(gamma=0.9)
    s.scale(np.array([1.0, -2.0]), np.array([False, False]), np.array([True, False]))
    assert s.moments.count == 1 and s.ret[1] == 0.0
    out = s.scale(np.array([3.0, -2.0]), np.array([False, False]), np.array([True, True]))
    assert out[0] > 0 > out[1] and np.all(np.isfinite(out))


def test_reward_scaler_state_roundtrip_and_freeze():
    s = RewardScaler(gamma=0.99)
    for r in [1.0, 2.0, 3.0]:
        s.scale(np.array([r]), np.array([False]), np.array([True]))
    t = RewardScaler(gamma=0.99)
    t.load_state_dict(_roundtrip(s.state_dict()))
    t.frozen = s.frozen = True
    a = s.scale(np.array([1.0]), np.array([False]), np.array([True]))
    b = t.scale(np.array([1.0]), np.array([False]), np.array([True]))
    np.testing.assert_array_equal(a, b)
    assert t.moments.count == 3


def test_hyperparameter_validation():
    with pytest.raises(ValueError, match="clip"):
        ObsNormalizer(clip=0.0)
    with pytest.raises(ValueError, match="eps"):
        ObsNormalizer(eps=-1.0)
    with pytest.raises(ValueError, match="gamma"):
        RewardScaler(gamma=1.5)
    with pytest.raises(TypeError, match="gamma"):
        RewardScaler(gamma="high")
