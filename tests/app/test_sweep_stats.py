"""Aggregate statistics against exact enumeration, SciPy and (where it imports) rliable, and
learning curves against hand-made logs."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

scipy_stats = pytest.importorskip("scipy.stats", reason="npg.app.sweep.stats needs SciPy "
                                  "(pip install 'npg[stats]')")

from npg.app.sweep import stats  # noqa: E402
from npg.app.sweep.curves import auc, run_curve  # noqa: E402


def _rliable():
    try:
        from rliable import library, metrics
    except Exception as err:          # not installed, or arch broken by pandas 3 (measured)
        pytest.skip(f"rliable does not import here ({type(err).__name__}: {err})")
    return library, metrics


def test_point_estimates_by_hand():
    # 8 scores: sorted 0 1 2 3 4 5 6 100; IQM = mean of the middle four (2, 3, 4, 5) = 3.5
    x = np.array([5, 0, 100, 3, 1, 4, 2, 6], float)
    assert stats.iqm(x) == 3.5
    assert stats.median(x) == 3.5 and stats.mean(x) == 121 / 8
    # two tasks: mean = mean of the task means
    two = np.array([[0.0, 10.0], [2.0, 20.0]])
    assert stats.mean(two) == (1.0 + 15.0) / 2


def test_probability_of_improvement_equals_pair_counting():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 5, size=(7, 3)).astype(float)        # ties on purpose
    y = rng.integers(0, 5, size=(6, 3)).astype(float)
    per_task = [np.mean([(a > b) + 0.5 * (a == b) for a in x[:, m] for b in y[:, m]])
                for m in range(3)]
    assert stats.probability_of_improvement(x, y) == pytest.approx(np.mean(per_task), abs=1e-15)
    assert stats.probability_of_improvement(x, y) + stats.probability_of_improvement(y, x) == \
        pytest.approx(1.0)


def test_performance_profile_by_hand():
    x = np.array([[1.0, 0.0], [2.0, 5.0], [3.0, 6.0]])
    # tau = 1.5: task 0 has 2/3 above, task 1 2/3 above -> 2/3; tau = 5.5: 0 and 1/3 -> 1/6
    assert np.allclose(stats.performance_profile(x, [1.5, 5.5]), [2 / 3, 1 / 6])


def test_stratified_bootstrap_never_mixes_tasks():
    # task 0 is always 0 and task 1 always 100: every stratified resample has mean exactly
    # 50; an unstratified bootstrap over the pooled runs would not
    x = np.column_stack([np.zeros(6), np.full(6, 100.0)])
    p, lo, hi = stats.interval(x, "mean", n_resamples=500, seed=1)
    assert p == lo == hi == 50.0


def _exact_bootstrap_values(cols, metric):
    """The exact bootstrap distribution: ``metric`` of every resample of every task."""
    per_task = [np.array(list(itertools.product(c, repeat=len(c)))) for c in cols]
    grids = np.meshgrid(*[np.arange(len(p)) for p in per_task], indexing="ij")
    samples = [p[g.ravel()] for p, g in zip(per_task, grids)]          # [K, R] per task
    return stats.METRICS[metric](*samples, axis=-1)


@pytest.mark.parametrize("metric", ["mean", "iqm", "median"])
def test_bootstrap_interval_matches_the_exact_bootstrap_distribution(metric):
    rng = np.random.default_rng(2)
    x = rng.normal(size=(4, 2)).round(2)               # 4^4 x 4^4 = 65,536 exact resamples
    values = _exact_bootstrap_values([x[:, 0], x[:, 1]], metric)
    assert values.shape == (4 ** 8,)
    p, lo, hi = stats.interval(x, metric, n_resamples=20_000, confidence=0.9, seed=3)
    assert p == getattr(stats, metric)(x)
    # 20,000 resamples: the 5% / 95% quantiles agree with the exact ones up to Monte Carlo
    # error; compare in probability (the exact CDF at scipy's bound), |dF| < 0.015 ~ 9 sd
    for bound, target in ((lo, 0.05), (hi, 0.95)):
        below, at = np.mean(values < bound - 1e-12), np.mean(np.abs(values - bound) <= 1e-12)
        assert below - 0.015 <= target <= below + at + 0.015


def test_improvement_interval_resamples_each_side():
    x = np.arange(10.0)[:, None]
    y = np.arange(10.0)[:, None] + 0.5
    p, lo, hi = stats.improvement_interval(x, y, n_resamples=2000, seed=0)
    assert p == pytest.approx(0.45) and 0 <= lo < p < hi <= 1


def test_single_run_has_no_interval():
    p, lo, hi = stats.interval([3.0], "iqm")
    assert p == 3.0 and np.isnan(lo) and np.isnan(hi)


@pytest.mark.parametrize("scores, match", [([], "R, M >= 1"), ([[np.nan]], "finite"),
                                           (np.zeros((2, 2, 2)), "R runs")])
def test_bad_scores(scores, match):
    with pytest.raises(ValueError, match=match):
        stats.iqm(scores)


def test_bad_interval_arguments():
    with pytest.raises(ValueError, match="metric"):
        stats.interval([1.0, 2.0], "mode")
    with pytest.raises(ValueError, match="confidence"):
        stats.interval([1.0, 2.0], confidence=1.5)
    with pytest.raises(ValueError, match="n_resamples"):
        stats.interval([1.0, 2.0], n_resamples=0)
    with pytest.raises(ValueError, match="same number of tasks"):
        stats.probability_of_improvement(np.zeros((3, 2)), np.zeros((3, 1)))


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::FutureWarning")      # arch's random_state deprecation
def test_against_rliable_on_the_same_inputs():
    library, metrics = _rliable()
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(10, 3)), rng.normal(0.3, size=(8, 3))
    assert stats.iqm(x) == pytest.approx(metrics.aggregate_iqm(x), rel=1e-12)
    assert stats.mean(x) == pytest.approx(metrics.aggregate_mean(x), rel=1e-12)
    assert stats.probability_of_improvement(x, y) == \
        pytest.approx(metrics.probability_of_improvement(x, y), rel=1e-12)
    taus = np.linspace(-2, 2, 9)
    prof, _ = library.create_performance_profile({"x": x}, taus)
    assert np.allclose(stats.performance_profile(x, taus), prof["x"])
    # intervals: two random bootstraps; 5,000 resamples each: the bounds' Monte Carlo sd is
    # about 0.013, so 0.08 is > 4 sd of their difference
    _, ci = library.get_interval_estimates(
        {"x": x}, lambda s: np.array([metrics.aggregate_iqm(s)]), reps=5_000,
        random_state=np.random.RandomState(0))
    _, lo, hi = stats.interval(x, "iqm", n_resamples=5_000, seed=0)
    assert [lo, hi] == pytest.approx(ci["x"][:, 0].tolist(), abs=0.08)


def _episodes(tmp_path, rows):
    d = tmp_path / "run"
    d.mkdir()
    (d / "episodes.csv").write_text("env_steps,wall_time,return,length\n" + "".join(
        f"{s},0.0,{r},{int(r)}\n" for s, r in rows))
    return d


def test_run_curve_is_the_running_mean_of_finished_episodes(tmp_path):
    d = _episodes(tmp_path, [(10, 1.0), (10, 3.0), (20, 5.0), (40, 7.0)])
    c = run_curve(d, [5, 10, 20, 30, 40], window=2)
    # s=5: no episode; s=10: mean(1, 3); s=20: last two (3, 5); s=30 same; s=40: (5, 7)
    assert np.isnan(c[0]) and np.allclose(c[1:], [2.0, 4.0, 4.0, 6.0])
    assert auc(c[None])[0] == pytest.approx(np.mean([2, 4, 4, 6]))
    assert np.isnan(auc(np.full((1, 3), np.nan))[0])
    with pytest.raises(ValueError, match="window"):
        run_curve(d, [1], window=0)


def test_curve_band_is_the_iqm_per_step_with_a_band_around_it():
    from npg.app.sweep.plots import curve_band
    rng = np.random.default_rng(4)
    curves = rng.normal(size=(8, 5))
    curves[3, 0] = np.nan                      # one run had no episode by the first step
    mid, lo, hi = curve_band(curves, n_resamples=500, seed=0)
    assert np.isnan(mid[0]) and np.isnan(lo[0])
    assert np.allclose(mid[1:], scipy_stats.trim_mean(curves[:, 1:], 0.25, axis=0))
    assert np.all(lo[1:] <= mid[1:]) and np.all(mid[1:] <= hi[1:])
    one = curve_band(curves[:1, 1:])
    assert np.allclose(one[0], curves[0, 1:]) and np.all(np.isnan(one[1]))
