"""MultiDiscrete / MultiBinary actions in the updaters: REINFORCE, the actor-critics and PPO's
reference path take [B, K] integer actions through ``ProductLogits`` (gradients against finite
differences of the losses they return), act samples and takes the mode per dimension, and
the configurations that cannot take product actions say so."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from npg.algos import PPO, A2C, ActorCritic, Reinforce
from npg.distributions.product import ProductLogits, md_log_prob
from npg.envs import SpaceInfo, make_vec_env, space_info
from npg.envs.multi_action import Dials
from npg.envs.rollout import Collector
from npg.testing import check_grad

D = 3
SPECS = {"multi_discrete": SpaceInfo(D, "box", None, False, None, 3, None, None, (3, 1, 2)),
         "multi_binary": SpaceInfo(D, "box", None, False, None, 2, None, None, (2, 2), True)}
SMALL = dict(hidden=(4,), n_envs=2, n_steps=4)


def perturbed(algo, rng):
    state = algo.init(rng)
    state["policy"] = {k: v + rng.normal(scale=0.5, size=v.shape)         # off the 0.01 head
                       for k, v in state["policy"].items()}
    return state


def nested_loss(algo, params, f):
    flat = {f"{g}/{k}": v for g in params for k, v in params[g].items()}

    def loss(p):
        return float(f({g: {k: p[f"{g}/{k}"] for k in params[g]} for g in params}))
    return loss, flat


@settings(deadline=None, max_examples=15)
@given(seed=st.integers(0, 2**32 - 1), kind=st.sampled_from(sorted(SPECS)))
def test_ppo_minibatch_gradient_matches_fd_of_its_loss(seed, kind):
    """PPO's loss_and_grad on product actions: clipped surrogate (ratios within 1 +- 0.11 of
    the clip range 0.5: no kinks), value loss and entropy bonus, against central FD."""
    algo = PPO(dict(SMALL, batch_size=6, ent_coef=0.1, vf_coef=0.7, clip_range=0.5),
               SPECS[kind])
    rng = np.random.default_rng(seed)
    state = perturbed(algo, rng)
    obs = rng.normal(size=(6, D))
    _, act, logp = algo.act(state, obs, rng)
    mb = {"obs": obs, "act": act, "logp_old": logp + rng.uniform(-0.1, 0.1, 6),
          "adv": rng.normal(size=6), "ret": rng.normal(size=6), "v_old": rng.normal(size=6)}
    params = {"policy": state["policy"], "critic": state["critic"]}
    _, grads, stats = algo.loss_and_grad(params, mb, 0.5)
    assert stats["clip_fraction"] == 0.0
    loss, flat = nested_loss(algo, params, lambda p: algo.loss_and_grad(p, mb, 0.5)[0])
    check_grad(loss, {f"{g}/{k}": v for g in grads for k, v in grads[g].items()}, flat)


@settings(deadline=None, max_examples=10)
@given(seed=st.integers(0, 2**32 - 1), kind=st.sampled_from(sorted(SPECS)),
       cls=st.sampled_from([Reinforce, ActorCritic]))
def test_reinforce_and_actor_critic_gradients_match_fd(seed, kind, cls):
    cfg = dict(SMALL, baseline="value") if cls is Reinforce else dict(SMALL, ent_coef=0.3)
    algo = cls(cfg, SPECS[kind])
    rng = np.random.default_rng(seed)
    state = perturbed(algo, rng)
    obs = rng.normal(size=(5, D))
    act = algo.act(state, obs, rng)[1]
    w = rng.normal(size=5)
    batch = ({"obs": obs, "act": act, "w": w, "G": rng.normal(size=5)} if cls is Reinforce
             else {"obs": obs, "act": act, "adv": w, "ret": rng.normal(size=5)})
    params = {"policy": state["policy"], "critic": state["critic"]}
    _, grads, _ = algo.loss_and_grad(params, batch)
    loss, flat = nested_loss(algo, params, lambda p: algo.loss_and_grad(p, batch)[0])
    check_grad(loss, {f"{g}/{k}": v for g in grads for k, v in grads[g].items()}, flat)


@pytest.mark.parametrize("kind", sorted(SPECS))
def test_act_samples_per_dimension_and_takes_the_mode(kind):
    spec = SPECS[kind]
    algo = A2C(SMALL, spec)
    rng = np.random.default_rng(0)
    state = perturbed(algo, rng)
    obs = rng.normal(size=(400, D))
    env_a, a, logp = algo.act(state, obs, np.random.default_rng(1))
    assert a.shape == (400, spec.act_dim) and a.dtype == np.int64 and env_a is a
    assert np.all(a >= 0) and np.all(a < np.array(spec.nvec))
    dist = algo.policy.dist_params(state["policy"], obs)
    assert isinstance(dist, ProductLogits) and dist.binary == spec.binary
    np.testing.assert_allclose(logp, algo.policy.log_prob(state["policy"], obs, a), rtol=1e-13)
    _, mode, lp_mode = algo.act(state, obs, None, deterministic=True)
    assert np.all(lp_mode >= logp - 1e-12)                    # the mode is the most probable
    if not spec.binary:
        np.testing.assert_allclose(lp_mode, md_log_prob(dist.z, mode, spec.nvec), rtol=1e-13)
    # sampled frequencies of the first dimension at one state match its softmax / sigmoid
    one = np.repeat(obs[:1], 20_000, axis=0)
    a1 = algo.act(state, one, np.random.default_rng(2))[1][:, 0]
    z = algo.policy.dist_params(state["policy"], obs[:1]).z[0]
    p = (np.array([1 - 1 / (1 + np.exp(-z[0])), 1 / (1 + np.exp(-z[0]))]) if spec.binary
         else np.exp(z[:3] - np.logaddexp.reduce(z[:3])))
    freq = np.bincount(a1, minlength=p.size) / a1.size
    assert np.all(np.abs(freq - p) <= 4.5 * np.sqrt(p * (1 - p) / a1.size) + 1e-12)


def test_ppo_product_update_runs_the_reference_loop_with_or_without_the_fast_path():
    """The compiled inner loop is categorical only: with product actions the update is the
    reference loop whatever ``fast_path`` says (bitwise the same)."""
    envs = make_vec_env(lambda: Dials((3, 4)), 2, seed=0)
    algo = PPO(dict(SMALL, n_steps=16, batch_size=8, n_epochs=2), space_info(envs))
    state = algo.init(0)
    rng = np.random.default_rng(0)
    r = Collector(envs).collect(lambda o: algo.act(state, o, rng),
                                lambda o: algo.value(state, o), 16)
    out = []
    for fast in (True, False):
        algo.fast_path = fast
        out.append(algo.update(state, r, 0.0, np.random.default_rng(5))[0])
    for k in out[0]["policy"]:
        assert np.array_equal(out[0]["policy"][k], out[1]["policy"][k])
        assert not np.array_equal(out[0]["policy"][k], state["policy"][k])


def test_configurations_that_cannot_take_product_actions_say_so():
    spec = SPECS["multi_discrete"]
    with pytest.raises(ValueError, match="use_sde=True needs a Box"):
        PPO(dict(SMALL, use_sde=True), spec)
    with pytest.raises(ValueError, match="shared=True"):
        PPO(dict(SMALL, shared=True), spec)
    with pytest.raises(ValueError, match="policy='mlp'"):
        Reinforce(dict(SMALL, policy="linear"), spec)
    algo = A2C(SMALL, spec)
    state = algo.init(0)
    with pytest.raises(TypeError, match="action mask needs a Discrete"):
        algo.act(state, np.zeros((2, D)), 0, mask=np.ones((2, 6), bool))
    batch = {"obs": np.zeros((2, D)), "act": np.zeros((2, 3), np.int64), "adv": np.ones(2),
             "ret": np.ones(2), "mask": np.ones((2, 6), bool)}
    with pytest.raises(TypeError, match="action mask needs a Discrete"):
        algo.loss_and_grad({"policy": state["policy"], "critic": state["critic"]}, batch)
