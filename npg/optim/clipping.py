"""Global-norm clipping (Pascanu, Mikolov & Bengio 2013), of a gradient dict or of its vectors.

    n = ||g|| = sqrt(sum_k ||g_k||^2)
    g <- g * max_norm / max(n, max_norm)           (unchanged, bit for bit, when n <= max_norm)

``clip_vectors_by_global_norm`` is the arithmetic, on gradient vectors (one per network and
dtype, as ``VectorRun.grad_vectors`` gives them); ``clip_by_global_norm`` flattens a dict into
such vectors (``npg.params.flatten``, one per dtype), clips them and splits them back, so the
two give the same bits for the same gradients.
"""

from __future__ import annotations

from typing import Mapping, Sequence

from ..backend import create, device_of, get_xp
from ..checks import check_finite, check_positive, max_abs
from ..params import flatten, unflatten, vector_norm
from .vector import _groups, _quiet

__all__ = ["clip_by_global_norm", "clip_vectors_by_global_norm"]


@_quiet
def clip_by_global_norm(grads: Mapping, max_norm: float):
    """Rescale ``grads`` so that their global norm is at most ``max_norm`` (module docstring).

    Returns ``(clipped grads, n)`` with n the norm *before* clipping (a 0-d array in the first
    gradient's dtype); each clipped gradient keeps its dtype. The gradients are flattened into
    one vector per dtype (``npg.params.flatten``) and n is ``npg.params.vector_norm`` of them
    together (sqrt(sum g^2), or scaled by max |g| where the squares would overflow or
    underflow: float32 gradients of 1e20 have a finite norm).
    """
    max_norm = check_positive("max_norm", max_norm)
    if not isinstance(grads, Mapping) or not grads:
        raise TypeError("grads must be a non-empty dict of arrays")
    groups = _groups(grads)
    vectors = [flatten({k: grads[k] for k in keys}) for keys in groups]
    clipped_vectors, norm = _clip(vectors, max_norm, grads)
    clipped = {}
    for keys, v in zip(groups, clipped_vectors):
        clipped.update(unflatten(v, {k: grads[k] for k in keys}))
    return (clipped if len(groups) == 1 else {k: clipped[k] for k in grads}), norm


@_quiet
def clip_vectors_by_global_norm(vectors: Sequence, max_norm: float):
    """The clipping of the module docstring on gradient vectors ``[g_1, ..., g_J]``, with n the
    ``vector_norm`` of their concatenation in the first vector's dtype. Returns ``(clipped
    vectors, n)``: the bits of ``clip_by_global_norm`` of the dict they were flattened from.
    A non-finite norm raises a ValueError naming ``vectors[j]`` (``clip_by_global_norm`` names
    the dict's key)."""
    max_norm = check_positive("max_norm", max_norm)
    if not vectors:
        raise TypeError("vectors must be a non-empty sequence of gradient vectors")
    return _clip(list(vectors), max_norm, None)


def _clip(vectors: list, max_norm: float, tree: Mapping | None):
    xp = get_xp(*vectors)
    dtype = vectors[0].dtype
    norm = vector_norm(vectors[0] if len(vectors) == 1 else
                       xp.concat([xp.astype(v, dtype, copy=False) for v in vectors]))
    if not bool(xp.isfinite(norm)):             # a NaN or inf in a gradient, or an overflow
        named = tree if tree is not None else {j: v for j, v in enumerate(vectors)}
        what = "grads" if tree is not None else "vectors"
        for k, g in named.items():
            check_finite(f"{what}[{k!r}]", g)
        s = max(max_abs(g) for g in named.values())
        raise ValueError(f"the global norm of grads overflows {dtype}: max |g| = {s:.3g} "
                         f"and ||g|| > {float(xp.finfo(dtype).max):.3g}; the gradients have "
                         f"diverged (lower the learning rate or scale the loss)")
    scale = max_norm / xp.maximum(norm, create(xp, "asarray", max_norm, dtype=dtype,
                                              device=device_of(norm)))
    return [v * xp.astype(scale, v.dtype) for v in vectors], norm
