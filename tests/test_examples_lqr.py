"""Examples 18 (LQR rates), 19 (optimal baseline) and the estimator table run at tiny budgets."""

from __future__ import annotations

import importlib.util
import pathlib
import sys

import numpy as np
import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"


def load(name: str):
    sys.path.insert(0, str(EXAMPLES))
    try:
        spec = importlib.util.spec_from_file_location(name[:-3].replace(".", "_"),
                                                      EXAMPLES / name)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(EXAMPLES))
    return module


def test_lqr_rates_example(tmp_path, capsys):
    module = load("18_lqr_rates.py")
    assert "Expected outcome" in module.__doc__
    png = tmp_path / "rates.png"
    result = module.main(["--iters", "40", "--png", str(png)])
    out = capsys.readouterr().out
    assert set(result) == {"Gauss-Newton", "natural gradient", "gradient descent"}
    for name, r in result.items():
        assert r["ok"], (name, r["worst"], r["bound"])          # measured rate within the bound
        assert np.all(np.diff(r["gaps"]) < 0)                   # the cost decreases every step
    assert result["Gauss-Newton"]["gaps"][-1] < 1e-12            # quadratic near K*
    assert "within bound" in out
    pytest.importorskip("matplotlib")
    assert png.exists()


def test_optimal_baseline_example(tmp_path, capsys):
    module = load("19_optimal_baseline.py")
    assert "Expected outcome" in module.__doc__
    results = module.main(["--n-traj", "300", "--horizon", "20", "--png", ""])
    assert len(results) == 2
    for ratios, exact_diff, _, se in results.values():
        assert min(ratios.values()) == pytest.approx(1.0) and ratios["optimal b*"] == 1.0
        assert all(r >= 1.0 - 1e-12 for r in ratios.values())
        assert exact_diff >= 0 and se > 0
    assert "ratio to b*" in capsys.readouterr().out


def test_estimator_table_prints_exact_and_sampled_columns(capsys):
    module = load("estimator_table.py")
    reports, exact = module.main(["--n-traj", "200", "--horizon", "15", "--png", ""])
    out = capsys.readouterr().out
    assert "exact (no sampling)" in out and "exact MSE" in out
    assert set(reports) == set(exact)
    for name, x in exact.items():
        assert x.mse == pytest.approx(x.variance + x.bias_norm ** 2)
