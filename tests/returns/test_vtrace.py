"""V-trace (npg.returns.vtrace): a plain-Python reference loop, the on-policy identities, the
rewards' derivative against central differences, every backend, the exact operator on finite
MDPs (theorem 1 of Espeholt et al. 2018) and bad input."""

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from npg.backend import to_numpy
from npg.mdp import evaluate, random_mdp, sample_trajectories
from npg.mdp.vtrace import truncated_target_policy, vtrace_expected_target, vtrace_operator
from npg.returns import gae, lambda_returns, nstep_returns, td_errors, vtrace

from returns_reference import make_rollout


def reference(rew, value, next_value, term, trunc, gamma, tlp, blp, rho_bar, c_bar, lam):
    """Eq. (1) of Espeholt et al. literally: a sum over each episode segment, one scalar at a
    time (no recursion), then eq. (4) for the advantages."""
    T, N = rew.shape
    w = np.exp(tlp - blp)
    rho, cc = np.minimum(rho_bar, w), lam * np.minimum(c_bar, w)
    vs, adv = np.zeros((T, N)), np.zeros((T, N))
    for i in range(N):
        for t in range(T):
            j = t
            while not (term[j, i] or trunc[j, i] or j == T - 1):
                j += 1
            total, coef = 0.0, 1.0
            for k in range(t, j + 1):
                boot = 0.0 if term[k, i] else gamma * next_value[k, i]
                total += gamma ** (k - t) * coef * rho[k, i] * (rew[k, i] + boot - value[k, i])
                coef *= cc[k, i]
            vs[t, i] = value[t, i] + total
    for i in range(N):
        for t in range(T):
            if term[t, i]:
                nvs = 0.0
            elif trunc[t, i] or t == T - 1:
                nvs = next_value[t, i]
            else:
                nvs = next_value[t, i] + vs[t + 1, i] - value[t + 1, i]
            adv[t, i] = rho[t, i] * (rew[t, i] + gamma * nvs - value[t, i])
    return vs, adv


def _logps(seed, T, N, spread=1.0):
    rng = np.random.default_rng(seed + 7)
    blp = -rng.uniform(0.05, 2.0, (T, N))
    return blp + spread * rng.normal(size=(T, N)) * 0.7, blp


def _close(a, b, tol=1e-12):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape and np.all(np.isfinite(a))
    assert np.max(np.abs(a - b)) <= tol * (1 + np.max(np.abs(b))), np.max(np.abs(a - b))


levels = st.sampled_from([0.0, 0.5, 1.0, 2.0, math.inf]) | st.floats(0.0, 5.0)


@settings(max_examples=200, deadline=None)
@given(T=st.integers(1, 25), N=st.integers(1, 5), seed=st.integers(0, 2**31),
       gamma=st.floats(0.0, 1.0), lam=st.floats(0.0, 1.0), rho_bar=levels, c_bar=levels,
       p=st.sampled_from([0.0, 0.1, 0.4]), consistent=st.booleans())
def test_matches_reference_loop(T, N, seed, gamma, lam, rho_bar, c_bar, p, consistent):
    ro = make_rollout(seed, T, N, p, p, consistent=consistent)
    tlp, blp = _logps(seed, T, N)
    args = (ro["rew"], ro["value"], ro["next_value"], ro["term"], ro["trunc"], gamma, tlp, blp)
    vs, adv = vtrace(*args, rho_bar=rho_bar, c_bar=c_bar, lam=lam)
    vs_ref, adv_ref = reference(*args, rho_bar, c_bar, lam)
    _close(vs, vs_ref)
    _close(adv, adv_ref)


@settings(max_examples=100, deadline=None)
@given(T=st.integers(1, 25), N=st.integers(1, 4), seed=st.integers(0, 2**31),
       gamma=st.floats(0.0, 1.0), lam=st.floats(0.0, 1.0), bar=st.sampled_from([1.0, 3.0,
                                                                                math.inf]),
       p=st.sampled_from([0.0, 0.1, 0.4]))
def test_on_policy_identities(T, N, seed, gamma, lam, bar, p):
    """w = 1 with levels >= 1: vs = lambda-return, vs - V = GAE; lam = 1: the n-step return
    with n >= T (and adv = the lam = 1 GAE advantage); lam = 0: vs - V = the TD error."""
    ro = make_rollout(seed, T, N, p, p, consistent=True)
    r, v, nv, d, c = ro["rew"], ro["value"], ro["next_value"], ro["term"], ro["trunc"]
    lp = -np.ones((T, N))
    vs, adv = vtrace(r, v, nv, d, c, gamma, lp, lp, rho_bar=bar, c_bar=bar, lam=lam)
    _close(vs, lambda_returns(r, v, nv, d, c, gamma, lam))
    _close(vs - v, gae(r, v, nv, d, c, gamma, lam)[0])
    vs1, adv1 = vtrace(r, v, nv, d, c, gamma, lp, lp, rho_bar=bar, c_bar=bar, lam=1.0)
    _close(vs1, nstep_returns(r, v, nv, d, c, gamma, T + 1))
    _close(adv1, gae(r, v, nv, d, c, gamma, 1.0)[0])          # r + gamma vs_{t+1} - V_t
    vs0, _ = vtrace(r, v, nv, d, c, gamma, lp, lp, rho_bar=bar, c_bar=bar, lam=0.0)
    _close(vs0 - v, td_errors(r, v, nv, d, gamma))


def test_hand_values():
    """T = 2, one env, gamma = 0.5, w = (2, 0.5), rho_bar = c_bar = 1, r = (1, 2), V = (0, 1),
    V'_1 = 4 (rollout end): rho = (1, .5), cc = (1, .5).
    delta_1 = .5 (2 + 2 - 1) = 1.5, vs_1 = 1 + 1.5 = 2.5; delta_0 = 1 (1 + .5 - 0) = 1.5,
    vs_0 = 0 + 1.5 + .5 * 1 * 1.5 = 2.25; adv_1 = .5 (2 + 2 - 1) = 1.5,
    adv_0 = 1 (1 + .5 (1 + 1.5) - 0) = 2.25."""
    vs, adv = vtrace(np.array([1.0, 2.0]), np.array([0.0, 1.0]), np.array([1.0, 4.0]),
                     np.zeros(2, bool), np.zeros(2, bool), 0.5, np.log([0.8, 0.2]),
                     np.log([0.4, 0.4]))
    np.testing.assert_allclose(vs, [2.25, 2.5], rtol=0, atol=1e-15)
    np.testing.assert_allclose(adv, [2.25, 1.5], rtol=0, atol=1e-15)


@settings(max_examples=40, deadline=None)
@given(T=st.integers(1, 12), seed=st.integers(0, 2**31), gamma=st.floats(0.0, 1.0),
       lam=st.floats(0.0, 1.0), rho_bar=levels, c_bar=levels, p=st.sampled_from([0.0, 0.3]))
def test_reward_derivative_fd(T, seed, gamma, lam, rho_bar, c_bar, p):
    """d vs_t / d r_k = gamma^{k-t} prod_{i=t}^{k-1} cc_i rho_k inside the segment (docstring)
    against a central difference; the advantage's derivative likewise from its formula."""
    ro = make_rollout(seed, T, 1, p, p, nan_at_terminal=False)
    r, v, nv, d, c = (ro[k][:, 0] for k in ("rew", "value", "next_value", "term", "trunc"))
    tlp, blp = (x[:, 0] for x in _logps(seed, T, 1))
    w = np.exp(tlp - blp)
    rho, cc = np.minimum(rho_bar, w), lam * np.minimum(c_bar, w)
    h = 1e-5
    for k in range(T):
        e = np.zeros(T)
        e[k] = h
        vp, ap = vtrace(r + e, v, nv, d, c, gamma, tlp, blp, rho_bar, c_bar, lam)
        vm, am = vtrace(r - e, v, nv, d, c, gamma, tlp, blp, rho_bar, c_bar, lam)
        num_v, num_a = (vp - vm) / (2 * h), (ap - am) / (2 * h)
        ana_v = np.zeros(T)
        for t in range(k + 1):
            ended = any(d[i] or c[i] for i in range(t, k))
            if not ended:
                ana_v[t] = gamma ** (k - t) * np.prod(cc[t:k]) * rho[k]
        ana_a = np.zeros(T)
        ana_a[k] = rho[k]
        for t in range(k):
            if not (d[t] or c[t]):
                ana_a[t] = rho[t] * gamma * ana_v[t + 1]
        for num, ana in ((num_v, ana_v), (num_a, ana_a)):
            assert np.all(np.abs(num - ana) <= 1e-7 + 1e-6 * np.abs(ana))


@settings(max_examples=25, deadline=None, suppress_health_check=[
    HealthCheck.function_scoped_fixture])
@given(T=st.integers(1, 20), N=st.integers(1, 4), seed=st.integers(0, 2**31),
       gamma=st.floats(0.0, 1.0), lam=st.floats(0.0, 1.0), rho_bar=levels, c_bar=levels)
def test_backends_match_numpy(xp, T, N, seed, gamma, lam, rho_bar, c_bar):
    ro = make_rollout(seed, T, N, 0.2, 0.2)
    tlp, blp = _logps(seed, T, N)
    arrays = [ro[k] for k in ("rew", "value", "next_value", "term", "trunc")]
    want = vtrace(*arrays, gamma, tlp, blp, rho_bar, c_bar, lam)
    got = vtrace(*[xp.asarray(a) for a in arrays], gamma, xp.asarray(tlp), xp.asarray(blp),
                 rho_bar, c_bar, lam)
    for a, b in zip(got, want):
        _close(to_numpy(a), b, tol=1e-13)


def test_float32_stays_float32_and_1d():
    ro = make_rollout(3, 10, 2, 0.1, 0.1)
    tlp, blp = _logps(3, 10, 2)
    f = [ro[k].astype(np.float32) for k in ("rew", "value", "next_value")]
    vs, adv = vtrace(*f, ro["term"], ro["trunc"], 0.9, tlp.astype(np.float32),
                     blp.astype(np.float32))
    assert vs.dtype == np.float32 and adv.dtype == np.float32
    vs64, _ = vtrace(*(x.astype(np.float64) for x in f), ro["term"], ro["trunc"], 0.9, tlp, blp)
    np.testing.assert_allclose(vs, vs64, rtol=1e-5, atol=1e-5)
    one = vtrace(*(x[:, 0] for x in (ro["rew"], ro["value"], ro["next_value"], ro["term"],
                                    ro["trunc"])), 0.9, tlp[:, 0], blp[:, 0])
    assert one[0].shape == (10,)


# ---------------------------------------------------------------------- exact, finite MDPs

def _policies(mdp, rng):
    S, A = mdp.n_states, mdp.n_actions
    return rng.dirichlet(np.ones(A), S), rng.dirichlet(2 * np.ones(A), S)


@pytest.mark.parametrize("seed,n_terminal", [(0, 0), (1, 1), (2, 2)])
@pytest.mark.parametrize("rho_bar,c_bar", [(1.0, 1.0), (2.0, 0.5), (0.7, 0.7),
                                           (math.inf, math.inf)])
def test_fixed_point_is_value_of_truncated_policy(seed, n_terminal, rho_bar, c_bar):
    """Theorem 1: R V^{pi_rho_bar} = V^{pi_rho_bar}, and (rho_bar finite) V^pi is not fixed."""
    rng = np.random.default_rng(seed)
    mdp = random_mdp(5, 3, rng, gamma=0.9, n_terminal=n_terminal, p_terminate=0.1)
    pi, mu = _policies(mdp, rng)
    V_rho = evaluate(mdp, truncated_target_policy(pi, mu, rho_bar))[0]
    np.testing.assert_allclose(vtrace_operator(mdp, pi, mu, V_rho, rho_bar, c_bar), V_rho,
                               atol=1e-12)
    V_pi = evaluate(mdp, pi)[0]
    gap = np.max(np.abs(vtrace_operator(mdp, pi, mu, V_pi, rho_bar, c_bar) - V_pi))
    if math.isinf(rho_bar):
        assert gap < 1e-12
    else:                               # truncation binds here: V^pi is not the fixed point
        assert np.max(np.abs(V_rho - V_pi)) > 1e-4 and gap > 1e-5


def test_operator_is_a_contraction_towards_fixed_point():
    """Iterating R from V = 0 converges to V^{pi_rho_bar} (the operator is a contraction)."""
    rng = np.random.default_rng(5)
    mdp = random_mdp(6, 3, rng, gamma=0.8)
    pi, mu = _policies(mdp, rng)
    V = np.zeros(6)
    for _ in range(60):
        V = vtrace_operator(mdp, pi, mu, V, 1.5, 1.0)
    np.testing.assert_allclose(V, evaluate(mdp, truncated_target_policy(pi, mu, 1.5))[0],
                               atol=1e-9)


@pytest.mark.parametrize("rho_bar,c_bar,lam", [(1.0, 1.0, 1.0), (math.inf, math.inf, 1.0),
                                               (2.0, 0.8, 0.7)])
def test_sampled_targets_match_exact_expectation(rho_bar, c_bar, lam):
    """Kernel on trajectories of mu vs ``vtrace_expected_target``: seeded z-test per start
    state (Bonferroni, |z| < 4.5), with an arbitrary V (so the correction is not zero)."""
    rng = np.random.default_rng(11)
    mdp = random_mdp(4, 3, rng, gamma=0.9, n_terminal=1, p_terminate=0.15)
    pi, mu = _policies(mdp, rng)
    V = rng.normal(size=4)
    V[mdp.terminal] = 0.0
    H, M = 6, 40000
    tr = sample_trajectories(mdp, mu, M, H, rng)
    s = tr.states
    logp_pi, logp_mu = np.log(pi[s[:-1], tr.actions]), np.log(mu[s[:-1], tr.actions])
    vs, _ = vtrace(tr.rew, V[s[:-1]], V[s[1:]], tr.terminated, tr.truncated, mdp.gamma,
                   logp_pi, logp_mu, rho_bar, c_bar, lam)
    want = vtrace_expected_target(mdp, pi, mu, V, H, rho_bar, c_bar, lam)
    for state in range(3):
        x = vs[0][s[0] == state]
        z = (x.mean() - want[state]) / (x.std(ddof=1) / math.sqrt(x.size))
        assert abs(z) < 4.5, (state, z)


# ---------------------------------------------------------------------- bad input

def _base(T=4):
    ro = make_rollout(0, T, 2, 0.1, 0.1)
    return [ro[k] for k in ("rew", "value", "next_value", "term", "trunc")]


def test_bad_input():
    a = _base()
    lp = -np.ones((4, 2))
    with pytest.raises(TypeError, match="behaviour_logp"):
        vtrace(*a, 0.9, lp, None)
    bad = lp.copy()
    bad[1, 0] = -np.inf
    with pytest.raises(ValueError, match="behaviour_logp is -inf"):
        vtrace(*a, 0.9, lp, bad)
    vs, _ = vtrace(*a, 0.9, bad, lp)                  # pi(a|s) = 0 is legal: weight 0
    assert np.all(np.isfinite(vs))
    with pytest.raises(ValueError, match="target_logp"):
        vtrace(*a, 0.9, np.full((4, 2), np.nan), lp)
    with pytest.raises(ValueError, match="shape"):
        vtrace(*a, 0.9, lp[:3], lp)
    with pytest.raises(ValueError, match="rho_bar"):
        vtrace(*a, 0.9, lp, lp, rho_bar=-1.0)
    with pytest.raises(ValueError, match="c_bar"):
        vtrace(*a, 0.9, lp, lp, c_bar=float("nan"))
    with pytest.raises(TypeError, match="rho_bar"):
        vtrace(*a, 0.9, lp, lp, rho_bar="1")
    for lam in (-0.1, 1.5):
        with pytest.raises(ValueError, match="lam"):
            vtrace(*a, 0.9, lp, lp, lam=lam)
    with pytest.raises(ValueError, match="overflow"):
        vtrace(*a, 0.9, lp + 800.0, lp)
    with pytest.raises(ValueError, match="rho_bar"):
        truncated_target_policy(np.eye(2), np.eye(2), -1.0)
