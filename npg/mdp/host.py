"""The NumPy boundary: one explicit conversion for the modules that stay NumPy code.

Most of ``npg.mdp`` runs on the MDP's own array module (``FiniteMDP.xp``). A few modules are
NumPy code by construction: the exact estimator statistics (``npg.estimator_stats``: many-operand
``np.einsum`` contractions with planned paths, which the array-API standard lacks), V-trace,
the average-reward (differential) quantities, the true-vs-empirical Fisher comparisons and the
convergence-rate bounds. Their public functions that take an MDP are wrapped by
``numpy_boundary``: given an MDP moved to another module, every argument that lives on another
module is converted to NumPy once, at the call, and the result is NumPy. Nothing inside converts again, so a CuPy MDP costs one device-to-host copy per call,
never one per step.

What is converted: a ``FiniteMDP`` (``mdp.to("numpy")``), any array of a non-NumPy module
(``to_numpy``), and dicts, lists and tuples of those (parameters, tables); anything else (policies,
estimators, numbers) is passed through. An estimator's own tables are converted by the
estimator itself (``npg.estimators``), also once per call.
"""

from __future__ import annotations

import functools

import numpy as np

from ..backend import namespace_of, to_numpy
from .finite import FiniteMDP

__all__ = ["numpy_boundary", "to_host"]


def to_host(x):
    """x with every non-NumPy array (and a FiniteMDP's tables) converted to NumPy, once."""
    if isinstance(x, FiniteMDP):
        return x.to("numpy")
    if isinstance(x, dict):
        return {k: to_host(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)) and not hasattr(x, "_fields"):
        return type(x)(to_host(v) for v in x)
    ns = namespace_of(x)
    if ns is not None and ns is not np:
        return to_numpy(x)
    return x


def _off_numpy_mdp(values) -> bool:
    return any(isinstance(v, FiniteMDP) and v.xp is not np for v in values)


def numpy_boundary(fn):
    """Wrap ``fn`` (NumPy code): when an argument is a FiniteMDP on another module, every argument
    is converted once by ``to_host``; with a NumPy MDP the call is passed through unchanged
    (a NumPy MDP already takes a policy on any module, as ``npg.mdp.gradient`` describes)."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if not _off_numpy_mdp(list(args) + list(kwargs.values())):
            return fn(*args, **kwargs)
        return fn(*(to_host(a) for a in args), **{k: to_host(v) for k, v in kwargs.items()})
    wrapper.__doc__ = (fn.__doc__ or "") + (
        "\n\n    NumPy code: an MDP on another array module, and the other arguments with it, "
        "are converted to NumPy once, at the call (``npg.mdp.host``); the result is NumPy.\n")
    return wrapper
