"""QACConfig's q_input / critic_hidden: the source texts' Q critic over [obs, onehot(a)]."""

from __future__ import annotations

import numpy as np
import pytest

from algo_cases import TwoStepEnv, params_vector, spec_of, train
from npg.algos import QACConfig, QActorCritic
from npg.app.agent import Agent
from npg.engine.online import applies
from npg.values import MLPQ, LinearQ
from npg.values_sa import MLPStateActionQ


@pytest.mark.parametrize("field,value,err", [
    ("q_input", "both", ValueError), ("q_input", 1, TypeError),
    ("critic_hidden", (20, 0), ValueError), ("critic_hidden", "20", TypeError),
    ("critic_hidden", (2.5,), TypeError), ("critic_hidden", True, TypeError)])
def test_bad_q_input_or_critic_hidden_raises_typed_error(field, value, err):
    with pytest.raises(err, match=field):
        QACConfig(**{field: value})


def test_defaults_and_int_critic_hidden():
    c = QACConfig()
    assert c.q_input == "state" and c.critic_hidden == (20, 10)
    assert QACConfig(critic_hidden=7).critic_hidden == (7,)
    assert QACConfig(critic_hidden=[5, 3]).critic_hidden == (5, 3)


def test_pair_builds_the_state_action_critic_and_state_keeps_mlpq():
    spec = spec_of(TwoStepEnv)
    pair = QActorCritic(dict(q_input="pair", hidden=(4,)), spec)
    assert isinstance(pair.critic, MLPStateActionQ)
    assert pair.critic.sizes == (spec.obs_dim + spec.n_actions, 20, 10, 1)
    assert pair.critic.activation == "tanh"
    assert isinstance(QActorCritic(dict(hidden=(4,)), spec).critic, MLPQ)
    assert isinstance(QActorCritic(dict(policy="linear"), spec).critic, LinearQ)
    lin = QActorCritic(dict(policy="linear", q_input="pair", critic_hidden=(6,),
                            activation="relu"), spec)
    assert isinstance(lin.critic, MLPStateActionQ)
    assert lin.critic.sizes == (spec.obs_dim + spec.n_actions, 6, 1)
    assert lin.critic.activation == "relu"
    state = lin.init(0)
    assert {k: v.shape for k, v in state["critic"].items()} == {
        "W1": (spec.obs_dim + spec.n_actions, 6), "b1": (6,), "W2": (6, 1), "b2": (1,)}


def test_pair_critic_trains_and_its_value_is_expected_q():
    spec = spec_of(TwoStepEnv)
    algo = QActorCritic(dict(q_input="pair", hidden=(4,), n_envs=2, n_steps=3), spec)
    before = params_vector(algo.init(np.random.default_rng(0)))
    state, stats, _ = train(algo, TwoStepEnv, 5)
    after = params_vector(state)
    assert np.isfinite(after).all() and np.isfinite(stats["loss"])
    assert state["step"] == 5 and not np.array_equal(before, after)
    obs = np.random.default_rng(1).standard_normal((3, spec.obs_dim))
    q, _ = algo.critic.forward(state["critic"], obs)
    pi = algo.policy.probs(state["policy"], obs)
    np.testing.assert_allclose(algo.value(state, obs), (pi * q).sum(1), rtol=1e-12)


def test_pair_agent_runs_online_engine_and_checkpoint_round_trips(tmp_path):
    cfg = {"q_input": "pair", "critic_hidden": (8, 4), "hidden": (8,)}
    agent = Agent("FrozenLake-v1", "qac", cfg, seed=3)
    assert applies(agent.algo, agent.collector) is None
    agent.learn(40, progress=False)
    agent.save(tmp_path)
    loaded = Agent.load(tmp_path)
    assert loaded.algo.config.q_input == "pair"
    assert loaded.algo.config.critic_hidden == (8, 4)
    assert isinstance(loaded.algo.critic, MLPStateActionQ)
    np.testing.assert_array_equal(params_vector(agent.state), params_vector(loaded.state))
    agent.learn(20, progress=False)
    loaded.learn(20, progress=False)
    np.testing.assert_array_equal(params_vector(agent.state), params_vector(loaded.state))
