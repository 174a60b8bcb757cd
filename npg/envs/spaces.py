"""Gymnasium spaces as the flat float vectors and actions that npg's policies consume.

Observations
    ``Discrete(n, start)``  ->  one-hot ``[N, n]``: ``x[i, s_i - start] = 1``.
    ``Box(shape)``          ->  pass-through, flattened to ``[N, D]`` with ``D = prod(shape)``.
Actions
    ``Discrete(n, start)``  ->  integer indices ``[N]`` in ``[0, n)`` (``start`` is added back
                                for the environment).
    ``Box(shape)``          ->  real vectors ``[N, K]`` with ``K = prod(shape)``, bounds
                                ``low``/``high`` ``[K]`` (reshaped back for the environment).
Everything else (Dict, Tuple, Text, Graph, Sequence, OneOf, MultiDiscrete, MultiBinary) raises a
``TypeError`` that names the space and lists what is supported.

``space_info(env)`` answers the questions a policy constructor asks: ``obs_dim``, and
``n_actions`` (discrete) or ``act_dim`` with ``act_low``/``act_high`` (continuous).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from gymnasium import spaces

__all__ = ["SpaceInfo", "space_info", "obs_encoder", "action_decoder", "clip_action",
           "SUPPORTED_OBS", "SUPPORTED_ACT"]

SUPPORTED_OBS = "Discrete (one-hot encoded) or Box (flattened)"
SUPPORTED_ACT = "Discrete or Box"


def _unsupported(which: str, space, supported: str) -> TypeError:
    return TypeError(f"{which} space {space!r} ({type(space).__name__}) is not supported; "
                     f"npg supports {supported} {which} spaces")


def _check_obs_space(space) -> None:
    if isinstance(space, spaces.Discrete):
        return
    if isinstance(space, spaces.Box):
        return
    raise _unsupported("observation", space, SUPPORTED_OBS)


def _check_act_space(space) -> None:
    if isinstance(space, spaces.Discrete):
        return
    if isinstance(space, spaces.Box):
        if not np.issubdtype(space.dtype, np.floating):
            raise TypeError(f"action space {space!r} is an integer Box; npg supports Discrete "
                            f"or floating-point Box action spaces")
        return
    raise _unsupported("action", space, SUPPORTED_ACT)


@dataclass(frozen=True)
class SpaceInfo:
    """What a policy needs to know about an environment's spaces.

    obs_dim     D, the length of the encoded observation vector.
    obs_kind    "discrete" (one-hot encoded) or "box" (flattened pass-through).
    n_states    S for Discrete observations (= obs_dim), else None.
    discrete    True for Discrete actions.
    n_actions   A for Discrete actions, else None.
    act_dim     K for Box actions, else None.
    act_low     [K] lower bounds (float64, may hold -inf) for Box actions, else None.
    act_high    [K] upper bounds for Box actions, else None.
    """

    obs_dim: int
    obs_kind: str
    n_states: int | None
    discrete: bool
    n_actions: int | None
    act_dim: int | None
    act_low: np.ndarray | None
    act_high: np.ndarray | None


def single_spaces(env):
    """``(observation_space, action_space)`` of one copy of ``env`` (an Env or a VectorEnv)."""
    obs = getattr(env, "single_observation_space", None)
    act = getattr(env, "single_action_space", None)
    if obs is None or act is None:
        obs = getattr(env, "observation_space", None)
        act = getattr(env, "action_space", None)
    if not isinstance(obs, spaces.Space) or not isinstance(act, spaces.Space):
        raise TypeError(f"env must be a gymnasium Env or VectorEnv with observation and action "
                        f"spaces; got {type(env).__name__}")
    return obs, act


def space_info(env) -> SpaceInfo:
    """Dimensions and bounds of ``env``'s (single-copy) spaces; TypeError if unsupported.

    >>> import gymnasium as gym
    >>> space_info(gym.make("CartPole-v1")).obs_dim, space_info(gym.make("CartPole-v1")).n_actions
    (4, 2)
    """
    obs, act = single_spaces(env)
    _check_obs_space(obs)
    _check_act_space(act)
    if isinstance(obs, spaces.Discrete):
        obs_dim, kind, n_states = int(obs.n), "discrete", int(obs.n)
    else:
        obs_dim, kind, n_states = int(np.prod(obs.shape, dtype=np.int64)), "box", None
    if isinstance(act, spaces.Discrete):
        return SpaceInfo(obs_dim, kind, n_states, True, int(act.n), None, None, None)
    low = np.asarray(act.low, dtype=np.float64).reshape(-1)
    high = np.asarray(act.high, dtype=np.float64).reshape(-1)
    return SpaceInfo(obs_dim, kind, n_states, False, None, int(low.size), low, high)


def obs_encoder(space, dtype=np.float64) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """``encode(obs_batch, out) -> out``: write the encoding of a batch of N observations.

    Discrete(n, start): ``out [N, n]`` with ``out[i, obs[i] - start] = 1`` and zeros elsewhere.
    Box(shape):         ``out [N, D] = obs.reshape(N, D)`` cast to ``dtype``.
    ``out`` is a preallocated ``[N, D]`` array (a row block of the rollout buffer), so encoding
    costs no allocation on the hot path.
    """
    _check_obs_space(space)
    if isinstance(space, spaces.Discrete):
        n, start = int(space.n), int(space.start)

        def encode_discrete(obs, out):
            idx = np.asarray(obs).reshape(-1) - start
            if idx.size and (idx.min() < 0 or idx.max() >= n):
                raise ValueError(f"observation must lie in [{start}, {start + n}); got values "
                                 f"from {idx.min() + start} to {idx.max() + start}")
            out[...] = 0
            out[np.arange(idx.shape[0]), idx] = 1
            return out
        return encode_discrete

    def encode_box(obs, out):
        out[...] = np.asarray(obs).reshape(out.shape)
        return out
    return encode_box


def action_decoder(space) -> Callable[[np.ndarray], np.ndarray]:
    """``decode(a) -> env_action``: npg's action batch to what ``VectorEnv.step`` expects.

    Discrete(n, start): ``a [N]`` ints in [0, n) -> ``a + start`` (int64).
    Box(shape):         ``a [N, K]`` -> ``a.reshape(N, *shape)`` cast to the space's dtype.
    """
    _check_act_space(space)
    if isinstance(space, spaces.Discrete):
        start = int(space.start)
        if start == 0:
            return lambda a: np.asarray(a)
        return lambda a: np.asarray(a) + start
    shape, dtype = tuple(space.shape), space.dtype
    return lambda a: np.asarray(a, dtype=dtype).reshape((-1,) + shape)


def clip_action(a: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Clip a Gaussian action ``a [N, K]`` to the box ``[low, high]`` for the environment.

    Only the environment sees the clipped action; log-probabilities use the unclipped sample
    (clipping is part of the environment, not of the policy, as in PPO's reference code).
    """
    return np.clip(a, low, high)
