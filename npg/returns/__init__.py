"""Returns and advantages from a rollout: discounted returns, TD errors, n-step returns,
lambda-returns and GAE, with exact terminated / truncated semantics.

All take [T, N] arrays aligned as in DESIGN.md (or [T] for one environment) and return [T, N].
NumPy inputs run through Numba kernels (compiled, or loaded from the on-disk cache, on first use;
``import npg.returns`` does not import numba); other array-API modules (CuPy, array_api_strict)
run a loop over T vectorised over N that gives the same numbers, and so do NumPy inputs while
``npg.compiling`` holds the kernels (a warm-up child is compiling them).
"""

from .bootstrapped import gae, lambda_returns, nstep_returns, td_errors
from .discounted import discounted_returns

__all__ = ["discounted_returns", "td_errors", "nstep_returns", "lambda_returns", "gae"]

from .vtrace import vtrace, vtrace_weights  # noqa: E402  (off-policy targets, Espeholt et al.)

__all__ += ["vtrace", "vtrace_weights"]
