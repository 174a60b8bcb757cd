"""Input validation shared by every public function.

Each check raises ``TypeError`` (wrong kind of thing) or ``ValueError`` (right kind, wrong value)
with a message that names the argument and says what was expected. The checks use only the
array-API standard, so they work on every backend.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from .backend import get_xp

__all__ = ["as_generator", "check_finite", "check_ndim", "check_shape", "check_float", "check_actions",
           "check_unit_interval", "check_positive_int", "check_positive", "check_real",
           "check_bool", "check_result_finite", "max_abs"]


def check_real(name: str, x, what: str = "a real number") -> float:
    """``x`` as a Python float: a real number (int, float, NumPy real scalar or 0-d real array).

    TypeError for anything else, in particular for a bool (True is not a number here, however
    Python treats it) and for a str ("0.9" is not parsed: a config value read as text is a bug
    to report, not to guess at). NaN and inf are returned as they are (range checks follow).
    """
    if isinstance(x, (bool, np.bool_, str, bytes)):
        raise TypeError(f"{name} must be {what}; got {type(x).__name__} {x!r}")
    if isinstance(x, numbers.Real):
        return float(x)
    if hasattr(x, "shape") and hasattr(x, "dtype") and tuple(x.shape) == ():
        xp = get_xp(x)
        if xp.isdtype(x.dtype, "real floating") or xp.isdtype(x.dtype, "integral"):
            return float(x)
    raise TypeError(f"{name} must be {what}; got {type(x).__name__}")


def check_bool(name: str, x) -> bool:
    """A bool (Python or NumPy); TypeError for 0/1, strings and None."""
    if not isinstance(x, (bool, np.bool_)):
        raise TypeError(f"{name} must be a bool; got {type(x).__name__} {x!r}")
    return bool(x)


def max_abs(x) -> float:
    """max |x| as a Python float (0.0 for an empty array); NaN if x holds NaN."""
    xp = get_xp(x)
    return float(xp.max(xp.abs(x))) if x.size else 0.0


def check_result_finite(what: str, out, cause: str) -> None:
    """ValueError if the (reduced) result ``out`` of ``what`` holds NaN or inf.

    For functions whose inputs were checked finite: a non-finite result then means that an
    intermediate overflowed the dtype, and ``cause`` says which one and what to do. Meant for
    small reduced outputs (a loss, a [B] vector): one ``isfinite`` pass.
    """
    xp = get_xp(out)
    if not bool(xp.all(xp.isfinite(out))):
        dtype = getattr(out, "dtype", "float64")
        raise ValueError(f"{what} overflowed {dtype} (the result is not finite for finite "
                         f"inputs): {cause}")


def check_finite(name: str, x) -> None:
    """ValueError if ``x`` holds NaN or +-inf (on NumPy by the array's own methods: these
    checks run per parameter array and acting step, where a function call's cost shows)."""
    if isinstance(x, np.ndarray):
        ok = bool(np.isfinite(x).all())
    else:
        xp = get_xp(x)
        ok = bool(xp.all(xp.isfinite(x)))
    if not ok:
        raise ValueError(f"{name} must be finite; it contains NaN or inf")


def check_ndim(name: str, x, ndims: tuple[int, ...], what: str) -> None:
    if not hasattr(x, "ndim"):
        raise TypeError(f"{name} must be an array ({what}); got {type(x).__name__}")
    if x.ndim not in ndims:
        raise ValueError(f"{name} must be {what}; got shape {tuple(x.shape)}")


def check_shape(name: str, x, shape: tuple, what: str | None = None) -> None:
    """ValueError unless ``x.shape == shape`` (``None`` entries match any size)."""
    ok = hasattr(x, "shape") and len(x.shape) == len(shape) and all(
        s is None or int(d) == s for d, s in zip(x.shape, shape))
    if not ok:
        want = "[" + ", ".join("*" if s is None else str(s) for s in shape) + "]"
        got = tuple(x.shape) if hasattr(x, "shape") else type(x).__name__
        raise ValueError(f"{name} must have shape {want}{' (' + what + ')' if what else ''}; "
                         f"got {got}")


def check_float(name: str, x) -> None:
    """TypeError unless ``x`` has a real floating dtype (NumPy: dtype kind "f")."""
    if isinstance(x, np.ndarray):
        ok = x.dtype.kind == "f"
    else:
        ok = get_xp(x).isdtype(x.dtype, "real floating")
    if not ok:
        raise TypeError(f"{name} must be a real floating-point array; got dtype {x.dtype}")


def check_actions(name: str, a, n_actions: int) -> None:
    """Discrete actions: an integer array with every entry in [0, n_actions)."""
    xp = get_xp(a)
    if not hasattr(a, "dtype") or not xp.isdtype(a.dtype, "integral"):
        raise TypeError(f"{name} must be an integer array of action indices in "
                        f"[0, {n_actions}); got dtype {getattr(a, 'dtype', type(a).__name__)}")
    if a.size and (bool(xp.any(a < 0)) or bool(xp.any(a >= n_actions))):
        raise ValueError(f"{name} must lie in [0, {n_actions}); got values from "
                         f"{int(xp.min(a))} to {int(xp.max(a))}")


def check_unit_interval(name: str, x: float) -> float:
    """A float in [0, 1] (gamma, lambda); TypeError for a bool or a str."""
    v = check_real(name, x, "a real number in [0, 1]")
    if not 0.0 <= v <= 1.0:
        raise ValueError(f"{name} must lie in [0, 1]; got {v}")
    return v


def check_positive_int(name: str, x) -> int:
    """An int >= 1 (Python or NumPy integer); TypeError for a bool, a float or a str."""
    if isinstance(x, (bool, np.bool_)) or not isinstance(x, int) and not (
            hasattr(x, "dtype") and get_xp(x).isdtype(x.dtype, "integral")):
        raise TypeError(f"{name} must be a positive int; got {type(x).__name__}")
    if int(x) <= 0:
        raise ValueError(f"{name} must be a positive int; got {int(x)}")
    return int(x)


def check_positive(name: str, x) -> float:
    """A finite real number > 0; TypeError for a bool or a str."""
    v = check_real(name, x, "a positive real number")
    if not v > 0.0 or not math.isfinite(v):
        raise ValueError(f"{name} must be a positive finite number; got {v}")
    return v


def as_generator(rng, name: str = "rng") -> np.random.Generator:
    """A numpy Generator from a Generator (returned as is) or an int seed.

    None is refused: npg's randomness is always explicit (scikit-learn's convention of an
    explicit generator argument, without the global-state fallback).
    """
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    raise TypeError(f"{name} must be a numpy.random.Generator or an int seed; got "
                    f"{type(rng).__name__}")
