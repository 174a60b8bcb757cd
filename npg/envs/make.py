"""Building gymnasium vector environments, and reading how they autoreset.

Gymnasium 1.x vector environments reset a finished sub-environment automatically, in one of three
modes (``gymnasium.vector.AutoresetMode``; https://farama.org/Vector-Autoreset-Mode):

NEXT_STEP (the default, and the only mode of CartPole's own ``CartPoleVectorEnv``)
    The step that ends an episode returns its real final observation. The *next* call to
    ``step`` ignores the action, resets that sub-environment and returns the first observation
    with reward 0 and terminated = truncated = False. That call is a phantom transition
    (final obs, ignored action) -> reset obs, which no update may learn from.
SAME_STEP
    The ending step already returns the reset observation; the real final observation is in
    ``info["final_obs"][i]`` (with mask ``info["_final_obs"]``). No phantom transitions.
DISABLED
    Nothing resets by itself; the caller must ``reset(options={"reset_mask": done})``.

``npg.envs.rollout.Collector`` handles all three; ``make_vec_env`` builds NEXT_STEP environments unless
asked otherwise.
"""

from __future__ import annotations

import dataclasses
import importlib
from typing import Callable

import gymnasium as gym
from gymnasium.vector import AsyncVectorEnv, AutoresetMode, SyncVectorEnv, VectorEnv

from ..checks import check_positive_int
from .cartpole_vector import CartPoleVectorEnv
from .pendulum_vector import PendulumVectorEnv

__all__ = ["make_vec_env", "autoreset_mode_of", "has_vector_class", "MODES", "OWN_VECTOR_ENVS"]

MODES = ("sync", "async", "vector_entry_point")

# npg's vectorised classes for registered ids: where gymnasium's registration has none
# (Pendulum), or in place of gymnasium's own (CartPole: the same class with a compiled step,
# equal bit for bit); mode "vector_entry_point" builds them (with the registration's time
# limit and kwargs), and "auto" picks them
OWN_VECTOR_ENVS = {"Pendulum-v1": PendulumVectorEnv, "CartPole-v1": CartPoleVectorEnv,
                   "CartPole-v0": CartPoleVectorEnv}


def has_vector_class(env_id: str, kwargs: dict | None = None) -> bool:
    """Whether a registered id ("module:Env-v0" allowed) has a vectorised class: its own
    ``vector_entry_point`` in gymnasium's registry, or one of ``OWN_VECTOR_ENVS`` that takes
    the constructor ``kwargs`` (its ``KWARGS``)."""
    env_id = env_id.rpartition(":")[2]
    if gym.spec(env_id).vector_entry_point is not None:
        return True
    own = OWN_VECTOR_ENVS.get(env_id)
    return own is not None and set(kwargs or {}) <= set(own.KWARGS)


def _as_autoreset_mode(mode) -> AutoresetMode:
    if isinstance(mode, AutoresetMode):
        return mode
    try:
        return AutoresetMode(mode)
    except ValueError:
        names = ", ".join(repr(m.value) for m in AutoresetMode)
        raise ValueError(f"autoreset_mode must be an AutoresetMode or one of {names}; "
                         f"got {mode!r}") from None


def make_vec_env(env_id: str | Callable[[], gym.Env], num_envs: int, mode: str = "sync",
                 seed: int | None = None, autoreset_mode=AutoresetMode.NEXT_STEP,
                 **kwargs) -> VectorEnv:
    """``num_envs`` copies of an environment behind one ``VectorEnv``, seeded and reset.

    env_id          a registered id (``"CartPole-v1"``; ``"module:Env-v0"`` imports ``module``
                    first: only for ids typed by the user, see ``npg.envs.ids``) or a callable
                    returning a fresh ``Env`` (the callable form works with "sync" and "async").
    num_envs        N, the number of parallel copies.
    mode            "sync" (one process, ``SyncVectorEnv``), "async" (one subprocess per copy,
                    ``AsyncVectorEnv``) or "vector_entry_point" (a vectorised class:
                    ``OWN_VECTOR_ENVS``, npg's, where it has one, else the registration's
                    own; NEXT_STEP autoreset only).
    seed            copy i is reset with seed ``seed + i`` and the action space is seeded with
                    ``seed``; None leaves both unseeded.
    autoreset_mode  NEXT_STEP (default), SAME_STEP or DISABLED, for "sync" and "async".
    kwargs          passed to the environment's constructor (``gymnasium.make_vec`` kwargs).

    The environment is reset here (with ``seed``); ``Collector`` continues from the observations
    it gets by resetting again without a seed, which keeps the seeded generators.
    """
    num_envs = check_positive_int("num_envs", num_envs)
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}; got {mode!r}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise TypeError(f"seed must be an int or None; got {type(seed).__name__}")
    autoreset_mode = _as_autoreset_mode(autoreset_mode)
    try:
        envs = _build(env_id, num_envs, mode, autoreset_mode, kwargs)
    except TypeError as err:
        if kwargs and "argument" in str(err):
            raise TypeError(f"env {_name(env_id)} could not be built with env_kwargs "
                            f"{kwargs}: {err}") from None
        raise
    envs.reset(seed=seed)
    if seed is not None:
        envs.action_space.seed(seed)
        envs.single_action_space.seed(seed)
    return envs


def _name(env_id) -> str:
    return repr(env_id) if isinstance(env_id, str) else getattr(env_id, "__name__", "callable")


def _checked_call(env_fn, kwargs):
    """A constructor for the vector env's copies that checks it returns a gymnasium Env."""
    def make():
        env = env_fn(**kwargs)
        if not isinstance(env, gym.Env):
            raise TypeError(f"env callable {_name(env_fn)} must return a gymnasium.Env; got "
                            f"{type(env).__name__}")
        return env
    return make


def _build(env_id, num_envs, mode, autoreset_mode, kwargs) -> VectorEnv:
    if callable(env_id) and not isinstance(env_id, str):
        if mode == "vector_entry_point":
            raise ValueError("mode 'vector_entry_point' needs a registered env_id, not a callable")
        fns = [_checked_call(env_id, kwargs) for _ in range(num_envs)]
        cls = SyncVectorEnv if mode == "sync" else AsyncVectorEnv
        return cls(fns, autoreset_mode=autoreset_mode)
    if not isinstance(env_id, str):
        raise TypeError(f"env_id must be a registered id (str) or a callable returning an Env; "
                        f"got {type(env_id).__name__}")
    if ":" in env_id:                  # "module:Env-v0": import the module, which registers it
        module, _, env_id = env_id.partition(":")
        importlib.import_module(module)
    if mode == "vector_entry_point":
        if autoreset_mode != AutoresetMode.NEXT_STEP:
            raise ValueError("mode 'vector_entry_point' supports only the environment's own "
                             f"autoreset mode (NEXT_STEP); got {autoreset_mode}")
        spec = gym.spec(env_id)
        if env_id in OWN_VECTOR_ENVS:
            kw = {**spec.kwargs, **kwargs}
            kw.setdefault("max_episode_steps", spec.max_episode_steps)
            envs = OWN_VECTOR_ENVS[env_id](num_envs=num_envs, **kw)
            envs.spec = dataclasses.replace(spec, kwargs={**spec.kwargs, **kwargs})
            return envs
        if spec.vector_entry_point is None:
            raise ValueError(f"mode 'vector_entry_point' needs an environment with its own "
                             f"vectorised class; {env_id!r} has none (use 'sync' or 'async')")
        return gym.make_vec(env_id, num_envs=num_envs, vectorization_mode=mode, **kwargs)
    return gym.make_vec(env_id, num_envs=num_envs, vectorization_mode=mode,
                        vector_kwargs={"autoreset_mode": autoreset_mode}, **kwargs)


def autoreset_mode_of(envs: VectorEnv) -> AutoresetMode:
    """The autoreset mode a vector env declares in ``metadata["autoreset_mode"]`` (NEXT_STEP
    when it declares none, gymnasium's default)."""
    meta = getattr(envs, "metadata", None) or {}
    return _as_autoreset_mode(meta.get("autoreset_mode", AutoresetMode.NEXT_STEP))
