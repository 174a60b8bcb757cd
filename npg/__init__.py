"""npg: NumPy-only policy gradients, every derivative derived by hand and checked.

Importing npg compiles nothing: Numba kernels compile (or load from the on-disk cache) on first
use.
"""

from .backend import default_xp, get_xp, set_backend, to_numpy, use_backend

__version__ = "0.1.0"

__all__ = ["get_xp", "default_xp", "use_backend", "set_backend", "to_numpy", "__version__"]
