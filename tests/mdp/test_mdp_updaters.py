"""Exact updaters (npg.mdp.updaters) and the convergence theorems' bounds (npg.mdp.rates).

Identities between updaters (NPG's tabular closed form vs the Fisher solve on an equivalent
linear policy; Cen et al.'s closed-form policy update; PMD = NPG with eta/(1-gamma), and its
entropy form); TRPO's constraint and improvement; CPI's improvement; and, on seeded random MDPs
with rewards in [0, 1], each theorem's bound at every step: Agarwal et al.'s NPG rate, Mei et
al.'s softmax PG rate, Cen et al.'s entropy-regularised NPG rate, and the ascent lemma with the
softmax smoothness constants; step-size warnings; bad input.
"""

import warnings

import numpy as np
import pytest

import npg.mdp as M
from npg.features import OneHot
from npg.mdp import rates as RT
from npg.params import flatten
from npg.policies import LinearSoftmaxPolicy, MLPCategoricalPolicy, TabularSoftmaxPolicy


def unit_reward_mdp(seed, S=6, A=3, gamma=0.8, **kw):
    rng = np.random.default_rng(seed)
    mdp = M.random_mdp(S, A, rng, gamma=gamma, **kw)
    return mdp.replace(R=rng.uniform(size=(S, A)) * mdp.nonterminal[:, None])


def tab(mdp, theta=None):
    policy = TabularSoftmaxPolicy(mdp.n_states, mdp.n_actions)
    theta = np.zeros((mdp.n_states, mdp.n_actions)) if theta is None else theta
    return policy, {"theta": theta}, M.default_obs(mdp, policy)


def pi_of(policy, params, obs):
    return M.policy_matrix(policy, params, obs)


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_pg_step_is_gradient_ascent_and_warns_outside_mei_range():
    mdp = unit_reward_mdp(0)
    policy, params, obs = tab(mdp, np.random.default_rng(1).standard_normal((6, 3)))
    eta = M.pg_step_size_bound(mdp)
    assert np.isclose(eta, 0.2 ** 3 / (8 * mdp.R.max()))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        new = M.pg_step(mdp, policy, params, eta)
    g = flatten(M.policy_gradient(mdp, policy, params))
    assert np.allclose(flatten(new), flatten(params) + eta * g, atol=1e-15)
    with pytest.warns(M.StepSizeWarning, match="Mei et al.*1/beta"):
        M.pg_step(mdp, policy, params, 2 * eta)


def test_npg_tabular_closed_form_matches_the_fisher_solve():
    mdp = unit_reward_mdp(1)
    theta = 0.5 * np.random.default_rng(2).standard_normal((6, 3))
    policy, params, obs = tab(mdp, theta)
    lin = LinearSoftmaxPolicy(OneHot(6), 3)             # the same function, general path
    for tau in (0.0, 0.3):
        closed = M.npg_direction(mdp, policy, params, tau)
        general = M.npg_direction(mdp, lin, params, tau)
        assert np.allclose(closed, general, atol=1e-8)
    _, _, A = M.evaluate(mdp, pi_of(policy, params, obs))
    step = M.npg_step(mdp, policy, params, 0.7)["theta"] - theta
    assert np.allclose(softmax(theta + step), softmax(theta + 0.7 * A / 0.2), atol=1e-12)


def test_entropy_npg_is_cen_et_al_policy_update_and_warns_outside_range():
    mdp = unit_reward_mdp(2)
    policy, params, obs = tab(mdp, np.random.default_rng(3).standard_normal((6, 3)))
    tau, eta = 0.5, 0.3
    pi = pi_of(policy, params, obs)
    _, Q = M.soft_evaluate(mdp, pi, tau)
    want = softmax((1 - eta * tau / 0.2) * np.log(pi) + eta * Q / 0.2)
    new = M.entropy_npg_step(mdp, policy, params, eta, tau)
    assert np.allclose(pi_of(policy, new, obs), want, atol=1e-12)
    with pytest.warns(M.StepSizeWarning, match=r"Cen et al.*\(1 - gamma\)/tau"):
        M.entropy_npg_step(mdp, policy, params, 1.01 * 0.2 / tau, tau)


def test_pmd_is_npg_and_improves_every_state():
    mdp = unit_reward_mdp(3)
    policy, params, obs = tab(mdp, np.random.default_rng(4).standard_normal((6, 3)))
    pi = pi_of(policy, params, obs)
    assert np.allclose(M.pmd_step(mdp, pi, 2.0 / 0.2),
                       pi_of(policy, M.npg_step(mdp, policy, params, 2.0), obs), atol=1e-12)
    tau, eta = 0.4, 3.0                     # entropy: Cen's eta / (1 - gamma) = eta / (1 + eta tau)
    eta_cen = 0.2 * eta / (1 + eta * tau)
    assert np.allclose(M.pmd_step(mdp, pi, eta, tau),
                       pi_of(policy, M.entropy_npg_step(mdp, policy, params, eta_cen, tau), obs),
                       atol=1e-12)
    for _ in range(10):                     # monotone: V^{k+1} >= V^k at every state
        new = M.pmd_step(mdp, pi, 0.5)
        assert np.all(M.evaluate(mdp, new)[0] >= M.evaluate(mdp, pi)[0] - 1e-12)
        pi = new


@pytest.mark.parametrize("policy_kind", ["tabular", "mlp"])
def test_trpo_step_respects_the_exact_kl_and_improves(policy_kind):
    mdp = unit_reward_mdp(4)
    if policy_kind == "tabular":
        policy, params, obs = tab(mdp, 0.3 * np.random.default_rng(5).standard_normal((6, 3)))
    else:
        policy = MLPCategoricalPolicy(obs_dim=6, n_actions=3, hidden=(4,))
        params = policy.init(0, out_gain=1.0)
        obs = M.default_obs(mdp, policy, params)
    for delta in (1e-3, 1e-2, 0.1):
        new, info = M.trpo_step(mdp, policy, params, delta)
        assert info["accepted"] and info["kl"] <= delta and info["J"] > info["J_old"]
        kl = M.visitation_kl(mdp, pi_of(policy, params, obs), pi_of(policy, new, obs))
        assert np.isclose(kl, info["kl"])
    # a tiny trust region: the quadratic model 1/2 u^T F u = delta is accurate
    new, info = M.trpo_step(mdp, policy, params, 1e-6)
    assert info["n_backtracks"] == 0 and abs(info["kl"] - 1e-6) < 1e-8


def test_cpi_improves_and_alpha_one_is_policy_iteration():
    mdp = unit_reward_mdp(5)
    pi = np.full((6, 3), 1 / 3)
    for _ in range(5):
        new, info = M.cpi_step(mdp, pi)
        assert info["J"] >= info["J_old"] - 1e-12 and info["policy_advantage"] >= 0
        pi = new
    star = M.policy_iteration(mdp)
    _, info = M.cpi_step(mdp, star.pi)
    assert abs(info["policy_advantage"]) < 1e-12
    one, _ = M.cpi_step(mdp, np.full((6, 3), 1 / 3), alpha=1.0)
    _, Q, _ = M.evaluate(mdp, np.full((6, 3), 1 / 3))
    assert np.array_equal(one, M.greedy_policy(Q))


# ---------------------------------------------------------------------------------------------
# The theorems' bounds, checked at every step on seeded random MDPs
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("eta", [0.1, 1.0, 10.0])
def test_agarwal_npg_bound_holds_at_every_step(seed, eta):
    mdp = unit_reward_mdp(seed, n_terminal=seed % 2, p_terminate=0.1 * (seed % 2))
    policy, params, obs = tab(mdp)
    J_star = M.policy_iteration(mdp).J
    for t in range(1, 101):
        params = M.npg_step(mdp, policy, params, eta)
        gap = J_star - M.objective(mdp, pi_of(policy, params, obs))
        assert -1e-12 <= gap <= RT.agarwal_npg_bound(mdp, eta, t)


@pytest.mark.parametrize("seed", range(3))
def test_mei_softmax_pg_bound_holds_at_every_step(seed):
    mdp = unit_reward_mdp(seed)
    policy, params, obs = tab(mdp)
    star = M.policy_iteration(mdp)
    eta, c = M.pg_step_size_bound(mdp), 1.0
    for t in range(1, 301):
        params = M.pg_step(mdp, policy, params, eta)
        pi = pi_of(policy, params, obs)
        c = min(c, RT.optimal_action_probability(pi, star.pi))
        gap = star.J - M.objective(mdp, pi)
        assert -1e-12 <= gap <= RT.mei_pg_bound(mdp, t, c, star.pi)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("frac", [1.0, 0.5, 0.1])
def test_cen_entropy_npg_linear_rate_holds_at_every_step(seed, frac):
    mdp = unit_reward_mdp(seed, gamma=0.9)
    tau = 0.2
    eta = frac * (1 - mdp.gamma) / tau
    policy, params, obs = tab(mdp, np.random.default_rng(seed).standard_normal((6, 3)))
    C1, Q_star, pi_star = RT.cen_constant(mdp, tau, eta, pi_of(policy, params, obs))
    for t in range(40):
        params = M.entropy_npg_step(mdp, policy, params, eta, tau)
        pi = pi_of(policy, params, obs)
        bq, bl = RT.cen_bounds(C1, eta, tau, mdp.gamma, t)
        assert np.max(np.abs(Q_star - M.soft_evaluate(mdp, pi, tau)[1])) <= bq + 1e-12
        assert np.max(np.abs(np.log(pi_star) - np.log(pi))) <= bl + 1e-12


@pytest.mark.parametrize("tau", [0.0, 0.1])
def test_ascent_lemma_with_the_softmax_smoothness_constant(tau):
    mdp = unit_reward_mdp(7, gamma=0.7)
    policy, params, obs = tab(mdp, np.random.default_rng(0).standard_normal((6, 3)))
    eta = M.pg_step_size_bound(mdp, tau)
    for _ in range(200):
        pi = pi_of(policy, params, obs)
        g = flatten(M.soft_policy_gradient(mdp, policy, params, tau))
        J = M.soft_objective(mdp, pi, tau)
        params = M.pg_step(mdp, policy, params, eta, tau)
        J_new = M.soft_objective(mdp, pi_of(policy, params, obs), tau)
        assert J_new >= RT.ascent_lemma_bound(J, g @ g, eta, 1 / eta) - 1e-13


def test_bad_input():
    mdp = unit_reward_mdp(0)
    policy, params, _ = tab(mdp)
    with pytest.raises(ValueError, match="eta"):
        M.pg_step(mdp, policy, params, 0.0)
    with pytest.raises(ValueError, match="eta"):
        M.npg_step(mdp, policy, params, -1.0)
    with pytest.raises(ValueError, match="tau"):
        M.entropy_npg_step(mdp, policy, params, 0.1, -0.5)
    with pytest.raises(ValueError, match="backtrack"):
        M.trpo_step(mdp, policy, params, 0.01, backtrack=1.5)
    with pytest.raises(ValueError, match="alpha"):
        M.cpi_step(mdp, np.full((6, 3), 1 / 3), alpha=2.0)
    with pytest.raises(ValueError, match="rewards"):
        RT.agarwal_npg_bound(mdp.replace(R=mdp.R - 1.0), 1.0, 1)
    with pytest.raises(ValueError, match="mu0"):
        RT.mismatch_coefficient(unit_reward_mdp(0, n_terminal=1), np.full((6, 3), 1 / 3))
    # gamma = 1 and a policy that never terminates: typed errors from every updater
    P = np.zeros((2, 2, 2))
    P[0, 0, 0] = P[0, 1, 1] = P[1, :, 1] = 1.0
    loop = M.FiniteMDP(P, np.zeros((2, 2)), np.array([1.0, 0.0]), 1.0, np.array([False, True]))
    stay = np.array([[1.0, 0.0], [1.0, 0.0]])
    with pytest.raises(ValueError, match="terminal"):
        M.pmd_step(loop, stay, 1.0)
    with pytest.raises(ValueError, match="terminal"):
        M.cpi_step(loop, stay)


@pytest.mark.parametrize("tau", [0.0, 0.3])
def test_tabular_fast_steps_equal_the_policy_steps(tau):
    mdp = unit_reward_mdp(8, n_terminal=1, p_terminate=0.1)
    theta = np.random.default_rng(9).standard_normal((6, 3))
    policy, params, obs = tab(mdp, theta)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", M.StepSizeWarning)
        assert np.allclose(M.tabular_pg_step(mdp, theta, 0.5, tau),
                           M.pg_step(mdp, policy, params, 0.5, tau)["theta"], atol=1e-13)
        fast = M.tabular_npg_step(mdp, theta, 0.1, tau)
        slow = (M.entropy_npg_step(mdp, policy, params, 0.1, tau) if tau
                else M.npg_step(mdp, policy, params, 0.1))["theta"]
    assert np.allclose(fast, slow, atol=1e-13)
    with pytest.raises(ValueError, match="theta"):
        M.tabular_pg_step(mdp, theta[:, :2], 0.1)


def test_sgd_stationarity_bound_holds_for_the_seed_average():
    import npg.estimators as E
    mdp = unit_reward_mdp(11, S=4, A=2, gamma=0.5)
    policy, params0, _ = tab(mdp)
    beta = M.softmax_smoothness_bound(mdp)
    eta, T, B = 1.0 / beta, 30, 4
    gap0 = M.policy_iteration(mdp).J - M.objective(mdp, np.full((4, 2), 0.5))
    runs, sig = [], []
    for k in range(4):
        rng = np.random.default_rng(k)
        params, sq = dict(params0), []
        for t in range(T):
            g_exact = flatten(M.policy_gradient(mdp, policy, params))
            sq.append(g_exact @ g_exact)
            G = E.gradient_estimates(mdp, policy, params, E.RewardToGo(), 400, 40, rng)
            sig.append(np.sum(np.var(G, axis=0, ddof=1)) / B)
            g = G[:B].mean(axis=0)
            params = {"theta": params["theta"] + eta * g.reshape(4, 2)}
        runs.append(sq)
    t = np.arange(1, T + 1)
    avg = np.cumsum(np.mean(runs, axis=0)) / t
    assert np.all(avg <= RT.sgd_stationarity_bound(gap0, eta, beta, max(sig), t))


def test_chain_plateau_grows_for_pg_and_not_for_npg():
    from npg.mdp.chain import chain_mdp
    counts = {"pg": [], "npg": []}
    for n in (2, 3, 4):
        mdp = chain_mdp(n, n_actions=3, gamma=0.9)
        J_star = M.policy_iteration(mdp).J
        assert np.isclose(J_star, 0.9 ** (n - 1))
        # at the uniform start J = (1/A)^n gamma^(n-1): the plateau's height
        theta = np.zeros((n + 1, 3))
        assert np.isclose(M.objective(mdp, softmax(theta)), 3.0 ** -n * 0.9 ** (n - 1))
        for name, step, eta in (("pg", M.tabular_pg_step, 1.0), ("npg", M.tabular_npg_step, 0.1)):
            th, t = theta.copy(), 0
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", M.StepSizeWarning)
                while M.objective(mdp, softmax(th)) < 0.9 * J_star:
                    th, t = step(mdp, th, eta), t + 1
            counts[name].append(t)
    assert counts["pg"][0] < counts["pg"][1] < counts["pg"][2]
    assert counts["pg"][2] / counts["pg"][1] > 1.8                  # geometric growth
    assert np.all(np.diff(counts["npg"]) <= 3)                      # linear growth at most
    with pytest.raises(ValueError, match="n_actions"):
        chain_mdp(3, n_actions=1)


def test_trpo_tabular_closed_form_equals_the_fisher_solve():
    mdp = unit_reward_mdp(12, n_terminal=1, p_terminate=0.1)
    theta = 0.4 * np.random.default_rng(3).standard_normal((6, 3))
    policy, params, _ = tab(mdp, theta)
    lin = LinearSoftmaxPolicy(OneHot(6), 3)
    a, ia = M.trpo_step(mdp, policy, params, 0.01)
    b, ib = M.trpo_step(mdp, lin, params, 0.01)
    assert ia["n_backtracks"] == ib["n_backtracks"]
    assert np.allclose(a["theta"], b["theta"], atol=1e-7) and np.isclose(ia["kl"], ib["kl"])
