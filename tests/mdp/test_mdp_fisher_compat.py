"""True vs empirical Fisher and the compatible-features identity (npg.mdp.fisher_compare).

The sampled Fisher against the exact one (seeded z-test, Bonferroni |z| < 4.5 per entry); the
empirical Fisher equals the true one exactly when the data's actions are the model's, and
differs otherwise; the gradient second moment's preconditioned step is not the natural
gradient; the compatible critic gives grad J = F w and w = the natural gradient, for every
policy class; phi - E phi are the linear softmax's scores; bad input.
"""

import numpy as np
import pytest

import npg.mdp as M
from npg.features import OneHot, Polynomial, StateActionFeatures
from npg.mdp import fisher_compare as FC
from npg.params import flatten
from npg.policies import (LinearSoftmaxPolicy, MLPCategoricalPolicy, SharedActorCritic,
                          TabularSoftmaxPolicy)

POLICIES = {
    "tabular": lambda S, A: TabularSoftmaxPolicy(S, A),
    "linear_onehot": lambda S, A: LinearSoftmaxPolicy(OneHot(S), A),
    "linear_poly": lambda S, A: LinearSoftmaxPolicy(Polynomial(obs_dim=S, degree=1), A),
    "linear_sa": lambda S, A: LinearSoftmaxPolicy(StateActionFeatures(OneHot(S), A), A),
    "mlp": lambda S, A: MLPCategoricalPolicy(obs_dim=S, n_actions=A, hidden=(3,)),
    "shared": lambda S, A: SharedActorCritic(obs_dim=S, n_actions=A, hidden=(3,)),
}


def setup(name, seed=0, S=5, A=3):
    rng = np.random.default_rng(seed)
    mdp = M.random_mdp(S, A, rng, gamma=0.85, n_terminal=1, p_terminate=0.1)
    policy = POLICIES[name](S, A)
    params = {k: v + 0.6 * rng.standard_normal(v.shape) for k, v in policy.init(rng).items()}
    return mdp, policy, params, M.default_obs(mdp, policy, params)


def test_sampled_fisher_is_unbiased_for_the_true_fisher():
    mdp, policy, params, obs = setup("mlp", 1)
    pi = M.policy_matrix(policy, params, obs)
    d = M.visitation(mdp, pi, normalized=True)
    rng = np.random.default_rng(0)
    n = 20_000
    s = rng.choice(mdp.n_states, size=n, p=d)
    a = (rng.random(n)[:, None] > np.cumsum(pi[s], axis=1)).sum(axis=1)
    G = np.asarray(policy.scores(params, obs[s], a))
    outer = G[:, :, None] * G[:, None, :]
    mean, se = outer.mean(axis=0), outer.std(axis=0, ddof=1) / np.sqrt(n)
    assert np.allclose(FC.sampled_fisher(policy, params, obs[s], a), mean, atol=1e-12)
    F = M.fisher(mdp, policy, params, normalized=True)
    live = se > 1e-12
    assert np.all(np.abs(mean - F)[~live] < 1e-10)
    assert np.max(np.abs(mean - F)[live] / se[live]) < 4.5


@pytest.mark.parametrize("name", sorted(POLICIES))
def test_empirical_fisher_equals_the_true_one_only_for_the_models_actions(name):
    mdp, policy, params, obs = setup(name)
    F = M.fisher(mdp, policy, params, normalized=True)
    assert np.allclose(FC.empirical_fisher(mdp, policy, params), F, atol=1e-13)
    beta = np.random.default_rng(2).dirichlet(np.ones(3), size=5)
    EF = FC.empirical_fisher(mdp, policy, params, behaviour=beta)
    assert np.max(np.abs(EF - F)) > 1e-3 * np.max(np.abs(F))
    assert np.allclose(EF, EF.T) and np.min(np.linalg.eigvalsh(EF)) > -1e-12


def test_gradient_second_moment_step_is_not_the_natural_gradient():
    mdp, policy, params, obs = setup("tabular", 3)
    g = flatten(M.policy_gradient(mdp, policy, params))
    nat = M.natural_gradient(mdp, policy, params, normalized=True)
    for w in ("Q", "A"):
        G = FC.gradient_second_moment(mdp, policy, params, weight=w)
        step = np.linalg.lstsq(G, g, rcond=1e-10)[0]
        assert FC.cosine(step, nat) < 0.999
    # zero rewards: Q = 0, so the second moment vanishes while F does not
    one = mdp.replace(R=np.zeros_like(mdp.R))
    assert np.allclose(FC.gradient_second_moment(one, policy, params, "Q"), 0.0)


@pytest.mark.parametrize("name", sorted(POLICIES))
@pytest.mark.parametrize("target", ["Q", "A"])
def test_compatible_critic_gives_grad_J_equals_F_w_and_the_natural_gradient(name, target):
    mdp, policy, params, obs = setup(name, 4)
    w = FC.compatible_critic(mdp, policy, params, target)
    g = flatten(M.policy_gradient(mdp, policy, params))
    F = M.fisher(mdp, policy, params)
    assert np.allclose(F @ w, g, atol=1e-10)
    assert np.allclose(w, M.natural_gradient(mdp, policy, params), atol=1e-7)


@pytest.mark.parametrize("name", ["linear_onehot", "linear_poly", "linear_sa"])
def test_phi_minus_E_phi_are_the_linear_softmax_scores(name):
    mdp, policy, params, obs = setup(name, 5)
    psi = FC.score_matrix(policy, params, obs, 3)
    assert np.allclose(FC.compatible_features(policy, params, obs), psi, atol=1e-14)
    pi = M.policy_matrix(policy, params, obs)
    assert np.allclose(np.einsum("sa,sap->sp", pi, psi), 0.0, atol=1e-14)


def test_bad_input():
    mdp, policy, params, obs = setup("tabular")
    with pytest.raises(TypeError, match="LinearSoftmaxPolicy"):
        FC.compatible_features(policy, params, obs)
    with pytest.raises(ValueError, match="target"):
        FC.compatible_critic(mdp, policy, params, target="V")
    with pytest.raises(ValueError, match="weight"):
        FC.gradient_second_moment(mdp, policy, params, weight="V")
    with pytest.raises(ValueError, match="pi's rows"):
        FC.empirical_fisher(mdp, policy, params, behaviour=np.ones((5, 3)))
    with pytest.raises(ValueError, match="at least one"):
        FC.sampled_fisher(policy, params, obs[:0], np.zeros(0, dtype=int))
