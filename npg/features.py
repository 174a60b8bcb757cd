"""Feature maps phi for linear policies and critics.

A feature map is a callable ``phi = features(obs, dtype=None)`` with attributes

    dim           D, the number of features
    discrete      True when obs are integer states [B] (else Box observations [B, obs_dim])
    state_action  True when phi is state-action features [B, A, D] (else state features [B, D])

State features phi(s) [B, D]: ``OneHot`` (discrete states), ``Polynomial`` and ``RBF`` (Box).
State-action features phi(s, a) [B, A, D]: ``StateActionFeatures(phi, A)``, the outer product
onehot(a) (x) phi(s), i.e. phi(s, a)[a' * D + d] = [a' = a] phi(s)_d.

What ``LinearSoftmaxPolicy`` expects: either a state map (then theta [D, A] and
z_a = phi(s) . theta[:, a], which is the same policy as state-action features
onehot(a) (x) phi(s) with theta flattened) or a state-action map (theta [D],
z_a = phi(s, a) . theta).
``LinearGaussianPolicy`` and ``LinearValue`` expect a state map; include a constant feature (the
Polynomial's degree-0 term, or OneHot) if the mean should have an offset.

Maps take their array module from obs and hold no trainable parameters; a map's constants
(exponents, centres) are hyperparameters given or derived at construction.
"""

from __future__ import annotations

import itertools

import numpy as np

from .checks import check_finite, check_positive, check_positive_int
from .backend import create, device_of, get_xp

__all__ = ["OneHot", "Polynomial", "RBF", "StateActionFeatures"]


def _box_obs(obs, obs_dim: int, dtype):
    """Validate Box obs [B, obs_dim] (real, finite); cast to dtype (default: float64 for ints)."""
    if not hasattr(obs, "shape") or not hasattr(obs, "dtype"):
        raise TypeError(f"obs must be an array [B, {obs_dim}]; got {type(obs).__name__}")
    if len(obs.shape) != 2 or int(obs.shape[1]) != obs_dim:
        raise ValueError(f"obs must have shape [B, {obs_dim}]; got {tuple(obs.shape)}")
    xp = get_xp(obs)
    if not (xp.isdtype(obs.dtype, "real floating") or xp.isdtype(obs.dtype, "integral")):
        raise TypeError(f"obs must be a real array; got dtype {obs.dtype}")
    if dtype is None:
        dtype = obs.dtype if xp.isdtype(obs.dtype, "real floating") else xp.float64
    obs = xp.astype(obs, dtype) if obs.dtype != dtype else obs
    check_finite("obs", obs)
    return obs


class OneHot:
    """phi(s) = e_s in R^n for integer states s in [0, n): obs int [B] -> [B, n].

    With a linear policy this is the tabular parametrisation (theta[:, a] = the table column).
    """

    discrete = True
    state_action = False

    def __init__(self, n: int):
        self.n = check_positive_int("n", n)

    @property
    def dim(self) -> int:
        return self.n

    def __repr__(self):
        return f"OneHot({self.n})"

    def __call__(self, obs, dtype=None):
        if not hasattr(obs, "shape") or not hasattr(obs, "dtype"):
            raise TypeError(f"obs must be an integer array [B]; got {type(obs).__name__}")
        xp = get_xp(obs)
        if len(obs.shape) != 1:
            raise ValueError(f"obs must be integer states of shape [B]; got {tuple(obs.shape)}")
        if not xp.isdtype(obs.dtype, "integral"):
            raise TypeError(f"obs must be integer states in [0, {self.n}); got dtype {obs.dtype}")
        if obs.shape[0] and (bool(xp.any(obs < 0)) or bool(xp.any(obs >= self.n))):
            raise ValueError(f"obs must lie in [0, {self.n}); got values from "
                             f"{int(xp.min(obs))} to {int(xp.max(obs))}")
        dtype = xp.float64 if dtype is None else dtype
        states = create(xp, "arange", self.n, dtype=obs.dtype, device=device_of(obs))
        return xp.astype(obs[:, None] == states, dtype)


class Polynomial:
    """All monomials of total degree <= ``degree`` in the obs_dim inputs, constant included:

        phi(s) = ( prod_j s_j^{e_j} : e in N^{obs_dim}, sum_j e_j <= degree )

    ordered by total degree, then lexicographically (degree 1 gives [1, s_1, ..., s_n]).
    dim = C(obs_dim + degree, degree). Box obs [B, obs_dim] -> [B, dim].
    """

    discrete = False
    state_action = False

    def __init__(self, obs_dim: int, degree: int = 2):
        self.obs_dim = check_positive_int("obs_dim", obs_dim)
        if isinstance(degree, bool) or not isinstance(degree, (int, np.integer)):
            raise TypeError(f"degree must be a non-negative int; got {type(degree).__name__}")
        if degree < 0:
            raise ValueError(f"degree must be a non-negative int; got {degree}")
        self.degree = int(degree)
        # Derived constant: for each non-constant monomial, the column indices to multiply.
        self._factors = tuple(
            combo for d in range(1, self.degree + 1)
            for combo in itertools.combinations_with_replacement(range(self.obs_dim), d))

    def exponents(self) -> np.ndarray:
        """The exponent vectors e [dim, obs_dim], one row per feature."""
        rows = []
        for d in range(self.degree + 1):
            for combo in itertools.combinations_with_replacement(range(self.obs_dim), d):
                e = [0] * self.obs_dim
                for j in combo:
                    e[j] += 1
                rows.append(e)
        return np.asarray(rows, dtype=np.int64).reshape(-1, self.obs_dim)

    @property
    def dim(self) -> int:
        return 1 + len(self._factors)

    def __repr__(self):
        return f"Polynomial(obs_dim={self.obs_dim}, degree={self.degree})"

    def __call__(self, obs, dtype=None):
        obs = _box_obs(obs, self.obs_dim, dtype)
        xp = get_xp(obs)
        x = [obs[:, j] for j in range(self.obs_dim)]
        cols = [create(xp, "ones", (obs.shape[0],), dtype=obs.dtype, device=device_of(obs))]
        prods = {(): cols[0]}
        for combo in self._factors:  # a loop over features, not samples: x_i x_j ... x_k
            prods[combo] = prods[combo[:-1]] * x[combo[-1]] if len(combo) > 1 else x[combo[0]]
            cols.append(prods[combo])
        return xp.stack(cols, axis=1)


class RBF:
    """Gaussian radial basis functions with fixed centres c_d and width l:

        phi_d(s) = exp( -||s - c_d||^2 / (2 l^2) ),   centres [D, obs_dim]

    Box obs [B, obs_dim] -> [B, D]. ``RBF.grid(low, high, n_per_dim)`` places centres on a
    regular grid (width: the grid spacing by default). No constant feature is included.
    """

    discrete = False
    state_action = False

    def __init__(self, centres, width: float):
        c = np.asarray(centres, dtype=np.float64)
        if c.ndim != 2 or c.shape[0] < 1:
            raise ValueError(f"centres must be an array [D, obs_dim] with D >= 1; got shape "
                             f"{c.shape}")
        if not np.all(np.isfinite(c)):
            raise ValueError("centres must be finite")
        self.centres = c
        self.width = check_positive("width", width)
        self.obs_dim = int(c.shape[1])

    @classmethod
    def grid(cls, low, high, n_per_dim: int, width: float | None = None) -> "RBF":
        """Centres on the grid prod_j linspace(low_j, high_j, n_per_dim)."""
        low, high = np.atleast_1d(np.asarray(low, float)), np.atleast_1d(np.asarray(high, float))
        n = check_positive_int("n_per_dim", n_per_dim)
        if low.shape != high.shape or low.ndim != 1 or not np.all(high > low):
            raise ValueError("low and high must be 1-d of equal length with high > low")
        axes = [np.linspace(lo, hi, n) for lo, hi in zip(low, high)]
        centres = np.stack([g.ravel() for g in np.meshgrid(*axes, indexing="ij")], axis=1)
        if width is None:
            width = float(np.min(high - low)) / max(n - 1, 1)
        return cls(centres, width)

    @property
    def dim(self) -> int:
        return int(self.centres.shape[0])

    def __repr__(self):
        return f"RBF(centres=<{self.dim} x {self.obs_dim}>, width={self.width})"

    def __call__(self, obs, dtype=None):
        obs = _box_obs(obs, self.obs_dim, dtype)
        xp = get_xp(obs)
        c = xp.asarray(self.centres, dtype=obs.dtype)
        # ||s - c||^2 expanded as ||s||^2 - 2 s.c + ||c||^2 (a matrix product, no [B, D, n] temp)
        sq = (xp.sum(obs * obs, axis=1)[:, None] - 2.0 * (obs @ c.T)
              + xp.sum(c * c, axis=1)[None, :])
        return xp.exp(-xp.clip(sq, 0.0, None) / (2.0 * self.width ** 2))


class StateActionFeatures:
    """phi(s, a) = onehot(a) (x) phi(s): obs -> [B, A, A * D] with
    phi(s, a)[a' * D + d] = [a' = a] phi(s)_d.

    The linear softmax policy's score then reads phi(s, a) - sum_a' pi(a'|s) phi(s, a').
    """

    state_action = True

    def __init__(self, features, n_actions: int):
        if getattr(features, "state_action", True):
            raise TypeError("features must be a state feature map (OneHot, Polynomial, RBF)")
        self.features = features
        self.n_actions = check_positive_int("n_actions", n_actions)
        self.discrete = features.discrete
        self.obs_dim = getattr(features, "obs_dim", None)

    @property
    def dim(self) -> int:
        return self.n_actions * self.features.dim

    def __repr__(self):
        return f"StateActionFeatures({self.features!r}, n_actions={self.n_actions})"

    def __call__(self, obs, dtype=None):
        phi = self.features(obs, dtype)                                   # [B, D]
        xp = get_xp(phi)
        eye = create(xp, "eye", self.n_actions, dtype=phi.dtype, device=device_of(phi))  # [A, A]
        out = eye[None, :, :, None] * phi[:, None, None, :]               # [B, A, A, D]
        return xp.reshape(out, (phi.shape[0], self.n_actions, self.dim))
