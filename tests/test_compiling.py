"""npg.compiling: while a hold is active the returns and npg's CartPole step take their NumPy
paths (no kernel is called), with the kernels' numbers (bit for bit, but for the n-step return's
summation order); a hold ends when its condition is met; the warm-up holds the kernels from the
child's start until it reports "kernels"."""

from __future__ import annotations

import numpy as np
import pytest

from npg import compiling
from npg.returns import _kernels, gae, td_errors


@pytest.fixture
def no_holds(monkeypatch):
    monkeypatch.setattr(compiling, "_HOLDS", [])


def _rollout(seed, T=32, N=8, dtype=np.float64):
    rng = np.random.default_rng(seed)
    f = lambda: rng.standard_normal((T, N)).astype(dtype)               # noqa: E731
    term, trunc = rng.random((T, N)) < 0.05, rng.random((T, N)) < 0.03
    return f(), f(), f(), term, trunc & ~term


def _refuse(*args):
    raise AssertionError("a held kernel was called")


def test_a_hold_lasts_until_its_condition_is_true(no_holds):
    assert compiling.kernels_ready() and compiling.holds() == 0
    flag = {"done": False}
    compiling.hold(lambda: flag["done"])
    assert not compiling.kernels_ready() and compiling.holds() == 1
    flag["done"] = True
    assert compiling.kernels_ready() and compiling.holds() == 0


def test_hold_needs_a_callable(no_holds):
    with pytest.raises(TypeError, match="until must be a callable"):
        compiling.hold(True)


def _all_returns(r, v, nv, d, c):
    from npg.returns import discounted_returns, lambda_returns, nstep_returns, vtrace
    lp = -np.abs(r) * 0.1
    return {"gae": gae(r, v, nv, d, c, 0.98, 0.8),
            "td_errors": td_errors(r, v, nv, d, 0.98),
            "lambda": lambda_returns(r, v, nv, d, c, 0.98, 0.8),
            "nstep": nstep_returns(r, v, nv, d, c, 0.98, 3),
            "discounted": discounted_returns(r, d, c, 0.98, nv),
            "vtrace": vtrace(r, v, nv, d, c, 0.98, lp, lp * 0.9)}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_held_returns_take_the_array_api_path_with_the_kernels_numbers(no_holds, monkeypatch,
                                                                       dtype):
    from npg.returns import _vtrace_kernel
    r, v, nv, d, c = _rollout(0, dtype=dtype)
    want = _all_returns(r, v, nv, d, c)
    for name in ("gae_kernel", "td_errors_kernel", "lambda_kernel", "nstep_kernel",
                 "discounted_kernel", "episode_discount_kernel"):
        monkeypatch.setattr(_kernels, name, _refuse)
    monkeypatch.setattr(_vtrace_kernel, "vtrace_kernel", _refuse)
    compiling.hold(lambda: False)
    got = _all_returns(r, v, nv, d, c)
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    as_tuple = lambda out: out if isinstance(out, tuple) else (out,)      # noqa: E731
    for name in want:
        for x, y in zip(as_tuple(want[name]), as_tuple(got[name])):
            assert x.dtype == y.dtype == dtype, name
            if name == "nstep":                 # sums its n rewards in another order
                np.testing.assert_allclose(y, x, err_msg=name, **tol)
            else:                               # the same operations: the same bits
                np.testing.assert_array_equal(y, x, err_msg=name)


def test_held_cartpole_steps_with_gymnasium_bit_for_bit(no_holds, monkeypatch):
    from npg.envs import cartpole_vector
    a, b = cartpole_vector.CartPoleVectorEnv(8), cartpole_vector.CartPoleVectorEnv(8)
    np.testing.assert_array_equal(a.reset(seed=1)[0], b.reset(seed=1)[0])
    rng = np.random.default_rng(0)
    actions = rng.integers(0, 2, (400, 8))
    real = cartpole_vector.step_kernel
    for t, act in enumerate(actions):           # b switches between the kernel and the parent
        held = (t // 50) % 2 == 0
        if held:
            compiling.hold(lambda: False)
            monkeypatch.setattr(cartpole_vector, "step_kernel", _refuse)
        out_a, out_b = a.step(act), b.step(act)
        if held:
            compiling._HOLDS.clear()
            monkeypatch.setattr(cartpole_vector, "step_kernel", real)
        for x, y in zip(out_a[:4], out_b[:4]):
            np.testing.assert_array_equal(x, y)
    np.testing.assert_array_equal(a.state, b.state)
    assert a.np_random.bit_generator.state == b.np_random.bit_generator.state


def test_the_warm_up_holds_the_kernels_until_the_child_reports_them(no_holds, monkeypatch,
                                                                     tmp_path):
    from npg.engine import warmup
    monkeypatch.delenv(warmup.ENV_VAR, raising=False)
    monkeypatch.setattr(warmup, "_JOBS", {})

    class Job:                                  # no child: the test reports the stages
        done: set = set()

        def __init__(self, marker):
            self.marker, self.proc = marker, None

        def launch(self, algo):
            pass

        def ready(self, kind):
            return kind in self.done

    class Algo:
        name, config, spec = "stub", {"dtype": "float64"}, {"discrete": True}

    monkeypatch.setattr(warmup, "_Job", Job)
    job = warmup.start(Algo(), cache_dir=tmp_path)
    assert not compiling.kernels_ready()
    job.done = {"kernels"}
    assert compiling.kernels_ready() and compiling.holds() == 0
