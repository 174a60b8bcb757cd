"""The state of a vector environment as plain data, so that a resumed run continues bitwise.

A checkpoint that only saves the agent makes a loaded run reset its environments: the episodes
that were running are cut short and the environments' random generators restart. For the
environments whose whole state is plain data (positions and velocities as arrays, step counters,
flags and the ``numpy.random.Generator`` of ``Env.np_random``) npg saves that state instead:

    snapshot(envs)        -> (scalars, arrays)   JSON-able scalars and a dict of NumPy arrays
    restore(envs, s, a)                          sets them on a freshly built copy of the envs

What is captured, for each object of the environment's chain (the vector env, its sub-envs,
every wrapper and the unwrapped env): every attribute whose value is a numeric or bool NumPy
array, a Python or NumPy number, a bool, None, a tuple of numbers, a Generator (its
``bit_generator.state``) or a tuple of Generators (one per copy of a vectorised class).
Strings, spaces, specs, dicts and lists are skipped: in the supported
classes they are constants of the construction (transition tables, maps) or buffers rewritten
on every step (``SyncVectorEnv._env_obs``). An attribute of any other type is an error, so that
no unknown state is dropped silently.

Which environments: ``supported(envs)`` names the classes whose state is captured completely
(checked by tests that a save, a load in a new process and further training equal training on
in one process bit for bit): gymnasium's ``SyncVectorEnv`` over gymnasium's classic-control
and toy-text environments and gymnasium's ``CartPoleVectorEnv`` (and npg's compiled subclass:
a snapshot of either restores into the other), npg's ``PendulumVectorEnv``,
and gymnasium's common wrappers (TimeLimit, OrderEnforcing, PassiveEnvChecker). Anything else
(Box2D's physics world, MuJoCo's simulator, an ``AsyncVectorEnv``'s subprocesses, rendering environments) holds state npg cannot
save as data; for those ``supported`` returns the reason and a loaded agent starts from freshly
reset environments (``npg.app.agent.Agent.load`` warns, saying exactly that).

Restoring never trusts the file: each object must be of the class recorded, each attribute must
already exist on the fresh object, and each value must have the kind (and for arrays the dtype
and shape) that the fresh object's attribute has, or a ``ValueError`` names the attribute.
"""

from __future__ import annotations

import numpy as np
from gymnasium.envs.registration import EnvSpec
from gymnasium.spaces import Space
from gymnasium.vector import AutoresetMode

__all__ = ["snapshot", "restore", "supported", "objects"]

_SAFE_MODULES = ("gymnasium.envs.classic_control.", "gymnasium.envs.toy_text.",
                 "gymnasium.wrappers.common", "gymnasium.vector.sync_vector_env", "npg.envs.")
_SKIP = frozenset({"env", "envs", "env_fns", "spec", "metadata", "_saved_kwargs", "render_mode"})
_ARRAY_KINDS = "biuf"
# classes with the very same state as another (npg's compiled CartPole subclass adds only a
# step): a checkpoint written with either restores into the other
_SAME_STATE = {"npg.envs.cartpole_vector.CartPoleVectorEnv":
               "gymnasium.envs.classic_control.cartpole.CartPoleVectorEnv"}
_SAME_STATE.update({v: k for k, v in _SAME_STATE.items()})


def objects(envs) -> list:
    """The objects holding the environments' state, in a fixed order: the vector env and its
    wrappers, then for each sub-env of a ``SyncVectorEnv`` its wrappers down to the bare env."""
    out = list(_chain(envs))
    for sub in getattr(out[-1], "envs", None) or ():
        out.extend(_chain(sub))
    return out


def _chain(obj):
    while obj is not None:
        yield obj
        obj = getattr(obj, "env", None) if not hasattr(obj, "envs") else None


def _class_name(obj) -> str:
    return f"{type(obj).__module__}.{type(obj).__qualname__}"


def supported(envs) -> str | None:
    """None when ``snapshot`` captures the whole state of ``envs``; else the reason why not."""
    for obj in objects(envs):
        name = _class_name(obj)
        if not name.startswith(_SAFE_MODULES):
            return (f"{type(obj).__qualname__} (from {type(obj).__module__}) may hold state that "
                    f"is not plain data")
        if getattr(obj, "render_mode", None) is not None:
            return f"{type(obj).__qualname__} renders (render_mode={obj.render_mode!r})"
    return None


def _encode_scalar(value):
    """A JSON-able description of a number, bool or None, or None if ``value`` is not one."""
    if value is None or isinstance(value, bool):
        return {"value": value}
    if isinstance(value, np.generic) and value.dtype.kind in _ARRAY_KINDS:
        return {"numpy": value.dtype.name, "value": value.item()}
    if type(value) in (int, float):
        return {"value": value}
    return None


def _encode(value, key, arrays):
    """A JSON-able description of ``value`` (arrays go to ``arrays[key]``); None for a value of
    a kind that holds construction constants only (strings, spaces, dicts, lists, byte maps);
    TypeError for anything else, so that unknown state is never dropped silently."""
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in _ARRAY_KINDS:
            return None                                   # FrozenLake's map desc: bytes
        arrays[key] = value.copy()
        return {"array": key}
    if isinstance(value, np.random.Generator):
        return {"generator": value.bit_generator.state}
    enc = _encode_scalar(value)
    if enc is not None:
        return enc
    if isinstance(value, tuple) and value and all(isinstance(v, np.random.Generator)
                                                  for v in value):
        return {"generators": [v.bit_generator.state for v in value]}     # one per copy
    if isinstance(value, tuple):
        items = [_encode_scalar(v) for v in value]
        if all(e is not None for e in items):
            return {"tuple": items}
        if all(isinstance(v, (int, float, str)) for v in value):
            return None                                   # window sizes, reward ranges
    if isinstance(value, (str, bytes, dict, list, Space, EnvSpec, AutoresetMode)):
        return None
    raise TypeError(f"cannot save attribute {key.split('/', 1)[1]!r} of type "
                    f"{type(value).__name__} as data")


def snapshot(envs) -> tuple[dict, dict[str, np.ndarray]]:
    """``(scalars, arrays)``: the state of every object of ``objects(envs)``; ValueError when
    ``supported(envs)`` gives a reason."""
    reason = supported(envs)
    if reason is not None:
        raise ValueError(f"envs: cannot save this environment's state: {reason}")
    arrays: dict[str, np.ndarray] = {}
    records = []
    for i, obj in enumerate(objects(envs)):
        attrs = {}
        for name, value in sorted(vars(obj).items()):
            if name in _SKIP:
                continue
            enc = _encode(value, f"{i}/{name}", arrays)
            if enc is not None:
                attrs[name] = enc
        records.append({"class": _class_name(obj), "attrs": attrs})
    return {"objects": records}, arrays


def _decode(name, enc, current, arrays):
    """The value described by ``enc`` for attribute ``name`` whose fresh value is ``current``;
    ValueError unless it is of the same kind."""
    if not isinstance(enc, dict):
        raise ValueError(f"env state: attribute {name!r} must be described by a dict")
    if "array" in enc:
        a = arrays.get(enc["array"])
        if not isinstance(a, np.ndarray) or not isinstance(current, np.ndarray) \
                or a.dtype.kind != current.dtype.kind or a.shape != current.shape:
            raise ValueError(f"env state: attribute {name!r} must be an array of the fresh "
                             f"environment's kind and shape ({_describe(current)}); got "
                             f"{_describe(a)}")
        return a.copy()
    if "generator" in enc:
        if not isinstance(current, np.random.Generator):
            raise ValueError(f"env state: attribute {name!r} is not a Generator here")
        g = np.random.Generator(type(current.bit_generator)())
        try:
            g.bit_generator.state = enc["generator"]
        except (TypeError, ValueError, KeyError) as err:
            raise ValueError(f"env state: attribute {name!r} has an invalid generator state "
                             f"({err})") from None
        return g
    if "generators" in enc:
        states = enc["generators"]
        if not (isinstance(current, tuple) and isinstance(states, list)
                and len(states) == len(current)):
            raise ValueError(f"env state: attribute {name!r} must be a tuple of "
                             f"{len(current) if isinstance(current, tuple) else 0} generators")
        return tuple(_decode(name, {"generator": st}, g, arrays)
                     for st, g in zip(states, current))
    if "numpy" in enc:
        if enc["numpy"] not in ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16",
                                "uint32", "uint64", "float16", "float32", "float64"):
            raise ValueError(f"env state: attribute {name!r} has dtype {enc['numpy']!r}")
        return np.dtype(enc["numpy"]).type(enc["value"])
    if "tuple" in enc:
        items = enc["tuple"]
        if not isinstance(items, list) or any(isinstance(e, dict) and not
                                               ({"numpy", "value"} >= set(e)) for e in items):
            raise ValueError(f"env state: attribute {name!r} must be a tuple of numbers")
        return tuple(_decode(name, e, None, arrays) for e in items)
    if "value" in enc:
        v = enc["value"]
        if v is not None and type(v) not in (bool, int, float):
            raise ValueError(f"env state: attribute {name!r} must be a number, bool or None")
        return v
    raise ValueError(f"env state: attribute {name!r} has an unknown description {sorted(enc)}")


def _describe(a) -> str:
    if isinstance(a, np.ndarray):
        return f"{a.dtype} array of shape {a.shape}"
    return type(a).__name__


def restore(envs, scalars: dict, arrays: dict) -> None:
    """Set the state ``snapshot`` returned on ``envs`` (a fresh copy of the same environments,
    reset); ValueError naming the object and attribute when anything does not match."""
    reason = supported(envs)
    if reason is not None:
        raise ValueError(f"envs: cannot restore this environment's state: {reason}")
    objs = objects(envs)
    records = scalars.get("objects") if isinstance(scalars, dict) else None
    if not isinstance(records, list) or len(records) != len(objs):
        raise ValueError(f"env state must describe {len(objs)} objects (the vector env, its "
                         f"sub-envs and wrappers); got "
                         f"{len(records) if isinstance(records, list) else records!r}")
    planned = []
    for obj, rec in zip(objs, records):
        name = _class_name(obj)
        if not isinstance(rec, dict) or rec.get("class") not in (name, _SAME_STATE.get(name)):
            got = rec.get("class") if isinstance(rec, dict) else rec
            raise ValueError(f"env state: expected an object of class {_class_name(obj)}; the "
                             f"checkpoint has {got!r}")
        for name, enc in (rec.get("attrs") or {}).items():
            if name in _SKIP or not hasattr(obj, name) or name not in vars(obj):
                raise ValueError(f"env state: {type(obj).__qualname__} has no attribute "
                                 f"{name!r} to restore")
            planned.append((obj, name, _decode(name, enc, vars(obj)[name], arrays)))
    for obj, name, value in planned:          # nothing is set unless everything checked out
        setattr(obj, name, value)
