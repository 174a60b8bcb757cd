"""Sweeps end to end at tiny CartPole budgets: serial, process pool and a real local Ray cluster
give the same run directories; a killed sweep resumes; a failing job is reported while the
others finish; the CLI, the Optuna search and example 22."""

from __future__ import annotations

import argparse
import importlib.util
import io
import json
import os
import pathlib
import signal
import subprocess
import sys

import numpy as np
import pytest

from npg.app.agent import Agent
from npg.app.logger import read_csv
from npg.app.sweep import load_plan, load_preset, make_plan, run_sweep
from npg.app.sweep import cli as sweep_cli
from npg.app.sweep.jobs import execute, read_result

TINY = {"n_envs": 2, "n_steps": 16, "hidden": (8,), "batch_size": 32, "n_epochs": 2}
ROOT = pathlib.Path(__file__).resolve().parents[2]


def tiny_plan(steps=320):
    # config 1 has an invalid clip range: its jobs must fail and be reported
    return make_plan("CartPole-v1", "ppo", steps, {"clip_range": [0.2, -1.0]}, seeds=[0, 1],
                     base=TINY, eval_episodes=2)


def _files(d):
    out = {}
    for root, _, names in os.walk(d):
        for n in names:
            if n != ".lock":
                out[os.path.relpath(os.path.join(root, n), d)] = os.path.join(root, n)
    return out


def assert_same_run(a, b):
    """Two run directories hold the same run: every file equal, wall times, the provenance's
    clock times and command lines aside."""
    fa, fb = _files(a), _files(b)
    assert sorted(fa) == sorted(fb)
    for rel in fa:
        name = os.path.basename(rel)
        if name.endswith(".csv"):
            ca, cb = read_csv(fa[rel]), read_csv(fb[rel])
            assert sorted(ca) == sorted(cb)
            for k in ca:
                if k != "wall_time":
                    np.testing.assert_array_equal(ca[k], cb[k], err_msg=f"{rel}:{k}")
        elif name in ("agent.json", "manifest.json"):
            ja, jb = (json.load(open(p)) for p in (fa[rel], fb[rel]))
            for j in (ja, jb):                   # wall times, and the logs' byte sizes that
                j.pop("wall_time", None)         # depend on how wall times print
                j.pop("logs", None)
            if name == "manifest.json":         # the hash of agent.json covers its wall time
                for j in (ja, jb):
                    j["files"].pop("agent.json", None)
            assert ja == jb, rel
        elif name == "run.json":                 # provenance: the same, times and argv aside
            ja, jb = (json.load(open(p)) for p in (fa[rel], fb[rel]))
            for j in (ja, jb):
                j.pop("created", None)
                for sess in j.get("sessions", []):
                    for k in ("start", "end", "argv"):
                        sess.pop(k, None)
            assert ja == jb, rel
        else:
            assert open(fa[rel], "rb").read() == open(fb[rel], "rb").read(), rel


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The tiny plan run in this process, one job at a time."""
    d = tmp_path_factory.mktemp("serial")
    res = run_sweep(tiny_plan(), d, backend="serial")
    return d, res


def test_serial_sweep_runs_the_good_jobs_and_reports_the_failing_ones(reference):
    d, res = reference
    assert sorted(res["done"]) == ["c000-s0", "c000-s1"]
    assert sorted(res["failed"]) == ["c001-s0", "c001-s1"]
    assert "clip_range" in res["failed"]["c001-s0"] and "ValueError" in res["failed"]["c001-s0"]
    err = json.load(open(d / "jobs" / "c001-s1" / "error.json"))
    assert err["type"] == "ValueError" and "Traceback" in err["traceback"]
    results = json.load(open(d / "results.json"))
    assert results["c000-s0"]["status"] == "done" and results["c001-s0"]["status"] == "failed"
    # each job is a normal run directory: Agent.load restores it
    agent = Agent.load(d / "jobs" / "c000-s1")
    assert agent.env_steps == 320 and agent.seed == 1 and agent.config.clip_range == 0.2
    agent.close()
    assert load_plan(d).same_as(tiny_plan())


def test_the_process_pool_gives_the_same_run_directories(reference, tmp_path):
    from npg.app.sweep.backends import THREAD_VARS, make_backend, worker_threads
    ref, _ = reference
    before = {v: os.environ.get(v) for v in THREAD_VARS}
    pool = make_backend("pool", workers=2)
    try:
        res = run_sweep(tiny_plan(), tmp_path, backend=pool)
        # one thread per worker: BLAS/OpenMP variables set before spawn, Numba's pool at 1
        assert pool.call(worker_threads) == {**{v: "1" for v in THREAD_VARS}, "numba": 1}
    finally:
        pool.close()
    assert {v: os.environ.get(v) for v in THREAD_VARS} == before      # restored here
    assert sorted(res["done"]) == ["c000-s0", "c000-s1"] and len(res["failed"]) == 2
    for jid in res["done"]:
        assert_same_run(ref / "jobs" / jid, tmp_path / "jobs" / jid)
    # rerun: done jobs are skipped, the failing ones are retried (and fail again)
    again = run_sweep(tiny_plan(), tmp_path, backend="serial")
    assert sorted(again["skipped"]) == ["c000-s0", "c000-s1"] and len(again["failed"]) == 2


def test_a_different_plan_in_the_same_directory_is_refused(reference):
    d, _ = reference
    with pytest.raises(ValueError, match="holds another sweep's plan"):
        run_sweep(tiny_plan(steps=352), d, backend="serial")


_KILLED_SWEEP = """
import os, signal, sys
from npg.app.sweep import jobs, make_plan, run_sweep
write = jobs._write_json
def write_then_die(path, obj):                  # SIGKILL once the second job has started
    write(path, obj)
    if path.endswith(os.path.join("c000-s1", jobs.JOB_FILE)):
        os.kill(os.getpid(), signal.SIGKILL)
jobs._write_json = write_then_die
plan = make_plan("CartPole-v1", "ppo", 320, {{"clip_range": [0.2, -1.0]}}, seeds=[0, 1],
                 base={tiny!r}, eval_episodes=2)
run_sweep(plan, sys.argv[1], backend="serial")
"""


def test_a_killed_sweep_resumes_and_ends_with_the_same_runs(reference, tmp_path):
    """SIGKILL in the middle of a sweep: the first job done, the second started (its job.json
    written) and not finished. The child kills itself at that point (by timing from outside,
    a fast machine finished the second job within one poll); resuming skips the first and
    runs the second again from scratch, with the uninterrupted sweep's results."""
    ref, _ = reference
    proc = subprocess.run([sys.executable, "-c", _KILLED_SWEEP.format(tiny=TINY),
                           str(tmp_path)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          timeout=240)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-2000:]
    assert (tmp_path / "jobs" / "c000-s0" / "done.json").exists()
    assert (tmp_path / "jobs" / "c000-s1" / "job.json").exists()
    assert not (tmp_path / "jobs" / "c000-s1" / "done.json").exists()   # really interrupted
    res = run_sweep(tiny_plan(), tmp_path, backend="serial")
    assert res["skipped"] == ["c000-s0"] and res["done"] == ["c000-s1"]
    for jid in ("c000-s0", "c000-s1"):
        assert_same_run(ref / "jobs" / jid, tmp_path / "jobs" / jid)


def test_a_job_killed_while_writing_its_spec_restarts_clean(reference, tmp_path):
    # SIGKILL between writing job.json's temporary file and renaming it leaves the temporary
    # behind (a kill of the sweep timed from outside once hit this); the fresh restart removes it.
    ref, _ = reference
    job = tmp_path / "jobs" / "c000-s1"
    job.mkdir(parents=True)
    (job / "job.json.tmp-12345").write_text('{"half": ')
    res = run_sweep(tiny_plan(), tmp_path, backend="serial")
    assert res["done"] == ["c000-s0", "c000-s1"]
    assert_same_run(ref / "jobs" / "c000-s1", job)


def _cli(argv):
    p = argparse.ArgumentParser(prog="npg")
    sweep_cli.add_parser(p.add_subparsers(dest="command"))
    out = io.StringIO()
    return sweep_cli.run(p.parse_args(argv), out), out.getvalue()


def test_cli_sweep_then_compare(tmp_path):
    pytest.importorskip("scipy.stats", reason="npg compare needs SciPy (pip install 'npg[stats]')")
    d = str(tmp_path / "s")
    sets = [x for k, v in TINY.items() for x in ("--set", f"{k}={v}")]
    rc, out = _cli(["sweep", d, "--grid", "lr=1e-3,3e-4", "--seeds", "2", "--steps", "160",
                    "--eval-episodes", "1", "--backend", "serial"] + sets)
    assert rc == 0 and "2 config(s) x 2 seed(s) = 4 jobs" in out and "4 done" in out
    rc, out = _cli(["sweep", d, "--backend", "serial"])         # resume the recorded plan
    assert rc == 0 and "0 done, 4 already done" in out
    rc, out = _cli(["compare", d, "--resamples", "200"])
    lines = out.splitlines()
    assert rc == 0 and "IQM final" in lines[1] and len(lines) == 4
    assert lines[2].split()[:2] == ["lr=0.001", "2"] and lines[3].split()[:2] == ["lr=0.0003",
                                                                                  "2"]
    rc, out = _cli(["sweep", str(tmp_path / "f"), "--grid", "clip_range=-1", "--seeds", "1",
                    "--steps", "32", "--backend", "serial"] + sets)
    assert rc == 1 and "1 failed" in out and "clip_range" in out
    with pytest.raises(ValueError, match="unknown config field"):
        _cli(["sweep", str(tmp_path / "g"), "--grid", "lrr=1", "--backend", "serial"])


def test_optuna_search_prunes_resumes_and_writes_a_preset(tmp_path):
    pytest.importorskip("optuna", reason="the search needs Optuna (pip install 'npg[optuna]')")
    from npg.app.sweep import Dist, search
    space = {"lr": Dist("loguniform", 1e-4, 1e-2), "hidden": Dist("choice",
                                                                    values=((8,), (4, 4)))}
    base = {k: v for k, v in TINY.items() if k != "hidden"}
    kw = dict(base=base, backend="serial", segments=2, eval_episodes=1)
    res = search("CartPole-v1", "ppo", 128, space, tmp_path, n_trials=4, **kw)
    assert res["n_complete"] + res["n_pruned"] == 4 and res["n_failed"] == 0
    preset = load_preset(res["preset"], algo="ppo")
    assert preset["config"] == res["config"] and preset["config"]["hidden"] in ((8,), (4, 4))
    # npg train --config accepts the preset and trains with its fields
    from npg.app.cli import main as npg_main
    rc = npg_main(["train", "CartPole-v1", "--steps", "32", "--config", res["preset"],
                   "--out", str(tmp_path / "train"), "--quiet", "--eval-episodes", "0"],
                  out=io.StringIO())
    trained = Agent.load(tmp_path / "train")
    assert rc == 0 and trained.config.lr == res["config"]["lr"]
    assert trained.config.hidden == res["config"]["hidden"]
    trained.close()
    # the best trial, trained in two stages, is the same run as one uninterrupted job
    best = tmp_path / "trials" / f"t{res['trial']:04d}-s0"
    spec = json.load(open(best / "job.json"))
    one = execute({"spec": spec, "dir": str(tmp_path / "one")})
    assert one["status"] == "done" and one["final_return"] == read_result(best)["final_return"]
    newest = lambda d: sorted(d.glob("ckpt-*"))[-1]
    assert_same_run(newest(best), newest(tmp_path / "one"))
    for log in ("episodes.csv", "updates.csv"):
        a, b = read_csv(best / log), read_csv(tmp_path / "one" / log)
        for k in a:
            if k != "wall_time":
                np.testing.assert_array_equal(a[k], b[k])
    # a pruned trial stopped after its first stage
    for t in sorted((tmp_path / "trials").iterdir()):
        if read_result(t) is None:
            assert Agent.load(t).env_steps == 64
    more = search("CartPole-v1", "ppo", 128, space, tmp_path, n_trials=6, **kw)
    assert more["n_complete"] + more["n_pruned"] == 6
    with pytest.raises(ValueError, match="holds another search"):
        search("CartPole-v1", "ppo", 256, space, tmp_path, n_trials=6, **kw)


def test_example_22_runs_at_a_tiny_budget(tmp_path, capsys):
    pytest.importorskip("scipy.stats", reason="example 22's table needs SciPy (npg[stats])")
    path = ROOT / "examples" / "22_seed_sweep.py"
    spec = importlib.util.spec_from_file_location("ex22", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert "Expected outcome" in module.__doc__
    table = module.main(["--tiny", "--steps", "160", "--seeds", "2", "--out",
                         str(tmp_path), "--backend", "serial", "--eval-episodes", "1",
                         "--quiet"] + ([] if importlib.util.find_spec("matplotlib")
                                       else ["--no-plot"]))
    out = capsys.readouterr().out
    assert [r["label"] for r in table["rows"]] == ["n_epochs=20", "n_epochs=5"]
    assert "P(n_epochs=5 beats n_epochs=20)" in out
    if importlib.util.find_spec("matplotlib"):
        assert all((tmp_path / f).stat().st_size > 0
                   for f in ("curves.png", "intervals.png", "profile.png"))


def test_runs_without_a_finished_episode_leave_nan_out_of_the_statistics(tmp_path):
    pytest.importorskip("scipy.stats", reason="aggregate needs SciPy (pip install 'npg[stats]')")
    from npg.app.sweep import aggregate
    from npg.app.sweep.stats import format_table
    # Pendulum's episodes last 200 steps: 32 steps per job end none, and nothing is evaluated
    plan = make_plan("Pendulum-v1", "ppo", 32, seeds=[0, 1], eval_episodes=0,
                     base={k: v for k, v in TINY.items()})
    assert len(run_sweep(plan, tmp_path, backend="serial")["done"]) == 2
    table = aggregate(tmp_path, n_resamples=100)
    row = table["rows"][0]
    assert row["n"] == 2 and np.isnan(row["final_iqm"][0]) and table["best"] is None
    assert "-" in format_table(table).splitlines()[-1]
