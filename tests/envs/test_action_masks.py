"""Action masks from the environment (``info["action_mask"]``) through rollout, acting and
every updater (issue 16, item 5)."""

import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces
from gymnasium.vector import AutoresetMode
from hypothesis import given, settings
from hypothesis import strategies as st

from npg import Agent
from npg.algos import PPO, ActorCritic, QActorCritic, Reinforce, state_to_flat
from npg.distributions.categorical import terms as categorical_terms
from npg.distributions import categorical
from npg.envs import make_vec_env, space_info
from npg.envs.masked import MaskedLine
from npg.envs.rollout import Collector

MASKED_ID = "npg-tests/MaskedLine-v0"
L, A = 6, 4              # MaskedLine's default length and its four actions


def masked_envs(n=3, mode=AutoresetMode.NEXT_STEP, **kw):
    return make_vec_env(lambda: MaskedLine(**kw), n, seed=0, autoreset_mode=mode)


def legal_of_obs(obs):
    """The masks of encoded observations [..., L] (one-hot positions)."""
    env = MaskedLine()
    s = np.argmax(obs, axis=-1)
    return np.stack([env.legal(int(x)) for x in s.reshape(-1)]).reshape(s.shape + (A,))


def uniform_act(rng):
    def act(obs, mask=None):
        z = np.zeros((obs.shape[0], A))
        if mask is not None:
            z = categorical.mask_logits(z, mask)
        a = categorical.sample(z, rng)
        return a, a, categorical.log_prob(z, a)
    return act


# ------------------------------------------------------------------------------ rollout

@pytest.mark.parametrize("mode", [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP,
                                  AutoresetMode.DISABLED])
def test_rollout_mask_aligns_with_obs(mode):
    c = Collector(masked_envs(3, mode))
    rng = np.random.default_rng(0)
    for _ in range(2):                                   # the second continues the episodes
        r = c.collect(uniform_act(rng), None, 30)
        assert r.mask.shape == (30, 3, A) and r.mask.dtype == bool
        want = legal_of_obs(r.obs)
        assert np.array_equal(r.mask[r.valid], want[r.valid])
        assert r.mask[~r.valid].all()                    # phantom steps: any action
        assert np.array_equal(r.last_mask, legal_of_obs(r.last_obs))
        taken = np.take_along_axis(r.mask, r.act[..., None], axis=2)[..., 0]
        assert taken.all()
        assert r.flat()["mask"].shape == (r.n_valid, A)
    assert r.episode_returns.size > 0


def test_unmasked_env_gives_no_mask():
    from npg.envs import CountingEnv
    c = Collector(make_vec_env(lambda: CountingEnv(), 2, seed=0))
    r = c.collect(lambda o: (np.zeros(2, np.int64),) * 2 + (np.zeros(2),), None, 4)
    assert r.mask is None and r.last_mask is None and "mask" not in r.flat()


def test_no_legal_action_names_env_and_step():
    envs = make_vec_env(lambda: MaskedLine(), 2, seed=0)
    c = Collector(envs)
    c.reset()
    c._mask[1] = False                                   # as if env 1 reported no legal action
    with pytest.raises(ValueError, match=r"environment 1 allows no action at rollout step 0"):
        c.collect(uniform_act(np.random.default_rng(0)), None, 5)
    c2 = Collector(make_vec_env(lambda: MaskedLine(dead_at=3), 1, seed=0))
    # the agent steps right (1) until it reaches 3, whose mask is all False
    with pytest.raises(ValueError, match=r"environment 0 allows no action at rollout step \d"):
        c2.collect(lambda o, m: (np.ones(1, np.int64),) * 2 + (np.zeros(1),), None, 10)


def test_illegal_action_from_act_fn_is_caught():
    c = Collector(masked_envs(1))
    c.reset()
    c.envs.reset(seed=0)
    with pytest.raises(ValueError):
        # at s = 0 "left" is illegal: the environment itself raises, or npg does after
        c.collect(lambda o, m: (np.zeros(1, np.int64),) * 2 + (np.zeros(1),), None, 3)


def test_carry_state_keeps_the_mask():
    c = Collector(masked_envs(2))
    c.collect(uniform_act(np.random.default_rng(1)), None, 7)
    carry = c.carry_state()
    assert carry["mask"].shape == (2, A)
    c2 = Collector(masked_envs(2))
    c2.set_carry_state(carry)
    assert np.array_equal(c2._mask, c._mask)
    bad = dict(carry, mask=carry["mask"].astype(np.int8))
    with pytest.raises(ValueError, match="'mask'"):
        c2.set_carry_state(bad)


def test_bad_info_mask_shape():
    class Wrong(MaskedLine):
        def _out(self):
            o, info = super()._out()
            return o, {"action_mask": info["action_mask"][:2]}
    with pytest.raises(ValueError, match="action_mask"):
        Collector(make_vec_env(lambda: Wrong(), 2, seed=0)).reset()


# ------------------------------------------------------------------------------ gradients

@settings(deadline=None, max_examples=30)
@given(seed=st.integers(0, 10_000), ent=st.floats(0.0, 1.0))
def test_masked_logits_get_exactly_zero_gradient_fd(seed, ent):
    """L(z) = -(1/B) sum_b w_b log pi'(a_b) - ent (1/B) sum_b H(pi'_b), pi' = softmax of the
    masked logits: the analytic gradient is 0 on masked logits, matches central differences
    elsewhere, and the loss does not move when a masked logit does."""
    rng = np.random.default_rng(seed)
    B = 5
    z = rng.normal(size=(B, A))
    mask = rng.random((B, A)) < 0.6
    mask[np.arange(B), rng.integers(0, A, B)] = True
    act = np.array([rng.choice(np.flatnonzero(m)) for m in mask])
    w = rng.normal(size=B)

    def loss(z):
        logp, h, _ = categorical_terms(z, act, mask=mask)
        return -(w * logp).mean() - ent * h.mean()
    _, _, d_dist = categorical_terms(z, act, mask=mask)
    g = d_dist(-w / B, np.full(B, -ent / B))
    assert np.all(g[~mask] == 0.0)
    eps = 1e-5
    for b in range(B):
        for j in range(A):
            e = np.zeros_like(z)
            e[b, j] = eps
            num = (loss(z + e) - loss(z - e)) / (2 * eps)
            assert abs(num - g[b, j]) <= 1e-7 + 1e-6 * abs(g[b, j])
            if not mask[b, j]:
                assert loss(z + 1.0 * e / eps) == loss(z)


def test_masked_action_probability_is_exactly_zero():
    z = np.array([[3.0, 1.0, -2.0, 50.0]])
    mask = np.array([[True, True, True, False]])
    logp, _, _ = categorical_terms(z, np.array([0]), mask=mask)
    p = np.exp(categorical.log_softmax(categorical.mask_logits(z, mask)))
    assert p[0, 3] == 0.0 and abs(p.sum() - 1.0) < 1e-15
    assert np.isfinite(logp).all()


def _masked_rollout(algo, state, n_steps, seed=0, **kw):
    c = Collector(masked_envs(algo.config.n_envs, **kw))
    rng = np.random.default_rng(seed)
    value_fn = (lambda o: algo.value(state, o)) if algo.critic is not None or \
        isinstance(algo, PPO) else None
    return c.collect(lambda o, m: algo.act(state, o, rng, mask=m), value_fn, n_steps)


def _reference(algo):
    algo.fast_path = False
    return algo


def test_ppo_masked_update_takes_the_reference_loop():
    """A masked rollout goes through the reference inner loop even with fast_path on (the
    compiled loop has no mask): both settings give bitwise the same update."""
    spec = space_info(masked_envs(1))
    cfg = {"n_envs": 2, "n_steps": 16, "batch_size": 8, "n_epochs": 2, "ent_coef": 0.01}
    fast, ref = PPO(cfg, spec), _reference(PPO(cfg, spec))
    state = fast.init(0)
    r = _masked_rollout(fast, state, 16)
    s1, st1 = fast.update(state, r, 0.0, np.random.default_rng(5))
    s2, st2 = ref.update(state, r, 0.0, np.random.default_rng(5))
    for k in s1["policy"]:
        assert np.array_equal(s1["policy"][k], s2["policy"][k])
    assert st1 == st2


@pytest.mark.parametrize("make", [
    lambda s: PPO({"n_envs": 2, "n_steps": 16, "batch_size": 16, "n_epochs": 1}, s),
    lambda s: _reference(PPO({"n_envs": 2, "n_steps": 16, "batch_size": 16, "n_epochs": 1},
                             s)),
    lambda s: ActorCritic({"n_envs": 2, "n_steps": 16}, s),
    lambda s: QActorCritic({"n_envs": 2, "n_steps": 16}, s),
], ids=["ppo", "ppo-reference", "ac", "qac"])
def test_updater_gradient_is_zero_on_masked_logits(make):
    """Every updater's actor gradient, pulled back to the logits of its own batch, is exactly
    zero on the masked entries: the rows of the last layer see only legal actions' scores."""
    spec = space_info(masked_envs(1))
    algo = make(spec)
    state = algo.init(0)
    r = _masked_rollout(algo, state, 16, jump=False)     # "jump" (3) is never legal
    legal = r.mask[r.valid]                               # phantom steps allow any action
    assert not legal[:, 3].any() and legal[:, :3].any()
    state2, stats = algo.update(state, r, 0.0, np.random.default_rng(0))
    assert np.isfinite(stats.get("policy_loss", 0.0))
    # the output layer's bias and weights of a logit masked in every state get gradient 0,
    # so not even Adam moves them; the legal actions' do move
    keys = sorted(k for k in state["policy"] if k.startswith("b"))
    b, W = keys[-1], "W" + keys[-1][1:]
    assert state2["policy"][b][3] == state["policy"][b][3]
    assert np.array_equal(state2["policy"][W][:, 3], state["policy"][W][:, 3])
    assert np.any(state2["policy"][b][:3] != state["policy"][b][:3])


def test_ppo_masked_loss_gradient_zero_on_masked_logits():
    """PPO.loss_and_grad with a mask: d L / d logits (through categorical.terms) is 0 on masked
    entries; checked through the output bias when one action is masked everywhere."""
    spec = space_info(masked_envs(1))
    algo = PPO({"n_envs": 1, "n_steps": 8, "batch_size": 8, "ent_coef": 0.1}, spec)
    state = algo.init(3)
    rng = np.random.default_rng(0)
    B = 8
    obs = np.eye(L)[rng.integers(0, L, B)]
    mask = np.ones((B, A), bool)
    mask[:, 3] = False
    act = rng.integers(0, 3, B)
    mb = {"obs": obs, "act": act, "logp_old": np.full(B, -1.0), "adv": rng.normal(size=B),
          "ret": rng.normal(size=B), "v_old": np.zeros(B), "mask": mask,
          "onehot": categorical.one_hot(act, A, np.float64)}
    params = {"policy": state["policy"], "critic": state["critic"]}
    _, grads, _ = algo.loss_and_grad(params, mb, 0.2)
    last_b = sorted(k for k in grads["policy"] if k.startswith("b"))[-1]
    last_w = "W" + last_b[1:]
    assert grads["policy"][last_b][3] == 0.0
    assert np.all(grads["policy"][last_w][:, 3] == 0.0)
    assert np.any(grads["policy"][last_b][:3] != 0.0)


# ------------------------------------------------------------------------------ agents

@pytest.mark.parametrize("algo,cfg", [
    ("ppo", {"n_envs": 4, "n_steps": 32, "batch_size": 64, "n_epochs": 4, "lr": 3e-3}),
    ("reinforce", {"n_envs": 4, "n_steps": 32, "lr": 1e-2}),
])
def test_agents_train_on_masked_task_and_predict_legal_actions(algo, cfg):
    """Training never sends a masked action to the environment (it would raise), and the
    trained agent's predict with the environment's mask picks only legal actions."""
    agent = Agent(lambda: MaskedLine(), algo=algo, config=cfg, seed=0)
    agent.learn(4 * 32 * 8, progress=False)
    assert len(agent.episode_returns) > 0
    env = MaskedLine()
    for s in range(L - 1):
        env.s = s
        o, info = env._out()
        for det in (True, False):
            for _ in range(5):
                a = agent.predict(o, deterministic=det, action_mask=info["action_mask"])
                assert info["action_mask"][int(a)]
    obs = np.eye(L)[:L - 1]
    masks = legal_of_obs(obs)
    a = agent.predict(obs, deterministic=False, action_mask=masks)
    assert masks[np.arange(L - 1), a].all()


def test_predict_rejects_bad_masks():
    agent = Agent(lambda: MaskedLine(), algo="ppo", config={"n_envs": 1, "n_steps": 8,
                                                            "batch_size": 8}, seed=0)
    o = np.eye(L)[0]
    with pytest.raises(ValueError, match="allows no action"):
        agent.predict(o, action_mask=np.zeros(A, bool))
    with pytest.raises(TypeError, match="boolean"):
        agent.predict(o, action_mask=np.ones(A))
    with pytest.raises(ValueError, match="shape"):
        agent.predict(o, action_mask=np.ones(A + 1, bool))


def test_reinforce_masked_batch_carries_the_mask():
    spec = space_info(masked_envs(1))
    algo = Reinforce({"n_envs": 2, "n_steps": 16}, spec)
    state = algo.init(0)
    r = _masked_rollout(algo, state, 16)
    state2, stats = algo.update(state, r, 0.0, 0)
    assert state2["pending"]["mask"].shape[1:] == (2, A)
    assert stats["n_samples"] > 0 and np.isfinite(stats["loss"])


# ------------------------------------------------------------------------------ Dict key

class DictMaskedLine(MaskedLine):
    """MaskedLine with the mask inside a Dict observation instead of info."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.observation_space = spaces.Dict({"pos": spaces.Box(0.0, 1.0, (L,), np.float64),
                                              "action_mask": spaces.MultiBinary(A)})

    def _out(self):
        o, info = super()._out()
        return {"pos": o, "action_mask": info["action_mask"].astype(np.int8)}, {}


@pytest.mark.parametrize("mode", [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP,
                                  AutoresetMode.DISABLED])
def test_dict_obs_mask_key_is_the_mask_not_an_observation(mode):
    envs = make_vec_env(lambda: DictMaskedLine(), 3, seed=0, autoreset_mode=mode)
    assert space_info(envs).obs_dim == L                 # the mask is not encoded
    c = Collector(envs)
    r = c.collect(uniform_act(np.random.default_rng(2)), None, 25)
    assert r.obs.shape == (25, 3, L)
    assert np.array_equal(r.mask[r.valid], legal_of_obs(r.obs)[r.valid])
    assert np.take_along_axis(r.mask, r.act[..., None], axis=2).all()


def test_dict_obs_mask_key_predict_uses_it():
    agent = Agent(lambda: DictMaskedLine(), algo="ppo",
                  config={"n_envs": 2, "n_steps": 16, "batch_size": 32, "n_epochs": 1}, seed=0)
    agent.learn(64, progress=False)
    env = DictMaskedLine()
    for s in range(L - 1):
        env.s = s
        o, _ = env._out()
        for _ in range(5):
            assert o["action_mask"][int(agent.predict(o, deterministic=False))]


def test_dict_obs_only_a_mask_is_rejected():
    from npg.envs.spaces import policy_obs_space
    with pytest.raises(ValueError, match="only an action mask"):
        policy_obs_space(spaces.Dict({"action_mask": spaces.MultiBinary(3)}))


@pytest.mark.parametrize("algo,cfg", [
    ("ppo", {"n_envs": 2, "n_steps": 16, "batch_size": 32, "n_epochs": 2}),
    ("reinforce", {"n_envs": 2, "n_steps": 16}),
])
def test_masked_run_resumes_bitwise(tmp_path, algo, cfg):
    """Saved halfway and loaded (the collector's carried mask and REINFORCE's pending masks
    restored), the run equals the one that never stopped."""
    if MASKED_ID not in gym.registry:
        gym.register(MASKED_ID, entry_point="npg.envs.masked:MaskedLine")

    def make():
        return Agent(MASKED_ID, algo=algo, config=cfg, seed=3)
    whole = make().learn(4 * 32, progress=False)
    half = make().learn(2 * 32, progress=False, schedule_steps=4 * 32)
    assert half.collector.carry_state()["mask"].shape == (2, A)
    path = half.save(tmp_path / "ckpt")
    with warnings.catch_warnings():
        warnings.simplefilter("error")                   # an inexact resume must not pass
        resumed = Agent.load(path).learn(2 * 32, progress=False)
    a, b = state_to_flat(whole.state), state_to_flat(resumed.state)
    assert a.keys() == b.keys()
    for k in a:
        assert np.array_equal(np.asarray(a[k]), np.asarray(b[k])), k
    assert whole.episode_returns == resumed.episode_returns
    assert np.array_equal(whole.collector.carry_state()["mask"],
                          resumed.collector.carry_state()["mask"])


def test_ppo_learns_the_shortest_legal_path():
    """Optimal play on MaskedLine uses the state-dependent "jump": 3 steps from s = 0 and 1, 2
    from s = 2. PPO learns it with the mask in 8192 steps (measured: seeds 0-2 all optimal)."""
    agent = Agent(lambda: MaskedLine(), algo="ppo", seed=0,
                  config={"n_envs": 4, "n_steps": 32, "batch_size": 64, "n_epochs": 4,
                          "lr": 3e-3}).learn(8192, progress=False)
    env = MaskedLine()
    for s0, best in ((0, 3), (1, 3), (2, 2)):
        env.reset(seed=0)
        env.s = s0
        o, info = env._out()
        for n in range(1, 13):
            o, _, term, _, info = env.step(agent.predict(o, action_mask=info["action_mask"]))
            if term:
                break
        assert term and n == best, (s0, n)


def test_mask_on_continuous_actions_is_a_type_error():
    agent = Agent("Pendulum-v1", algo="ppo", config={"n_envs": 1, "n_steps": 8, "batch_size": 8,
                                                     "use_sde": True}, seed=0)
    with pytest.raises(TypeError, match="Discrete"):
        agent.predict(np.zeros(3), action_mask=np.ones(2, bool))
