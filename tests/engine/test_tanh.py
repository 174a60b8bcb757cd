"""The engine's float64 tanh (``npg.engine.tanh``) against the reference ``np.tanh`` of ``npg.nn``."""

import numpy as np

from npg.engine.tanh import tanh64_exp_inplace


def test_fast_float64_tanh_matches_numpy():
    # The engine's in-place float64 NumPy tanh (exp-based, Taylor series near 0) against np.tanh.
    x = np.concatenate([np.linspace(-40.0, 40.0, 20001), np.geomspace(1e-300, 1.0, 2000),
                        -np.geomspace(1e-300, 1.0, 2000), [0.0, -0.0, 1e-2, -1e-2, 800.0, -800.0,
                                                          1e308, -1e308]])
    want = np.tanh(x)
    got = tanh64_exp_inplace(x.copy())
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got, want, rtol=4e-15, atol=0.0)
    assert np.array_equal(np.signbit(got), np.signbit(want))
    # a [B, n] batch larger than one block is processed block by block, with the same values
    batch = np.resize(x, (2000, 13))
    np.testing.assert_array_equal(tanh64_exp_inplace(batch.copy()),
                                  np.resize(tanh64_exp_inplace(x.copy()), (2000, 13)))
