"""Learning-curve figures (npg.app.plotting, ``npg plot``): the artists drawn for 1, 3 and 10
runs, the legend outside the axes, titles and labels from run.json, and bad input."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

from npg.app import cli
from npg.app.logger import CSVLogger

matplotlib = pytest.importorskip("matplotlib")
from npg.app.plotting import (FIGSIZE, MAX_RUNS, learning_curve_figure,  # noqa: E402
                              plot_learning_curves)


def fake_run(path, seed, algo="ppo", env="CartPole-v1", n=60):
    """A run directory with n episodes (returns rising with noise) and a run.json."""
    rng = np.random.default_rng(seed)
    with CSVLogger(path) as log:
        for e in range(n):
            log.log_episodes(100 * (e + 1), [e + rng.normal()], [10])
    (path / "run.json").write_text(json.dumps({"algo": algo, "env_id": env}))
    return path


def artists(fig):
    ax = fig.axes[0]
    dots = [ln for ln in ax.lines if ln.get_marker() == "."]
    means = [ln for ln in ax.lines if ln.get_marker() in ("None", None, "")]
    return ax, dots, means, [t.get_text() for t in ax.get_legend().get_texts()]


def legend_is_right_of_the_axes(fig) -> bool:
    fig.canvas.draw()
    box = fig.axes[0].get_legend().get_window_extent()
    return box.x0 >= fig.axes[0].get_window_extent().x1


@pytest.mark.parametrize("n", [1, 3, MAX_RUNS])
def test_the_figure_has_one_dot_cloud_and_one_mean_line_per_run(tmp_path, n):
    dirs = [fake_run(tmp_path / f"seed{i}", i) for i in range(n)]
    fig = learning_curve_figure(dirs, window=10)
    try:
        ax, dots, means, legend = artists(fig)
        assert len(dots) == n and len(means) == n
        assert tuple(fig.get_size_inches()) == FIGSIZE
        assert ax.get_xlabel() == "environment steps"
        assert legend_is_right_of_the_axes(fig)             # never over a curve
        colours = {tuple(ln.get_color()) if not isinstance(ln.get_color(), str)
                   else ln.get_color() for ln in means}
        assert len(colours) == n                            # one colour per run
        assert all(np.asarray(ln.get_ydata()).size == 60 for ln in means + dots)
        if n == 1:
            assert legend == ["episode return", "mean of last 10"]
            assert ax.get_title() == "CartPole-v1 / ppo: seed0"
        else:
            assert legend == [f"seed{i}" for i in range(n)]
            assert ax.get_title() == "CartPole-v1 / ppo"
    finally:
        matplotlib.pyplot.close(fig)


def test_the_mean_line_is_the_moving_mean_of_the_logged_returns(tmp_path):
    d = fake_run(tmp_path / "r", 0, n=30)
    fig = learning_curve_figure([d], window=5)
    try:
        _, dots, means, _ = artists(fig)
        y = np.asarray(dots[0].get_ydata())
        np.testing.assert_allclose(means[0].get_ydata()[-1], y[-5:].mean(), rtol=1e-12)
        np.testing.assert_array_equal(dots[0].get_xdata(), 100 * np.arange(1, 31))
    finally:
        matplotlib.pyplot.close(fig)


def test_differing_algorithms_go_to_the_labels_and_a_title_can_be_given(tmp_path):
    a = fake_run(tmp_path / "a", 0, algo="ppo")
    b = fake_run(tmp_path / "b", 1, algo="a2c")
    fig = learning_curve_figure([a, b], title="mine")
    try:
        ax, _, _, legend = artists(fig)
        assert legend == ["a (ppo)", "b (a2c)"] and ax.get_title() == "mine"
    finally:
        matplotlib.pyplot.close(fig)


def test_npg_plot_takes_several_runs_and_refuses_eleven(tmp_path, monkeypatch):
    dirs = [str(fake_run(tmp_path / f"r{i}", i)) for i in range(MAX_RUNS + 1)]
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    assert cli.main(["plot", *dirs[:3]], out=out) == 0
    assert "learning_curves.png" in out.getvalue()
    with open(tmp_path / "learning_curves.png", "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    assert cli.main(["plot", dirs[0], "--title", "t"], out=io.StringIO()) == 0
    assert (tmp_path / "r0" / "learning_curve.png").exists()
    with pytest.raises(ValueError, match="1 to 10 run directories"):
        plot_learning_curves(dirs, tmp_path / "x.png")
    with pytest.raises(ValueError, match="window"):
        learning_curve_figure(dirs[:1], window=0)
