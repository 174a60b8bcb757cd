"""``Agent(device=...)``: the train state on another array module, the environments on the host.

Every test runs on NumPy and on array_api_strict (on its non-default ``device1``, so that an
array created without ``device=`` or a NumPy-only call fails on every machine), and on CuPy where
a GPU is present. The NumPy Generators drive every draw, so one seed gives the same learning on
every module: a few updates agree with the NumPy reference path to rounding (float64).
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from npg.algos import state_to_flat
from npg.app.agent import Agent
from npg.app.agent_device import device_algorithms
from npg.backend import device_of, namespace_of, resolve_device

SMALL = dict(n_envs=2, n_steps=16, hidden=(8,))


def _masked(**_):
    from npg.envs.masked import MaskedLine
    return MaskedLine()


CASES = {        # id: (env, algo, config overrides[, Agent keyword arguments])
    "ppo": ("CartPole-v1", "ppo", dict(SMALL, batch_size=16, n_epochs=2)),
    "ppo-box": ("Pendulum-v1", "ppo", dict(SMALL, batch_size=16, n_epochs=2)),
    "vtrace": ("CartPole-v1", "vtrace", SMALL),
    "vtrace-lag": ("CartPole-v1", "vtrace", dict(SMALL, behaviour_lag=2, rho_bar=0.5)),
    "ppo-shared": ("CartPole-v1", "ppo", dict(SMALL, batch_size=16, n_epochs=2, shared=True)),
    "ppo-gsde": ("Pendulum-v1", "ppo", dict(SMALL, batch_size=16, n_epochs=2, use_sde=True,
                                            sde_sample_freq=4)),
    "ppo-masked": (_masked, "ppo", dict(SMALL, batch_size=16, n_epochs=2)),
    "reinforce-masked": (_masked, "reinforce", SMALL),
    "ppo-multidiscrete": ("npg.envs.multi_action:npg/Dials-v0", "ppo",
                          dict(SMALL, batch_size=16, n_epochs=2, ent_coef=0.01)),
    "a2c-multibinary": ("npg.envs.multi_action:npg/Switches-v0", "a2c", SMALL),
    "reinforce-multidiscrete": ("npg.envs.multi_action:npg/Dials-v0", "reinforce", SMALL),
    "a2c": ("CartPole-v1", "a2c", SMALL),
    "a2c-box": ("Pendulum-v1", "a2c", SMALL),
    "a2c-float32-normalised": ("Pendulum-v1", "a2c", dict(SMALL, dtype="float32"),
                               dict(normalize_obs=True, scale_reward=True)),
    "ac-nstep-relu": ("CartPole-v1", "ac", dict(SMALL, n_step=3, activation="relu")),
    "reinforce-value": ("CartPole-v1", "reinforce", dict(SMALL, baseline="value")),
    "reinforce-mean": ("CartPole-v1", "reinforce", dict(SMALL, baseline="mean",
                                                        returns="episode")),
    "qac": ("CartPole-v1", "qac", SMALL),
    "ac_lambda": ("CartPole-v1", "ac_lambda", dict(SMALL, n_steps=8, trace="replacing")),
    "ac_avg": ("CartPole-v1", "ac_avg", dict(SMALL, n_steps=8)),
    "qac-pair": ("CartPole-v1", "qac", dict(SMALL, q_input="pair", critic_hidden=(8,))),
}
STEPS = 96                      # three rollouts of 2 x 16 steps: three updates


def _device(xp):
    if xp is np:
        return None
    if xp.__name__ == "array_api_strict":
        return xp.Device("device1")         # not the default device
    return "cuda"


def _arrays(tree, prefix=""):
    for k, v in tree.items():
        if isinstance(v, dict):
            yield from _arrays(v, f"{prefix}{k}/")
        elif hasattr(v, "shape"):
            yield f"{prefix}{k}", v


def _reference(env, algo, config, steps=STEPS, **kw):
    """The NumPy agent on its reference path (the path a device agent runs)."""
    agent = Agent(env, algo, config, seed=0, **kw)
    agent.online_engine = False
    if hasattr(agent.algo, "fast_path"):
        agent.algo.fast_path = False
    return agent.learn(steps, progress=False)


def _assert_same_state(got, want, rtol=1e-10, atol=1e-12):
    a, b = state_to_flat(got), state_to_flat(want)
    assert a.keys() == b.keys()
    for k, w in b.items():
        if isinstance(w, np.ndarray):
            assert a[k].dtype == w.dtype and a[k].shape == w.shape, k
            np.testing.assert_allclose(a[k].astype(np.float64), w.astype(np.float64),
                                       rtol=rtol, atol=atol, err_msg=k)
        else:
            assert a[k] == pytest.approx(w, rel=rtol, abs=atol), k


def _assert_on(agent, xp):
    for k, v in _arrays(agent.state):
        assert namespace_of(v) is xp, k
        if agent.device is not None:
            assert device_of(v) == agent.device, k


@pytest.mark.parametrize("case", sorted(CASES))
def test_learning_on_a_device_matches_numpy(xp, case):
    env, algo, config, *kw = CASES[case]
    kw = kw[0] if kw else {}
    agent = Agent(env, algo, config, seed=0, device=_device(xp), **kw)
    agent.learn(STEPS, progress=False)
    ref = _reference(env, algo, config, **kw)
    _assert_on(agent, xp)
    tol = 1e-4 if config.get("dtype") == "float32" else 1e-10      # float32: rounding 6e-8
    _assert_same_state(agent.state, ref.state, rtol=tol, atol=tol * 1e-2)
    assert agent.n_updates == ref.n_updates == STEPS // (config["n_envs"] * config["n_steps"])
    np.testing.assert_allclose(agent.episode_returns, ref.episode_returns)


def test_device_none_and_cpu_are_numpy():
    for dev in (None, "cpu", "CPU"):
        assert resolve_device(dev) == (np, None)
    a = Agent("CartPole-v1", "ppo", dict(SMALL, batch_size=16, n_epochs=2), seed=0)
    b = Agent("CartPole-v1", "ppo", dict(SMALL, batch_size=16, n_epochs=2), seed=0,
              device="cpu")
    a.learn(64, progress=False)
    b.learn(64, progress=False)
    _assert_same_state(b.state, a.state, rtol=0.0, atol=0.0)      # bit for bit
    assert all(isinstance(v, np.ndarray) for _, v in _arrays(b.state))


def test_predict_and_evaluate_on_a_device(xp):
    config = dict(SMALL, batch_size=16, n_epochs=2)
    agent = Agent("CartPole-v1", "ppo", config, seed=0, device=_device(xp)).learn(
        32, progress=False)
    ref = _reference("CartPole-v1", "ppo", config, 32)
    obs = np.random.default_rng(1).normal(size=(5, 4))
    np.testing.assert_array_equal(agent.predict(obs), ref.predict(obs))
    assert agent.predict(obs[0]) == ref.predict(obs[0])
    assert agent.predict(xp.asarray(obs)).tolist() == ref.predict(obs).tolist()  # one copy
    np.testing.assert_array_equal(
        agent.predict(obs, deterministic=False, rng=np.random.default_rng(2)),
        ref.predict(obs, deterministic=False, rng=np.random.default_rng(2)))
    np.testing.assert_allclose(agent.evaluate(3, seed=5), ref.evaluate(3, seed=5))


@pytest.mark.parametrize("algo", ["ppo", "reinforce"])
def test_save_and_load_onto_a_device(xp, algo, tmp_path):
    """A checkpoint holds NumPy arrays; load(device=...) puts the state back on the device,
    and training on continues as if it had never stopped."""
    config = dict(SMALL, batch_size=16, n_epochs=2) if algo == "ppo" else SMALL
    dev = _device(xp)
    agent = Agent("CartPole-v1", algo, config, seed=0, device=dev).learn(64, progress=False)
    agent.save(tmp_path)
    loaded = Agent.load(tmp_path, device=dev)
    _assert_on(loaded, xp)
    _assert_same_state(loaded.state, agent.state, rtol=0.0, atol=0.0)
    agent.learn(64, progress=False)
    loaded.learn(64, progress=False)
    _assert_same_state(loaded.state, agent.state, rtol=0.0, atol=0.0)
    assert loaded.episode_returns == agent.episode_returns
    on_cpu = Agent.load(tmp_path)                      # the same checkpoint onto NumPy
    assert on_cpu.device is None and on_cpu.xp is np
    assert all(isinstance(v, np.ndarray) for _, v in _arrays(on_cpu.state))


def test_device_algorithms_are_named():
    assert {"ppo", "a2c", "ac", "reinforce", "qac", "vtrace", "ac_lambda", "ac_avg"} <= set(
        device_algorithms())


# ------------------------------------------------------------------ bad input

def test_cuda_without_cupy_is_a_clear_error():
    if importlib.util.find_spec("cupy") is not None:
        pytest.skip("CuPy is installed here: the missing-CuPy error cannot be reached")
    with pytest.raises(ImportError, match=r"device='cuda' needs CuPy"):
        Agent("CartPole-v1", "ppo", device="cuda")
    with pytest.raises(ImportError, match=r"device='cuda:1' needs CuPy"):
        resolve_device("cuda:1")


@pytest.mark.parametrize("device, err, words", [
    ("tpu", ValueError, ("device must be", "'cuda'", "'tpu'")),
    ("cuda:x", ValueError, ("device", "cuda:N")),
    (3, TypeError, ("device must be", "int")),
    (np.float64, TypeError, ("device must be",)),
])
def test_bad_device_names_the_argument(device, err, words):
    with pytest.raises(err) as info:
        Agent("CartPole-v1", "ppo", device=device)
    for w in words:
        assert w in str(info.value)


def test_numpy_only_algorithm_is_refused_by_name():
    # Every registered algorithm runs on a device; one that does not set any_namespace is
    # refused by name (and accepted on the CPU).
    import array_api_strict as strict
    from npg.algos import ALGORITHMS, Algorithm
    from npg.app.agent_device import resolve
    assert set(device_algorithms()) == set(ALGORITHMS)

    class NumpyOnly(Algorithm):
        name = "numpy_only"
    with pytest.raises(ValueError, match="algo 'numpy_only' updates on NumPy only"):
        resolve(strict.Device("device1"), NumpyOnly)
    assert resolve("cpu", NumpyOnly) == (np, None)


def _ppo_and_rollout():
    import gymnasium as gym
    from npg.algos import PPO
    from npg.envs import make_vec_env, space_info
    from npg.envs.rollout import Collector
    algo = PPO(dict(SMALL, batch_size=16, n_epochs=1), space_info(gym.make("CartPole-v1")))
    algo.fast_path = False
    state = algo.init(0)
    ro = Collector(make_vec_env("CartPole-v1", 2, seed=0)).collect(
        lambda o: algo.act(state, o, np.random.default_rng(0)), lambda o: algo.value(state, o),
        16)
    return algo, state, ro


def test_a_device_rollout_for_a_numpy_state_is_refused_naming_both():
    import array_api_strict as strict
    algo, state, ro = _ppo_and_rollout()
    with pytest.raises(TypeError, match="rollout lives on array_api_strict but the train state "
                                        "lives on numpy"):
        algo.update(state, ro.to(strict), 0.0, 0)


def test_a_train_state_on_two_modules_is_refused_naming_both():
    import array_api_strict as strict
    from npg.backend import tree_to
    algo, state, ro = _ppo_and_rollout()
    mixed = dict(state, policy=tree_to(state["policy"], strict))
    with pytest.raises(TypeError, match=r"state\['policy/W1'\] lives on array_api_strict but "
                                        r"state\['critic/W1'\] lives on numpy"):
        algo.update(mixed, ro, 0.0, 0)


def test_rollout_to_is_one_copy_and_back():
    import array_api_strict as strict
    _, _, ro = _ppo_and_rollout()
    dev = strict.Device("device1")
    moved = ro.to(strict, dev)
    assert moved.to(strict, dev) is moved and ro.to(np) is ro
    assert device_of(moved.obs) == dev and isinstance(moved.episode_returns, np.ndarray)
    assert moved.n_valid == ro.n_valid
    back = moved.to(np)
    for k in ("obs", "act", "logp", "rew", "value", "next_value", "valid", "last_obs"):
        np.testing.assert_array_equal(getattr(back, k), getattr(ro, k))


def test_cli_device_option(tmp_path, capsys):
    """`npg train --device cpu` is the default NumPy agent; `--device cuda` without CuPy exits 2
    with one line naming the argument; `npg resume --device` loads onto that device."""
    import io

    from npg.app import cli
    run = str(tmp_path / "r")
    args = ["--quiet", "--eval-episodes", "0", "--set", "hidden=8", "--set", "n_steps=16",
            "--set", "batch_size=16", "--set", "n_epochs=1"]
    assert cli.main(["train", "CartPole-v1", "--steps", "128", "--out", run, "--device", "cpu",
                     *args], out=io.StringIO()) == 0
    assert cli.main(["resume", run, "--steps", "128", "--quiet", "--eval-episodes", "0",
                     "--device", "cpu"], out=io.StringIO()) == 0
    assert Agent.load(run).env_steps == 256
    if importlib.util.find_spec("cupy") is None:
        capsys.readouterr()
        with pytest.raises(SystemExit) as info:
            cli.main(["train", "CartPole-v1", "--steps", "64", "--out", str(tmp_path / "c"),
                      "--device", "cuda", *args], out=io.StringIO())
        assert info.value.code == 2
        assert "device='cuda' needs CuPy" in capsys.readouterr().err
