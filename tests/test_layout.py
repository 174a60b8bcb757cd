"""The package's shape (DESIGN.md): three layers a reader can tell apart, small files, short
functions, no private names across packages, and nothing done at import.

* no module imports a private (underscore) name or module of another npg package, and no module
  reaches into one through an attribute (``categorical._softmax``);
* no file over 400 lines; no function over 60 lines of code (its docstring not counted);
* ``npg.algos`` imports nothing from ``npg.app`` (the textbook does not depend on the
  application), and the textbook outside ``npg.algos`` imports neither ``npg.engine`` nor
  ``npg.app``;
* importing every module of npg changes no environment variable (beyond what importing
  gymnasium, Numba and NumPy themselves set) and compiles no Numba kernel.
"""

import ast
import json
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PKG = ROOT / "npg"
FILES = sorted(p for p in PKG.rglob("*.py") if "__pycache__" not in p.parts)
MAX_FILE_LINES = 400
MAX_FUNCTION_LINES = 60


def _module(path: pathlib.Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _package(module: str, is_init: bool) -> str:
    return module if is_init else module.rsplit(".", 1)[0]


def _top(module: str) -> str:
    """The npg package a module belongs to: npg.algos.ppo -> npg.algos; npg.nn -> npg.nn."""
    return ".".join(module.split(".")[:2])


def _imports(path: pathlib.Path):
    """(target module, imported names, line) of every ``from ... import`` in the file."""
    mod = _module(path)
    pkg = _package(mod, path.name == "__init__.py").split(".")
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg[: len(pkg) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            yield target, [a.name for a in node.names], node.lineno
        elif isinstance(node, ast.Import):
            for a in node.names:
                yield a.name, [], node.lineno


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def test_no_private_names_across_packages():
    bad = []
    for path in FILES:
        own = _top(_module(path))
        aliases = {}
        for target, names, line in _imports(path):
            if not target.startswith("npg"):
                continue
            for n in names:
                full = f"{target}.{n}"
                if _top(full) != own and (any(_private(p) for p in target.split("."))
                                          or _private(n)):
                    bad.append(f"{path.relative_to(ROOT)}:{line}: from {target} import {n}")
                aliases[n] = full
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id in aliases and _private(node.attr)):
                full = aliases[node.value.id]
                if _top(full) != own:
                    bad.append(f"{path.relative_to(ROOT)}:{node.lineno}: "
                               f"{node.value.id}.{node.attr}")
    assert not bad, "private names used across packages:\n" + "\n".join(bad)


def test_files_and_functions_fit_on_a_screen():
    long_files, long_functions = [], []
    for path in FILES:
        src = path.read_text()
        if src.count("\n") > MAX_FILE_LINES:
            long_files.append(f"{path.relative_to(ROOT)} ({src.count(chr(10))} lines)")
        for node in ast.walk(ast.parse(src)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                first = node.body[0]
                has_doc = (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
                           and isinstance(first.value.value, str) and len(node.body) > 1)
                start = node.body[1].lineno if has_doc else first.lineno
                n = node.end_lineno - start + 2                 # code lines + the def line
                if n > MAX_FUNCTION_LINES:
                    long_functions.append(f"{path.relative_to(ROOT)}:{node.lineno} "
                                          f"{node.name} ({n} lines)")
    assert not long_files, "files over 400 lines:\n" + "\n".join(long_files)
    assert not long_functions, "functions over 60 lines:\n" + "\n".join(long_functions)


@pytest.mark.parametrize("layer, forbidden", [
    ("npg.algos", ("npg.app",)),
    ("textbook", ("npg.engine", "npg.app")),
])
def test_layers_import_downwards(layer, forbidden):
    bad = []
    for path in FILES:
        mod = _module(path)
        top = _top(mod)
        if layer == "textbook" and top in ("npg.algos", "npg.engine", "npg.app", "npg",
                                           "npg.testing"):
            continue        # npg.testing, a tool, runs its differences with the engine's
                            # one-BLAS-thread control
        if layer == "npg.algos" and top != "npg.algos":
            continue
        for target, names, line in _imports(path):
            targets = [target] + [f"{target}.{n}" for n in names]
            if any(t == f or t.startswith(f + ".") for t in targets for f in forbidden):
                bad.append(f"{path.relative_to(ROOT)}:{line}: {target} {names}")
    assert not bad, f"{layer} imports from {forbidden}:\n" + "\n".join(bad)


_IMPORT_ALL = """
import importlib, json, os, pkgutil, sys
import gymnasium, numba, numpy                    # what the dependencies set is theirs
before = dict(os.environ)
import npg
mods = [m.name for m in pkgutil.walk_packages(npg.__path__, "npg.")
        if m.name not in ("npg.strategies",)]
for m in mods:
    importlib.import_module(m)
from numba.core.registry import CPUDispatcher
compiled = []
for m in mods:
    for name, obj in vars(sys.modules[m]).items():
        if isinstance(obj, CPUDispatcher) and obj.signatures:
            compiled.append(f"{m}.{name}")
changed = sorted(k for k in set(before) | set(os.environ) if before.get(k) != os.environ.get(k))
print(json.dumps({"modules": len(mods), "compiled": compiled, "env": changed}))
"""


def test_importing_every_module_changes_nothing_and_compiles_nothing():
    out = subprocess.run([sys.executable, "-c", _IMPORT_ALL], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["modules"] > 50
    assert got["compiled"] == [], got["compiled"]
    assert got["env"] == [], got["env"]
