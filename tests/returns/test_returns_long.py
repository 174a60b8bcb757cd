"""The GAE kernel's chain on long rollouts: close to the plain reference loop
(relative to the size of the advantages) with gamma * lambda near 1 and many episode ends, and
bit-identical between one environment and the same column inside a batch."""

import numpy as np
import pytest

from npg.returns import gae

import returns_reference as ref


@pytest.mark.parametrize("gamma, lam, p_end", [(0.9999, 0.999, 0.001), (0.99, 0.95, 0.05),
                                               (1.0, 1.0, 0.0)])
def test_long_rollout_matches_reference(gamma, lam, p_end):
    rng = np.random.default_rng(7)
    T, N = 20_000, 2
    r, v, nv = 1.0 + rng.normal(size=(T, N)), rng.normal(size=(T, N)), rng.normal(size=(T, N))
    d, c = rng.random((T, N)) < p_end, rng.random((T, N)) < p_end
    adv, _ = gae(r, v, nv, d, c, gamma, lam)
    want, _ = ref.gae(r, v, nv, d, c, gamma, lam)
    # observed: <= 3.1e-15 relative to max |A| (2.5e-12 absolute at max |A| = 825)
    assert np.max(np.abs(adv - want)) <= 1e-13 * np.max(np.abs(want))
    one, _ = gae(r[:, 1], v[:, 1], nv[:, 1], d[:, 1], c[:, 1], gamma, lam)
    np.testing.assert_array_equal(one, adv[:, 1])     # N = 1 path == row path, bit for bit
