"""Three LLVM operations that Numba does not spell, for the engine's elementwise kernels.

    fma(a, b, c)         a b + c rounded once (IEEE 754 fusedMultiplyAdd, LLVM's ``llvm.fma``):
                         one instruction on x86-64 with FMA3 (AVX2 machines) and on AArch64;
                         elsewhere LLVM calls libm's ``fma``, which is exact too, only slower.
                         So a kernel written with it gives the same bits on every machine,
                         unlike ``fastmath={"contract"}``, which lets the compiler choose.
    f64_from_bits(i)     the float64 whose IEEE 754 bit pattern is the int64 i
    bits_of_f64(x)       the int64 bit pattern of the float64 x

All three are bit-exact and vectorise (a bitcast costs nothing in a vector register).
They are for compiled code only (``@njit`` callers).
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.extending import intrinsic

__all__ = ["fma", "f64_from_bits", "bits_of_f64"]


@intrinsic
def fma(typingctx, a, b, c):
    """a b + c with one rounding, for floats; mixed float32 and float64 arguments are first
    converted to float64 (NumPy's promotion, as ``a * b + c`` would)."""
    if not all(isinstance(t, types.Float) for t in (a, b, c)):
        return None
    ft = max((a, b, c), key=lambda t: t.bitwidth)

    def codegen(context, builder, sig, args):
        vals = [context.cast(builder, v, t, ft) for v, t in zip(args, sig.args)]
        ty = vals[0].type
        f = builder.module.declare_intrinsic("llvm.fma", [ty], ir.FunctionType(ty, [ty] * 3))
        return builder.call(f, vals)
    return ft(a, b, c), codegen


@intrinsic
def f64_from_bits(typingctx, bits):
    """The float64 whose IEEE 754 bit pattern is the int64 ``bits``."""
    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], ir.DoubleType())
    return types.float64(types.int64), codegen


@intrinsic
def bits_of_f64(typingctx, x):
    """The int64 bit pattern of the float64 ``x``."""
    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], ir.IntType(64))
    return types.int64(types.float64), codegen
