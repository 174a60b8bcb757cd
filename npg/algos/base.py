"""The interface every updater (REINFORCE, actor-critic, PPO, ...) implements, and its helpers.

An *algorithm* turns rollouts into parameter updates. It is a small object that holds its
config and the policy/critic objects (hyperparameters only, no arrays); everything that changes
during training lives in a plain-data *train state* that the caller threads through::

    algo = PPO(PPOConfig(), space_info(envs))
    state = algo.init(rng)                                  # {"policy": ..., "critic": ..., ...}
    env_action, action, logp = algo.act(state, obs, rng)    # obs [N, D] -> env / stored actions
    v = algo.value(state, obs)                              # [N], or None without a critic
    state, stats = algo.update(state, rollout, progress, rng)   # progress in [0, 1]

The train state is nested dicts of arrays, ints and floats (``state_to_flat`` /
``state_from_flat`` turn it into one level of "/"-joined keys for ``np.savez``). The seed never
lives in a config: randomness comes only from the numpy Generators the caller passes.

Every config is a dataclass derived from ``AlgoConfig`` (n_envs, n_steps, gamma, dtype and the
network fields); ``__post_init__`` validates every field, raising TypeError/ValueError that
name it.
"""

from __future__ import annotations

import math
from collections import abc
from dataclasses import dataclass, fields
from typing import Any, Mapping

import numpy as np

from ..checks import (as_generator, check_bool, check_positive_int, check_real,
                       check_unit_interval, max_abs)
from ..backend import common_xp, create, default_xp, device_of, get_xp, to_numpy
from ..distributions import categorical, gaussian
from ..distributions.product import ProductLogits

__all__ = ["AlgoConfig", "Algorithm", "make_config", "check_progress", "check_positive_field",
           "check_nonneg_field", "check_bool_field", "check_real_field", "check_value_targets",
           "check_update_stats", "state_to_flat", "state_from_flat", "as_generator"]

_ACTIVATIONS = ("tanh", "relu")


# ---------------------------------------------------------------------------------- config checks

def check_progress(progress) -> float:
    """The fraction of training done, a real number in [0, 1] (drives annealing)."""
    p = check_real("progress", progress, "a real number in [0, 1]")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"progress must lie in [0, 1]; got {p}")
    return p


def _real(name: str, x) -> float:
    v = check_real(name, x)
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite; got {v}")
    return v


def check_real_field(name: str, x) -> float:
    """A finite real number (TypeError for a bool or a str, ValueError for NaN or inf)."""
    return _real(name, x)


def check_positive_field(name: str, x) -> float:
    """A finite real number > 0 (learning rates, clip ranges, coefficients)."""
    v = _real(name, x)
    if not v > 0.0:
        raise ValueError(f"{name} must be > 0; got {v}")
    return v


def check_nonneg_field(name: str, x) -> float:
    """A finite real number >= 0 (loss coefficients)."""
    v = _real(name, x)
    if v < 0.0:
        raise ValueError(f"{name} must be >= 0; got {v}")
    return v


def check_bool_field(name: str, x) -> bool:
    return check_bool(name, x)


def check_value_targets(ret, batch_size: int) -> None:
    """ValueError if the value targets y are so large that the value loss
    (1/2B) sum_b (V_b - y_b)^2 would overflow their dtype.

    The bound: |V - y| <= 2 max(|V|, |y|) while V tracks y, so (V - y)^2 summed over a
    minibatch of B stays below the float max F when max |y| < sqrt(F / (4 B)): 5.8e17 in
    float32 and 4.2e152 in float64 for B = 256. One reduction over the targets per update.
    """
    xp = get_xp(ret)
    y = max_abs(ret)
    F = float(xp.finfo(ret.dtype).max)
    limit = math.sqrt(F / (4.0 * max(int(batch_size), 1)))
    if not y < limit:
        raise ValueError(f"value targets overflow {ret.dtype}: max |y| = {y:.3g}, and the value "
                         f"loss squares y - V over minibatches of {batch_size} (max |y| must be "
                         f"< {limit:.3g}); scale the rewards (Agent(scale_reward=True)) or use "
                         f"dtype float64")


def check_update_stats(stats: Mapping, algo: str) -> None:
    """ValueError naming the first non-finite loss statistic of an update (never log inf and
    train on); the stats are Python floats, so this costs nothing."""
    for k, v in stats.items():
        if isinstance(v, float) and not math.isfinite(v):
            raise ValueError(f"{algo} update: {k} = {v} is not finite (the loss overflowed its "
                             f"dtype or the parameters diverged); lower the learning rate, "
                             f"scale the rewards (Agent(scale_reward=True)) or use float64")


@dataclass
class AlgoConfig:
    """Fields every algorithm's config has (subclasses add their own and may change defaults).

    n_envs: int = 8
        N, parallel environments.
    n_steps: int = 32
        T, steps per environment in each rollout (one update per rollout of T * N steps).
    gamma: float = 0.99
        Discount factor in [0, 1].
    dtype: str = "float64"
        Floating dtype of parameters, observations and every computation ("float64" for
        exactness, "float32" for speed).
    hidden: tuple = (64, 64)
        Hidden-layer widths of the MLP networks (empty tuple: linear in the observation).
    activation: str = "tanh"
        Hidden activation, "tanh" or "relu".
    orthogonal: bool = True
        Orthogonal initialisation (Saxe et al. 2014) instead of scaled Gaussian weights.
    """

    n_envs: int = 8
    n_steps: int = 32
    gamma: float = 0.99
    dtype: str = "float64"
    hidden: tuple = (64, 64)
    activation: str = "tanh"
    orthogonal: bool = True

    def __post_init__(self):
        self.n_envs = check_positive_int("n_envs", self.n_envs)
        self.n_steps = check_positive_int("n_steps", self.n_steps)
        self.gamma = check_unit_interval("gamma", self.gamma)
        if not isinstance(self.dtype, (str, type, np.dtype)):
            raise TypeError(f"dtype must be 'float64' or 'float32' (a str or NumPy dtype); got "
                            f"{type(self.dtype).__name__}")
        if self.dtype not in ("float64", "float32") and not (
                isinstance(self.dtype, (type, np.dtype)) and np.dtype(self.dtype).name
                in ("float64", "float32")):
            raise ValueError(f"dtype must be 'float64' or 'float32'; got {self.dtype!r}")
        self.dtype = np.dtype(self.dtype).name
        if isinstance(self.hidden, int) and not isinstance(self.hidden, bool):
            self.hidden = (self.hidden,)
        if not isinstance(self.hidden, (tuple, list)):
            raise TypeError(f"hidden must be a tuple of positive ints; got "
                            f"{type(self.hidden).__name__}")
        self.hidden = tuple(check_positive_int(f"hidden[{i}]", h)
                            for i, h in enumerate(self.hidden))
        if not isinstance(self.activation, str):
            raise TypeError(f"activation must be a str, one of {_ACTIVATIONS}; got "
                            f"{type(self.activation).__name__}")
        if self.activation not in _ACTIVATIONS:
            raise ValueError(f"activation must be one of {_ACTIVATIONS}; got {self.activation!r}")
        self.orthogonal = check_bool_field("orthogonal", self.orthogonal)

    @property
    def batch_steps(self) -> int:
        """T * N, environment steps per rollout."""
        return self.n_envs * self.n_steps


def make_config(config_class: type, config=None):
    """A validated ``config_class`` instance from None (defaults), a dict of field overrides,
    or an instance (returned as is). Unknown keys raise a ValueError that lists the fields."""
    if config is None:
        return config_class()
    if isinstance(config, config_class):
        return config
    if isinstance(config, Mapping):
        names = {f.name for f in fields(config_class)}
        unknown = sorted(set(config) - names)
        if unknown:
            raise ValueError(f"config has unknown fields {unknown} for "
                             f"{config_class.__name__}; its fields are {sorted(names)}")
        return config_class(**config)
    raise TypeError(f"config must be None, a dict or a {config_class.__name__}; got "
                    f"{type(config).__name__}")


# ---------------------------------------------------------------------------------- train state

def state_to_flat(state: Mapping, prefix: str = "") -> dict[str, Any]:
    """Nested dicts -> one level with "/"-joined keys; arrays become NumPy (for ``np.savez``)."""
    out = {}
    for k, v in state.items():
        if "/" in str(k):
            raise ValueError(f"train-state key {k!r} must not contain '/'")
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(state_to_flat(v, key + "/"))
        else:
            out[key] = to_numpy(v) if hasattr(v, "shape") else v
    return out


def state_from_flat(flat: Mapping, xp=None) -> dict:
    """Inverse of ``state_to_flat``: 0-d integer/float arrays become Python ints/floats, other
    arrays move to ``xp`` (default: ``default_xp()``)."""
    xp = default_xp() if xp is None else xp
    out: dict = {}
    for key, v in flat.items():
        *path, leaf = key.split("/")
        node = out
        for p in path:
            node = node.setdefault(p, {})
        if isinstance(v, np.ndarray) and v.ndim == 0:
            v = v.item()
        elif isinstance(v, np.ndarray):
            v = xp.asarray(v)
        node[leaf] = v
    return out


def _arrays(tree: Mapping, prefix: str = ""):
    """(key, array) for every array of a nested train state, keys "/"-joined."""
    for k, v in tree.items():
        if isinstance(v, abc.Mapping):
            yield from _arrays(v, f"{prefix}{k}/")
        elif hasattr(v, "shape") and not isinstance(v, (np.generic,)):
            yield f"{prefix}{k}", v


def _numpy_only(tree: Mapping) -> bool:
    """True when every array of a nested train state (as ``_arrays`` finds them) is a NumPy
    ndarray: the common case, decided without building ``_arrays``' keys."""
    for v in tree.values():
        if type(v) is np.ndarray:
            continue
        if isinstance(v, abc.Mapping):
            if not _numpy_only(v):
                return False
        elif hasattr(v, "shape") and not isinstance(v, np.generic):
            return False
    return True


# ---------------------------------------------------------------------------------- algorithm

class Algorithm:
    """Base class of the updaters. Subclasses set ``name`` and ``config_class`` and define
    ``init`` and ``update``; ``act`` and ``value`` here work for any algorithm whose train state
    has ``"policy"`` params for ``self.policy`` (and ``"critic"`` params for ``self.critic``).

    __init__(config, spec): ``config`` is None, a dict or a ``config_class`` instance;
    ``spec`` an ``npg.envs.SpaceInfo``. Subclasses call ``super().__init__`` and then build
    ``self.policy`` / ``self.critic`` (objects holding hyperparameters only).
    """

    name: str = ""
    config_class: type = AlgoConfig
    policy: Any = None
    critic: Any = None
    any_namespace: bool = False
    """True where ``init``'s state may be moved to any array-API module and device (CuPy,
    array_api_strict) and ``act`` / ``value`` / ``update`` then run there, with the rollout
    copied onto the state's device once per update (``rollout_on``); ``Agent(device=...)``
    refuses the algorithms that leave it False (NumPy only)."""

    def __init__(self, config=None, spec=None):
        self.config = make_config(self.config_class, config)
        if spec is None or not all(hasattr(spec, a) for a in ("obs_dim", "discrete")):
            raise TypeError(f"spec must be an npg.envs.SpaceInfo (npg.envs.space_info(env)); "
                            f"got {type(spec).__name__}")
        self.spec = spec
        self.dtype = np.dtype(self.config.dtype)

    def __repr__(self):
        return f"{type(self).__name__}({self.config!r})"

    # -- the subclass's part -------------------------------------------------------------
    def init(self, rng) -> dict:
        raise NotImplementedError

    def update(self, state, rollout, progress: float, rng):
        raise NotImplementedError

    # -- shared ----------------------------------------------------------------------------
    def obs_array(self, obs, like):
        """obs as an array on the module and device of ``like`` (a parameter array) in its
        dtype (NumPy observations from the environment move onto the parameters' device)."""
        xp = get_xp(like)
        if get_xp(obs) is xp:
            return obs if obs.dtype == like.dtype else xp.astype(obs, like.dtype)
        return create(xp, "asarray", to_numpy(obs), dtype=like.dtype, device=device_of(like))

    def rollout_on(self, state, rollout):
        """``rollout`` on the array module and device of the train state's parameters.

        A collected rollout is NumPy (the environments run on the host); for a train state on
        another module (CuPy, array_api_strict) it is copied there once, here, at the top of
        ``update`` (``Rollout.to``: the one host -> device conversion of a rollout). A
        rollout already there is returned as is; a rollout on a third module, or a non-NumPy
        rollout for a NumPy train state, is a TypeError naming both modules (never converted
        silently), and so are arrays of two modules within the state (naming both entries)."""
        if rollout.xp is np and _numpy_only(state):
            return rollout
        leaves = dict(_arrays(state))
        xp = common_xp(*leaves.values(), names=[f"state[{k!r}]" for k in leaves])
        params = state["policy"]
        like = params[next(iter(params))]
        rxp = rollout.xp
        if rxp is xp:
            return rollout
        if rxp is np:
            return rollout.to(xp, device_of(like))
        raise TypeError(f"rollout lives on {rxp.__name__} but the train state lives on "
                        f"{xp.__name__}; collect NumPy rollouts (npg.envs.rollout.Collector) or "
                        f"move it first (rollout.to(xp, device))")

    def act(self, state, obs, rng, deterministic: bool = False, mask=None):
        """Actions for a batch of observations ``obs [M, D]`` with one policy forward pass.

        Returns ``(env_action, action, logp)`` as NumPy arrays: ``action`` [M] int64, [M, K]
        int64 (MultiDiscrete / MultiBinary) or [M, K] (the unclipped Gaussian sample), whose
        log-probability ``logp`` [M] is, and
        ``env_action``, the action for the environment (Gaussian actions clipped to the
        bounds). ``deterministic=True`` takes the mode (argmax / mean) instead of sampling.
        ``mask`` [M, A] bool (Discrete actions): only the True actions are legal; the policy
        is pi(a) = softmax(mask_logits(z, mask))_a, so masked actions have probability 0 and
        are never drawn or chosen as the mode (``check_action_mask`` validates it).
        """
        dist = self._dist_params(state["policy"], obs)
        if mask is not None:
            dist = categorical.mask_logits(dist, self.action_mask(mask, dist))
        if isinstance(dist, ProductLogits):             # MultiDiscrete / MultiBinary: [M, K]
            a = dist.mode() if deterministic else dist.sample(as_generator(rng))
            lp = dist.log_prob(a)
            a = to_numpy(a)
            return a, a, to_numpy(lp)
        if self.spec.discrete:
            a = categorical.mode(dist) if deterministic else categorical.sample(
                dist, as_generator(rng))
            lp = categorical.log_prob(dist, a, check=False)      # a was drawn from dist: no range check
            a = to_numpy(a)
            return a, a, to_numpy(lp)
        mean, log_std = dist
        xp = get_xp(mean)
        mean, log_std = xp.broadcast_arrays(mean, log_std)
        a = mean if deterministic else gaussian.sample(mean, log_std, as_generator(rng))
        lp = to_numpy(gaussian.log_prob(mean, log_std, a))
        a = to_numpy(a)
        low, high = self.spec.act_low, self.spec.act_high
        return np.clip(a, low, high).astype(a.dtype, copy=False), a, lp

    def action_mask(self, mask, like):
        """``mask`` as a bool array [M, A] on the module of ``like`` (logits [M, A]); TypeError
        for continuous actions or a non-bool mask, ValueError naming the first row with no
        legal action or a wrong shape."""
        if not self.spec.discrete:
            raise TypeError("an action mask needs a Discrete action space; this algorithm's "
                            "actions are continuous")
        m = np.asarray(to_numpy(mask))
        if m.dtype != np.bool_:
            raise TypeError(f"mask must be a boolean array [M, {self.spec.n_actions}]; got "
                            f"dtype {m.dtype}")
        if m.shape != tuple(like.shape):
            raise ValueError(f"mask must have shape {tuple(like.shape)} (one flag per action of "
                             f"each observation); got {m.shape}")
        bad = ~m.any(axis=1)
        if bad.any():
            raise ValueError(f"mask row {int(np.flatnonzero(bad)[0])} allows no action")
        xp = get_xp(like)
        return m if xp is np else create(xp, "asarray", m, device=device_of(like))

    def value(self, state, obs):
        """V(obs) [M] as a NumPy array from ``self.critic``, or None without a critic."""
        if self.critic is None:
            return None
        params = state["critic"]
        return to_numpy(self._value(params, self.obs_array(obs, next(iter(params.values())))))

    # -- hooks a subclass may replace by faster equivalents ---------------------------------
    def _dist_params(self, params, obs):
        """The policy's distribution parameters for obs [M, D] (checked forward pass)."""
        return self.policy.dist_params(params, obs)

    def _value(self, params, obs):
        """V(obs) [M] on the params' backend (checked forward pass)."""
        return self.critic.value(params, obs)
