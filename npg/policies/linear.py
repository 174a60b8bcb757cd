"""Policies linear in features: a softmax over phi(s, a) . theta, and a linear-mean Gaussian.

Linear softmax (Sutton & Barto 2018, eq. 13.3 and exercise 13.3), z_a(s) = theta . phi(s, a):

    grad_theta log pi(a|s) = phi(s, a) - sum_a' pi(a'|s) phi(s, a')

With a *state* feature map phi(s) [B, D] the state-action features are implicitly
onehot(a) (x) phi(s), theta is stored as a matrix [D, A] (z = phi(s) theta) and the score is
the outer product phi(s) (onehot(a) - pi(.|s))^T [D, A]. With a *state-action* map
(``features.state_action``, phi [B, A, D]) theta is a vector [D].

Linear Gaussian: mean = phi(s) W, W [D, K], with a state-independent log_std [K] clipped to
[LOG_STD_MIN, LOG_STD_MAX]:

    grad_W log pi(a|s) = phi(s) ((a - mean) / sigma^2)^T           [D, K]
    grad_log_std log pi(a|s) = ((a - mean) / sigma)^2 - 1          [K]  (0 where clipped)
"""

from __future__ import annotations

from ..checks import check_positive_int
from ..backend import default_xp, get_xp
from ..distributions.gaussian import LOG_STD_MAX, LOG_STD_MIN, clip_log_std
from .base import (CategoricalPolicy, GaussianPolicy, as_generator, check_init_scale,
                   check_log_std_init)

__all__ = ["LinearSoftmaxPolicy", "LinearGaussianPolicy"]


def _check_features(features):
    for attr in ("dim", "discrete", "state_action"):
        if not hasattr(features, attr) or not callable(features):
            raise TypeError(f"features must be a feature map (callable with attributes dim, "
                            f"discrete, state_action; see npg.features); got "
                            f"{type(features).__name__}")
    return features


def _move_obs(obs, xp, dtype, features):
    """obs onto the params' module (Box obs also into their dtype); features validate the rest."""
    if not hasattr(obs, "shape") or not hasattr(obs, "dtype"):
        raise TypeError(f"obs must be an array; got {type(obs).__name__}")
    oxp = get_xp(obs)
    if oxp is not xp:
        obs = xp.asarray(obs)
    if not features.discrete and xp.isdtype(obs.dtype, "real floating") and obs.dtype != dtype:
        obs = xp.astype(obs, dtype)
    return obs


class LinearSoftmaxPolicy(CategoricalPolicy):
    """pi(a|s) = softmax_a(theta . phi(s, a)) over ``n_actions`` actions.

    Args:
        features: a state map (theta [D, A]) or a state-action map (theta [D]); see
            ``npg.features``.
        n_actions: A.
    Parameters: {"theta": [D, A]} or {"theta": [D]}.
    """

    def __init__(self, features, n_actions: int):
        self.features = _check_features(features)
        self.n_actions = check_positive_int("n_actions", n_actions)

    def __repr__(self):
        return f"LinearSoftmaxPolicy({self.features!r}, n_actions={self.n_actions})"

    def param_shapes(self):
        if self.features.state_action:
            return {"theta": (self.features.dim,)}
        return {"theta": (self.features.dim, self.n_actions)}

    def init(self, rng, scale: float = 0.1, dtype=None):
        """theta = scale * N(0, 1) (scale=0: the uniform policy), float64 by default."""
        rng = as_generator(rng)
        xp = default_xp()
        theta = check_init_scale(scale) * rng.standard_normal(self.param_shapes()["theta"])
        return {"theta": xp.asarray(theta, dtype=xp.float64 if dtype is None else dtype)}

    def _validate_obs(self, obs, xp, dtype):
        return _move_obs(obs, xp, dtype, self.features)

    def forward(self, params, obs, check: bool = True):
        """z = phi(s) theta [B, A] (state map) or z_a = phi(s, a) . theta (state-action map).

        vjp(dz [B, A]): state map -> phi^T dz [D, A]; state-action map -> sum_{b,a} dz_ba phi_ba
        [D]. per_sample=True keeps the leading [B] axis (phi_b dz_b^T, sum_a dz_ba phi_ba).
        """
        if check:
            obs = self.check_obs(params, obs)
        theta = params["theta"]
        xp = get_xp(theta)
        phi = self.features(obs, theta.dtype)
        if self.features.state_action:
            if tuple(phi.shape[1:]) != (self.n_actions, theta.shape[0]):
                raise ValueError(f"features must give phi(s, a) [B, {self.n_actions}, "
                                 f"{theta.shape[0]}]; got {tuple(phi.shape)}")
            z = phi @ theta

            def vjp(dz, per_sample=False):
                g = xp.sum(dz[:, :, None] * phi, axis=1)                   # [B, D]
                return {"theta": g if per_sample else xp.sum(g, axis=0)}
        else:
            z = phi @ theta

            def vjp(dz, per_sample=False):
                if per_sample:
                    return {"theta": phi[:, :, None] * dz[:, None, :]}     # [B, D, A]
                return {"theta": phi.T @ dz}                                # [D, A]
        return z, vjp


class LinearGaussianPolicy(GaussianPolicy):
    """pi(.|s) = N(phi(s) W, diag(exp(2 log_std))) over ``act_dim`` = K dimensions.

    Args:
        features: a state map phi [B, D] (include a constant feature for an offset).
        act_dim: K.
        log_std_init: initial log_std for every dimension.
    Parameters: {"W": [D, K], "log_std": [K]}.
    """

    def __init__(self, features, act_dim: int, log_std_init: float = 0.0):
        self.features = _check_features(features)
        if features.state_action:
            raise TypeError("features must be a state feature map phi(s) [B, D] for "
                            "LinearGaussianPolicy")
        self.act_dim = check_positive_int("act_dim", act_dim)
        self.log_std_init = check_log_std_init(log_std_init)

    def __repr__(self):
        return (f"LinearGaussianPolicy({self.features!r}, act_dim={self.act_dim}, "
                f"log_std_init={self.log_std_init})")

    def param_shapes(self):
        return {"W": (self.features.dim, self.act_dim), "log_std": (self.act_dim,)}

    def init(self, rng, scale: float = 0.1, dtype=None):
        """W = scale * N(0, 1) [D, K], log_std = log_std_init [K]; float64 by default."""
        rng = as_generator(rng)
        xp = default_xp()
        dtype = xp.float64 if dtype is None else dtype
        W = check_init_scale(scale) * rng.standard_normal((self.features.dim, self.act_dim))
        return {"W": xp.asarray(W, dtype=dtype),
                "log_std": xp.full((self.act_dim,), self.log_std_init, dtype=dtype)}

    def _validate_obs(self, obs, xp, dtype):
        return _move_obs(obs, xp, dtype, self.features)

    def forward(self, params, obs, check: bool = True):
        """(mean, log_std) = (phi(s) W [B, K], clip(log_std) broadcast to [B, K]).

        vjp((d_mean, d_log_std)) -> {"W": phi^T d_mean, "log_std": sum_b d_log_std_b * inside}
        where inside = 1 if LOG_STD_MIN <= log_std <= LOG_STD_MAX else 0.
        """
        if check:
            obs = self.check_obs(params, obs)
        W, log_std = params["W"], params["log_std"]
        xp = get_xp(W)
        phi = self.features(obs, W.dtype)
        mean = phi @ W
        inside = xp.astype((log_std >= LOG_STD_MIN) & (log_std <= LOG_STD_MAX), W.dtype)
        ls = xp.broadcast_to(clip_log_std(log_std), tuple(mean.shape))

        def vjp(d, per_sample=False):
            d_mean, d_log_std = d
            if per_sample:
                return {"W": phi[:, :, None] * d_mean[:, None, :], "log_std": d_log_std * inside}
            return {"W": phi.T @ d_mean, "log_std": xp.sum(d_log_std, axis=0) * inside}

        return (mean, ls), vjp
