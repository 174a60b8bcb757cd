"""``npg.engine.bits``: one rounding in fma, bit patterns equal to NumPy's views."""

import numpy as np
from hypothesis import given, settings, strategies as st
from numba import njit

from npg.engine.bits import bits_of_f64, f64_from_bits, fma


@njit
def _fma(a, b, c):
    return fma(a, b, c)


@njit
def _roundtrip(x):
    i = bits_of_f64(x)
    return i, f64_from_bits(i)


@njit
def _from_bits(i):
    return f64_from_bits(i)


def test_fma_rounds_once_where_multiply_then_add_loses_the_result():
    # (1 + 2^-30)(1 - 2^-30) - 1 = -2^-60 exactly; the product alone rounds to 1, so a b + c = 0.
    a, b = 1.0 + 2.0**-30, 1.0 - 2.0**-30
    assert a * b - 1.0 == 0.0
    assert _fma(a, b, -1.0) == -(2.0**-60)
    a32, b32 = np.float32(1 + 2.0**-13), np.float32(1 - 2.0**-13)
    assert a32 * b32 - np.float32(1.0) == 0.0
    got = _fma(a32, b32, np.float32(-1.0))
    assert isinstance(got, float) and got == -(2.0**-26)        # float32 result, exact


def test_fma_promotes_mixed_widths_to_float64():
    # float32 a, b times float64 c: computed in float64, as a * b + c would be
    x = np.float32(0.1)
    assert _fma(x, x, 1.0) == float(x) * float(x) + 1.0


@settings(max_examples=200)
@given(st.floats(-1e150, 1e150), st.floats(-1e150, 1e150), st.floats(-1e300, 1e300))
def test_fma_is_the_correctly_rounded_sum(a, b, c):
    from fractions import Fraction
    want = float(Fraction(a) * Fraction(b) + Fraction(c))
    assert _fma(a, b, c) == want


@settings(max_examples=200)
@given(st.floats(allow_nan=False))
def test_bit_patterns_are_numpys_views(x):
    i, back = _roundtrip(x)
    assert i == np.array(x).view(np.int64)
    assert np.array(back).view(np.int64) == np.array(x).view(np.int64)       # -0.0 kept


def test_f64_from_bits_builds_powers_of_two():
    for k in (-1022, -1, 0, 1, 52, 1023):
        assert _from_bits((k + 1023) << 52) == 2.0**k
        assert _roundtrip(2.0**k)[0] == (k + 1023) << 52
