"""Checkpoints that are data: written atomically, verified before anything is read from them.

A checkpoint store is a directory (the run directory) holding complete checkpoints

    ckpt-00000001/  manifest.json   format, npg's version, SHA-256 and size of the two files,
                                    name, shape and dtype of every array
                    agent.json      metadata (JSON, no NaN or inf)
                    agent.npz       arrays (``np.load(..., allow_pickle=False)``)
    ckpt-00000002/  ...

Writing (``save``): the three files go into a new ``.tmp-ckpt-*`` directory, each fsynced,
then the directory is renamed to the next ``ckpt-NNNNNNNN`` name (a rename onto a new name is
atomic on POSIX) and the store is fsynced. A process killed at any point leaves either the
complete new checkpoint or none, and the previous one untouched; ``keep`` (default 2) complete
checkpoints are kept, older ones and dead writers' temporary directories are removed.

Reading (``load``): the newest checkpoint of a store, or the checkpoint directory given. Every
file must be a regular file (never a symlink) listed in the manifest with its size and SHA-256;
the bytes are hashed once and parsed from memory (nothing is re-read after the check); the
arrays must be exactly the manifest's, with its shapes and dtypes, of plain numeric or bool
dtypes. Any failure is a ``CheckpointError`` (a ``ValueError``) naming the file and what
failed. The SHA-256 sums detect damage and mixed files (one run's ``agent.json`` beside
another's ``agent.npz``); they are not a signature: whoever can write the files can rewrite
the manifest, so a checkpoint is only ever read as data (``npg.app.agent.Agent.load`` checks every
array against the config and the spaces, and never imports a module named in it).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import stat
import uuid

import numpy as np

from .run_dir import open_for_write

__all__ = ["save", "load", "latest", "CheckpointError", "MANIFEST", "META_FILE", "ARRAYS_FILE",
           "FORMAT"]

MANIFEST, META_FILE, ARRAYS_FILE = "manifest.json", "agent.json", "agent.npz"
FORMAT = 2
_NAME = re.compile(r"^ckpt-(\d{8})$")
_TMP = re.compile(r"^\.tmp-ckpt-(\d+)-[0-9a-f]{8}$")
_DTYPES = {"bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
           "float32", "float64"}
_MAX_JSON = 64 << 20
_WANT = (f"path must be a run directory or a checkpoint written by Agent.save (ckpt-*/ with "
         f"{MANIFEST}, {META_FILE} and {ARRAYS_FILE})")


class CheckpointError(ValueError):
    """A checkpoint that is missing, damaged, mixed or inconsistent; the message names the file
    and what failed."""


# ------------------------------------------------------------------------------------ writing

def _json_bytes(obj, what: str) -> bytes:
    try:
        return json.dumps(obj, indent=1, allow_nan=False, sort_keys=True).encode()
    except (TypeError, ValueError) as err:
        raise TypeError(f"{what} must be JSON data without NaN or inf: {err}") from None


def _write(path: str, data: bytes) -> None:
    with open_for_write(path, exclusive=True) as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _npz_bytes(arrays: dict) -> bytes:
    for k, a in arrays.items():
        if not isinstance(a, np.ndarray) or a.dtype.name not in _DTYPES:
            raise TypeError(f"array {k!r} must be a NumPy array of a numeric or bool dtype; got "
                            f"{getattr(a, 'dtype', type(a).__name__)}")
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _entries(store: str) -> tuple[list[tuple[int, str]], list[str]]:
    """The complete checkpoints ``[(seq, name)]`` (oldest first) and temporary directories."""
    done, tmp = [], []
    for name in os.listdir(store):
        m = _NAME.match(name)
        if m:
            done.append((int(m.group(1)), name))
        elif _TMP.match(name):
            tmp.append(name)
    return sorted(done), tmp


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def save(path, meta: dict, arrays: dict[str, np.ndarray], keep: int = 2) -> str:
    """Write a new checkpoint of ``meta`` (JSON data) and ``arrays`` (name -> NumPy array) into
    the store ``path`` (created); returns the new checkpoint's directory."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a directory path; got {type(path).__name__}")
    if isinstance(keep, bool) or not isinstance(keep, int) or keep < 1:
        raise ValueError(f"keep must be an int >= 1; got {keep!r}")
    store = os.fspath(path)
    if os.path.islink(store):
        raise ValueError(f"path {store!r} is a symlink; npg does not write through symlinks")
    os.makedirs(store, exist_ok=True)
    npz = _npz_bytes(arrays)
    meta_b = _json_bytes(meta, "meta")
    manifest = {"format": FORMAT, "npg_version": _version(),
                "files": {n: {"sha256": hashlib.sha256(b).hexdigest(), "bytes": len(b)}
                          for n, b in ((META_FILE, meta_b), (ARRAYS_FILE, npz))},
                "arrays": {k: {"shape": list(a.shape), "dtype": a.dtype.name}
                           for k, a in sorted(arrays.items())}}
    tmp = os.path.join(store, f".tmp-ckpt-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    os.mkdir(tmp)
    _write(os.path.join(tmp, ARRAYS_FILE), npz)
    _write(os.path.join(tmp, META_FILE), meta_b)
    _write(os.path.join(tmp, MANIFEST), _json_bytes(manifest, "manifest"))
    _fsync_dir(tmp)
    done, _ = _entries(store)
    final = os.path.join(store, f"ckpt-{(done[-1][0] + 1 if done else 1):08d}")
    os.rename(tmp, final)
    _fsync_dir(store)
    _prune(store, keep)
    return final


def _prune(store: str, keep: int) -> None:
    done, tmp = _entries(store)
    for _, name in done[:-keep]:             # renamed first: a kill mid-delete leaves a .tmp
        doomed = os.path.join(store, f".tmp-ckpt-{os.getpid()}-{uuid.uuid4().hex[:8]}")
        os.rename(os.path.join(store, name), doomed)
        shutil.rmtree(doomed, ignore_errors=True)
    for name in tmp:
        if not _alive(int(_TMP.match(name).group(1))):
            shutil.rmtree(os.path.join(store, name), ignore_errors=True)


def _version() -> str:
    from ..version import VERSION as __version__
    return __version__


# ------------------------------------------------------------------------------------ reading

def latest(path) -> str:
    """The checkpoint directory to read for ``path``: ``path`` itself when it holds a manifest,
    else the newest ``ckpt-*`` in it; CheckpointError when there is none."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a directory path; got {type(path).__name__}")
    path = os.fspath(path)
    if not os.path.isdir(path):
        raise CheckpointError(f"{_WANT}; {path!r} is not a directory")
    if os.path.lexists(os.path.join(path, MANIFEST)):
        return path
    done, _ = _entries(path)
    if done:
        return os.path.join(path, done[-1][1])
    if os.path.exists(os.path.join(path, META_FILE)):
        raise CheckpointError(f"{os.path.join(path, META_FILE)}: a checkpoint of format 1 "
                              f"(npg 0.1.0 before checkpoints had manifests); it cannot be "
                              f"verified: train again, or load it with that version")
    raise CheckpointError(f"{_WANT}; {path!r} holds none")


def _read_regular(path: str, limit: int | None = None) -> bytes:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        raise CheckpointError(f"{path}: missing") from None
    if stat.S_ISLNK(st.st_mode):
        raise CheckpointError(f"{path}: is a symlink; checkpoints are read from regular files "
                              f"only")
    if not stat.S_ISREG(st.st_mode):
        raise CheckpointError(f"{path}: not a regular file")
    if limit is not None and st.st_size > limit:
        raise CheckpointError(f"{path}: {st.st_size} bytes, more than the {limit} allowed")
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as f:
        return f.read()


def _parse_json(path: str, data: bytes):
    def refuse(name):
        raise CheckpointError(f"{path}: holds {name}, which checkpoints never contain")
    try:
        return json.loads(data, parse_constant=refuse)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CheckpointError(f"{path}: not valid JSON ({err})") from None


def _check_manifest(path: str, m) -> None:
    if not isinstance(m, dict) or m.get("format") != FORMAT:
        got = m.get("format") if isinstance(m, dict) else type(m).__name__
        raise CheckpointError(f"{path}: format {got!r}; this npg reads format {FORMAT}")
    files, arrays = m.get("files"), m.get("arrays")
    if not isinstance(files, dict) or set(files) != {META_FILE, ARRAYS_FILE} or not all(
            isinstance(v, dict) and isinstance(v.get("sha256"), str)
            and isinstance(v.get("bytes"), int) for v in files.values()):
        raise CheckpointError(f"{path}: 'files' must list {META_FILE} and {ARRAYS_FILE} with "
                              f"their sha256 and bytes")
    if not isinstance(arrays, dict) or not all(
            isinstance(v, dict) and isinstance(v.get("shape"), list)
            and all(isinstance(n, int) and n >= 0 for n in v["shape"])
            and v.get("dtype") in _DTYPES for v in arrays.values()):
        raise CheckpointError(f"{path}: 'arrays' must give each array's shape and a numeric "
                              f"dtype")


def load(path) -> tuple[dict, dict[str, np.ndarray], str]:
    """``(meta, arrays, checkpoint_dir)`` of the newest checkpoint of store ``path`` (or of the
    checkpoint directory ``path``), verified as the module docstring says."""
    ckpt = latest(path)
    if os.path.islink(ckpt):
        raise CheckpointError(f"{ckpt}: is a symlink; checkpoints are read from directories only")
    extra = sorted(set(os.listdir(ckpt)) - {MANIFEST, META_FILE, ARRAYS_FILE})
    if extra:
        raise CheckpointError(f"{ckpt}: unexpected files {extra} beside the checkpoint's own")
    man_path = os.path.join(ckpt, MANIFEST)
    manifest = _parse_json(man_path, _read_regular(man_path, _MAX_JSON))
    _check_manifest(man_path, manifest)
    blobs = {}
    for name, want in manifest["files"].items():
        p = os.path.join(ckpt, name)
        data = _read_regular(p, want["bytes"] if name == ARRAYS_FILE else _MAX_JSON)
        if len(data) != want["bytes"]:
            raise CheckpointError(f"{p}: {len(data)} bytes; the manifest says {want['bytes']} "
                                  f"(truncated or replaced)")
        if hashlib.sha256(data).hexdigest() != want["sha256"]:
            raise CheckpointError(f"{p}: SHA-256 does not match the manifest (damaged, edited "
                                  f"or from another checkpoint)")
        blobs[name] = data
    meta = _parse_json(os.path.join(ckpt, META_FILE), blobs[META_FILE])
    if not isinstance(meta, dict):
        raise CheckpointError(f"{os.path.join(ckpt, META_FILE)}: must hold a JSON object")
    return meta, _read_arrays(os.path.join(ckpt, ARRAYS_FILE), blobs[ARRAYS_FILE],
                              manifest["arrays"]), ckpt


def _read_arrays(path: str, data: bytes, want: dict) -> dict[str, np.ndarray]:
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            names = set(z.files)
            if names != set(want):
                raise CheckpointError(f"{path}: arrays {sorted(names ^ set(want))} differ from "
                                      f"the manifest's")
            out = {k: z[k] for k in sorted(names)}
    except CheckpointError:
        raise
    except Exception as err:                    # zipfile.BadZipFile, ValueError, OSError ...
        raise CheckpointError(f"{path}: not a readable .npz archive ({type(err).__name__}: "
                              f"{err})") from None
    for k, a in out.items():
        w = want[k]
        if list(a.shape) != w["shape"] or a.dtype.name != w["dtype"]:
            raise CheckpointError(f"{path}: array {k!r} is {a.dtype.name} {a.shape}; the "
                                  f"manifest says {w['dtype']} {tuple(w['shape'])}")
    return out
