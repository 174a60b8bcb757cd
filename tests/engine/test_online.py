"""The online engine (``npg.engine.online``) against the reference loop of ``Agent``: the same
draws, actions, episodes, generator states and collector carry, and parameters equal to rounding.

Why the parameter tolerance grows with the horizon: training amplifies any difference. With
the *same* code, one critic weight moved by one ulp (``benchmarks/online.py --sensitivity``,
seed 0) ends up, relative to the largest entry of each array, 4e-14 away after 1,000 FrozenLake
``ac`` steps, 2e-10 after 2,000 and 3e-8 after 4,000; on CartPole ``ac`` 4e-14 after 200 and
5e-3 after 1,000; CartPole ``ac_lambda`` even changes its episodes by 1,000. The engine's
products run in another order than BLAS (~1e-16 per operation), so after k steps it can only
be as close as that amplification allows: ~1e-12 over the first few hundred steps; the draws,
actions and episodes stay equal bit for bit as long as the dynamics let them.
"""

from __future__ import annotations

import numpy as np
import pytest

import npg
from npg.algos.base import state_to_flat
from npg.engine import online, online_env
from npg.engine import online_kernels as K
from npg.engine.flat import FlatLayout
from npg.nn import mlp_forward, mlp_init


def _agent(env, algo, engine, config=None, **kw):
    a = npg.Agent(env, algo=algo, seed=3, config=config, **kw)
    a.online_engine = engine
    return a


def _rel_diff(sa, sb) -> float:
    """max over arrays of max |a - b| / max |b| (0 for empty arrays)."""
    fa, fb = state_to_flat(sa), state_to_flat(sb)
    assert list(fa) == list(fb)
    worst = 0.0
    for k in fa:
        x, y = np.asarray(fa[k], float), np.asarray(fb[k], float)
        if x.size:
            worst = max(worst, float(np.max(np.abs(x - y)) / (np.max(np.abs(y)) or 1.0)))
    return worst


def _same_run(e, r, collector_count: bool = True):
    """Everything but the parameters is equal bit for bit (the collector's step count is not
    part of a checkpoint)."""
    assert e.env_steps == r.env_steps and e.n_updates == r.n_updates
    assert e.episode_returns == r.episode_returns
    assert e.episode_lengths == r.episode_lengths
    for k in e.rngs:
        assert e.rngs[k].bit_generator.state == r.rngs[k].bit_generator.state, k
    ce, cr = e.collector.carry_state(), r.collector.carry_state()
    assert ce.keys() == cr.keys()
    for k in ce:
        np.testing.assert_array_equal(ce[k], cr[k])
    if collector_count:
        assert e.collector.total_env_steps == r.collector.total_env_steps
    assert e.state["step"] == r.state["step"]


# ------------------------------------------------------------------------------- networks

@pytest.mark.parametrize("hidden,activation", [((5, 7), "tanh"), ((6,), "relu"), ((), "tanh")])
def test_forward_backward_equal_mlp_forward(hidden, activation):
    rng = np.random.default_rng(0)
    sizes = (4,) + hidden + (3,)
    params = mlp_init(sizes, rng, activation)
    lay = FlatLayout.of({"net": params})
    ent = {k: (shape, start) for _, k, shape, start, _ in lay.entries}
    rows = [(ent[f"W{l}"][1], ent[f"b{l}"][1]) + ent[f"W{l}"][0] for l in range(1, len(sizes))]
    net, n_h = K.layer_table(rows)
    theta = lay.pack({"net": params})
    x = rng.standard_normal(4)
    d_out = rng.standard_normal(3)
    H, grad, D1, D2 = np.zeros(n_h), np.zeros_like(theta), np.zeros(8), np.zeros(8)
    y = K.forward(theta, net, x, H, K.ACT_CODES[activation]).copy()
    sq = K.backward(theta, grad, net, x, H, d_out, D1, D2, K.ACT_CODES[activation])
    y_ref, vjp = mlp_forward(params, x[None], activation)
    np.testing.assert_allclose(y, y_ref[0], rtol=1e-13, atol=1e-15)
    g_ref = lay.pack({"net": vjp(d_out[None])[0]})
    np.testing.assert_allclose(grad, g_ref, rtol=1e-12, atol=1e-15)
    assert sq == pytest.approx(float(np.sum(grad * grad)), rel=1e-13)   # |h (x) g|^2 = |h|^2|g|^2


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_pair_critic_kernels_equal_mlp_state_action_q(activation):
    """pair_q(s, j) = MLPStateActionQ's Q(s, j), pair_expected = sum_j pi(j|s) Q(s, j), and
    the backward at the taken pair = the vjp of value_forward, to rounding."""
    from npg.engine import online_pair as OP
    from npg.values_sa import MLPStateActionQ
    rng = np.random.default_rng(2)
    D, A = 5, 3
    critic = MLPStateActionQ(D, A, (6, 4), activation)
    params = critic.init(rng)
    lay = FlatLayout.of({"critic": params})
    ent = {k: (shape, start) for _, k, shape, start, _ in lay.entries}
    net, n_h = K.layer_table([(ent[f"W{l}"][1], ent[f"b{l}"][1]) + ent[f"W{l}"][0]
                              for l in range(1, 4)])
    theta, code = lay.pack({"critic": params}), K.ACT_CODES[activation]
    s, z = rng.standard_normal(D), rng.standard_normal(A)
    x, H = np.zeros(D + A), np.zeros(n_h)
    q_ref, _ = critic.forward(params, s[None])
    q = [OP.pair_q(theta, net, s, x, j, H, code) for j in range(A)]
    np.testing.assert_allclose(q, q_ref[0], rtol=1e-13, atol=1e-15)
    pi = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
    v = OP.pair_expected(theta, net, z, s, x, H, code)
    assert v == pytest.approx(float(pi @ q_ref[0]), rel=1e-13, abs=1e-15)
    OP.pair_q(theta, net, s, x, 1, H, code)                 # x, H: the pair (s, 1)
    grad, D1, D2 = np.zeros_like(theta), np.zeros(16), np.zeros(16)
    K.backward(theta, grad, net, x, H, np.array([0.7]), D1, D2, code)
    _, vjp = critic.value_forward(params, s[None], np.array([1]))
    np.testing.assert_allclose(grad, lay.pack({"critic": vjp(np.array([0.7]))}), rtol=1e-12,
                               atol=1e-15)


# ------------------------------------------------------------------------------- updates

CASES = [
    ("FrozenLake-v1", "ac", None),
    ("CartPole-v1", "ac", {"activation": "relu", "optimizer": "sgd", "hidden": (16,)}),
    ("CartPole-v1", "ac", {"policy": "linear", "optimizer": "rmsprop", "max_grad_norm": 0.5,
                           "ent_coef": 0.01, "anneal_lr": True, "lr": 1e-3}),
    ("FrozenLake-v1", "qac", None),
    ("FrozenLake-v1", "qac", {"policy": "linear", "baseline": True, "hidden": (8,)}),
    ("FrozenLake-v1", "qac", {"q_input": "pair"}),
    ("CartPole-v1", "qac", {"q_input": "pair", "critic_hidden": (6, 5), "hidden": (8,),
                            "baseline": False, "optimizer": "rmsprop", "max_grad_norm": 0.5}),
    ("FrozenLake-v1", "qac", {"q_input": "pair", "policy": "linear", "activation": "relu",
                              "critic_hidden": (7,), "anneal_lr": True}),
    ("CartPole-v1", "a2c", {"n_envs": 1, "n_steps": 1, "hidden": (16, 16)}),
    ("CartPole-v1", "ac_lambda", None),
    ("FrozenLake-v1", "ac_lambda", {"trace": "replacing", "discount_actor": False,
                                    "anneal_lr": True, "policy": "linear", "lr": 0.1}),
]


@pytest.mark.parametrize("env,algo,config", CASES)
def test_steps_and_stats_equal_reference(env, algo, config):
    """200 steps: same run; parameters and every logged statistic equal to ~1e-12."""
    runs = {}
    for engine in (True, False):
        a = _agent(env, algo, engine, config)
        assert (online.applies(a.algo, a.collector) is None)
        seen = []
        a.learn(200, progress=False, callback=lambda ag, info: seen.append(info["stats"]))
        runs[engine] = (a, seen)
    (e, se), (r, sr) = runs[True], runs[False]
    _same_run(e, r)
    assert _rel_diff(e.state, r.state) < 1e-11
    assert [list(s) for s in se] == [list(s) for s in sr]        # same keys, same order
    for s1, s2 in zip(se, sr):
        for k in s1:
            assert s1[k] == pytest.approx(s2[k], rel=1e-8, abs=1e-11), k


@pytest.mark.slow
@pytest.mark.parametrize("env,algo,tol", [("FrozenLake-v1", "ac", 1e-8),
                                          ("FrozenLake-v1", "qac", 1e-8),
                                          ("FrozenLake-v1", "qac_pair", 1e-8),
                                          ("CartPole-v1", "ac", None)])
def test_thousand_steps_equal_reference(env, algo, tol):
    """1,000 steps in two learn calls: the same draws, actions and episodes bit for bit;
    parameters to the tolerance that the dynamics' own sensitivity allows (module docstring).
    CartPole's Adam run is chaotic (a 1-ulp change of one weight, same code: 5e-3 after 1,000
    steps, module docstring), so there only the run is compared."""
    config = {"q_input": "pair"} if algo == "qac_pair" else None
    algo = algo.removesuffix("_pair")
    e, r = _agent(env, algo, True, config), _agent(env, algo, False, config)
    for a in (e, r):
        a.learn(400, progress=False)
        a.learn(600, progress=False)
    _same_run(e, r)
    if tol is not None:
        assert _rel_diff(e.state, r.state) < tol


def test_callback_stop_and_state_edits_follow_reference():
    """A callback sees the current state, may change it, and stops the loop where it says."""
    def cb(agent, info):
        if agent.env_steps == 20:
            agent.state["policy"]["W1"] = agent.state["policy"]["W1"] * 0.5
        return agent.env_steps < 57

    e, r = _agent("FrozenLake-v1", "ac", True), _agent("FrozenLake-v1", "ac", False)
    for a in (e, r):
        a.learn(200, progress=False, callback=cb)
        assert a.env_steps == 57
    _same_run(e, r)
    assert _rel_diff(e.state, r.state) < 1e-12


# ------------------------------------------------------------------------------- dispatch

@pytest.mark.parametrize("env,algo,config,kw,why", [
    ("CartPole-v1", "ac", {"n_envs": 2}, {}, "n_envs = n_steps = 1"),
    ("CartPole-v1", "ac", None, {"normalize_obs": True}, "normalisers"),
    ("CartPole-v1", "ac", {"dtype": "float32"}, {}, "float64"),
    ("Pendulum-v1", "ac", None, {}, "Discrete"),
    ("CartPole-v1", "ac", {"shared": True}, {}, "shared"),
    ("CartPole-v1", "ac_lambda", {"n_envs": 2}, {}, "n_envs = n_steps = 1"),
    ("CartPole-v1", "reinforce", {"n_envs": 1}, {}, "no online engine"),
])
def test_applies_names_the_reason(env, algo, config, kw, why):
    a = npg.Agent(env, algo=algo, seed=0, config=config, **kw)
    reason = online.applies(a.algo, a.collector)
    assert reason is not None and why in reason


# ------------------------------------------------------------------------------- steppers

def _compare_stepper(make, n_steps, n_actions):
    fast_env, ref_env = make(), make()
    stepper = online_env.one_env_stepper(fast_env)
    rng = np.random.default_rng(1)
    for t in range(n_steps):
        a = int(rng.integers(n_actions))
        o1, r1, te1, tr1 = stepper.step(a)
        o2, r2, te2, tr2, _ = ref_env.step(np.array([a]))
        np.testing.assert_array_equal(np.asarray(o1).reshape(-1), np.asarray(o2).reshape(-1))
        assert (r1, te1, tr1) == (float(r2[0]), bool(te2[0]), bool(tr2[0])), t
    stepper.sync()
    return stepper, fast_env, ref_env


def test_cartpole_stepper_equals_vector_env_bitwise():
    from npg.envs import make_vec_env
    from npg.envs.snapshot import snapshot
    make = lambda: make_vec_env("CartPole-v1", 1, mode="vector_entry_point", seed=5)  # noqa
    stepper, fast_env, ref_env = _compare_stepper(make, 3000, 2)
    assert isinstance(stepper, online_env.CartPoleOne)
    (s1, a1), (s2, a2) = snapshot(fast_env), snapshot(ref_env)
    assert s1 == s2 and a1.keys() == a2.keys()
    for k in a1:
        np.testing.assert_array_equal(a1[k], a2[k])


@pytest.mark.parametrize("kwargs", [{}, {"map_name": "8x8"}, {"is_slippery": False}])
def test_frozenlake_stepper_equals_sync_vector_env_bitwise(kwargs):
    from npg.envs import make_vec_env
    from npg.envs.snapshot import snapshot
    make = lambda: make_vec_env("FrozenLake-v1", 1, mode="sync", seed=5, **kwargs)  # noqa
    stepper, fast_env, ref_env = _compare_stepper(make, 3000, 4)
    assert isinstance(stepper, online_env.FrozenLakeOne)
    (s1, a1), (s2, a2) = snapshot(fast_env), snapshot(ref_env)
    assert s1 == s2 and a1.keys() == a2.keys()
    for k in a1:
        np.testing.assert_array_equal(a1[k], a2[k])


# ------------------------------------------------------------------------------- checkpoints

@pytest.mark.parametrize("env,algo", [("FrozenLake-v1", "ac"), ("CartPole-v1", "qac"),
                                      ("CartPole-v1", "ac_lambda")])
def test_checkpoint_resume_on_the_engine_is_bitwise(tmp_path, env, algo):
    """learn 2k on the engine; learn k with checkpoints, load, learn k: equal bit for bit
    (train state, generators, carry, episodes, environment snapshot)."""
    from npg.app.agent import Agent
    from npg.envs.snapshot import snapshot
    k = 150
    full = _agent(env, algo, True).learn(2 * k, progress=False)
    part = _agent(env, algo, True)
    part.learn(k, progress=False, log_dir=tmp_path / "run", checkpoint_every=50,
               schedule_steps=2 * k)
    resumed = Agent.load(tmp_path / "run").learn(k, progress=False)
    assert resumed.online_engine and online.applies(resumed.algo, resumed.collector) is None
    _same_run(resumed, full, collector_count=False)
    assert _rel_diff(resumed.state, full.state) == 0.0
    (s1, a1), (s2, a2) = snapshot(resumed.envs), snapshot(full.envs)
    assert s1 == s2 and all(np.array_equal(a1[n], a2[n]) for n in a1)


# ------------------------------------------------------------------------------- optimizers

@pytest.mark.parametrize("t", [0, 1, 400, 40_000])
def test_adam_and_rmsprop_steps_equal_npg_optim_bitwise(t):
    """Elementwise, same operations in the same order: bit for bit, at every bias correction
    (including the ones that have rounded to exactly 1)."""
    from npg.optim import Adam, RMSprop
    rng = np.random.default_rng(t)
    p, g = rng.standard_normal(50), rng.standard_normal(50) * 1e-3
    m, v = rng.standard_normal(50) * 1e-3, rng.random(50) * 1e-6
    new, st = Adam(lr=1e-2).step({"w": p}, {"w": g}, {"step": t, "m.w": m, "v.w": v})
    th, m2, v2 = p.copy(), m.copy(), v.copy()
    K.adam_step(th, g, m2, v2, 0.9, 1.0 - 0.9, 0.999, 1.0 - 0.999, 1e-2,
                1.0 - 0.9 ** (t + 1), 1.0 - 0.999 ** (t + 1), 1e-8)
    assert np.array_equal(th, new["w"]) and np.array_equal(m2, st["m.w"])
    assert np.array_equal(v2, st["v.w"])
    new, st = RMSprop(lr=1e-2, alpha=0.99, eps=1e-5).step({"w": p}, {"w": g},
                                                          {"step": t, "v.w": v})
    th, v2 = p.copy(), v.copy()
    K.rmsprop_step(th, g, v2, 0.99, 1.0 - 0.99, 1e-2, 1e-5)
    assert np.array_equal(th, new["w"]) and np.array_equal(v2, st["v.w"])
