"""Policies: pi(a|s; theta) with hand-derived score functions.

Every policy offers init, forward, log_prob, sample, mode, entropy, score_sum, scores,
entropy_grad, kl and kl_grad (see ``base``); discrete ones also ``probs``.
"""

from .base import CategoricalPolicy, GaussianPolicy, Policy, as_generator
from .linear import LinearGaussianPolicy, LinearSoftmaxPolicy
from .mlp import MLPCategoricalPolicy, MLPGaussianPolicy
from .sde import MLPSDEPolicy
from .shared import SharedActorCritic
from .tabular import TabularSoftmaxPolicy

__all__ = ["Policy", "CategoricalPolicy", "GaussianPolicy", "as_generator",
           "TabularSoftmaxPolicy", "LinearSoftmaxPolicy", "LinearGaussianPolicy",
           "MLPCategoricalPolicy", "MLPGaussianPolicy", "MLPSDEPolicy", "SharedActorCritic"]

from .sequence import FrozenSequencePolicy, SequencePolicy, TabularSequencePolicy  # noqa: E402
from .sequence_mlp import LinearSequencePolicy, MLPSequencePolicy, PrefixEncoding  # noqa: E402

__all__ += ["SequencePolicy", "TabularSequencePolicy", "LinearSequencePolicy",
            "MLPSequencePolicy", "PrefixEncoding", "FrozenSequencePolicy"]

from .product import MLPProductPolicy  # noqa: E402  (MultiDiscrete / MultiBinary actions)

__all__ += ["MLPProductPolicy"]
