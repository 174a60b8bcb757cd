"""Running a plan: the sweep directory, skipping done jobs, recording failed ones.

    from npg.app.sweep import make_plan, run_sweep
    plan = make_plan("CartPole-v1", "ppo", 20_000, grid={"lr": [1e-3, 3e-4]}, seeds=10)
    summary = run_sweep(plan, "sweeps/lr")            # a process pool, one worker per core
    summary = run_sweep(plan, "sweeps/lr", backend="ray", address="auto")

A sweep directory holds::

    SWEEP/
      .lock            held while a sweep runs in it (npg.app.run_dir.RunLock)
      plan.json        the plan (npg.app.sweep.plan.Plan.to_json)
      results.json     per job: status, env steps, final and training return, or the error
      jobs/c000-s0/    one normal run directory per job (npg.app.sweep.jobs): Agent.load works on it

Running a plan again in the same directory skips the jobs whose ``done.json`` matches their
spec and runs the rest (a killed sweep resumes; a failed job is retried); a different plan in
a directory that holds one is refused, so results of two plans are never mixed. On a pool or
a local Ray cluster the kernels the jobs use are first compiled in this process
(``npg.app.sweep.warm``): Numba's cache is not safe for workers compiling into it at once.
"""

from __future__ import annotations

import json
import os
import sys
import time

from .backends import make_backend
from .jobs import is_done, read_result, record_failure
from .plan import Plan
from .warm import warm

__all__ = ["run_sweep", "load_plan", "job_dirs", "PLAN_FILE", "RESULTS_FILE"]

PLAN_FILE, RESULTS_FILE, JOBS_DIR = "plan.json", "results.json", "jobs"


def load_plan(sweep_dir) -> Plan:
    """The plan recorded in ``sweep_dir`` (ValueError if there is none)."""
    path = os.path.join(os.fspath(sweep_dir), PLAN_FILE)
    if not os.path.isfile(path):
        raise ValueError(f"{os.fspath(sweep_dir)!r} is not a sweep directory (no {PLAN_FILE})")
    with open(path) as f:
        return Plan.from_json(json.load(f))


def job_dirs(sweep_dir, plan: Plan) -> dict[str, str]:
    """``{job id: its run directory}`` in plan order."""
    return {j["id"]: os.path.join(os.fspath(sweep_dir), JOBS_DIR, j["id"]) for j in plan.jobs()}


def _record_plan(sweep_dir: str, plan: Plan) -> None:
    path = os.path.join(sweep_dir, PLAN_FILE)
    if os.path.isfile(path):
        old = load_plan(sweep_dir)
        if not old.same_as(plan):
            raise ValueError(f"{sweep_dir!r} holds another sweep's plan ({PLAN_FILE}); use a new "
                             f"directory, or rerun with the same plan to resume it")
        return
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(plan.to_json(), f, indent=1)
    os.replace(tmp, path)


def _write_results(sweep_dir: str, plan: Plan) -> dict:
    results = {}
    for jid, d in job_dirs(sweep_dir, plan).items():
        r = read_result(d) if os.path.isdir(d) else None
        results[jid] = {"status": "pending"} if r is None else \
            {k: v for k, v in r.items() if k != "traceback"}
    path = os.path.join(sweep_dir, RESULTS_FILE)
    with open(f"{path}.tmp", "w") as f:
        json.dump(results, f, indent=1, sort_keys=True)
    os.replace(f"{path}.tmp", path)
    return results


def run_sweep(plan: Plan, sweep_dir, backend="pool", workers: int | None = None,
              address: str | None = None, timeout: float = 10.0, log=None) -> dict:
    """Run every job of ``plan`` not yet done in ``sweep_dir``; returns ``{"done": [ids],
    "failed": {id: error}, "skipped": [ids], "wall_time": s, "backend": name}``.

    backend   "pool" (default: ``workers`` processes, one per core), "ray" (``address``:
              None for a local cluster, "auto" or "HOST:PORT" to join one; ``timeout`` for
              the connection check), "serial", or a backend object (``npg.app.sweep.backends``).
    log       a text stream for one line per finished job (default: none).
    """
    from ..run_dir import RunLock
    _refuse_spawn_import()
    if not isinstance(plan, Plan):
        raise TypeError(f"plan must be an npg.app.sweep.Plan; got {type(plan).__name__}")
    if not isinstance(sweep_dir, (str, os.PathLike)):
        raise TypeError(f"sweep_dir must be a path; got {type(sweep_dir).__name__}")
    sweep_dir = os.fspath(sweep_dir)
    os.makedirs(os.path.join(sweep_dir, JOBS_DIR), exist_ok=True)
    t0 = time.perf_counter()
    with RunLock(sweep_dir):
        _record_plan(sweep_dir, plan)
        dirs = job_dirs(sweep_dir, plan)
        specs = plan.jobs()
        skipped = [s["id"] for s in specs if is_done(dirs[s["id"]], s)]
        todo = [s for s in specs if s["id"] not in skipped]
        done, failed = [], {}
        if todo:
            owned = isinstance(backend, str)
            be = make_backend(backend, workers, address, 1, timeout) if owned else backend
            if be.name == "pool" or (be.name == "ray" and address is None):
                warm(todo)            # compile once here, so workers only load (warm.py)
            try:
                handles = {be.submit({"spec": s, "dir": dirs[s["id"]]}): s for s in todo}
                pending = list(handles)
                while pending:
                    for h, res in be.wait(pending):
                        pending.remove(h)
                        jid = handles[h]["id"]
                        if res.get("status") == "done":
                            done.append(jid)
                        else:
                            failed[jid] = res.get("error", "unknown error")
                            record_failure(dirs[jid], jid, failed[jid])
                        _log(log, jid, res, len(done) + len(failed), len(todo))
            finally:
                if owned:
                    be.close()
            name = be.name
        else:
            name = backend if isinstance(backend, str) else backend.name
        _write_results(sweep_dir, plan)
    return {"done": done, "failed": failed, "skipped": skipped, "backend": name,
            "wall_time": time.perf_counter() - t0}


def _refuse_spawn_import() -> None:
    """RuntimeError when called while a "spawn" worker re-imports the main script (the sweep
    would start again in every worker); the frame is multiprocessing.spawn's own."""
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_name == "_fixup_main_from_path":
            raise RuntimeError("run_sweep was called while a pool worker imported the main "
                               "script; in a script, call it under "
                               "`if __name__ == \"__main__\":`")
        frame = frame.f_back


def _log(log, jid: str, res: dict, k: int, n: int) -> None:
    if log is None:
        return
    if res.get("status") == "done":
        fr = res.get("final_return")
        tail = f"final return {fr:.2f}" if fr is not None else \
            f"training return {res.get('train_return', float('nan')):.2f}"
        print(f"[{k}/{n}] {jid}: done, {tail}", file=log)
    else:
        print(f"[{k}/{n}] {jid}: FAILED: {res.get('error')}", file=log)
    if log is sys.stdout or log is sys.stderr:
        log.flush()
