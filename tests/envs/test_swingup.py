"""The cart-pole swing-up (npg.envs.swingup): gymnasium's env checker, conservation of energy
and horizontal momentum without force, the reward by hand, the vector env against single
envs, registration and bad input."""

import math

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from npg.envs import swingup as sw


@pytest.mark.filterwarnings("ignore:.*Box observation space")
def test_env_checker_and_registration():
    check_env(sw.CartPoleSwingUpEnv(), skip_render_check=True)
    env = gym.make(sw.register())
    obs, _ = env.reset(seed=0)
    assert obs.shape == (5,) and obs[2] < -0.99          # cos th ~ -1: hanging
    steps = 0
    while True:
        obs, r, term, trunc, _ = env.step(np.zeros(1))
        steps += 1
        assert 0.0 <= r <= 1.0 and not term
        if trunc:
            break
    assert steps == sw.MAX_STEPS


@pytest.mark.parametrize("seed", [0, 1])
def test_energy_and_momentum_conserved_without_force(seed):
    """Semi-implicit Euler with a small step: relative drift of E and p below 1e-3 over 2 s
    of a large swing; the hanging rest state is an equilibrium."""
    rng = np.random.default_rng(seed)
    s = np.array([[0.0, rng.uniform(-1, 1), rng.uniform(0.5, 3.0), rng.uniform(-2, 2)]])
    M, m, l = sw.MASS_CART + sw.MASS_POLE, sw.MASS_POLE, sw.HALF_LENGTH
    e0 = sw.energy(s)[0]
    p0 = M * s[0, 1] + m * l * s[0, 3] * math.cos(s[0, 2])
    for _ in range(20000):
        s = sw.swingup_dynamics(s, np.zeros(1), dt=1e-4)
    p1 = M * s[0, 1] + m * l * s[0, 3] * math.cos(s[0, 2])
    scale = abs(e0) + m * sw.GRAVITY * l
    assert abs(sw.energy(s)[0] - e0) < 1e-3 * scale
    assert abs(p1 - p0) < 1e-3 * (abs(p0) + 1)
    rest = np.array([[0.0, 0.0, math.pi, 0.0]])
    np.testing.assert_allclose(sw.swingup_dynamics(rest, np.zeros(1)), rest, atol=1e-15)


def test_force_accelerates_cart():
    """From rest hanging, F > 0 pushes the cart right (x_dot > 0 after one step)."""
    s = sw.swingup_dynamics(np.array([[0.0, 0.0, math.pi, 0.0]]), np.array([10.0]))
    assert s[0, 1] > 0


def test_reward_by_hand():
    """Upright, centred, still, no force: 1 * 1 * 1 * 1. Hanging: upright = 0. At the margins:
    x = 2 gives centered = (1 + 0.1) / 2; u = 1 gives small_control = 4/5."""
    up = np.array([[0.0, 0.0, 0.0, 0.0]])
    assert sw.swingup_reward(up, np.zeros(1))[0] == pytest.approx(1.0, abs=1e-15)
    assert sw.swingup_reward(np.array([[0.0, 0.0, math.pi, 0.0]]), np.zeros(1))[0] == \
        pytest.approx(0.0, abs=1e-15)
    assert sw.swingup_reward(np.array([[2.0, 0, 0, 0]]), np.zeros(1))[0] == pytest.approx(0.55)
    assert sw.swingup_reward(up, np.ones(1))[0] == pytest.approx(0.8)
    assert sw.swingup_reward(np.array([[0, 0, 0, 5.0]]), np.zeros(1))[0] == pytest.approx(0.55)


def test_vector_env_matches_single_envs_and_truncates():
    venv = sw.CartPoleSwingUpVectorEnv(3, max_steps=7)
    obs, _ = venv.reset(seed=4)
    singles = []
    for i in range(3):
        e = sw.CartPoleSwingUpEnv()
        e.reset(seed=0)
        e.state = venv.state[i:i + 1].copy()
        singles.append(e)
    rng = np.random.default_rng(0)
    for t in range(7):
        a = rng.uniform(-1.5, 1.5, (3, 1))
        obs, r, term, trunc, info = venv.step(a)
        for i, e in enumerate(singles):
            o, ri, *_ = e.step(a[i])
            got = info["final_obs"][i] if trunc[i] else obs[i]
            np.testing.assert_allclose(got, o, atol=1e-14)
            assert r[i] == pytest.approx(ri, abs=1e-14)
        assert not term.any() and trunc.all() == (t == 6)
    assert np.all(obs[:, 2] < -0.99)                         # reset to hanging


def test_bad_input():
    venv = sw.CartPoleSwingUpVectorEnv(2)
    with pytest.raises(RuntimeError):
        venv.step(np.zeros((2, 1)))
    venv.reset(seed=0)
    with pytest.raises(ValueError, match="actions"):
        venv.step(np.zeros(3))
    with pytest.raises(ValueError, match="finite"):
        venv.step(np.array([np.nan, 0.0]))
    with pytest.raises((ValueError, TypeError)):
        sw.CartPoleSwingUpVectorEnv(0)
