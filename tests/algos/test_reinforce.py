"""REINFORCE: episode bookkeeping by hand, complete episodes across rollouts, the gradient
against finite differences of the loss it minimises, learning a small MDP to its exact
optimum, the +1-forever value, determinism, bad config."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from algo_cases import (GAMMA, J_STAR, GaussianBanditEnv, TwoStepEnv, gaussian_bandit_J, box_spec, check_loss_grad, disc_spec,
                        exact_J, fake_rollout, forever_env, optimal_value, params_vector,
                        random_batch, slice_rollout, spec_of, train, two_step_mdp)
from npg.algos import ALGORITHMS, Reinforce, ReinforceConfig, get_algorithm
from npg.algos.reinforce import episode_index, episode_weights
from npg.backend import to_numpy

FD = settings(max_examples=200)


def col(*x):
    return np.asarray(x)[:, None]


# ----------------------------------------------------------------------------- hand values

def test_episode_weights_by_hand():
    # gamma = 0.5; rewards 1..5; episode A = steps 0-1 (terminated at 1), episode B = steps
    # 2-4 (truncated at 4).  A: G_1 = 2, G_0 = 1 + 0.5 * 2 = 2.  B: G_4 = 5,
    # G_3 = 4 + 0.5 * 5 = 6.5, G_2 = 3 + 0.5 * 6.5 = 6.25.  k = [0, 1, 0, 1, 2].
    rew, te, tr = col(1., 2, 3, 4, 5), col(0, 1, 0, 0, 0) > 0, col(0, 0, 0, 0, 1) > 0
    valid = np.ones((5, 1), bool)
    G, G0, k = episode_weights(rew, te, tr, valid, 0.5)
    np.testing.assert_allclose(G[:, 0], [2, 2, 6.25, 6.5, 5])
    np.testing.assert_allclose(G0[:, 0], [2, 2, 6.25, 6.25, 6.25])
    np.testing.assert_array_equal(k[:, 0], [0, 1, 0, 1, 2])
    # Bootstrapping the truncation from V' = 8: G_4 = 5 + 0.5 * 8 = 9, G_3 = 4 + 4.5 = 8.5,
    # G_2 = 3 + 0.5 * 8.5 = 7.25 (= G0 of B); episode A is unchanged.
    nv = col(0., 0, 0, 0, 8)
    G, G0, _ = episode_weights(rew, te, tr, valid, 0.5, nv)
    np.testing.assert_allclose(G[:, 0], [2, 2, 7.25, 8.5, 9])
    np.testing.assert_allclose(G0[:, 0], [2, 2, 7.25, 7.25, 7.25])


def test_phantom_rows_do_not_advance_time():
    # NEXT_STEP autoreset: row 2 is the phantom transition after the end at row 1. Episode B is
    # rows 3-4 with k = [0, 1]: G_3 = 3 + 0.5 * 4 = 5 = G0.
    rew, te, tr = col(1., 2, 0, 3, 4), col(0, 1, 0, 0, 0) > 0, col(0, 0, 0, 0, 1) > 0
    valid = col(1, 1, 0, 1, 1) > 0
    G, G0, k = episode_weights(rew, te, tr, valid, 0.5)
    np.testing.assert_array_equal(k[[0, 1, 3, 4], 0], [0, 1, 0, 1])
    np.testing.assert_allclose(G[[3, 4], 0], [5, 4])
    np.testing.assert_allclose(G0[[0, 1, 3, 4], 0], [2, 2, 5, 5])
    start, end, _ = episode_index(te | tr, valid)
    np.testing.assert_array_equal(start[:, 0], [0, 0, 2, 2, 2])
    np.testing.assert_array_equal(end[:, 0], [1, 1, 4, 4, 4])


def test_episode_bookkeeping_on_every_backend(xp):
    # The vectorised episode maths on another array module equals NumPy's (integers exactly,
    # returns to rounding): random ends, phantom rows and a bootstrap at truncations.
    rng = np.random.default_rng(3)
    T, N = 12, 3
    rew, nv = rng.normal(size=(T, N)), rng.normal(size=(T, N))
    te, tr = rng.random((T, N)) < 0.2, rng.random((T, N)) < 0.15
    valid = rng.random((T, N)) < 0.9
    want = episode_weights(rew, te, tr, valid, 0.9, nv)
    got = episode_weights(*(xp.asarray(a) for a in (rew, te, tr, valid)), 0.9, xp.asarray(nv))
    np.testing.assert_array_equal(to_numpy(got[2]), want[2])
    for g, w in zip(got[:2], want[:2]):
        np.testing.assert_allclose(to_numpy(g), w, rtol=1e-12, atol=1e-12)
    for g, w in zip(episode_index(xp.asarray(te | tr), xp.asarray(valid)),
                    episode_index(te | tr, valid)):
        np.testing.assert_array_equal(to_numpy(g), w)


def test_update_weights_are_discounted_reward_to_go():
    # One env, one episode of 3 steps (rewards 1, 0, 2; gamma 0.5): G = [1.5, 1, 2],
    # k = [0, 1, 2], w = gamma^k G = [1.5, 0.5, 0.5]; the "episode" estimator uses G0 = 1.5.
    spec = disc_spec(2, 2)
    ro = fake_rollout(col(1., 0, 2), col(0, 0, 1), col(0, 0, 0))
    for returns, want in (("reward_to_go", [1.5, 0.5, 0.5]), ("episode", [1.5, 1.5, 1.5])):
        algo = Reinforce(dict(policy="linear", n_envs=1, n_steps=3, gamma=0.5,
                              returns=returns), spec)
        state = algo.init(0)
        buf, used, _ = algo.split_episodes(state["pending"], ro)
        np.testing.assert_allclose(algo.targets(state, buf, used)["w"], want)


# ----------------------------------------------------------------------------- episodes

def _stream(T=12, N=3, seed=1):
    rng = np.random.default_rng(seed)
    te = rng.random((T, N)) < 0.2
    tr = ~te & (rng.random((T, N)) < 0.1)
    return fake_rollout(rng.standard_normal((T, N)), te, tr, seed=seed)


@pytest.mark.parametrize("returns", ["reward_to_go", "episode"])
def test_split_rollouts_use_the_same_steps_as_one_long_rollout(returns):
    # Identity: the steps (and weights) used over two consecutive rollouts of 6 equal those of
    # one rollout of 12, because unfinished episodes wait in the buffer.
    full = _stream()
    algo = Reinforce(dict(policy="linear", n_envs=3, n_steps=6, gamma=0.9, returns=returns),
                     disc_spec(2, 2))
    state = algo.init(0)
    parts, pending = [], state["pending"]
    for a, b in ((0, 6), (6, 12)):
        buf, used, pending = algo.split_episodes(pending, slice_rollout(full, a, b))
        parts.append(algo.targets(state, buf, used))
    buf, used, rest = algo.split_episodes(state["pending"], full)
    whole = algo.targets(state, buf, used)
    for key in ("w", "G"):
        got = np.sort(np.concatenate([p[key] for p in parts]))
        np.testing.assert_allclose(got, np.sort(whole[key]), rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(np.sort(np.concatenate([p["obs"][:, 0] for p in parts])),
                                  np.sort(whole["obs"][:, 0]))
    for k in rest:        # what waits after both halves = what waits after the long one
        np.testing.assert_array_equal(pending[k][-len(rest[k]):] if len(rest[k]) else
                                      pending[k][:0], rest[k])


def test_no_complete_episode_means_no_step():
    algo = Reinforce(dict(policy="linear", n_envs=2, n_steps=3), disc_spec(2, 2))
    state = algo.init(0)
    ro = fake_rollout(np.ones((3, 2)), np.zeros((3, 2)), np.zeros((3, 2)))
    new, stats = algo.update(state, ro, 0.0, 0)
    assert stats["n_samples"] == 0 and new["step"] == 0
    np.testing.assert_array_equal(to_numpy(new["policy"]["theta"]),
                                  to_numpy(state["policy"]["theta"]))
    assert new["pending"]["rew"].shape == (3, 2)


# ----------------------------------------------------------------------------- gradients

_KINDS = [("linear", disc_spec(3, 3)), ("mlp", disc_spec(3, 3)), ("mlp", box_spec(3, 2)),
          ("linear", box_spec(3, 2))]


def _fd_case(kind, baseline, seed, B):
    policy, spec = _KINDS[kind]
    algo = Reinforce(dict(policy=policy, hidden=(4,), baseline=baseline), spec)
    rng = np.random.default_rng(seed)
    state = algo.init(rng)
    params = {k: state[k] for k in ("policy", "critic") if k in state}
    # move the initial (near-uniform / zero) params so the check is not at a special point
    params = {n: {k: v + 0.3 * rng.standard_normal(v.shape) for k, v in p.items()}
              for n, p in params.items()}
    return algo, params, random_batch(spec, B, rng, keys=("w", "G"))


@FD
@given(seed=st.integers(0, 2**31 - 1), B=st.integers(1, 5), kind=st.sampled_from(range(4)),
       baseline=st.sampled_from(["none", "value"]))
def test_gradient_matches_finite_differences_along_directions(seed, B, kind, baseline):
    algo, params, batch = _fd_case(kind, baseline, seed, B)
    check_loss_grad(algo.loss_and_grad, params, batch, directions=3)


@pytest.mark.parametrize("kind", range(4))
@pytest.mark.parametrize("baseline", ["none", "value"])
def test_gradient_matches_finite_differences_every_coordinate(kind, baseline):
    algo, params, batch = _fd_case(kind, baseline, 7 + kind, 4)
    check_loss_grad(algo.loss_and_grad, params, batch)


def test_loss_is_weighted_log_likelihood():
    # L = -(1/B) sum_b w_b log pi(a_b|s_b): at the uniform initial linear policy over A = 3,
    # log pi = -log 3, so L = (log 3 / B) sum_b w_b.
    algo = Reinforce(dict(policy="linear"), disc_spec(3, 3))
    state = algo.init(0)
    batch = random_batch(disc_spec(3, 3), 4, np.random.default_rng(0), keys=("w", "G"))
    loss, _, _ = algo.loss_and_grad({"policy": state["policy"]}, batch)
    np.testing.assert_allclose(float(loss), np.log(3) * batch["w"].sum() / 4)


# ----------------------------------------------------------------------------- learning

@pytest.mark.parametrize("baseline", ["none", "mean", "value"])
def test_learns_two_step_mdp_to_optimum(baseline):
    mdp = two_step_mdp()
    assert optimal_value(mdp) == pytest.approx(J_STAR)
    algo = Reinforce(dict(policy="linear", lr=0.1, n_envs=4, n_steps=8, gamma=GAMMA,
                          baseline=baseline), spec_of(TwoStepEnv))
    state, _, _ = train(algo, TwoStepEnv, 60)
    assert exact_J(algo, state, mdp) >= 0.95 * J_STAR


def test_mlp_policy_learns_two_step_mdp():
    mdp = two_step_mdp()
    algo = Reinforce(dict(policy="mlp", hidden=(8,), lr=0.05, n_envs=4, n_steps=8,
                          gamma=GAMMA, baseline="mean"), spec_of(TwoStepEnv))
    state, _, _ = train(algo, TwoStepEnv, 80)
    assert exact_J(algo, state, mdp) >= 0.95 * J_STAR


@pytest.mark.parametrize("baseline", ["mean", "value"])
def test_gaussian_mlp_learns_continuous_bandit(baseline):
    # J = 1 - (mu - 1)^2 - sigma^2, optimum 1: the mean must move to 1 and sigma shrink.
    algo = Reinforce(dict(policy="mlp", hidden=(8,), lr=0.05, critic_lr=0.1, n_envs=8,
                          n_steps=4, gamma=0.9, baseline=baseline), spec_of(GaussianBanditEnv))
    state, _, _ = train(algo, GaussianBanditEnv, 150)
    assert gaussian_bandit_J(algo, state) >= 0.95


def test_float32_train_state_stays_float32():
    algo = Reinforce(dict(policy="mlp", hidden=(4,), n_envs=2, n_steps=6, gamma=GAMMA,
                          baseline="value", dtype="float32"), spec_of(TwoStepEnv))
    state, stats, _ = train(algo, TwoStepEnv, 4)
    assert all(to_numpy(v).dtype == np.float32 for net in ("policy", "critic")
               for v in state[net].values())
    assert np.isfinite(stats["loss"])


def test_value_baseline_learns_plus_one_forever_value():
    # CountingEnv pays +1 forever and is only truncated (after 5 steps): returns bootstrap from
    # V(real final obs), so V converges to 1 / (1 - gamma) = 10, not to the 5-step sum.
    algo = Reinforce(dict(policy="linear", n_envs=4, n_steps=10, gamma=0.9, baseline="value",
                          optimizer="sgd", critic_lr=0.5), spec_of(forever_env))
    state, _, _ = train(algo, forever_env, 60)
    v = algo.value(state, np.ones((1, 1)))
    assert v[0] == pytest.approx(10.0, rel=0.02)


# ----------------------------------------------------------------------------- determinism

def test_same_seed_bitwise_identical_different_seeds_differ():
    def run(seed):
        algo = Reinforce(dict(policy="mlp", hidden=(4,), n_envs=2, n_steps=6, gamma=GAMMA,
                              baseline="value"), spec_of(TwoStepEnv))
        return params_vector(train(algo, TwoStepEnv, 5, seed=seed)[0])
    a, b, c = run(3), run(3), run(4)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


# ----------------------------------------------------------------------------- bad input

@pytest.mark.parametrize("field,value,err", [
    ("baseline", "median", ValueError), ("returns", "forward", ValueError),
    ("discount_weighting", 1, TypeError), ("lr", 0.0, ValueError), ("lr", "fast", TypeError),
    ("n_steps", 0, ValueError), ("n_envs", -2, ValueError), ("gamma", 1.5, ValueError),
    ("policy", "tabular", ValueError), ("optimizer", "adagrad", ValueError),
    ("max_grad_norm", -1.0, ValueError), ("baseline", 3, TypeError)])
def test_bad_config_raises_typed_error_naming_the_field(field, value, err):
    with pytest.raises(err, match=field):
        ReinforceConfig(**{field: value})


def test_bad_update_inputs():
    algo = Reinforce(dict(policy="linear", n_envs=2, n_steps=3, baseline="value"),
                     disc_spec(2, 2))
    state = algo.init(0)
    ro = fake_rollout(np.ones((3, 2)), np.zeros((3, 2)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="next_value"):
        algo.update(state, ro, 0.0, 0)
    with pytest.raises(ValueError, match="progress"):
        algo.update(state, ro, 1.5, 0)
    with pytest.raises(ValueError, match="n_envs"):
        algo.update(state, fake_rollout(np.ones((3, 3)), np.zeros((3, 3)),
                                        np.zeros((3, 3))), 0.0, 0)
    with pytest.raises(TypeError, match="spec"):
        Reinforce(None, None)
    with pytest.raises(ValueError, match="unknown fields"):
        Reinforce({"lamda": 0.9}, disc_spec(2, 2))


def test_registered():
    assert get_algorithm("reinforce") is Reinforce and ALGORITHMS["reinforce"] is Reinforce


@pytest.mark.parametrize("kind", range(4))
def test_loss_and_grad_on_every_backend(xp, kind):
    algo, params, batch = _fd_case(kind, "value" if kind % 2 else "none", 5 + kind, 4)
    loss, grads, _ = algo.loss_and_grad(params, batch)
    moved = {n: {k: xp.asarray(v) for k, v in p.items()} for n, p in params.items()}
    loss_x, grads_x, _ = algo.loss_and_grad(moved, {k: xp.asarray(v) for k, v in batch.items()})
    np.testing.assert_allclose(float(loss_x), float(loss), rtol=1e-12)
    for n in grads:
        for k in grads[n]:
            np.testing.assert_allclose(to_numpy(grads_x[n][k]), to_numpy(grads[n][k]),
                                       rtol=1e-10, atol=1e-12)


def test_never_ending_episode_raises(monkeypatch):
    import npg.algos.reinforce as R
    monkeypatch.setattr(R, "MAX_PENDING_STEPS", 5)
    algo = Reinforce(dict(policy="linear", n_envs=1, n_steps=3), disc_spec(2, 2))
    state = algo.init(0)
    ro = fake_rollout(np.ones((3, 1)), np.zeros((3, 1)), np.zeros((3, 1)))
    state, _ = algo.update(state, ro, 0.0, 0)
    with pytest.raises(ValueError, match="time limit"):
        algo.update(state, ro, 0.0, 0)


def test_update_is_one_sgd_step_on_the_checked_loss():
    algo = Reinforce(dict(policy="mlp", hidden=(4,), n_envs=3, n_steps=12, optimizer="sgd",
                          lr=0.1, critic_lr=0.2, baseline="value"), disc_spec(2, 2))
    state = algo.init(1)
    ro = _stream()
    ro.next_value = np.zeros_like(ro.rew)
    buf, used, _ = algo.split_episodes(state["pending"], ro)
    t = algo.targets(state, buf, used)
    params = {"policy": state["policy"], "critic": state["critic"]}
    _, grads, _ = algo.loss_and_grad(params, t)
    new, _ = algo.update(state, ro, 0.0, 0)
    for net, lr in (("policy", 0.1), ("critic", 0.2)):
        for k in grads[net]:
            np.testing.assert_allclose(to_numpy(new[net][k]),
                                       to_numpy(params[net][k]) - lr * to_numpy(grads[net][k]),
                                       rtol=1e-12, atol=1e-14)


def test_train_state_survives_flat_round_trip():
    # The Agent saves train states with state_to_flat / np.savez; the episode buffer and the
    # running mean must come back and give the same next update.
    from npg.algos import state_from_flat, state_to_flat
    algo = Reinforce(dict(policy="linear", n_envs=3, n_steps=6, baseline="mean"),
                     disc_spec(2, 2))
    full = _stream()
    state, _ = algo.update(algo.init(0), slice_rollout(full, 0, 6), 0.0, 0)
    back = state_from_flat(state_to_flat(state))
    a, _ = algo.update(state, slice_rollout(full, 6, 12), 0.5, 0)
    b, _ = algo.update(back, slice_rollout(full, 6, 12), 0.5, 0)
    np.testing.assert_array_equal(params_vector(a), params_vector(b))
    assert a["baseline"] == b["baseline"]
