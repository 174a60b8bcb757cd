"""Finite MDPs and their exact quantities: V, Q, A, visitation, J, grad J, Fisher, natural gradient.

    mdp = npg.mdp.frozen_lake("4x4", is_slippery=True, gamma=0.99)
    policy = TabularSoftmaxPolicy(mdp.n_states, mdp.n_actions)
    params = policy.init(0)
    obs = npg.mdp.default_obs(mdp, policy)              # every state's observation
    pi = npg.mdp.policy_matrix(policy, params, obs)     # [S, A]
    V, Q, A = npg.mdp.evaluate(mdp, pi)
    grads = npg.mdp.policy_gradient(mdp, policy, params)   # exact grad J, keys of params

Modules: ``finite`` (the data), ``toytext`` (gymnasium tables), ``random`` (seeded MDPs),
``exact`` (fixed pi: linear solves), ``gradient`` (policy gradient theorem, Fisher, natural
gradient), ``horizon`` (finite horizon by backward recursion), ``closed_forms`` (tabular softmax),
``sampler`` (vectorised trajectory sampling).
"""

from .closed_forms import (tabular_softmax_fisher, tabular_softmax_gradient,
                           tabular_softmax_natural_gradient)
from .exact import (average_reward, check_policy_matrix, evaluate, expected_reward, objective,
                    stationary_distribution, transition_matrix, visitation)
from .finite import FiniteMDP
from .gradient import (default_obs, fisher, natural_gradient, policy_gradient, policy_matrix,
                       state_action_pairs)
from .horizon import finite_horizon_evaluate, finite_horizon_gradient, finite_horizon_objective
from .random import random_mdp
from .sampler import Trajectories, as_generator, rollout, sample_trajectories
from .toytext import cliff_walking, from_gymnasium, frozen_lake, taxi

__all__ = [
    "FiniteMDP", "random_mdp", "Trajectories", "sample_trajectories", "rollout", "as_generator", "frozen_lake", "cliff_walking", "taxi", "from_gymnasium",
    "check_policy_matrix", "transition_matrix", "expected_reward", "evaluate", "visitation",
    "objective", "stationary_distribution", "average_reward",
    "default_obs", "policy_matrix", "state_action_pairs", "policy_gradient", "fisher",
    "natural_gradient",
    "finite_horizon_evaluate", "finite_horizon_objective", "finite_horizon_gradient",
    "tabular_softmax_gradient", "tabular_softmax_fisher", "tabular_softmax_natural_gradient",
]
