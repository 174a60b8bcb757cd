"""Sampled policy-gradient estimators against the exact gradient of finite MDPs.

Statistical tests are seeded z-tests. For an estimator with per-coordinate standard deviation sd,
the mean of M independent estimates has standard error sd / sqrt(M), so a bias of 0.05 sd has
E[z] = 0.05 sqrt(M). With the threshold |z| < 4.5 per coordinate (Bonferroni: two-sided
P(|z| > 4.5) = 6.8e-6 per coordinate, so < 1e-3 for the <= 60 coordinates of any test here), a
0.05 sd bias is flagged with probability >= 95% when 0.05 sqrt(M) >= 4.5 + 1.645, i.e.
M >= ceil((6.145 / 0.05)^2) = 15 105 (``required_samples()``). We use M = 16 000:
E[z] = 6.32 for such a bias, which is then flagged with probability Phi(1.82) = 96.6%.
"""

import math

import numpy as np
import pytest

import npg.estimators as E
from npg.features import OneHot
from npg.mdp import FiniteMDP, evaluate, policy_gradient, random_mdp, visitation
from npg.mdp.sampler import Trajectories, sample_trajectories
from npg.params import flatten
from npg.policies import LinearSoftmaxPolicy, TabularSoftmaxPolicy

Z_MAX = 4.5
M = 16_000
HORIZON = 100


def test_sample_size_catches_a_bias_of_005_sd():
    assert E.required_samples(0.05, 4.5, 1.645) == 15_105
    assert M >= E.required_samples()
    assert 0.05 * math.sqrt(M) - Z_MAX > 1.645


# ------------------------------------------------------------------------------------ MDPs

def offset_random_mdp(seed=0, offset=2.0):
    """6 states (the last terminal), 3 actions, gamma 0.8, every step terminates w.p. >= 0.1.

    Rewards are shifted by ``offset`` on live states: a constant in the return that a baseline
    removes. Horizon 100: an episode is still running with probability <= 0.9^100 = 3e-5, and the
    cut-off tail is worth at most 0.8^100 * 3 / 0.2 = 3e-9, far below any standard error here.
    """
    base = random_mdp(6, 3, np.random.default_rng(seed), gamma=0.8, n_terminal=1,
                      p_terminate=0.1)
    R = base.R + offset * (~base.terminal)[:, None]
    return FiniteMDP(base.P, R, base.mu0, base.gamma, terminal=base.terminal)


def bias_exposing_mdp():
    """A chain built so that dropping gamma^t, or a wrong critic, visibly moves the mean.

    States 0 (start), 1, 2, 3 (terminal); actions 0, 1; gamma = 0.5.
      s0: a0 -> s1, reward 0;   a1 -> s2, reward 0.5.
      s1: a0 -> stay w.p. 0.8 (else end), reward 1;  a1 -> s2 w.p. 0.8 (else end), reward 0.
      s2: a0 -> s1 w.p. 0.5 (else end), reward 0;    a1 -> stay w.p. 0.8 (else end), reward 0.5.
    Episodes last about 5 steps while gamma^t decays by 2 per step, so the undiscounted visit
    count of s1, s2 (about 2-4) is far larger than the discounted one (< 1): dropping gamma^t
    inflates their gradient coordinates several-fold. From s0 the two actions lead to different
    states, so a critic error of opposite sign on s1 and s2 biases the TD gradient at s0.
    """
    P = np.zeros((4, 2, 4))
    P[0, 0, 1] = P[0, 1, 2] = 1.0
    P[1, 0, [1, 3]] = [0.8, 0.2]
    P[1, 1, [2, 3]] = [0.8, 0.2]
    P[2, 0, [1, 3]] = [0.5, 0.5]
    P[2, 1, [2, 3]] = [0.8, 0.2]
    P[3, :, 3] = 1.0
    R = np.array([[0.0, 0.5], [1.0, 0.0], [0.0, 0.5], [0.0, 0.0]])
    return FiniteMDP(P, R, np.array([1.0, 0, 0, 0]), 0.5,
                     terminal=np.array([False, False, False, True]))


def tabular(mdp, seed=1, scale=0.5):
    pol = TabularSoftmaxPolicy(mdp.n_states, mdp.n_actions)
    params = pol.init(np.random.default_rng(seed))
    params = {"theta": scale * np.random.default_rng(seed).standard_normal(
        params["theta"].shape)}
    return pol, params, np.arange(mdp.n_states)


def setup(mdp, pol, params, obs):
    pi, _ = E.score_table(pol, params, obs)
    V, Q, A = evaluate(mdp, pi)
    exact = flatten(policy_gradient(mdp, pol, params, obs))
    return pi, V, Q, A, exact


# ------------------------------------------------------------- hand-derived weights

def hand_trajectory():
    """One episode: s0=0 -a=1-> r=1, s1=1 -a=0-> r=2, then s2=2 (terminal)."""
    return Trajectories(states=np.array([[0], [1], [2]]), actions=np.array([[1], [0]]),
                        rew=np.array([[1.0], [2.0]]), terminated=np.array([[False], [True]]),
                        truncated=np.array([[False], [False]]), valid=np.ones((2, 1), bool))


PI3 = np.array([[0.5, 0.5], [0.2, 0.8], [0.5, 0.5]])


@pytest.mark.parametrize("est, expected", [
    # gamma = 0.5: G_1 = 2, G_0 = 1 + 0.5 * 2 = 2.
    (E.WholeReturn(), [2.0, 2.0]),                          # w_t = G_0
    (E.RewardToGo(), [2.0, 1.0]),                           # [G_0, 0.5 G_1]
    (E.RewardToGo(False), [2.0, 2.0]),                      # [G_0, G_1]
    (E.Baseline(np.array([1.0, 3.0, 0.0])), [1.0, -0.5]),   # [2 - 1, 0.5 (2 - 3)]
    (E.ExactQ(np.array([[0, 4.0], [6.0, 0], [0, 0]])), [4.0, 3.0]),  # [Q(0,1), 0.5 Q(1,0)]
    # delta_0 = 1 + 0.5 V(1) - V(0) = 1 + 1.5 - 1 = 1.5; delta_1 = 2 + 0 (terminated) - 3 = -1
    (E.TD(np.array([1.0, 3.0, 9.0])), [1.5, -0.5]),
    # GAE lam = 0.5: A_1 = -1, A_0 = 1.5 + 0.25 (-1) = 1.25;  w = [1.25, 0.5 (-1)]
    (E.GAE(np.array([1.0, 3.0, 9.0]), lam=0.5), [1.25, -0.5]),
    # beta(1|0) = 0.25 -> rho_0 = 0.5 / 0.25 = 2;  beta(0|1) = 0.4 -> rho_1 = 0.2 / 0.4 = 0.5;
    # c = [2, 1]; per-decision: w_0 = c_0 r_0 + 0.5 c_1 r_1 = 2 + 1 = 3, w_1 = 0.5 (c_1 r_1) = 1
    (E.ImportanceSampled(np.array([[0.75, 0.25], [0.4, 0.6], [0.5, 0.5]])), [3.0, 1.0]),
    # whole trajectory: c_1 = 1 times the reward-to-go weights [2, 1]
    (E.ImportanceSampled(np.array([[0.75, 0.25], [0.4, 0.6], [0.5, 0.5]]), False), [2.0, 1.0]),
])
def test_weights_by_hand(est, expected):
    w = est.weights(hand_trajectory(), 0.5, PI3)
    np.testing.assert_allclose(w[:, 0], expected, rtol=1e-12)


# ------------------------------------------------------------ identities between estimators

def test_weight_identities():
    mdp = offset_random_mdp()
    pol, params, obs = tabular(mdp)
    pi, V, Q, A, _ = setup(mdp, pol, params, obs)
    tr = sample_trajectories(mdp, pi, 400, 12, np.random.default_rng(3))   # some truncated
    g = 0.8
    disc = (g ** np.arange(12))[:, None]
    w = {name: est.weights(tr, g, pi) for name, est in {
        "rtg": E.RewardToGo(), "whole": E.WholeReturn(), "base": E.Baseline(V),
        "q": E.ExactQ(Q), "a": E.ExactA(A), "td": E.TD(V), "gae0": E.GAE(V, 0.0),
        "gae1": E.GAE(V, 1.0), "is": E.ImportanceSampled(pi), "isw": E.ImportanceSampled(
            pi, False)}.items()}
    s = tr.states[:-1]
    np.testing.assert_allclose(w["whole"][0], w["rtg"][0])           # same at t = 0
    np.testing.assert_allclose(w["rtg"] - w["base"], np.where(tr.valid, disc * V[s], 0))
    np.testing.assert_allclose(w["q"] - w["a"], np.where(tr.valid, disc * V[s], 0))
    np.testing.assert_allclose(w["gae0"], w["td"], atol=1e-12)         # GAE(0) = TD(0)
    # GAE(1) telescopes to G_t - V(s_t) + gamma^(end-t+1) V(s_end+1) at a truncation.
    end = np.argmax(tr.truncated | tr.terminated, axis=0)
    tail = np.where(tr.truncated.any(axis=0), V[tr.states[end + 1, np.arange(400)]], 0.0)
    boot = g ** (end[None, :] + 1 - np.arange(12)[:, None]) * tail[None, :]
    np.testing.assert_allclose(w["gae1"], w["base"] + np.where(tr.valid, disc * boot, 0),
                               atol=1e-10)
    np.testing.assert_allclose(w["is"], w["rtg"], atol=1e-12)          # beta = pi: ratios 1
    np.testing.assert_allclose(w["isw"], w["rtg"], atol=1e-12)


@pytest.mark.parametrize("make", ["tabular", "linear_onehot"])
def test_score_table_path_equals_policy_score_sum(make):
    mdp = offset_random_mdp(seed=2)
    if make == "tabular":
        pol, params, obs = tabular(mdp)
    else:
        pol = LinearSoftmaxPolicy(OneHot(mdp.n_states), mdp.n_actions)
        params, obs = pol.init(np.random.default_rng(4)), np.arange(mdp.n_states)
    pi, table = E.score_table(pol, params, obs)
    tr = sample_trajectories(mdp, pi, 30, 15, np.random.default_rng(5))
    w = np.random.default_rng(6).standard_normal((15, 30))
    g = E.estimates_from_weights(tr, w, table, mdp.n_actions, chunk_entries=100)  # 6 chunks
    for m in range(30):
        v = tr.valid[:, m]
        ref = pol.score_sum(params, obs[tr.states[:-1, m][v]], tr.actions[v, m], w[v, m])
        np.testing.assert_allclose(g[m], flatten(ref), rtol=1e-10, atol=1e-12)
    # and the exact gradient from the table equals npg.mdp.policy_gradient
    V, Q, _ = evaluate(mdp, pi)
    d = visitation(mdp, pi)
    np.testing.assert_allclose(E.expected_score_sum(pol, params, obs, d[:, None] * pi * Q),
                               flatten(policy_gradient(mdp, pol, params, obs)), rtol=1e-10,
                               atol=1e-12)


# ------------------------------------------------------------------------ seeded z-tests

def test_unbiased_estimators_tabular():
    mdp = offset_random_mdp()
    pol, params, obs = tabular(mdp)
    pi, V, Q, A, exact = setup(mdp, pol, params, obs)
    v_bad = V + np.random.default_rng(9).normal(0.0, 1.0, V.shape)     # an imperfect critic
    beta = 0.7 * pi + 0.3 / mdp.n_actions                              # a different behaviour
    ests = [E.WholeReturn(), E.RewardToGo(), E.Baseline(np.full(6, 5.0), name="const b"),
            E.Baseline(V, name="V b"), E.Baseline(v_bad, name="bad-V b"), E.ExactQ(Q),
            E.ExactA(A), E.TD(V), E.GAE(V, 0.5, name="GAE .5"), E.GAE(V, 0.9, name="GAE .9"),
            E.GAE(v_bad, 1.0, name="bad-V GAE 1"), E.ImportanceSampled(beta),
            E.ImportanceSampled(beta, per_decision=False)]
    reps = E.compare_estimators(mdp, pol, params, ests, M, HORIZON, np.random.default_rng(10))
    for name, r in reps.items():
        assert r.max_abs_z < Z_MAX, (name, r.z)
        assert r.cosine > 0.99, name
    # an exact-V baseline leaves the mean unchanged (above) and lowers the variance
    ratio = reps["V b"].variance / reps["reward-to-go"].variance
    assert ratio < 0.5, ratio


def _undiscounted_visitation(mdp, pi):
    """d_1(s) = sum_t Pr(s_t = s) over live states: d_1 = mu0 + P_pi^T d_1 on live states."""
    live = ~mdp.terminal
    P_pi = np.einsum("sa,sat->st", pi, mdp.P)[np.ix_(live, live)]
    d = np.zeros(mdp.n_states)
    d[live] = np.linalg.solve(np.eye(live.sum()) - P_pi.T, mdp.mu0[live])
    return d


def test_biased_estimators_are_biased_by_the_predicted_amount():
    mdp = bias_exposing_mdp()
    pol, params, obs = tabular(mdp, seed=3)
    pi, V, Q, A, exact = setup(mdp, pol, params, obs)
    eps = np.array([0.0, 1.0, -1.0, 0.0])
    reps = E.compare_estimators(mdp, pol, params,
                                [E.RewardToGo(False), E.TD(V + eps, name="bad TD")],
                                M, HORIZON, np.random.default_rng(11), exact=exact)
    # gamma^t dropped: E[sum_t G_t score_t] = sum_t E[Q(s_t, a_t) score_t]
    #   = sum_s d_1(s) sum_a pi(a|s) Q(s, a) score(s, a), undiscounted visitation d_1.
    d1 = _undiscounted_visitation(mdp, pi)
    pred_nodisc = E.expected_score_sum(pol, params, obs, d1[:, None] * pi * Q)
    # TD with V' = V + eps: E[delta | s, a] = A(s, a) + gamma (P eps)(s, a) - eps(s); the
    # -eps(s) term is a baseline (sum_a pi score = 0), so the mean moves by
    #   sum_s d(s) sum_a pi(a|s) gamma (P eps)(s, a) score(s, a).
    d = visitation(mdp, pi)
    pred_td = exact + E.expected_score_sum(pol, params, obs,
                                           d[:, None] * pi * mdp.gamma * (mdp.P @ eps))
    for name, pred in (("reward-to-go (no gamma^t)", pred_nodisc), ("bad TD", pred_td)):
        r = reps[name]
        assert r.max_abs_z > 10 * Z_MAX, (name, r.z)                  # against grad J: biased
        z_pred = (r.mean - pred) / np.where(r.stderr > 0, r.stderr, 1.0)
        assert np.max(np.abs(z_pred)) < Z_MAX, (name, z_pred)          # as predicted


def test_unbiased_linear_onehot_policy():
    mdp = offset_random_mdp(seed=4)
    pol = LinearSoftmaxPolicy(OneHot(mdp.n_states), mdp.n_actions)
    params = pol.init(np.random.default_rng(12))
    obs = np.arange(mdp.n_states)
    pi, V, Q, A, exact = setup(mdp, pol, params, obs)
    reps = E.compare_estimators(mdp, pol, params, [E.RewardToGo(), E.ExactA(A), E.TD(V)],
                                M, HORIZON, np.random.default_rng(13), obs=obs)
    for name, r in reps.items():
        assert r.max_abs_z < Z_MAX, (name, r.z)


def test_unbiased_mlp_policy():
    policies = pytest.importorskip("npg.policies")
    if not hasattr(policies, "MLPCategoricalPolicy"):
        pytest.skip("MLPCategoricalPolicy not available")
    mdp = offset_random_mdp(seed=5)
    pol = policies.MLPCategoricalPolicy(obs_dim=mdp.n_states, n_actions=mdp.n_actions,
                                        hidden=(8,), activation="tanh")
    params = pol.init(np.random.default_rng(14))
    obs = np.eye(mdp.n_states)
    pi, V, Q, A, exact = setup(mdp, pol, params, obs)
    reps = E.compare_estimators(mdp, pol, params, [E.RewardToGo(), E.GAE(V, 0.9)],
                                M, HORIZON, np.random.default_rng(15), obs=obs)
    for name, r in reps.items():
        assert r.max_abs_z < Z_MAX, (name, r.z)


def test_harness_on_every_backend(xp):
    # The policy and its parameters may live on any array module; sampling and weights are
    # NumPy, so the same seed gives the same estimates.
    mdp = offset_random_mdp(seed=6)
    pol, params, obs = tabular(mdp)
    ref = E.gradient_estimates(mdp, pol, params, E.GAE(np.ones(6), 0.7), 50, 20, 0, obs=obs)
    params_xp = {k: xp.asarray(v) for k, v in params.items()}
    got = E.gradient_estimates(mdp, pol, params_xp, E.GAE(np.ones(6), 0.7), 50, 20, 0,
                               obs=xp.asarray(obs))
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-14)


# ---------------------------------------------------------------------------- the report

def test_summarize_by_hand():
    # g = [[1, 0], [3, 0]], exact [1, 0]: mean [2, 0]; sd (ddof 1) [sqrt 2, 0]; stderr [1, 0];
    # bias [1, 0]; z [1, 0] (the untouched coordinate has bias 0, stderr 0 -> z 0);
    # variance 2; mse = (0 + 4) / 2 = 2; every cosine with [1, 0] is 1.
    r = E.summarize(np.array([[1.0, 0.0], [3.0, 0.0]]), np.array([1.0, 0.0]), "x")
    np.testing.assert_allclose(r.mean, [2, 0])
    np.testing.assert_allclose(r.stderr, [1, 0])
    np.testing.assert_allclose(r.z, [1, 0])
    assert (r.variance, r.mse, r.cosine, r.mean_cosine) == pytest.approx((2.0, 2.0, 1.0, 1.0))
    assert r.n_samples == 2
    # a bias where no sample varies is infinitely significant, never NaN
    r = E.summarize(np.zeros((3, 2)), np.array([0.0, 1.0]))
    assert r.z[0] == 0 and r.z[1] == -np.inf and r.max_abs_z == np.inf


def test_bad_input():
    with pytest.raises(ValueError, match="M >= 2"):
        E.summarize(np.zeros((1, 3)), np.zeros(3))
    with pytest.raises(ValueError, match="finite"):
        E.summarize(np.array([[np.nan], [0.0]]), np.zeros(1))
    tr = hand_trajectory()
    with pytest.raises(ValueError, match="values must have shape"):
        E.Baseline(np.zeros(2)).weights(tr, 0.5, PI3)
    with pytest.raises(ValueError, match="lam"):
        E.GAE(np.zeros(3), lam=1.5).weights(tr, 0.5, PI3)
    mdp = offset_random_mdp()
    pol, params, obs = tabular(mdp)
    beta = np.tile([1.0, 0.0, 0.0], (6, 1))
    with pytest.raises(ValueError, match="behaviour must be > 0"):
        E.gradient_estimates(mdp, pol, params, E.ImportanceSampled(beta), 10, 5, 0, obs=obs)
    with pytest.raises(ValueError, match="effect"):
        E.required_samples(0.0)
