"""The vectorised finite-MDP sampler: alignment invariants, distribution, exact J, bad input."""

import math

import numpy as np
import pytest

from npg.mdp.exact import evaluate
from npg.mdp.finite import FiniteMDP
from npg.mdp.sampler import rollout, sample_trajectories


def small_mdp(gamma=0.9):
    """4 states, 3 actions; state 3 terminal; random rows (seeded)."""
    rng = np.random.default_rng(7)
    P = rng.dirichlet(np.ones(4), size=(4, 3))
    P[3] = 0.0
    P[3, :, 3] = 1.0
    R = rng.standard_normal((4, 3))
    R[3] = 0.0
    mu0 = np.array([0.5, 0.3, 0.2, 0.0])
    return FiniteMDP(P, R, mu0, gamma, terminal=np.array([False, False, False, True]))


PI = np.array([[0.2, 0.5, 0.3], [0.0, 0.4, 0.6], [1.0, 0.0, 0.0], [1 / 3, 1 / 3, 1 / 3]])


def test_alignment_invariants():
    mdp = small_mdp()
    tr = sample_trajectories(mdp, PI, n_traj=3000, horizon=6, rng=np.random.default_rng(0))
    T, M = 6, 3000
    assert tr.states.shape == (T + 1, M) and tr.rew.shape == (T, M) and tr.horizon == T
    assert tr.actions.dtype == np.int64 and tr.valid.dtype == bool and tr.n_traj == M
    v = tr.valid
    assert np.all(v[1:] <= v[:-1])                           # once ended, stays ended
    done = tr.terminated | tr.truncated
    assert np.all(done <= v)                                 # flags only on real steps
    assert not np.any(tr.terminated & tr.truncated)
    assert np.all(done.sum(axis=0) == (tr.lengths > 0))      # each episode ends exactly once
    assert not np.any(tr.truncated[:-1])                     # truncation only at the cap
    assert np.all(tr.valid[1:] == (v[:-1] & ~done[:-1]))     # the next step runs iff not done
    assert np.all(mdp.terminal[tr.states[1:]][tr.terminated])
    assert not np.any(mdp.terminal[tr.states[:-1]][v])        # never act in a terminal state
    assert np.all(tr.rew[~v] == 0) and np.all(tr.actions[~v] == 0)
    assert np.all(tr.rew[v] == mdp.R[tr.states[:-1][v], tr.actions[v]])
    ended = ~v
    assert np.all(tr.states[1:][ended] == tr.states[:-1][ended])  # state frozen after the end
    assert np.all(PI[tr.states[:-1], tr.actions][v] > 0)     # zero-probability actions never drawn
    assert tr.truncated[-1].sum() > 0 and tr.terminated.sum() > 0


def test_repeatable_bit_for_bit():
    a = sample_trajectories(small_mdp(), PI, 50, 8, np.random.default_rng(3))
    b = sample_trajectories(small_mdp(), PI, 50, 8, 3)   # an int seed is the same generator
    for f in ("states", "actions", "rew", "terminated", "truncated", "valid"):
        assert np.array_equal(getattr(a, f), getattr(b, f))


def _freq_z(counts, n, p):
    """z-scores of multinomial counts against probabilities p (0 where p is 0 or 1)."""
    sd = np.sqrt(n * p * (1 - p))
    return np.where(sd > 0, (counts - n * p) / np.where(sd > 0, sd, 1.0), 0.0)


def test_frequencies_match_mu0_pi_and_P():
    mdp = small_mdp()
    tr = sample_trajectories(mdp, PI, 40_000, 2, np.random.default_rng(1))
    s0, a0, s1 = tr.states[0], tr.actions[0], tr.states[1]
    zs = [_freq_z(np.bincount(s0, minlength=4), s0.size, mdp.mu0)]
    for s in range(3):
        m = s0 == s
        zs.append(_freq_z(np.bincount(a0[m], minlength=3), m.sum(), PI[s]))
        for a in range(3):
            ma = m & (a0 == a)
            if ma.sum():
                zs.append(_freq_z(np.bincount(s1[ma], minlength=4), ma.sum(), mdp.P[s, a]))
    assert np.max(np.abs(np.concatenate(zs))) < 4.5         # Bonferroni over ~50 cells


def test_mean_discounted_return_equals_exact_J():
    # E[sum_t gamma^t r_t] = mu0 . V^pi; the horizon 60 cuts off at most
    # gamma^60 max|R| / (1 - gamma) = 0.8^60 * 2.2 / 0.2 ~ 2e-5, far below the standard error.
    mdp = small_mdp(gamma=0.8)
    tr = sample_trajectories(mdp, PI, 20_000, 60, np.random.default_rng(2))
    ret = (0.8 ** np.arange(60))[:, None] * tr.rew
    g = ret.sum(axis=0)
    V, _, _ = evaluate(mdp, PI)
    z = (g.mean() - mdp.mu0 @ V) / (g.std(ddof=1) / math.sqrt(g.size))
    assert abs(z) < 4.5


def test_start_in_terminal_state_has_no_steps():
    mdp = small_mdp()
    mdp0 = FiniteMDP(mdp.P, mdp.R, np.array([0.0, 0.0, 0.0, 1.0]), 0.9, terminal=mdp.terminal)
    tr = sample_trajectories(mdp0, PI, 10, 5, 0)
    assert not tr.valid.any() and np.all(tr.states == 3) and not tr.truncated.any()


def test_bad_input():
    mdp = small_mdp()
    with pytest.raises(ValueError, match="pi must have shape"):
        sample_trajectories(mdp, PI[:3], 5, 5, 0)
    with pytest.raises(ValueError, match="pi rows must sum to 1"):
        sample_trajectories(mdp, PI * 0.9, 5, 5, 0)
    bad = PI.copy()
    bad[0] = [1.2, -0.2, 0.0]
    with pytest.raises(ValueError, match=">= 0"):
        sample_trajectories(mdp, bad, 5, 5, 0)
    nan = PI.copy()
    nan[0, 0] = np.nan
    with pytest.raises(ValueError, match="finite"):
        sample_trajectories(mdp, nan, 5, 5, 0)
    with pytest.raises(ValueError, match="n_traj"):
        sample_trajectories(mdp, PI, 0, 5, 0)
    with pytest.raises(TypeError, match="horizon"):
        sample_trajectories(mdp, PI, 5, 2.5, 0)
    with pytest.raises(TypeError, match="rng"):
        sample_trajectories(mdp, PI, 5, 5, "seed")


def test_rollout_under_a_policy_equals_sampling_its_matrix():
    from npg.policies import TabularSoftmaxPolicy
    mdp = small_mdp()
    pol = TabularSoftmaxPolicy(4, 3)
    params = pol.init(np.random.default_rng(0))
    a = rollout(mdp, pol, params, 40, 7, np.random.default_rng(1))
    b = sample_trajectories(mdp, pol.probs(params, np.arange(4)), 40, 7, np.random.default_rng(1))
    assert np.array_equal(a.states, b.states) and np.array_equal(a.actions, b.actions)
