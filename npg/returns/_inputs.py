"""Validation and normalisation of the [T, N] rollout arrays shared by every return function.

What is accepted (and why):

* ``rew`` [T, N] (or [T]): a real floating array, or an integer array. Integer rewards (game
  scores) are accepted and converted to the output dtype; boolean rewards are rejected as a
  probable mix-up with a flag array.
* ``value`` / ``next_value`` [T, N]: real floating arrays.
* The output dtype is the promoted dtype of the floating inputs (float32 stays float32, float64
  stays float64, float32 with float64 gives float64); float64 when every input is integer.
* ``terminated`` / ``truncated`` [T, N]: boolean arrays, or numeric arrays holding only 0 and 1.
* ``gamma``, ``lam``: real scalars in [0, 1].
* 1-D inputs [T] are treated as N = 1 and the outputs are [T] again.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from types import ModuleType

from ..checks import check_unit_interval
from .. import compiling
from ..backend import get_xp

__all__ = ["Batch", "prepare", "check_gamma", "check_outputs_finite", "use_kernels", "kernel_args",
           "scalar"]


@dataclass
class Batch:
    """Rollout arrays after validation: all [T, N], floats in ``dtype``, flags boolean."""

    xp: ModuleType
    dtype: object
    squeeze: bool          # the caller passed 1-D [T] arrays
    rew: object
    value: object          # None when the function takes no value
    next_value: object     # None when the function takes no next_value
    terminated: object
    truncated: object      # None when the function takes no truncated

    def shape_out(self, y):
        """Back to the caller's layout: [T] for 1-D inputs, [T, N] otherwise."""
        return y[:, 0] if self.squeeze else y


def check_gamma(name: str, x) -> float:
    """A discount or trace parameter: a real scalar in [0, 1] (0-d arrays accepted)."""
    if hasattr(x, "shape") and tuple(x.shape) != ():
        raise TypeError(f"{name} must be a scalar in [0, 1]; got an array of shape "
                        f"{tuple(x.shape)}")
    if isinstance(x, (bool, str, bytes)) or not (isinstance(x, numbers.Real)
                                                 or hasattr(x, "shape")):
        raise TypeError(f"{name} must be a real number in [0, 1]; got {type(x).__name__}")
    return check_unit_interval(name, x)


def _is_array(x) -> bool:
    return hasattr(x, "shape") and hasattr(x, "dtype") and hasattr(x, "ndim")


def _check_layout(name: str, x, shape) -> None:
    if not _is_array(x):
        raise TypeError(f"{name} must be an array of shape [T, N] or [T]; "
                        f"got {type(x).__name__}")
    if shape is None:
        if x.ndim not in (1, 2):
            raise ValueError(f"{name} must have shape [T, N] or [T]; got {tuple(x.shape)}")
        if x.shape[0] == 0 or (x.ndim == 2 and x.shape[1] == 0):
            raise ValueError(f"{name} must hold at least one step and one environment "
                             f"(T >= 1, N >= 1); got shape {tuple(x.shape)}")
    elif tuple(x.shape) != tuple(shape):
        raise ValueError(f"{name} must have the shape of rew {tuple(shape)}; "
                         f"got {tuple(x.shape)}")


def _float_kind(xp, name: str, x, integers_ok: bool) -> bool:
    """True for a real floating array, False for an accepted integer array, else TypeError."""
    if xp.isdtype(x.dtype, "real floating"):
        return True
    if integers_ok and xp.isdtype(x.dtype, "integral") and x.dtype != xp.bool:
        return False
    what = "a real floating or integer array" if integers_ok else "a real floating array"
    raise TypeError(f"{name} must be {what}; got dtype {x.dtype}")


def _as_flags(xp, name: str, x):
    """Boolean flags from a bool array or a numeric array holding only 0 and 1."""
    if x.dtype == xp.bool:
        return x
    if not (xp.isdtype(x.dtype, "integral") or xp.isdtype(x.dtype, "real floating")):
        raise TypeError(f"{name} must be a boolean array (or 0/1 numbers); got dtype {x.dtype}")
    is_one = x == 1
    if not bool(xp.all(is_one | (x == 0))):
        raise ValueError(f"{name} must hold only 0/1 (or booleans); got other values")
    return is_one


def prepare(rew, terminated, *, value=None, next_value=None, truncated=None,
            has_value=False, has_next_value=False, has_truncated=False) -> Batch:
    """Check every array against ``rew``'s shape, pick the output dtype, cast, reshape to [T, N]."""
    _check_layout("rew", rew, None)
    shape = tuple(rew.shape)
    named = [("rew", rew), ("terminated", terminated)]
    if has_value:
        named.append(("value", value))
    if has_next_value:
        named.append(("next_value", next_value))
    if has_truncated:
        named.append(("truncated", truncated))
    for name, x in named[1:]:
        _check_layout(name, x, shape)
    xp = get_xp(*(x for _, x in named))
    floats = [x.dtype for name, x in named if name in ("rew", "value", "next_value")
              and _float_kind(xp, name, x, integers_ok=(name == "rew"))]
    dtype = xp.result_type(*floats) if floats else xp.float64

    def as_2d(x):
        return xp.reshape(x, (shape[0], 1)) if len(shape) == 1 else x

    def as_float(x):
        return None if x is None else as_2d(x if x.dtype == dtype else xp.astype(x, dtype))

    return Batch(
        xp=xp, dtype=dtype, squeeze=len(shape) == 1,
        rew=as_float(rew), value=as_float(value), next_value=as_float(next_value),
        terminated=as_2d(_as_flags(xp, "terminated", terminated)),
        truncated=as_2d(_as_flags(xp, "truncated", truncated)) if has_truncated else None)


def check_outputs_finite(batch: Batch, out, uses_value: bool = True) -> None:
    """Never a silent NaN: when an output is NaN or inf, say which input caused it.

    Checking the outputs costs one pass; only on failure are the inputs inspected. A NaN in
    ``next_value`` where ``terminated`` is allowed (that value is never used).
    """
    xp = batch.xp
    if bool(xp.all(xp.isfinite(out))) and not (batch.value is not None and not uses_value):
        return
    for name, x in (("rew", batch.rew), ("value", batch.value)):
        if x is not None and not bool(xp.all(xp.isfinite(x))):
            raise ValueError(f"{name} must be finite; it contains NaN or inf")
    if batch.next_value is not None:
        ok = xp.isfinite(batch.next_value) | batch.terminated
        if not bool(xp.all(ok)):
            raise ValueError("next_value must be finite wherever terminated is False; "
                             "it contains NaN or inf")
    if not bool(xp.all(xp.isfinite(out))):
        raise ValueError("the result overflowed to inf: rew and value are too large for dtype "
                         f"{batch.dtype}")


def use_kernels(batch: Batch) -> bool:
    """Whether to run the Numba kernels: for NumPy inputs, unless ``npg.compiling`` holds them
    (a warm-up child is compiling them; the array-API path, with the same numbers, runs
    meanwhile)."""
    return batch.xp.__name__ == "numpy" and compiling.kernels_ready()


def kernel_args(batch: Batch, *arrays):
    """C-contiguous NumPy views (copies only where needed) for the Numba kernels."""
    import numpy as np
    return tuple(None if a is None else np.ascontiguousarray(a) for a in arrays)


def scalar(batch: Batch, x: float):
    """``x`` as a scalar of the output dtype (so float32 rollouts are computed in float32)."""
    import numpy as np
    return np.dtype(batch.dtype).type(x)
