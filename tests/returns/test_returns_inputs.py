"""npg.returns input handling: dtypes, layouts, 1-D inputs, flags as numbers, and bad input."""

import numpy as np
import pytest

from npg.returns import discounted_returns, gae, lambda_returns, nstep_returns, td_errors

from returns_reference import make_rollout

RO = make_rollout(7, 9, 3, p_term=0.2, p_trunc=0.2)


def _all(r, v, nv, d, c, **kw):
    """Every public function on one rollout, as a list of outputs."""
    return [gae(r, v, nv, d, c, 0.9, 0.8)[0], gae(r, v, nv, d, c, 0.9, 0.8)[1],
            td_errors(r, v, nv, d, 0.9), lambda_returns(r, v, nv, d, c, 0.9, 0.8),
            nstep_returns(r, v, nv, d, c, 0.9, 3), discounted_returns(r, d, c, 0.9, nv),
            discounted_returns(r, d, c, 0.9, discount_weighting=True)]


def _args(ro=RO):
    return ro["rew"], ro["value"], ro["next_value"], ro["term"], ro["trunc"]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_kept(dtype):
    r, v, nv, d, c = _args()
    outs = _all(r.astype(dtype), v.astype(dtype), nv.astype(dtype), d, c)
    assert all(o.dtype == dtype for o in outs)
    if dtype == np.float32:                           # float32 arithmetic, float64 within 1e-5
        for lo, hi in zip(outs, _all(r, v, nv, d, c)):
            np.testing.assert_allclose(lo, hi, rtol=1e-5, atol=1e-5)


def test_mixed_float_dtypes_promote():
    r, v, nv, d, c = _args()
    assert gae(r.astype(np.float32), v, nv.astype(np.float32), d, c, 0.9, 0.9)[0].dtype \
        == np.float64


def test_integer_rewards_are_accepted_and_converted():
    """Documented choice: integer rewards (scores) are cast to the output dtype."""
    r, v, nv, d, c = _args()
    ri = np.round(r * 5).astype(np.int64)
    for lo, hi in zip(_all(ri, v, nv, d, c), _all(ri.astype(np.float64), v, nv, d, c)):
        assert lo.dtype == np.float64
        np.testing.assert_array_equal(lo, hi)
    assert gae(ri, v.astype(np.float32), nv.astype(np.float32), d, c, 0.9, 0.9)[0].dtype \
        == np.float32
    assert discounted_returns(ri.astype(np.int32), d, c, 0.9).dtype == np.float64


def test_flags_as_zero_one_numbers_equal_booleans():
    r, v, nv, d, c = _args()
    want = _all(r, v, nv, d, c)
    for kind in (np.int8, np.int64, np.float32, np.uint8):
        got = _all(r, v, nv, d.astype(kind), c.astype(kind))
        for a, b in zip(got, want):
            np.testing.assert_array_equal(a, b)


def test_non_contiguous_and_read_only_arrays():
    r, v, nv, d, c = _args()
    want = _all(r, v, nv, d, c)
    # transposed views of [N, T] arrays and every-other-row slices of [2T, N] arrays
    views = [np.ascontiguousarray(x.T).T for x in (r, v, nv, d, c)]
    assert not views[0].flags.c_contiguous
    doubled = [np.repeat(x, 2, axis=0)[::2] for x in (r, v, nv, d, c)]
    frozen = [x.copy() for x in (r, v, nv, d, c)]
    for x in frozen:
        x.setflags(write=False)
    for args in (views, doubled, frozen):
        for a, b in zip(_all(*args), want):
            np.testing.assert_array_equal(a, b)


def test_one_dimensional_inputs_are_one_environment():
    r, v, nv, d, c = _args()
    for i in range(r.shape[1]):
        cols = [x[:, i] for x in (r, v, nv, d, c)]
        for a, b in zip(_all(*cols), _all(r, v, nv, d, c)):
            assert a.shape == (r.shape[0],)
            np.testing.assert_array_equal(a, b[:, i])


def test_inputs_are_not_modified():
    args = [x.copy() for x in _args()]
    _all(*args)
    for a, b in zip(args, _args()):
        np.testing.assert_array_equal(a, b)


def test_extreme_legal_values_stay_finite():
    r, v, nv, d, c = _args()
    outs = _all(r * 1e300, v, nv, d, c)
    outs += _all(r * 1e-300, v * 1e-300, nv * 1e-300, d, c)
    assert all(np.all(np.isfinite(o)) for o in outs)


# ---- bad input ----------------------------------------------------------------------------------

def test_mismatched_shapes_name_the_argument():
    r, v, nv, d, c = _args()
    short = lambda x: x[:-1]                          # noqa: E731
    with pytest.raises(ValueError, match="value"):
        gae(r, short(v), nv, d, c, 0.9, 0.9)
    with pytest.raises(ValueError, match="next_value"):
        gae(r, v, short(nv), d, c, 0.9, 0.9)
    with pytest.raises(ValueError, match="terminated"):
        td_errors(r, v, nv, short(d), 0.9)
    with pytest.raises(ValueError, match="truncated"):
        discounted_returns(r, d, c[:, :1], 0.9)
    with pytest.raises(ValueError, match="next_value"):
        discounted_returns(r, d, c, 0.9, nv[:, 0])
    with pytest.raises(ValueError, match="rew"):
        lambda_returns(r[None], v, nv, d, c, 0.9, 0.9)
    with pytest.raises(TypeError, match="value"):
        nstep_returns(r, v.tolist(), nv, d, c, 0.9, 2)


@pytest.mark.parametrize("bad", [-0.1, 1.0000001, float("nan"), float("inf")])
def test_gamma_and_lam_outside_unit_interval(bad):
    r, v, nv, d, c = _args()
    with pytest.raises(ValueError, match="gamma"):
        gae(r, v, nv, d, c, bad, 0.9)
    with pytest.raises(ValueError, match="lam"):
        gae(r, v, nv, d, c, 0.9, bad)
    with pytest.raises(ValueError, match="gamma"):
        discounted_returns(r, d, c, bad)
    with pytest.raises(ValueError, match="lam"):
        lambda_returns(r, v, nv, d, c, 0.9, bad)


def test_gamma_of_the_wrong_type():
    r, v, nv, d, c = _args()
    for bad in ("0.9", None, True, np.array([0.9, 0.9])):
        with pytest.raises(TypeError, match="gamma"):
            td_errors(r, v, nv, d, bad)
    assert np.array_equal(td_errors(r, v, nv, d, np.float64(0.9)), td_errors(r, v, nv, d, 0.9))


def test_flags_that_are_not_boolean_or_zero_one():
    r, v, nv, d, c = _args()
    with pytest.raises(ValueError, match="terminated"):
        gae(r, v, nv, d * 2, c, 0.9, 0.9)
    with pytest.raises(ValueError, match="truncated"):
        gae(r, v, nv, d, c * 0.5, 0.9, 0.9)
    with pytest.raises(ValueError, match="truncated"):
        gae(r, v, nv, d, np.where(c, np.nan, 0.0), 0.9, 0.9)
    with pytest.raises(TypeError, match="terminated"):
        discounted_returns(r, d.astype(str), c, 0.9)
    with pytest.raises(TypeError, match="terminated"):
        discounted_returns(r, d.astype(complex), c, 0.9)


def test_empty_rollouts():
    z = np.zeros((0, 3))
    zb = np.zeros((0, 3), bool)
    with pytest.raises(ValueError, match="rew.*T >= 1"):
        gae(z, z, z, zb, zb, 0.9, 0.9)
    with pytest.raises(ValueError, match="rew"):
        discounted_returns(np.zeros(0), np.zeros(0, bool), np.zeros(0, bool), 0.9)
    with pytest.raises(ValueError, match="rew"):
        td_errors(z.T, z.T, z.T, zb.T, 0.9)


def test_bad_reward_and_value_dtypes():
    r, v, nv, d, c = _args()
    with pytest.raises(TypeError, match="rew"):
        discounted_returns(r > 0, d, c, 0.9)           # bool rewards: probably a mix-up
    with pytest.raises(TypeError, match="rew"):
        discounted_returns(r.astype(complex), d, c, 0.9)
    with pytest.raises(TypeError, match="value"):
        gae(r, np.round(v).astype(int), nv, d, c, 0.9, 0.9)  # values must be floats


def test_nan_and_inf_in_inputs_name_the_argument():
    r, v, nv, d, c = _args()
    i = np.argwhere(~d)[0]
    for name, arr in (("rew", r), ("value", v), ("next_value", nv)):
        for bad in (np.nan, np.inf):
            x = arr.copy()
            x[tuple(i)] = bad
            args = {"rew": r, "value": v, "next_value": nv} | {name: x}
            with pytest.raises(ValueError, match=name):
                gae(args["rew"], args["value"], args["next_value"], d, c, 0.9, 0.9)
            with pytest.raises(ValueError, match=name):
                lambda_returns(args["rew"], args["value"], args["next_value"], d, c, 0.9, 0.0)
    x = r.copy()
    x[0, 0] = np.nan
    with pytest.raises(ValueError, match="rew"):
        discounted_returns(x, d, c, 0.9)


def test_overflow_is_an_error_not_a_silent_inf():
    r, v, nv, d, c = _args()
    no = np.zeros_like(d)
    with pytest.raises(ValueError, match="overflow"):
        discounted_returns(np.full((50, 2), 1e308), no[:1].repeat(50, 0)[:, :2],
                           no[:1].repeat(50, 0)[:, :2], 1.0)


def test_bad_n_and_start_step():
    r, v, nv, d, c = _args()
    with pytest.raises(ValueError, match="n"):
        nstep_returns(r, v, nv, d, c, 0.9, 0)
    for bad in (1.5, True, "3"):
        with pytest.raises(TypeError, match="n"):
            nstep_returns(r, v, nv, d, c, 0.9, bad)
    with pytest.raises(ValueError, match="start_step"):
        discounted_returns(r, d, c, 0.9, discount_weighting=True, start_step=-1)
    with pytest.raises(ValueError, match="start_step"):
        discounted_returns(r, d, c, 0.9, discount_weighting=True, start_step=np.arange(2))
    with pytest.raises(TypeError, match="start_step"):
        discounted_returns(r, d, c, 0.9, discount_weighting=True, start_step=1.0)
    with pytest.raises(ValueError, match="start_step"):
        discounted_returns(r, d, c, 0.9, start_step=3)
