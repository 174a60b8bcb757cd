"""Parameters are plain dicts of named arrays; gradients are dicts with the same keys and shapes.

The math sometimes wants one vector theta in R^P (finite differences, Fisher matrices, natural
gradients, per-sample scores [B, P]); ``flatten``/``unflatten`` convert in the dict's key order,
which is the order the policy's ``init`` created the keys in.
"""

from __future__ import annotations

import math
from typing import Mapping

import numpy as np

from .backend import default_xp, get_xp, reshape

Params = dict  # str -> array

__all__ = ["Params", "flatten", "unflatten", "size", "zeros_like", "add", "scale", "axpy",
           "vdot", "vector_norm", "global_norm", "copy", "allclose_tree"]


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
    return xp.concat([reshape(xp, a, (-1,)) for a in arrays])


def unflatten(vector, like: Mapping) -> Params:
    """Inverse of ``flatten``: split a vector [P] into arrays shaped like ``like``'s values."""
    xp = get_xp(vector)
    if vector.ndim != 1 or vector.shape[0] != size(like):
        raise ValueError(f"vector must have shape [{size(like)}]; got {tuple(vector.shape)}")
    out, start = {}, 0
    for k, v in like.items():
        shape = tuple(v.shape)
        n = math.prod(shape)
        out[k] = reshape(xp, vector[start:start + n], shape)
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


def vector_norm(v):
    """||v|| = sqrt(sum_i v_i^2) of one vector [n] (a 0-d array in v's dtype; 0 when empty).

    Computed directly as sqrt(q), q = sum v^2, when q is finite and q >= n tiny / eps (tiny,
    eps of the dtype): then no square overflowed, and the squares that underflowed (each below
    tiny) lose less than eps q together. Otherwise (float32 entries of 1e20, say, or of 1e-25)
    as s sqrt(sum (v / s)^2) with s = max |v|, whose squares can neither overflow nor all
    underflow. The two forms differ only in rounding.
    """
    xp = get_xp(v)
    with np.errstate(over="ignore"):              # an overflow takes the scaled form below
        q = xp.sum(v * v)
    fi = xp.finfo(v.dtype)
    if bool(xp.isfinite(q)) and float(q) >= v.shape[0] * fi.smallest_normal / fi.eps:
        return xp.sqrt(q)                         # (always so for an empty v: q = 0 >= 0)
    s = xp.max(xp.abs(v))
    safe = xp.where(s > 0, s, xp.ones_like(s))
    return safe * xp.sqrt(xp.sum((v / safe) ** 2))


def global_norm(grads: Mapping):
    """||g|| = sqrt(sum_k ||g_k||^2), the norm of the flattened gradient: ``vector_norm`` of
    ``flatten(grads)`` in the first array's dtype (a 0-d array); 0 for empty gradients."""
    if not grads:
        return default_xp().asarray(0.0)
    xp = get_xp(*grads.values())
    dtype = next(iter(grads.values())).dtype
    return vector_norm(flatten({k: xp.astype(g, dtype, copy=False) for k, g in grads.items()}))


def allclose_tree(a: Mapping, b: Mapping, rtol: float = 1e-7, atol: float = 0.0) -> bool:
    if a.keys() != b.keys():
        return False
    for k in a:
        xp = get_xp(a[k])
        if a[k].shape != b[k].shape or not bool(xp.all(xp.abs(a[k] - b[k])
                                                        <= atol + rtol * xp.abs(b[k]))):
            return False
    return True
