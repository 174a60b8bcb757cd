"""The actor-critic family (one-step, n-step, GAE, shared trunk, A2C) and Q actor-critic:
gradients against finite differences of the losses they minimise, identities between the
members, hand-derived SARSA targets, learning a small MDP to its exact optimum, the
+1-forever value, determinism, bad config."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from algo_cases import (GAMMA, J_STAR, GaussianBanditEnv, TwoStepEnv, gaussian_bandit_J, box_spec, check_loss_grad, disc_spec,
                        exact_J, fake_rollout, forever_env, params_vector, random_batch,
                        spec_of, train, two_step_mdp)
from npg.algos import (A2C, ALGORITHMS, A2CConfig, ACConfig, ActorCritic, QACConfig,
                       QActorCritic)
from npg.algos.actor_critic import advantages_and_targets
from npg.algos.q_actor_critic import sarsa_targets
from npg.backend import to_numpy
from npg.returns import td_errors

FD = settings(max_examples=200)

# (algorithm class, config overrides, spec)
_CASES = [
    (ActorCritic, dict(policy="linear"), disc_spec(3, 3)),
    (ActorCritic, dict(policy="mlp"), disc_spec(3, 3)),
    (ActorCritic, dict(policy="mlp"), box_spec(3, 2)),
    (ActorCritic, dict(policy="linear"), box_spec(3, 2)),
    (ActorCritic, dict(shared=True), disc_spec(3, 3)),
    (QActorCritic, dict(policy="linear"), disc_spec(3, 3)),
    (QActorCritic, dict(policy="mlp"), disc_spec(3, 3)),
]


def _fd_case(i, seed, B, ent_coef=0.1, vf_coef=0.7):
    cls, kw, spec = _CASES[i]
    if cls is ActorCritic:
        kw = dict(kw, ent_coef=ent_coef, vf_coef=vf_coef)
    algo = cls(dict(kw, hidden=(4,)), spec)
    rng = np.random.default_rng(seed)
    state = algo.init(rng)
    params = {k: state[k] for k in ("policy", "critic") if k in state}
    params = {n: {k: v + 0.3 * rng.standard_normal(v.shape) for k, v in p.items()}
              for n, p in params.items()}
    return algo, params, random_batch(spec, B, rng)


# ----------------------------------------------------------------------------- gradients

@FD
@given(seed=st.integers(0, 2**31 - 1), B=st.integers(1, 5), i=st.sampled_from(range(7)),
       ent_coef=st.sampled_from([0.0, 0.1]), vf_coef=st.sampled_from([0.0, 0.5, 1.0]))
def test_gradient_matches_finite_differences_along_directions(seed, B, i, ent_coef, vf_coef):
    algo, params, batch = _fd_case(i, seed, B, ent_coef, vf_coef)
    check_loss_grad(algo.loss_and_grad, params, batch, directions=3)


@pytest.mark.parametrize("i", range(7))
def test_gradient_matches_finite_differences_every_coordinate(i):
    algo, params, batch = _fd_case(i, 11 + i, 4)
    check_loss_grad(algo.loss_and_grad, params, batch)


def test_shared_value_head_gets_no_gradient_without_value_loss():
    algo, params, batch = _fd_case(4, 0, 5, ent_coef=0.0, vf_coef=0.0)
    _, grads, _ = algo.loss_and_grad(params, batch)
    assert np.all(to_numpy(grads["policy"]["W_v"]) == 0) and np.all(
        to_numpy(grads["policy"]["b_v"]) == 0)


def test_actor_loss_by_hand():
    # Uniform linear policy over A = 3 (theta = 0), zero linear critic (V = 0), no entropy:
    # L = -(1/B) sum A_b log(1/3) + vf_coef (1/2B) sum y_b^2.
    algo = ActorCritic(dict(policy="linear", vf_coef=0.5), disc_spec(3, 3))
    state = algo.init(0)
    b = random_batch(disc_spec(3, 3), 4, np.random.default_rng(1))
    loss, _, _ = algo.loss_and_grad({"policy": state["policy"], "critic": state["critic"]}, b)
    want = np.log(3) * b["adv"].sum() / 4 + 0.5 * (b["ret"] ** 2).sum() / 8
    np.testing.assert_allclose(float(loss), want)


# ----------------------------------------------------------------------------- identities

def _rollout_with_values(seed=0, T=6, N=2):
    rng = np.random.default_rng(seed)
    te = rng.random((T, N)) < 0.2
    tr = ~te & (rng.random((T, N)) < 0.2)
    v = rng.standard_normal((T + 1, N))
    # the collector's contract: V'_t = V_{t+1} inside an episode, V(final obs) at a
    # truncation (here a fresh number), 0 where terminated
    nv = np.where(tr, rng.standard_normal((T, N)), v[1:])
    nv = np.where(te, 0.0, nv)
    return fake_rollout(rng.standard_normal((T, N)), te, tr, value=v[:-1], next_value=nv,
                        seed=seed)


def test_one_step_advantage_is_the_td_error_and_n1_equals_lambda0():
    ro = _rollout_with_values()
    adv0, y0 = advantages_and_targets(ro, 0.9, 0.0)
    delta = td_errors(ro.rew, ro.value, ro.next_value, ro.terminated, 0.9)
    np.testing.assert_allclose(adv0, delta, atol=1e-12)
    adv1, y1 = advantages_and_targets(ro, 0.9, 0.7, n_step=1)
    np.testing.assert_allclose(adv1, adv0, atol=1e-12)
    np.testing.assert_allclose(y1, y0, atol=1e-12)


def test_lambda1_equals_n_step_with_n_at_least_T():
    ro = _rollout_with_values(T=5)
    adv, y = advantages_and_targets(ro, 0.9, 1.0)
    adv_n, y_n = advantages_and_targets(ro, 0.9, 0.0, n_step=5)
    np.testing.assert_allclose(y, y_n, atol=1e-12)
    np.testing.assert_allclose(adv, adv_n, atol=1e-12)


def test_a2c_is_the_actor_critic_update_with_other_defaults():
    fields = {k: getattr(A2CConfig(), k) for k in A2CConfig.__dataclass_fields__}
    a2c = A2C(None, disc_spec(2, 2))
    ac = ActorCritic(ACConfig(**fields), disc_spec(2, 2))
    ro = _rollout_with_values(T=5, N=8)
    sa, sb = a2c.init(3), ac.init(3)
    (na, _), (nb, _) = a2c.update(sa, ro, 0.0, 0), ac.update(sb, ro, 0.0, 0)
    np.testing.assert_array_equal(params_vector(na), params_vector(nb))


def test_sarsa_targets_by_hand():
    # gamma 0.5, T = 3, one env. Row 0: episode goes on -> SARSA, y = 1 + 0.5 * Q(s1, a1) = 1 +
    # 0.5 * 4 = 3. Row 1: truncated -> expected value V' = 6: y = 2 + 0.5 * 6 = 5. Row 2: the
    # rollout's last step -> V' = 8: y = 3 + 4 = 7. With row 2 terminated instead: y = 3.
    rew = np.array([[1.0], [2.0], [3.0]])
    q_next = np.array([[4.0], [5.0], [0.0]])
    nv = np.array([[10.0], [6.0], [8.0]])
    f = np.zeros((3, 1), bool)
    tr = np.array([[False], [True], [False]])
    y = sarsa_targets(rew, f, tr, np.ones((3, 1), bool), q_next, nv, 0.5)
    np.testing.assert_allclose(y[:, 0], [3, 5, 7])
    te = np.array([[False], [False], [True]])
    y = sarsa_targets(rew, te, tr, np.ones((3, 1), bool), q_next, nv, 0.5)
    np.testing.assert_allclose(y[:, 0], [3, 5, 3])


def test_qac_value_is_expected_q():
    algo, params, _ = _fd_case(6, 5, 2)
    state = {"policy": params["policy"], "critic": params["critic"]}
    obs = np.random.default_rng(0).standard_normal((4, 3))
    q = np.asarray(algo.critic.forward(params["critic"], obs)[0])
    pi = np.asarray(algo.policy.probs(params["policy"], obs))
    np.testing.assert_allclose(algo.value(state, obs), (pi * q).sum(1), rtol=1e-12)


# ----------------------------------------------------------------------------- learning

_LEARNERS = {
    # one-step TD error (lambda = 0) on 4 envs x 2 steps; the critic learns faster than the
    # actor (two timescales), which keeps both from settling on the greedy 0.5 exit
    "one_step": (ActorCritic, dict(policy="linear", lr=0.05, critic_lr=0.3, n_envs=4,
                                   n_steps=2), 150),
    "gae": (ActorCritic, dict(policy="linear", lr=0.1, critic_lr=0.1, n_envs=4, n_steps=4,
                              gae_lambda=0.8), 80),
    "a2c": (A2C, dict(policy="linear", lr=0.05, critic_lr=0.05), 80),
    "shared_nstep": (ActorCritic, dict(shared=True, hidden=(8,), lr=0.02, n_envs=2, n_steps=5,
                                       n_step=5), 120),
    "qac": (QActorCritic, dict(policy="linear", lr=0.05, critic_lr=0.3, n_envs=4, n_steps=2),
            150),
}


@pytest.mark.parametrize("name", list(_LEARNERS))
def test_learns_two_step_mdp_to_optimum(name):
    cls, kw, n = _LEARNERS[name]
    mdp = two_step_mdp()
    algo = cls(dict(kw, gamma=GAMMA), spec_of(TwoStepEnv))
    state, _, _ = train(algo, TwoStepEnv, n)
    assert exact_J(algo, state, mdp) >= 0.95 * J_STAR


@pytest.mark.parametrize("name", list(_LEARNERS))
def test_learns_plus_one_forever_value(name):
    # +1 every step, only truncated (after 5 steps): bootstrapping from V(real final obs)
    # makes the learned value 1 / (1 - gamma) = 10, not a 5-step sum.
    cls, kw, _ = _LEARNERS[name]
    kw = dict(kw, gamma=0.9, optimizer="sgd", critic_lr=0.5, lr=0.01)
    if kw.get("shared"):
        kw.update(lr=0.05, vf_coef=1.0)
    algo = cls(kw, spec_of(forever_env))
    state, _, _ = train(algo, forever_env, 600 // (algo.config.n_envs * algo.config.n_steps)
                        + 60)
    assert algo.value(state, np.ones((1, 1)))[0] == pytest.approx(10.0, rel=0.03)


def test_a2c_gaussian_mlp_learns_continuous_bandit():
    algo = A2C(dict(policy="mlp", hidden=(8,), lr=0.03, critic_lr=0.05, ent_coef=0.0,
                    gamma=0.9), spec_of(GaussianBanditEnv))
    state, _, _ = train(algo, GaussianBanditEnv, 100)
    assert gaussian_bandit_J(algo, state) >= 0.95


@pytest.mark.parametrize("name", list(_LEARNERS))
def test_float32_train_state_stays_float32(name):
    cls, kw, _ = _LEARNERS[name]
    algo = cls(dict(kw, policy="mlp", hidden=(4,), gamma=GAMMA, dtype="float32"),
               spec_of(TwoStepEnv))
    state, stats, _ = train(algo, TwoStepEnv, 4)
    nets = [k for k in ("policy", "critic") if k in state]
    assert all(to_numpy(v).dtype == np.float32 for k in nets for v in state[k].values())
    assert np.isfinite(stats["loss"])


# ----------------------------------------------------------------------------- determinism

@pytest.mark.parametrize("name", ["a2c", "shared_nstep", "qac"])
def test_same_seed_bitwise_identical_different_seeds_differ(name):
    cls, kw, _ = _LEARNERS[name]

    def run(seed):
        algo = cls(dict(kw, policy="mlp", hidden=(4,), gamma=GAMMA), spec_of(TwoStepEnv))
        return params_vector(train(algo, TwoStepEnv, 6, seed=seed)[0])
    a, b, c = run(3), run(3), run(4)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


# ----------------------------------------------------------------------------- bad input

@pytest.mark.parametrize("field,value,err", [
    ("gae_lambda", 1.5, ValueError), ("n_step", 0, ValueError), ("n_step", 2.5, TypeError),
    ("shared", "yes", TypeError), ("vf_coef", -1.0, ValueError), ("ent_coef", "x", TypeError),
    ("lr", -0.1, ValueError), ("critic_lr", 0, ValueError), ("n_steps", 0, ValueError),
    ("activation", "sigmoid", ValueError), ("anneal_lr", 1, TypeError),
    ("optimizer", "adagrad", ValueError)])
def test_bad_config_raises_typed_error_naming_the_field(field, value, err):
    with pytest.raises(err, match=field):
        ACConfig(**{field: value})


def test_bad_combinations():
    with pytest.raises(ValueError, match="shared"):
        ACConfig(shared=True, policy="linear")
    with pytest.raises(ValueError, match="Discrete"):
        ActorCritic(dict(shared=True), box_spec(3, 2))
    with pytest.raises(ValueError, match="Discrete"):
        QActorCritic(None, box_spec(3, 2))
    with pytest.raises(TypeError, match="baseline"):
        QACConfig(baseline="yes")


@pytest.mark.parametrize("cls", [ActorCritic, QActorCritic])
def test_update_needs_values(cls):
    algo = cls(dict(policy="linear", n_envs=2, n_steps=3), disc_spec(2, 2))
    ro = fake_rollout(np.ones((3, 2)), np.zeros((3, 2)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="value"):
        algo.update(algo.init(0), ro, 0.0, 0)
    with pytest.raises(TypeError, match="progress"):
        algo.update(algo.init(0), ro, "half", 0)


def test_registered():
    assert ALGORITHMS["ac"] is ActorCritic and ALGORITHMS["a2c"] is A2C
    assert ALGORITHMS["qac"] is QActorCritic


@pytest.mark.parametrize("cls", [ActorCritic, QActorCritic])
def test_online_one_step_per_update_learns_plus_one_forever_value(cls):
    # N = T = 1 (the defaults): an update after every environment step.
    algo = cls(dict(policy="linear", gamma=0.9, optimizer="sgd", critic_lr=0.5, lr=0.01),
               spec_of(forever_env))
    assert algo.config.n_envs == 1 and algo.config.n_steps == 1
    state, _, _ = train(algo, forever_env, 300)
    assert algo.value(state, np.ones((1, 1)))[0] == pytest.approx(10.0, rel=0.03)


# ----------------------------------------------------------------------------- backends

@pytest.mark.parametrize("i", range(7))
def test_loss_and_grad_on_every_backend(xp, i):
    algo, params, batch = _fd_case(i, 2 + i, 4)
    loss, grads, _ = algo.loss_and_grad(params, batch)
    moved = {n: {k: xp.asarray(v) for k, v in p.items()} for n, p in params.items()}
    mb = {k: xp.asarray(v) for k, v in batch.items()}
    loss_x, grads_x, _ = algo.loss_and_grad(moved, mb)
    np.testing.assert_allclose(float(loss_x), float(loss), rtol=1e-12)
    for n in grads:
        for k in grads[n]:
            np.testing.assert_allclose(to_numpy(grads_x[n][k]), to_numpy(grads[n][k]),
                                       rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", ["a2c", "qac", "shared_nstep"])
def test_update_with_train_state_on_every_backend(xp, name):
    # The rollout is NumPy; a train state on another array module updates to the same numbers.
    cls, kw, _ = _LEARNERS[name]
    algo = cls(dict(kw, policy="mlp", hidden=(4,), n_envs=2, n_steps=5), disc_spec(2, 2))
    ro = _rollout_with_values(T=5, N=2)
    state = algo.init(0)
    moved = {k: ({n: xp.asarray(v) for n, v in state[k].items()} if k in ("policy", "critic")
                 else state[k]) for k in state}
    moved["opt"] = algo.init(0)["opt"] if xp is np else {
        n: {k: (xp.asarray(v) if hasattr(v, "shape") and getattr(v, "ndim", 0) else v)
            for k, v in o.items()} for n, o in state["opt"].items()}
    a, _ = algo.update(state, ro, 0.0, 0)
    b, _ = algo.update(moved, ro, 0.0, 0)
    for k in ("policy", "critic"):
        for n in a.get(k, {}):
            np.testing.assert_allclose(to_numpy(b[k][n]), to_numpy(a[k][n]), rtol=1e-10,
                                       atol=1e-12)


@pytest.mark.parametrize("name", ["gae", "shared_nstep", "qac"])
def test_update_is_one_sgd_step_on_the_checked_loss(name):
    # Identity: with plain SGD, params' = params - lr * grad of loss_and_grad on batch(rollout),
    # so the FD-checked gradient is the one the update follows.
    cls, kw, _ = _LEARNERS[name]
    algo = cls(dict(kw, policy="mlp", hidden=(4,), n_envs=2, n_steps=5, optimizer="sgd",
                    lr=0.1, critic_lr=0.2), disc_spec(2, 2))
    state = algo.init(1)
    ro = _rollout_with_values(T=5, N=2)
    params = {k: state[k] for k in ("policy", "critic") if k in state}
    _, grads, _ = algo.loss_and_grad(params, algo.batch(state, ro))
    new, _ = algo.update(state, ro, 0.0, 0)
    for net, lr in (("policy", 0.1), ("critic", 0.2)):
        for k in grads.get(net, {}):
            np.testing.assert_allclose(to_numpy(new[net][k]),
                                       to_numpy(params[net][k]) - lr * to_numpy(grads[net][k]),
                                       rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("progress", [0.0, 0.25, 0.9])
def test_anneal_lr_scales_the_step_by_one_minus_progress(progress):
    # anneal_lr: lr_k = lr (1 - progress) for actor and critic, so with plain SGD the step taken
    # at ``progress`` is (1 - progress) times the step at progress 0.
    kw = dict(policy="mlp", hidden=(4,), n_envs=2, n_steps=5, optimizer="sgd", lr=0.1,
              critic_lr=0.2, gae_lambda=0.9)
    ro = _rollout_with_values(T=5, N=2)
    plain, annealed = A2C(kw, disc_spec(2, 2)), A2C(dict(kw, anneal_lr=True), disc_spec(2, 2))
    state = plain.init(1)
    full, _ = plain.update(state, ro, progress, 0)
    part, _ = annealed.update(state, ro, progress, 0)
    for net in ("policy", "critic"):
        for k, p in state[net].items():
            np.testing.assert_allclose(part[net][k] - p, (1.0 - progress) * (full[net][k] - p),
                                       rtol=1e-10, atol=1e-15)


def test_rmsprop_update_is_one_rmsprop_step_on_the_checked_loss():
    # optimizer="rmsprop": from a fresh state, v = (1 - 0.99) g^2 and
    # params' = params - lr g / (sqrt(v) + 1e-5), g the gradient of loss_and_grad.
    algo = A2C(dict(policy="mlp", hidden=(4,), n_envs=2, n_steps=5, optimizer="rmsprop",
                    lr=0.1, critic_lr=0.2, max_grad_norm=None), disc_spec(2, 2))
    state = algo.init(1)
    ro = _rollout_with_values(T=5, N=2)
    params = {k: state[k] for k in ("policy", "critic")}
    _, grads, _ = algo.loss_and_grad(params, algo.batch(state, ro))
    new, _ = algo.update(state, ro, 0.0, 0)
    for net, lr in (("policy", 0.1), ("critic", 0.2)):
        for k, g in grads[net].items():
            g = to_numpy(g)
            want = to_numpy(params[net][k]) - lr * g / (np.sqrt(0.01 * g * g) + 1e-5)
            np.testing.assert_allclose(to_numpy(new[net][k]), want, rtol=1e-12, atol=1e-14)
        assert set(new["opt"][net]) == {"step", *(f"v.{k}" for k in grads[net])}
