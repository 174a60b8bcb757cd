"""Saving and loading an agent's files: ``agent.json`` (metadata) + ``agent.npz`` (arrays).

The train state is nested dicts (``npg.algos.base``); ``npg.algos.state_to_flat`` joins its
keys with "/". Array leaves go to ``agent.npz`` under ``state/<key>`` and the normalisers'
statistics under ``norm/<key>``; Python scalars (ints, floats, bools, None, strings) go to
``agent.json`` under ``"state_scalars"`` so that no pickling is ever needed (``np.load`` runs
with ``allow_pickle=False``).
"""

from __future__ import annotations

import json
import os

import numpy as np

from .algos import state_from_flat, state_to_flat

__all__ = ["save", "load", "META_FILE", "ARRAYS_FILE"]

META_FILE = "agent.json"
ARRAYS_FILE = "agent.npz"
FORMAT = 1


def _json_default(x):
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.floating):
        return float(x)
    if isinstance(x, np.ndarray):
        return x.tolist()
    raise TypeError(f"cannot save {type(x).__name__} in agent.json")


def save(path, meta: dict, state: dict, norm: dict) -> str:
    """Write ``meta`` (JSON-able dict), the train ``state`` and the normaliser arrays ``norm``
    into directory ``path``; returns the directory path."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a directory path; got {type(path).__name__}")
    path = os.fspath(path)
    os.makedirs(path, exist_ok=True)
    arrays, scalars = {}, {}
    for k, v in state_to_flat(state).items():
        if isinstance(v, np.ndarray):
            arrays["state/" + k] = v
        elif isinstance(v, (bool, int, float, str, np.integer, np.floating)) or v is None:
            scalars[k] = v
        else:
            raise TypeError(f"train state entry {k!r} must be an array or a scalar; got "
                            f"{type(v).__name__}")
    arrays.update({"norm/" + k: np.asarray(v) for k, v in norm.items()})
    np.savez(os.path.join(path, ARRAYS_FILE), **arrays)
    with open(os.path.join(path, META_FILE), "w") as f:
        json.dump({"format": FORMAT, **meta, "state_scalars": scalars}, f, indent=1,
                  default=_json_default)
    return path


def load(path) -> tuple[dict, dict, dict]:
    """``(meta, state, norm)`` from a directory written by ``save``; ValueError if it is not
    one."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a directory path; got {type(path).__name__}")
    path = os.fspath(path)
    meta_path, arr_path = os.path.join(path, META_FILE), os.path.join(path, ARRAYS_FILE)
    if not (os.path.isfile(meta_path) and os.path.isfile(arr_path)):
        raise ValueError(f"path must be a directory holding {META_FILE} and {ARRAYS_FILE} "
                         f"(written by Agent.save); {path!r} does not")
    with open(meta_path) as f:
        meta = json.load(f)
    if meta.get("format") != FORMAT:
        raise ValueError(f"{meta_path} has format {meta.get('format')!r}; expected {FORMAT}")
    flat = dict(meta.pop("state_scalars"))
    norm = {}
    with np.load(arr_path, allow_pickle=False) as data:
        for k in data.files:
            group, key = k.split("/", 1)
            (flat if group == "state" else norm)[key] = data[k]
    return meta, state_from_flat(flat), norm
