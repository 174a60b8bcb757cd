"""Every policy class, as a case the contract tests run over.

A case is ``make(xp, dtype, rng) -> (policy, params, obs, act)`` with a batch of B observations
and valid actions, arrays on the module ``xp`` in ``dtype``. Add a case here for every new policy.
"""

import numpy as np


B = 7


def _cast(xp, params, dtype):
    return {k: xp.asarray(np.asarray(v), dtype=dtype) for k, v in params.items()}


def tabular(xp, dtype, rng):
    from npg.policies import TabularSoftmaxPolicy
    pol = TabularSoftmaxPolicy(n_states=5, n_actions=3)
    params = _cast(xp, pol.init(rng), dtype)
    obs = xp.asarray(rng.integers(0, 5, B))
    act = xp.asarray(rng.integers(0, 3, B))
    return pol, params, obs, act


def linear_onehot(xp, dtype, rng):
    from npg.features import OneHot
    from npg.policies import LinearSoftmaxPolicy
    pol = LinearSoftmaxPolicy(OneHot(6), n_actions=4)
    params = _cast(xp, pol.init(rng), dtype)
    obs = xp.asarray(rng.integers(0, 6, B))
    act = xp.asarray(rng.integers(0, 4, B))
    return pol, params, obs, act


def linear_poly(xp, dtype, rng):
    from npg.features import Polynomial
    from npg.policies import LinearSoftmaxPolicy
    pol = LinearSoftmaxPolicy(Polynomial(obs_dim=3, degree=2), n_actions=2)
    params = _cast(xp, pol.init(rng), dtype)
    obs = xp.asarray(rng.standard_normal((B, 3)), dtype=dtype)
    act = xp.asarray(rng.integers(0, 2, B))
    return pol, params, obs, act


def linear_gaussian(xp, dtype, rng):
    from npg.features import Polynomial
    from npg.policies import LinearGaussianPolicy
    pol = LinearGaussianPolicy(Polynomial(obs_dim=2, degree=1), act_dim=2)
    params = _cast(xp, pol.init(rng), dtype)
    obs = xp.asarray(rng.standard_normal((B, 2)), dtype=dtype)
    act = xp.asarray(rng.standard_normal((B, 2)), dtype=dtype)
    return pol, params, obs, act


def mlp_categorical(xp, dtype, rng):
    from npg.policies import MLPCategoricalPolicy
    pol = MLPCategoricalPolicy(obs_dim=4, n_actions=3, hidden=(5, 4), activation="tanh")
    params = _cast(xp, pol.init(rng), dtype)
    obs = xp.asarray(rng.standard_normal((B, 4)), dtype=dtype)
    act = xp.asarray(rng.integers(0, 3, B))
    return pol, params, obs, act


def mlp_categorical_relu(xp, dtype, rng):
    from npg.policies import MLPCategoricalPolicy
    pol = MLPCategoricalPolicy(obs_dim=3, n_actions=2, hidden=(6,), activation="relu")
    params = _cast(xp, pol.init(rng), dtype)
    obs = xp.asarray(rng.standard_normal((B, 3)), dtype=dtype)
    act = xp.asarray(rng.integers(0, 2, B))
    return pol, params, obs, act


def mlp_gaussian(xp, dtype, rng):
    from npg.policies import MLPGaussianPolicy
    pol = MLPGaussianPolicy(obs_dim=3, act_dim=2, hidden=(5, 4), activation="tanh")
    params = _cast(xp, pol.init(rng), dtype)
    obs = xp.asarray(rng.standard_normal((B, 3)), dtype=dtype)
    act = xp.asarray(rng.standard_normal((B, 2)), dtype=dtype)
    return pol, params, obs, act


def shared_actor_critic(xp, dtype, rng):
    from npg.policies import SharedActorCritic
    pol = SharedActorCritic(obs_dim=4, n_actions=3, hidden=(5, 4), activation="tanh")
    params = _cast(xp, pol.init(rng), dtype)
    obs = xp.asarray(rng.standard_normal((B, 4)), dtype=dtype)
    act = xp.asarray(rng.integers(0, 3, B))
    return pol, params, obs, act


def mlp_sde(xp, dtype, rng):
    # No hidden layers: the gSDE features phi(s) = s do not depend on the parameters, so the
    # stop-gradient in the variance is exact and the policy's gradients are the true ones
    # (finite differences apply); tests/algos/test_gsde.py covers hidden layers.
    from npg.policies import MLPSDEPolicy
    pol = MLPSDEPolicy(obs_dim=3, act_dim=2, hidden=(), activation="tanh", log_std_init=-0.5)
    params = _cast(xp, pol.init(rng), dtype)
    obs = xp.asarray(rng.standard_normal((B, 3)), dtype=dtype)
    act = xp.asarray(rng.standard_normal((B, 2)), dtype=dtype)
    return pol, params, obs, act


CASES = {f.__name__: f for f in (tabular, linear_onehot, linear_poly, linear_gaussian,
                                 mlp_categorical, mlp_categorical_relu, mlp_gaussian,
                                 shared_actor_critic, mlp_sde)}
DISCRETE = {"tabular", "linear_onehot", "linear_poly", "mlp_categorical",
            "mlp_categorical_relu", "shared_actor_critic"}
