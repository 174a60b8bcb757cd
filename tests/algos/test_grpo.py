"""GRPO: the loss and its gradient, the exact expected direction, seeded z-tests, the updater.

z-tests: M independent batches, each a GRPO gradient at pi_old = pi_theta; per coordinate
z = (mean - exact) / (sd / sqrt(M)), Bonferroni |z| < 4.5. Coordinates the batches never move
(zero sample variance) must match the exact value to rounding.
"""

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from npg.algos import GRPO, GRPOConfig
from npg.envs.sequence_tasks import Bandit, TargetPattern
from npg.losses_sequence import (aggregation_weights, group_advantages, grpo_loss,
                                 kl_penalty)
from npg.params import flatten
from npg.policies import LinearSequencePolicy, TabularSequencePolicy
from npg.sequence_exact import (compositions, expected_grpo_direction, expected_reward,
                                grpo_bias, objective_gradient)
from npg.testing import check_grad

TASK = TargetPattern([(1,), (2, 1), (1, 2, 1)], vocab_size=3, max_len=4)
POL = TabularSequencePolicy(TASK.n_prompts, TASK.space)


def _towards_targets(seed, bonus=1.2):
    """Random logits plus ``bonus`` on each target token after its target prefix: success
    probabilities between about 0.15 and 0.6, every prefix reachable."""
    theta = POL.init(seed, scale=0.5)["theta"]
    for x, target in enumerate(TASK.targets):
        for t in range(len(target)):
            pre = np.full((1, TASK.space.max_len), -1)
            pre[0, :t] = target[:t]
            theta[x, POL.prefix_index(pre, np.array([t]))[0], target[t]] += bonus
    return {"theta": theta}


PARAMS = _towards_targets(3)
REF = POL.frozen(POL.init(4, scale=0.8))


# ----------------------------------------------------------------------------------------------
# advantages and aggregation
# ----------------------------------------------------------------------------------------------

def test_group_advantages_by_hand():
    r = np.array([[1.0, 0.0, 0.0, 1.0], [2.0, 2.0, 2.0, 2.0]])
    # group 1: mean 0.5, sample std sqrt(4 * 0.25 / 3) = 0.57735
    a = group_advantages(r, "mean_std", eps=1e-4)
    np.testing.assert_allclose(a[0], np.array([0.5, -0.5, -0.5, 0.5]) / (math.sqrt(1 / 3) + 1e-4))
    assert np.all(a[1] == 0)
    np.testing.assert_allclose(group_advantages(r, "mean")[0], [0.5, -0.5, -0.5, 0.5])
    np.testing.assert_allclose(group_advantages(r, "mean_std", eps=1e-4, ddof=0)[0],
                               np.array([0.5, -0.5, -0.5, 0.5]) / (0.5 + 1e-4))


def test_group_of_one_and_empty_batch_are_errors():
    with pytest.raises(ValueError, match="group_size must be >= 2"):
        group_advantages(np.ones((3, 1)))
    with pytest.raises(ValueError, match="at least one group"):
        group_advantages(np.ones((0, 4)))
    with pytest.raises(ValueError, match="group_size must be >= 2"):
        GRPOConfig(group_size=1)
    with pytest.raises(ValueError, match="group_size must be >= 2"):
        expected_grpo_direction(POL, PARAMS, TASK, 1)
    with pytest.raises(ValueError, match="whole groups"):
        aggregation_weights(np.array([1, 2, 3]), 2, 4)
    with pytest.raises(ValueError, match="at least one group"):
        grpo_loss(np.zeros((0, 4)), np.zeros((0, 4)), np.zeros(0), np.zeros((0, 4)), 2)
    with pytest.raises(ValueError, match="normalize"):
        group_advantages(np.ones((1, 2)), "std")
    with pytest.raises(ValueError, match="beta"):
        GRPOConfig(beta=-0.1)
    with pytest.raises(TypeError, match="reference"):
        expected_grpo_direction(POL, PARAMS, TASK, 2, beta=0.1)
    with pytest.raises(TypeError, match="reference"):
        objective_gradient(POL, PARAMS, TASK, beta=0.1)
    with pytest.raises(ValueError, match="beta"):
        objective_gradient(POL, PARAMS, TASK, REF, beta=-1.0)


def test_aggregation_weights_by_hand():
    n = np.array([1, 3, 2, 2])
    np.testing.assert_allclose(aggregation_weights(n, 2, 4, "sequence"), 1 / (4 * n))
    np.testing.assert_allclose(aggregation_weights(n, 2, 4, "token"), np.full(4, 1 / 8))
    np.testing.assert_allclose(aggregation_weights(n, 2, 4, "constant"), np.full(4, 1 / 16))


def test_kl_estimators_by_hand():
    lp, lr = np.array([-1.0, -2.0]), np.array([-1.5, -1.0])
    D, dD = kl_penalty(lp, lr, "k3")
    np.testing.assert_allclose(D, np.exp(lr - lp) - (lr - lp) - 1)
    np.testing.assert_allclose(dD, 1 - np.exp(lr - lp))
    D, dD = kl_penalty(lp, lr, "k1")
    np.testing.assert_allclose(D, lp - lr) and np.testing.assert_allclose(dD, 1.0)


# ----------------------------------------------------------------------------------------------
# the loss gradient: finite differences
# ----------------------------------------------------------------------------------------------

@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), agg=st.sampled_from(["sequence", "token", "constant"]),
       kl=st.sampled_from(["k3", "k1"]), beta=st.sampled_from([0.0, 0.3]))
def test_grpo_loss_gradient_matches_finite_differences(seed, agg, kl, beta):
    rng = np.random.default_rng(seed)
    G, n, L = 3, 2, 4
    lengths = rng.integers(1, L + 1, G * n)
    mask = (np.arange(L) < lengths[:, None]).astype(float)
    lp_old = -rng.uniform(0.1, 2.0, (G * n, L))
    lp = lp_old + rng.normal(0, 0.3, lp_old.shape)
    lr = -rng.uniform(0.1, 2.0, lp.shape)
    adv = rng.standard_normal(G * n)
    rho = np.exp(lp - lp_old)
    assume(np.min(np.abs(rho - 0.8)) > 1e-3 and np.min(np.abs(rho - 1.2)) > 1e-3)

    def f(p):
        return grpo_loss(p["lp"], lp_old, adv, mask, G, 0.2, agg, lr, beta, kl)[0]
    _, d, _ = grpo_loss(lp, lp_old, adv, mask, G, 0.2, agg, lr, beta, kl)
    check_grad(f, {"lp": d}, {"lp": lp})
    assert np.all(d[mask == 0] == 0)


def test_clipped_tokens_get_no_gradient_by_hand():
    # One group of two one-token completions, eps = 0.2, constant weights c = 1/(B L) = 1/2.
    lp_old = np.log(np.array([[0.5], [0.5]]))
    mask = np.ones((2, 1))
    for ratio, adv, clipped in [(1.3, 1.0, True), (1.3, -1.0, False), (0.7, -1.0, True),
                                (0.7, 1.0, False), (1.1, 1.0, False)]:
        lp = lp_old + np.log(ratio)
        a = np.array([adv, -adv])
        loss, d, stats = grpo_loss(lp, lp_old, a, mask, 2, 0.2, "constant")
        expect = 0.0 if clipped else -0.5 * ratio * adv
        np.testing.assert_allclose(d[0, 0], expect, atol=1e-15)
        other = (-adv > 0 and ratio > 1.2) or (-adv < 0 and ratio < 0.8)
        assert stats["clip_frac"] == (clipped + other) / 2


def test_grpo_parameter_gradient_matches_finite_differences():
    # The full chain: loss layer, sequence distribution, tabular vjp, at a ratio != 1.
    cfg = GRPOConfig(group_size=3, n_prompts=2, beta=0.2, aggregation="token")
    algo = GRPO(POL, TASK, cfg)
    state = algo.init(PARAMS)
    batch = algo.sample_batch(state, np.random.default_rng(0))
    p = {"theta": PARAMS["theta"] + 0.05 * np.random.default_rng(1).standard_normal(
        PARAMS["theta"].shape)}
    _, g, _ = algo.loss_and_grad(p, batch)
    check_grad(lambda q: algo.loss_and_grad(q, batch)[0], g, p)


# ----------------------------------------------------------------------------------------------
# exact expectations: identities
# ----------------------------------------------------------------------------------------------

def test_compositions_count_and_sum():
    c = compositions(3, 4)
    assert c.shape == (math.comb(6, 3), 4) and np.all(c.sum(1) == 3)
    assert len({tuple(r) for r in c}) == c.shape[0]


def _brute_force_direction(task, pol, params, ref, G, n_groups, normalize, aggregation, beta):
    """E[-grad L] by listing every batch: (prompt, G completions) for each of n groups, each
    batch's token weights -P(batch) d L / d logp accumulated onto its (prompt, completion)."""
    import itertools
    ys = task.completions
    N, X, L = ys.shape[0], task.n_prompts, task.space.max_len
    all_x, all_y = np.repeat(np.arange(X), N), np.tile(ys, (X, 1))
    lp = pol.token_log_probs(params, all_x, all_y).reshape(X, N, L)
    lr = ref.token_log_probs(all_x, all_y).reshape(X, N, L)
    mask = task.space.mask(ys)
    prob = np.exp(lp.sum(axis=2))
    W = np.zeros((X, N, L))
    groups = [(x, c) for x in range(X) for c in itertools.product(range(N), repeat=G)]
    for batch in itertools.product(groups, repeat=n_groups):
        x = np.repeat([g[0] for g in batch], G)
        idx = np.concatenate([g[1] for g in batch])
        p_batch = np.prod([np.prod(prob[g[0], list(g[1])]) / X for g in batch])
        adv = group_advantages(task.rewards[x, idx].reshape(n_groups, G), normalize)
        d = grpo_loss(lp[x, idx], lp[x, idx], adv.reshape(-1), mask[idx], G, 0.2, aggregation,
                      lr[x, idx], beta, "k3")[1]
        np.add.at(W, (x, idx), -p_batch * d)
    return pol.token_score_sum(params, all_x, all_y, W.reshape(X * N, L))


@pytest.mark.parametrize("G, n_groups, normalize, aggregation, beta", [
    (3, 1, "mean_std", "sequence", 0.0), (3, 1, "mean", "token", 0.4),
    (2, 2, "mean_std", "token", 0.0), (2, 2, "mean", "sequence", 0.4),
])
def test_exact_direction_equals_the_sum_over_every_batch(G, n_groups, normalize, aggregation,
                                                        beta):
    # Two groups: the 3-completion space (eos), (1, eos), (1, 1), so 18^2 batches of 2 + 2.
    task = (TargetPattern([(1,), (2, 1)], vocab_size=3, max_len=2) if n_groups == 1 else
            TargetPattern([(1,), (1, 1)], vocab_size=2, max_len=2))
    pol = TabularSequencePolicy(2, task.space)
    params, ref = pol.init(0, scale=0.8), pol.frozen(pol.init(1, scale=0.8))
    brute = flatten(_brute_force_direction(task, pol, params, ref, G, n_groups, normalize,
                                           aggregation, beta))
    exact = flatten(expected_grpo_direction(pol, params, task, G, normalize, aggregation,
                                            n_groups, reference=ref, beta=beta))
    np.testing.assert_allclose(exact, brute, atol=1e-14, rtol=1e-10)


@pytest.mark.parametrize("n_groups", [1, 2])
def test_mean_only_constant_is_the_scaled_true_gradient_exactly(n_groups):
    # omega = ((G-1)/G)(r - E r)/L  =>  E[-grad L] = (G-1)/(G L) grad E r, to rounding.
    G = 4
    g = flatten(expected_grpo_direction(POL, PARAMS, TASK, G, "mean", "constant", n_groups))
    t = flatten(objective_gradient(POL, PARAMS, TASK))
    np.testing.assert_allclose(g, (G - 1) / (G * TASK.space.max_len) * t, atol=1e-15)


def test_on_a_bandit_every_aggregation_coincides():
    # Length one: |o| = L = 1, so 1/(B |o|) = 1/sum|o| = 1/(B L) and the three agree exactly.
    task = Bandit([[0.0, 1.0, 0.3], [1.0, 0.0, 0.0]])
    pol = TabularSequencePolicy(2, task.space)
    params = pol.init(2, scale=1.0)
    d = {agg: flatten(expected_grpo_direction(pol, params, task, 3, "mean_std", agg, 2))
         for agg in ("sequence", "token", "constant")}
    np.testing.assert_allclose(d["sequence"], d["constant"], atol=1e-15)
    np.testing.assert_allclose(d["token"], d["constant"], atol=1e-15)


def test_plain_kl_penalty_has_zero_expected_gradient_on_policy():
    # k1: dD/dlogp = 1, and E_pi[grad log pi] = 0 -- so with constant weights the plain
    # penalty does nothing at pi_old = pi_theta: the direction equals the one without it.
    # With 1/|o| weights it does not vanish: E[grad log pi(y) / |y|] != 0.
    def direction(agg, beta):
        return flatten(expected_grpo_direction(POL, PARAMS, TASK, 3, "mean_std", agg,
                                               reference=REF, beta=beta, kl="k1"))
    np.testing.assert_allclose(direction("constant", 0.5), direction("constant", 0.0),
                               atol=1e-14)
    assert np.max(np.abs(direction("sequence", 0.5) - direction("sequence", 0.0))) > 1e-3


def test_std_normalisation_by_hand_for_pairs():
    # G = 2, binary reward, one prompt: A = +-0.5 / (sqrt(1/2) + eps) whenever the two differ,
    # so omega(r=1) - omega(r=0) = a / L with a = 0.5 / (sqrt(.5) + eps) and E[-grad L] =
    # (a / L) grad P(correct), for every success probability.
    eps = 1e-4
    w = np.array([0.0, 1.0, 0.0])
    g = flatten(expected_grpo_direction(POL, PARAMS, TASK, 2, "mean_std", "constant",
                                        eps=eps, prompt_weights=w))
    t = flatten(objective_gradient(POL, PARAMS, TASK, prompt_weights=w))
    a = 0.5 / (math.sqrt(0.5) + eps)
    np.testing.assert_allclose(g, a / TASK.space.max_len * t, atol=1e-15)


def test_normalisations_are_biased_by_exact_amounts():
    # Unbiased: scale (G-1)/(G L) and cosine 1 on every prompt. The std division rescales each
    # prompt by its difficulty (binary rewards: still parallel, cosine 1); the 1/|o| and
    # 1/sum|o| factors weight completions by length, so the direction turns (cosine < 1).
    G, L = 4, TASK.space.max_len
    ok = grpo_bias(POL, PARAMS, TASK, G, "mean", "constant")
    np.testing.assert_allclose(ok["scale"], (G - 1) / (G * L), rtol=1e-12)
    np.testing.assert_allclose(ok["cosine"], 1.0, rtol=1e-12)
    std = grpo_bias(POL, PARAMS, TASK, G, "mean_std", "constant")
    np.testing.assert_allclose(std["cosine"], 1.0, rtol=1e-10)
    # difficulty: two-armed bandits with success probability p; G = 8, unbiased scale 7/8.
    ps = np.array([0.02, 0.3, 0.5, 0.7, 0.98])
    bandit = Bandit(np.tile([0.0, 1.0], (ps.size, 1)))
    pol = TabularSequencePolicy(ps.size, bandit.space)
    theta = np.zeros((ps.size, 1, 2))
    theta[:, 0, 1] = np.log(ps / (1 - ps))
    k = grpo_bias(pol, {"theta": theta}, bandit, 8, "mean_std", "constant")["scale"]
    np.testing.assert_allclose(k, k[::-1], rtol=1e-9)          # symmetric in p <-> 1 - p
    assert k[2] == k.min() and k[0] / k[2] > 1.3               # easy and hard prompts count more
    for agg in ("sequence", "token"):
        b = grpo_bias(POL, PARAMS, TASK, G, "mean", agg)
        assert b["cosine"].min() < 1 - 1e-3, (agg, b["cosine"])


# ----------------------------------------------------------------------------------------------
# seeded z-tests: sampled GRPO gradients against the exact expectation
# ----------------------------------------------------------------------------------------------

def sampled_directions(M, G, n_groups, normalize, aggregation, beta=0.0, kl="k3", seed=0,
                       chunk=400, policy=None, params=None, ref=None):
    """[M, P]: -grad grpo_loss on M independent batches at pi_old = pi_theta."""
    POL, PARAMS, REF = (globals()["POL"], globals()["PARAMS"], globals()["REF"]) \
        if policy is None else (policy, params, ref)
    rng = np.random.default_rng(seed)
    B, out = G * n_groups, []
    for start in range(0, M, chunk):
        m = min(chunk, M - start)
        x = np.repeat(rng.integers(0, TASK.n_prompts, m * n_groups), G)
        y = POL.sample(PARAMS, x, rng)
        r = TASK.reward(x, y)
        lp = POL.token_log_probs(PARAMS, x, y)
        lr = REF.token_log_probs(x, y)
        mask = TASK.space.mask(y)
        W = np.zeros_like(lp)
        for j in range(m):
            s = slice(j * B, (j + 1) * B)
            adv = group_advantages(r[s].reshape(n_groups, G), normalize).reshape(-1)
            W[s] = -grpo_loss(lp[s], lp[s], adv, mask[s], G, 0.2, aggregation, lr[s], beta,
                              kl)[1]
        T = POL.token_scores(PARAMS, x, y)
        out.append(np.einsum("bt,btp->bp", W, T).reshape(m, B, -1).sum(axis=1))
    return np.concatenate(out)


def _max_z(samples, exact):
    mean = samples.mean(axis=0)
    se = samples.std(axis=0, ddof=1) / math.sqrt(samples.shape[0])
    moving = se > 0
    assert np.allclose(mean[~moving], exact[~moving], atol=1e-12)
    return float(np.max(np.abs(mean[moving] - exact[moving]) / se[moving]))


@pytest.mark.parametrize("normalize, aggregation, n_groups, beta", [
    ("mean_std", "sequence", 1, 0.0),
    ("mean_std", "token", 2, 0.0),
    ("mean", "sequence", 1, 0.3),
    ("mean_std", "constant", 1, 0.3),
])
def test_sampled_grpo_gradient_mean_is_the_exact_expected_direction(normalize, aggregation,
                                                                     n_groups, beta):
    G = 4
    exact = flatten(expected_grpo_direction(POL, PARAMS, TASK, G, normalize, aggregation,
                                            n_groups, reference=REF, beta=beta))
    samples = sampled_directions(3000, G, n_groups, normalize, aggregation, beta, seed=11)
    assert _max_z(samples, exact) < 4.5


def test_the_exact_direction_holds_for_a_linear_policy_with_shared_weights():
    pol = LinearSequencePolicy(TASK.n_prompts, TASK.space)
    params = pol.init(7, out_gain=1.5)
    ref = pol.frozen(pol.init(8, out_gain=1.5))
    exact = flatten(expected_grpo_direction(pol, params, TASK, 4, "mean_std", "token", 2,
                                            reference=ref, beta=0.2))
    samples = sampled_directions(2000, 4, 2, "mean_std", "token", 0.2, seed=14, policy=pol,
                                 params=params, ref=ref)
    assert _max_z(samples, exact) < 4.5


def test_without_std_and_length_averaging_it_is_unbiased_for_the_true_gradient():
    G, L = 4, TASK.space.max_len
    truth = (G - 1) / (G * L) * flatten(objective_gradient(POL, PARAMS, TASK))
    samples = sampled_directions(3000, G, 1, "mean", "constant", seed=12)
    assert _max_z(samples, truth) < 4.5


def test_with_std_and_length_averaging_the_bias_is_detectable():
    # The same z-statistic against the (best-scaled) true gradient is far outside 4.5.
    G = 4
    t = flatten(objective_gradient(POL, PARAMS, TASK))
    samples = sampled_directions(3000, G, 1, "mean_std", "sequence", seed=13)
    scale = samples.mean(0) @ t / (t @ t)
    assert _max_z(samples, scale * t) > 8.0


# ----------------------------------------------------------------------------------------------
# the updater learns the task
# ----------------------------------------------------------------------------------------------

def test_grpo_learns_the_target_patterns():
    algo = GRPO(POL, TASK, GRPOConfig(group_size=8, n_prompts=6, lr=0.1, inner_iters=2))
    state = algo.init(POL.init(0))
    rng = np.random.default_rng(0)
    before = expected_reward(POL, state["params"], TASK)
    for _ in range(60):
        state, stats = algo.update(state, rng)
    after = expected_reward(POL, state["params"], TASK)
    assert np.all(before < 0.2) and np.all(after > 0.9), (before, after)
    assert set(stats) >= {"loss", "reward", "accuracy", "clip_frac", "kl", "length"}


def test_inner_iterations_move_the_ratio_until_the_clip_engages():
    algo = GRPO(POL, TASK, GRPOConfig(group_size=8, n_prompts=6, lr=0.3, inner_iters=10,
                                      clip=0.1))
    state = algo.init(PARAMS)
    rng = np.random.default_rng(1)
    batch = algo.sample_batch(state, rng)
    params, opt = state["params"], state["opt"]
    fracs = []
    for _ in range(10):
        _, grads, stats = algo.loss_and_grad(params, batch)
        params, opt = algo.optimizer.step(params, grads, opt)
        fracs.append(stats["clip_frac"])
    assert fracs[0] == 0.0 and max(fracs) > 0.05


def test_space_mismatch_is_an_error():
    with pytest.raises(ValueError, match="space"):
        GRPO(TabularSequencePolicy(3, TargetPattern([(1,)], max_len=3).space), TASK)
