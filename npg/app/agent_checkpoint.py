"""What an ``Agent`` checkpoint holds, and how a loaded one is checked before it runs.

``contents(agent)`` -> ``(meta, arrays)`` for ``npg.app.checkpoint.save``:

    meta    algo, config, env id and kwargs, seed, vectorization, flags, env_steps, n_updates,
            schedule_steps, the generators' states, the train state's scalars, the
            environments' scalar state (``npg.envs.snapshot``) or why it is missing, the log
            files' sizes and wall time at the save, the run settings (checkpoint_every)
    arrays  ``state/<key>`` (the train state, "/"-joined keys), ``norm/<key>`` (normalisers),
            ``carry/<key>`` (the collector's running episodes), ``env/<key>`` (environments),
            ``history/returns`` and ``history/lengths`` (every finished training episode)

``restore(agent, meta, arrays, where)`` fills a freshly built agent, after checking every
entry against what that agent (its config and spaces) expects: the same train-state keys,
shapes and dtypes as its own fresh ``algo.init`` (the first axis of the empty buffers may
grow), finite values, valid generator states. Any mismatch is a ``CheckpointError`` naming the
file and the entry, so that no array of the wrong shape reaches a compiled kernel.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import asdict

import numpy as np

from ..algos import state_from_flat, state_to_flat
from . import agent_device, checkpoint
from .checkpoint import ARRAYS_FILE, META_FILE, CheckpointError
from ..envs import snapshot
from ..envs.ids import check_env_id

__all__ = ["contents", "restore", "field", "load_agent"]

_SCALARS = (bool, int, float, str, type(None))


def contents(agent, logs: dict | None = None, wall_time: float = 0.0,
             run: dict | None = None) -> tuple[dict, dict]:
    """``(meta, arrays)`` of ``agent`` (see the module docstring)."""
    arrays, scalars = {}, {}
    for k, v in state_to_flat(agent.state).items():
        if isinstance(v, np.ndarray):
            arrays["state/" + k] = v
        elif isinstance(v, (np.integer, np.floating)):
            scalars[k] = v.item()
        elif isinstance(v, _SCALARS):
            scalars[k] = v
        else:
            raise TypeError(f"train state entry {k!r} must be an array or a scalar; got "
                            f"{type(v).__name__}")
    arrays.update({"norm/" + k: np.asarray(v) for k, v in agent.collector.state_dict().items()})
    carry = agent.collector.carry_state()
    env_state, why = None, snapshot.supported(agent.envs)
    if carry is not None and why is None:
        arrays.update({"carry/" + k: v for k, v in carry.items()})
        env_state, env_arrays = snapshot.snapshot(agent.envs)
        arrays.update({"env/" + k: v for k, v in env_arrays.items()})
    arrays["history/returns"] = np.asarray(agent.episode_returns, np.float64)
    arrays["history/lengths"] = np.asarray(agent.episode_lengths, np.int64)
    config = asdict(agent.config)
    meta = {"algo": agent.algo_name, "config": config, "env_id": agent.env_id,
            "env_kwargs": agent.env_kwargs, "seed": agent.seed,
            "vectorization": agent.vectorization, "normalize_obs": agent.normalize_obs,
            "scale_reward": agent.scale_reward, "env_steps": agent.env_steps,
            "n_updates": agent.n_updates, "schedule_steps": agent.schedule_steps,
            "rng": {k: g.bit_generator.state for k, g in agent.rngs.items()},
            "state_scalars": scalars, "env_state": env_state,
            "env_state_missing": None if carry is None else why,
            "logs": logs, "wall_time": float(wall_time), "run": run or {}}
    return meta, arrays


def field(meta: dict, key: str, types, where: str):
    """``meta[key]``, which must be of ``types``; CheckpointError naming the file otherwise."""
    if key not in meta:
        raise CheckpointError(f"{where}/{META_FILE}: missing entry {key!r}")
    v = meta[key]
    if not isinstance(v, types) or (isinstance(v, bool) and bool not in _as_tuple(types)):
        names = " or ".join(t.__name__ for t in _as_tuple(types))
        raise CheckpointError(f"{where}/{META_FILE}: entry {key!r} must be {names}; got "
                              f"{type(v).__name__}")
    return v


def _as_tuple(types) -> tuple:
    return types if isinstance(types, tuple) else (types,)


def _group(arrays: dict, prefix: str) -> dict:
    n = len(prefix)
    return {k[n:]: v for k, v in arrays.items() if k.startswith(prefix)}


def _check_finite(arrays: dict, where: str) -> None:
    for k, a in arrays.items():
        if a.dtype.kind == "f" and not np.isfinite(a).all():
            raise CheckpointError(f"{where}/{ARRAYS_FILE}: {k!r} holds NaN or inf values")


def _checked_state(agent, meta, arrays, where) -> dict:
    """The loaded train state, checked entry by entry against the agent's fresh one."""
    want = state_to_flat(agent.state)
    got = dict(_group(arrays, "state/"))
    got.update(field(meta, "state_scalars", dict, where))
    if set(got) != set(want):
        diff = sorted(set(got) ^ set(want))
        raise CheckpointError(f"{where}/{ARRAYS_FILE}: train-state entries {diff} differ from "
                              f"what this config and environment need")
    for k, w in want.items():
        g = got[k]
        if isinstance(w, np.ndarray):
            grows = w.ndim > 0 and w.shape[0] == 0
            ok = isinstance(g, np.ndarray) and g.dtype == w.dtype and g.ndim == w.ndim and (
                g.shape[1:] == w.shape[1:] if grows else g.shape == w.shape)
            if not ok:
                desc = f"{g.dtype} {g.shape}" if isinstance(g, np.ndarray) else type(g).__name__
                raise CheckpointError(f"{where}/{ARRAYS_FILE}: state/{k} is {desc}; this config "
                                      f"and environment need {w.dtype} {w.shape}")
        elif type(g) is not type(w):
            raise CheckpointError(f"{where}/{META_FILE}: state scalar {k!r} must be "
                                  f"{type(w).__name__}; got {type(g).__name__}")
    # the fresh state's key order: the updaters pack parameters in insertion order, and a sum
    # over them (the global gradient norm) rounds differently in another order
    return state_from_flat({k: got[k] for k in want})


def restore(agent, meta: dict, arrays: dict, where: str, env_matches: bool) -> None:
    """Fill the freshly built ``agent`` from a verified checkpoint (module docstring);
    ``env_matches``: the agent runs the environment the checkpoint was saved from."""
    _check_finite(arrays, where)
    state = _checked_state(agent, meta, arrays, where)
    try:
        agent.collector.load_state_dict(_group(arrays, "norm/"))
    except (ValueError, KeyError) as err:
        raise CheckpointError(f"{where}/{ARRAYS_FILE}: normaliser statistics: {err}") from None
    for k, g in agent.rngs.items():
        s = field(meta, "rng", dict, where).get(k)
        try:
            g.bit_generator.state = s
        except (TypeError, ValueError, KeyError) as err:
            raise CheckpointError(f"{where}/{META_FILE}: generator state {k!r} is invalid "
                                  f"({err})") from None
    agent.state = agent_device.to_device(agent, state)
    agent.env_steps = field(meta, "env_steps", int, where)
    agent.n_updates = field(meta, "n_updates", int, where)
    agent.schedule_steps = field(meta, "schedule_steps", (int, type(None)), where)
    returns, lengths = arrays.get("history/returns"), arrays.get("history/lengths")
    if returns is None or lengths is None or returns.shape != lengths.shape or returns.ndim != 1:
        raise CheckpointError(f"{where}/{ARRAYS_FILE}: history/returns and history/lengths "
                              f"must be two arrays [E] of one length")
    agent.episode_returns, agent.episode_lengths = returns.tolist(), lengths.tolist()
    _restore_envs(agent, meta, arrays, where, env_matches)


def _restore_envs(agent, meta, arrays, where, env_matches) -> None:
    env_state = meta.get("env_state")
    if env_state is not None and env_matches:
        try:
            snapshot.restore(agent.envs, env_state, _group(arrays, "env/"))
            agent.collector.set_carry_state(_group(arrays, "carry/"))
        except (ValueError, TypeError) as err:
            raise CheckpointError(f"{where}: {err}") from None
        return
    missing = meta.get("env_state_missing")
    if env_state is None and missing is None:
        return                                   # saved before any collection: nothing lost
    why = missing or "another environment was given to load"
    warnings.warn(
        f"{where}: the environments' state was not restored ({why}); the loaded agent starts "
        f"from freshly reset environments: the episodes running at the save are dropped, and "
        f"training on differs from a run that never stopped (parameters, optimiser, "
        f"normalisers and generators are restored exactly)", RuntimeWarning, stacklevel=5)
    drop = getattr(agent.algo, "drop_partial_episodes", None)
    if drop is not None:
        agent.state = drop(agent.state)        # on the state's device


def load_agent(cls, path, env=None, allow_import: bool = False, device=None):
    """``cls.load``: read and verify the checkpoint, rebuild the agent from its metadata, check
    and restore everything else (``Agent.load`` documents the arguments)."""
    meta, arrays, ckpt = checkpoint.load(path)
    saved_id = field(meta, "env_id", (str, type(None)), ckpt)
    if env is None:
        if saved_id is None:
            raise ValueError("env must be given: the saved agent has no registered env id")
        try:
            check_env_id(saved_id, allow_import=allow_import, what=f"{ckpt}: env_id")
        except (TypeError, ValueError) as err:
            raise CheckpointError(str(err)) from None
    from .agent import VECTORIZATIONS
    vec = field(meta, "vectorization", str, ckpt)
    vec = vec if vec in VECTORIZATIONS and env is None else "auto"
    agent = cls(env if env is not None else saved_id, field(meta, "algo", str, ckpt),
                field(meta, "config", dict, ckpt), field(meta, "seed", int, ckpt), vec,
                field(meta, "normalize_obs", bool, ckpt), field(meta, "scale_reward", bool, ckpt),
                field(meta, "env_kwargs", dict, ckpt), device=device)
    matches = env is None or (isinstance(env, str) and env == saved_id)
    restore(agent, meta, arrays, ckpt, matches)
    agent._wall_time = float(field(meta, "wall_time", (int, float), ckpt))
    logs = meta.get("logs")
    if isinstance(logs, dict):
        agent._logs_at_save = (os.path.dirname(ckpt) if os.path.basename(ckpt).startswith(
            "ckpt-") else ckpt, logs)
    agent.run_settings = field(meta, "run", dict, ckpt)
    return agent
