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
    "reshape",
    "default_xp",
    "use_backend",
    "set_backend",
    "to_numpy",
    "is_numpy",
    "scatter_add_rows",
    "cupy_available",
    "load_backend",
    "namespace_of",
    "common_xp",
    "device_of",
    "create",
    "same_namespace",
    "resolve_device",
    "tree_to",
    "cumulative_max",
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


def reshape(xp: ModuleType, a, shape: tuple):
    """``xp.reshape(a, shape)``; on NumPy by the array's method, which costs a third of the
    function (that matters where small arrays are reshaped per step, as in ``npg.optim``)."""
    return a.reshape(shape) if xp is np else xp.reshape(a, shape)


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
    rows = create(xp, "arange", n_rows, dtype=index.dtype, device=device_of(index))
    onehot = xp.astype(index[:, None] == rows[None, :], values.dtype)
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


def load_backend(name: str | ModuleType) -> ModuleType:
    """The array module named by ``name`` ('numpy', 'cupy', 'array_api_strict') or the module
    itself; ImportError for 'cupy' without CuPy, ValueError / TypeError for anything else."""
    return _load(name)


def _is_cupy(xp: ModuleType) -> bool:
    return getattr(xp, "__name__", "").split(".")[0] == "cupy"


def namespace_of(a) -> ModuleType | None:
    """The array module of one array (``numpy`` for NumPy arrays, ``cupy`` for CuPy arrays, the
    ``__array_namespace__`` of any other array); None for Python scalars, None and non-arrays."""
    if a is None or isinstance(a, (bool, int, float, complex, np.generic)):
        return None
    if isinstance(a, np.ndarray):
        return np
    if type(a).__module__.split(".")[0] == "cupy":
        return importlib.import_module("cupy")
    ns = getattr(a, "__array_namespace__", None)
    return ns() if ns is not None else None


def common_xp(*arrays, names=None) -> ModuleType:
    """The one array module that all ``arrays`` share (NumPy when there are none).

    Unlike ``get_xp`` (which takes the first non-NumPy array's module and ignores NumPy arrays),
    arrays from two different modules, NumPy included, are a TypeError naming both modules and,
    when ``names`` (one label per array) is given, both arguments. Python scalars and ``None``
    are ignored.
    """
    if names is not None and len(names) != len(arrays):
        raise ValueError(f"names must hold one label per array; got {len(names)} for "
                         f"{len(arrays)} arrays")
    found, where = None, None
    for i, a in enumerate(arrays):
        ns = namespace_of(a)
        if ns is None:
            continue
        label = names[i] if names is not None else f"argument {i}"
        if found is None:
            found, where = ns, label
        elif ns is not found:
            raise TypeError(
                f"arrays from two array modules in one call: {where} lives on {found.__name__} "
                f"but {label} lives on {ns.__name__}; move both to one module first "
                f"(e.g. xp.asarray, npg.backend.to_numpy, FiniteMDP.to)")
    return np if found is None else found


def same_namespace(xp: ModuleType, a, name: str, owner: str = "the MDP"):
    """``a`` unchanged if it lives on ``xp`` (or is a Python scalar); else a TypeError naming
    ``name``, its module and ``xp`` (the module of ``owner``). Never converts."""
    ns = namespace_of(a)
    if ns is not None and ns is not xp:
        raise TypeError(f"{name} lives on {ns.__name__} but {owner} lives on {xp.__name__}; "
                        f"move it first (xp.asarray(...) or npg.backend.to_numpy)")
    return a


def device_of(x):
    """The device an array lives on (``x.device``; "cpu" for NumPy), None for non-arrays."""
    if isinstance(x, np.ndarray):
        return "cpu"
    return getattr(x, "device", None)


def create(xp: ModuleType, name: str, *args, device=None, **kwargs):
    """``xp.<name>(*args, **kwargs)`` allocated on ``device`` (e.g. ``device_of(other)``).

    Creation functions of the array-API standard (zeros, full, eye, arange, asarray, ...) take
    ``device=``; NumPy ignores the device (there is only the CPU) and CuPy allocates on the
    current device, so for CuPy ``device`` (a ``cupy.cuda.Device``) is entered as a context.
    ``device=None`` is the namespace's default device.
    """
    fn = getattr(xp, name)
    if device is None or xp is np:
        return fn(*args, **kwargs)
    if _is_cupy(xp):
        with device:
            return fn(*args, **kwargs)
    return fn(*args, device=device, **kwargs)


_DEVICE_FORMS = ("None or 'cpu' (NumPy), 'cuda' or 'cuda:N' (CuPy on GPU N), or a device object "
                 "of an array-API namespace (e.g. array_api_strict.Device('device1'))")


def _cuda_device(device: str, name: str):
    """(cupy, cupy.cuda.Device(N)) for "cuda" / "cuda:N"; ImportError / RuntimeError naming
    ``name`` when CuPy is missing or sees no such GPU."""
    _, _, index = device.partition(":")
    if index and not index.isdigit():
        raise ValueError(f"{name} must be 'cuda' or 'cuda:N' with N a GPU index; got {device!r}")
    try:
        cp = importlib.import_module("cupy")
    except ImportError as exc:
        raise ImportError(f"{name}={device!r} needs CuPy (pip install 'npg[cuda]') and an "
                          f"NVIDIA GPU; CuPy is not installed") from exc
    try:
        count = int(cp.cuda.runtime.getDeviceCount())
    except Exception as exc:    # CUDARuntimeError, a missing driver: no GPU to run on
        raise RuntimeError(f"{name}={device!r}: CuPy sees no CUDA GPU ({exc})") from exc
    n = int(index) if index else 0
    if not 0 <= n < count:
        raise RuntimeError(f"{name}={device!r}: CuPy sees {count} CUDA GPU(s); there is no GPU {n}")
    return cp, cp.cuda.Device(n)


def resolve_device(device, name: str = "device"):
    """``(xp, dev)``: the array module and device that ``device`` names.

    None or "cpu" -> ``(numpy, None)``; "cuda" / "cuda:N" -> ``(cupy, cupy.cuda.Device(N))``
    (ImportError without CuPy, RuntimeError when CuPy sees no such GPU); a device object ->
    its namespace, inferred from the object (a ``cupy.cuda.Device``, or any device listed by
    its package's ``__array_namespace_info__().devices()``, such as
    ``array_api_strict.Device("device1")``). Anything else is a TypeError / ValueError that
    names ``name`` and lists the accepted forms.
    """
    if device is None:
        return np, None
    if isinstance(device, str):
        key = device.strip().lower()
        if key == "cpu":
            return np, None
        if key == "cuda" or key.startswith("cuda:"):
            return _cuda_device(key, name)
        raise ValueError(f"{name} must be {_DEVICE_FORMS}; got {device!r}")
    top = type(device).__module__.split(".")[0]
    if top == "cupy":
        return importlib.import_module("cupy"), device
    if top not in ("builtins", "numpy"):
        try:
            xp = importlib.import_module(top)
            devices = xp.__array_namespace_info__().devices()
        except (ImportError, AttributeError, TypeError):
            devices = ()
        if any(device == d for d in devices):
            return xp, device
    raise TypeError(f"{name} must be {_DEVICE_FORMS}; got {type(device).__name__} {device!r}")


def tree_to(tree, xp: ModuleType, device=None):
    """A copy of the nested dicts ``tree`` with every array moved to ``xp`` on ``device``
    (``xp = numpy``: NumPy copies via ``to_numpy``); Python scalars and None unchanged.

    This is the one explicit conversion between the host and a device for whole train states
    (``npg.app.agent``: onto the device after ``init`` and ``load``, back to NumPy to save).
    """
    out = {}
    for k, v in tree.items():
        if isinstance(v, dict):
            out[k] = tree_to(v, xp, device)
        elif namespace_of(v) is None:
            out[k] = v
        elif xp is np:
            out[k] = to_numpy(v)
        else:
            out[k] = create(xp, "asarray", to_numpy(v) if namespace_of(v) is not xp else v,
                            device=device)
    return out


def cumulative_max(x, reverse: bool = False, minimum: bool = False):
    """Running maximum (or ``minimum``) of ``x`` along axis 0, from the end with ``reverse``:
    ``out[t] = max(x[0], ..., x[t])`` (reverse: ``max(x[t], ..., x[T-1])``).

    NumPy: ``np.maximum.accumulate`` (the array-API standard has no running maximum); other
    modules: one elementwise max per row (exact: the values are only compared).
    """
    xp = get_xp(x)
    if xp is np:
        op = np.minimum if minimum else np.maximum
        return op.accumulate(x[::-1], axis=0)[::-1] if reverse else op.accumulate(x, axis=0)
    op = xp.minimum if minimum else xp.maximum
    T = int(x.shape[0])
    order = range(T - 1, -1, -1) if reverse else range(T)
    rows: dict[int, object] = {}
    prev = None
    for t in order:
        prev = x[t:t + 1, ...] if prev is None else op(prev, x[t:t + 1, ...])
        rows[t] = prev
    return xp.concat([rows[t] for t in range(T)], axis=0) if T else x
