"""FiniteMDP validation, toy-text tables and seeded random MDPs (npg.mdp.finite/toytext/random)."""

import numpy as np
import pytest

import npg.mdp as M
from npg.mdp import FiniteMDP


def chain(gamma=0.9):
    """S = 2, A = 2: state 1 terminal; from 0, action 0 stays (reward 1), action 1 ends (reward 2)."""
    P = np.zeros((2, 2, 2))
    P[0, 0, 0] = P[0, 1, 1] = P[1, :, 1] = 1.0
    R = np.array([[1.0, 2.0], [0.0, 0.0]])
    return P, R, np.array([1.0, 0.0]), gamma, np.array([False, True])


def test_valid_mdp_is_stored_read_only_float64():
    mdp = FiniteMDP(*chain())
    assert (mdp.n_states, mdp.n_actions) == (2, 2)
    for a in (mdp.P, mdp.R, mdp.mu0):
        assert a.dtype == np.float64 and not a.flags.writeable
    assert mdp.terminal.tolist() == [False, True] and mdp.nonterminal.tolist() == [True, False]
    with pytest.raises(Exception):
        mdp.gamma = 0.5                                           # frozen dataclass
    assert "n_states=2" in repr(mdp)


def test_terminal_defaults_to_none_and_replace_validates():
    P, R, mu0, gamma, _ = chain()
    P[1] = 0.0
    P[1, :, 0] = 1.0                                             # make state 1 non-absorbing
    R[1] = 5.0
    mdp = FiniteMDP(P, R, mu0, gamma)
    assert not mdp.terminal.any()
    assert mdp.replace(gamma=1.0).gamma == 1.0
    with pytest.raises(ValueError, match="gamma"):
        mdp.replace(gamma=1.5)
    with pytest.raises(TypeError, match="unknown fields"):
        mdp.replace(discount=0.5)


@pytest.mark.parametrize("change, exc, match", [
    (lambda a: a.update(P=a["P"] * 0.9), ValueError, "P must sum to 1"),
    (lambda a: a["P"].__setitem__((0, 0), [1.5, -0.5]), ValueError, "P must hold probabilities >= 0"),
    (lambda a: a["P"].__setitem__((0, 0, 0), np.nan), ValueError, "P must be finite"),
    (lambda a: a.update(P=a["P"][:, :, :1]), ValueError, r"P must have shape \[S, A, S\]"),
    (lambda a: a.update(P=a["P"][0]), ValueError, "P must be a transition tensor"),
    (lambda a: a.update(P="abc"), TypeError, "P must be a real array"),
    (lambda a: a.update(R=a["R"][:, :1]), ValueError, r"R must have shape \[S, A\] = \[2, 2\]"),
    (lambda a: a.update(R=np.full((2, 2), np.inf)), ValueError, "R must be finite"),
    (lambda a: a.update(mu0=np.array([0.5, 0.6])), ValueError, "mu0 must sum to 1"),
    (lambda a: a.update(mu0=np.array([1.5, -0.5])), ValueError, "mu0 must hold probabilities"),
    (lambda a: a.update(mu0=np.ones(3) / 3), ValueError, r"mu0 must have shape \[S\] = \[2\]"),
    (lambda a: a.update(gamma=-0.1), ValueError, "gamma must lie in"),
    (lambda a: a.update(gamma="x"), TypeError, "gamma must be a real number"),
    (lambda a: a.update(terminal=np.array([0, 1])), TypeError, "terminal must be a bool array"),
    (lambda a: a.update(terminal=np.array([True])), ValueError, r"terminal must have shape"),
    (lambda a: a.update(terminal=np.array([True, True])), ValueError, "terminal state 0 must be absorbing"),
    (lambda a: a["R"].__setitem__((1, 0), 3.0), ValueError, "terminal state 1 must have zero reward"),
])
def test_bad_input_names_the_argument(change, exc, match):
    P, R, mu0, gamma, terminal = chain()
    args = dict(P=P, R=R, mu0=mu0, gamma=gamma, terminal=terminal)
    change(args)
    with pytest.raises(exc, match=match):
        FiniteMDP(**args)


def test_rounding_level_row_sums_are_accepted_and_renormalised():
    P, R, mu0, gamma, terminal = chain()
    P[0, 0, 0] = 1.0 + 1e-12
    mdp = FiniteMDP(P, R, mu0, gamma, terminal)
    assert mdp.P[0, 0].sum() == 1.0


def test_from_transition_rewards_takes_the_expectation_over_next_states():
    # From state 0 action 0: s' = 0 w.p. 1/4 (reward 4), s' = 1 w.p. 3/4 (reward -4):
    # R(0, 0) = 1/4 * 4 + 3/4 * (-4) = -2.   Action 1: s' = 1 surely with reward 7 => R(0, 1) = 7.
    P = np.zeros((2, 2, 2))
    P[0, 0] = [0.25, 0.75]
    P[0, 1, 1] = P[1, :, 1] = 1.0
    R3 = np.zeros((2, 2, 2))
    R3[0, 0] = [4.0, -4.0]
    R3[0, 1] = [100.0, 7.0]                                       # s' = 0 has probability 0
    mdp = FiniteMDP.from_transition_rewards(P, R3, [1.0, 0.0], 0.5, np.array([False, True]))
    np.testing.assert_allclose(mdp.R, [[-2.0, 7.0], [0.0, 0.0]])
    with pytest.raises(ValueError, match="R3 must have the shape of P"):
        FiniteMDP.from_transition_rewards(P, R3[:, :1], [1.0, 0.0], 0.5)


# ------------------------------------------------------------------ random MDPs

def test_random_mdp_is_seeded_and_valid():
    a = M.random_mdp(6, 3, np.random.default_rng(4), gamma=0.8, n_terminal=2, p_terminate=0.1)
    b = M.random_mdp(6, 3, 4, gamma=0.8, n_terminal=2, p_terminate=0.1)
    c = M.random_mdp(6, 3, 5, gamma=0.8, n_terminal=2, p_terminate=0.1)
    for k in ("P", "R", "mu0", "terminal"):
        np.testing.assert_array_equal(getattr(a, k), getattr(b, k))
    assert not np.array_equal(a.P, c.P)
    assert a.terminal.tolist() == [False] * 4 + [True] * 2
    assert np.all(a.mu0[4:] == 0.0) and np.all(a.R[4:] == 0.0)
    assert np.all(a.P[:4, :, 4:].sum(-1) >= 0.1)                 # p_terminate to the terminals


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(n_states=0), ValueError, "n_states"),
    (dict(n_actions=2.5), TypeError, "n_actions"),
    (dict(n_terminal=3), ValueError, "n_terminal must lie in"),
    (dict(n_terminal=1.0), TypeError, "n_terminal"),
    (dict(alpha=0.0), ValueError, "alpha"),
    (dict(p_terminate=2.0), ValueError, "p_terminate"),
    (dict(reward_scale=np.inf), ValueError, "reward_scale"),
    (dict(gamma=2.0), ValueError, "gamma"),
])
def test_random_mdp_bad_input(kwargs, exc, match):
    args = dict(n_states=3, n_actions=2, rng=0) | kwargs
    with pytest.raises(exc, match=match):
        M.random_mdp(**args)


# ------------------------------------------------------------------ gymnasium toy-text

def test_frozen_lake_4x4_slippery_table():
    mdp = M.frozen_lake("4x4", is_slippery=True, gamma=0.9)
    # Map SFFF / FHFH / FFFH / HFFG: holes 5, 7, 11, 12 and the goal 15 are terminal.
    assert (mdp.n_states, mdp.n_actions, mdp.gamma) == (16, 4, 0.9)
    assert np.flatnonzero(mdp.terminal).tolist() == [5, 7, 11, 12, 15]
    assert mdp.mu0[0] == 1.0
    # State 14 (row 3, col 2), action RIGHT = 2 slips to DOWN, RIGHT, UP with 1/3 each:
    # DOWN hits the bottom edge and stays at 14, RIGHT enters the goal 15 (reward 1), UP -> 10.
    np.testing.assert_allclose(mdp.P[14, 2, [10, 14, 15]], [1 / 3] * 3)
    np.testing.assert_allclose(mdp.R[14, 2], 1 / 3)
    assert np.all(mdp.R[mdp.terminal] == 0) and np.all(mdp.P[15, :, 15] == 1)


def test_frozen_lake_8x8_deterministic_and_bad_map():
    mdp = M.frozen_lake("8x8", is_slippery=False)
    assert (mdp.n_states, mdp.n_actions, int(mdp.terminal.sum())) == (64, 4, 11)
    assert np.all(np.max(mdp.P, axis=2) == 1.0)                 # every row is deterministic
    assert mdp.R.sum() == 2.0                                     # 62 -> 63 (RIGHT), 55 -> 63 (DOWN)
    with pytest.raises(ValueError, match="map_name"):
        M.frozen_lake("5x5")


def test_cliff_walking_table():
    mdp = M.cliff_walking(gamma=0.95)
    assert (mdp.n_states, mdp.n_actions) == (48, 4)
    assert np.flatnonzero(mdp.terminal).tolist() == [47] and mdp.mu0[36] == 1.0
    # From the start 36, RIGHT (1) steps into the cliff: reward -100 and back to the start.
    assert mdp.P[36, 1, 36] == 1.0 and mdp.R[36, 1] == -100.0
    # From 35 (above the goal), DOWN (2) enters the goal with reward -1.
    assert mdp.P[35, 2, 47] == 1.0 and mdp.R[35, 2] == -1.0


def test_taxi_table():
    mdp = M.taxi(gamma=0.9)
    assert (mdp.n_states, mdp.n_actions, int(mdp.terminal.sum())) == (500, 6, 4)
    # State s = ((row * 5 + col) * 5 + passenger) * 4 + destination. Terminal: the passenger
    # delivered at its destination. From a state with the passenger not yet delivered, a
    # drop-off (action 5) is the only way into a terminal state, with reward +20.
    passenger, destination = (np.arange(500) // 4) % 5, np.arange(500) % 4
    waiting = passenger != destination
    into_terminal = mdp.P[:, :, mdp.terminal].sum(-1) * waiting[:, None]
    s, a = np.nonzero(into_terminal)
    assert set(a.tolist()) == {5} and np.all(mdp.R[s, a] == 20.0)
    assert set(np.unique(mdp.R[mdp.nonterminal]).tolist()) <= {-1.0, -10.0, 20.0}
    assert np.all(mdp.mu0[mdp.terminal] == 0)


def test_toy_text_matches_stepping_the_environment():
    import gymnasium as gym

    mdp = M.frozen_lake("4x4", is_slippery=False)
    env = gym.make("FrozenLake-v1", is_slippery=False)
    s, _ = env.reset(seed=0)
    for a in [1, 1, 2, 1, 2, 2]:                                  # down, down, right, down, right, right
        s_next, r, terminated, _, _ = env.step(a)
        assert mdp.P[s, a, s_next] == 1.0 and mdp.R[s, a] == r
        assert bool(mdp.terminal[s_next]) == terminated
        s = s_next
    env.close()


def test_from_gymnasium_rejects_other_envs():
    with pytest.raises(TypeError, match="toy-text"):
        M.from_gymnasium(object(), 0.9)
