"""Shared fixtures: the array backends every core test runs on, and the hypothesis profile."""

import os

# Numba's on-disk cache is not safe for two processes compiling the same function into it at
# once (numba/numba#4807, #10128: one process's index update can be lost, leaving a key that
# points at another signature's machine code, which segfaults when loaded). Each pytest-xdist
# worker, with the subprocesses its tests start, therefore compiles into a cache of its own,
# under NUMBA_CACHE_DIR if that is set, else under .numba_cache/ at the repository root. This
# must happen before numba is imported (it reads the variable once).
_WORKER = os.environ.get("PYTEST_XDIST_WORKER")
if _WORKER:
    _BASE = os.environ.get("NUMBA_CACHE_DIR") or os.path.join(
        os.path.dirname(os.path.dirname(os.path.abspath(__file__))), ".numba_cache")
    os.environ["NUMBA_CACHE_DIR"] = os.path.join(_BASE, _WORKER)

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

from npg.backend import cupy_available  # noqa: E402

# `npg train` compiles a cold Numba cache in a background process (npg.engine.warmup) while it
# trains on the reference path; the CLI tests run in-process compilation instead, so that a
# seeded run is bitwise the same whatever the state of the cache and no test leaves a compiler
# process behind (tests/engine/test_warmup.py turns it on for itself).
os.environ.setdefault("NPG_BACKGROUND_COMPILE", "0")

# Derandomised so that every run of the suite draws the same examples (a seeded test suite);
# no deadline, since the first call of a Numba kernel compiles.
settings.register_profile(
    "npg", derandomize=True, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.differing_executors])
settings.load_profile(os.environ.get("NPG_HYPOTHESIS_PROFILE", "npg"))


def _backends():
    names = ["numpy", "array_api_strict"]
    marks = {"cupy": [pytest.mark.gpu, pytest.mark.skipif(not cupy_available(),
                                                          reason="needs CuPy and a GPU")]}
    params = [pytest.param(n, id=n) for n in names]
    params.append(pytest.param("cupy", id="cupy", marks=marks["cupy"]))
    return params


@pytest.fixture(params=_backends())
def xp(request):
    """The array module under test: numpy, array_api_strict, and cupy where a GPU is present."""
    if request.param == "numpy":
        return np
    if request.param == "array_api_strict":
        import array_api_strict  # a test dependency: missing it is an error, not a skip
        return array_api_strict
    import cupy
    return cupy


@pytest.fixture
def backend_name(xp):
    return xp.__name__
