"""gSDE: the distribution's derivatives against finite differences, hand values and identities,
the sampler's mean/covariance and E[score] = 0 (seeded z-tests), PPO's minibatch gradient with
use_sde against finite differences of its loss, the noise schedule, determinism, checkpoints
and bad configs."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from algo_cases import ppo_fd_minibatch
from npg.app.agent import Agent
from npg.algos import PPO, PPOConfig
from npg.distributions import gaussian, sde
from npg.envs import space_info
from npg.policies.sde import MLPSDEPolicy
from npg.app.sde_noise import SDENoise
from npg.testing import check_grad

# ------------------------------------------------------------------ the distribution


def _point(seed, B=3, H=2, K=2):
    """A well-conditioned point: |phi| in [0.5, 1.5] keeps v >= 0.25 exp(2 min L), so the
    finite differences' truncation error (~h^2 / v^2) stays far below the tolerance."""
    rng = np.random.default_rng(seed)
    phi = rng.uniform(0.5, 1.5, (B, H)) * rng.choice([-1.0, 1.0], (B, H))
    return (rng.normal(size=(B, K)), phi, rng.normal(scale=0.5, size=(H, K)),
            rng.normal(size=(B, K)), rng.normal(size=B), rng.normal(size=B))


@settings(max_examples=200)
@given(st.integers(0, 2**32 - 1))
def test_log_prob_and_entropy_gradients_match_fd(seed):
    """d/d(mean, phi, L) of sum_b w_b log pi_b + c_b H_b: log_prob_grad and entropy_grad
    (per sample, summed with the weights) against central differences."""
    mean, phi, L, a, w, c = _point(seed)
    g_mean, g_phi, g_L = sde.log_prob_grad(mean, phi, L, a)
    h_phi, h_L = sde.entropy_grad(phi, L)
    grad = {"mean": w[:, None] * g_mean,
            "phi": w[:, None] * g_phi + c[:, None] * h_phi,
            "L": np.einsum("b,bhk->hk", w, g_L) + np.einsum("b,bhk->hk", c, h_L)}

    def f(p):
        return float(w @ sde.log_prob(p["mean"], p["phi"], p["L"], a)
                     + c @ sde.entropy(p["phi"], p["L"]))
    check_grad(f, grad, {"mean": mean, "phi": phi, "L": L})


@settings(max_examples=200)
@given(st.integers(0, 2**32 - 1))
def test_terms_vjp_matches_fd_and_the_separate_functions(seed):
    """``terms`` (one evaluation for the loss layer) against FD and against log_prob,
    entropy, variance_vjp."""
    mean, phi, L, a, w, c = _point(seed)
    logp, ent, vjp = sde.terms(mean, phi, L, a)
    np.testing.assert_allclose(logp, sde.log_prob(mean, phi, L, a), rtol=1e-14)
    np.testing.assert_allclose(ent, sde.entropy(phi, L), rtol=1e-14)
    d_mean, d_phi, d_L = vjp(w, c)

    def f(p):
        lp, h, _ = sde.terms(p["mean"], p["phi"], p["L"], a)
        return float(w @ lp + c @ h)
    check_grad(f, {"mean": d_mean, "phi": d_phi, "L": d_L}, {"mean": mean, "phi": phi, "L": L})
    d_mean0, _, d_L0 = vjp(w, None)
    np.testing.assert_allclose(d_L0, np.einsum("b,bhk->hk", w, sde.log_prob_grad(
        mean, phi, L, a)[2]), rtol=1e-12, atol=1e-14)


@settings(max_examples=200)
@given(st.integers(0, 2**32 - 1))
def test_variance_vjp_matches_fd(seed):
    _, phi, L, _, _, _ = _point(seed)
    d_v = np.random.default_rng(seed + 1).normal(size=(phi.shape[0], L.shape[1]))
    g_phi, g_L = sde.variance_vjp(phi, L, d_v)
    check_grad(lambda p: float(np.sum(d_v * sde.variance(p["phi"], p["L"]))),
               {"phi": g_phi, "L": g_L}, {"phi": phi, "L": L})


def test_hand_values_and_the_diagonal_gaussian_identity():
    # phi = [3, 4], L = 0 (sigma_ik = 1): v = 9 + 16 + eps = 25 + eps; at a = mu + 5:
    # log pi = -(25 / v + log v + log 2 pi) / 2;  H = (log v + 1 + log 2 pi) / 2.
    phi, L = np.array([[3.0, 4.0]]), np.zeros((2, 1))
    mean, a = np.array([[1.0]]), np.array([[6.0]])
    v = 25.0 + sde.EPS
    assert sde.variance(phi, L)[0, 0] == pytest.approx(v, rel=1e-15)
    assert sde.log_prob(mean, phi, L, a)[0] == pytest.approx(
        -0.5 * (25.0 / v + np.log(v) + np.log(2 * np.pi)), rel=1e-14)
    assert sde.entropy(phi, L)[0] == pytest.approx(0.5 * (np.log(v) + 1 + np.log(2 * np.pi)))
    # H = 1, phi = 1: v = exp(2 L) + eps, the diagonal Gaussian with log_std = L (to eps)
    rng = np.random.default_rng(0)
    mean, a, L = rng.normal(size=(4, 3)), rng.normal(size=(4, 3)), rng.normal(size=(1, 3))
    np.testing.assert_allclose(sde.log_prob(mean, np.ones((4, 1)), L, a),
                               gaussian.log_prob(mean, L, a), rtol=1e-5)
    np.testing.assert_allclose(sde.entropy(np.ones((4, 1)), L), gaussian.entropy(
        np.broadcast_to(L, (4, 3))), rtol=1e-5)


def test_extreme_values_stay_finite():
    phi = np.array([[0.0, 0.0], [1e3, -1e3]])
    L = np.array([[-20.0, 2.0], [2.0, -20.0]])
    mean, a = np.zeros((2, 2)), np.full((2, 2), 1e3)
    for out in (sde.log_prob(mean, phi, L, a), sde.entropy(phi, L),
                *sde.log_prob_grad(mean, phi, L, a), *sde.entropy_grad(phi, L)):
        assert np.all(np.isfinite(out))


def test_sample_mean_covariance_and_zero_mean_score():
    """a = mu + phi E with E from sample_noise: mean mu, covariance diag(v - eps) (z-tests
    at 5 standard errors), and E[d log pi / d (mu, L)] = 0."""
    rng = np.random.default_rng(123)
    n = 100_000
    mean0, phi0 = np.array([0.5, -1.0]), np.array([0.7, -1.2, 0.3])
    L = np.array([[0.1, -0.5], [-0.3, 0.2], [0.4, 0.0]])
    E = sde.sample_noise(L, n, rng)
    mean, phi = np.broadcast_to(mean0, (n, 2)), np.broadcast_to(phi0, (n, 3))
    a = sde.noise_action(mean, phi, E)
    var = sde.variance(phi0[None], L)[0] - sde.EPS
    z = (a.mean(0) - mean0) / np.sqrt(var / n)
    assert np.all(np.abs(z) < 5)
    d = a - mean0
    cov = d.T @ d / n
    se_var = var * np.sqrt(2.0 / n)
    assert np.all(np.abs(np.diag(cov) - var) < 5 * se_var)
    assert abs(cov[0, 1]) < 5 * np.sqrt(var[0] * var[1] / n)
    g_mean, _, g_L = sde.log_prob_grad(mean, phi, L, a)
    for g in (g_mean, g_L.reshape(n, -1)):
        assert np.all(np.abs(g.mean(0)) < 5 * g.std(0) / np.sqrt(n))
    b = sde.sample(mean, phi, L, rng)                      # the marginal sampler
    assert np.all(np.abs((b.mean(0) - mean0) / np.sqrt(var / n)) < 5)
    assert np.all(np.abs(b.var(0) - var) < 5 * se_var)


def test_backends_agree(xp):
    mean, phi, L, a, w, c = _point(7)
    conv = [xp.asarray(x) for x in (mean, phi, L, a)]
    np.testing.assert_allclose(np.asarray(sde.log_prob(*conv)), sde.log_prob(mean, phi, L, a),
                               rtol=1e-13)
    _, _, vjp = sde.terms(*conv)
    for got, want in zip(vjp(xp.asarray(w), xp.asarray(c)), sde.terms(mean, phi, L, a)[2](w, c)):
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-12, atol=1e-15)
    E = sde.sample_noise(conv[2], 3, np.random.default_rng(0))
    assert tuple(sde.noise_action(conv[0], conv[1], E).shape) == (3, 2)


def test_bad_inputs():
    mean, phi, L, a, _, _ = _point(0)
    with pytest.raises(ValueError, match="H"):
        sde.log_prob(mean, phi, np.zeros((3, 2)), a)
    with pytest.raises(ValueError, match="a must"):
        sde.log_prob(mean, phi, L, a[:2])
    with pytest.raises(TypeError, match="rng"):
        sde.sample_noise(L, 2, 0)
    with pytest.raises(ValueError, match="n must"):
        sde.sample_noise(L, 0, np.random.default_rng(0))
    with pytest.raises(ValueError, match="noise"):
        sde.noise_action(mean, phi, np.zeros((3, 2, 5)))

# ------------------------------------------------------------------ PPO with gSDE


class BoxBandit(gym.Env):
    observation_space = spaces.Box(-1.0, 1.0, (2,), np.float32)
    action_space = spaces.Box(-2.0, 2.0, (2,), np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.ones(2, np.float32), {}

    def step(self, a):
        return np.ones(2, np.float32), -float(np.sum((np.asarray(a) - 0.5) ** 2)), True, False, {}


def _spec(env):
    return space_info(gym.vector.SyncVectorEnv([lambda: env]))


def _algo(**kw):
    return PPO(dict(hidden=(3,), n_envs=2, n_steps=4, batch_size=4, use_sde=True, **kw),
               _spec(BoxBandit()))


@settings(max_examples=200)
@given(st.integers(0, 2**32 - 1), st.booleans())
def test_ppo_minibatch_gradient_matches_fd_of_loss(seed, norm_adv):
    """grad of loss_and_grad (use_sde) = central FD of the loss it returns, with the variance's
    features held at their value at the evaluation point (mb["phi_sg"], the stop-gradient);
    without phi_sg the gradient is the same."""
    algo = _algo(ent_coef=0.1, vf_coef=0.7, clip_range_vf=0.2, norm_adv=norm_adv,
                 log_std_init=-0.3)
    rng = np.random.default_rng(seed)
    state, mb = ppo_fd_minibatch(algo, rng, obs_dim=2)
    obs, act, B = mb["obs"], mb["act"], len(mb["obs"])
    params = {net: state[net] for net in algo.nets}
    (mu, phi, ls), _ = algo._actor(params["policy"], obs)
    r = np.exp(sde.log_prob(mu, phi, ls, act) - mb["logp_old"])
    dv = algo.value(state, obs) - mb["v_old"]
    assume(np.all(np.abs(np.abs(r - 1) - 0.2) > 1e-3) and np.all(np.abs(np.abs(dv) - 0.2) > 1e-3))
    fixed = dict(mb, phi_sg=phi)
    _, grads, _ = algo.loss_and_grad(params, fixed, 0.2)
    _, grads2, _ = algo.loss_and_grad(params, mb, 0.2)
    flat = {f"{g}/{k}": v for g in params for k, v in params[g].items()}
    flat_grads = {f"{g}/{k}": v for g in grads for k, v in grads[g].items()}
    for k, v in flat_grads.items():
        assert np.array_equal(v, grads2[k.split("/")[0]][k.split("/")[1]])

    def loss(p):
        nested = {g: {k: p[f"{g}/{k}"] for k in params[g]} for g in params}
        return float(algo.loss_and_grad(nested, fixed, 0.2)[0])
    check_grad(loss, flat_grads, flat)


def test_act_modes():
    algo = _algo()
    state = algo.init(0)
    obs = np.random.default_rng(1).normal(size=(2, 2))
    (mu, phi, ls), _ = algo._actor(state["policy"], obs)
    _, a, lp = algo.act(state, obs, 0, deterministic=True)
    np.testing.assert_array_equal(a, mu)
    E = sde.sample_noise(ls, 2, np.random.default_rng(2))
    env_a, a, lp = algo.act(state, obs, 0, noise=E)
    np.testing.assert_allclose(a, sde.noise_action(mu, phi, E), rtol=1e-15)
    np.testing.assert_allclose(lp, sde.log_prob(mu, phi, ls, a), rtol=1e-15)
    assert np.all(np.abs(env_a) <= 2.0)
    assert algo.act(state, obs, 0)[1].shape == (2, 2)
    assert state["policy"]["log_std"].shape == (3, 2)
    assert isinstance(algo.policy, MLPSDEPolicy)


def test_noise_schedule():
    """New matrices at each rollout start and every sample_freq steps within it."""
    noise = SDENoise(n_envs=2, n_steps=10, sample_freq=4)
    L, rng, draws, prev = np.zeros((3, 1)), np.random.default_rng(0), [], None
    for step in range(25):
        E = noise.matrices(L, rng)
        assert E.shape == (2, 3, 1)
        if E is not prev:
            draws.append(step)
        prev = E
    assert draws == [0, 4, 8, 10, 14, 18, 20, 24]
    only_rollouts = SDENoise(2, 10)
    assert [t for t in range(25) if only_rollouts.due() | (only_rollouts.matrices(L, rng)
                                                           is None)] == [0, 10, 20]
    for name, bad, err in (("n_envs", 0, ValueError), ("sample_freq", 0, ValueError),
                           ("sample_freq", 1.5, TypeError)):
        kw = {"n_envs": 2, "n_steps": 3, "sample_freq": -1, name: bad}
        with pytest.raises(err, match=name):
            SDENoise(**kw)


CONFIG = dict(n_envs=2, n_steps=16, batch_size=16, n_epochs=2, hidden=(8,), use_sde=True,
              sde_sample_freq=4, gamma=0.9)


def test_same_seed_bitwise_identical_different_seeds_differ(tmp_path):
    def run(seed):
        ag = Agent("Pendulum-v1", "ppo", CONFIG, seed=seed)
        ag.learn(96, progress=False)
        return ag
    a, b, c = run(0), run(0), run(1)
    for k in a.state["policy"]:
        assert np.array_equal(a.state["policy"][k], b.state["policy"][k])
    assert any(not np.array_equal(a.state["policy"][k], c.state["policy"][k])
               for k in a.state["policy"])
    # checkpoints: log_std [H, K] is one more params array
    a.save(tmp_path / "ag")
    r = Agent.load(tmp_path / "ag")
    for k in a.state["policy"]:
        assert np.array_equal(a.state["policy"][k], r.state["policy"][k])
    obs = np.random.default_rng(0).normal(size=(5, 3))
    np.testing.assert_array_equal(r.predict(obs), a.predict(obs))
    r.learn(32, progress=False)
    assert all(np.all(np.isfinite(v)) for v in r.state["policy"].values())


@pytest.mark.parametrize("kw, err, match", [
    (dict(sde_sample_freq=0), ValueError, "sde_sample_freq"),
    (dict(sde_sample_freq=2.0), TypeError, "sde_sample_freq"),
    (dict(sde_sample_freq=True), TypeError, "sde_sample_freq"),
    (dict(use_sde=1), TypeError, "use_sde"),
])
def test_bad_config(kw, err, match):
    with pytest.raises(err, match=match):
        PPOConfig(**kw)


def test_use_sde_needs_box_actions():
    with pytest.raises(ValueError, match="use_sde"):
        PPO(dict(use_sde=True), space_info(gym.make_vec("CartPole-v1", 1,
                                                         vectorization_mode="sync")))
