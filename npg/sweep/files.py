"""TOML files of sweeps: a plan file, and the preset file that ``npg train --config`` reads.

A plan file::

    env = "CartPole-v1"
    algo = "ppo"
    steps = 20000
    seeds = 10                    # or a list: [0, 1, 2]
    eval_episodes = 10
    [base]                        # fixed overrides of every job
    n_envs = 2
    [grid]                        # the Cartesian product of these
    lr = [1e-3, 3e-4]
    hidden = [[8], [16, 16]]
    [random]                      # random draws (optional)
    draws = 8
    plan_seed = 0
    ent_coef = { kind = "uniform", low = 0.0, high = 0.01 }

A preset file (``write_preset``, ``load_preset``)::

    env = "CartPole-v1"
    algo = "ppo"
    none = ["target_kl"]          # fields set to None (TOML has no null)
    [config]
    lr = 0.00069
    hidden = [16, 16]             # lists are read back as tuples

TOML is read with the standard library's ``tomllib`` (Python >= 3.11) or ``tomli`` (its
backport) on 3.10; it is written by ``_dumps`` below, which covers exactly the values a config
holds (bool, int, finite float, str, lists of them).
"""

from __future__ import annotations

import json
import math
import os

from .plan import Dist, Plan, make_plan

__all__ = ["read_toml", "plan_from_toml", "load_preset", "write_preset", "dumps_toml"]

_PRESET_KEYS = {"env", "algo", "steps", "none", "config", "env_kwargs", "normalize_obs",
                "scale_reward", "source"}
_PLAN_KEYS = {"env", "algo", "steps", "seeds", "eval_episodes", "base", "grid", "random",
              "agent_kwargs"}


def read_toml(path) -> dict:
    try:
        import tomllib
    except ModuleNotFoundError:                 # Python 3.10
        try:
            import tomli as tomllib
        except ModuleNotFoundError:
            raise ImportError("reading TOML on Python 3.10 needs tomli: pip install tomli") \
                from None
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a path; got {type(path).__name__}")
    with open(path, "rb") as f:
        try:
            return tomllib.load(f)
        except tomllib.TOMLDecodeError as err:
            raise ValueError(f"{os.fspath(path)}: invalid TOML: {err}") from None


def _tuples(v):
    return tuple(_tuples(x) for x in v) if isinstance(v, list) else v


def _table(d, name: str, path) -> dict:
    if not isinstance(d, dict):
        raise ValueError(f"{path}: [{name}] must be a table; got {type(d).__name__}")
    return d


def plan_from_toml(path) -> Plan:
    """The ``Plan`` of a plan file (module docstring); unknown top-level keys are an error."""
    d = read_toml(path)
    unknown = sorted(set(d) - _PLAN_KEYS)
    if unknown:
        raise ValueError(f"{path}: unknown keys {unknown}; a plan file has {sorted(_PLAN_KEYS)}")
    for key in ("env", "algo", "steps"):
        if key not in d:
            raise ValueError(f"{path}: the plan needs {key!r}")
    grid = d.get("grid")
    if grid is not None:
        grid = {k: [_tuples(x) for x in v] if isinstance(v, list) else v
                for k, v in _table(grid, "grid", path).items()}
    rand = dict(_table(d.get("random", {}), "random", path))
    draws, plan_seed = rand.pop("draws", 0), rand.pop("plan_seed", 0)
    random = {}
    for k, spec in rand.items():
        if not isinstance(spec, dict) or "kind" not in spec:
            raise ValueError(f"{path}: [random] {k} must be a table with kind (and low/high or "
                             f"values)")
        random[k] = Dist(spec["kind"], spec.get("low"), spec.get("high"),
                         tuple(_tuples(x) for x in spec.get("values", ())))
    base = {k: _tuples(v) for k, v in _table(d.get("base", {}), "base", path).items()}
    return make_plan(d["env"], d["algo"], d["steps"], grid, d.get("seeds", 5), random, draws,
                     plan_seed, base, d.get("eval_episodes", 10), d.get("agent_kwargs"))


def load_preset(path) -> dict:
    """A preset file -> ``{"config": {field: value}, "env": ..., "algo": ..., ...}``.

    ``config`` holds the config field overrides (lists become tuples; the fields named in
    ``none`` are None); the other keys (env, algo, steps, env_kwargs, normalize_obs,
    scale_reward) are present only where the file sets them. The config keys are checked
    against the algorithm's fields when ``algo`` is given (ValueError listing them)."""
    d = read_toml(path)
    unknown = sorted(set(d) - _PRESET_KEYS)
    if unknown:
        raise ValueError(f"{path}: unknown keys {unknown}; a preset has {sorted(_PRESET_KEYS)}")
    config = {k: _tuples(v) for k, v in _table(d.get("config", {}), "config", path).items()}
    none = d.get("none", [])
    if not isinstance(none, list) or not all(isinstance(k, str) for k in none):
        raise ValueError(f"{path}: none must be a list of field names")
    config.update({k: None for k in none})
    out = {k: d[k] for k in ("env", "algo", "steps", "normalize_obs", "scale_reward") if k in d}
    if "env_kwargs" in d:
        out["env_kwargs"] = dict(_table(d["env_kwargs"], "env_kwargs", path))
    for key, typ in (("env", str), ("algo", str), ("steps", int), ("normalize_obs", bool),
                     ("scale_reward", bool)):
        if key in out and (not isinstance(out[key], typ) or
                           (typ is int and isinstance(out[key], bool))):
            raise ValueError(f"{path}: {key} must be a {typ.__name__}; got {out[key]!r}")
    if "algo" in out:
        from .plan import check_config_keys
        check_config_keys(out["algo"], config, f"{path} [config]")
    out["config"] = config
    return out


def _value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            raise ValueError(f"TOML value must be finite; got {v}")
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)        # a JSON string is a valid TOML basic string
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {type(v).__name__} {v!r} to TOML (bool, int, float, str, "
                    f"lists)")


def _key(k: str) -> str:
    ok = k and all(c.isalnum() or c in "_-" for c in k)
    return k if ok else json.dumps(k)


def dumps_toml(top: dict, tables: dict[str, dict]) -> str:
    """``top`` as key = value lines, then one ``[name]`` table per entry of ``tables``."""
    lines = [f"{_key(k)} = {_value(v)}" for k, v in top.items()]
    for name, table in tables.items():
        lines += ["", f"[{_key(name)}]"] + [f"{_key(k)} = {_value(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


def write_preset(path, config: dict, env: str | None = None, algo: str | None = None,
                 source: str | None = None, **extra) -> str:
    """Write a preset file that ``load_preset`` reads back to ``config`` (None values go to
    the ``none`` list). ``extra``: steps, normalize_obs, scale_reward, env_kwargs."""
    top = {k: v for k, v in (("source", source), ("env", env), ("algo", algo)) if v is not None}
    bad = sorted(set(extra) - {"steps", "normalize_obs", "scale_reward", "env_kwargs"})
    if bad:
        raise TypeError(f"write_preset: unexpected keyword(s) {bad}")
    env_kwargs = extra.pop("env_kwargs", None)
    top.update(extra)
    none = sorted(k for k, v in config.items() if v is None)
    if none:
        top["none"] = none
    tables = {"config": {k: v for k, v in config.items() if v is not None}}
    if env_kwargs:
        tables["env_kwargs"] = dict(env_kwargs)
    text = "# npg preset: npg train --config FILE\n" + dumps_toml(top, tables)
    tmp = f"{os.fspath(path)}.tmp-{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)
    return os.fspath(path)
