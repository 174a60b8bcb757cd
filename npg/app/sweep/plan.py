"""A sweep's plan: configs (a grid and/or random draws of config fields) times seeds.

    plan = make_plan("CartPole-v1", "ppo", steps=5_000, grid={"lr": [1e-3, 3e-4]}, seeds=10)
    plan = plan_from_args(["lr=1e-3,3e-4"], seeds="10", ...)          # CLI strings
    plan = plan_from_toml("plan.toml")                                 # a TOML file

A plan is plain data (``Plan.to_json`` / ``Plan.from_json``): the environment, algorithm,
steps, fixed config overrides (``base``), the list of configs (each a dict of the swept fields,
in a fixed order: the grid's Cartesian product in the order the fields were given, then the
random draws), and the seeds. Jobs are ``configs x seeds``; job ``c003-s7`` is config 3 with
seed 7. Config keys are checked against the algorithm's config fields when the plan is made
(an unknown key is a ValueError listing the fields); the values are checked by the job itself,
so a bad value fails that job only (recorded with its error) and the others run.

Random draws (``random={"lr": Dist("loguniform", 1e-4, 1e-2)}, draws=8, plan_seed=0``) come
from ``numpy.random.default_rng(plan_seed)``, field by field in sorted name order, so a plan is
reproducible from its arguments.
"""

from __future__ import annotations

import ast
import itertools
import json
import math
from dataclasses import dataclass, field, asdict
from typing import Any

import numpy as np

__all__ = ["Plan", "Dist", "make_plan", "parse_grid", "parse_dist", "parse_seeds",
           "check_config_keys", "job_id", "DIST_KINDS"]

DIST_KINDS = ("uniform", "loguniform", "int", "choice")
_LITERALS = {"true": True, "false": False, "none": None, "null": None}


@dataclass(frozen=True)
class Dist:
    """A distribution of one config field: ``uniform(low, high)``, ``loguniform(low, high)``
    (log x uniform), ``int(low, high)`` (integers low..high inclusive), ``choice(values)``."""
    kind: str
    low: float | None = None
    high: float | None = None
    values: tuple = ()

    def __post_init__(self):
        if self.kind not in DIST_KINDS:
            raise ValueError(f"distribution kind must be one of {DIST_KINDS}; got {self.kind!r}")
        if self.kind == "choice":
            if not self.values:
                raise ValueError("a choice distribution needs at least one value")
            return
        for name in ("low", "high"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise ValueError(f"{self.kind} distribution: {name} must be a finite number; "
                                 f"got {v!r}")
        if not self.low < self.high:
            raise ValueError(f"{self.kind} distribution needs low < high; got {self.low}, "
                             f"{self.high}")
        if self.kind == "loguniform" and self.low <= 0:
            raise ValueError(f"loguniform distribution needs low > 0; got {self.low}")
        if self.kind == "int" and (self.low != int(self.low) or self.high != int(self.high)):
            raise ValueError(f"int distribution needs integer bounds; got {self.low}, {self.high}")

    def draw(self, rng: np.random.Generator):
        if self.kind == "uniform":
            return float(rng.uniform(self.low, self.high))
        if self.kind == "loguniform":
            return float(math.exp(rng.uniform(math.log(self.low), math.log(self.high))))
        if self.kind == "int":
            return int(rng.integers(int(self.low), int(self.high) + 1))
        return self.values[int(rng.integers(len(self.values)))]

    def to_json(self) -> dict:
        return {"kind": self.kind, "low": self.low, "high": self.high,
                "values": [list(v) if isinstance(v, tuple) else v for v in self.values]}


def _split_top(text: str) -> list[str]:
    """Split on commas that are not inside (), [] or quotes: "(8,),(16,16)" -> 2 items."""
    items, depth, quote, cur = [], 0, None, []
    for ch in text:
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            items.append("".join(cur).strip())
            cur = []
            continue
        cur.append(ch)
    items.append("".join(cur).strip())
    return items


def _literal(text: str):
    """A value as ``npg train --set`` reads it: true/false/none, a Python literal, or a str."""
    if text.lower() in _LITERALS:
        return _LITERALS[text.lower()]
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _key_value(item: str, option: str) -> tuple[str, str]:
    key, sep, text = item.partition("=")
    key, text = key.strip(), text.strip()
    if not sep or not key or not text:
        raise ValueError(f"{option} expects key=value[,value...]; got {item!r}")
    return key, text


def parse_grid(items) -> dict[str, list]:
    """``["lr=1e-3,3e-4", "hidden=(8,),(16,16)"]`` -> ``{"lr": [0.001, 0.0003], "hidden":
    [(8,), (16, 16)]}``. A key given twice, or a value list with duplicates, is a ValueError."""
    grid: dict[str, list] = {}
    for item in items or ():
        key, text = _key_value(item, "--grid")
        if key in grid:
            raise ValueError(f"--grid: field {key!r} given twice")
        values = [_literal(t) for t in _split_top(text)]
        if any(t == "" for t in _split_top(text)):
            raise ValueError(f"--grid: empty value in {item!r}")
        same = lambda a, b: a == b and isinstance(a, bool) == isinstance(b, bool)
        if any(same(a, b) for i, a in enumerate(values) for b in values[i + 1:]):
            raise ValueError(f"--grid: field {key!r} lists a value twice: {values}")
        grid[key] = values
    return grid


def parse_dist(item: str) -> tuple[str, Dist]:
    """``"lr=loguniform:1e-4:1e-2"``, ``"n_epochs=int:5:20"``, ``"ent_coef=uniform:0:0.01"``,
    ``"batch_size=choice:64,128"`` -> ``(key, Dist)``."""
    key, text = _key_value(item, "--random/--search")
    kind, _, rest = text.partition(":")
    kind = kind.strip()
    if kind == "choice":
        return key, Dist("choice", values=tuple(_literal(t) for t in _split_top(rest)))
    parts = rest.split(":")
    if kind not in DIST_KINDS or len(parts) != 2:
        raise ValueError(f"{item!r}: expected key=KIND:LOW:HIGH (KIND uniform, loguniform, int) "
                         f"or key=choice:V1,V2,...")
    try:
        low, high = float(parts[0]), float(parts[1])
    except ValueError:
        raise ValueError(f"{item!r}: bounds must be numbers") from None
    return key, Dist(kind, low, high)


def parse_seeds(seeds) -> list[int]:
    """An int n (seeds 0..n-1), a string "10" or "0,3,5", or a list of non-negative ints
    without duplicates."""
    if isinstance(seeds, str):
        parts = [p.strip() for p in seeds.split(",") if p.strip()]
        try:
            nums = [int(p) for p in parts]
        except ValueError:
            raise ValueError(f"seeds must be a count or a comma-separated list of ints; got "
                             f"{seeds!r}") from None
        seeds = nums[0] if len(nums) == 1 and "," not in seeds else nums
    if isinstance(seeds, (int, np.integer)) and not isinstance(seeds, bool):
        if seeds < 1:
            raise ValueError(f"seeds: the number of seeds must be >= 1; got {seeds}")
        return list(range(int(seeds)))
    if not isinstance(seeds, (list, tuple)) or not seeds:
        raise ValueError(f"seeds must be a positive count or a non-empty list; got {seeds!r}")
    for s in seeds:
        if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 0:
            raise ValueError(f"seeds must be non-negative ints; got {s!r}")
    dup = sorted({int(s) for s in seeds if list(seeds).count(s) > 1})
    if dup:
        raise ValueError(f"seeds lists {dup} more than once; each seed must be unique")
    return [int(s) for s in seeds]


def check_config_keys(algo: str, keys, where: str = "grid") -> None:
    """ValueError naming unknown config fields of algorithm ``algo``."""
    from dataclasses import fields
    from ...algos import get_algorithm
    names = {f.name for f in fields(get_algorithm(algo).config_class)}
    unknown = sorted(set(keys) - names)
    if unknown:
        raise ValueError(f"{where}: unknown config field(s) {unknown} for {algo}; its fields are "
                         f"{sorted(names)}")


def job_id(config_index: int, seed: int) -> str:
    return f"c{config_index:03d}-s{seed}"


def _tuples(v):
    """JSON lists back to the tuples a config holds (``hidden = (8,)``)."""
    return tuple(_tuples(x) for x in v) if isinstance(v, list) else v


def _jsonable(v):
    if isinstance(v, tuple):
        return [_jsonable(x) for x in v]
    if isinstance(v, float) and not math.isfinite(v):
        raise ValueError(f"config values must be finite; got {v}")
    return v


@dataclass
class Plan:
    """configs x seeds of one algorithm on one environment; see the module docstring."""
    env: str
    algo: str
    steps: int
    configs: list[dict]
    seeds: list[int]
    base: dict = field(default_factory=dict)
    eval_episodes: int = 10
    agent_kwargs: dict = field(default_factory=dict)

    def jobs(self) -> list[dict]:
        """One spec (plain data) per job, config-major."""
        out = []
        for i, cfg in enumerate(self.configs):
            for s in self.seeds:
                out.append({"id": job_id(i, s), "config_index": i, "env": self.env,
                            "algo": self.algo, "config": {**self.base, **cfg}, "seed": s,
                            "steps": self.steps, "eval_episodes": self.eval_episodes,
                            "agent_kwargs": dict(self.agent_kwargs)})
        return out

    def to_json(self) -> dict:
        d = asdict(self)
        d["configs"] = [{k: _jsonable(v) for k, v in c.items()} for c in self.configs]
        d["base"] = {k: _jsonable(v) for k, v in self.base.items()}
        return {"format": 1, **d}

    @classmethod
    def from_json(cls, d: dict) -> "Plan":
        if not isinstance(d, dict) or d.get("format") != 1:
            raise ValueError("plan.json: not an npg sweep plan (format 1)")
        d = {k: v for k, v in d.items() if k != "format"}
        d["configs"] = [{k: _tuples(v) for k, v in c.items()} for c in d.get("configs", [])]
        d["base"] = {k: _tuples(v) for k, v in d.get("base", {}).items()}
        return cls(**d)

    def same_as(self, other: "Plan") -> bool:
        return json.dumps(self.to_json(), sort_keys=True) == \
            json.dumps(other.to_json(), sort_keys=True)


def make_plan(env: str, algo: str, steps: int, grid: dict | None = None,
              seeds=5, random: dict | None = None, draws: int = 0, plan_seed: int = 0,
              base: dict | None = None, eval_episodes: int = 10,
              agent_kwargs: dict | None = None) -> Plan:
    """A checked ``Plan``: the grid's product (fields in the order given), then ``draws``
    random configs from ``random`` ({field: Dist}); with neither, one config (``base``)."""
    from ...checks import check_positive_int
    if not isinstance(env, str) or not env:
        raise TypeError(f"env must be an environment id (str); got {env!r}")
    steps = check_positive_int("steps", steps)
    if grid is not None and len(grid) == 0:
        raise ValueError("grid is empty; give at least one field with values (or None for a "
                         "single config)")
    grid, random, base = dict(grid or {}), dict(random or {}), dict(base or {})
    for key, values in grid.items():
        if not isinstance(values, (list, tuple)) or len(values) == 0:
            raise ValueError(f"grid: field {key!r} has no values; give at least one")
    if not isinstance(draws, (int, np.integer)) or isinstance(draws, bool) or draws < 0:
        raise ValueError(f"draws must be a non-negative int; got {draws!r}")
    if random and draws == 0:
        raise ValueError("random fields given but draws = 0; pass the number of draws")
    if draws and not random:
        raise ValueError("draws > 0 needs at least one random field")
    check_config_keys(algo, list(grid) + list(random) + list(base),
                      "grid" if grid else ("random" if random else "base"))
    both = sorted(set(grid) & set(random))
    if both:
        raise ValueError(f"fields {both} are both in the grid and drawn at random")
    configs = [dict(zip(grid, combo)) for combo in itertools.product(*grid.values())] \
        if grid else []
    rng = np.random.default_rng(plan_seed)
    for _ in range(draws):
        configs.append({k: random[k].draw(rng) for k in sorted(random)})
    if not configs:
        configs = [{}]
    seeds = parse_seeds(seeds)
    if not isinstance(eval_episodes, int) or isinstance(eval_episodes, bool) or eval_episodes < 0:
        raise ValueError(f"eval_episodes must be a non-negative int; got {eval_episodes!r}")
    return Plan(env, algo, steps, configs, seeds, base, eval_episodes, dict(agent_kwargs or {}))
