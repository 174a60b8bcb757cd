"""Running observation normalisation and reward scaling, with state as plain arrays.

Running moments (Chan, Golub & LeVeque 1979, "Updating formulae and a pairwise algorithm for
computing sample variances"): merging the statistics ``(mean m_a, var v_a, count n_a)`` of the
data seen so far with those of a new batch ``(m_b, v_b, n_b)`` (population variances):

    n     = n_a + n_b
    delta = m_b - m_a
    m     = m_a + delta n_b / n
    v     = (v_a n_a + v_b n_b + delta^2 n_a n_b / n) / n

Starting from ``n_a = 0`` the result equals ``numpy.mean`` / ``numpy.var`` over all data seen.

Observation normalisation:  x' = clip((x - m) / sqrt(v + eps), -clip, clip)     [N, D]
Reward scaling (Stable-Baselines3 ``VecNormalize``): keep a discounted return per environment,
    R_i <- gamma R_i + r_i,   moments of R updated,   r' = clip(r / sqrt(Var[R] + eps), -clip, clip),
    R_i <- 0 when episode i ends.
Rewards are divided by the standard deviation of the return, not centred, so the sign of every
reward (and so the optimal policy) is unchanged.

Constructors store hyperparameters only; the statistics are created on first use (or loaded with
``load_state_dict``) and are plain arrays in ``state_dict()``, so they save with an agent via
``np.savez``. Setting ``frozen = True`` stops the updates (evaluation) and keeps the scaling.
These are collection-side NumPy objects: the environments produce NumPy arrays.
"""

from __future__ import annotations

import numpy as np

from ..checks import check_finite, check_positive, check_unit_interval

__all__ = ["RunningMeanVar", "ObsNormalizer", "RewardScaler"]


class RunningMeanVar:
    """Running mean and population variance of a stream of ``[M, *shape]`` batches (Chan et al.).

    State: ``mean [*shape]``, ``var [*shape]`` (float64, 0 and 1 before any data), ``count``
    (float, 0 before any data).
    """

    def __init__(self, shape: tuple[int, ...] = ()):
        self.mean = np.zeros(shape, dtype=np.float64)
        self.var = np.ones(shape, dtype=np.float64)
        self.count = 0.0

    def update(self, x: np.ndarray) -> None:
        """Merge a batch ``x [M, *shape]`` into the statistics (no-op for M = 0)."""
        n_b = x.shape[0]
        if n_b == 0:
            return
        m_b = x.mean(axis=0, dtype=np.float64)
        v_b = x.var(axis=0, dtype=np.float64)
        n_a = self.count
        n = n_a + n_b
        delta = m_b - self.mean
        self.mean = self.mean + delta * (n_b / n)
        self.var = (self.var * n_a + v_b * n_b + delta * delta * (n_a * n_b / n)) / n
        self.count = n

    def state_dict(self, prefix: str = "") -> dict[str, np.ndarray]:
        return {prefix + "mean": self.mean.copy(), prefix + "var": self.var.copy(),
                prefix + "count": np.asarray(self.count, dtype=np.float64)}

    def load_state_dict(self, state, prefix: str = "") -> None:
        mean = np.asarray(state[prefix + "mean"], dtype=np.float64)
        var = np.asarray(state[prefix + "var"], dtype=np.float64)
        count = float(np.asarray(state[prefix + "count"]))
        if mean.shape != var.shape:
            raise ValueError(f"{prefix}mean and {prefix}var must have one shape; got "
                             f"{mean.shape} and {var.shape}")
        check_finite(prefix + "mean", mean)
        check_finite(prefix + "var", var)
        if bool(np.any(var < 0)) or not count >= 0:
            raise ValueError(f"{prefix}var and {prefix}count must be non-negative")
        self.mean, self.var, self.count = mean.copy(), var.copy(), count


class ObsNormalizer:
    """``x' = clip((x - mean) / sqrt(var + eps), -clip, clip)`` with running moments of x.

    clip  > 0, bound on the normalised value (10 as in Stable-Baselines3).
    eps   > 0, keeps constant features finite.
    """

    def __init__(self, clip: float = 10.0, eps: float = 1e-8):
        self.clip = check_positive("clip", clip)
        self.eps = check_positive("eps", eps)
        self.frozen = False
        self.moments: RunningMeanVar | None = None

    def _moments(self, dim: int) -> RunningMeanVar:
        if self.moments is None:
            self.moments = RunningMeanVar((dim,))
        elif self.moments.mean.shape != (dim,):
            raise ValueError(f"observations must have {self.moments.mean.shape[0]} features "
                             f"(the normaliser's state); got {dim}")
        return self.moments

    def observe(self, x: np.ndarray) -> None:
        """Update the moments with a batch ``x [M, D]`` unless frozen."""
        m = self._moments(x.shape[-1])
        if not self.frozen:
            m.update(x)

    def normalize(self, x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """``[M, D] -> [M, D]`` normalised and clipped, in the dtype of ``out`` (or of x)."""
        m = self._moments(x.shape[-1])
        y = (x - m.mean) / np.sqrt(m.var + self.eps)
        return np.clip(y, -self.clip, self.clip, out=out, casting="unsafe")

    def state_dict(self) -> dict[str, np.ndarray]:
        if self.moments is None:
            return {}
        return self.moments.state_dict("obs_")

    def load_state_dict(self, state) -> None:
        if not state:
            self.moments = None
            return
        self.moments = RunningMeanVar()
        self.moments.load_state_dict(state, "obs_")


class RewardScaler:
    """``r' = clip(r / sqrt(Var[R] + eps), -clip, clip)`` with R the running discounted return.

    gamma  in [0, 1], the discount of the return whose variance scales the rewards.
    clip   > 0;  eps > 0.
    """

    def __init__(self, gamma: float = 0.99, clip: float = 10.0, eps: float = 1e-8):
        self.gamma = check_unit_interval("gamma", gamma)
        self.clip = check_positive("clip", clip)
        self.eps = check_positive("eps", eps)
        self.frozen = False
        self.moments: RunningMeanVar | None = None
        self.ret: np.ndarray | None = None

    def scale(self, rew: np.ndarray, done: np.ndarray, valid: np.ndarray) -> np.ndarray:
        """Scaled rewards ``[N]`` for one vector step.

        rew [N] raw rewards; done [N] terminated or truncated; valid [N] False on phantom reset
        steps (they neither enter the return nor the statistics).
        """
        if self.moments is None:
            self.moments = RunningMeanVar(())
        if self.ret is None or self.ret.shape != rew.shape:
            self.ret = np.zeros(rew.shape, dtype=np.float64)
        if not self.frozen:
            self.ret = np.where(valid, self.gamma * self.ret + rew, self.ret)
            self.moments.update(self.ret[valid])
            self.ret[done] = 0.0
        out = rew / np.sqrt(self.moments.var + self.eps)
        return np.clip(out, -self.clip, self.clip, out=out)

    def state_dict(self) -> dict[str, np.ndarray]:
        if self.moments is None:
            return {}
        return self.moments.state_dict("ret_")

    def load_state_dict(self, state) -> None:
        self.ret = None
        if not state:
            self.moments = None
            return
        self.moments = RunningMeanVar()
        self.moments.load_state_dict(state, "ret_")
