"""Compiling a sweep's kernels once, in this process, before its workers start.

Numba's on-disk cache is not safe for several processes compiling into it at once
(numba/numba#4807 and #10128, both open): two processes that add different signatures of one
function at the same moment can leave an index entry that points at the other signature's
machine code, and every later process that loads it crashes (a segmentation fault). A sweep
on a cold cache starts that race: every worker compiles the same kernels in its first
seconds. So before submitting any job, ``warm`` trains one rollout of each distinct kernel
configuration among the jobs, and predicts once deterministically, in this process, one after
the other, which compiles (or, on a warm cache, only loads) what the workers will run; the
workers then only load from the cache, which is safe.

Which jobs share kernels: those that agree on the environment, the algorithm, the agent
options and every configuration field that is not a real number (learning rates, discounts
and coefficients change values, never the compiled types; sizes, flags, choices, the dtype and
layer counts may). One representative of each group is warmed.
"""

from __future__ import annotations

import json

__all__ = ["kernel_groups", "warm"]


def _group_key(spec: dict) -> str:
    config = {k: v for k, v in spec["config"].items() if not isinstance(v, float)}
    kw = spec.get("agent_kwargs", {})
    return json.dumps([spec["env"], spec["algo"], config, kw], sort_keys=True, default=repr)


def kernel_groups(specs: list[dict]) -> list[dict]:
    """One job spec per group of jobs that compile the same kernels (module docstring), in the
    order of their first job."""
    seen: dict[str, dict] = {}
    for spec in specs:
        seen.setdefault(_group_key(spec), spec)
    return list(seen.values())


def warm(specs: list[dict], log=None) -> int:
    """Train one rollout (and predict once) of each of ``kernel_groups(specs)`` in this
    process; returns the number of groups. Nothing is written to any job's directory."""
    groups = kernel_groups(specs)
    for spec in groups:
        try:
            _warm_one(spec)
        except Exception as err:      # the job itself will fail, and be recorded, in its worker
            if log is not None:
                print(f"warm: {spec['id']} failed ({type(err).__name__}: {err}); its workers "
                      f"compile for themselves", file=log, flush=True)
    return len(groups)


def _warm_one(spec: dict) -> None:
    from ..agent import Agent
    kw = spec.get("agent_kwargs", {})
    agent = Agent(spec["env"], spec["algo"], spec["config"], spec["seed"],
                  kw.get("vectorization", "auto"), kw.get("normalize_obs", False),
                  kw.get("scale_reward", False), kw.get("env_kwargs"))
    try:
        agent.learn(1, progress=False)                   # one rollout and one update
        agent.predict(agent.envs.observation_space.sample(), deterministic=True)
    finally:
        agent.close()
