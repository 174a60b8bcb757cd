"""PPO's compiled path for Box actions (diagonal Gaussian and gSDE actors) against the
reference path: whole updates (clipping, annealing, value clipping, entropy bonus, target-KL
early stop, clipped log_std), the minibatch gradient (and, for the Gaussian, finite differences
of the compiled loss), and acting (actions, log-probabilities, values).

float64 agrees to ~1e-14 relative, float32 to the approximate tanh's tolerance."""

import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st

from npg.algos.ppo import PPO, PPOConfig
from npg.engine import ppo as engine
from npg.engine import ppo_loop
from npg.engine.flat import FlatLayout
from npg.envs import make_vec_env, space_info
from npg.envs.rollout import Collector
from npg.testing import check_grad
from algo_cases import ppo_fd_minibatch


def _algo(use_sde, **kw):
    envs = make_vec_env("Pendulum-v1", 4, mode="sync", seed=0)
    cfg = PPOConfig(**{**dict(n_envs=4, n_steps=16, batch_size=16, n_epochs=3,
                              use_sde=use_sde), **kw})
    return PPO(cfg, space_info(envs)), envs


def _rollout(algo, envs, state):
    """A rollout from the reference acting path (so it does not depend on the engine)."""
    algo.fast_path = False
    col = Collector(envs, dtype=algo.dtype, seed=0)
    rng = np.random.default_rng(0)
    roll = col.collect(lambda o: algo.act(state, o, rng), lambda o: algo.value(state, o),
                       algo.config.n_steps)
    algo.fast_path = True
    return roll


CASES = [dict(), dict(ent_coef=0.05, clip_range_vf=0.2, norm_adv=False),
         dict(activation="relu", max_grad_norm=None, batch_size=64, n_epochs=2),
         dict(target_kl=1e-4, n_epochs=8, lr=0.01), dict(hidden=(), n_epochs=2),
         dict(hidden=(8,), ent_coef=0.1, n_epochs=2, clipped_log_std=True),
         dict(anneal_lr=False, anneal_clip=False, batch_size=10)]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("kw", CASES)
@pytest.mark.parametrize("use_sde", [False, True])
def test_compiled_update_equals_reference_update(use_sde, dtype, kw):
    kw = dict(kw)
    clipped = kw.pop("clipped_log_std", False)
    algo, envs = _algo(use_sde, dtype=dtype, **kw)
    state = algo.init(np.random.default_rng(0))
    if clipped:                             # log_std beyond LOG_STD_MAX = 2: clipped, no gradient
        state["policy"]["log_std"] = state["policy"]["log_std"] + 2.5
    roll = _rollout(algo, envs, state)
    assert engine.applies(algo.config, algo.spec, state["policy"])
    fast, st_fast = algo.update(state, roll, 0.25, np.random.default_rng(3))
    algo.fast_path = False
    ref, st_ref = algo.update(state, roll, 0.25, np.random.default_rng(3))
    rtol, atol = (1e-12, 1e-14) if dtype == "float64" else (2e-4, 2e-6)
    assert st_fast["n_updates"] == st_ref["n_updates"] and fast["step"] == ref["step"]
    if kw.get("target_kl"):                               # the early stop is exercised
        assert 0 < st_ref["n_updates"] < algo.config.n_epochs * 4
    for net in ("policy", "critic"):
        for k, a in ref[net].items():
            assert fast[net][k].dtype == a.dtype
            np.testing.assert_allclose(fast[net][k], a, rtol=rtol, atol=atol)
            np.testing.assert_allclose(fast["opt"][net][f"m.{k}"], ref["opt"][net][f"m.{k}"],
                                       rtol=rtol, atol=atol)
            np.testing.assert_allclose(fast["opt"][net][f"v.{k}"], ref["opt"][net][f"v.{k}"],
                                       rtol=rtol, atol=atol)
        assert fast["opt"][net]["step"] == ref["opt"][net]["step"]
    if clipped:
        np.testing.assert_array_equal(fast["policy"]["log_std"], state["policy"]["log_std"])
    for k, v in st_ref.items():
        np.testing.assert_allclose(st_fast[k], v, rtol=1e-9 if dtype == "float64" else 1e-4,
                                   atol=1e-12 if dtype == "float64" else 1e-6)
    envs.close()


@pytest.mark.parametrize("use_sde", [False, True])
@pytest.mark.parametrize("threads", [1, 2])
def test_minibatch_gradient_equals_the_reference_gradient(use_sde, threads):
    """The compiled minibatch gradient = ``PPO.loss_and_grad``'s (FD-checked in
    tests/algos/test_ppo.py and test_gsde.py, with gSDE's stop-gradient), float64."""
    algo, envs = _algo(use_sde, ent_coef=0.01, clip_range_vf=0.2)
    rng = np.random.default_rng(1)
    state = algo.init(rng)
    state["policy"]["log_std"] = state["policy"]["log_std"] + rng.normal(
        scale=0.3, size=state["policy"]["log_std"].shape)
    batch = algo._batch(state, _rollout(algo, envs, state))
    mb = {k: v[:24] for k, v in batch.items()}
    layout = FlatLayout.of({n: state[n] for n in algo.nets})
    theta = layout.pack(state)
    kind = "gsde" if use_sde else "gaussian"
    loss, grad, stats = ppo_loop.minibatch_loss_and_grad(kind, algo.config, layout, theta, mb,
                                                         0.1, threads)
    ref_loss, ref_grads, ref_stats = algo.loss_and_grad(layout.unpack(theta), mb, 0.1)
    np.testing.assert_allclose(loss, float(ref_loss), rtol=1e-13)
    np.testing.assert_allclose(grad, layout.pack(ref_grads), rtol=1e-10, atol=1e-15)
    for k in ("approx_kl", "clip_fraction", "entropy", "policy_loss", "value_loss"):
        np.testing.assert_allclose(stats[k], ref_stats[k], rtol=1e-12, atol=1e-15)
    envs.close()


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 2**32 - 1), st.booleans())
def test_gaussian_compiled_gradient_matches_fd_of_its_loss(seed, norm_adv):
    """Gaussian actor: the compiled gradient = central FD of the compiled loss (surrogate
    clip, clipped value loss and entropy bonus on)."""
    envs = make_vec_env("Pendulum-v1", 1, mode="sync", seed=0)
    algo = PPO(PPOConfig(n_envs=2, n_steps=4, batch_size=4, hidden=(3, 2), ent_coef=0.1,
                         vf_coef=0.7, clip_range_vf=0.2, norm_adv=norm_adv),
               space_info(envs))
    envs.close()
    rng = np.random.default_rng(seed)
    state, mb = ppo_fd_minibatch(algo, rng, obs_dim=3)
    obs, act, B = mb["obs"], mb["act"], len(mb["obs"])
    layout = FlatLayout.of({n: state[n] for n in algo.nets})
    theta = layout.pack(state)

    def compiled(t):
        return ppo_loop.minibatch_loss_and_grad("gaussian", algo.config, layout, t, mb, 0.2)

    loss, grad, stats = compiled(theta)
    ref_loss, _, _ = algo.loss_and_grad(layout.unpack(theta), mb, 0.2)
    logp_new = algo.policy.log_prob(state["policy"], obs, act)
    r = np.exp(logp_new - mb["logp_old"])
    dv = algo.value(state, obs) - mb["v_old"]
    assume(np.all(np.abs(np.abs(r - 1) - 0.2) > 1e-3) and np.all(np.abs(np.abs(dv) - 0.2) > 1e-3))
    np.testing.assert_allclose(loss, float(ref_loss), rtol=1e-12)
    check_grad(lambda p: compiled(p["theta"])[0], {"theta": grad}, {"theta": theta})


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("use_sde", [False, True])
def test_compiled_acting_equals_the_checked_acting(use_sde, dtype):
    """Same draws: actions, env actions and log-probabilities equal to rounding (float32: the
    approximate tanh); values too. gSDE with noise matrices, fresh draws and the mode."""
    algo, envs = _algo(use_sde, dtype=dtype)
    rng = np.random.default_rng(0)
    state = algo.init(rng)
    ls = state["policy"]["log_std"]
    state["policy"]["log_std"] = ls + rng.normal(scale=0.3, size=ls.shape).astype(ls.dtype)
    obs = rng.standard_normal((4, 3)) * 2
    noise = rng.standard_normal((4, 64, 1)) if use_sde else None
    modes = [(False, None), (True, None)] + ([(False, noise)] if use_sde else [])
    tol = dict(rtol=2e-5, atol=2e-5) if dtype == "float32" else dict(rtol=1e-12, atol=1e-13)
    for det, E in modes:
        algo.fast_path = True
        fast = algo.act(state, obs, np.random.default_rng(5), det, noise=E)
        v_fast = algo.value(state, obs)
        algo.fast_path = False
        ref = algo.act(state, obs, np.random.default_rng(5), det, noise=E)
        v_ref = algo.value(state, obs)
        for f, r in zip(fast, ref):
            assert f.dtype == r.dtype and f.shape == r.shape
            np.testing.assert_allclose(f, r, **tol)
        np.testing.assert_allclose(v_fast, v_ref, **tol)
    algo.fast_path = True
    with pytest.raises(ValueError, match="obs"):
        algo.act(state, np.full((2, 3), np.nan), np.random.default_rng(0))
    if use_sde:
        with pytest.raises(ValueError, match="noise"):
            algo.act(state, obs, np.random.default_rng(0), noise=np.zeros((4, 3, 1)))
    envs.close()
