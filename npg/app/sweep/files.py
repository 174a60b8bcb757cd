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

A preset file (``write_preset``, ``load_preset``), the format ``npg train --config FILE``
reads (``npg.app.presets.load_config_file``)::

    # npg preset: npg sweep --search, trial 4, value 149
    #   npg train CartPole-v1 --algo ppo --steps 20000 --config best.toml
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


def load_preset(path, algo: str | None = None) -> dict:
    """A preset file -> ``{"config": {field: value}, "normalize_obs": ..., "scale_reward":
    ...}`` (the flags only where the file sets them), read exactly as ``npg train --config``
    reads it (``npg.app.presets.load_config_file``); with ``algo``, the config keys are checked
    against its fields (ValueError listing them)."""
    from ..presets import load_config_file
    out = load_config_file(path)
    if algo is not None:
        from .plan import check_config_keys
        check_config_keys(algo, out["config"], f"{os.fspath(path)} [config]")
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
                 source: str | None = None, steps: int | None = None,
                 normalize_obs: bool | None = None, scale_reward: bool | None = None) -> str:
    """Write a preset that ``npg train --config`` (and ``load_preset``) reads back to
    ``config``: the flags, then a ``[config]`` table; where it came from and the command that
    trains it are comments. TOML has no null, so a field set to None cannot be in the table:
    it is listed in a comment with the ``--set KEY=None`` that restores it."""
    lines = ["# npg preset" + (f": {source}" if source else "")]
    if env or algo or steps:
        cmd = "npg train" + (f" {env}" if env else "") + (f" --algo {algo}" if algo else "") \
            + (f" --steps {steps}" if steps else "") + f" --config {os.fspath(path)}"
        none = [k for k, v in config.items() if v is None]
        lines.append(f"#   {cmd}" + "".join(f" --set {k}=None" for k in none))
    for k in (k for k, v in config.items() if v is None):
        lines.append(f"# {k} = None (TOML has no null: --set {k}=None)")
    top = {k: v for k, v in (("normalize_obs", normalize_obs), ("scale_reward", scale_reward))
           if v is not None}
    text = "\n".join(lines) + "\n" + dumps_toml(
        top, {"config": {k: v for k, v in config.items() if v is not None}})
    tmp = f"{os.fspath(path)}.tmp-{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)
    return os.fspath(path)
