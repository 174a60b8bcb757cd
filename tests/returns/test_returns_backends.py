"""The vectorised (loop over T) path on every array module gives the Numba kernels' numbers."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from npg.backend import to_numpy
from npg.returns import discounted_returns, gae, lambda_returns, nstep_returns, td_errors

from returns_reference import make_rollout


def _outputs(r, v, nv, d, c, g, lam, n, k0):
    return [*gae(r, v, nv, d, c, g, lam), td_errors(r, v, nv, d, g),
            lambda_returns(r, v, nv, d, c, g, lam), nstep_returns(r, v, nv, d, c, g, n),
            discounted_returns(r, d, c, g, nv), discounted_returns(r, d, c, g),
            discounted_returns(r, d, c, g, nv, discount_weighting=True, start_step=k0)]


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(T=st.integers(1, 30), N=st.integers(1, 5), seed=st.integers(0, 2**31),
       g=st.floats(0.0, 1.0), lam=st.floats(0.0, 1.0), n=st.integers(1, 8),
       p=st.sampled_from([0.0, 0.1, 0.4]))
def test_backend_matches_numpy_kernels(xp, T, N, seed, g, lam, n, p):
    ro = make_rollout(seed, T, N, p, p)
    args = [ro[k] for k in ("rew", "value", "next_value", "term", "trunc")]
    k0 = np.arange(N) % 3
    want = _outputs(*args, g, lam, n, k0)
    got = _outputs(*[xp.asarray(a) for a in args], g, lam, n, xp.asarray(k0))
    for a, b in zip(got, want):
        assert not isinstance(a, np.ndarray) or xp is np
        a = to_numpy(a)
        assert a.shape == b.shape and a.dtype == b.dtype
        assert np.max(np.abs(a - b)) <= 1e-12


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_backend_keeps_dtype_and_takes_numeric_flags_and_1d(xp, dtype):
    ro = make_rollout(3, 12, 2, 0.2, 0.2)
    dt = getattr(xp, dtype)
    r, v, nv = (xp.asarray(ro[k], dtype=dt) for k in ("rew", "value", "next_value"))
    d, c = (xp.asarray(ro[k].astype(np.int32)) for k in ("term", "trunc"))
    outs = _outputs(r, v, nv, d, c, 0.9, 0.7, 3, 0)
    assert all(o.dtype == dt for o in outs)
    ref = _outputs(*(ro[k].astype(dtype) for k in ("rew", "value", "next_value")),
                   ro["term"], ro["trunc"], 0.9, 0.7, 3, 0)
    tol = 1e-5 if dtype == "float32" else 1e-12
    for a, b in zip(outs, ref):
        np.testing.assert_allclose(to_numpy(a), b, atol=tol, rtol=tol)
    one = _outputs(r[:, 0], v[:, 0], nv[:, 0], d[:, 0], c[:, 0], 0.9, 0.7, 3, 0)
    for a, b in zip(one, outs):
        assert a.shape == (12,)
        np.testing.assert_array_equal(to_numpy(a), to_numpy(b)[:, 0])


def test_backend_ignores_nan_next_value_at_terminated_steps(xp):
    ro = make_rollout(5, 20, 3, 0.3, 0.1, nan_at_terminal=True)
    assert np.isnan(ro["next_value"]).any()
    args = [xp.asarray(ro[k]) for k in ("rew", "value", "next_value", "term", "trunc")]
    for o in _outputs(*args, 0.99, 0.95, 4, 0):
        assert bool(xp.all(xp.isfinite(o)))


def test_backend_bad_input(xp):
    ro = make_rollout(5, 6, 2)
    r, v, nv, d, c = (xp.asarray(ro[k]) for k in ("rew", "value", "next_value", "term", "trunc"))
    with pytest.raises(ValueError, match="value"):
        gae(r, v[:-1, :], nv, d, c, 0.9, 0.9)
    with pytest.raises(ValueError, match="terminated"):
        td_errors(r, v, nv, xp.asarray(np.full((6, 2), 2)), 0.9)
    with pytest.raises(ValueError, match="rew"):
        discounted_returns(xp.asarray(np.where(np.eye(6, 2) > 0, np.nan, ro["rew"])), d, c, 0.9)
    with pytest.raises(ValueError, match="lam"):
        lambda_returns(r, v, nv, d, c, 0.9, 2.0)
