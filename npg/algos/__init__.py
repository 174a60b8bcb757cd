"""Updaters: each an ``Algorithm`` (see ``base``) with a validated config dataclass.

``ALGORITHMS`` maps a name ("ppo", "reinforce", "a2c", ...) to its class; ``get_algorithm(name)``
looks one up with a helpful error.
"""

from .base import AlgoConfig, Algorithm, make_config, state_from_flat, state_to_flat

from .actor_critic import A2C, A2CConfig, ACConfig, ActorCritic
from .ppo import PPO, PPOConfig
from .q_actor_critic import QACConfig, QActorCritic
from .reinforce import Reinforce, ReinforceConfig

ALGORITHMS: dict[str, type] = {"reinforce": Reinforce, "ac": ActorCritic, "a2c": A2C,
                               "qac": QActorCritic, "ppo": PPO}


def get_algorithm(name: str) -> type:
    """The ``Algorithm`` subclass registered as ``name``; ValueError listing the names if none."""
    if not isinstance(name, str):
        raise TypeError(f"algo must be a str naming an algorithm; got {type(name).__name__}")
    if name not in ALGORITHMS:
        raise ValueError(f"algo must be one of {sorted(ALGORITHMS)}; got {name!r}")
    return ALGORITHMS[name]


__all__ = ["Algorithm", "AlgoConfig", "make_config", "state_to_flat", "state_from_flat",
           "ALGORITHMS", "get_algorithm", "PPO", "PPOConfig", "Reinforce", "ReinforceConfig",
           "ActorCritic", "ACConfig", "A2C", "A2CConfig", "QActorCritic", "QACConfig"]

from .dpo import DPO, DPOConfig  # noqa: E402  (preference optimisation: no env rollouts)
from .grpo import GRPO, GRPOConfig  # noqa: E402  (sequence tasks: no env rollouts)

__all__ += ["GRPO", "GRPOConfig", "DPO", "DPOConfig"]

from .average_reward import DifferentialACConfig, DifferentialActorCritic  # noqa: E402
from .off_policy import OffPolicyActorCritic, OffPolicyConfig, OffPolicyData  # noqa: E402
from .traces import ACLambdaConfig, ActorCriticLambda  # noqa: E402  (eligibility traces)

ALGORITHMS.update({"ac_lambda": ActorCriticLambda, "ac_avg": DifferentialActorCritic,
                   "vtrace": OffPolicyActorCritic})
__all__ += ["ActorCriticLambda", "ACLambdaConfig", "DifferentialActorCritic",
            "DifferentialACConfig", "OffPolicyActorCritic", "OffPolicyConfig", "OffPolicyData"]
