"""npg.returns against independent reference loops, identities between estimators, hand values,
and the infinite-horizon (truncation is not termination) check."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from npg.returns import discounted_returns, gae, lambda_returns, nstep_returns, td_errors
from npg.returns import _vectorised

import returns_reference as ref
from returns_reference import make_rollout

probs = st.sampled_from([0.0, 0.02, 0.1, 0.3, 0.6])
unit = st.sampled_from([0.0, 0.5, 0.9, 0.99, 1.0]) | st.floats(0.0, 1.0)


@st.composite
def rollouts(draw, max_T=200, max_N=16, consistent=None):
    T, N = draw(st.integers(1, max_T)), draw(st.integers(1, max_N))
    c = draw(st.booleans()) if consistent is None else consistent
    ro = make_rollout(draw(st.integers(0, 2**32 - 1)), T, N, draw(probs), draw(probs),
                      consistent=c)
    ro.update(gamma=draw(unit), lam=draw(unit), n=draw(st.integers(1, T + 2)))
    ro["start"] = np.asarray(draw(st.lists(st.integers(0, 50), min_size=N, max_size=N)))
    return ro


def _close(a, b, tol=1e-12):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape
    assert np.all(np.isfinite(a))
    assert np.max(np.abs(a - b)) <= tol, np.max(np.abs(a - b))


@settings(max_examples=500)
@given(rollouts())
def test_all_functions_match_reference_loops(ro):
    """Both the Numba kernels and the vectorised path agree with the plain loops to 1e-12."""
    r, v, nv, d, c = ro["rew"], ro["value"], ro["next_value"], ro["term"], ro["trunc"]
    g, lam, n, k0 = ro["gamma"], ro["lam"], ro["n"], ro["start"]
    adv, y = gae(r, v, nv, d, c, g, lam)
    adv_ref, y_ref = ref.gae(r, v, nv, d, c, g, lam)
    _close(adv, adv_ref)
    _close(y, y_ref)
    _close(_vectorised.gae(np, r, v, nv, d, c, g, g * lam), adv_ref)
    _close(td_errors(r, v, nv, d, g), ref.td(r, v, nv, d, g))
    lr = ref.lambda_return(r, nv, d, c, g, lam)
    _close(lambda_returns(r, v, nv, d, c, g, lam), lr)
    _close(_vectorised.lambda_returns(np, r, nv, d, c, g, lam, 1 - lam), lr)
    ns = ref.nstep(r, nv, d, c, g, n)
    _close(nstep_returns(r, v, nv, d, c, g, n), ns)
    _close(_vectorised.nstep(np, r, nv, d, c, g, n), ns)
    boot = ref.discounted(r, d, c, g, nv)
    _close(discounted_returns(r, d, c, g, nv), boot)
    _close(_vectorised.discounted(np, r, nv, d, c, g, True), boot)
    mc = ref.discounted(r, d, c, g, None, weighting=True, start=k0)
    _close(discounted_returns(r, d, c, g, discount_weighting=True, start_step=k0), mc)


@settings(max_examples=200)
@given(rollouts(consistent=True))
def test_identities_between_estimators(ro):
    r, v, nv, d, c = ro["rew"], ro["value"], ro["next_value"], ro["term"], ro["trunc"]
    g, lam = ro["gamma"], ro["lam"]
    T = r.shape[0]
    G = discounted_returns(r, d, c, g, nv)
    # GAE at lambda = 0 is the TD error
    _close(gae(r, v, nv, d, c, g, 0.0)[0], td_errors(r, v, nv, d, g))
    # GAE at lambda = 1 telescopes to G - V (needs V'_t = V_{t+1} inside episodes)
    adv1, y1 = gae(r, v, nv, d, c, g, 1.0)
    _close(adv1 + v, G, 1e-11)
    _close(y1, G, 1e-11)
    # lambda-return = GAE + V, for every lambda
    _close(lambda_returns(r, v, nv, d, c, g, lam), gae(r, v, nv, d, c, g, lam)[1], 1e-11)
    # the n-step return with n >= T is the lambda = 1 return is the bootstrapped return
    _close(nstep_returns(r, v, nv, d, c, g, T), lambda_returns(r, v, nv, d, c, g, 1.0))
    _close(nstep_returns(r, v, nv, d, c, g, T + 7), G)
    # one step: n = 1 and lambda = 0 both give r + gamma (1 - d) V' = delta + V
    one = td_errors(r, v, nv, d, g) + v
    _close(nstep_returns(r, v, nv, d, c, g, 1), one)
    _close(lambda_returns(r, v, nv, d, c, g, 0.0), one)


@settings(max_examples=200)
@given(rollouts(max_T=12, max_N=3))
def test_lambda_return_is_the_mixture_of_nstep_returns(ro):
    """Forward view: (1 - lam) sum_n lam^{n-1} G^(n), the tail weight on the full return."""
    r, nv, d, c = ro["rew"], ro["next_value"], ro["term"], ro["trunc"]
    want = ref.lambda_return_from_nstep(r, nv, d, c, ro["gamma"], ro["lam"])
    _close(lambda_returns(r, ro["value"], nv, d, c, ro["gamma"], ro["lam"]), want, 1e-11)


@settings(max_examples=200)
@given(rollouts(max_T=60), st.data())
def test_splitting_at_episode_boundaries_changes_nothing(ro, data):
    r, v, nv, d, c = ro["rew"], ro["value"], ro["next_value"], ro["term"].copy(), ro["trunc"]
    T, N = r.shape
    s = data.draw(st.integers(1, T))                  # every env's episode ends at step s - 1
    d[s - 1] |= data.draw(st.booleans())
    c = c.copy()
    c[s - 1] |= ~d[s - 1]
    nv = np.where(d, np.nan, np.nan_to_num(nv))
    g, lam, n = ro["gamma"], ro["lam"], ro["n"]
    fns = [lambda *a: gae(*a[:5], g, lam)[0], lambda *a: lambda_returns(*a[:5], g, lam),
           lambda *a: nstep_returns(*a[:5], g, n), lambda *a: discounted_returns(
               a[0], a[3], a[4], g, a[2], discount_weighting=True)]
    cols = data.draw(st.lists(st.integers(0, N - 1), min_size=1, max_size=N, unique=True))
    for f in fns:
        whole = f(r, v, nv, d, c)
        parts = [f(r[a:b], v[a:b], nv[a:b], d[a:b], c[a:b]) for a, b in ((0, s), (s, T)) if b > a]
        np.testing.assert_array_equal(np.concatenate(parts), whole)
        # environments are independent: a subset of columns gives those columns
        np.testing.assert_array_equal(f(r[:, cols], v[:, cols], nv[:, cols], d[:, cols],
                                        c[:, cols]), whole[:, cols])


@settings(max_examples=200)
@given(rollouts(max_T=40, max_N=4))
def test_nan_next_value_at_terminated_steps_never_reaches_the_output(ro):
    r, v, nv, d, c = ro["rew"], ro["value"], ro["next_value"], ro["term"], ro["trunc"]
    finite = np.where(d, 123.0, nv)                   # any finite number in place of the NaN
    g, lam, n = ro["gamma"], ro["lam"], ro["n"]
    for f in (lambda x: gae(r, v, x, d, c, g, lam)[0], lambda x: td_errors(r, v, x, d, g),
              lambda x: lambda_returns(r, v, x, d, c, g, lam),
              lambda x: nstep_returns(r, v, x, d, c, g, n),
              lambda x: discounted_returns(r, d, c, g, x)):
        out = f(nv)
        assert np.all(np.isfinite(out))
        np.testing.assert_array_equal(out, f(finite))


@settings(max_examples=200)
@given(rollouts(max_T=50, max_N=4))
def test_discount_weighting_multiplies_by_gamma_to_the_episode_step(ro):
    r, d, c, g, k0 = ro["rew"], ro["term"], ro["trunc"], ro["gamma"], ro["start"]
    T, N = r.shape
    k = np.empty((T, N), dtype=np.int64)              # k_t: index of step t in its episode
    k[0] = k0
    for t in range(1, T):
        k[t] = np.where(d[t - 1] | c[t - 1], 0, k[t - 1] + 1)
    plain = discounted_returns(r, d, c, g)
    weighted = discounted_returns(r, d, c, g, discount_weighting=True, start_step=k0)
    _close(weighted, np.float64(g) ** k * plain)


# ---- small hand-derived values ------------------------------------------------------------------

def test_hand_values_discounted_returns():
    r = np.array([1.0, 2.0, 3.0])
    no, nv = np.zeros(3, bool), np.array([7.0, 10.0, 4.0])
    # no flags, gamma = 1/2, the last step bootstraps from V' = 4:
    # G_2 = 3 + 4/2 = 5, G_1 = 2 + 5/2 = 4.5, G_0 = 1 + 4.5/2 = 3.25
    np.testing.assert_allclose(discounted_returns(r, no, no, 0.5, nv), [3.25, 4.5, 5.0])
    # Monte-Carlo (no bootstrap): G_2 = 3, G_1 = 3.5, G_0 = 2.75
    np.testing.assert_allclose(discounted_returns(r, no, no, 0.5), [2.75, 3.5, 3.0])
    # truncated at t = 1 with V(final obs) = 10: G_1 = 2 + 5 = 7, G_0 = 1 + 3.5 = 4.5, G_2 = 5
    cut = np.array([False, True, False])
    np.testing.assert_allclose(discounted_returns(r, no, cut, 0.5, nv), [4.5, 7.0, 5.0])
    # terminated at t = 1 (V' there is NaN and unused): G_1 = 2, G_0 = 1 + 1 = 2, G_2 = 5
    nv_nan = np.array([7.0, np.nan, 4.0])
    np.testing.assert_allclose(discounted_returns(r, cut, no, 0.5, nv_nan), [2.0, 2.0, 5.0])
    # discount weighting, rewards 1, terminated at t = 1, gamma = 1/2, start_step = 2:
    # G = [1.5, 1, 1.5, 1]; k = [2, 3, 0, 1]; gamma^k = [1/4, 1/8, 1, 1/2]
    ones, d = np.ones(4), np.array([False, True, False, False])
    got = discounted_returns(ones, d, np.zeros(4, bool), 0.5, discount_weighting=True,
                             start_step=2)
    np.testing.assert_allclose(got, [0.375, 0.125, 1.5, 0.5])


def test_hand_values_gae_td_nstep_lambda():
    r, v, nv = np.array([1.0, 1.0]), np.array([0.5, 0.5]), np.array([0.5, 2.0])
    no = np.zeros(2, bool)
    # gamma = lam = 1/2: delta_1 = 1 + 2/2 - 0.5 = 1.5, delta_0 = 1 + 0.5/2 - 0.5 = 0.75
    # A_1 = 1.5, A_0 = 0.75 + (1/4) 1.5 = 1.125; targets A + V = [1.625, 2.0]
    adv, y = gae(r, v, nv, no, no, 0.5, 0.5)
    np.testing.assert_allclose(adv, [1.125, 1.5])
    np.testing.assert_allclose(y, [1.625, 2.0])
    np.testing.assert_allclose(td_errors(r, v, nv, no, 0.5), [0.75, 1.5])
    # lambda-return: G_1 = 1 + 2/2 = 2; G_0 = 1 + (1/2)((1/2) 0.5 + (1/2) 2) = 1.625
    np.testing.assert_allclose(lambda_returns(r, v, nv, no, no, 0.5, 0.5), [1.625, 2.0])
    # truncated at t = 0: the trace stops, A_0 = delta_0 = 0.75
    np.testing.assert_allclose(gae(r, v, nv, no, np.array([True, False]), 0.5, 0.5)[0],
                               [0.75, 1.5])
    # terminated at t = 0: delta_0 = 1 - 0.5 = 0.5 and the trace stops
    np.testing.assert_allclose(gae(r, v, nv, np.array([True, False]), no, 0.5, 0.5)[0],
                               [0.5, 1.5])
    # n-step, rewards 1, V' = 8 everywhere, gamma = 1/2, T = 4, n = 2:
    # G_t = 1 + 1/2 + 8/4 = 3.5 for t = 0, 1, 2; G_3 = 1 + 8/2 = 5 (the window hits T - 1)
    one4, eight4, no4 = np.ones(4), np.full(4, 8.0), np.zeros(4, bool)
    np.testing.assert_allclose(nstep_returns(one4, one4, eight4, no4, no4, 0.5, 2),
                               [3.5, 3.5, 3.5, 5.0])


@pytest.mark.parametrize("lam", [0.0, 0.95])
def test_infinite_horizon_value_targets_need_truncation_bootstrapping(lam):
    """+1 forever, only ever truncated (every 50 steps): fitting a constant V to the GAE targets
    converges to 1/(1 - gamma) = 10. Treating truncation as termination does not."""
    gamma, T, N, L = 0.9, 200, 4, 50
    rew = np.ones((T, N))
    trunc = (np.arange(T)[:, None] + 13 * np.arange(N)[None, :]) % L == L - 1
    no = np.zeros((T, N), bool)

    def fit(terminated, truncated):
        V = 0.0
        for _ in range(400):                          # V <- mean of the targets
            v = np.full((T, N), V)
            V = float(np.mean(gae(rew, v, v, terminated, truncated, gamma, lam)[1]))
        return V

    assert abs(fit(no, trunc) - 1.0 / (1.0 - gamma)) < 1e-8
    assert fit(trunc, no) < 1.0 / (1.0 - gamma) - 0.5  # the classic bug: visibly biased low


@pytest.mark.parametrize("T,N", [(200, 16), (1, 16), (200, 1), (1, 1)])
def test_extreme_shapes_match_reference_loops(T, N):
    ro = make_rollout(T * 100 + N, T, N, p_term=0.05, p_trunc=0.05)
    r, v, nv, d, c = ro["rew"], ro["value"], ro["next_value"], ro["term"], ro["trunc"]
    d[T // 2] = c[T // 2] = True                      # both flags on one step
    nv[d] = np.nan
    _close(gae(r, v, nv, d, c, 0.99, 0.95)[0], ref.gae(r, v, nv, d, c, 0.99, 0.95)[0])
    _close(lambda_returns(r, v, nv, d, c, 0.99, 0.9), ref.lambda_return(r, nv, d, c, 0.99, 0.9))
    _close(nstep_returns(r, v, nv, d, c, 0.99, 17), ref.nstep(r, nv, d, c, 0.99, 17))
    _close(discounted_returns(r, d, c, 1.0, nv), ref.discounted(r, d, c, 1.0, nv))
