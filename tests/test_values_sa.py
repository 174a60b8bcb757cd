"""MLPStateActionQ (npg.values_sa): forward over all actions equals the taken-pair value, the
loss gradient against central differences (hypothesis), the text's 20-10-1 FrozenLake shape,
and bad input."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from npg.testing import check_grad
from npg.values_sa import MLPStateActionQ


def test_frozenlake_shape_and_consistency():
    q = MLPStateActionQ(16, 4)                        # one-hot state (16) + action (4) = 20
    params = q.init(0)
    assert params["W1"].shape == (20, 20) and params["W2"].shape == (20, 10)
    assert params["W3"].shape == (10, 1)
    obs = np.eye(16)[[0, 5, 15]]
    Q, _ = q.forward(params, obs)
    for a in range(4):
        np.testing.assert_allclose(Q[:, a], q.value(params, obs, np.full(3, a)), atol=1e-14)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31), B=st.integers(1, 6), D=st.integers(1, 4),
       A=st.integers(1, 4), act=st.sampled_from(["tanh", "relu"]))
def test_gradients_match_central_differences(seed, B, D, A, act):
    rng = np.random.default_rng(seed)
    q = MLPStateActionQ(D, A, hidden=(5, 3), activation=act)
    params = {k: v + 0.1 * rng.normal(size=v.shape) for k, v in q.init(rng).items()}
    obs, a, y = rng.normal(size=(B, D)), rng.integers(0, A, B), rng.normal(size=B)
    _, grads = q.loss_grad(params, obs, a, y)
    check_grad(lambda p: q.loss_grad(p, obs, a, y)[0], grads, params)
    w = rng.normal(size=(B, A))                     # forward's vjp: d <w, Q(s, .)>
    check_grad(lambda p: float(np.sum(w * q.forward(p, obs)[0])), q.forward(params, obs)[1](w),
               params)


def test_bad_input():
    q = MLPStateActionQ(3, 2)
    p = q.init(0)
    with pytest.raises(ValueError, match="obs"):
        q.forward(p, np.zeros((2, 4)))
    with pytest.raises(ValueError):
        q.value(p, np.zeros((2, 3)), np.array([0, 2]))
    with pytest.raises(ValueError, match="obs"):
        q.forward(p, np.full((1, 3), np.nan))
    with pytest.raises(ValueError, match="target"):
        q.loss_grad(p, np.zeros((2, 3)), np.array([0, 1]), np.array([0.0, np.inf]))
    with pytest.raises((TypeError, ValueError)):
        MLPStateActionQ(3, 0)


def test_drop_in_critic_for_q_actor_critic():
    """QActorCritic runs with the pair critic in place of MLPQ (the text's setting, FrozenLake
    4x4: 16 + 4 inputs, 20-10-1) and its critic's parameters move."""
    import gymnasium as gym
    from npg.algos import QActorCritic
    from npg.envs import make_vec_env, space_info
    from npg.params import flatten
    from npg.envs.rollout import Collector

    envs = make_vec_env(lambda: gym.make("FrozenLake-v1"), 1, seed=0)
    algo = QActorCritic({"hidden": (8,)}, space_info(envs))
    algo.critic = MLPStateActionQ(16, 4, hidden=(20, 10))
    rng = np.random.default_rng(0)
    state = algo.init(rng)
    start = flatten(state["critic"])
    col = Collector(envs, seed=0)
    for u in range(30):
        box = [state]
        ro = col.collect(lambda o: algo.act(box[0], o, rng), lambda o: algo.value(box[0], o), 1)
        state, _ = algo.update(state, ro, u / 30, rng)
    assert state["critic"]["W1"].shape == (20, 20)
    assert np.all(np.isfinite(flatten(state["critic"])))
    assert np.max(np.abs(flatten(state["critic"]) - start)) > 0
