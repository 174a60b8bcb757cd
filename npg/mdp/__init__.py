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
``sampler`` (vectorised trajectory sampling), ``planning`` (value/policy iteration, hard and
soft, backward induction), ``regularized`` (entropy-regularised values and grad J_tau),
``second_order`` and ``logit_curvature`` (the exact Hessian of J, its spectrum), ``updaters`` (exact PG,
NPG, entropy-regularised NPG, policy mirror descent, TRPO, CPI), ``rates`` (the convergence
theorems' bounds), ``fisher_compare`` (true vs empirical Fisher, compatible features),
``chain`` (the chain MDP of the softmax-PG plateau), ``lqr`` (linear-quadratic regulation with
linear Gaussian policies: exact cost, gradient, natural and Gauss-Newton directions, the Riccati
optimum; the continuous-state oracle), ``linalg`` (least squares on any array module), ``host``
(the one NumPy boundary of the modules that stay NumPy code).

Array modules: the MDP's data decides. ``mdp.to("cupy")`` (or ``"array_api_strict"``) moves the
tables, and the exact quantities, planning, the exact updaters, the Hessian and the sampler then
run there, with the policy's parameters and ``obs`` on the same module (a TypeError names both
modules otherwise). A NumPy MDP takes a policy on any module and converts pi once, as before.
LQR stays NumPy (small dense matrices); estimator statistics, V-trace, the differential values,
the Fisher comparisons and the rates are NumPy code behind ``host.numpy_boundary``.
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
from .planning import (PlanningResult, backward_induction, bellman_backup, greedy_policy,
                       optimal_objective, policy_iteration, soft_backup, soft_greedy_policy,
                       soft_policy_iteration, soft_value_iteration, value_iteration)
from .regularized import (policy_entropy, soft_evaluate, soft_objective, soft_policy_gradient,
                          tabular_softmax_soft_gradient)
from .second_order import (curvature_along_path, hessian, hessian_eigenvalues, resolvent,
                      smoothness, softmax_smoothness_bound, tabular_softmax_hessian)
from .logit_curvature import logit_jacobian, weighted_logit_hessian
from .chain import chain_mdp
from .fisher_compare import (compatible_critic, compatible_features, cosine, empirical_fisher,
                             gradient_second_moment, sampled_fisher, score_matrix)
from .lqr import LQR, UnstableGainError, riccati
from .updaters import (StepSizeWarning, cpi_step, entropy_npg_step, npg_direction, npg_step,
                       pg_step, pg_step_size_bound, pmd_step, tabular_npg_step,
                       tabular_pg_step, trpo_step, visitation_kl)

__all__ = [
    "LQR", "UnstableGainError", "riccati",
    "FiniteMDP", "random_mdp", "Trajectories", "sample_trajectories", "rollout", "as_generator", "frozen_lake", "cliff_walking", "taxi", "from_gymnasium",
    "check_policy_matrix", "transition_matrix", "expected_reward", "evaluate", "visitation",
    "objective", "stationary_distribution", "average_reward",
    "default_obs", "policy_matrix", "state_action_pairs", "policy_gradient", "fisher",
    "natural_gradient",
    "finite_horizon_evaluate", "finite_horizon_objective", "finite_horizon_gradient",
    "tabular_softmax_gradient", "tabular_softmax_fisher", "tabular_softmax_natural_gradient",
    "PlanningResult", "value_iteration", "policy_iteration", "soft_value_iteration",
    "soft_policy_iteration", "backward_induction", "optimal_objective", "bellman_backup",
    "greedy_policy", "soft_backup", "soft_greedy_policy",
    "policy_entropy", "soft_evaluate", "soft_objective", "soft_policy_gradient",
    "tabular_softmax_soft_gradient",
    "hessian", "tabular_softmax_hessian", "hessian_eigenvalues", "smoothness",
    "softmax_smoothness_bound", "curvature_along_path", "resolvent", "logit_jacobian",
    "weighted_logit_hessian",
    "StepSizeWarning", "pg_step", "pg_step_size_bound", "npg_direction", "npg_step",
    "entropy_npg_step", "pmd_step", "tabular_pg_step", "tabular_npg_step", "visitation_kl", "trpo_step", "cpi_step",
    "score_matrix", "sampled_fisher", "empirical_fisher", "gradient_second_moment",
    "compatible_features", "compatible_critic", "cosine", "chain_mdp",
]

from .differential import (average_reward_gradient, continuing_average_reward,  # noqa: E402
                           continuing_transitions, differential_values)
from .vtrace import (occupancy, truncated_target_policy, vtrace_expected_target,  # noqa: E402
                     vtrace_operator, vtrace_policy_gradient)

__all__ += ["continuing_transitions", "continuing_average_reward", "differential_values",
            "average_reward_gradient", "truncated_target_policy", "vtrace_operator",
            "vtrace_expected_target", "occupancy", "vtrace_policy_gradient"]
