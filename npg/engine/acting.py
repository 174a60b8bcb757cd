"""Acting without the dispatch: categorical MLP actors and MLP critics on NumPy.

Acting (``act_categorical``, ``value``, ``act_value_categorical``) runs once per environment
step on a few observations, where the checked path's validation and generic dispatch cost ~10x
the arithmetic. These helpers run the networks through one ``kernels`` call each
(``mlp_small``; ``act_value_small`` does actor, critic and the draw in one call) and use the
same Gumbel draws as ``npg.distributions.categorical.sample``; log pi(a) comes from the
``categorical_act`` kernel. They equal the checked path to rounding (float64: ~1e-15; float32:
~1e-6, the approximate tanh, which the float32 training forward uses too); actions are the
same except where two perturbed logits tie to within that rounding. The only check left is
that the observations are finite. The weight tuples the kernels take are built once per
parameter dict and reused while the dict holds the same arrays (``weights``).
"""

from __future__ import annotations

import operator

import numpy as np

from ..backend import to_numpy
from . import kernels as K

__all__ = ["weights", "mlp_infer", "check_obs_shape", "check_obs", "act_categorical", "value",
           "act_value_categorical"]

# ------------------------------------------------------------------------------- acting

_SMALL_BATCH = 64        # up to this many rows, ``kernels.mlp_small`` beats BLAS calls
_CACHE: dict = {}        # id(params) -> (params, (keys, arrays), (Ws, bs)); see ``weights``


def weights(params) -> tuple[tuple, tuple]:
    """``((W_1, ..., W_L), (b_1, ..., b_L))`` of an MLP's params dict, C-contiguous, for the
    kernels. Cached per dict while it holds the very same (contiguous) arrays, so in-place
    changes are seen and a replaced array is noticed; a non-contiguous array is copied on
    every call instead."""
    hit = _CACHE.get(id(params))
    if (hit is not None and hit[0] is params and hit[1][0] == tuple(params)
            and all(map(operator.is_, hit[1][1], params.values()))):
        return hit[2]
    L = 1
    while f"W{L + 1}" in params:
        L += 1
    Ws = tuple(np.ascontiguousarray(params[f"W{l}"]) for l in range(1, L + 1))
    bs = tuple(np.ascontiguousarray(params[f"b{l}"]) for l in range(1, L + 1))
    out = (Ws, bs)
    if all(w is params[f"W{l + 1}"] and b is params[f"b{l + 1}"]
           for l, (w, b) in enumerate(zip(Ws, bs))):
        if len(_CACHE) >= 8:
            _CACHE.clear()
        _CACHE[id(params)] = (params, (tuple(params), tuple(params.values())), out)
    return out


def mlp_infer(params, x, activation: str):
    """mlp(x) [M, n_L] without checks or saved activations: h_l = f(h_{l-1} W_l + b_l),
    identity output layer. Up to 64 rows through ``kernels.mlp_small`` (one call), more by
    NumPy's matmul and ``kernels.bias_act``; both with the engine's tanh (float32: the
    rational approximation, as in training), so they agree with ``npg.nn.mlp_forward`` to
    rounding (5e-7 in float32)."""
    Ws, bs = weights(params)
    code = K.act_code(activation, x.dtype)
    if x.shape[0] <= _SMALL_BATCH:
        return K.mlp_small(np.ascontiguousarray(x), Ws, bs, code)
    h = x
    for l, (W, b) in enumerate(zip(Ws, bs)):
        h = h @ W
        K.bias_act(h, b, code if l < len(Ws) - 1 else K.ACT_CODES["identity"])
    return h


def check_obs_shape(obs, obs_dim: int, dtype):
    """obs as a NumPy array [M, obs_dim] of ``dtype`` (typed errors otherwise)."""
    if not hasattr(obs, "shape"):
        raise TypeError(f"obs must be an array [M, {obs_dim}]; got {type(obs).__name__}")
    obs = np.asarray(to_numpy(obs), dtype=dtype)
    if obs.ndim != 2 or obs.shape[1] != obs_dim:
        raise ValueError(f"obs must have shape [M, {obs_dim}]; got {obs.shape}")
    return obs


def check_obs(obs, obs_dim: int, dtype):
    """obs as a NumPy array [M, obs_dim] of ``dtype``, finite (typed errors otherwise)."""
    obs = check_obs_shape(obs, obs_dim, dtype)
    if not np.isfinite(obs).all():
        raise ValueError("obs must be finite (no NaN or inf)")
    return obs


def act_categorical(params, obs, rng, deterministic: bool, activation: str):
    """(action [M] int64, log pi(action) [M]) for logits z = mlp(obs): the Gumbel-max draw
    a = argmax(z + g) of ``categorical.sample`` (same draws from ``rng``) or the mode, and
    log pi(a) = z_a - max z - log sum_j exp(z_j - max z) (``kernels.categorical_act``)."""
    z = mlp_infer(params, obs, activation)
    g = (np.zeros_like(z) if deterministic
         else np.asarray(rng.gumbel(size=z.shape), dtype=z.dtype))
    a, logp = np.empty(z.shape[0], np.int64), np.empty(z.shape[0], z.dtype)
    K.categorical_act(z, g, a, logp)
    return a, logp


def value(params, obs, activation: str):
    """V(obs) = mlp(obs)[:, 0] [M] (the critic's forward without checks)."""
    return mlp_infer(params, obs, activation)[:, 0]


def act_value_categorical(actor, critic, obs, rng, activation: str):
    """``act_categorical`` (sampled) and ``value`` in one kernel call (``act_value_small``):
    (action [M] int64, log pi(action) [M], V(obs) [M]); obs must be finite (ValueError)."""
    Wa, ba = weights(actor)
    Wc, bc = weights(critic)
    M, A = obs.shape[0], Wa[-1].shape[1]
    g = np.asarray(rng.gumbel(size=(M, A)), dtype=obs.dtype)
    a, logp, v = np.empty(M, np.int64), np.empty(M, obs.dtype), np.empty(M, obs.dtype)
    if not K.act_value_small(np.ascontiguousarray(obs), Wa, ba, Wc, bc,
                             K.act_code(activation, obs.dtype), g, a, logp, v):
        raise ValueError("obs must be finite (no NaN or inf)")
    return a, logp, v
