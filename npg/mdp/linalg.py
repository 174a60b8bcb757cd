"""Least squares on any array module: NumPy's and CuPy's ``lstsq``, an SVD elsewhere.

The array-API standard's ``linalg`` extension has ``solve``, ``inv``, ``svd`` and ``pinv`` but no
``lstsq``. The minimum-norm least-squares solution of A x = b with singular values below
``rcond * s_max`` dropped is

    x = V diag(1[s_i > rcond s_max] / s_i) U^T b,        A = U diag(s) V^T (thin SVD),

which is what ``numpy.linalg.lstsq`` returns (it uses the same cutoff rule); modules that have
``linalg.lstsq`` (NumPy, CuPy) use it, so NumPy results are NumPy's own.
"""

from __future__ import annotations

import numpy as np

__all__ = ["lstsq"]


def lstsq(xp, A, b, rcond=None):
    """(x, rank): the min-norm least-squares solution of A x = b and the numerical rank of A.

    A [m, n], b [m]; ``rcond`` as ``numpy.linalg.lstsq`` (None: machine eps times max(m, n)).
    """
    if hasattr(xp.linalg, "lstsq"):
        x, _, rank, _ = xp.linalg.lstsq(A, b, rcond=rcond)
        return x, int(rank)
    if rcond is None:
        rcond = float(np.finfo(np.float64).eps) * max(A.shape)
    U, s, Vh = xp.linalg.svd(A, full_matrices=False)
    keep = s > rcond * s[0] if s.shape[0] else s > 0
    inv = xp.where(keep, 1.0 / xp.where(keep, s, 1.0), 0.0)
    return Vh.T @ (inv * (U.T @ b)), int(xp.sum(xp.astype(keep, xp.int64)))
