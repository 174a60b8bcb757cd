"""Exact statistics of the sampled policy-gradient estimators of ``npg.estimators``.

Instead of sampling M trajectories and measuring, compute E[g] and Cov(g) of an estimator g
exactly on a finite MDP, for the sampler's horizon cap T:

* ``enumeration``: list every trajectory (small MDPs, short T; exact for any estimator);
* ``recursion``: second-moment Bellman equations over (state, time to go) (Sobel 1982, carried
  to the score-function products), for every estimator in ``npg.estimators``;
* ``returns``: the variance of the return itself (Sobel 1982);
* ``baseline``: the exact variance-optimal state baseline (Greensmith, Bartlett & Baxter 2004)
  and the variance of any baseline against it.

Modules: ``moments`` (the result), ``enumeration``, ``tails`` (estimators as tail recursions),
``recursion``, ``exact`` (one entry point), ``returns``, ``baseline``. docs/estimator_statistics.md explains
the method and its limits.

NumPy code: the recursions are many-operand ``np.einsum`` contractions (no array-API
equivalent). Given an MDP moved to another array module (``FiniteMDP.to``), each public function
converts its arguments to NumPy once, at the call (``npg.mdp.host.numpy_boundary``), and returns
NumPy.
"""

from .baseline import (BaselineQuadratic, baseline_quadratic, optimal_baseline,
                       score_weighted_baseline, variance_ratios)
from .enumeration import (EnumerationTooLarge, count_trajectories, enumerate_trajectories,
                          enumerated_moments, enumeration_bytes)
from .exact import exact_moments, recursive_moments, score_tables
from .moments import ExactMoments, cosine
from .returns import return_moments, return_variance
from .tails import TailForm, tail_form

__all__ = ["ExactMoments", "exact_moments", "recursive_moments", "enumerated_moments",
           "enumerate_trajectories", "count_trajectories", "enumeration_bytes",
           "EnumerationTooLarge", "TailForm", "tail_form", "score_tables", "cosine",
           "BaselineQuadratic", "baseline_quadratic", "optimal_baseline",
           "score_weighted_baseline", "variance_ratios", "return_moments", "return_variance"]
