"""Distributions on their parameters, each function with its hand-derived gradient.

``categorical``: logits z [..., A]. ``gaussian``: diagonal Gaussian (mean, log_std) [..., K].
``sde``: the Gaussian of generalised state-dependent exploration, a = mu(s) + phi(s) E.
Use them as modules: ``from npg.distributions import categorical; categorical.log_prob(z, a)``.
"""

from . import categorical, gaussian, sde

__all__ = ["categorical", "gaussian", "sde"]

from . import sequence  # noqa: E402  (autoregressive completions: npg.distributions.sequence)

__all__ += ["sequence"]

from . import product  # noqa: E402  (MultiDiscrete / MultiBinary: npg.distributions.product)

__all__ += ["product"]
