"""npg: NumPy-only policy gradients, every derivative derived by hand and checked.

The gradient core (distributions, networks, policies, critics, optimizers, return kernels) is
imported with the package; the modules that pull in gymnasium (``npg.envs``, ``npg.algos``,
``npg.app``) and the exact-MDP toolkit load on first attribute access. Three layers: the
textbook (everything outside ``engine`` and ``app``), ``npg.engine`` (compiled code that exists
only for speed, tested equal to the textbook) and ``npg.app`` (agent, CLI, checkpoints, logs,
sweeps). Importing npg compiles nothing: Numba kernels compile (or load from the on-disk cache) on
their first call.
"""

from __future__ import annotations

import importlib

from . import distributions, features, nn, optim, params, policies, returns, schedules, values
from .backend import default_xp, get_xp, set_backend, to_numpy, use_backend

from .version import VERSION as __version__

_LAZY_MODULES = {"mdp", "estimators", "estimator_stats", "envs", "algos", "engine", "app",
                 "losses", "testing"}
_LAZY_NAMES = {"Agent": "app.agent", "Collector": "envs.rollout", "Rollout": "envs.rollout",
               "make_vec_env": "envs"}

__all__ = ["get_xp", "default_xp", "use_backend", "set_backend", "to_numpy", "__version__",
           "distributions", "features", "nn", "optim", "params", "policies", "returns",
           "schedules", "values", *sorted(_LAZY_MODULES), *sorted(_LAZY_NAMES)]


def __getattr__(name: str):
    if name in _LAZY_MODULES:
        return importlib.import_module(f".{name}", __name__)
    if name in _LAZY_NAMES:
        return getattr(importlib.import_module(f".{_LAZY_NAMES[name]}", __name__), name)
    raise AttributeError(f"module 'npg' has no attribute {name!r}")
