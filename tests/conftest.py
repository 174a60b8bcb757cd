"""Shared fixtures: the array backends every core test runs on, and the hypothesis profile."""

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

from npg.backend import cupy_available

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
