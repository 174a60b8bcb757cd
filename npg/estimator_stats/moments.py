"""The exact first and second moments of one gradient estimator, and what follows from them.

For an estimator g [P] (one trajectory, ``npg.estimators``) with exact mean mu = E[g] and
covariance Sigma = E[(g - mu)(g - mu)'], against a target gradient grad J [P]:

    bias     = mu - grad J                     variance = tr Sigma
    MSE      = E||g - grad J||^2 = tr Sigma + ||bias||^2
    cosine   = cos(mu, grad J)
    variance of the mean of M estimates = tr Sigma / M

Everything here is exact arithmetic on (mu, Sigma); there is no sampling error.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["ExactMoments", "cosine"]


def cosine(a, b) -> float:
    """cos(a, b) = a . b / (|a| |b|); 0 when either is the zero vector."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    den = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(a @ b) / den if den > 0 else 0.0


@dataclass(frozen=True, eq=False)
class ExactMoments:
    """Exact mean [P] and covariance [P, P] of an estimator under the sampler's horizon cap.

    Attributes:
        name: the estimator's name.
        mean: E[g] [P].
        cov: Cov(g) [P, P] (``trace_only`` results hold NaN here; use ``variance``).
        exact: the target gradient [P] (grad J), or None.
        horizon: T, the sampler's horizon cap that the moments are exact for.
        method: "enumeration" or "recursion".
        second_trace: E||g||^2 (always available).
        n_trajectories: for enumeration, how many distinct trajectories were summed (else 0).
    """

    name: str
    mean: np.ndarray
    cov: np.ndarray
    exact: np.ndarray | None
    horizon: int
    method: str
    second_trace: float
    n_trajectories: int = 0

    @property
    def variance(self) -> float:
        """tr Cov(g) = E||g||^2 - ||E g||^2."""
        if np.all(np.isfinite(self.cov)):
            return float(np.trace(self.cov))
        return float(self.second_trace - self.mean @ self.mean)

    @property
    def std(self) -> np.ndarray:
        """Per-coordinate standard deviation sqrt(diag Sigma) [P]."""
        return np.sqrt(np.maximum(np.diag(self.cov), 0.0))

    def _target(self) -> np.ndarray:
        if self.exact is None:
            raise ValueError("no target gradient: pass exact= to compute bias, MSE or cosine")
        return self.exact

    @property
    def bias(self) -> np.ndarray:
        """E[g] - grad J [P]."""
        return self.mean - self._target()

    @property
    def bias_norm(self) -> float:
        return float(np.linalg.norm(self.bias))

    @property
    def mse(self) -> float:
        """E||g - grad J||^2 = tr Sigma + ||bias||^2."""
        return self.variance + self.bias_norm ** 2

    @property
    def cosine(self) -> float:
        """cos(E[g], grad J)."""
        return cosine(self.mean, self._target())

    def required_samples(self, rel_error: float = 0.1) -> int:
        """M for which the mean of M estimates has E||mean - E g||^2 <= (rel_error |grad J|)^2."""
        target = np.linalg.norm(self._target())
        if target == 0:
            raise ValueError("grad J is zero: a relative error is undefined")
        return int(np.ceil(self.variance / (rel_error * target) ** 2))
