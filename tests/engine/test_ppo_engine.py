"""PPO's fast inner loop (npg.engine.acting, npg.engine.kernels) against the reference path,
and the kernels' float32 and float64 tanh against exact values.

Equality is to floating-point rounding, not bitwise: the kernels sum in another order (and
combine float32 scalars in float64), and float32 tanh is the rational approximation. float64
updates agree to ~1e-15 relative, float32 ones to ~1e-6 (float32 rounding through 20+ steps).
"""

import decimal
import math

import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st

from npg.engine import kernels as K
from npg.engine.tanh import tanh64_array
from npg.engine import ppo as engine
from npg.engine import ppo_loop, ppo_losses
from npg.engine.flat import FlatLayout
from npg.engine.records import STEP_STATS, Hyper
from npg.algos.ppo import PPO, PPOConfig
from npg.envs import make_vec_env, space_info
from npg.optim import Adam, clip_by_global_norm
from npg.envs.rollout import Collector
from npg.schedules import constant
from npg.testing import check_grad
from algo_cases import ppo_fd_minibatch


# ------------------------------------------------------------------------------- float32 tanh

def test_tanh32_error_bound_on_a_dense_grid():
    x = np.linspace(-20.0, 20.0, 400_001, dtype=np.float32)
    y = np.empty_like(x)
    K.tanh32(x, y)
    assert np.max(np.abs(y - np.tanh(x.astype(np.float64)))) <= 5e-7
    assert np.max(np.abs(y)) <= 1.0
    np.testing.assert_array_equal(y, -y[::-1])             # odd (the grid is symmetric)


@settings(max_examples=300)
@given(st.floats(width=32, allow_nan=False, allow_infinity=False) | st.floats(-9.0, 9.0, width=32))
def test_tanh32_error_bound_hypothesis(x):
    y = np.empty(1, np.float32)
    K.tanh32(np.array([x], np.float32), y)
    assert abs(float(y[0]) - np.tanh(np.float64(x))) <= 5e-7
    assert abs(float(y[0])) <= 1.0


def test_tanh32_hand_values():
    # tanh 0 = 0 exactly (x P / Q with x = 0); tanh is +-1 to float32 precision far out;
    # tanh(0.5) = 0.46211715726000974 (e = exp(1): (e - 1)/(e + 1)).
    x = np.array([0.0, 0.5, -0.5, 30.0, -30.0], np.float32)
    y = np.empty_like(x)
    K.tanh32(x, y)
    assert y[0] == 0.0
    assert abs(y[1] - 0.46211715726000974) < 1e-7 and y[2] == -y[1]
    assert abs(y[3] - 1.0) < 5e-7 and y[4] == -y[3]


# ------------------------------------------------------------------------------- float64 tanh

def _tanh_exact(x: float) -> float:
    """tanh x correctly rounded: (e^{2x} - 1) / (e^{2x} + 1) in decimal arithmetic with 40
    digits beyond those that e^{2x} - 1 cancels for small |x|."""
    with decimal.localcontext() as ctx:
        ctx.prec = 40 + (max(0, -math.floor(math.log10(abs(x)))) if x != 0 else 0)
        e = (2 * decimal.Decimal(x)).exp()
        return float((e - 1) / (e + 1))


def _ulps(y, exact):
    return np.abs(y - exact) / np.spacing(np.abs(exact))


def test_tanh64_within_2_ulp_of_exact_across_magnitudes():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.standard_normal(400) * s for s in (1e-9, 1e-4, 0.05, 0.3, 1.0, 3.0,
                                                                8.0, 15.0)]
                       + [rng.uniform(-20.0, 20.0, 800), np.linspace(-0.4, 0.4, 801)])
    exact = np.array([_tanh_exact(v) for v in x])
    y = np.empty_like(x)
    tanh64_array(x, y)
    assert _ulps(y, exact).max() <= 2.0


@settings(max_examples=300)
@given(st.floats(allow_nan=False, allow_infinity=False) | st.floats(-20.0, 20.0))
def test_tanh64_hypothesis_against_exact(x):
    y = np.empty(1)
    tanh64_array(np.array([x]), y)
    exact = _tanh_exact(x) if abs(x) < 50 else float(np.sign(x))
    assert _ulps(y[0], exact) <= 2.0
    assert abs(y[0]) <= 1.0


def test_tanh64_special_values_and_oddness():
    x = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 19.5, 1e300, 5e-324, -1e-310])
    y = np.empty_like(x)
    tanh64_array(x, y)
    np.testing.assert_array_equal(y, [0.0, -0.0, 1.0, -1.0, np.nan, 1.0, 1.0, 5e-324, -1e-310])
    assert np.signbit(y[1]) and not np.signbit(y[0])
    g = np.linspace(0.0, 25.0, 100_001)
    pos, neg = np.empty_like(g), np.empty_like(g)
    tanh64_array(g, pos)
    tanh64_array(-g, neg)
    np.testing.assert_array_equal(neg, -pos)


# ------------------------------------------------------------------------------- layer kernels

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ["tanh", "relu", "identity"])
def test_bias_act_and_backward_match_numpy(dtype, name):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((7, 5)).astype(dtype) * 3
    b = rng.standard_normal(5).astype(dtype)
    g = rng.standard_normal((7, 5)).astype(dtype)
    ref = {"tanh": np.tanh, "relu": lambda x: np.maximum(x, 0), "identity": lambda x: x}[name]
    y = a.copy()
    code = K.act_code(name, dtype)
    K.bias_act(y, b, code)                           # float64 tanh: libm's
    tol = 5e-7 if dtype == np.float32 else 1e-15
    np.testing.assert_allclose(y, ref((a + b).astype(np.float64)), rtol=0, atol=tol)
    d, db = g.copy(), np.empty(5, dtype)
    K.act_grad_colsum(d, y, db, code)
    fprime = {"tanh": 1 - y * y, "relu": (y > 0).astype(dtype), "identity": np.ones_like(y)}
    np.testing.assert_allclose(d, g * fprime[name], rtol=1e-6 if dtype == np.float32 else 1e-14,
                               atol=1e-6 if dtype == np.float32 else 1e-15)
    np.testing.assert_allclose(db, d.sum(0), rtol=1e-5 if dtype == np.float32 else 1e-13,
                               atol=1e-6 if dtype == np.float32 else 1e-14)


def _hyper(**kw):
    """A ``records.Hyper`` with every field 0 but those given."""
    return Hyper(**{**dict.fromkeys(Hyper._fields, 0.0), **kw})


@pytest.mark.parametrize("max_norm", [-1.0, 1e-3, 1e3])
def test_clip_adam_equals_clip_by_global_norm_then_adam(max_norm):
    rng = np.random.default_rng(1)
    theta, g = rng.standard_normal(11), rng.standard_normal(11)
    m, v = rng.standard_normal(11) * 0.1, rng.random(11)
    opt = Adam(lr=constant(0.01), eps=1e-5)
    g_ref = g if max_norm < 0 else clip_by_global_norm({"t": g}, max_norm)[0]["t"]
    new, s = opt.step({"t": theta}, {"t": g_ref}, {"step": 3, "m.t": m, "v.t": v})
    th, mm, vv = theta.copy(), m.copy(), v.copy()
    hp = _hyper(max_norm=max_norm, lr=0.01, b1=opt.b1, b2=opt.b2, eps=opt.eps)
    ppo_loop.clip_adam(th, g, mm, vv, 3, hp)
    np.testing.assert_allclose(th, new["t"], rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(mm, s["m.t"], rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(vv, s["v.t"], rtol=1e-14, atol=1e-15)


# ------------------------------------------------------------------------------- the loss kernel

def _algo(**kw):
    envs = make_vec_env("CartPole-v1", 4, mode="sync", seed=0)
    return PPO(PPOConfig(n_envs=4, n_steps=16, batch_size=kw.pop("batch_size", 64), **kw),
               space_info(envs)), envs


@pytest.mark.parametrize("kw", [dict(), dict(ent_coef=0.05, clip_range_vf=0.1, norm_adv=False)])
def test_loss_kernel_equals_loss_and_grad(kw):
    algo, envs = _algo(**kw)
    state = algo.init(np.random.default_rng(0))
    rng = np.random.default_rng(2)
    B = 9
    obs = rng.standard_normal((B, 4))
    mb = {"obs": obs, "act": rng.integers(0, 2, B), "logp_old": np.log(rng.uniform(0.3, 0.7, B)),
          "adv": rng.standard_normal(B), "ret": rng.standard_normal(B),
          "v_old": rng.standard_normal(B) * 0.1}
    params = {"policy": state["policy"], "critic": state["critic"]}
    loss, grads, stats = algo.loss_and_grad(params, mb, 0.1)
    z = algo.policy.forward(params["policy"], obs, check=False)[0]
    v = algo.critic.forward(params["critic"], obs, check=False)[0]
    c = algo.config
    d_z, d_v, outs = np.empty((B, 2)), np.empty(B), np.zeros(1, STEP_STATS)
    hp = _hyper(clip=0.1, ent_coef=c.ent_coef, norm_adv=float(c.norm_adv))
    ppo_losses.policy_loss(0, z, obs, mb["act"], None, np.zeros(0), mb["logp_old"], mb["adv"],
                           hp, d_z, np.zeros(0), outs[0])      # act_f None: categorical
    ppo_losses.value_loss(v, mb["ret"], mb["v_old"], c.vf_coef, c.clip_range_vf or -1.0, d_v,
                          outs[0])
    out = outs[0]
    total = out["policy_loss"] + c.vf_coef * out["value_loss"] + c.ent_coef * out["entropy_loss"]
    np.testing.assert_allclose(total, float(loss), rtol=1e-13)
    for key in ("policy_loss", "value_loss", "approx_kl", "clip_fraction", "entropy"):
        np.testing.assert_allclose(out[key], stats[key], rtol=1e-12, atol=1e-15)
    # the kernel's d_z / d_v through the reference vjps give the FD-checked reference gradient
    pi_vjp = algo.policy.forward(params["policy"], obs, check=False)[1]
    v_vjp = algo.critic.forward(params["critic"], obs, check=False)[1]
    np.testing.assert_allclose(pi_vjp(d_z)["W2"], grads["policy"]["W2"], rtol=1e-12, atol=1e-16)
    np.testing.assert_allclose(v_vjp(d_v)["W1"], grads["critic"]["W1"], rtol=1e-12, atol=1e-16)
    envs.close()


# ------------------------------------------------------------------------------- whole updates

def _rollout(algo, envs, state):
    col = Collector(envs, dtype=algo.dtype, seed=0)
    return col.collect(lambda o: algo.act(state, o, np.random.default_rng(0)),
                       lambda o: algo.value(state, o), algo.config.n_steps)


CASES = [dict(), dict(batch_size=16, ent_coef=0.01, clip_range_vf=0.2, n_epochs=3),
         dict(activation="relu", max_grad_norm=None, n_epochs=2),
         dict(target_kl=1e-4, n_epochs=8, lr=0.01), dict(hidden=(), n_epochs=2),
         dict(hidden=(8,), activation="relu", ent_coef=0.1, n_epochs=2)]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("kw", CASES)
def test_fast_update_equals_reference_update(dtype, kw):
    algo, envs = _algo(dtype=dtype, **dict({"n_epochs": 4}, **kw))
    state = algo.init(np.random.default_rng(0))
    roll = _rollout(algo, envs, state)
    assert engine.applies(algo.config, algo.spec, algo.policy.init(0, dtype=dtype))
    fast, st_fast = algo.update(state, roll, 0.25, np.random.default_rng(3))
    algo.fast_path = False
    ref, st_ref = algo.update(state, roll, 0.25, np.random.default_rng(3))
    rtol, atol = (1e-12, 1e-14) if dtype == "float64" else (2e-4, 2e-6)
    assert st_fast["n_updates"] == st_ref["n_updates"] and fast["step"] == ref["step"]
    if kw.get("target_kl"):                               # the early stop is exercised
        assert 0 < st_ref["n_updates"] < algo.config.n_epochs
    for net in ("policy", "critic"):
        for k, a in ref[net].items():
            assert fast[net][k].dtype == a.dtype
            np.testing.assert_allclose(fast[net][k], a, rtol=rtol, atol=atol)
            np.testing.assert_allclose(fast["opt"][net][f"m.{k}"], ref["opt"][net][f"m.{k}"],
                                       rtol=rtol, atol=atol)
        assert fast["opt"][net]["step"] == ref["opt"][net]["step"]
    for k, v in st_ref.items():
        np.testing.assert_allclose(st_fast[k], v, rtol=1e-9 if dtype == "float64" else 1e-4,
                                   atol=1e-12 if dtype == "float64" else 1e-6)
    for net in ("policy", "critic"):                   # the input state is left untouched
        for k, a in state[net].items():
            assert not np.shares_memory(a, fast[net][k])
    envs.close()


def test_fast_path_does_not_apply_to_shared():
    algo, envs = _algo(shared=True)
    assert not engine.applies(algo.config, algo.spec, algo.init(0)["policy"])
    envs.close()


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_fast_act_and_value_equal_the_checked_ones(dtype):
    """Actions equal; values and log-probabilities to rounding (float32: approximate tanh)."""
    algo, envs = _algo(dtype=dtype)
    state = algo.init(np.random.default_rng(0))
    obs = np.random.default_rng(1).standard_normal((8, 4)) * 2
    fast = [algo.act(state, obs, np.random.default_rng(5), det) for det in (False, True)]
    v_fast = algo.value(state, obs)
    algo.fast_path = False
    ref = [algo.act(state, obs, np.random.default_rng(5), det) for det in (False, True)]
    v_ref = algo.value(state, obs)
    for f, r in zip(fast, ref):
        for x, y in zip(f, r):
            assert x.dtype == y.dtype
        np.testing.assert_array_equal(f[0], r[0])
        np.testing.assert_array_equal(f[1], r[1])
        np.testing.assert_allclose(f[2], r[2], rtol=1e-5 if dtype == "float32" else 1e-13)
    assert v_fast.dtype == v_ref.dtype == np.dtype(dtype)
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == "float32" else dict(rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(v_fast, v_ref, **tol)
    big = np.random.default_rng(2).standard_normal((100, 4))     # the NumPy branch (M > 64)
    v_big = algo.critic.value(state["critic"], big.astype(dtype))
    algo.fast_path = True
    np.testing.assert_allclose(algo.value(state, big), v_big, **tol)
    with pytest.raises(ValueError, match="obs"):
        algo.act(state, np.full((2, 4), np.nan), np.random.default_rng(0))
    with pytest.raises(ValueError, match="obs"):
        algo.value(state, np.zeros((2, 3)))
    with pytest.raises(TypeError, match="obs"):
        algo.value(state, [[0.0] * 4])
    envs.close()


# ------------------------------------------------------------------------------- FD of the fast path

def _fast_loss_and_grad(algo, layout, theta, mb, clip, threads=1):
    """One minibatch through the compiled path (``ppo_loop``, as ``inner_loop`` runs it)."""
    loss, grad, _ = ppo_loop.minibatch_loss_and_grad("categorical", algo.config, layout, theta,
                                                     mb, clip, threads)
    P = layout.unpack(theta)
    z = algo.policy.forward(P["policy"], mb["obs"], check=False)[0]
    v = algo.critic.forward(P["critic"], mb["obs"], check=False)[0]
    return loss, grad, z, v


@settings(max_examples=200)
@given(st.integers(0, 2**32 - 1), st.booleans(), st.sampled_from(["tanh", "relu"]))
def test_fast_minibatch_gradient_matches_fd_of_its_loss(seed, norm_adv, activation):
    """The fast path's gradient (head kernels, loss kernel, BLAS backward) = central FD of the
    loss it computes, with the clipped surrogate, clipped value loss and entropy bonus on."""
    envs = make_vec_env("CartPole-v1", 1, mode="sync", seed=0)
    algo = PPO(PPOConfig(n_envs=2, n_steps=4, batch_size=4, hidden=(3, 2), ent_coef=0.1,
                         vf_coef=0.7, clip_range_vf=0.2, norm_adv=norm_adv,
                         activation=activation), space_info(envs))
    envs.close()
    rng = np.random.default_rng(seed)
    state, mb = ppo_fd_minibatch(algo, rng, obs_dim=4)
    obs, act, B = mb["obs"], mb["act"], len(mb["obs"])
    layout = FlatLayout.of({n: state[n] for n in algo.nets})
    theta = layout.pack(state)
    loss, grad, z, v = _fast_loss_and_grad(algo, layout, theta, mb, 0.2)
    # stay away from the kinks of the clipped losses and of relu
    log_pi = z - np.log(np.exp(z).sum(1, keepdims=True))
    r = np.exp(log_pi[np.arange(B), act] - mb["logp_old"])
    dv = v - mb["v_old"]
    assume(np.all(np.abs(np.abs(r - 1) - 0.2) > 1e-3) and np.all(np.abs(np.abs(dv) - 0.2) > 1e-3))
    if activation == "relu":
        P = layout.unpack(theta)
        for net in ("policy", "critic"):
            h = obs
            for l in (1, 2):
                a = h @ P[net][f"W{l}"] + P[net][f"b{l}"]
                assume(np.all(np.abs(a) > 1e-3))
                h = np.maximum(a, 0)
    check_grad(lambda p: float(_fast_loss_and_grad(algo, layout, p["theta"], mb, 0.2)[0]),
               {"theta": grad}, {"theta": theta})


@pytest.mark.parametrize("kw", [CASES[1], CASES[3], CASES[4]])
def test_two_threads_give_bitwise_the_same_update(kw):
    """fast_threads = 2 (the default) runs the actor's and the critic's halves of each step on
    two threads: same operations on disjoint buffers, so the update is bitwise that of one
    thread (early stop included)."""
    algo, envs = _algo(dtype="float32", **dict({"n_epochs": 4}, **kw))
    state = algo.init(np.random.default_rng(0))
    roll = _rollout(algo, envs, state)
    algo.fast_threads = 1
    one, st_one = algo.update(state, roll, 0.25, np.random.default_rng(3))
    algo.fast_threads = 2
    two, st_two = algo.update(state, roll, 0.25, np.random.default_rng(3))
    assert st_one == st_two
    for net in ("policy", "critic"):
        for k, a in one[net].items():
            np.testing.assert_array_equal(two[net][k], a)
    envs.close()


@pytest.mark.parametrize("threads", [1, 2])
def test_minibatch_gradient_equals_the_reference_gradient(threads):
    """The compiled minibatch gradient = ``PPO.loss_and_grad``'s, float64, to rounding."""
    algo, envs = _algo(batch_size=16, ent_coef=0.01, clip_range_vf=0.2)
    rng = np.random.default_rng(1)
    state = algo.init(rng)
    roll = _rollout(algo, envs, state)
    batch = algo._batch(state, roll)
    mb = {k: v[:24] for k, v in batch.items()}
    layout = FlatLayout.of({n: state[n] for n in algo.nets})
    theta = layout.pack(state)
    loss, grad, _ = ppo_loop.minibatch_loss_and_grad("categorical", algo.config, layout, theta,
                                                     mb, 0.1, threads)
    ref_loss, ref_grads, _ = algo.loss_and_grad(layout.unpack(theta), mb, 0.1)
    np.testing.assert_allclose(loss, float(ref_loss), rtol=1e-13)
    np.testing.assert_allclose(grad, layout.pack(ref_grads), rtol=1e-10, atol=1e-15)
    envs.close()


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_gradient_is_a_clear_error(bad):
    theta, m, v = np.zeros(4), np.zeros(4), np.zeros(4)
    hp = _hyper(max_norm=0.5, lr=0.01, b1=0.9, b2=0.999, eps=1e-5)
    with pytest.raises(ValueError, match="not finite"):
        ppo_loop.clip_adam(theta, np.array([1.0, bad, 0.0, 2.0]), m, v, 0, hp)
    assert np.all(theta == 0)                  # nothing was applied


def test_huge_finite_gradient_is_clipped_not_overflowed():
    """||g||^2 overflows float64 for |g| ~ 1e300; the norm is recomputed from g / max|g|."""
    theta, m, v = np.zeros(2), np.zeros(2), np.zeros(2)
    hp = _hyper(max_norm=0.5, lr=0.01, b1=0.9, b2=0.999, eps=1e-5)
    ppo_loop.clip_adam(theta, np.array([3e300, 4e300]), m, v, 0, hp)
    np.testing.assert_allclose(m, 0.1 * np.array([0.3, 0.4]), rtol=1e-12)   # (1-b1) * clipped g


# ------------------------------------------------------------------------------- fused acting

@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_act_value_equals_act_then_value(dtype):
    """One call for both: the same actions (same Gumbel draws), log-probs and values."""
    algo, envs = _algo(dtype=dtype)
    state = algo.init(np.random.default_rng(0))
    obs = np.random.default_rng(1).standard_normal((8, 4))
    assert algo.fused_acting(state)
    env_a, a, logp, v = algo.act_value(state, obs, np.random.default_rng(5))
    ref = algo.act(state, obs, np.random.default_rng(5))
    np.testing.assert_array_equal(a, ref[1])
    np.testing.assert_array_equal(env_a, ref[0])
    np.testing.assert_array_equal(logp, ref[2])
    np.testing.assert_array_equal(v, algo.value(state, obs))
    assert logp.dtype == v.dtype == np.dtype(dtype)
    with pytest.raises(ValueError, match="obs"):
        algo.act_value(state, np.full((2, 4), np.inf), np.random.default_rng(0))
    with pytest.raises(ValueError, match="obs"):
        algo.act_value(state, np.zeros((2, 3)), np.random.default_rng(0))
    algo.fast_path = False                       # the reference path: the two calls
    assert not algo.fused_acting(state)
    out = algo.act_value(state, obs, np.random.default_rng(5))
    np.testing.assert_array_equal(out[1], ref[1])
    envs.close()


def test_weight_cache_sees_replaced_and_modified_arrays():
    algo, envs = _algo()
    state = algo.init(np.random.default_rng(0))
    obs = np.random.default_rng(1).standard_normal((3, 4))
    v0 = algo.value(state, obs)
    state["critic"]["b3"] += 1.0                 # in place: the cached tuple holds this array
    np.testing.assert_allclose(algo.value(state, obs), v0 + 1.0, rtol=1e-12)
    state["critic"]["b3"] = state["critic"]["b3"] + 1.0      # replaced: the cache notices
    np.testing.assert_allclose(algo.value(state, obs), v0 + 2.0, rtol=1e-12)
    envs.close()


def test_collector_takes_values_from_a_four_item_act_fn():
    """The rollout collected with ``act_value`` equals the one with act_fn + value_fn."""
    algo, envs = _algo()
    state = algo.init(np.random.default_rng(0))
    rolls = []
    for fused in (False, True):
        col = Collector(envs, dtype=algo.dtype, seed=0)
        rng = np.random.default_rng(0)
        act = ((lambda o: algo.act_value(state, o, rng)) if fused
               else (lambda o: algo.act(state, o, rng)))
        rolls.append(col.collect(act, lambda o: algo.value(state, o), 20))
    for k in ("obs", "act", "logp", "value", "next_value", "rew"):
        np.testing.assert_array_equal(getattr(rolls[0], k), getattr(rolls[1], k))
    col = Collector(envs, dtype=algo.dtype, seed=0)
    with pytest.raises(TypeError, match="act_fn must return a tuple"):
        col.collect(lambda o: (np.zeros(4, np.int64),) * 2, None, 2)
    envs.close()


@given(st.integers(1, 300), st.integers(1, 6), st.integers(0, 2**32 - 1))
@settings(max_examples=30, deadline=None)
def test_permutations_are_bitwise_the_stacked_rng_permutations(B, n, seed):
    ours = ppo_loop._permutations(np.random.default_rng(seed), B, n)
    ref_rng = np.random.default_rng(seed)
    np.testing.assert_array_equal(ours, np.stack([ref_rng.permutation(B) for _ in range(n)]))


@given(st.integers(1, 500), st.integers(1, 40))
@settings(max_examples=60, deadline=None)
def test_split_bounds_are_those_of_array_split(B, n_mb):
    ref = np.cumsum([0] + [len(p) for p in np.array_split(np.arange(B), n_mb)])
    np.testing.assert_array_equal(ppo_loop._split_bounds(B, n_mb), ref)


def test_reused_work_gives_the_update_of_a_fresh_one():
    """Work.of keeps the tables and scratch buffers of a shape: an update on a reused Work is
    bitwise that on a new one, and a second rollout's columns are its own."""
    algo, envs = _algo(dtype="float32", n_epochs=2)
    state = algo.init(np.random.default_rng(0))
    rolls = [Collector(envs, dtype=algo.dtype, seed=seed).collect(
        lambda o: algo.act(state, o, np.random.default_rng(seed)),
        lambda o: algo.value(state, o), algo.config.n_steps) for seed in (0, 1)]
    ppo_loop.Work._cache.clear()
    first = [algo.update(state, r, 0.25, np.random.default_rng(3)) for r in rolls]
    assert len(ppo_loop.Work._cache) == 1                 # one shape, one Work
    ppo_loop.Work._cache.clear()
    fresh = algo.update(state, rolls[1], 0.25, np.random.default_rng(3))
    assert first[1][1] == fresh[1] and first[0][1] != fresh[1]
    for net in ("policy", "critic"):
        for k, a in fresh[0][net].items():
            np.testing.assert_array_equal(first[1][0][net][k], a)
    envs.close()


_WHAT_COMPILES = """
import numpy as np
from npg.algos.ppo import PPO, PPOConfig
from npg.envs.spaces import SpaceInfo
from npg.engine import ppo_loop, ppo_losses
from npg.engine.warmup_child import synthetic_rollout
algo = PPO(PPOConfig(n_envs=2, n_steps=4, batch_size=8, n_epochs=2),
           SpaceInfo(4, "box", None, True, 2, None, None, None))
algo.fast_threads = 1
state = algo.init(np.random.default_rng(0))
algo.update(state, synthetic_rollout(algo.spec, algo.dtype), 0.0, np.random.default_rng(1))
print(len(ppo_loop._epochs.signatures), len(ppo_loop._halves_parallel.signatures),
      len(ppo_losses._gaussian_terms.signatures), len(ppo_losses._sde_terms.signatures),
      len(ppo_losses._categorical_terms.signatures))
"""


@pytest.mark.slow                       # compiles the update on an empty cache: ~30 s
def test_a_one_thread_categorical_update_compiles_no_parallel_region_and_no_gaussian_terms(
        tmp_path):
    """par None and act_f None reach the kernels as arguments, so Numba prunes the branches
    they decide: on an empty cache (a fresh NUMBA_CACHE_DIR: loading from a cache would not
    show the callees) a one-thread CartPole update compiles _epochs and the categorical
    terms, not the parallel region nor the Gaussian and gSDE terms (what compiles is most of
    a cold start)."""
    import os
    import subprocess
    import sys
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))
    out = subprocess.run([sys.executable, "-c", _WHAT_COMPILES], capture_output=True,
                         text=True, check=True, timeout=600, env=env).stdout.split()
    assert out == ["1", "0", "0", "0", "1"]


def test_ppo_updates_on_one_thread_until_the_parallel_kernels_are_ready(monkeypatch):
    """While the warm-up child has not compiled the two-thread update ("parallel"), PPO runs
    the engine on one thread, whatever fast_threads says: the same update bit for bit."""
    algo, envs = _algo(dtype="float32", n_epochs=2)
    state = algo.init(np.random.default_rng(0))
    roll = Collector(envs, dtype=algo.dtype, seed=0).collect(
        lambda o: algo.act(state, o, np.random.default_rng(0)),
        lambda o: algo.value(state, o), algo.config.n_steps)
    seen = []
    inner = ppo_loop.inner_loop
    monkeypatch.setattr(ppo_loop, "inner_loop", lambda *a: seen.append(a[-1]) or inner(*a))
    algo.fast_threads = 2
    both = algo.update(state, roll, 0.25, np.random.default_rng(3))
    monkeypatch.setattr(engine, "ready", lambda algo, kind: kind != "parallel")
    one = algo.update(state, roll, 0.25, np.random.default_rng(3))
    assert seen == [2, 1]
    assert one[1] == both[1]
    for net in ("policy", "critic"):
        for k, a in both[0][net].items():
            np.testing.assert_array_equal(one[0][net][k], a)
    envs.close()
