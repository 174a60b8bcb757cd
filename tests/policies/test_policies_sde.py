"""MLPSDEPolicy with hidden layers: its gradients are those at constant features in the variance.

The gSDE variance v = phi(s)^2 @ exp(2 L) + eps uses the features phi held constant (the
stop-gradient of ``npg.policies.sde``), so every policy gradient (score_sum, scores,
entropy_grad, kl_grad) must equal central finite differences of the same quantity computed with
phi frozen at its current value (``sde_forward(..., phi_sg=phi)``). The contract tests
(tests/policies/test_policy_contracts.py) cover the case without hidden layers, where phi = s
and the two gradients coincide.
"""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from npg.distributions import sde
from npg.params import flatten, unflatten
from npg.policies import MLPSDEPolicy
from npg.policies.sde import sde_forward
from npg.testing import check_grad_directional

B = 6


def _setup(seed):
    rng = np.random.default_rng(seed)
    pol = MLPSDEPolicy(obs_dim=3, act_dim=2, hidden=(5, 4), activation="tanh", log_std_init=-0.3)
    params = {k: v + 0.3 * rng.standard_normal(v.shape) for k, v in pol.init(rng).items()}
    obs = rng.standard_normal((B, 3))
    act = rng.standard_normal((B, 2))
    w = rng.standard_normal(B)
    phi0 = pol.forward(params, obs)[0][1]
    return rng, pol, params, obs, act, w, phi0


def _frozen(params, obs, phi0):
    """(mean, phi0, clip(L)) of params with the variance's features frozen at phi0."""
    return sde_forward(params, obs, "tanh", phi_sg=phi0)[0]


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2 ** 32 - 1))
def test_gradients_equal_finite_differences_at_frozen_features(seed):
    rng, pol, params, obs, act, w, phi0 = _setup(seed)
    kw = dict(rng=seed, n_directions=4)
    check_grad_directional(lambda p: w @ sde.log_prob(*_frozen(p, obs, phi0), act),
                           pol.score_sum(params, obs, act, w), params, **kw)
    S = pol.scores(params, obs, act)
    check_grad_directional(lambda p: sde.log_prob(*_frozen(p, obs, phi0), act)[2],
                           unflatten(S[2], params), params, **kw)
    check_grad_directional(lambda p: w @ sde.entropy(*_frozen(p, obs, phi0)[1:]),
                           pol.entropy_grad(params, obs, w), params, **kw)
    old = pol.dist_params({k: v + 0.2 * rng.standard_normal(v.shape) for k, v in params.items()},
                          obs)
    check_grad_directional(lambda p: w @ sde.kl(*old, *_frozen(p, obs, phi0)),
                           pol.kl_grad(params, obs, old, w), params, **kw)


def test_scores_rows_sum_to_score_sum_and_terms_match_log_prob():
    _, pol, params, obs, act, w, _ = _setup(3)
    np.testing.assert_allclose(w @ pol.scores(params, obs, act),
                               flatten(pol.score_sum(params, obs, act, w)), rtol=1e-12,
                               atol=1e-12)
    dist = pol.dist_params(params, obs)
    logp, ent, _ = pol.terms(dist, act)
    np.testing.assert_allclose(logp, pol.log_prob(params, obs, act), rtol=1e-14)
    np.testing.assert_allclose(ent, pol.entropy(params, obs), rtol=1e-14)
    np.testing.assert_array_equal(pol.kl(params, obs, dist), 0.0)


def test_kl_matches_the_diagonal_gaussian_formula():
    # Hand check: KL(N(m_p, v_p) || N(m_q, v_q)) = [log(v_q / v_p) + (v_p + (m_p - m_q)^2) / v_q
    # - 1] / 2 per coordinate; with phi = [[1]], L = [[l]]: v = exp(2 l) + eps.
    mp, mq = np.array([[0.5]]), np.array([[-0.25]])
    phi = np.ones((1, 1))
    lp, lq = np.array([[0.1]]), np.array([[-0.4]])
    vp, vq = np.exp(0.2) + sde.EPS, np.exp(-0.8) + sde.EPS
    want = 0.5 * (np.log(vq / vp) + (vp + 0.75 ** 2) / vq - 1.0)
    np.testing.assert_allclose(sde.kl(mp, phi, lp, mq, phi, lq), [want], rtol=1e-14)
