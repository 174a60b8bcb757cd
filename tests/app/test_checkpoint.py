"""Checkpoints are data: verified on load, every kind of tampering refused with a message that
names the file and what failed, and a save killed at any moment leaves a loadable checkpoint."""

from __future__ import annotations

import hashlib
import io
import json
import os
from pathlib import Path
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from npg.app import checkpoint
from npg.app.agent import Agent
from npg.app.checkpoint import ARRAYS_FILE, MANIFEST, META_FILE, CheckpointError

SMALL = {"n_envs": 2, "n_steps": 16, "batch_size": 16, "n_epochs": 1, "hidden": (8,)}


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A run directory with one checkpoint of a small CartPole PPO agent (two updates)."""
    d = tmp_path_factory.mktemp("run")
    agent = Agent("CartPole-v1", "ppo", dict(SMALL), seed=0).learn(64, progress=False)
    agent.save(d)
    return str(d)


def copy_run(src, dst) -> str:
    import shutil
    shutil.copytree(src, dst)
    return checkpoint.latest(dst)


def forge(ckpt, meta=None, arrays=None):
    """Rewrite a checkpoint as someone who knows the format would: edit the metadata and/or
    arrays, then recompute the manifest so that the hashes match."""
    m, a, _ = checkpoint.load(ckpt)
    m = meta(m) if meta else m
    a = arrays(a) if arrays else a
    buf = io.BytesIO()
    np.savez(buf, **a)
    files = {META_FILE: json.dumps(m).encode(), ARRAYS_FILE: buf.getvalue()}
    man = json.loads(Path(os.path.join(ckpt, MANIFEST)).read_text())
    man["files"] = {n: {"sha256": hashlib.sha256(b).hexdigest(), "bytes": len(b)}
                    for n, b in files.items()}
    man["arrays"] = {k: {"shape": list(v.shape), "dtype": v.dtype.name} for k, v in a.items()}
    files[MANIFEST] = json.dumps(man).encode()
    for n, b in files.items():
        with open(os.path.join(ckpt, n), "wb") as f:
            f.write(b)


def test_save_writes_a_verified_checkpoint_directory(saved):
    ckpt = checkpoint.latest(saved)
    assert os.path.basename(ckpt) == "ckpt-00000001"
    assert sorted(os.listdir(ckpt)) == [META_FILE, ARRAYS_FILE, MANIFEST]
    man = json.loads(Path(os.path.join(ckpt, MANIFEST)).read_text())
    assert man["format"] == checkpoint.FORMAT and man["npg_version"]
    for name, want in man["files"].items():
        data = Path(os.path.join(ckpt, name)).read_bytes()
        assert hashlib.sha256(data).hexdigest() == want["sha256"] and len(data) == want["bytes"]
    meta, arrays, where = checkpoint.load(saved)
    assert where == ckpt and meta["env_steps"] == 64
    assert {k: [list(v.shape), v.dtype.name] for k, v in arrays.items()} == {
        k: [v["shape"], v["dtype"]] for k, v in man["arrays"].items()}


def test_newer_saves_keep_the_last_k_and_leave_no_temporaries(tmp_path):
    a = Agent("CartPole-v1", "ppo", dict(SMALL), seed=0)
    for _ in range(4):
        a.learn(32, progress=False)
        a.save(tmp_path, keep=2)
    assert sorted(os.listdir(tmp_path)) == [".lock", "ckpt-00000003", "ckpt-00000004"]
    assert Agent.load(tmp_path).env_steps == 128
    assert Agent.load(tmp_path / "ckpt-00000003").env_steps == 96


@pytest.mark.parametrize("name", [MANIFEST, META_FILE, ARRAYS_FILE])
def test_a_flipped_byte_in_any_file_is_refused(saved, tmp_path, name):
    ckpt = copy_run(saved, tmp_path / "r")
    path = os.path.join(ckpt, name)
    data = bytearray(Path(path).read_bytes())
    data[len(data) // 2] ^= 0x01
    Path(path).write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=name.replace(".", r"\.")):
        Agent.load(tmp_path / "r")


@pytest.mark.parametrize("name", [MANIFEST, META_FILE, ARRAYS_FILE])
def test_truncated_and_deleted_files_are_refused(saved, tmp_path, name):
    ckpt = copy_run(saved, tmp_path / "t")
    path = os.path.join(ckpt, name)
    data = Path(path).read_bytes()
    Path(path).write_bytes(data[: len(data) // 3])
    with pytest.raises(CheckpointError, match=name.replace(".", r"\.")):
        Agent.load(tmp_path / "t")
    os.unlink(path)
    with pytest.raises(CheckpointError, match=f"{name.replace('.', '[.]')}: missing"):
        Agent.load(tmp_path / "t")


def test_edited_metadata_and_swapped_files_fail_the_hashes(saved, tmp_path):
    ckpt = copy_run(saved, tmp_path / "e")
    path = os.path.join(ckpt, META_FILE)
    text = Path(path).read_text().replace('"seed": 0', '"seed": 7')
    Path(path).write_text(text)
    with pytest.raises(CheckpointError, match="agent.json: SHA-256 does not match"):
        Agent.load(tmp_path / "e")
    other = tmp_path / "other"
    Agent("CartPole-v1", "ppo", dict(SMALL), seed=1).learn(32, progress=False).save(other)
    ckpt = copy_run(saved, tmp_path / "s")
    os.replace(os.path.join(checkpoint.latest(other), ARRAYS_FILE), os.path.join(ckpt, ARRAYS_FILE))
    with pytest.raises(CheckpointError, match="agent.npz: .*(bytes|SHA-256)"):
        Agent.load(tmp_path / "s")


def test_a_deleted_array_member_is_refused(saved, tmp_path):
    ckpt = copy_run(saved, tmp_path / "d")
    man = json.loads(Path(os.path.join(ckpt, MANIFEST)).read_text())
    forge(ckpt, arrays=lambda a: {k: v for k, v in a.items() if k != "state/policy/W1"})
    with pytest.raises(CheckpointError, match=r"agent\.npz: train-state entries \['policy/W1'\]"):
        Agent.load(tmp_path / "d")
    # the manifest itself still listing the member: the archive disagrees with it
    man_path = os.path.join(ckpt, MANIFEST)
    new = json.loads(Path(man_path).read_text())
    new["arrays"] = man["arrays"]
    Path(man_path).write_text(json.dumps(new))
    with pytest.raises(CheckpointError, match="differ from the manifest"):
        checkpoint.load(ckpt)


@pytest.mark.parametrize("edit, message", [
    (lambda a: {**a, "state/policy/W1": a["state/policy/W1"][:3]},
     r"state/policy/W1 is float64 \(3, 8\); this config and environment need float64 \(4, 8\)"),
    (lambda a: {**a, "state/policy/W1": a["state/policy/W1"].astype(np.float32)},
     "state/policy/W1 is float32"),
    (lambda a: {**a, "state/policy/b2": np.full_like(a["state/policy/b2"], np.nan)},
     "'state/policy/b2' holds NaN or inf"),
    (lambda a: {**a, "state/opt/critic/v.W1": np.full_like(a["state/opt/critic/v.W1"], np.inf)},
     "'state/opt/critic/v.W1' holds NaN or inf"),
])
def test_forged_arrays_with_matching_hashes_are_still_checked(saved, tmp_path, edit, message):
    ckpt = copy_run(saved, tmp_path / "f")
    forge(ckpt, arrays=edit)
    with pytest.raises(CheckpointError, match=message):
        Agent.load(tmp_path / "f")


def test_a_config_that_disagrees_with_the_weights_is_refused(saved, tmp_path):
    ckpt = copy_run(saved, tmp_path / "c")
    forge(ckpt, meta=lambda m: {**m, "config": {**m["config"], "hidden": [16]}})
    with pytest.raises(CheckpointError, match="state/policy/W1 is float64 \\(4, 8\\); .* \\(4, 16\\)"):
        Agent.load(tmp_path / "c")


def test_an_environment_with_other_spaces_is_refused(saved):
    with pytest.raises(CheckpointError, match="state/policy/W1 .* need float64 \\(2, 8\\)"):
        Agent.load(saved, env="MountainCar-v0")


def test_a_module_env_id_in_a_checkpoint_is_never_imported(saved, tmp_path, monkeypatch):
    ckpt = copy_run(saved, tmp_path / "m")
    marker = tmp_path / "imported"
    (tmp_path / "evilmod.py").write_text(
        f"open({str(marker)!r}, 'w').write('ran')\n"
        "import gymnasium\n"
        "gymnasium.register('Evil-v0', entry_point='gymnasium.envs.classic_control:CartPoleEnv')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    forge(ckpt, meta=lambda m: {**m, "env_id": "evilmod:Evil-v0"})
    with pytest.raises(CheckpointError, match="env_id 'evilmod:Evil-v0' names a module"):
        Agent.load(tmp_path / "m")
    assert not marker.exists()
    forge(ckpt, meta=lambda m: {**m, "env_id": "NoSuch-v9"})
    with pytest.raises(CheckpointError, match="not a registered gymnasium environment"):
        Agent.load(tmp_path / "m")
    # the caller may pass the environment, or opt in explicitly
    with pytest.warns(RuntimeWarning, match="environments' state was not restored"):
        assert Agent.load(tmp_path / "m", env="CartPole-v1").env_steps == 64
    assert not marker.exists()


def test_symlinks_inside_a_checkpoint_are_refused(saved, tmp_path):
    ckpt = copy_run(saved, tmp_path / "l")
    target = tmp_path / "elsewhere.json"
    os.replace(os.path.join(ckpt, META_FILE), target)
    os.symlink(target, os.path.join(ckpt, META_FILE))
    with pytest.raises(CheckpointError, match="agent.json: is a symlink"):
        Agent.load(tmp_path / "l")


def test_unexpected_files_and_old_formats_are_refused(saved, tmp_path):
    ckpt = copy_run(saved, tmp_path / "u")
    Path(os.path.join(ckpt, "extra.py")).write_text("print('hi')\n")
    with pytest.raises(CheckpointError, match=r"unexpected files \['extra.py'\]"):
        Agent.load(tmp_path / "u")
    old = tmp_path / "old"
    old.mkdir()
    (old / META_FILE).write_text('{"format": 1}')
    with pytest.raises(CheckpointError, match="format 1"):
        Agent.load(old)
    man_path = os.path.join(copy_run(saved, tmp_path / "v"), MANIFEST)
    man = json.loads(Path(man_path).read_text())
    Path(man_path).write_text(json.dumps({**man, "format": 99}))
    with pytest.raises(CheckpointError, match="format 99; this npg reads format 2"):
        Agent.load(tmp_path / "v")


def test_json_with_nan_is_refused(saved, tmp_path):
    ckpt = copy_run(saved, tmp_path / "n")
    forge(ckpt)                                          # valid again after the rewrite
    path = os.path.join(ckpt, META_FILE)
    text = Path(path).read_text().replace('"gamma": 0.98', '"gamma": NaN')
    assert "NaN" in text
    data = text.encode()
    Path(path).write_bytes(data)
    man_path = os.path.join(ckpt, MANIFEST)
    man = json.loads(Path(man_path).read_text())
    man["files"][META_FILE] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    Path(man_path).write_text(json.dumps(man))
    with pytest.raises(CheckpointError, match="holds NaN"):
        Agent.load(tmp_path / "n")


# ---------------------------------------------------------------- a kill during save

_SAVER = """
import sys, numpy as np
from npg.app import checkpoint
store = sys.argv[1]
rng = np.random.default_rng(0)
i = 0
print("ready", flush=True)
while True:
    i += 1
    arrays = {"w": rng.standard_normal((256, 256)), "i": np.array(i)}
    checkpoint.save(store, {"i": i}, arrays, keep=2)
"""


@pytest.mark.slow
def test_a_save_killed_at_random_moments_always_leaves_a_verified_checkpoint(tmp_path):
    """50 trials: a process saving in a loop is killed with SIGKILL at a random moment; the
    newest checkpoint always loads, verified and self-consistent, and so does every other
    ``ckpt-*`` directory (only ``.tmp-*`` ones can be incomplete; the next save removes them).
    A kill between a save's rename and its pruning leaves one checkpoint more than ``keep``."""
    rng = np.random.default_rng(12)
    store = tmp_path / "store"
    for trial in range(50):
        p = subprocess.Popen([sys.executable, "-c", _SAVER, str(store)], stdout=subprocess.PIPE,
                             text=True)
        assert p.stdout.readline().strip() == "ready"
        time.sleep(float(rng.uniform(0.0, 0.15)))
        p.send_signal(signal.SIGKILL)
        p.wait()
        p.stdout.close()
        try:
            meta, arrays, _ = checkpoint.load(store)
        except CheckpointError as err:
            if "holds none" in str(err) and trial == 0:
                continue                                     # killed before the first save
            raise
        assert int(arrays["i"]) == meta["i"]
        for name in os.listdir(store):             # every complete name is a whole checkpoint
            if name.startswith("ckpt-"):
                m, a, _ = checkpoint.load(store / name)
                assert int(a["i"]) == m["i"]


_AGENT_SAVER = """
import sys
from npg.app.agent import Agent
a = Agent("CartPole-v1", "ppo", {"n_envs": 2, "n_steps": 16, "batch_size": 16, "n_epochs": 1,
                                 "hidden": (64, 64)}, seed=0)
print("ready", flush=True)
while True:
    a.env_steps += 1                     # each save distinguishable
    a.save(sys.argv[1])
"""


@pytest.mark.slow
def test_an_agent_save_killed_at_random_moments_leaves_a_loadable_agent(tmp_path):
    """10 trials of the same with ``Agent.save`` and ``Agent.load`` (the full agent checks)."""
    rng = np.random.default_rng(5)
    store = tmp_path / "run"
    loaded = []
    for _ in range(10):
        p = subprocess.Popen([sys.executable, "-c", _AGENT_SAVER, str(store)],
                             stdout=subprocess.PIPE, text=True)
        assert p.stdout.readline().strip() == "ready"
        time.sleep(float(rng.uniform(0.0, 0.3)))
        p.send_signal(signal.SIGKILL)
        p.wait()
        p.stdout.close()
        if any(n.startswith("ckpt-") for n in os.listdir(store)):
            loaded.append(Agent.load(store).env_steps)
    assert len(loaded) >= 5 and all(s >= 1 for s in loaded)
