"""Examples 20 (swing-up REINFORCE) and 21 (V-trace) run at tiny budgets."""

from __future__ import annotations

import importlib.util
import math
import pathlib
import sys

import numpy as np
import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"


def load(name: str):
    sys.path.insert(0, str(EXAMPLES))
    try:
        spec = importlib.util.spec_from_file_location(name[:-3], EXAMPLES / name)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(EXAMPLES))
    return module


def test_swingup_example(tmp_path, capsys):
    module = load("20_swingup_reinforce.py")
    assert "Expected outcome" in module.__doc__
    png = tmp_path / "curve.png"
    curve = module.main(["--epochs", "2", "--n-envs", "4", "--horizon", "30", "--quiet",
                         "--png", str(png)])
    assert curve.shape == (2,) and np.all((curve >= 0) & (curve <= 30))
    assert "swing-up REINFORCE" in capsys.readouterr().out
    pytest.importorskip("matplotlib")
    assert png.exists()


def test_vtrace_example(capsys):
    module = load("21_offpolicy_vtrace.py")
    assert "Expected outcome" in module.__doc__
    out = module.main(["--steps", "512", "--quiet", "--eval-episodes", "1"])
    rows = {r[0]: r for r in out["exact"]}
    for rb, d_pi, d_mu, resid, cos in out["exact"]:
        assert resid < 1e-10                                  # theorem 1: the fixed point
    assert rows[math.inf][1] < 1e-12 and rows[math.inf][4] == pytest.approx(1.0)
    assert rows[0.1][1] > rows[1.0][1] > rows[math.inf][1]     # truncation pulls towards mu
    assert np.isfinite(out["mean_return"])
    assert "V-trace" in capsys.readouterr().out
