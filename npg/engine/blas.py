"""Limiting the BLAS thread pool while training small networks.

NumPy's OpenBLAS splits every matrix product over all cores. For the small products of
policy-gradient training (a [256, 64] x [64, 64] product takes microseconds) the thread
hand-off costs more than it saves, and when the cores are shared with other work the threads
wait on each other: on the 2-core development machine under load, one PPO update of the tuned
CartPole settings took 7x longer with the default pool than with one thread. ``blas_threads(1)``
runs a block single-threaded and restores the previous setting afterwards.

It calls OpenBLAS's own ``*openblas_set_num_threads*`` through ctypes on the library that
NumPy loaded (found in ``/proc/self/maps``); where that is not possible (another BLAS, another
OS) it does nothing. Setting ``OPENBLAS_NUM_THREADS=1`` before starting Python has the same
effect for the whole process.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
from typing import Iterator

__all__ = ["blas_threads", "get_blas_threads", "openblas_lib"]


@functools.lru_cache(maxsize=1)
def openblas_lib():
    """The OpenBLAS library NumPy loaded, as a ``ctypes.CDLL`` (found in ``/proc/self/maps``),
    or None where that is not possible."""
    import numpy  # noqa: F401  (make sure NumPy's BLAS is loaded)
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if "openblas" in line.lower()}
    except OSError:
        return None
    for path in sorted(p for p in paths if os.path.isfile(p)):
        try:
            return ctypes.CDLL(path)
        except OSError:
            continue
    return None


@functools.lru_cache(maxsize=1)
def _openblas():
    """``(get, set)`` ctypes functions of the loaded OpenBLAS, or None."""
    lib = openblas_lib()
    if lib is not None:
        for prefix in ("scipy_openblas", "openblas"):
            for suffix in ("64_", ""):
                get = getattr(lib, f"{prefix}_get_num_threads{suffix}", None)
                set_ = getattr(lib, f"{prefix}_set_num_threads{suffix}", None)
                if get is not None and set_ is not None:
                    get.restype, set_.argtypes = ctypes.c_int, [ctypes.c_int]
                    return get, set_
    return None


def get_blas_threads() -> int | None:
    """OpenBLAS's current thread count, or None when it cannot be read."""
    fns = _openblas()
    return None if fns is None else int(fns[0]())


@contextlib.contextmanager
def blas_threads(n: int | None) -> Iterator[None]:
    """Run the block with OpenBLAS limited to ``n`` threads (None: leave it alone)."""
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
        raise ValueError(f"n must be a positive int or None; got {n!r}")
    fns = _openblas() if n is not None else None
    if fns is None:
        yield
        return
    before = int(fns[0]())
    fns[1](n)
    try:
        yield
    finally:
        fns[1](before)
