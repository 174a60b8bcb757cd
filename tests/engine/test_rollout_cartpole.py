"""The fused CartPole rollout (acting and environment in one compiled call) against the per-step
collector loop: the same rollouts, episodes, environment state and generator states bit for
bit, in both dtypes, both integrators and both rewards, over many autoresets; it runs only where
it may; a non-finite observation is named."""

from __future__ import annotations

import numpy as np
import pytest

import npg.engine.rollout_cartpole as fused
from npg.app.agent import Agent
from npg.envs.cartpole_vector import CartPoleVectorEnv

CFG = {"n_envs": 8, "n_steps": 32, "batch_size": 256, "n_epochs": 2}
FIELDS = ("obs", "act", "logp", "rew", "terminated", "truncated", "value", "next_value",
          "valid", "last_obs", "episode_returns", "episode_lengths")


def _rollouts(dtype, one_call, n=12, integrator="euler", sutton_barto=False, **kw):
    ag = Agent("CartPole-v1", "ppo", {**CFG, "dtype": dtype}, seed=4,
               env_kwargs={"sutton_barto_reward": sutton_barto} if sutton_barto else None, **kw)
    ag.envs.kinematics_integrator = integrator
    calls = []
    run = fused.run

    def counted(*a):
        calls.append(1)
        return run(*a)
    vf = ag._value_fn()
    af = ag._rollout_act_fn(vf)
    if not one_call:
        del af.rollout_plan
    out = []
    fused.run = counted
    try:
        for _ in range(n):
            out.append(ag.collector.collect(af, vf, 32))
            ag.state["policy"]["W1"] *= 1.01             # a changing policy, as in training
    finally:
        fused.run = run
    return ag, out, len(calls)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("integrator,sutton_barto", [("euler", False),
                                                     ("semi-implicit euler", True)])
def test_equals_the_per_step_loop_bit_for_bit(dtype, integrator, sutton_barto):
    a, ra, calls_a = _rollouts(dtype, False, integrator=integrator, sutton_barto=sutton_barto)
    b, rb, calls_b = _rollouts(dtype, True, integrator=integrator, sutton_barto=sutton_barto)
    assert calls_a == 0 and calls_b == len(rb)
    ends = 0
    for x, y in zip(ra, rb):
        for f in FIELDS:
            u, v = getattr(x, f), getattr(y, f)
            assert type(u) is type(v), f
            if isinstance(u, np.ndarray):
                assert u.dtype == v.dtype and u.shape == v.shape, f
                assert np.array_equal(u, v) and np.array_equal(np.signbit(u), np.signbit(v)), f
            else:
                assert u == v, f
        ends += int(x.terminated.sum() + x.truncated.sum())
    assert ends > 20                                       # autoresets were exercised
    assert a.envs.np_random.bit_generator.state == b.envs.np_random.bit_generator.state
    assert a.rngs["act"].bit_generator.state == b.rngs["act"].bit_generator.state
    for k in ("state", "steps", "prev_done"):
        np.testing.assert_array_equal(getattr(b.envs, k), getattr(a.envs, k))
    ca, cb = a.collector.carry_state(), b.collector.carry_state()
    for k in ca:
        np.testing.assert_array_equal(cb[k], ca[k])
    assert a.collector.total_env_steps == b.collector.total_env_steps


def test_training_is_bitwise_the_same():
    runs = []
    for one_call in (False, True):
        orig = fused.supports
        if not one_call:
            fused.supports = lambda *a, **k: False
        try:
            runs.append(Agent("CartPole-v1", "ppo", CFG, seed=1).learn(2048, progress=False))
        finally:
            fused.supports = orig
    a, b = runs
    for k in a.state["policy"]:
        np.testing.assert_array_equal(b.state["policy"][k], a.state["policy"][k])
    assert a.episode_returns == b.episode_returns


def test_runs_only_where_it_may():
    assert fused.trig_agrees()
    _, _, calls = _rollouts("float64", True, n=2, normalize_obs=True)
    assert calls == 0                                       # a normaliser: the loop
    _, _, calls = _rollouts("float64", True, n=2, vectorization="sync")
    assert calls == 0                                       # gymnasium's sync env: the loop
    env = CartPoleVectorEnv(2)
    assert not fused.supports(env, 2)                       # not reset: no state yet
    env.reset(seed=0)
    assert fused.supports(env, 2) and not fused.supports(env, 3)
    env.kinematics_integrator = "rk4"
    assert not fused.supports(env, 2)


def test_a_non_finite_observation_is_named():
    ag = Agent("CartPole-v1", "ppo", CFG, seed=0)
    vf = ag._value_fn()
    af = ag._rollout_act_fn(vf)
    ag.collector.collect(af, vf, 4)
    ag.envs.state[1, 0] = np.nan                            # x' NaN -> x NaN at the next step
    with pytest.raises(ValueError, match="obs must be finite"):
        ag.collector.collect(af, vf, 4)
