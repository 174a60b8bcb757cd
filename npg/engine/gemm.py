"""Matrix products from inside Numba-compiled code: OpenBLAS's ``cblas_?gemm`` by its address.

Numba's own ``np.dot`` needs SciPy, and a ctypes function used as a global cannot be cached
(its address would be baked into the machine code). So the compiled PPO update receives the
addresses of ``cblas_sgemm`` / ``cblas_dgemm`` of the OpenBLAS that NumPy loaded as an int64
array ``blas = [addr_s, addr_d, ilp64]`` and calls them through ``_cblas_gemm``, an intrinsic
that turns the integer into a function pointer (the LLVM IR is written below). The call is the
one NumPy's ``matmul`` makes for these shapes, without NumPy's per-call overhead (~1-3 us) and
without holding the GIL.

Where no OpenBLAS with CBLAS symbols is loaded (another BLAS, another OS), ``blas_table()``
returns zero addresses and ``gemm`` runs plain loops instead (same products, summed in order
k; slower, tested to agree with NumPy).

    gemm(A, B, C, trans_a, trans_b, blas):   C = op(A) op(B),  op(X) = X^T if trans else X
A, B, C are 2-D float arrays of one dtype whose rows are contiguous (C-order, or a row slice
of one): ``C [m, n]``, ``op(A) [m, k]``, ``op(B) [k, n]``.
"""

from __future__ import annotations

import ctypes
import functools

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from .blas import openblas_lib

__all__ = ["blas_table", "gemm"]

_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112


@functools.lru_cache(maxsize=1)
def blas_table() -> np.ndarray:
    """int64 ``[addr_s, addr_d, ilp64]`` of the loaded OpenBLAS's cblas_sgemm / cblas_dgemm
    (ilp64 = 1: 64-bit integer interface), or zeros (then ``gemm`` uses plain loops)."""
    found = openblas_lib()
    if found is not None:
        lib = found
        for s_name, d_name, ilp64 in (("scipy_cblas_sgemm64_", "scipy_cblas_dgemm64_", 1),
                                      ("cblas_sgemm64_", "cblas_dgemm64_", 1),
                                      ("scipy_cblas_sgemm", "scipy_cblas_dgemm", 0),
                                      ("cblas_sgemm", "cblas_dgemm", 0)):
            s, d = getattr(lib, s_name, None), getattr(lib, d_name, None)
            if s is not None and d is not None:
                addr = [ctypes.cast(f, ctypes.c_void_p).value for f in (s, d)]
                return np.array(addr + [ilp64], np.int64)
    return np.zeros(3, np.int64)


def _gemm_codegen(ilp64: bool):
    def codegen(context, builder, sig, args):
        addr, ta, tb, m, n, k, a, lda, b, ldb, c, ldc = args
        arr_ty = sig.args[6]
        ft = context.get_value_type(arr_ty.dtype)
        i32, iN = ir.IntType(32), ir.IntType(64 if ilp64 else 32)
        p8 = ir.IntType(8).as_pointer()
        fnty = ir.FunctionType(ir.VoidType(), [i32, i32, i32, iN, iN, iN, ft, p8, iN, p8, iN,
                                               ft, p8, iN])
        fn = builder.inttoptr(addr, fnty.as_pointer())

        def data(value, ty):
            return builder.bitcast(cgutils.create_struct_proxy(ty)(context, builder,
                                                                   value=value).data, p8)

        def as_int(v, ty):
            return v if ty.width == 64 else builder.trunc(v, ty)
        builder.call(fn, [ir.Constant(i32, _ROW_MAJOR), as_int(ta, i32), as_int(tb, i32),
                          as_int(m, iN), as_int(n, iN), as_int(k, iN), ir.Constant(ft, 1.0),
                          data(a, sig.args[6]), as_int(lda, iN), data(b, sig.args[8]),
                          as_int(ldb, iN), ir.Constant(ft, 0.0), data(c, sig.args[10]),
                          as_int(ldc, iN)])
        return context.get_dummy_value()
    return codegen


def _gemm_intrinsic(ilp64: bool):
    def typer(typingctx, addr, ta, tb, m, n, k, a, lda, b, ldb, c, ldc):
        i64 = types.int64
        sig = types.void(i64, i64, i64, i64, i64, i64, a, i64, b, i64, c, i64)
        return sig, _gemm_codegen(ilp64)
    typer.__name__ = f"_cblas_gemm_{'ilp64' if ilp64 else 'lp64'}"
    return intrinsic(typer)


_cblas_gemm64 = _gemm_intrinsic(True)
_cblas_gemm32 = _gemm_intrinsic(False)


@njit(cache=True, nogil=True, error_model="numpy")
def _gemm_loops(A, B, C, trans_a, trans_b):
    """C = op(A) op(B) by loops (no BLAS): C_ij = sum_k op(A)_ik op(B)_kj, summed in order k."""
    m, n = C.shape
    k = A.shape[0] if trans_a else A.shape[1]
    C[:, :] = 0.0
    for i in range(m):
        for p in range(k):
            a = A[p, i] if trans_a else A[i, p]
            if trans_b:
                for j in range(n):
                    C[i, j] += a * B[j, p]
            else:
                for j in range(n):
                    C[i, j] += a * B[p, j]


@njit(cache=True, nogil=True, error_model="numpy")
def gemm(A, B, C, trans_a, trans_b, blas):
    """C [m, n] = op(A) op(B) (see the module docstring); blas from ``blas_table()``."""
    m, n = C.shape
    k = A.shape[0] if trans_a else A.shape[1]
    addr = blas[0] if C.itemsize == 4 else blas[1]
    if addr == 0 or m == 0:
        _gemm_loops(A, B, C, trans_a, trans_b)
        return
    item = C.itemsize
    ta, tb = (_TRANS if trans_a else _NO_TRANS), (_TRANS if trans_b else _NO_TRANS)
    lda, ldb, ldc = A.strides[0] // item, B.strides[0] // item, C.strides[0] // item
    if blas[2] == 1:
        _cblas_gemm64(addr, ta, tb, m, n, k, A, lda, B, ldb, C, ldc)
    else:
        _cblas_gemm32(addr, ta, tb, m, n, k, A, lda, B, ldb, C, ldc)
