"""Examples 10-12 (GRPO, its exact bias tables, DPO against its optimum) run at tiny budgets."""

from __future__ import annotations

import importlib.util
import pathlib
import sys

import numpy as np

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


def test_grpo_example_runs_and_writes_its_curve(tmp_path, capsys):
    module = load("10_grpo_arithmetic.py")
    assert "Expected outcome" in module.__doc__
    png = tmp_path / "curve.png"
    final = module.main(["--updates", "3", "--quiet", "--png", str(png)])
    out = capsys.readouterr().out
    assert set(final) == {"GRPO", "Dr.GRPO"} and "exact accuracy" in out
    assert all(0.0 <= v <= 1.0 for v in final.values())
    assert png.exists() or "matplotlib is not installed" in out


def test_bias_table_example_prints_the_identity_row(capsys):
    module = load("11_grpo_bias_table.py")
    assert "Expected outcome" in module.__doc__
    rows = module.main(["--group-size", "3"])
    out = capsys.readouterr().out
    assert "Table 1" in out and "Table 2" in out and "Table 3" in out
    np.testing.assert_allclose(rows[("mean", "constant")]["cosine"], 1.0, rtol=1e-10)


def test_dpo_example_runs_at_a_tiny_budget(capsys):
    module = load("12_dpo_optimum.py")
    assert "Expected outcome" in module.__doc__
    results = module.main(["--pairs", "500", "--steps", "3"])
    out = capsys.readouterr().out
    assert set(results) == {"tabular", "linear", "MLP"} and "KL(pi* || pi)" in out
    assert all(np.all(np.isfinite(v)) for v in results.values())
