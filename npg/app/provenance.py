"""What produced a run: ``run.json`` in the run directory.

    {"npg_run": 1, "algo": "ppo", "env_id": "CartPole-v1", "seed": 0,
     "config": {...resolved...}, "normalize_obs": false, "scale_reward": false,
     "origin": {"preset": "...", "source": "...", "config_file": null, "overrides": {...}},
     "sessions": [{"start": "2026-12-01T21:50:53+00:00", "end": "...", "argv": [...],
                   "env_steps": [0, 50176], "interrupted": false,
                   "versions": {"npg": ..., "python": ..., "numpy": ..., ...}}]}

Every ``learn`` call into a run directory appends a session (resumes included), so the file
says which command lines, package versions and times made each stretch of the run. It is
written atomically (a temporary file renamed over it) and is provenance only: loading an agent
never reads it (``npg.app.checkpoint`` holds what is loaded).
"""

from __future__ import annotations

import json
import os
import platform
import sys
from dataclasses import asdict
from datetime import datetime, timezone
from importlib import metadata

from .run_dir import open_for_write

__all__ = ["RUN_FILE", "versions", "start_session", "end_session", "read_run"]

RUN_FILE = "run.json"
_PACKAGES = ("numpy", "numba", "gymnasium", "tqdm", "matplotlib", "cupy-cuda12x", "ray",
             "optuna", "tensorboardX", "box2d")


def versions() -> dict:
    """npg's, Python's and the installed dependencies' and extras' versions."""
    from ..version import VERSION as __version__
    out = {"npg": __version__, "python": platform.python_version(),
           "platform": platform.platform()}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def read_run(run_dir) -> dict | None:
    """The run's ``run.json`` as a dict, or None if there is none."""
    path = os.path.join(os.fspath(run_dir), RUN_FILE)
    if not os.path.exists(path) or os.path.islink(path):
        return None
    with open(path) as f:
        return json.load(f)


def _write(run_dir, record: dict) -> None:
    path = os.path.join(os.fspath(run_dir), RUN_FILE)
    tmp = f"{path}.tmp-{os.getpid()}"
    with open_for_write(tmp) as f:
        f.write(json.dumps(record, indent=1, default=str).encode())
    os.replace(tmp, path)


def start_session(agent, run_dir) -> None:
    """Append a new session (start time, command line, versions) to ``run_dir/run.json``."""
    record = read_run(run_dir) or {"npg_run": 1, "created": _now()}
    record.update(algo=agent.algo_name, env_id=agent.env_id, seed=agent.seed,
                  config=asdict(agent.config), normalize_obs=agent.normalize_obs,
                  scale_reward=agent.scale_reward)
    if getattr(agent, "origin", None) is not None:
        record["origin"] = agent.origin
    record.setdefault("sessions", []).append(
        {"start": _now(), "end": None, "argv": list(sys.argv),
         "env_steps": [agent.env_steps, None], "interrupted": None, "versions": versions()})
    _write(run_dir, record)


def end_session(agent, run_dir, interrupted: bool) -> None:
    """Close the last session of ``run_dir/run.json`` (end time, steps reached)."""
    record = read_run(run_dir)
    if not record or not record.get("sessions"):
        return
    last = record["sessions"][-1]
    last.update(end=_now(), interrupted=bool(interrupted))
    last["env_steps"][1] = agent.env_steps
    _write(run_dir, record)
