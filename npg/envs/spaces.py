"""Gymnasium spaces as the flat float vectors and actions that npg's policies consume.

Observations
    ``Discrete(n, start)``  ->  one-hot ``[N, n]``: ``x[i, s_i - start] = 1``.
    ``Box(shape)``          ->  pass-through, flattened to ``[N, D]`` with ``D = prod(shape)``.
    ``MultiBinary(shape)``  ->  the bits as 0.0 / 1.0, flattened.
    ``MultiDiscrete(nvec)`` ->  one one-hot block per dimension, concatenated.
    ``Dict`` / ``Tuple``    ->  the encodings of the parts, concatenated in the space's order
                                (a Dict's key order; nested spaces recursively).
Actions
    ``Discrete(n, start)``  ->  integer indices ``[N]`` in ``[0, n)`` (``start`` is added back
                                for the environment).
    ``Box(shape)``          ->  real vectors ``[N, K]`` with ``K = prod(shape)``, bounds
                                ``low``/``high`` ``[K]`` (reshaped back for the environment).
    ``MultiDiscrete(nvec, start)`` -> integers ``[N, K]``, ``a_k`` in ``[0, n_k)`` with
                                ``K = nvec.size`` (``start`` added back, reshaped to the
                                space's shape for the environment); a product of categoricals.
    ``MultiBinary(n)``      ->  bits ``[N, K]`` in {0, 1}, ``K = prod(n)``; a product of
                                Bernoullis (``npg.distributions.product``).
Everything else (Text, Graph, Sequence, OneOf observations; Dict and Tuple actions) raises a
``TypeError`` that names the space and lists what is supported.

A Dict observation with an ``"action_mask"`` key (``MASK_OBS_KEY``) is encoded without it: the
mask is not an observation but the set of legal actions, carried by ``npg.envs.rollout.Collector``.

``space_info(env)`` answers the questions a policy constructor asks: ``obs_dim``, and
``n_actions`` (discrete), ``act_dim`` with ``act_low``/``act_high`` (continuous) or ``act_dim``
with ``nvec`` (MultiDiscrete, MultiBinary: ``binary`` True).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from gymnasium import spaces

__all__ = ["SpaceInfo", "space_info", "obs_encoder", "batch_encoder", "action_decoder",
           "clip_action", "MASK_OBS_KEY", "has_mask_key", "policy_obs_space", "obs_mask",
           "SUPPORTED_OBS", "SUPPORTED_ACT"]

SUPPORTED_OBS = ("Discrete (one-hot encoded), Box (flattened), MultiBinary, MultiDiscrete "
                 "(one-hot per dimension), and Dict or Tuple of these (concatenated)")
SUPPORTED_ACT = "Discrete, Box, MultiDiscrete or MultiBinary"


def _unsupported(which: str, space, supported: str) -> TypeError:
    return TypeError(f"{which} space {space!r} ({type(space).__name__}) is not supported; "
                     f"npg supports {supported} {which} spaces")


def _check_obs_space(space) -> None:
    if isinstance(space, (spaces.Discrete, spaces.Box, spaces.MultiBinary)):
        return
    if isinstance(space, spaces.MultiDiscrete):
        if space.nvec.size and int(space.nvec.min()) < 1:
            raise ValueError(f"observation space {space!r} has a dimension with no values "
                             f"(nvec must be >= 1)")
        return
    if isinstance(space, (spaces.Dict, spaces.Tuple)):
        for sub in _parts(space):
            _check_obs_space(sub)
        return
    raise _unsupported("observation", space, SUPPORTED_OBS)


MASK_OBS_KEY = "action_mask"
"""A Dict observation's key holding the action mask (bool/0-1 [A], True = legal): it is not part
of the encoded observation; the collector carries it as the rollout's mask."""


def has_mask_key(space) -> bool:
    """True for a Dict observation space with an ``"action_mask"`` entry."""
    return isinstance(space, spaces.Dict) and MASK_OBS_KEY in space.spaces


def policy_obs_space(space):
    """The part of an observation space that the policy sees: a Dict without its
    ``"action_mask"`` entry (ValueError if nothing else is left), any other space as is."""
    if not has_mask_key(space):
        return space
    rest = {k: v for k, v in space.spaces.items() if k != MASK_OBS_KEY}
    if not rest:
        raise ValueError(f"observation space {space!r} holds only an action mask; it needs at "
                         f"least one other entry for the policy to observe")
    return spaces.Dict(rest)


def obs_mask(obs, n: int, n_actions: int) -> np.ndarray:
    """The ``"action_mask"`` entry of a batch of n Dict observations as bool [n, A] (nonzero =
    legal); ValueError naming the expected shape."""
    m = np.asarray(obs[MASK_OBS_KEY])
    if m.size != n * n_actions:
        raise ValueError(f"observation[{MASK_OBS_KEY!r}] must hold {n_actions} flags per "
                         f"observation ([{n}, {n_actions}]); got shape {m.shape}")
    return m.reshape(n, n_actions).astype(bool)


def _parts(space) -> list:
    return list(space.spaces.values()) if isinstance(space, spaces.Dict) else list(space.spaces)


def _obs_dim(space) -> int:
    if isinstance(space, spaces.Discrete):
        return int(space.n)
    if isinstance(space, spaces.MultiDiscrete):
        return int(space.nvec.sum())
    if isinstance(space, (spaces.Dict, spaces.Tuple)):
        return sum(_obs_dim(sub) for sub in _parts(space))
    return int(np.prod(space.shape, dtype=np.int64))


def _check_act_space(space) -> None:
    if isinstance(space, spaces.Discrete):
        return
    if isinstance(space, spaces.Box):
        if not np.issubdtype(space.dtype, np.floating):
            raise TypeError(f"action space {space!r} is an integer Box; npg supports Discrete, "
                            f"floating-point Box, MultiDiscrete or MultiBinary action spaces")
        return
    if isinstance(space, spaces.MultiBinary):      # gymnasium refuses MultiBinary(0) itself
        return
    if isinstance(space, spaces.MultiDiscrete):
        nvec = np.asarray(space.nvec).reshape(-1)
        if nvec.size == 0 or int(nvec.min()) < 1:
            bad = int(np.flatnonzero(nvec < 1)[0]) if nvec.size else None
            raise ValueError(f"action space {space!r}: "
                             + ("it has no dimensions" if bad is None else
                                f"dimension {bad} has {int(nvec[bad])} values")
                             + "; every MultiDiscrete action dimension needs at least one value "
                             "(nvec >= 1)")
        return
    raise _unsupported("action", space, SUPPORTED_ACT)


@dataclass(frozen=True)
class SpaceInfo:
    """What a policy needs to know about an environment's spaces.

    obs_dim     D, the length of the encoded observation vector.
    obs_kind    "discrete" (one-hot encoded), "box" (flattened pass-through) or "composite"
                (MultiBinary, MultiDiscrete, Dict, Tuple: encoded and concatenated).
    n_states    S for Discrete observations (= obs_dim), else None.
    discrete    True for Discrete actions.
    n_actions   A for Discrete actions, else None.
    act_dim     K for Box, MultiDiscrete and MultiBinary actions, else None.
    act_low     [K] lower bounds (float64, may hold -inf) for Box actions, else None.
    act_high    [K] upper bounds for Box actions, else None.
    nvec        (n_1, ..., n_K) values per action dimension for MultiDiscrete actions, (2,) * K
                for MultiBinary ones, else None: integer actions [N, K] with a product
                distribution (``npg.distributions.product``).
    binary      True for MultiBinary actions (Bernoulli bits), False otherwise.
    """

    obs_dim: int
    obs_kind: str
    n_states: int | None
    discrete: bool
    n_actions: int | None
    act_dim: int | None
    act_low: np.ndarray | None
    act_high: np.ndarray | None
    nvec: tuple | None = None
    binary: bool = False


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
    obs = policy_obs_space(obs)
    _check_obs_space(obs)
    _check_act_space(act)
    if isinstance(obs, spaces.Discrete):
        obs_dim, kind, n_states = int(obs.n), "discrete", int(obs.n)
    elif isinstance(obs, spaces.Box):
        obs_dim, kind, n_states = _obs_dim(obs), "box", None
    else:
        obs_dim, kind, n_states = _obs_dim(obs), "composite", None
    if isinstance(act, spaces.Discrete):
        return SpaceInfo(obs_dim, kind, n_states, True, int(act.n), None, None, None)
    if isinstance(act, (spaces.MultiDiscrete, spaces.MultiBinary)):
        binary = isinstance(act, spaces.MultiBinary)
        nvec = ((2,) * int(np.prod(act.shape, dtype=np.int64)) if binary
                else tuple(int(n) for n in np.asarray(act.nvec).reshape(-1)))
        return SpaceInfo(obs_dim, kind, n_states, False, None, len(nvec), None, None, nvec,
                         binary)
    low = np.asarray(act.low, dtype=np.float64).reshape(-1)
    high = np.asarray(act.high, dtype=np.float64).reshape(-1)
    return SpaceInfo(obs_dim, kind, n_states, False, None, int(low.size), low, high)


def obs_encoder(space, dtype=np.float64) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """``encode(obs_batch, out) -> out``: write the encoding of a batch of N observations.

    Discrete(n, start): ``out [N, n]`` with ``out[i, obs[i] - start] = 1`` and zeros elsewhere.
    Box(shape):         ``out [N, D] = obs.reshape(N, D)`` cast to ``dtype``.
    MultiBinary, MultiDiscrete, Dict, Tuple: the parts' encodings side by side (module
    docstring), each part written into its column block of ``out``.
    ``out`` is a preallocated ``[N, D]`` array (a row block of the rollout buffer), so encoding
    costs no allocation on the hot path (composite spaces: one per part).
    """
    space = policy_obs_space(space)
    _check_obs_space(space)
    if isinstance(space, (spaces.MultiBinary, spaces.MultiDiscrete, spaces.Dict, spaces.Tuple)):
        return _composite_encoder(space)
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


def _composite_encoder(space):
    """The encoder of a MultiBinary, MultiDiscrete, Dict or Tuple observation space."""
    if isinstance(space, spaces.MultiBinary):
        def encode_bits(obs, out):
            out[...] = np.asarray(obs).reshape(out.shape)
            return out
        return encode_bits
    if isinstance(space, spaces.MultiDiscrete):
        nvec, start = space.nvec.reshape(-1), np.asarray(space.start).reshape(-1)
        parts = [(obs_encoder(spaces.Discrete(int(n), start=int(s0))), int(n))
                 for n, s0 in zip(nvec, start)]
        pick = [lambda obs, i=i: np.asarray(obs).reshape(np.asarray(obs).shape[0], -1)[:, i]
                for i in range(len(parts))]
    else:
        keys = list(space.spaces) if isinstance(space, spaces.Dict) else range(len(space.spaces))
        parts = [(obs_encoder(sub), _obs_dim(sub)) for sub in _parts(space)]
        pick = [lambda obs, k=k: obs[k] for k in keys]

    def encode_parts(obs, out):
        col = 0
        for (enc, width), get in zip(parts, pick):
            enc(get(obs), out[:, col:col + width])
            col += width
        return out
    return encode_parts


def batch_encoder(space) -> Callable:
    """``encode(obs) -> (x [M, D] float64, single)`` for raw observations as a user passes
    them: one observation (``single`` True, M = 1) or a batch ``[M, ...]`` (for Dict and Tuple
    spaces the vector env's dict or tuple of ``[M, ...]`` arrays); ValueError naming the
    expected shapes otherwise."""
    enc, dim = obs_encoder(space), _obs_dim(policy_obs_space(space))
    if space.shape is None:                                 # Dict / Tuple
        from gymnasium.vector.utils import concatenate, create_empty_array

        def encode_composite(obs):
            single = space.contains(obs)
            if single:
                obs = concatenate(space, [obs], create_empty_array(space, n=1))
            leaf = obs
            while isinstance(leaf, (dict, tuple)):
                leaf = next(iter(leaf.values())) if isinstance(leaf, dict) else leaf[0]
            return enc(obs, np.empty((np.asarray(leaf).shape[0], dim))), single
        return encode_composite
    shape = tuple(space.shape)

    def encode_array(obs):
        x = np.asarray(obs)
        single = x.shape == shape
        if single:
            x = x.reshape((1,) + shape)
        elif x.ndim != len(shape) + 1 or x.shape[1:] != shape:
            raise ValueError(f"obs must be one observation of shape {shape} or a batch of "
                             f"shape [M, {', '.join(map(str, shape))}]; got {x.shape}")
        return enc(x, np.empty((x.shape[0], dim))), single
    return encode_array


def action_decoder(space) -> Callable[[np.ndarray], np.ndarray]:
    """``decode(a) -> env_action``: npg's action batch to what ``VectorEnv.step`` expects.

    Discrete(n, start): ``a [N]`` ints in [0, n) -> ``a + start`` (int64).
    Box(shape):         ``a [N, K]`` -> ``a.reshape(N, *shape)`` cast to the space's dtype.
    MultiDiscrete(nvec, start), MultiBinary(n): ``a [N, K]`` ints -> ``(a + start)`` reshaped to
                        ``[N, *shape]`` in the space's dtype (MultiBinary: start 0).
    """
    _check_act_space(space)
    if isinstance(space, (spaces.MultiDiscrete, spaces.MultiBinary)):
        shape, dtype = tuple(space.shape), space.dtype
        start = (np.asarray(space.start).reshape(-1) if isinstance(space, spaces.MultiDiscrete)
                 else np.zeros(1, np.int64))
        return lambda a: (np.asarray(a) + start).astype(dtype).reshape((-1,) + shape)
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
