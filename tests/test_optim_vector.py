"""VectorRun and clip_vectors_by_global_norm: the bits of opt.step and clip_by_global_norm at
every step, the same errors, inputs untouched."""

import numpy as np
import pytest
from hypothesis import given, strategies as st

from npg.backend import to_numpy
from npg.optim import (SGD, Adam, RMSprop, VectorRun, clip_by_global_norm,
                       clip_vectors_by_global_norm)
from npg.schedules import linear

OPTS = [SGD(0.1), SGD(0.05, momentum=0.5), SGD(0.05, momentum=0.5, nesterov=True),
        RMSprop(0.01), Adam(0.01), Adam(linear(0.01, 0.001, 5), eps=1e-5)]
SHAPES = {"W1": ((3, 4), np.float32), "b1": ((4,), np.float64), "W2": ((4, 2), np.float32),
          "s": ((), np.float64), "b2": ((2,), np.float32)}


def _tree(rng, shapes, scale=1.0):
    return {k: (rng.standard_normal(s) * scale).astype(dt) for k, (s, dt) in shapes.items()}


def _same(a, b) -> bool:
    return sorted(a) == sorted(b) and all(
        np.asarray(to_numpy(a[k])).dtype == np.asarray(to_numpy(b[k])).dtype and
        np.array_equal(np.asarray(to_numpy(a[k])), np.asarray(to_numpy(b[k]))) for k in a
        if k != "step") and a.get("step") == b.get("step")


@pytest.mark.parametrize("opt", OPTS, ids=repr)
def test_a_run_is_opt_step_at_every_step_bit_for_bit(opt):
    """Mixed dtypes (two groups), a 0-d array, a schedule: params, state and key order equal
    to stepping with opt.step, after each step; the inputs are not modified."""
    rng = np.random.default_rng(0)
    p0 = _tree(rng, SHAPES)
    s0 = opt.init(p0)
    copies = {k: v.copy() for k, v in p0.items()}, {k: np.copy(v) for k, v in s0.items()}
    run, p, s = VectorRun(opt, p0, s0), p0, s0
    for _ in range(6):
        g = _tree(rng, SHAPES, scale=10.0 ** rng.uniform(-3, 2))
        p, s = opt.step(p, g, s)
        run.step(run.grad_vectors(g))
        assert _same(run.params, p)
        rp, rs = run.result()
        assert _same(rp, p) and _same(rs, s) and list(rs) == list(s)
    assert _same(p0, copies[0]) and _same(s0, copies[1])


def test_params_views_keep_their_values_after_a_step():
    opt = Adam(0.1)
    p = {"w": np.ones(3)}
    run = VectorRun(opt, p, opt.init(p))
    before = run.params
    run.step([np.ones(3)])
    assert np.array_equal(before["w"], np.ones(3)) and not np.array_equal(run.params["w"], 1.0)


@given(n=st.integers(1, 40), steps=st.integers(1, 5), seed=st.integers(0, 2 ** 16),
       dtype=st.sampled_from([np.float32, np.float64]))
def test_adam_run_matches_step_for_any_shape(n, steps, seed, dtype):
    rng = np.random.default_rng(seed)
    shapes = {"a": ((n,), dtype), "b": ((n, 2), dtype)}
    opt = Adam(1e-2)
    p = _tree(rng, shapes)
    s = opt.init(p)
    run = VectorRun(opt, p, s)
    for _ in range(steps):
        g = _tree(rng, shapes)
        p, s = opt.step(p, g, s)
        run.step(run.grad_vectors(g))
    rp, rs = run.result()
    assert _same(rp, p) and _same(rs, s)


def test_a_run_on_every_backend(xp):
    opt = Adam(0.05)
    p = {"W": xp.asarray(np.arange(6.0).reshape(2, 3)), "b": xp.asarray(np.ones(3))}
    s = opt.init(p)
    run = VectorRun(opt, p, s)
    g = {"W": xp.asarray(np.full((2, 3), 0.5)), "b": xp.asarray(np.full(3, -2.0))}
    for _ in range(3):
        p, s = opt.step(p, g, s)
        run.step(run.grad_vectors(g))
    rp, rs = run.result()
    assert _same(rp, p) and _same(rs, s)


def test_clip_vectors_is_clip_by_global_norm_bit_for_bit(xp):
    rng = np.random.default_rng(1)
    tree = {("pi", "W"): rng.standard_normal((4, 3)), ("pi", "b"): rng.standard_normal(3),
            ("v", "W"): rng.standard_normal((4, 1))}
    tree = {k: xp.asarray(v) for k, v in tree.items()}
    vecs = [xp.concat([xp.reshape(tree[("pi", "W")], (-1,)), tree[("pi", "b")]]),
            xp.reshape(tree[("v", "W")], (-1,))]
    for max_norm in (0.1, 1e3):                  # clipping, and not (unchanged bits)
        want, n_want = clip_by_global_norm(tree, max_norm)
        got, n_got = clip_vectors_by_global_norm(vecs, max_norm)
        assert float(n_got) == float(n_want)
        flat = np.concatenate([np.asarray(to_numpy(v)) for v in got])
        ref = np.concatenate([np.asarray(to_numpy(want[k])).ravel() for k in tree])
        assert np.array_equal(flat, ref)
    assert all(np.array_equal(np.asarray(to_numpy(a)), np.asarray(to_numpy(b)))
               for a, b in zip(clip_vectors_by_global_norm(vecs, 1e3)[0], vecs))


# ------------------------------------------------------------------ bad input: the same errors

def test_bad_arguments_are_named():
    opt = Adam(0.1)
    p = {"w": np.ones(3)}
    with pytest.raises(TypeError, match="opt must be an npg.optim"):
        VectorRun(object(), p, opt.init(p))
    with pytest.raises(ValueError, match="state must come from opt.init"):
        VectorRun(opt, p, {})
    with pytest.raises(ValueError, match=r"state\['m.w'\] must have shape"):
        VectorRun(opt, p, {"step": 0, "m.w": np.zeros(2), "v.w": np.zeros(3)})
    run = VectorRun(opt, p, opt.init(p))
    with pytest.raises(ValueError, match="grads must have the keys of params"):
        run.grad_vectors({"x": np.ones(3)})
    with pytest.raises(TypeError, match="grads must be a dict"):
        run.grad_vectors(np.ones(3))
    with pytest.raises(ValueError, match=r"grads\['w'\] must have shape"):
        run.grad_vectors({"w": np.ones(4)})
    with pytest.raises(ValueError, match="g must hold 1 vector"):
        run.step([])
    with pytest.raises(ValueError, match=r"g\[0\] must have shape"):
        run.step([np.ones(4)])
    with pytest.raises(ValueError, match="max_norm must be"):
        clip_vectors_by_global_norm([np.ones(3)], -1.0)
    with pytest.raises(TypeError, match="vectors must be a non-empty"):
        clip_vectors_by_global_norm([], 1.0)


@pytest.mark.parametrize("opt", OPTS[:4] + OPTS[4:5], ids=repr)
def test_a_non_finite_step_names_the_gradient_as_step_does(opt):
    p = {"a": np.ones(2), "w": np.ones(3)}
    s = opt.init(p)
    g = {"a": np.ones(2), "w": np.array([1.0, np.nan, 0.0])}
    with pytest.raises(ValueError) as want:
        opt.step(p, g, s)
    run = VectorRun(opt, p, s)
    with pytest.raises(ValueError) as got:
        run.step(run.grad_vectors(g))
    assert str(got.value) == str(want.value) and "grads['w']" in str(got.value)
    rp, rs = run.result()                        # the failed step changed nothing
    assert _same(rp, p) and _same(rs, s)


def test_a_non_finite_norm_names_the_gradient():
    tree = {"a": np.ones(2), "w": np.array([1.0, np.inf])}
    vecs = [np.concatenate([tree["a"], tree["w"]])]
    with pytest.raises(ValueError, match=r"grads\['w'\] must be finite"):
        clip_by_global_norm(tree, 1.0)
    with pytest.raises(ValueError, match=r"vectors\[0\] must be finite"):
        clip_vectors_by_global_norm(vecs, 1.0)
    huge = [np.full(4, 3e38, np.float32)]          # finite entries whose norm overflows
    with pytest.raises(ValueError, match="global norm"):
        clip_vectors_by_global_norm(huge, 1.0)


@pytest.mark.parametrize("opt", OPTS[:1] + OPTS[3:5], ids=repr)
def test_a_run_step_whose_sums_overflow_is_accepted(opt):
    """Finite parameters near float32's max overflow the one-sum check; the key-by-key check
    then accepts the step, as opt.step does."""
    params = {"w": np.full(8, 3e38, np.float32)}
    run = VectorRun(opt, params, opt.init(params))
    run.step(run.grad_vectors({"w": np.ones(8, np.float32)}))
    want, _ = opt.step(params, {"w": np.ones(8, np.float32)}, opt.init(params))
    assert np.all(np.isfinite(run.params["w"])) and np.array_equal(run.params["w"], want["w"])
