"""npg.mdp on every array module: the exact quantities, grad J, Fisher, natural gradient and the
sampler on an MDP moved with ``FiniteMDP.to(xp)`` equal the NumPy reference and stay on xp.

The ``xp`` fixture (tests/conftest.py) runs each test on numpy, array_api_strict (which rejects
every call outside the array-API standard, so a NumPy-only call fails here on every machine) and
cupy where a GPU is present. Exactness is checked against the NumPy MDP to 1e-12 relative (the
solves are the same algorithms; only summation order differs); the sampler bit for bit (same
host uniforms). Mixing modules in one call is a TypeError naming both.
"""

import numpy as np
import pytest

import npg.mdp as M
from npg.backend import namespace_of, to_numpy
from npg.features import OneHot, Polynomial
from npg.params import flatten
from npg.policies import LinearSoftmaxPolicy, MLPCategoricalPolicy, TabularSoftmaxPolicy

RTOL = 1e-12


def cases():
    """(name, mdp): no terminal state, terminal states with gamma < 1, and gamma = 1."""
    return [("plain", M.random_mdp(7, 3, 0, gamma=0.9)),
            ("terminal", M.random_mdp(8, 2, 1, gamma=0.95, n_terminal=2, p_terminate=0.2)),
            ("gamma1", M.random_mdp(6, 3, 2, gamma=1.0, n_terminal=1, p_terminate=0.3))]


def policy_matrix(mdp, seed):
    return np.random.default_rng(seed).dirichlet(np.ones(mdp.n_actions), size=mdp.n_states)


def close(got, ref, xp, rtol=RTOL, atol=0.0):
    """got lives on xp and equals ref (NumPy) to rtol relative to ref's scale."""
    assert namespace_of(got) is xp
    got = to_numpy(got)
    scale = max(1.0, float(np.max(np.abs(ref)))) if np.size(ref) else 1.0
    np.testing.assert_allclose(got, ref, rtol=rtol, atol=atol + rtol * scale)


def on(xp, params):
    return {k: xp.asarray(v) for k, v in params.items()}


@pytest.mark.parametrize("name", ["plain", "terminal", "gamma1"])
def test_exact_quantities_match_numpy(xp, name):
    mdp = dict(cases())[name]
    pi = policy_matrix(mdp, 3)
    dev, pid = mdp.to(xp), xp.asarray(pi)
    assert dev.xp is xp and namespace_of(dev.terminal) is xp
    for got, ref in zip(M.evaluate(dev, pid), M.evaluate(mdp, pi)):
        close(got, ref, xp)
    for kw in ({}, {"normalized": True}):
        close(M.visitation(dev, pid, **kw), M.visitation(mdp, pi, **kw), xp)
    close(M.transition_matrix(dev, pid), M.transition_matrix(mdp, pi), xp)
    close(M.expected_reward(dev, pid), M.expected_reward(mdp, pi), xp)
    assert M.objective(dev, pid) == pytest.approx(M.objective(mdp, pi), rel=RTOL)
    close(M.stationary_distribution(dev, pid), M.stationary_distribution(mdp, pi), xp,
          rtol=1e-10)
    assert M.average_reward(dev, pid) == pytest.approx(M.average_reward(mdp, pi), rel=1e-10)


def test_identities_hold_on_the_module(xp):
    # Bellman: sum_a pi Q = V;  visitation: d^T (I - gamma P_pi) = mu0^T (no terminal states);
    # J = d . r_pi; all computed with xp's operations on xp's arrays.
    mdp = dict(cases())["plain"].to(xp)
    pi = xp.asarray(policy_matrix(mdp.to("numpy"), 4))
    V, Q, A = M.evaluate(mdp, pi)
    assert float(xp.max(xp.abs(xp.sum(pi * Q, axis=1) - V))) < 1e-12
    assert float(xp.max(xp.abs(xp.sum(pi * A, axis=1)))) < 1e-12
    d = M.visitation(mdp, pi)
    lhs = d - mdp.gamma * (d @ M.transition_matrix(mdp, pi))
    assert float(xp.max(xp.abs(lhs - mdp.mu0))) < 1e-12
    assert abs(float(d @ M.expected_reward(mdp, pi)) - M.objective(mdp, pi)) < 1e-12


def tabular(S, A):
    return TabularSoftmaxPolicy(S, A)


def linear_onehot(S, A):
    return LinearSoftmaxPolicy(OneHot(S), A)


def linear_poly(S, A):
    return LinearSoftmaxPolicy(Polynomial(obs_dim=S, degree=1), A)


def mlp(S, A):
    return MLPCategoricalPolicy(obs_dim=S, n_actions=A, hidden=(4,), activation="tanh")


def make(factory, mdp, seed):
    pol = factory(mdp.n_states, mdp.n_actions)
    rng = np.random.default_rng(seed)
    params = {k: np.asarray(v, np.float64) + 0.7 * rng.standard_normal(np.shape(v))
              for k, v in pol.init(rng).items()}
    return pol, params


@pytest.mark.parametrize("factory", [tabular, linear_onehot, linear_poly, mlp])
@pytest.mark.parametrize("name", ["plain", "terminal"])
def test_gradient_fisher_natural_gradient_match_numpy(xp, factory, name):
    mdp = dict(cases())[name]
    pol, params = make(factory, mdp, 5)
    dev, pdev = mdp.to(xp), on(xp, params)
    ref = M.policy_gradient(mdp, pol, params)
    got = M.policy_gradient(dev, pol, pdev)
    assert set(got) == set(ref)
    for k in ref:
        close(got[k], ref[k], xp)
    F = M.fisher(mdp, pol, params)
    close(M.fisher(dev, pol, pdev), F, xp)
    close(M.fisher(dev, pol, pdev, normalized=True), M.fisher(mdp, pol, params, normalized=True),
          xp)
    for damping in (0.0, 0.1):
        x_ref = M.natural_gradient(mdp, pol, params, damping=damping)
        x = M.natural_gradient(dev, pol, pdev, damping=damping)
        close(x, x_ref, xp, rtol=1e-8)
        g = flatten(ref)                     # the defining equation, on the module itself
        Fd = M.fisher(dev, pol, pdev) + damping * xp.eye(F.shape[0], dtype=xp.float64)
        resid = to_numpy(Fd @ (Fd @ x) - Fd @ xp.asarray(g))   # normal equations: F^T (F x - g)
        assert np.max(np.abs(resid)) <= 1e-9 * max(1.0, np.max(np.abs(F)) ** 2 * np.abs(g).max())


def test_policy_gradient_is_the_derivative_of_J_on_the_module(xp):
    # Central differences of the exact J (computed on xp) against grad J (computed on xp).
    mdp = dict(cases())["terminal"].to(xp)
    pol = TabularSoftmaxPolicy(mdp.n_states, mdp.n_actions)
    theta = np.random.default_rng(6).standard_normal((mdp.n_states, mdp.n_actions))
    obs = M.default_obs(mdp, pol, {"theta": xp.asarray(theta)})

    def J(th):
        return M.objective(mdp, pol.probs({"theta": xp.asarray(th)}, obs))

    h, num = 1e-6, np.zeros_like(theta)
    for idx in np.ndindex(theta.shape):
        e = np.zeros_like(theta)
        e[idx] = h
        num[idx] = (J(theta + e) - J(theta - e)) / (2 * h)
    got = to_numpy(M.policy_gradient(mdp, pol, {"theta": xp.asarray(theta)})["theta"])
    np.testing.assert_allclose(got, num, rtol=1e-6, atol=1e-8)


def test_default_obs_and_pairs_on_the_module(xp):
    mdp = dict(cases())["plain"].to(xp)
    pol, params = make(linear_poly, mdp, 7)
    obs = M.default_obs(mdp, pol, on(xp, params))
    assert namespace_of(obs) is xp and tuple(obs.shape) == (7, 7)
    pairs, act = M.state_action_pairs(obs, 3)
    assert namespace_of(act) is xp and to_numpy(act).tolist() == [0, 1, 2] * 7
    np.testing.assert_array_equal(to_numpy(pairs), np.repeat(np.eye(7), 3, axis=0))


@pytest.mark.parametrize("name", ["plain", "terminal"])
def test_sampler_gives_the_same_trajectories_on_every_module(xp, name):
    mdp = dict(cases())[name]
    pi = policy_matrix(mdp, 8)
    ref = M.sample_trajectories(mdp, pi, 300, 25, 9)
    got = M.sample_trajectories(mdp.to(xp), xp.asarray(pi), 300, 25, 9)
    for field in ("states", "actions", "rew", "terminated", "truncated", "valid"):
        a, b = getattr(got, field), getattr(ref, field)
        assert namespace_of(a) is xp
        np.testing.assert_array_equal(to_numpy(a), b)
    np.testing.assert_array_equal(to_numpy(got.lengths), ref.lengths)
    pol, params = make(tabular, mdp, 10)
    roll = M.rollout(mdp.to(xp), pol, on(xp, params), 50, 10, 11)
    np.testing.assert_array_equal(to_numpy(roll.states),
                                  M.rollout(mdp, pol, params, 50, 10, 11).states)


def test_bad_policy_matrix_on_the_module(xp):
    mdp = M.random_mdp(3, 2, 0).to(xp)
    for pi, match in [(np.full((3, 2), 0.6), "rows must sum to 1"),
                      (np.array([[1.5, -0.5]] * 3), "probabilities >= 0"),
                      (np.full((3, 3), 1 / 3), r"pi must have shape \[S, A\] = \[3, 2\]"),
                      (np.full((3, 2), np.nan), "pi must be finite")]:
        with pytest.raises(ValueError, match=match):
            M.evaluate(mdp, xp.asarray(pi))
        with pytest.raises(ValueError):
            M.sample_trajectories(mdp, xp.asarray(pi), 5, 5, 0)


def test_singular_cases_are_errors_on_the_module(xp):
    # gamma = 1 with action 0 staying in state 0 forever (action 1 ends the episode)
    P = np.zeros((2, 2, 2))
    P[0, 0, 0] = P[0, 1, 1] = P[1, :, 1] = 1.0
    chain = M.FiniteMDP(P, np.array([[1.0, 2.0], [0.0, 0.0]]), np.array([1.0, 0.0]), 1.0,
                        np.array([False, True])).to(xp)
    assert M.objective(chain, xp.asarray(np.full((2, 2), 0.5))) == pytest.approx(3.0, rel=1e-14)
    with pytest.raises(ValueError, match="never reaches a terminal state from state"):
        M.evaluate(chain, xp.asarray(np.array([[1.0, 0.0], [0.5, 0.5]])))
    two = M.random_mdp(4, 2, 0, n_terminal=2, p_terminate=0.5).to(xp)  # two closed classes
    with pytest.raises(ValueError, match="not unique"):
        M.stationary_distribution(two, xp.asarray(np.full((4, 2), 0.5)), reset=False)


def test_finite_mdp_from_module_arrays(xp):
    ref = M.random_mdp(5, 2, 3, gamma=0.8, n_terminal=1, p_terminate=0.1)
    mdp = M.FiniteMDP(xp.asarray(ref.P), xp.asarray(ref.R), xp.asarray(ref.mu0), 0.8,
                      xp.asarray(ref.terminal))
    assert mdp.xp is xp and repr(mdp) == repr(ref)
    for k in ("P", "R", "mu0", "terminal"):          # rows are renormalised again: 1 ulp
        np.testing.assert_allclose(to_numpy(getattr(mdp, k)), getattr(ref, k), rtol=1e-15)
    back = mdp.to("numpy")
    assert back.xp is np and not back.P.flags.writeable
    assert mdp.replace(gamma=0.5).xp is xp and mdp.replace(gamma=0.5).gamma == 0.5
    bad = np.array(ref.P)
    bad[0, 0, 0] += 0.5
    with pytest.raises(ValueError, match="P must sum to 1"):
        M.FiniteMDP(xp.asarray(bad), xp.asarray(ref.R), xp.asarray(ref.mu0), 0.8)
    R3 = np.random.default_rng(0).standard_normal(ref.P.shape)
    from_r3 = M.FiniteMDP.from_transition_rewards(xp.asarray(ref.P), xp.asarray(R3),
                                                  xp.asarray(ref.mu0), 0.8)
    assert from_r3.xp is xp
    close(from_r3.R, M.FiniteMDP.from_transition_rewards(ref.P, R3, ref.mu0, 0.8).R, xp)


# ------------------------------------------------------------------ two modules in one call

def test_two_modules_in_one_call_are_refused_by_name():
    import array_api_strict as strict
    mdp = M.random_mdp(4, 2, 0)
    dev = mdp.to(strict)
    pi = np.full((4, 2), 0.5)
    both = r"(?s)(array_api_strict.*numpy|numpy.*array_api_strict)"
    with pytest.raises(TypeError, match=r"pi lives on numpy.*array_api_strict"):
        M.evaluate(dev, pi)
    with pytest.raises(TypeError, match=both):
        M.sample_trajectories(dev, pi, 5, 5, 0)
    pol = TabularSoftmaxPolicy(4, 2)
    params = pol.init(0)
    with pytest.raises(TypeError, match=r"params\['theta'\] lives on numpy"):
        M.policy_gradient(dev, pol, params)
    with pytest.raises(TypeError, match=both):
        M.fisher(dev, pol, params)
    with pytest.raises(TypeError, match=r"P lives on array_api_strict but R lives on numpy"):
        M.FiniteMDP(dev.P, mdp.R, dev.mu0, 0.9)
    # the NumPy MDP is the host reference: a policy on any module is converted once (legacy)
    g = M.policy_gradient(mdp, pol, on(strict, params))["theta"]
    assert namespace_of(g) is strict


def test_a_second_device_is_kept_by_every_policy_free_computation():
    # array_api_strict has several devices and refuses to combine arrays across them, so this
    # catches any creation call that forgets device= (numpy has one device, cupy is not here).
    import array_api_strict as strict
    d1 = strict.Device("device1")
    mdp = M.random_mdp(6, 3, 1, gamma=0.9, n_terminal=1, p_terminate=0.1).to(strict, device=d1)
    assert mdp.device == d1
    pi = strict.asarray(np.full((6, 3), 1 / 3), device=d1)
    outs = [*M.evaluate(mdp, pi), M.visitation(mdp, pi), M.visitation(mdp, pi, True),
            M.stationary_distribution(mdp, pi), M.transition_matrix(mdp, pi),
            M.sample_trajectories(mdp, pi, 40, 8, 0).states, M.value_iteration(mdp).V,
            M.policy_iteration(mdp).pi, M.soft_value_iteration(mdp, 0.5).pi,
            M.backward_induction(mdp, 3)[1], M.tabular_softmax_hessian(mdp, pi),
            M.tabular_softmax_fisher(mdp, pi), M.pmd_step(mdp, pi, 0.1),
            M.tabular_npg_step(mdp, strict.zeros((6, 3), device=d1), 0.1),
            M.finite_horizon_evaluate(mdp, pi, 4)[0], M.soft_evaluate(mdp, pi, 0.1)[0]]
    assert all(x.device == d1 for x in outs)


def test_the_policy_gradient_stays_on_a_second_device():
    # categorical.one_hot creates its class indices on the actions' device, so the exact policy
    # gradient (policy forward -> categorical scores -> occupancy) keeps array_api_strict's
    # second device end to end.
    import array_api_strict as strict
    from npg.policies import TabularSoftmaxPolicy
    d1 = strict.Device("device1")
    mdp = M.random_mdp(6, 3, 1, gamma=0.9, n_terminal=1, p_terminate=0.1).to(strict, device=d1)
    pol = TabularSoftmaxPolicy(6, 3)
    theta = np.random.default_rng(0).standard_normal((6, 3))
    g = M.policy_gradient(mdp, pol, {"theta": strict.asarray(theta, device=d1)})["theta"]
    assert g.device == d1
    want = M.policy_gradient(M.random_mdp(6, 3, 1, gamma=0.9, n_terminal=1, p_terminate=0.1), pol,
                             {"theta": theta})["theta"]
    host = g.to_device(strict.Device("CPU_DEVICE"))
    np.testing.assert_allclose(np.asarray(host), want, rtol=1e-12, atol=1e-14)
