"""The policy interface: everything generic, built on one subclass method, ``forward``.

A subclass supplies

    init(rng) -> params                          a dict of named arrays
    forward(params, obs, check=True) -> (dist_params, vjp)
                                                 vjp(d_dist_params, per_sample=False) -> grads

and this module turns those into log-probabilities, sampling, entropies, KLs and their
parameter gradients by the chain rule in two hand-derived layers:

    grad_theta f(pi(.|s)) = vjp( d f / d dist_params )

Layer 1 is the network (``forward``'s vjp); layer 2 is the distribution's derivative
(``npg.distributions``). The central fast path every estimator uses is the weighted score sum

    score_sum(params, obs, act, w) = sum_b w_b grad_theta log pi(a_b | s_b)
                                   = vjp( w[:, None] * d log pi(a_b|s_b) / d dist_params_b )

one backward pass for the whole batch. ``scores`` gives the per-sample gradients [B, P] (in
``npg.params.flatten`` order) for analysis: Fisher matrices, estimator variances.

Conventions for ``forward`` implementations (the contract with mlp.py, shared.py, linear.py):
  * start with ``obs = self.check_obs(params, obs)`` unless ``check=False``: validates
    ``params`` (floating, one dtype, finite, shapes from ``param_shapes()`` when given) and
    ``obs`` (shape, finiteness, range), and casts obs to the params' dtype. ``check=False`` is
    for updaters that validated a batch once: obs must then already be on the params' module
    and dtype, and nothing is checked;
  * ``terms(dist_params, act, mask=None, onehot=None) -> (logp, H, d_dist)`` is the
    distribution's chain-rule layer (``categorical.terms``, ``gaussian.terms``, ``sde.terms``):
    a loss on log pi and H reaches the parameters as ``vjp(d_dist(d_logp, d_ent))``;
  * ``dist_params`` is logits [B, A] (categorical) or (mean [B, K], log_std [B, K]) (Gaussian;
    log_std already clipped to [LOG_STD_MIN, LOG_STD_MAX], its vjp passing gradient only where
    the clip was inactive);
  * ``vjp(d)`` returns a dict with the keys and shapes of params; ``vjp(d, per_sample=True)``
    returns per-sample gradients with a leading [B] axis. vjp must be linear in ``d`` (zero in,
    exactly zero out).
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from ..checks import as_generator, check_actions, check_finite, check_float, check_real, max_abs
from ..backend import create, device_of, get_xp, namespace_of
from ..distributions import categorical, gaussian

__all__ = ["Policy", "CategoricalPolicy", "GaussianPolicy", "as_generator", "check_log_std_init",
           "check_init_scale"]


def check_log_std_init(x) -> float:
    """An initial log standard deviation: a real number in [LOG_STD_MIN, LOG_STD_MAX]."""
    v = check_real("log_std_init", x, "a real number")
    lo, hi = gaussian.LOG_STD_MIN, gaussian.LOG_STD_MAX
    if not lo <= v <= hi:
        raise ValueError(f"log_std_init must lie in [{lo}, {hi}]; got {v}")
    return v


def check_init_scale(x) -> float:
    """The std of Gaussian initial weights: a finite real number >= 0 (0: all zeros)."""
    v = check_real("scale", x, "a finite real number >= 0")
    if not (v >= 0.0 and v < float("inf")):
        raise ValueError(f"scale must be a finite number >= 0; got {v}")
    return v


def _cast(xp, x, dtype):
    """x as an array of module xp in dtype (NumPy inputs are moved, e.g. env obs onto CuPy)."""
    if get_xp(x) is xp:
        return x if x.dtype == dtype else xp.astype(x, dtype)
    return xp.asarray(x, dtype=dtype)


class Policy:
    """Validation and flattening shared by every policy. Subclasses define ``init``, ``forward``
    and, for Box observations, the attribute ``obs_dim`` (obs [B, obs_dim]); discrete
    observation spaces override ``_validate_obs``."""

    obs_dim: int | None = None

    # -- the subclass's part ---------------------------------------------------------------
    def init(self, rng) -> dict:
        raise NotImplementedError

    def forward(self, params, obs, check: bool = True):
        raise NotImplementedError

    def param_shapes(self) -> dict | None:
        """{key: shape} of the parameters, or None to skip the key/shape check."""
        return None

    # -- validation ------------------------------------------------------------------------
    def check_params(self, params):
        """Validate ``params``; returns (xp, dtype). TypeError/ValueError name ``params[key]``."""
        if not isinstance(params, Mapping) or not params:
            raise TypeError(f"params must be a non-empty dict of arrays (from init); got "
                            f"{type(params).__name__}")
        shapes = self.param_shapes()
        if shapes is not None and set(shapes) != set(params):
            raise ValueError(f"params must have keys {sorted(shapes)}; got {sorted(params)}")
        xp = get_xp(*params.values())
        dtype = None
        for k, v in params.items():
            name = f"params[{k!r}]"
            if not hasattr(v, "dtype"):
                raise TypeError(f"{name} must be an array; got {type(v).__name__}")
            check_float(name, v)
            if dtype is None:
                dtype = v.dtype
            elif v.dtype != dtype:
                raise TypeError(f"{name} must have the dtype of the other parameters ({dtype}); "
                                f"got {v.dtype}")
            if shapes is not None and tuple(v.shape) != tuple(shapes[k]):
                raise ValueError(f"{name} must have shape {tuple(shapes[k])}; got "
                                 f"{tuple(v.shape)}")
            check_finite(name, v)
        return xp, dtype

    def check_obs(self, params, obs):
        """Validate params and obs; returns obs on the params' module in their dtype."""
        xp, dtype = self.check_params(params)
        if xp is not np and namespace_of(obs) is np:    # host observations: one copy onto the
            obs = create(xp, "asarray", obs, device=device_of(next(iter(params.values()))))
        return self._validate_obs(obs, xp, dtype)

    def _validate_obs(self, obs, xp, dtype):
        """Default: Box observations, a real array [B, obs_dim]."""
        if not hasattr(obs, "shape") or not hasattr(obs, "dtype"):
            raise TypeError(f"obs must be an array [B, {self.obs_dim}]; got {type(obs).__name__}")
        if len(obs.shape) != 2 or int(obs.shape[1]) != self.obs_dim:
            raise ValueError(f"obs must have shape [B, {self.obs_dim}]; got {tuple(obs.shape)}")
        oxp = get_xp(obs)
        if not (oxp.isdtype(obs.dtype, "real floating") or oxp.isdtype(obs.dtype, "integral")):
            raise TypeError(f"obs must be a real array; got dtype {obs.dtype}")
        obs = _cast(xp, obs, dtype)
        check_finite("obs", obs)
        return obs

    def _check_weights(self, w, batch: int, xp, dtype, name: str = "w"):
        """w: real [B], finite; returned in dtype on xp."""
        if not hasattr(w, "shape") or not hasattr(w, "dtype"):
            raise TypeError(f"{name} must be an array [B] of per-sample weights; got "
                            f"{type(w).__name__}")
        if tuple(w.shape) != (batch,):
            raise ValueError(f"{name} must have shape [{batch}] (one weight per observation); "
                             f"got {tuple(w.shape)}")
        w = _cast(xp, w, dtype)
        check_finite(name, w)
        return w

    @staticmethod
    def _flat_scores(grads, params, batch: int):
        """Per-sample grads {k: [B, *shape_k]} -> [B, P] in flatten(params) key order."""
        xp = get_xp(*grads.values())
        cols = []
        for k, v in params.items():
            n = 1
            for d in v.shape:
                n *= int(d)
            cols.append(xp.reshape(grads[k], (batch, n)))
        return xp.concat(cols, axis=1)

    def dist_params(self, params, obs):
        """The distribution parameters of pi(.|s) for each obs (forward without the vjp)."""
        return self._forward(params, obs)[0]

    def _forward(self, params, obs):
        """``forward`` with its output checked: finite params and obs whose distribution
        parameters overflow the dtype (diverged weights, huge observations) raise a ValueError
        instead of giving NaN log-probabilities. One isfinite pass over [B, A] or [B, K]."""
        dist, vjp = self.forward(params, obs)
        arrays = dist if isinstance(dist, tuple) else (dist,)
        xp = get_xp(arrays[0])
        if not all(bool(xp.all(xp.isfinite(d))) for d in arrays):
            size = max(max_abs(v) for v in params.values())
            raise ValueError(f"{type(self).__name__}'s distribution parameters overflowed "
                             f"{arrays[0].dtype} (NaN or inf) for finite params (max |param| = "
                             f"{size:.3g}) and obs: the weights have diverged (lower the "
                             f"learning rate) or the observations need normalising")
        return dist, vjp


class CategoricalPolicy(Policy):
    """A policy whose pi(.|s) is a categorical over ``n_actions`` with logits z(s; theta) [B, A].

    Per-sample derivatives with respect to the logits (``npg.distributions.categorical``):
        d log pi(a|s) / dz = onehot(a) - pi,   d H / dz = -pi (log pi + H),
        d KL(old || pi) / dz = pi - pi_old.
    """

    n_actions: int

    def _check_act(self, act, batch: int, xp):
        if not hasattr(act, "shape"):
            raise TypeError(f"act must be an integer array [B]; got {type(act).__name__}")
        if tuple(act.shape) != (batch,):
            raise ValueError(f"act must have shape [{batch}] (one action per observation); got "
                             f"{tuple(act.shape)}")
        check_actions("act", act, self.n_actions)
        return act if get_xp(act) is xp else xp.asarray(act)

    def probs(self, params, obs):
        """pi(a|s) [B, A]; rows sum to 1."""
        return categorical.softmax(self._forward(params, obs)[0], check=False)

    def log_prob(self, params, obs, act):
        """log pi(a_b | s_b) [B].  Gradient: see ``score_sum`` / ``scores``."""
        z, _ = self._forward(params, obs)
        act = self._check_act(act, z.shape[0], get_xp(z))
        return categorical.log_prob(z, act, check=False)

    def sample(self, params, obs, rng):
        """a_b ~ pi(.|s_b), int64 [B], drawn with the numpy Generator (or seed) ``rng``."""
        return categorical.sample(self._forward(params, obs)[0], as_generator(rng))

    def mode(self, params, obs):
        """argmax_a pi(a|s) [B] (int64)."""
        return categorical.mode(self._forward(params, obs)[0])

    def entropy(self, params, obs):
        """H(pi(.|s_b)) [B]."""
        return categorical.entropy(self._forward(params, obs)[0], check=False)

    def score_sum(self, params, obs, act, w):
        """sum_b w_b grad_theta log pi(a_b|s_b) = vjp(w[:, None] * (onehot(a) - pi)).

        Shapes: obs [B, ...], act int [B], w [B] -> grads with params' keys and shapes.
        """
        z, vjp = self._forward(params, obs)
        xp = get_xp(z)
        act = self._check_act(act, z.shape[0], xp)
        w = self._check_weights(w, z.shape[0], xp, z.dtype)
        return vjp(w[:, None] * categorical.log_prob_grad(z, act, check=False))

    def scores(self, params, obs, act):
        """grad_theta log pi(a_b|s_b) per sample, [B, P] in flatten(params) order."""
        z, vjp = self._forward(params, obs)
        act = self._check_act(act, z.shape[0], get_xp(z))
        grads = vjp(categorical.log_prob_grad(z, act, check=False), per_sample=True)
        return self._flat_scores(grads, params, z.shape[0])

    def entropy_grad(self, params, obs, w=None):
        """grad_theta sum_b w_b H(pi(.|s_b)) = vjp(w[:, None] * (-pi (log pi + H))).

        w [B] defaults to ones.
        """
        z, vjp = self._forward(params, obs)
        d = categorical.entropy_grad(z, check=False)
        if w is not None:
            d = self._check_weights(w, z.shape[0], get_xp(z), z.dtype)[:, None] * d
        return vjp(d)

    def terms(self, z, act, mask=None, onehot=None):
        """The distribution's chain-rule layer at logits z [B, A] (``categorical.terms``):
        ``(logp [B], H [B], d_dist)``, d_dist(d_logp, d_ent) = d L / d z. Trusted inputs."""
        return categorical.terms(z, act, mask=mask, onehot=onehot)

    def _check_old(self, old, z):
        if not hasattr(old, "shape") or tuple(old.shape) != tuple(z.shape):
            raise ValueError(f"old_dist_params must be logits of shape {tuple(z.shape)}; got "
                             f"{getattr(old, 'shape', type(old).__name__)}")
        old = _cast(get_xp(z), old, z.dtype)
        check_finite("old_dist_params", old)
        return old

    def kl(self, params, obs, old_dist_params):
        """KL(pi_old(.|s_b) || pi(.|s_b)) [B], pi_old given by its logits [B, A]."""
        z, _ = self._forward(params, obs)
        return categorical.kl(self._check_old(old_dist_params, z), z, check=False)

    def kl_grad(self, params, obs, old_dist_params, w=None):
        """grad_theta sum_b w_b KL(pi_old || pi) = vjp(w[:, None] * (pi - pi_old)).

        w [B] defaults to ones.
        """
        z, vjp = self._forward(params, obs)
        d = categorical.kl_grad(self._check_old(old_dist_params, z), z, check=False)[1]
        if w is not None:
            d = self._check_weights(w, z.shape[0], get_xp(z), z.dtype)[:, None] * d
        return vjp(d)


class GaussianPolicy(Policy):
    """A policy whose pi(.|s) is a diagonal Gaussian over ``act_dim`` = K dimensions with
    dist_params (mean [B, K], log_std [B, K]).

    Per-sample derivatives (``npg.distributions.gaussian``), sigma = exp(log_std):
        d log pi / d mean = (a - mean) / sigma^2,  d log pi / d log_std = ((a - mean)/sigma)^2 - 1,
        d H / d log_std = 1,  d H / d mean = 0.
    """

    act_dim: int

    def _check_act(self, act, batch: int, xp, dtype):
        if not hasattr(act, "shape") or not hasattr(act, "dtype"):
            raise TypeError(f"act must be a real array [B, {self.act_dim}]; got "
                            f"{type(act).__name__}")
        if tuple(act.shape) != (batch, self.act_dim):
            raise ValueError(f"act must have shape [{batch}, {self.act_dim}]; got "
                             f"{tuple(act.shape)}")
        axp = get_xp(act)
        if not (axp.isdtype(act.dtype, "real floating") or axp.isdtype(act.dtype, "integral")):
            raise TypeError(f"act must be a real array; got dtype {act.dtype}")
        act = _cast(xp, act, dtype)
        check_finite("act", act)
        return act

    def terms(self, dist, act, mask=None, onehot=None):
        """The distribution's chain-rule layer at dist = (mean, log_std) (``gaussian.terms``):
        ``(logp [B], H [B], d_dist)``, d_dist(d_logp, d_ent) = (d L / d mean, d L / d log_std).
        A Gaussian has no action mask (TypeError if one is given)."""
        if mask is not None:
            raise TypeError("mask applies to Discrete actions only; this policy is Gaussian")
        return gaussian.terms(*dist, act)

    def _dist(self, params, obs):
        (mean, log_std), vjp = self._forward(params, obs)
        xp = get_xp(mean)
        mean, log_std = xp.broadcast_arrays(mean, log_std)
        return mean, log_std, vjp, xp

    def log_prob(self, params, obs, act):
        """log pi(a_b | s_b) [B], summed over the K action dimensions."""
        mean, log_std, _, xp = self._dist(params, obs)
        act = self._check_act(act, mean.shape[0], xp, mean.dtype)
        return gaussian.log_prob(mean, log_std, act)

    def sample(self, params, obs, rng):
        """a_b = mean_b + sigma_b * eps_b [B, K], eps ~ N(0, I) from the Generator (or seed) rng."""
        mean, log_std, _, _ = self._dist(params, obs)
        return gaussian.sample(mean, log_std, as_generator(rng))

    def mode(self, params, obs):
        """The mean [B, K]."""
        return self._dist(params, obs)[0]

    def entropy(self, params, obs):
        """H(pi(.|s_b)) [B]."""
        return gaussian.entropy(self._dist(params, obs)[1])

    def score_sum(self, params, obs, act, w):
        """sum_b w_b grad_theta log pi(a_b|s_b)
        = vjp((w (a - mu) / sigma^2, w (((a - mu) / sigma)^2 - 1))), w broadcast over K."""
        mean, log_std, vjp, xp = self._dist(params, obs)
        act = self._check_act(act, mean.shape[0], xp, mean.dtype)
        w = self._check_weights(w, mean.shape[0], xp, mean.dtype)[:, None]
        d_mean, d_log_std = gaussian.log_prob_grad(mean, log_std, act)
        return vjp((w * d_mean, w * d_log_std))

    def scores(self, params, obs, act):
        """grad_theta log pi(a_b|s_b) per sample, [B, P] in flatten(params) order."""
        mean, log_std, vjp, xp = self._dist(params, obs)
        act = self._check_act(act, mean.shape[0], xp, mean.dtype)
        grads = vjp(gaussian.log_prob_grad(mean, log_std, act), per_sample=True)
        return self._flat_scores(grads, params, mean.shape[0])

    def entropy_grad(self, params, obs, w=None):
        """grad_theta sum_b w_b H(pi(.|s_b)) = vjp((0, w[:, None] * 1)); w = 1 if None."""
        mean, log_std, vjp, xp = self._dist(params, obs)
        d_log_std = gaussian.entropy_grad(log_std)
        if w is not None:
            d_log_std = self._check_weights(w, mean.shape[0], xp, mean.dtype)[:, None] * d_log_std
        return vjp((xp.zeros_like(mean), d_log_std))

    def _check_old(self, old, mean):
        ok = isinstance(old, (tuple, list)) and len(old) == 2 and all(
            hasattr(o, "shape") and len(o.shape) == 2 and int(o.shape[0]) == mean.shape[0]
            and int(o.shape[1]) in (1, self.act_dim) for o in old)
        if not ok:
            raise ValueError(f"old_dist_params must be a pair (mean [B, {self.act_dim}], "
                             f"log_std [B, {self.act_dim}]) with B = {mean.shape[0]}")
        xp = get_xp(mean)
        old = tuple(_cast(xp, o, mean.dtype) for o in old)
        check_finite("old_dist_params", old[0])
        check_finite("old_dist_params", old[1])
        return old

    def kl(self, params, obs, old_dist_params):
        """KL(pi_old(.|s_b) || pi(.|s_b)) [B], pi_old given as (mean [B, K], log_std [B, K])."""
        mean, log_std, _, _ = self._dist(params, obs)
        old_mean, old_log_std = self._check_old(old_dist_params, mean)
        return gaussian.kl(old_mean, old_log_std, mean, log_std)

    def kl_grad(self, params, obs, old_dist_params, w=None):
        """grad_theta sum_b w_b KL(pi_old || pi): vjp of (d/d mean_q, d/d log_std_q) of
        ``gaussian.kl_grad`` with q = pi; w = 1 if None."""
        mean, log_std, vjp, xp = self._dist(params, obs)
        old_mean, old_log_std = self._check_old(old_dist_params, mean)
        _, _, d_mean, d_log_std = gaussian.kl_grad(old_mean, old_log_std, mean, log_std)
        if w is not None:
            w = self._check_weights(w, mean.shape[0], xp, mean.dtype)[:, None]
            d_mean, d_log_std = w * d_mean, w * d_log_std
        return vjp((d_mean, d_log_std))
