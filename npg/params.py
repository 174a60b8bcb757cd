"""Parameters are plain dicts of named arrays; gradients are dicts with the same keys and shapes.

The math sometimes wants one vector theta in R^P (finite differences, Fisher matrices, natural
gradients, per-sample scores [B, P]); ``flatten``/``unflatten`` convert in the dict's key order,
which is the order the policy's ``init`` created the keys in.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from .backend import create, default_xp, device_of, get_xp

Params = dict  # str -> array

__all__ = ["Params", "flatten", "unflatten", "size", "zeros_like", "add", "scale", "axpy",
           "vdot", "global_norm", "copy", "allclose_tree"]


def size(params: Mapping) -> int:
    """P, the total number of scalars in ``params``."""
    total = 0
    for v in params.values():
        n = 1
        for d in v.shape:
            n *= int(d)
        total += n
    return total


def flatten(params: Mapping):
    """Concatenate every array of ``params`` (in key order, C order) into one vector [P]."""
    arrays = list(params.values())
    xp = get_xp(*arrays)
    if not arrays:
        return xp.zeros((0,))
    return xp.concat([xp.reshape(a, (-1,)) for a in arrays])


def unflatten(vector, like: Mapping) -> Params:
    """Inverse of ``flatten``: split a vector [P] into arrays shaped like ``like``'s values."""
    xp = get_xp(vector)
    if vector.ndim != 1 or vector.shape[0] != size(like):
        raise ValueError(f"vector must have shape [{size(like)}]; got {tuple(vector.shape)}")
    out, start = {}, 0
    for k, v in like.items():
        n = size({k: v})
        out[k] = xp.reshape(vector[start:start + n], tuple(v.shape))
        start += n
    return out


def zeros_like(params: Mapping) -> Params:
    return {k: get_xp(v).zeros_like(v) for k, v in params.items()}


def copy(params: Mapping) -> Params:
    return {k: get_xp(v).asarray(v, copy=True) for k, v in params.items()}


def add(a: Mapping, b: Mapping) -> Params:
    return {k: a[k] + b[k] for k in a}


def scale(a: Mapping, c: float) -> Params:
    return {k: c * v for k, v in a.items()}


def axpy(c: float, x: Mapping, y: Mapping) -> Params:
    """c * x + y, key by key."""
    return {k: c * x[k] + y[k] for k in y}


def vdot(a: Mapping, b: Mapping):
    """sum over keys of <a[k], b[k]>, a 0-d array."""
    return sum(get_xp(a[k]).sum(a[k] * b[k]) for k in a)


def global_norm(grads: Mapping):
    """||g|| = sqrt(sum_k ||g_k||^2), the norm of the flattened gradient (a 0-d array in the
    first array's dtype); 0 for all-zero or empty gradients.

    Computed directly as sqrt(q), q = sum_k sum g_k^2, when q is finite and q >= n tiny / eps
    (n elements; tiny, eps of the dtype): then no square overflowed, and the squares that
    underflowed (each below tiny) lose less than eps q together. Otherwise (float32 gradients of
    1e20, say, or of 1e-25) as s sqrt(sum_k ||g_k / s||^2) with s = max_k max |g_k|, whose
    squares can neither overflow nor all underflow. The two forms differ only in rounding.
    """
    if not grads:
        return default_xp().asarray(0.0)
    xp = get_xp(*grads.values())
    dtype = next(iter(grads.values())).dtype
    gs = [xp.astype(g, dtype, copy=False) for g in grads.values()]
    with np.errstate(over="ignore"):              # an overflow takes the scaled form below
        q = sum(xp.sum(g * g) for g in gs)
    fi = xp.finfo(dtype)
    if bool(xp.isfinite(q)) and float(q) >= sum(g.size for g in gs) * fi.smallest_normal / fi.eps:
        return xp.sqrt(xp.astype(xp.asarray(q), dtype))
    s = xp.max(xp.stack([xp.max(xp.abs(g)) if g.size
                         else create(xp, "asarray", 0, dtype=dtype, device=device_of(g))
                         for g in gs]))
    safe = xp.where(s > 0, s, xp.ones_like(s))
    return safe * xp.sqrt(sum(xp.sum((g / safe) ** 2) for g in gs))


def allclose_tree(a: Mapping, b: Mapping, rtol: float = 1e-7, atol: float = 0.0) -> bool:
    if a.keys() != b.keys():
        return False
    for k in a:
        xp = get_xp(a[k])
        if a[k].shape != b[k].shape or not bool(xp.all(xp.abs(a[k] - b[k])
                                                        <= atol + rtol * xp.abs(b[k]))):
            return False
    return True
