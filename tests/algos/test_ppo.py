"""PPO: the minibatch gradient against finite differences of its loss, the ratio-1 identity with
the vanilla policy gradient, learning a bandit and the pay-+1-forever value, determinism,
float32, save/load of the train state, backends, bad configs."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces
from gymnasium.vector import AutoresetMode
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from npg.algos import ALGORITHMS, PPO, PPOConfig, get_algorithm, state_from_flat, state_to_flat
from npg.backend import use_backend
from npg.envs import CountingEnv, make_vec_env, space_info
from npg.envs.rollout import Collector
from npg.testing import check_grad

# ------------------------------------------------------------------ helpers


class Bandit(gym.Env):
    """One state, one-step episodes; arm a pays ``means[a]`` (Discrete) or, with Box actions,
    the reward is -(a - 0.5)^2 summed over K (optimum 0 at a = 0.5)."""

    def __init__(self, means=(0.0, 0.5, 1.0), act_dim=None):
        self.means, self.act_dim = np.asarray(means, float), act_dim
        self.observation_space = spaces.Box(-1.0, 1.0, (1,), np.float32)
        self.action_space = (spaces.Discrete(len(means)) if act_dim is None
                             else spaces.Box(-2.0, 2.0, (act_dim,), np.float32))

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.ones(1, np.float32), {}

    def step(self, a):
        r = (self.means[int(a)] if self.act_dim is None
             else -float(np.sum((np.asarray(a) - 0.5) ** 2)))
        return np.ones(1, np.float32), r, True, False, {}


def vec(fn, n, seed=0):
    return make_vec_env(fn, n, seed=seed, autoreset_mode=AutoresetMode.SAME_STEP)


def train(algo, envs, n_updates, seed=0):
    """A minimal loop: collect, then update with progress = fraction of updates done."""
    rng = np.random.default_rng(seed)
    state = algo.init(rng)
    col = Collector(envs, dtype=algo.dtype)
    stats = []
    for k in range(n_updates):
        ro = col.collect(lambda o: algo.act(state, o, rng), lambda o: algo.value(state, o),
                         algo.config.n_steps)
        state, s = algo.update(state, ro, k / n_updates, rng)
        stats.append(s)
    return state, stats


def spec_of(env):
    return space_info(gym.vector.SyncVectorEnv([lambda: env]))


def minibatch(algo, state, rng, B=6, jitter=0.3):
    """A minibatch with logp_old = current log-prob + noise, random advantages and targets."""
    D = algo.spec.obs_dim
    obs = rng.normal(size=(B, D))
    _, act, logp = algo.act(state, obs, rng)
    return {"obs": obs, "act": act, "logp_old": logp + rng.uniform(-jitter, jitter, B),
            "adv": rng.normal(size=B), "ret": rng.normal(size=B),
            "v_old": algo.value(state, obs) + rng.normal(scale=0.3, size=B)}


def kinks_far(algo, state, mb, margin=1e-3):
    """True when no sample sits within ``margin`` of a kink of the clipped losses."""
    c = algo.config
    logp = algo.policy.log_prob(state["policy"], mb["obs"], mb["act"])
    r = np.exp(logp - mb["logp_old"])
    v = algo.value(state, mb["obs"])
    dv = v - mb["v_old"]
    vc = mb["v_old"] + np.clip(dv, -c.clip_range_vf, c.clip_range_vf)
    return bool(np.all(np.abs(r - 1 - c.clip_range) > margin)
                and np.all(np.abs(r - 1 + c.clip_range) > margin)
                and np.all(np.abs(np.abs(dv) - c.clip_range_vf) > margin)
                and np.all((np.abs(dv) < c.clip_range_vf)
                           | (np.abs((v - mb["ret"]) ** 2 - (vc - mb["ret"]) ** 2) > margin)))


SMALL = dict(hidden=(3,), n_envs=2, n_steps=4, batch_size=4)

# ------------------------------------------------------------------ the gradient


@settings(max_examples=200)
@given(st.integers(0, 2**32 - 1), st.sampled_from(["discrete", "gaussian", "shared"]),
       st.booleans())
def test_minibatch_gradient_matches_fd_of_loss(seed, arch, norm_adv):
    """grad of loss_and_grad = central FD of the loss it returns (clipped surrogate, clipped
    value loss, entropy bonus, advantage normalisation all on), for separate categorical and
    Gaussian actor + critic networks and for the shared trunk."""
    env = Bandit(act_dim=2) if arch == "gaussian" else Bandit()
    algo = PPO(dict(SMALL, ent_coef=0.1, vf_coef=0.7, clip_range_vf=0.2, norm_adv=norm_adv,
                    log_std_init=-0.3, shared=arch == "shared"), spec_of(env))
    rng = np.random.default_rng(seed)
    state = algo.init(rng)
    state["policy"] = {k: v + rng.normal(scale=0.5, size=v.shape) for k, v in
                       state["policy"].items()}              # away from the 0.01-gain head
    mb = minibatch(algo, state, rng)
    assume(kinks_far(algo, state, mb))
    params = {net: state[net] for net in algo.nets}
    _, grads, _ = algo.loss_and_grad(params, mb, 0.2)
    flat = {f"{g}/{k}": v for g in params for k, v in params[g].items()}
    flat_grads = {f"{g}/{k}": v for g in grads for k, v in grads[g].items()}

    def loss(p):
        nested = {g: {k: p[f"{g}/{k}"] for k in params[g]} for g in params}
        return float(algo.loss_and_grad(nested, mb, 0.2)[0])
    check_grad(loss, flat_grads, flat)


@pytest.mark.parametrize("discrete", [True, False])
def test_first_minibatch_ratio_one_is_vanilla_pg(discrete):
    """At logp_old = logp (PPO's first minibatch) the ratio is exactly 1, nothing is clipped,
    approx_kl is 0, and the policy gradient is the vanilla one: score_sum with w = -A_n / B."""
    env = Bandit() if discrete else Bandit(act_dim=2)
    algo = PPO(dict(SMALL, hidden=(5,)), spec_of(env))
    rng = np.random.default_rng(3)
    state = algo.init(rng)
    mb = minibatch(algo, state, rng, B=8, jitter=0.0)
    _, grads, stats = algo.loss_and_grad(state, mb, 0.2)
    assert stats["approx_kl"] == 0.0 and stats["clip_fraction"] == 0.0
    adv = mb["adv"]
    adv_n = (adv - adv.mean()) / (adv.std() + 1e-8)
    vanilla = algo.policy.score_sum(state["policy"], mb["obs"], mb["act"], -adv_n / 8)
    for k in vanilla:
        np.testing.assert_allclose(grads["policy"][k], vanilla[k], rtol=1e-12, atol=1e-15)


def test_first_update_step_ratio_one():
    """Inside ``update`` the first minibatch sees ratio 1: with one minibatch and one epoch,
    approx_kl and clip_fraction are exactly 0."""
    algo = PPO(dict(SMALL, n_epochs=1, batch_size=8), spec_of(Bandit()))
    _, stats = train(algo, vec(Bandit, 2), 1)
    assert stats[0]["approx_kl"] == 0.0 and stats[0]["clip_fraction"] == 0.0
    assert stats[0]["n_updates"] == 1


# ------------------------------------------------------------------ learning


def test_learns_bandit_within_5_percent():
    """Arms paying 0, 0.5, 1: the learned policy's expected reward >= 0.95 (optimum 1)."""
    cfg = dict(hidden=(16,), n_envs=8, n_steps=8, batch_size=32, n_epochs=8, lr=0.01,
               gamma=0.9, anneal_lr=False, anneal_clip=False)
    algo = PPO(cfg, spec_of(Bandit()))
    state, _ = train(algo, vec(Bandit, 8), 25)
    probs = algo.policy.probs(state["policy"], np.ones((1, 1)))[0]
    assert float(probs @ np.array([0.0, 0.5, 1.0])) >= 0.95


def test_shared_trunk_learns_bandit_and_refuses_box_actions():
    cfg = dict(hidden=(16,), n_envs=8, n_steps=8, batch_size=32, n_epochs=8, lr=0.01,
               anneal_lr=False, anneal_clip=False, shared=True)
    algo = PPO(cfg, spec_of(Bandit()))
    state, _ = train(algo, vec(Bandit, 8), 25)
    assert set(state) == {"policy", "opt", "step"}
    probs = algo.policy.probs(state["policy"], np.ones((1, 1)))[0]
    assert float(probs @ np.array([0.0, 0.5, 1.0])) >= 0.95
    assert algo.value(state, np.ones((2, 1))).shape == (2,)
    with pytest.raises(ValueError, match="shared"):
        PPO(cfg, spec_of(Bandit(act_dim=1)))


def test_learns_continuous_bandit():
    """Reward -(a - 0.5)^2: the Gaussian mean moves to within 0.1 of 0.5 (expected reward
    within 5% of the value range -(0 - 0.5)^2 .. 0 reached at the start)."""
    cfg = dict(hidden=(16,), n_envs=8, n_steps=8, batch_size=32, n_epochs=8, lr=0.01,
               anneal_lr=False, anneal_clip=False, ent_coef=0.0)
    algo = PPO(cfg, spec_of(Bandit(act_dim=1)))
    state, _ = train(algo, vec(lambda: Bandit(act_dim=1), 8), 30)
    (mean, log_std) = algo.policy.dist_params(state["policy"], np.ones((1, 1)))
    assert abs(float(mean[0, 0]) - 0.5) < 0.1
    env_a, a, _ = algo.act(state, np.ones((64, 1)), np.random.default_rng(0))
    assert np.all(env_a <= 2.0) and np.all(env_a >= -2.0)
    np.testing.assert_allclose(algo.act(state, np.ones((4, 1)), 0, deterministic=True)[1],
                               np.asarray(mean).repeat(4, axis=0), rtol=1e-12)


def test_truncated_forever_env_value_near_geometric_sum():
    """Pays +1 forever and is only truncated (after 10 steps): truncation bootstraps from
    V(final obs), so the value of the single state tends to 1 / (1 - gamma) = 10, not to the
    truncated return (1 - gamma^(10 - t)) / (1 - gamma) <= 6.5."""
    cfg = dict(hidden=(8,), n_envs=4, n_steps=16, batch_size=64, n_epochs=10, lr=0.02,
               gamma=0.9, gae_lambda=0.8, vf_coef=1.0, anneal_lr=False, anneal_clip=False,
               max_grad_norm=None)
    env = lambda: CountingEnv(truncate_at=10, n_states=1)
    algo = PPO(cfg, spec_of(env()))
    state, stats = train(algo, vec(env, 4), 60)
    v = float(algo.value(state, np.ones((1, 1)))[0])
    assert abs(v - 10.0) < 0.5


# ------------------------------------------------------------------ determinism, dtype, state


def _cartpole_params(seed, dtype="float64"):
    algo = PPO(dict(n_envs=2, n_steps=16, batch_size=16, n_epochs=2, hidden=(8,),
                    dtype=dtype), spec_of(gym.make("CartPole-v1")))
    envs = make_vec_env("CartPole-v1", 2, seed=seed)
    state, stats = train(algo, envs, 3, seed=seed)
    return algo, state, stats


def test_same_seed_bitwise_identical_different_seeds_differ():
    _, s1, _ = _cartpole_params(0)
    _, s2, _ = _cartpole_params(0)
    _, s3, _ = _cartpole_params(1)
    for g in ("policy", "critic"):
        for k in s1[g]:
            assert np.array_equal(s1[g][k], s2[g][k])
    assert any(not np.array_equal(s1["policy"][k], s3["policy"][k]) for k in s1["policy"])


def test_float32_end_to_end():
    algo, state, stats = _cartpole_params(0, "float32")
    for g in ("policy", "critic"):
        assert all(v.dtype == np.float32 for v in state[g].values())
    assert all(v.dtype == np.float32 for k, v in state["opt"]["policy"].items() if k != "step")
    assert all(np.isfinite(v) for s in stats for v in s.values())


def test_stats_and_state_layout():
    algo, state, stats = _cartpole_params(0)
    assert set(stats[-1]) == {"approx_kl", "clip_fraction", "entropy", "explained_variance",
                              "policy_loss", "value_loss", "n_updates", "lr", "clip_range"}
    assert stats[0]["lr"] == 1e-3 and stats[0]["clip_range"] == 0.2
    assert stats[1]["lr"] == pytest.approx(1e-3 * 2 / 3)             # annealed: progress 1/3
    assert stats[-1]["n_updates"] == 2 * 2                             # epochs x minibatches
    assert state["step"] == 3 and state["opt"]["critic"]["step"] == 12
    assert set(state["opt"]["policy"]) == {"step"} | {f"{b}.{k}" for b in "mv"
                                                      for k in state["policy"]}


def test_state_roundtrip_through_savez(tmp_path):
    """state -> state_to_flat -> np.savez -> load -> state_from_flat: the next update is
    bitwise identical."""
    algo, state, _ = _cartpole_params(0)
    np.savez(tmp_path / "s.npz", **state_to_flat(state))
    with np.load(tmp_path / "s.npz") as f:
        loaded = state_from_flat(dict(f))
    envs = make_vec_env("CartPole-v1", 2, seed=5)
    ro = Collector(envs).collect(lambda o: algo.act(state, o, 1), lambda o: algo.value(state, o), 16)
    a, _ = algo.update(state, ro, 0.5, np.random.default_rng(2))
    b, _ = algo.update(loaded, ro, 0.5, np.random.default_rng(2))
    for g in ("policy", "critic"):
        for k in a[g]:
            assert np.array_equal(a[g][k], b[g][k])


def test_target_kl_stops_early():
    algo = PPO(dict(n_envs=2, n_steps=16, batch_size=8, n_epochs=20, hidden=(8,), lr=0.05,
                    target_kl=1e-4, anneal_lr=False), spec_of(gym.make("CartPole-v1")))
    _, stats = train(algo, make_vec_env("CartPole-v1", 2, seed=0), 2)
    assert 1 <= stats[0]["n_updates"] < 20 * 4


def test_loss_and_grad_backends_agree(xp):
    """loss_and_grad on the xp backend equals NumPy's (array-API-only compute)."""
    env = Bandit(act_dim=2)
    algo = PPO(dict(SMALL, ent_coef=0.1, clip_range_vf=0.2), spec_of(env))
    rng = np.random.default_rng(0)
    state = algo.init(rng)
    mb = minibatch(algo, state, rng)
    ref_loss, ref, _ = algo.loss_and_grad(state, mb, 0.2)
    to = lambda t: {k: xp.asarray(v) if isinstance(v, np.ndarray) else to(v) for k, v in t.items()}
    loss, got, _ = algo.loss_and_grad(to({"policy": state["policy"],
                                          "critic": state["critic"]}), to(mb), 0.2)
    assert float(loss) == pytest.approx(float(ref_loss), rel=1e-12)
    for g in ref:
        for k in ref[g]:
            np.testing.assert_allclose(np.asarray(got[g][k]), ref[g][k], rtol=1e-10, atol=1e-14)


def test_update_on_array_api_strict():
    """A whole update with the parameters created on array_api_strict."""
    algo = PPO(dict(n_envs=2, n_steps=8, batch_size=8, n_epochs=2, hidden=(4,)),
               spec_of(gym.make("CartPole-v1")))
    with use_backend("array_api_strict"):
        state = algo.init(0)
    envs = make_vec_env("CartPole-v1", 2, seed=0)
    ro = Collector(envs).collect(lambda o: algo.act(state, o, 0), lambda o: algo.value(state, o), 8)
    new, stats = algo.update(state, ro, 0.0, 0)
    assert type(new["policy"]["W1"]).__module__.startswith("array_api_strict")
    np_state = algo.init(0)
    ref, _ = algo.update(np_state, ro, 0.0, 0)
    np.testing.assert_allclose(np.asarray(new["critic"]["W1"]), ref["critic"]["W1"], rtol=1e-9)


# ------------------------------------------------------------------ config and bad input


def test_defaults_are_tuned_cartpole_and_registered():
    c = PPOConfig()
    assert (c.n_envs, c.n_steps, c.batch_size, c.n_epochs, c.gamma, c.gae_lambda, c.lr,
            c.clip_range, c.ent_coef, c.vf_coef, c.max_grad_norm, c.hidden, c.activation) == (
        8, 32, 256, 20, 0.98, 0.8, 1e-3, 0.2, 0.0, 1.0, 0.5, (64, 64), "tanh")
    assert c.anneal_lr and c.anneal_clip and c.orthogonal and c.dtype == "float64"
    assert get_algorithm("ppo") is PPO and ALGORITHMS["ppo"] is PPO


def test_orthogonal_init_gains():
    algo = PPO(None, spec_of(gym.make("CartPole-v1")))
    s = algo.init(0)
    W1, W3 = s["policy"]["W1"], s["policy"]["W3"]      # [4, 64], [64, 2]
    np.testing.assert_allclose(W1 @ W1.T, 2.0 * np.eye(4), atol=1e-12)   # gain sqrt(2)
    np.testing.assert_allclose(W3.T @ W3, 1e-4 * np.eye(2), atol=1e-15)   # gain 0.01
    V3 = s["critic"]["W3"]
    np.testing.assert_allclose(V3.T @ V3, np.eye(1), atol=1e-12)          # gain 1
    assert all(not np.any(s[g][k]) for g in ("policy", "critic") for k in s[g] if k[0] == "b")


@pytest.mark.parametrize("field, value, err", [
    ("clip_range", 0.0, ValueError), ("clip_range", -0.1, ValueError),
    ("clip_range", "0.2", TypeError), ("n_steps", 0, ValueError), ("n_envs", -1, ValueError),
    ("n_epochs", 0, ValueError), ("batch_size", 0, ValueError), ("n_steps", 2.5, TypeError),
    ("gamma", 1.5, ValueError), ("gae_lambda", -0.1, ValueError), ("lr", 0.0, ValueError),
    ("max_grad_norm", -1.0, ValueError), ("target_kl", 0.0, ValueError),
    ("clip_range_vf", 0.0, ValueError), ("ent_coef", -0.01, ValueError),
    ("dtype", "float16", ValueError), ("activation", "sigmoid", ValueError),
    ("hidden", "64", TypeError), ("norm_adv", 1, TypeError), ("batch_size", 1000, ValueError),
])
def test_bad_config(field, value, err):
    with pytest.raises(err, match=field):
        PPOConfig(**{field: value})


def test_batch_size_one_with_advantage_normalisation():
    with pytest.raises(ValueError, match="batch_size"):
        PPOConfig(batch_size=1)
    PPOConfig(batch_size=1, norm_adv=False)             # fine without normalisation


def test_bad_arguments():
    spec = spec_of(gym.make("CartPole-v1"))
    with pytest.raises(ValueError, match="unknown fields"):
        PPO({"clip": 0.1}, spec)
    with pytest.raises(TypeError, match="config"):
        PPO(3, spec)
    with pytest.raises(TypeError, match="spec"):
        PPO(None, None)
    algo = PPO(dict(n_envs=2, n_steps=8, batch_size=8, hidden=(4,)), spec)
    state = algo.init(0)
    ro = Collector(make_vec_env("CartPole-v1", 2, seed=0)).collect(
        lambda o: algo.act(state, o, 0), lambda o: algo.value(state, o), 8)
    with pytest.raises(ValueError, match="obs"):
        algo.act(state, np.zeros((3, 5)), 0)
    with pytest.raises(ValueError, match="obs"):
        algo.value(state, np.full((3, 4), np.nan))
    with pytest.raises(TypeError, match="obs"):
        algo.act(state, [[0.0] * 4], 0)
    with pytest.raises(ValueError, match="progress"):
        algo.update(state, ro, 1.5, 0)
    with pytest.raises(TypeError, match="rng"):
        algo.update(state, ro, 0.0, None)
    ro.value = None
    with pytest.raises(ValueError, match="value"):
        algo.update(state, ro, 0.0, 0)


@pytest.mark.parametrize("discrete", [True, False])
def test_act_and_value_match_the_checked_policy_and_critic(discrete):
    """The fast acting path equals the policy's / critic's own (checked) methods."""
    env = Bandit() if discrete else Bandit(act_dim=2)
    algo = PPO(dict(SMALL, hidden=(5,)), spec_of(env))
    state = algo.init(0)
    obs = np.random.default_rng(1).normal(size=(7, 1))
    env_a, a, logp = algo.act(state, obs, np.random.default_rng(2))
    np.testing.assert_allclose(logp, algo.policy.log_prob(state["policy"], obs, a), rtol=1e-12)
    np.testing.assert_allclose(algo.value(state, obs),
                               algo.critic.value(state["critic"], obs), rtol=1e-12)
    mode = algo.policy.mode(state["policy"], obs)
    np.testing.assert_array_equal(algo.act(state, obs, 0, deterministic=True)[1], mode)


def test_a_non_finite_gradient_in_the_reference_step_names_its_network_and_key():
    """The reference epochs hold the networks as vectors (``VectorRun``); a NaN in a gradient
    is still named by network and key, as clipping the dict names it."""
    from npg.optim import VectorRun
    envs = make_vec_env("CartPole-v1", 1, mode="sync", seed=0)
    algo = PPO(PPOConfig(n_envs=1, n_steps=4, batch_size=4, hidden=(3,)), space_info(envs))
    state = algo.init(0)
    runs = {n: VectorRun(algo._optimizer(1e-3), state[n], state["opt"][n]) for n in algo.nets}
    grads = {n: {k: np.zeros_like(v) for k, v in state[n].items()} for n in algo.nets}
    grads["critic"]["W2"][0, 0] = np.nan
    with pytest.raises(ValueError, match=r"grads\[\('critic', 'W2'\)\] must be finite"):
        algo._step(runs, grads)
    envs.close()
