"""npg.engine.gemm: OpenBLAS's gemm called from compiled code, and its loop fallback."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from npg.engine.gemm import blas_table, gemm
from npg.engine.blas import openblas_lib

_NO_BLAS = np.zeros(3, np.int64)


def _operands(rng, m, n, k, ta, tb, dtype):
    A = rng.standard_normal((k, m) if ta else (m, k)).astype(dtype)
    B = rng.standard_normal((n, k) if tb else (k, n)).astype(dtype)
    return A, B, (A.T if ta else A).astype(np.float64) @ (B.T if tb else B).astype(np.float64)


def test_blas_table_finds_numpys_openblas():
    table = blas_table()
    assert table.dtype == np.int64 and table.shape == (3,)
    if openblas_lib() is not None:            # NumPy's wheels ship OpenBLAS with CBLAS
        assert table[0] != 0 and table[1] != 0 and table[2] in (0, 1)


@settings(max_examples=200)
@given(st.integers(1, 9), st.integers(1, 9), st.integers(1, 9), st.booleans(), st.booleans(),
       st.sampled_from([np.float32, np.float64]), st.booleans(), st.integers(0, 2**32 - 1))
def test_gemm_equals_numpy(m, n, k, ta, tb, dtype, use_blas, seed):
    """C = op(A) op(B) for every transpose combination, through BLAS and through the loops."""
    rng = np.random.default_rng(seed)
    A, B, ref = _operands(rng, m, n, k, ta, tb, dtype)
    C = np.full((m, n), np.nan, dtype)
    gemm(A, B, C, ta, tb, blas_table() if use_blas else _NO_BLAS)
    tol = 1e-5 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(C, ref, rtol=tol, atol=tol * k)


@pytest.mark.parametrize("use_blas", [True, False])
def test_gemm_writes_only_the_row_slice_it_is_given(use_blas):
    """Row slices of C-ordered buffers (how the compiled loop passes minibatch rows): the
    leading dimensions come from the strides and no row outside the slice is touched."""
    rng = np.random.default_rng(0)
    A_buf, B = rng.standard_normal((10, 6)), rng.standard_normal((6, 4))
    C_buf = np.full((10, 4), -7.0)
    gemm(A_buf[:3], B, C_buf[:3], False, False, blas_table() if use_blas else _NO_BLAS)
    np.testing.assert_allclose(C_buf[:3], A_buf[:3] @ B, rtol=1e-13)
    assert np.all(C_buf[3:] == -7.0)
    G = np.empty((6, 4))                        # A^T C over the 3 rows only
    gemm(A_buf[:3], C_buf[:3], G, True, False, blas_table() if use_blas else _NO_BLAS)
    np.testing.assert_allclose(G, A_buf[:3].T @ C_buf[:3], rtol=1e-13)


def test_gemm_blas_and_loops_agree_on_a_training_shape():
    rng = np.random.default_rng(1)
    A, B = rng.standard_normal((256, 64)), rng.standard_normal((64, 64))
    C1, C2 = np.empty((256, 64)), np.empty((256, 64))
    gemm(A, B, C1, False, False, blas_table())
    gemm(A, B, C2, False, False, _NO_BLAS)
    np.testing.assert_allclose(C1, C2, rtol=1e-12, atol=1e-12)
