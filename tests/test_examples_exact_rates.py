"""Examples 13-17 (the convergence-rate results) run end to end at tiny budgets."""

from __future__ import annotations

import importlib.util
import pathlib
import sys

import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"
ARGS = {
    "13_softmax_pg_rates.py": ["--steps", "40"],
    "14_npg_rate.py": ["--steps", "20"],
    "15_entropy_npg_linear_rate.py": ["--steps", "30"],
    "16_chain_plateau.py": ["--steps", "300", "--max-n", "3"],
    "17_sgd_rate.py": ["--steps", "5", "--seeds", "1", "--batch", "2"],
}


def load(name: str):
    sys.path.insert(0, str(EXAMPLES))
    try:
        spec = importlib.util.spec_from_file_location(name[:-3], EXAMPLES / name)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(EXAMPLES))
    return module


def test_the_rate_examples_are_all_listed():
    assert sorted(p.name for p in EXAMPLES.glob("1[3-7]_*.py")) == sorted(ARGS)


@pytest.mark.parametrize("name", sorted(ARGS))
def test_rate_example_runs_at_a_tiny_budget(name, tmp_path, capsys):
    module = load(name)
    assert "Expected outcome" in module.__doc__
    png = tmp_path / "plot.png"
    result = module.main(ARGS[name] + ["--png", str(png)])
    out = capsys.readouterr().out
    assert result is not None
    assert "FAILED" not in out
    if "matplotlib not installed" not in out:
        assert png.exists() and png.stat().st_size > 0
    if name.startswith(("13", "14", "15")):
        assert "theorem" in out or "bound" in out


def test_rate_example_skips_the_plot_without_a_path(capsys):
    module = load("15_entropy_npg_linear_rate.py")
    module.main(["--steps", "3", "--png", ""])
    assert "plot saved" not in capsys.readouterr().out
