"""The documentation site: its API reference covers npg's public names, its gallery covers the
examples, its docstring rendering and browser checks work on hand-made inputs, and (with the
``docs`` extra installed) the whole site builds with warnings as errors.

The full check, with the gallery and the headless-Chromium pass, is ``python docs/check_site.py``.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import inspect
import os
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "docs" / "_ext"))
sys.path.insert(0, str(ROOT / "docs"))

import check_site  # noqa: E402
import npg_api  # noqa: E402
import npg_gallery  # noqa: E402


def test_every_public_name_has_a_page():
    modules = npg_api.public_modules()
    assert modules[0] == "npg" and "npg.mdp.gradient" in modules
    assert not [m for m in modules if any(p.startswith("_") for p in m.split("."))]
    pages = npg_api.documented_names(modules)
    documented = {id(o) for items in pages.values() for _, o in items}
    by_name = {(m, n) for m, items in pages.items() for n, _ in items}
    missing = []
    for m, names in check_site.public_names().items():
        mod = importlib.import_module(m)
        for n in names:
            obj = getattr(mod, n)
            routine = inspect.isfunction(obj) or inspect.isclass(obj)
            if (routine and id(obj) not in documented) or (not routine and (m, n) not in by_name):
                missing.append(f"{m}.{n}")
    assert not missing, f"public names with no place in the API reference: {missing}"


def test_a_function_is_documented_once_at_its_home():
    pages = npg_api.documented_names(npg_api.public_modules())
    homes = [m for m, items in pages.items() for n, o in items if n == "policy_gradient"
             and inspect.isfunction(o)]
    assert homes == ["npg.mdp.gradient"]
    ids = [id(o) for items in pages.values() for _, o in items
           if inspect.isfunction(o) or inspect.isclass(o)]
    assert len(ids) == len(set(ids))


def test_indented_formula_blocks_become_literal_blocks():
    lines = ["Softmax.", "", "    log pi(a|s) = z_a - log sum_b exp(z_b)", "",
             "Args:", "    z: logits [B, A]", "", "Text ending with::", "", "    kept"]
    out = npg_api.preformat_blocks(lines)
    assert out[:4] == ["Softmax.", "", "::", ""]
    assert "    log pi(a|s) = z_a - log sum_b exp(z_b)" in out
    assert out.count("::") == 1                       # not under Args:, not after "::"
    assert npg_api.preformat_blocks([".. math::", "", "    x"]) == [".. math::", "", "    x"]


def test_invalid_rst_is_detected():
    pytest.importorskip("docutils")
    assert npg_api.rst_problems("cos = a.b / (|a| |b|)")      # undefined substitutions
    assert npg_api.rst_problems("x *y")                       # unclosed emphasis
    assert not npg_api.rst_problems("plain ``code`` and *emphasis*")


def test_every_example_has_a_gallery_budget():
    names = [p.name for p in npg_gallery.gallery_examples(ROOT)]
    assert "00_gradient_check.py" in names and "estimator_table.py" in names
    missing = [n for n in names if n not in npg_gallery.BUDGETS]
    assert not missing, f"add a tiny budget to docs/_ext/npg_gallery.py BUDGETS for {missing}"


def test_docstring_markdown_escapes_prose_and_keeps_formulas():
    doc = "Title.\n\nA *star* and ``code`` and $x.\n\n    J = sum_t gamma^t r_t\n"
    md = npg_gallery.docstring_markdown(doc)
    assert "\\*star\\*" in md and "`code`" in md and "\\$x" in md
    assert "```text\nJ = sum_t gamma^t r_t\n```" in md


def test_math_check_on_hand_made_pages():
    ok = ('<p>x <span class="math notranslate nohighlight"><mjx-container>'
          '<mjx-math></mjx-math></mjx-container></span></p>')
    assert check_site.math_problems(ok) == []
    raw = r'<p>x <span class="math notranslate nohighlight">\(\pi\)</span></p>'
    problems = check_site.math_problems(raw)
    assert any("MathJax outputs" in p for p in problems) and any("raw" in p for p in problems)
    assert check_site.math_problems("<p>no math</p>") == ["no math on the page"]
    assert check_site.math_problems("<pre>$$ in code is fine</pre>" + ok) == []


def test_inventory_parser(tmp_path):
    body = "npg.mdp.gradient.fisher py:function 1 api/x.html#$ -\nindex std:doc -1 index.html -\n"
    (tmp_path / "objects.inv").write_bytes(b"# Sphinx inventory version 2\n# Project: npg\n"
                                           b"# Version: 0\n# zlib\n" + zlib.compress(body.encode()))
    assert check_site.inventory(tmp_path) == {"npg.mdp.gradient.fisher"}


def test_console_lines_are_found():
    err = (b"[1:1:INFO:CONSOLE:1] \"Uncaught ReferenceError: f is not defined\", source: x (1)\n"
           b"[1:1:ERROR:dbus/bus.cc:405] Failed to connect to the bus\n")
    assert check_site.console_lines(err) == [err.decode().splitlines()[0]]


@pytest.mark.slow
def test_the_site_builds_with_warnings_as_errors(tmp_path):
    pytest.importorskip("sphinx", reason="the docs extra is not installed: pip install '.[docs]'")
    pytest.importorskip("myst_parser", reason="the docs extra is not installed")
    pytest.importorskip("furo", reason="the docs extra is not installed")
    try:
        importlib.metadata.distribution("sphinx-mathjax-offline")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("the docs extra is not installed (sphinx-mathjax-offline)")
    out = tmp_path / "html"
    env = dict(os.environ, NPG_DOCS_GALLERY="0")          # the gallery is run by check_site.py
    done = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b",
                           "html", str(ROOT / "docs"), str(out)], env=env, capture_output=True,
                          text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-4000:]
    assert not check_site.missing_from_reference(out)
    assert not check_site.unresolved_theory_refs(out)
    assert (out / "_static" / "mathjax" / "tex-chtml.js").exists()
