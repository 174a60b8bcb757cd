"""Executable documentation: every fenced code block of the README and of the site's pages runs.

Python blocks of one file run in order in one fresh namespace (a later block may use an earlier
block's names, as a reader following the page would), in a temporary working directory; each
block is its own test. A block that raises an ImportError asking for an optional extra
(``pip install 'npg[stats]'``) is skipped with that message. Bash blocks: the README's two
set-up commands are exempt (they are
``.ci/run`` itself, checked by ``tests/test_setup_commands.py``); every other bash block runs
with ``bash -e``. A block known to be broken in a file this task may not edit is an
``xfail(strict=True)`` keyed on its exact text, so the fix (text in docs/notes) turns it into a
plain passing test and any other change to it is tested normally.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import io
import os
import re
import subprocess
import sys
import traceback
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FENCE = re.compile(r"^```(\w+)[^\n]*\n(.*?)^```[ \t]*$", re.M | re.S)
SETUP = ("python3 -m venv .venv",)
SLOW_FILES = {"README.md", "docs/checkpoints.md", "docs/grpo_dpo.md", "docs/estimators.md",
              "docs/estimator_statistics.md", "docs/sweeps.md"}


def _digest(code: str) -> str:
    return hashlib.sha256(code.strip().encode()).hexdigest()[:16]


# blocks known to be broken in files this task may not edit: digest of the block -> reason with
# the fix (the README's gae snippet and docs/checkpoints.md's were, until the fixes were merged)
KNOWN_BROKEN: dict[str, str] = {}


def documented_files() -> list[str]:
    """README.md and every Markdown page of the site (generated pages excluded)."""
    pages = sorted(p for p in (ROOT / "docs").rglob("*.md")
                   if "_build" not in p.parts and "generated" not in p.parts)
    return ["README.md"] + [str(p.relative_to(ROOT)) for p in pages]


def code_blocks(rel: str) -> list[tuple[str, str]]:
    """(language, code) of each fenced ``python`` or ``bash`` block of a file, in order."""
    text = (ROOT / rel).read_text()
    return [(m.group(1), m.group(2)) for m in FENCE.finditer(text)
            if m.group(1) in ("python", "bash")]


def _cases():
    for rel in documented_files():
        for k, (lang, code) in enumerate(code_blocks(rel)):
            if lang == "bash" and code.strip().startswith(SETUP):
                continue
            marks = []
            if _digest(code) in KNOWN_BROKEN:
                marks.append(pytest.mark.xfail(strict=True, reason=KNOWN_BROKEN[_digest(code)]))
            if rel in SLOW_FILES:
                marks.append(pytest.mark.slow)
            yield pytest.param(rel, k, lang, id=f"{rel}-{k}-{lang}", marks=marks)


_RESULTS: dict[str, list] = {}


def _run_python_blocks(rel: str, tmp: Path) -> list:
    """Run a file's python blocks in order in one namespace; the exception text of each, or None."""
    namespace: dict = {"__name__": "__docs__"}
    results = []
    old = Path.cwd()
    os.chdir(tmp)
    try:
        for lang, code in code_blocks(rel):
            if lang != "python":
                results.append(None)
                continue
            try:
                with contextlib.redirect_stdout(io.StringIO()), \
                        contextlib.redirect_stderr(io.StringIO()):
                    exec(compile(code, f"{rel} (code block)", "exec"), namespace)
                results.append(None)
            except ImportError as exc:
                if "pip install" not in str(exc):           # not an optional extra: a bug
                    results.append(traceback.format_exc())
                else:
                    results.append(("skip", str(exc)))
            except Exception:                            # noqa: BLE001 (reported by the test)
                results.append(traceback.format_exc())
    finally:
        os.chdir(old)
    return results


@pytest.mark.parametrize(("rel", "k", "lang"), list(_cases()))
def test_code_block_runs(rel, k, lang, tmp_path_factory):
    code = code_blocks(rel)[k][1]
    if lang == "python":
        if rel not in _RESULTS:
            _RESULTS[rel] = _run_python_blocks(rel, tmp_path_factory.mktemp("docs"))
        error = _RESULTS[rel][k]
        if isinstance(error, tuple):
            pytest.skip(f"needs an optional extra that is not installed: {error[1]}")
        assert error is None, f"code block {k} of {rel} raised:\n{error}"
        return
    if importlib.util.find_spec("matplotlib") is None:    # `npg plot` needs the plot extra
        code = "\n".join(ln for ln in code.splitlines() if not ln.startswith("npg plot"))
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    done = subprocess.run(["bash", "-e", "-c", code], cwd=tmp_path_factory.mktemp("bash"),
                          env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"bash block {k} of {rel} failed:\n{done.stdout}\n{done.stderr}"


def test_the_readme_links_pages_that_exist():
    text = (ROOT / "README.md").read_text()
    links = re.findall(r"\]\(((?:docs|examples|benchmarks)/[^)#\s]+)", text)
    assert any(link.startswith("docs/theory/") for link in links)
    missing = [link for link in links if not (ROOT / link).exists()]
    assert not missing, f"README links to missing files: {missing}"


def test_the_readme_has_runnable_blocks_and_the_setup_commands_are_exempt():
    blocks = code_blocks("README.md")
    assert sum(lang == "python" for lang, _ in blocks) >= 5
    exempt = [c for lang, c in blocks if lang == "bash" and c.strip().startswith(SETUP)]
    assert len(exempt) == 2


def test_block_extraction_by_hand():
    text = "x\n```python\na = 1\n```\n```text\nnot code\n```\n```bash\necho hi\n```\n"
    found = [(m.group(1), m.group(2)) for m in FENCE.finditer(text)]
    assert found == [("python", "a = 1\n"), ("text", "not code\n"), ("bash", "echo hi\n")]


def test_theory_pages_cite_tests_that_exist():
    cited = set()
    for page in (ROOT / "docs" / "theory").glob("*.md"):
        cited |= set(re.findall(r"`(tests/[\w/]+\.py)::(\w+)`", page.read_text()))
    assert len(cited) >= 40
    missing = [f"{f}::{name}" for f, name in sorted(cited)
               if not (ROOT / f).exists()
               or not re.search(rf"^\s*def {name}\(", (ROOT / f).read_text(), re.M)]
    assert not missing, f"theory pages cite tests that do not exist: {missing}"


def test_a_broken_block_is_reported(tmp_path, monkeypatch):
    page = tmp_path / "page.md"
    page.write_text("```python\nx = 1\n```\n\n```python\ny = x + undefined_name\n```\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    results = _run_python_blocks("page.md", tmp_path)
    assert results[0] is None and "NameError" in results[1]

