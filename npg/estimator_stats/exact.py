"""One entry point: the exact moments of an estimator, by recursion or by enumeration.

    m = exact_moments(mdp, policy, params, npg.estimators.GAE(V, 0.9), horizon=200,
                      exact=grad_J)
    m.mean, m.cov, m.bias, m.variance, m.mse, m.cosine

``method="recursion"`` (``recursion.py``) scales to long horizons (work linear in T);
``method="enumeration"`` (``enumeration.py``) lists every trajectory and runs the estimator's own
code on it, exact for any estimator but exponential in T; ``"auto"`` takes the recursion when
the estimator has a tail form and enumeration otherwise. Both are exact for the sampler with the
same horizon cap, so they agree to rounding (tests/estimator_stats/test_estimator_stats.py: 1e-10).
"""

from __future__ import annotations

import numpy as np

from ..estimators import score_table
from ..mdp import default_obs
from ..mdp.host import numpy_boundary
from .enumeration import DEFAULT_MAX_BYTES, enumerated_moments
from .moments import ExactMoments
from .recursion import tail_moments
from .tails import tail_form

__all__ = ["exact_moments", "recursive_moments", "score_tables"]


@numpy_boundary
def score_tables(mdp, policy, params, obs=None):
    """(pi [S, A], psi [S, A, P]): the policy matrix and grad log pi(a|s) per pair."""
    obs = default_obs(mdp, policy, params) if obs is None else obs
    pi, table = score_table(policy, params, obs)
    return pi, table.reshape(pi.shape[0], pi.shape[1], -1)


@numpy_boundary
def recursive_moments(mdp, policy, params, estimator, horizon: int, obs=None, exact=None,
                      trace_only: bool = False, name: str | None = None) -> ExactMoments:
    """``ExactMoments`` by the second-moment recursion (``recursion.py``).

    ``trace_only=True`` computes tr Cov only (``cov`` is then NaN): memory S P^0 per block pair
    instead of S P^2, for large P.
    """
    pi, psi = score_tables(mdp, policy, params, obs)
    form = tail_form(estimator, mdp, pi)
    u, M = tail_moments(mdp, form, psi, horizon, trace_only)
    mean = u[form.out]
    second = M[form.out, form.out]
    if trace_only:
        cov, tr2 = np.full((mean.size, mean.size), np.nan), float(second)
    else:
        cov = second - np.outer(mean, mean)
        cov, tr2 = 0.5 * (cov + cov.T), float(np.trace(second))
    return ExactMoments(name or estimator.name, mean, cov,
                        None if exact is None else np.asarray(exact, dtype=np.float64),
                        int(horizon), "recursion", tr2)


@numpy_boundary
def exact_moments(mdp, policy, params, estimator, horizon: int, method: str = "auto",
                  obs=None, exact=None, max_bytes: int = DEFAULT_MAX_BYTES,
                  name: str | None = None) -> ExactMoments:
    """Exact mean and covariance of ``estimator`` with the sampler's horizon cap ``horizon``.

    method: "recursion", "enumeration" or "auto" (recursion where a tail form exists).
    exact: the target gradient for bias / MSE / cosine (e.g. ``npg.mdp.policy_gradient``).
    """
    if method not in ("auto", "recursion", "enumeration"):
        raise ValueError(f"method must be 'auto', 'recursion' or 'enumeration'; got {method!r}")
    if method == "enumeration":
        return enumerated_moments(mdp, policy, params, estimator, horizon, obs, exact,
                                  max_bytes, name)
    if method == "auto":
        try:
            tail_form(estimator, mdp, np.full((mdp.n_states, mdp.n_actions), 1 / mdp.n_actions))
        except TypeError:
            return enumerated_moments(mdp, policy, params, estimator, horizon, obs, exact,
                                      max_bytes, name)
    return recursive_moments(mdp, policy, params, estimator, horizon, obs, exact, name=name)
