"""One sweep job: a normal run directory trained, saved and evaluated, wherever it runs.

``execute(task)`` is the one function the backends call (in a pool worker, a Ray worker or this
process). A task is plain data::

    {"spec": <the job's spec, Plan.jobs()>, "dir": <the job's run directory>,
     "upto": <train until env_steps >= upto; None: the spec's steps>,
     "ship": <None: work in "dir" (a shared filesystem); else the bytes of the run directory
              so far (b"" for none): work in a temporary directory and send it back>}

and it returns ``{"status": "done" | "running" | "failed", "id", "env_steps", "final_return",
"train_return", "error", "files"}`` (``files``: the run directory as tar bytes when shipped).

The run directory is the one ``npg train`` writes (``Agent.learn(log_dir=...)`` and
``Agent.save``) plus ``job.json`` (the spec) and, once finished, ``done.json`` (the result);
a failure writes ``error.json`` (type, message, traceback) instead of raising, so a sweep
records it and goes on. A job trained in segments (``upto``, used by the Optuna search for
pruning) continues from its checkpoint with ``Agent.load``, which is exact
(docs/checkpoints.md), and the schedules run over the spec's full ``steps``: the segments add
up to the same run, bit for bit, as one uninterrupted ``learn``.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tarfile
import tempfile
import traceback

__all__ = ["execute", "read_result", "pack_dir", "unpack_dir", "DONE_FILE", "ERROR_FILE",
           "JOB_FILE", "is_done", "record_failure"]

DONE_FILE, ERROR_FILE, JOB_FILE = "done.json", "error.json", "job.json"
_WINDOW = 20                  # training episodes averaged into train_return


def _write_json(path: str, obj) -> None:
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=1, sort_keys=True)
    os.replace(tmp, path)


def read_result(job_dir: str) -> dict | None:
    """The job's ``done.json`` or ``error.json`` content (with its status), or None."""
    for name, status in ((DONE_FILE, "done"), (ERROR_FILE, "failed")):
        path = os.path.join(job_dir, name)
        if os.path.isfile(path):
            with open(path) as f:
                return {"status": status, **json.load(f)}
    return None


def is_done(job_dir: str, spec: dict) -> bool:
    """Whether ``job_dir`` holds this spec's finished run (its done.json and the same job.json)."""
    res = read_result(job_dir)
    if res is None or res["status"] != "done":
        return False
    try:
        with open(os.path.join(job_dir, JOB_FILE)) as f:
            return json.load(f) == json.loads(json.dumps(spec))
    except (OSError, ValueError):
        return False


def pack_dir(path: str) -> bytes:
    """The files of run directory ``path`` (without its lock) as tar bytes."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name in sorted(os.listdir(path)):
            if name != ".lock":
                tar.add(os.path.join(path, name), arcname=name)
    return buf.getvalue()


def unpack_dir(data: bytes, path: str) -> None:
    """Replace the contents of ``path`` (created) by the tar bytes ``data`` (tarfile's "data"
    filter: no absolute paths, links out of the directory or device files)."""
    os.makedirs(path, exist_ok=True)
    for name in os.listdir(path):
        full = os.path.join(path, name)
        if name == ".lock":
            continue
        if os.path.isdir(full) and not os.path.islink(full):
            shutil.rmtree(full)
        else:
            os.unlink(full)
    if data:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r") as tar:
            tar.extractall(path, filter="data")


def _train(spec: dict, job_dir: str, upto: int) -> dict:
    """Train the job's agent in ``job_dir`` until ``upto`` env steps; save; evaluate at the end."""
    from ..agent import Agent
    from ..run_dir import prepare
    steps = int(spec["steps"])
    fresh = not any(n.startswith("ckpt-") for n in os.listdir(job_dir)) \
        if os.path.isdir(job_dir) else True
    if fresh:
        prepare(job_dir, force=True)
        for name in os.listdir(job_dir):            # results, and what a killed writer left
            if name in (DONE_FILE, ERROR_FILE) or name.startswith(
                    tuple(f"{f}.tmp-" for f in (JOB_FILE, DONE_FILE, ERROR_FILE))):
                os.unlink(os.path.join(job_dir, name))
        _write_json(os.path.join(job_dir, JOB_FILE), spec)
        kw = spec.get("agent_kwargs", {})
        agent = Agent(spec["env"], spec["algo"], spec["config"], spec["seed"],
                      kw.get("vectorization", "auto"), kw.get("normalize_obs", False),
                      kw.get("scale_reward", False), kw.get("env_kwargs"))
    else:
        agent = Agent.load(job_dir)
    try:
        if agent.env_steps < upto:
            agent.learn(upto - agent.env_steps, progress=False, log_dir=job_dir,
                        schedule_steps=steps)
            agent.save(job_dir)
        out = {"id": spec["id"], "env_steps": agent.env_steps,
               "train_return": agent.mean_return(_WINDOW), "n_episodes":
               len(agent.episode_returns), "final_return": None}
        if agent.env_steps >= steps:
            if spec.get("eval_episodes", 0) > 0:
                out["final_return"] = float(agent.evaluate(spec["eval_episodes"]).mean())
            _write_json(os.path.join(job_dir, DONE_FILE), out)
            if os.path.exists(os.path.join(job_dir, ERROR_FILE)):
                os.unlink(os.path.join(job_dir, ERROR_FILE))
            return {"status": "done", **out}
        return {"status": "running", **out}
    finally:
        agent.close()


def _fail(spec: dict, job_dir: str, err: BaseException) -> dict:
    info = {"id": spec.get("id"), "type": type(err).__name__,
            "message": " ".join(str(err).split()),
            "traceback": "".join(traceback.format_exception(err))}
    try:
        os.makedirs(job_dir, exist_ok=True)
        _write_json(os.path.join(job_dir, ERROR_FILE), info)
    except OSError:
        pass
    return {"status": "failed", "id": spec.get("id"), "error": f"{info['type']}: "
            f"{info['message']}"}


def record_failure(job_dir: str, jid: str, error: str) -> None:
    """Write ``error.json`` for a job that failed outside ``execute`` (its worker died)
    unless the job wrote one itself."""
    path = os.path.join(job_dir, ERROR_FILE)
    if not os.path.exists(path):
        os.makedirs(job_dir, exist_ok=True)
        _write_json(path, {"id": jid, "type": error.partition(":")[0], "message": error,
                           "traceback": ""})


def execute(task: dict) -> dict:
    """Run one task (module docstring); never raises for a failing job."""
    spec, ship = task["spec"], task.get("ship")
    upto = task.get("upto") or spec["steps"]
    tmp = None
    job_dir = task["dir"]
    if ship is not None:
        tmp = tempfile.mkdtemp(prefix="npg-job-")
        job_dir = os.path.join(tmp, "run")
        unpack_dir(ship, job_dir)
    try:
        try:
            result = _train(spec, job_dir, int(upto))
        except Exception as err:                 # recorded, never stops the sweep
            result = _fail(spec, job_dir, err)
        if tmp is not None:
            result["files"] = pack_dir(job_dir)
        return result
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
