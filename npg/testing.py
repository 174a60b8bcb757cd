"""Public gradient checks, so users can verify their own derivations the way npg verifies its own.

Central differences in float64:

    d f / d theta_i  ~  (f(theta + h e_i) - f(theta - h e_i)) / (2 h)        error O(h^2)

A check passes when ``|numeric - analytic| <= atol + rtol * |analytic|`` coordinate-wise (npg's
rule: atol 1e-7, rtol 1e-6, h 1e-5). The random-direction form (after HIPS autograd's
``check_grads``) compares the directional derivative ``<grad f(theta), u>`` with
``(f(theta + h u) - f(theta - h u)) / (2 h)`` along random unit directions ``u``: two function
calls per direction instead of two per coordinate, for large parameter vectors.

Hypothesis strategies for parameters, observations and actions live in ``npg.strategies``, a
separate module so that ``import npg`` and ``import npg.testing`` never need hypothesis.
"""

from __future__ import annotations

from typing import Callable, Mapping

import numpy as np

from .params import flatten, unflatten

__all__ = ["numeric_grad", "check_grad", "check_grad_directional", "GradientCheckError",
           "ATOL", "RTOL", "STEP"]

ATOL, RTOL, STEP = 1e-7, 1e-6, 1e-5


class GradientCheckError(AssertionError):
    """Raised by the checks when analytic and numeric derivatives disagree."""


def _as_float64_dict(params: Mapping) -> dict:
    out = {}
    for k, v in params.items():
        a = np.asarray(v)
        if a.dtype != np.float64:
            raise TypeError(f"params[{k!r}] must be float64 for a finite-difference check; "
                            f"got {a.dtype}")
        out[k] = a
    return out


def numeric_grad(f: Callable[[dict], float], params: Mapping, h: float = STEP) -> dict:
    """Central-difference gradient of the scalar ``f(params)``, a dict shaped like ``params``."""
    params = _as_float64_dict(params)
    theta = flatten(params)
    g = np.empty_like(theta)
    for i in range(theta.size):
        e = np.zeros_like(theta)
        e[i] = h
        g[i] = (float(f(unflatten(theta + e, params))) -
                float(f(unflatten(theta - e, params)))) / (2.0 * h)
    return unflatten(g, params)


def _compare(numeric, analytic, atol, rtol, what):
    err = np.abs(numeric - analytic)
    bound = atol + rtol * np.abs(analytic)
    if not np.all(err <= bound):
        i = int(np.argmax(err - bound))
        raise GradientCheckError(
            f"{what}: analytic and numeric derivatives disagree at index {i}: analytic "
            f"{np.ravel(analytic)[i]!r}, numeric {np.ravel(numeric)[i]!r}, |diff| "
            f"{np.ravel(err)[i]:.3e} > {np.ravel(bound)[i]:.3e}")


def check_grad(f: Callable[[dict], float], grad: Mapping, params: Mapping, h: float = STEP,
               atol: float = ATOL, rtol: float = RTOL) -> None:
    """Raise ``GradientCheckError`` unless ``grad`` matches the central difference of ``f``.

    ``f`` maps a parameter dict to a scalar; ``grad`` is the analytic gradient at ``params``
    (a dict with the same keys and shapes). Every coordinate is checked: 2 P evaluations of
    ``f``, run with one BLAS thread (OpenBLAS's pool made the many small products of a
    difference 5-10x slower on 2 cores). For large P, ``check_grad_directional`` checks
    ``<grad, u>`` along random directions u with 2 evaluations each.
    """
    params = _as_float64_dict(params)
    if set(grad) != set(params):
        raise GradientCheckError(f"gradient keys {sorted(grad)} differ from parameter keys "
                                 f"{sorted(params)}")
    from .engine.blas import blas_threads
    with blas_threads(1):
        num = numeric_grad(f, params, h)
    for k in params:
        ana = np.asarray(grad[k], dtype=np.float64)
        if ana.shape != params[k].shape:
            raise GradientCheckError(f"grad[{k!r}] has shape {ana.shape}, params[{k!r}] has "
                                     f"{params[k].shape}")
        _compare(num[k], ana, atol, rtol, f"grad[{k!r}]")


def check_grad_directional(f: Callable[[dict], float], grad: Mapping, params: Mapping,
                           rng: np.random.Generator | int = 0, n_directions: int = 8,
                           h: float = STEP, atol: float = ATOL, rtol: float = RTOL) -> None:
    """Random-direction check: ``<grad, u>`` against ``(f(theta+hu) - f(theta-hu)) / 2h``.

    Directions ``u`` are uniform on the unit sphere in R^P, drawn from ``rng``.
    """
    params = _as_float64_dict(params)
    rng = np.random.default_rng(rng)
    theta = flatten(params)
    g = flatten({k: np.asarray(grad[k], dtype=np.float64) for k in params})
    for j in range(n_directions):
        u = rng.standard_normal(theta.size)
        u /= np.linalg.norm(u)
        num = (float(f(unflatten(theta + h * u, params))) -
               float(f(unflatten(theta - h * u, params)))) / (2.0 * h)
        _compare(np.asarray(num), np.asarray(g @ u), atol, rtol, f"direction {j}")
