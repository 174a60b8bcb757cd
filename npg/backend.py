"""Which array module computes: NumPy by default, CuPy for GPU, any array-API namespace in tests.

The data decides. Every compute function starts with ``xp = get_xp(*arrays)`` and uses only
functions of the array-API standard on ``xp``, so the same code runs on NumPy, CuPy and the strict
``array_api_strict`` namespace the test suite uses to catch NumPy-only calls. The few operations
the standard lacks (scatter-add) live here, behind one helper each.

Creation (parameter initialisation, buffers) has no input array to ask, so it uses the default
module, which ``use_backend`` switches::

    with npg.use_backend("cupy"):
        params = policy.init(seed=0)      # parameters live on the GPU

This is the only file that imports cupy, and only when asked to.
"""

from __future__ import annotations

import contextlib
import importlib
from types import ModuleType
from typing import Iterator

import numpy as np

__all__ = [
    "get_xp",
    "default_xp",
    "use_backend",
    "set_backend",
    "to_numpy",
    "is_numpy",
    "scatter_add_rows",
    "cupy_available",
]

_DEFAULT: list[ModuleType] = [np]


def _load(name: str | ModuleType) -> ModuleType:
    if isinstance(name, ModuleType):
        return name
    if not isinstance(name, str):
        raise TypeError(f"backend must be a module or one of 'numpy', 'cupy', "
                        f"'array_api_strict'; got {type(name).__name__}")
    key = name.lower().replace("-", "_")
    if key in ("numpy", "np"):
        return np
    if key in ("cupy", "cp"):
        try:
            return importlib.import_module("cupy")
        except ImportError as exc:
            raise ImportError("backend 'cupy' needs CuPy: pip install 'npg[cuda]'") from exc
    if key == "array_api_strict":
        return importlib.import_module("array_api_strict")
    raise ValueError(f"backend must be 'numpy', 'cupy' or 'array_api_strict'; got {name!r}")


def default_xp() -> ModuleType:
    """The module that creation functions (``init``, buffers) allocate with."""
    return _DEFAULT[-1]


def set_backend(name: str | ModuleType) -> ModuleType:
    """Set the default creation module for the rest of the process; returns it."""
    _DEFAULT[0] = _load(name)
    del _DEFAULT[1:]
    return _DEFAULT[0]


@contextlib.contextmanager
def use_backend(name: str | ModuleType) -> Iterator[ModuleType]:
    """Context manager: allocate new arrays with ``name`` ('numpy', 'cupy', 'array_api_strict')."""
    _DEFAULT.append(_load(name))
    try:
        yield _DEFAULT[-1]
    finally:
        _DEFAULT.pop()


def get_xp(*arrays) -> ModuleType:
    """The array module of the first non-NumPy array among ``arrays`` (NumPy if none).

    Python scalars and ``None`` are ignored. NumPy arrays give ``numpy`` itself (its main
    namespace is array-API compatible since NumPy 2), CuPy arrays give ``cupy`` and any other
    array with ``__array_namespace__`` gives that namespace.
    """
    for a in arrays:
        if a is None or isinstance(a, (np.ndarray, np.generic, int, float, bool)):
            continue
        ns = getattr(a, "__array_namespace__", None)
        if ns is not None:
            return ns()
    return np


def is_numpy(xp: ModuleType) -> bool:
    return xp is np


def to_numpy(x) -> np.ndarray:
    """A NumPy copy of any backend's array (``get()`` for CuPy, DLPack/``asarray`` otherwise)."""
    if isinstance(x, np.ndarray):
        return x
    if hasattr(x, "get") and type(x).__module__.startswith("cupy"):
        return x.get()
    try:
        return np.from_dlpack(x)
    except (TypeError, AttributeError, RuntimeError, BufferError):
        return np.asarray(x)


def scatter_add_rows(xp: ModuleType, n_rows: int, index, values):
    """``out[index[b]] += values[b]`` for b in range(B); out has shape ``[n_rows, *values.shape[1:]]``.

    Duplicate indices accumulate. NumPy uses ``np.add.at``; other modules use the one-hot matrix
    product ``onehot(index)^T @ values``, which every array-API namespace has.
    """
    if xp is np:
        out = np.zeros((n_rows,) + tuple(values.shape[1:]), dtype=values.dtype)
        np.add.at(out, index, values)
        return out
    onehot = xp.astype(index[:, None] == xp.arange(n_rows, dtype=index.dtype)[None, :],
                       values.dtype)
    if values.ndim == 1:
        return onehot.mT @ values
    flat = xp.reshape(values, (values.shape[0], -1))
    return xp.reshape(onehot.mT @ flat, (n_rows,) + tuple(values.shape[1:]))


def cupy_available() -> bool:
    """True when CuPy imports and sees at least one CUDA device."""
    try:
        cp = importlib.import_module("cupy")
        return cp.cuda.runtime.getDeviceCount() > 0
    except Exception:  # ImportError, CUDARuntimeError, missing driver: all mean "no GPU here"
        return False
