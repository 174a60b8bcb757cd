"""Exact estimator moments (npg.estimator_stats): enumeration against the second-moment recursion,
both against independent exact code, the sampled covariance against the exact one, the optimal
baseline, and bad input."""

import math

import numpy as np
import pytest
from dataclasses import dataclass

import npg.estimators as E
from hypothesis import given, settings
from hypothesis import strategies as st

from npg.estimator_stats import (EnumerationTooLarge, baseline_quadratic, count_trajectories,
                                 enumerate_trajectories, enumerated_moments, exact_moments,
                                 recursive_moments, return_moments, return_variance,
                                 score_tables, score_weighted_baseline, variance_ratios)
from npg.returns import discounted_returns
from npg.mdp import (FiniteMDP, evaluate, finite_horizon_gradient, policy_gradient, random_mdp)
from npg.params import flatten
from npg.policies import TabularSoftmaxPolicy

Z_MAX = 4.5


def problem(seed=0, n_states=4, n_actions=2, n_terminal=1, offset=1.0, gamma=0.8):
    """A random MDP (terminating w.p. >= 0.2 per step when n_terminal > 0) and tabular policy."""
    base = random_mdp(n_states, n_actions, np.random.default_rng(seed), gamma=gamma,
                      n_terminal=n_terminal, p_terminate=0.2 if n_terminal else 0.0)
    mdp = FiniteMDP(base.P, base.R + offset * (~base.terminal)[:, None], base.mu0, base.gamma,
                    terminal=base.terminal)
    pol = TabularSoftmaxPolicy(n_states, n_actions)
    params = {"theta": 0.5 * np.random.default_rng(seed + 1).standard_normal(
        (n_states, n_actions))}
    return mdp, pol, params


def all_estimators(pi, V, Q, A):
    bad = V + 0.3 * np.cos(np.arange(V.size))              # an imperfect critic
    beta = 0.5 * pi + 0.5 / pi.shape[1]
    return [E.WholeReturn(), E.RewardToGo(), E.RewardToGo(False), E.Baseline(V),
            E.Baseline(np.full(V.shape, 0.7)), E.ExactQ(Q), E.ExactA(A), E.TD(V), E.TD(bad),
            E.GAE(bad, 0.0), E.GAE(bad, 0.6), E.GAE(V, 1.0), E.ImportanceSampled(beta),
            E.ImportanceSampled(beta, per_decision=False)]


# --------------------------------------------------------------------------- enumeration

def test_enumeration_lists_every_trajectory_once_with_its_probability():
    mdp, pol, params = problem()
    pi, _ = score_tables(mdp, pol, params)
    traj, prob = enumerate_trajectories(mdp, pi, 5)
    assert prob.size == count_trajectories(mdp, pi, 5)
    assert math.isclose(prob.sum(), 1.0, rel_tol=0, abs_tol=1e-12)
    key = np.concatenate([traj.states, traj.actions, traj.valid], axis=0).T
    assert np.unique(key, axis=0).shape[0] == prob.size               # all distinct
    # every column is a possible sampler output: p(tau) recomputed from the MDP
    p = np.asarray(mdp.mu0)[traj.states[0]].copy()
    for t in range(5):
        s, a, s2 = traj.states[t], traj.actions[t], traj.states[t + 1]
        p *= np.where(traj.valid[t], pi[s, a] * np.asarray(mdp.P)[s, a, s2], 1.0)
    np.testing.assert_allclose(p, prob, rtol=1e-12)


def test_hand_counted_chain():
    # two live states, both actions move 0 <-> 1 or end (state 2): with pi uniform, from s0 the
    # 2 actions x {next live state, terminal} branches: 4 per step; horizon 2: 2 end at t=0
    # (2 actions into the terminal), the 2 survivors branch into 4 each -> 2 + 8 = 10.
    P = np.zeros((3, 2, 3))
    P[0, :, [1, 2]] = 0.5
    P[1, :, [0, 2]] = 0.5
    P[2, :, 2] = 1.0
    mdp = FiniteMDP(P, np.zeros((3, 2)), np.array([1.0, 0, 0]), 0.9,
                    terminal=np.array([False, False, True]))
    assert count_trajectories(mdp, np.full((3, 2), 0.5), 2) == 10
    assert count_trajectories(mdp, np.full((3, 2), 0.5), 1) == 4


def test_too_long_a_horizon_says_how_much_memory_it_needs():
    mdp, pol, params = problem()
    with pytest.raises(EnumerationTooLarge, match=r"horizon 40 gives [\d,]+ trajectories and "
                                                  r"would need about .* GiB"):
        enumerated_moments(mdp, pol, params, E.RewardToGo(), 40)
    assert issubclass(EnumerationTooLarge, MemoryError)
    assert issubclass(EnumerationTooLarge, ValueError)


# ------------------------------------------------------- enumeration == recursion (1e-10)

@pytest.mark.parametrize("n_terminal, horizon", [(1, 6), (0, 4)])
def test_enumeration_and_recursion_agree_for_every_estimator(n_terminal, horizon):
    # n_terminal = 0: every episode is truncated at the cap, so the bootstrap of TD / GAE at
    # the truncation and the cut-off of the Monte-Carlo returns are both exercised.
    mdp, pol, params = problem(seed=3, n_terminal=n_terminal)
    pi, _ = score_tables(mdp, pol, params)
    V, Q, A = evaluate(mdp, pi)
    for est in all_estimators(pi, V, Q, A):
        a = enumerated_moments(mdp, pol, params, est, horizon)
        b = recursive_moments(mdp, pol, params, est, horizon)
        c = recursive_moments(mdp, pol, params, est, horizon, trace_only=True)
        assert np.max(np.abs(a.mean - b.mean)) <= 1e-10, est.name
        assert np.max(np.abs(a.cov - b.cov)) <= 1e-10, est.name
        assert abs(a.variance - c.variance) <= 1e-10, est.name
        assert a.variance > 1e-3, est.name                     # not a vacuous comparison


@settings(max_examples=12, deadline=None)
@given(st.integers(0, 2 ** 32 - 1), st.integers(2, 4), st.integers(1, 3), st.integers(0, 1),
       st.integers(1, 4), st.floats(0.3, 1.0))
def test_enumeration_and_recursion_agree_on_random_mdps(seed, S, A, n_terminal, T, gamma):
    mdp, pol, params = problem(seed, S, A, min(n_terminal, S - 1), gamma=gamma)
    pi, _ = score_tables(mdp, pol, params)
    V, Q, Adv = evaluate(mdp, pi) if gamma < 1 or n_terminal else (np.zeros(S), None, None)
    ests = [E.WholeReturn(), E.RewardToGo(), E.TD(V + 0.2), E.GAE(V - 0.1, 0.7),
            E.ImportanceSampled(0.5 * pi + 0.5 / A, per_decision=bool(seed % 2))]
    for est in ests:
        a = enumerated_moments(mdp, pol, params, est, T)
        b = recursive_moments(mdp, pol, params, est, T)
        assert np.max(np.abs(a.mean - b.mean)) <= 1e-10, est.name
        assert np.max(np.abs(a.cov - b.cov)) <= 1e-10, est.name


def test_recursion_mean_matches_independent_exact_gradients():
    mdp, pol, params = problem(seed=5)
    T = 7
    exact_T = flatten(finite_horizon_gradient(mdp, pol, params, T, mdp.gamma))
    m = recursive_moments(mdp, pol, params, E.RewardToGo(), T)
    np.testing.assert_allclose(m.mean, exact_T, rtol=0, atol=1e-12)
    # a long cap: the truncation term is below 0.8^300 * max|R| / 0.2 ~ 1e-28
    grad = flatten(policy_gradient(mdp, pol, params))
    pi, _ = score_tables(mdp, pol, params)
    V, Q, A = evaluate(mdp, pi)
    for est in (E.RewardToGo(), E.Baseline(V), E.TD(V), E.GAE(V, 0.5), E.ExactA(A),
                E.WholeReturn()):
        m = exact_moments(mdp, pol, params, est, 300, exact=grad)
        assert m.bias_norm <= 1e-10, est.name
        assert m.mse == pytest.approx(m.variance + m.bias_norm ** 2)
        assert m.cosine == pytest.approx(1.0, abs=1e-12)


def test_auto_falls_back_to_enumeration_for_an_estimator_without_a_tail_form():
    @dataclass(frozen=True)
    class ClippedReturn:                     # w_t = gamma^t min(G_t, 1.5): not a linear tail
        name: str = "clipped"
        behaviour = None

        def weights(self, traj, gamma, pi):
            g = E.RewardToGo().weights(traj, gamma, pi)
            disc = (gamma ** np.arange(traj.horizon))[:, None]
            return np.minimum(g / disc, 1.5) * disc

    mdp, pol, params = problem()
    m = exact_moments(mdp, pol, params, ClippedReturn(), 4)
    assert m.method == "enumeration" and m.variance > 0
    with pytest.raises(TypeError, match="no second-moment recursion is known for ClippedReturn"):
        exact_moments(mdp, pol, params, ClippedReturn(), 4, method="recursion")


# ------------------------------------------------------------ sampled against exact moments

def test_sampled_covariance_agrees_with_the_exact_one():
    """z-tests on the trace and on single entries of the covariance, M = 40 000 trajectories.

    With mu the exact mean, q_m = ||g_m - mu||^2 has mean tr Sigma, and x_m = (g_mi - mu_i)
    (g_mj - mu_j) has mean Sigma_ij; z = (mean - exact) / (sd / sqrt(M)). 7 statistics for each
    of 7 estimators at |z| < 4.5 (Bonferroni: false alarm < 49 * 6.8e-6 = 3.3e-4). Power:
    measured sd(q) / tr Sigma = 1.3 (TD) to 3.2 (IS whole trajectory), so a relative error e of
    the trace has E[z] >= e sqrt(M) / 3.2 = 62 e: an error of 10% (E[z] = 6.2 > 4.5 + 1.645) is
    caught with probability >= 95%, and a covariance 10% too small is flagged below for every
    estimator. Single diagonal entries have sd(x_ii) / Sigma_ii of 2.9 to 8: a 25% error of one
    entry is caught likewise. The last state is terminal: its two coordinates are always 0.
    """
    mdp, pol, params = problem(seed=2)
    pi, _ = score_tables(mdp, pol, params)
    V, _, _ = evaluate(mdp, pi)
    beta = 0.5 * pi + 0.25
    T, M = 30, 40_000
    for est in (E.RewardToGo(), E.Baseline(V), E.TD(V + 0.3),
                E.GAE(V + 0.3 * np.cos(np.arange(4)), 0.6), E.WholeReturn(),
                E.ImportanceSampled(beta), E.ImportanceSampled(beta, per_decision=False)):
        exact = recursive_moments(mdp, pol, params, est, T)
        g = E.gradient_estimates(mdp, pol, params, est, M, T, np.random.default_rng(11))
        d = g - exact.mean
        stats = [(np.sum(d * d, axis=1), exact.variance)]
        assert np.all(np.diag(exact.cov)[:6] > 0)
        for (a, b) in [(0, 0), (3, 3), (5, 5), (0, 1), (1, 4), (2, 5)]:
            stats.append((d[:, a] * d[:, b], exact.cov[a, b]))
        z = [(x.mean() - target) / (x.std(ddof=1) / math.sqrt(M)) for x, target in stats]
        assert max(abs(v) for v in z) < Z_MAX, (est.name, z)
        q = stats[0][0]
        assert q.std() / exact.variance < 3.3                 # the power statement above
        # power: the same statistic flags a covariance that is 10% too small
        z_wrong = (q.mean() - 0.9 * exact.variance) / (q.std(ddof=1) / math.sqrt(M))
        assert z_wrong > Z_MAX, est.name


# ------------------------------------------------------------------------ optimal baseline

def test_optimal_baseline_is_exact_and_beats_the_usual_baselines():
    mdp, pol, params = problem(seed=4, offset=2.0)
    pi, _ = score_tables(mdp, pol, params)
    V, Q, _ = evaluate(mdp, pi)
    T = 6
    qr = baseline_quadratic(mdp, pol, params, T)
    qe = baseline_quadratic(mdp, pol, params, T, method="enumeration")
    assert np.max(np.abs(qr.H - qe.H)) <= 1e-10 and np.max(np.abs(qr.v - qe.v)) <= 1e-10
    b_star = qr.optimal()
    np.testing.assert_allclose(qr.H @ b_star, qr.v, atol=1e-10)      # gradient 2 (H b - v) = 0
    usual = {"none": 0.0, "constant": qr.optimal_constant(), "V": V,
             "score-weighted": score_weighted_baseline(mdp, pol, params, Q)}
    for b in list(usual.values()) + [b_star]:                        # the quadratic is exact
        b = np.broadcast_to(b, V.shape).copy()
        direct = enumerated_moments(mdp, pol, params, E.Baseline(b), T).variance
        assert abs(qr.variance(b) - direct) <= 1e-10
    ratios = variance_ratios(qr, usual)
    assert all(r >= 1.0 - 1e-12 for r in ratios.values())
    assert ratios["none"] > 2.0                # the offset of 2 makes no baseline much worse
    rng = np.random.default_rng(0)
    for _ in range(5):                         # b* is a minimum: perturbations only add
        assert qr.variance(b_star + 0.1 * rng.standard_normal(V.shape)) >= qr.variance(b_star)


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 2 ** 32 - 1))
def test_baseline_variance_gradient_is_the_central_difference(seed):
    mdp, pol, params = problem(seed=1)
    q = baseline_quadratic(mdp, pol, params, 5)
    b = np.random.default_rng(seed).normal(0.0, 2.0, mdp.n_states)
    ana, h = q.variance_gradient(b), 1e-5
    num = np.array([(q.variance(b + h * e) - q.variance(b - h * e)) / (2 * h)
                    for e in np.eye(mdp.n_states)])
    assert np.all(np.abs(num - ana) <= 1e-7 + 1e-6 * np.abs(ana))


# ---------------------------------------------------------------- Sobel: the return's variance

@pytest.mark.parametrize("n_terminal", [1, 0])
def test_return_variance_by_sobel_equals_enumeration(n_terminal):
    mdp, pol, params = problem(seed=6, n_terminal=n_terminal)
    pi, _ = score_tables(mdp, pol, params)
    T = 6
    traj, prob = enumerate_trajectories(mdp, pi, T)
    G0 = discounted_returns(traj.rew, traj.terminated, traj.truncated, mdp.gamma)[0]
    mean = prob @ G0
    assert abs(return_variance(mdp, pi, T) - prob @ (G0 - mean) ** 2) <= 1e-10
    m, _ = return_moments(mdp, pi, T)
    assert abs(np.asarray(mdp.mu0) @ m - mean) <= 1e-12
    # horizon None: the infinite-horizon linear solves equal a long iteration (0.8^400 ~ 1e-39)
    m_inf, m2_inf = return_moments(mdp, pi)
    m_T, m2_T = return_moments(mdp, pi, 400)
    np.testing.assert_allclose(m_inf, m_T, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(m2_inf, m2_T, rtol=1e-12, atol=1e-12)


# -------------------------------------------------------------------------------- bad input

def test_bad_input():
    mdp, pol, params = problem()
    pi, _ = score_tables(mdp, pol, params)
    with pytest.raises(ValueError, match="method must be"):
        exact_moments(mdp, pol, params, E.RewardToGo(), 3, method="sampling")
    with pytest.raises(ValueError, match="horizon must be a positive int"):
        recursive_moments(mdp, pol, params, E.RewardToGo(), 0)
    with pytest.raises(ValueError, match=r"values must have shape \[4\]"):
        recursive_moments(mdp, pol, params, E.TD(np.zeros(3)), 3)
    beta = np.array(pi)
    beta[0] = [1.0, 0.0]
    with pytest.raises(ValueError, match="behaviour must be > 0 wherever"):
        recursive_moments(mdp, pol, params, E.ImportanceSampled(beta), 3)
    q = baseline_quadratic(mdp, pol, params, 3)
    with pytest.raises(ValueError, match=r"b must be a scalar or have shape \[S\] = \[4\]"):
        q.variance(np.zeros(3))
    with pytest.raises(ValueError, match="no target gradient"):
        recursive_moments(mdp, pol, params, E.RewardToGo(), 3).bias
