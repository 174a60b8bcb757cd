"""The same tiny sweep on a real Ray cluster (`ray start --head` with 2 CPUs, started here and
joined by address as a remote cluster would be, stopped after): the run directories equal the
serial ones; Optuna trials run on it; an address that does not answer is a clear error."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time

import pytest

# `ray start` clusters use token authentication (Ray >= 2.5x), and Ray reads the driver's
# RAY_AUTH_MODE when it is imported: set it before the import (no other test imports Ray)
os.environ.setdefault("RAY_AUTH_MODE", "token")
if not (os.environ.get("RAY_AUTH_TOKEN") or os.environ.get("RAY_AUTH_TOKEN_PATH")
        or os.path.exists(os.path.expanduser("~/.ray/auth_token"))):
    # a fresh machine has no token: one for this process and the head node it starts (the
    # head inherits the environment), as `ray get-auth-token --generate` would make
    os.environ["RAY_AUTH_TOKEN"] = secrets.token_hex(32)
ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'npg[ray]')")

from npg.app.sweep import run_sweep  # noqa: E402
from npg.app.sweep.backends import check_address, make_backend  # noqa: E402

from test_sweep import assert_same_run, tiny_plan  # noqa: E402
from test_sweep_plan import _silent_server  # noqa: E402


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_a_ray_address_that_does_not_answer_fails_within_the_timeout():
    assert not ray.is_initialized()
    with pytest.raises(ConnectionError, match="no Ray head node answers"):
        make_backend("ray", address=f"127.0.0.1:{_closed_port()}", timeout=2.0)
    with _silent_server() as port:                   # accepts, never answers: no hang
        with pytest.raises(ConnectionError, match="Ray head node"):
            make_backend("ray", address=f"127.0.0.1:{port}", timeout=1.0)
    if "RAY_ADDRESS" not in os.environ and not os.path.exists("/tmp/ray/ray_current_cluster"):
        with pytest.raises(ConnectionError, match="running Ray instance"):
            make_backend("ray", address="auto")       # no cluster to join here
    assert not ray.is_initialized()


@pytest.fixture(scope="module")
def cluster():
    """A head node started as `ray start --head --block` (2 CPUs) in its own session, joined by
    address, stopped after by signalling that session. Ray >= 2.5x clusters use token
    authentication: RAY_AUTH_MODE=token (set above, for the driver too)."""
    port = _closed_port()
    ray_bin = os.path.join(os.path.dirname(sys.executable), "ray")
    env = dict(os.environ)
    proc = subprocess.Popen([ray_bin, "start", "--head", "--block", f"--port={port}",
                             "--num-cpus=2", "--include-dashboard=false",
                             "--disable-usage-stats"], env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    address = f"127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                check_address(address, timeout=1.0)
                break
            except ConnectionError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"`ray start --head` did not come up (exit {proc.poll()})")
                time.sleep(0.2)
        backend = make_backend("ray", address=address, timeout=5.0)   # joined once
        try:
            yield backend
        finally:
            backend.close()
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)  # our head's session only, never `ray stop`
        except ProcessLookupError:               # it exited on its own (a failed start)
            pass
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:        # Ray drains for 30 s: not needed here
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        marker = "/tmp/ray/ray_current_cluster"  # the head's address file, if it is ours
        if os.path.exists(marker) and open(marker).read().strip().endswith(f":{port}"):
            os.unlink(marker)


def test_ray_gives_the_same_run_directories_as_serial(cluster, tmp_path):
    serial = run_sweep(tiny_plan(), tmp_path / "serial", backend="serial")
    res = run_sweep(tiny_plan(), tmp_path / "ray", backend=cluster)
    assert res["backend"] == "ray"
    assert sorted(res["done"]) == sorted(serial["done"]) == ["c000-s0", "c000-s1"]
    assert sorted(res["failed"]) == ["c001-s0", "c001-s1"]
    assert "clip_range" in res["failed"]["c001-s0"]
    assert (tmp_path / "ray" / "jobs" / "c001-s0" / "error.json").exists()
    for jid in res["done"]:
        assert_same_run(tmp_path / "serial" / "jobs" / jid, tmp_path / "ray" / "jobs" / jid)
    again = run_sweep(tiny_plan(), tmp_path / "ray", backend=cluster)
    assert sorted(again["skipped"]) == ["c000-s0", "c000-s1"]


def test_optuna_trials_run_on_ray(cluster, tmp_path):
    pytest.importorskip("optuna", reason="the search needs Optuna (pip install 'npg[optuna]')")
    from npg.app.sweep import Dist, load_preset, search
    from test_sweep import TINY
    res = search("CartPole-v1", "ppo", 128, {"lr": Dist("loguniform", 1e-4, 1e-2)}, tmp_path,
                 n_trials=3, base=TINY, backend=cluster, segments=2,
                 eval_episodes=1)
    assert res["n_complete"] + res["n_pruned"] == 3 and res["n_failed"] == 0
    assert load_preset(res["preset"])["config"]["lr"] == res["config"]["lr"]
