"""The API reference: one page per public npg module, written at build time.

Pages: every public (no underscore in its dotted name) module and package under ``npg``; each
documents the public names it defines (its ``__all__``, else its functions and classes), and a
name exported from a private module is documented on the first public module that exports it,
so every public name appears exactly once (``tests/test_docs_build.py`` checks this against
``objects.inv``).

Docstrings: npg's docstrings state their formulas in plain text, aligned in indented blocks
(``log pi(a|s) = z_a - log sum_b exp(z_b)``). Such a block is shown preformatted, as it reads in
the source; prose stays prose; Google-style sections go through napoleon. A docstring that is
not valid reStructuredText after that is shown whole as preformatted text rather than mangled.
Docstrings written with ``:math:`` or ``.. math::`` are reStructuredText already and are
rendered as they are (MathJax).
"""

from __future__ import annotations

import importlib
import inspect
import io
import pkgutil
import re
from pathlib import Path


SECTION = re.compile(r"^\s*(Args|Arguments|Parameters|Returns|Return|Raises|Yields|Attributes|"
                     r"Example|Examples|Note|Notes|References|Warning|Warnings|See Also|"
                     r"Keyword Arguments|Other Parameters):\s*$")
DIRECTIVE = re.compile(r"^\s*\.\.\s+\S+::|::\s*$")
_ORIGINAL: dict[tuple[str, str], list[str]] = {}


# ----------------------------------------------------------------------------- the pages
def public_modules(package: str = "npg") -> list[str]:
    """Dotted names of npg's public modules, sorted; the package itself first."""
    pkg = importlib.import_module(package)
    names = [package]
    for info in pkgutil.walk_packages(pkg.__path__, package + "."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            names.append(info.name)
    return sorted(names, key=lambda n: (n != package, n))


def _exported(module) -> list[str]:
    if hasattr(module, "__all__"):
        return [n for n in module.__all__ if not inspect.ismodule(getattr(module, n, None))]
    return [n for n, obj in vars(module).items() if not n.startswith("_")
            and (inspect.isfunction(obj) or inspect.isclass(obj))
            and getattr(obj, "__module__", None) == module.__name__]


def _home(obj, modules: set[str]) -> str | None:
    mod = getattr(obj, "__module__", None)
    return mod if mod in modules else None


def documented_names(modules: list[str]) -> dict[str, list[tuple[str, object]]]:
    """module -> [(name, object)] that its page documents (each object on exactly one page)."""
    mods = {m: importlib.import_module(m) for m in modules}
    pages: dict[str, list[tuple[str, object]]] = {m: [] for m in modules}
    seen: set[int] = set()
    for m in modules:                                   # pass 1: objects at their home module
        for n in _exported(mods[m]):
            obj = getattr(mods[m], n)
            if (inspect.isfunction(obj) or inspect.isclass(obj)) and _home(obj, set(modules)) == m \
                    and getattr(obj, "__name__", n) == n:
                pages[m].append((n, obj))
                seen.add(id(obj))
    for m in modules:                                   # pass 2: re-exports from private homes
        for n in _exported(mods[m]):
            obj = getattr(mods[m], n)
            if id(obj) in seen:
                continue
            if (inspect.isfunction(obj) or inspect.isclass(obj)) and \
                    _home(obj, set(modules)) is not None and getattr(obj, "__name__", n) == n:
                continue                                # documented at its public home
            pages[m].append((n, obj))
            if inspect.isfunction(obj) or inspect.isclass(obj):
                seen.add(id(obj))
    return pages


def _directive(module: str, name: str, obj) -> str:
    if inspect.isclass(obj) and issubclass(obj, BaseException):
        kind = "autoexception"
    elif inspect.isclass(obj):
        kind = "autoclass"
    elif callable(obj) and not inspect.isclass(obj) and inspect.isroutine(obj):
        kind = "autofunction"
    else:
        kind = "autodata"
    return f".. {kind}:: {module}.{name}\n"


def write_pages(app) -> None:
    out = Path(app.srcdir) / "api" / "generated"
    out.mkdir(parents=True, exist_ok=True)
    modules = public_modules()
    pages = documented_names(modules)
    for m in modules:
        title = f"``{m}``"
        body = [title, "=" * len(title), "", f".. automodule:: {m}", "   :no-members:", ""]
        for name, obj in pages[m]:
            body.append(_directive(m, name, obj))
        text = "\n".join(body) + "\n"
        path = out / f"{m}.rst"
        if not path.exists() or path.read_text() != text:      # unchanged pages stay cached
            path.write_text(text)
    for stale in out.glob("*.rst"):
        if stale.stem not in modules:
            stale.unlink()
    index = ["All modules", "===========", "", ".. toctree::", "   :maxdepth: 1", ""]
    index += [f"   {m}" for m in modules]
    text = "\n".join(index) + "\n"
    p = out / "index.rst"
    if not p.exists() or p.read_text() != text:
        p.write_text(text)


# ------------------------------------------------------------------- readable docstrings
def preformat_blocks(lines: list[str]) -> list[str]:
    """Mark each indented block of a plain-text docstring as a literal block.

    ``lines`` are autodoc's dedented docstring lines. An indented block preceded by a blank line
    becomes preformatted, unless it sits under a Google-style section header (napoleon's), or
    follows a directive or a ``::`` line (reStructuredText already).
    """
    if any(":math:" in ln or ".. math::" in ln for ln in lines):
        return list(lines)
    out: list[str] = []
    in_section = False
    last_top = ""                                # the last non-blank line at indent 0
    i = 0
    while i < len(lines):
        ln = lines[i]
        indented = bool(ln.strip()) and ln[0] in " \t"
        if not indented:
            if ln.strip():
                in_section = bool(SECTION.match(ln))
                last_top = ln
            out.append(ln)
            i += 1
            continue
        blank_before = not out or not out[-1].strip()
        if in_section or not blank_before or DIRECTIVE.search(last_top) \
                or last_top.lstrip().startswith((">>>", "- ", "* ")):
            out.append(ln)
            i += 1
            continue
        out += ["::", ""]                         # a bare "::" paragraph vanishes in the output
        while i < len(lines) and (not lines[i].strip() or lines[i][0] in " \t"):
            out.append(lines[i])
            i += 1
        while out and not out[-1].strip():
            out.pop()
        out.append("")
    return out


def rst_problems(text: str, env=None) -> list[str]:
    """docutils' warnings and errors for ``text`` (roles and directives of Sphinx allowed)."""
    from docutils import nodes
    from docutils.core import publish_doctree

    stream = io.StringIO()
    tree = publish_doctree(text, settings_overrides={
        "report_level": 2, "halt_level": 5, "warning_stream": stream, "env": env,
        "file_insertion_enabled": False, "raw_enabled": False})
    found = [m.astext() for m in tree.findall(nodes.system_message) if m["level"] >= 2]
    found += [ln for ln in stream.getvalue().splitlines() if "(WARNING/" in ln or "(ERROR/" in ln
              or "(SEVERE/" in ln]
    return found


def before_napoleon(app, what, name, obj, options, lines):
    _ORIGINAL[(what, name)] = list(lines)
    lines[:] = preformat_blocks(lines)


def after_napoleon(app, what, name, obj, options, lines):
    original = _ORIGINAL.pop((what, name), list(lines))
    if not any(ln.strip() for ln in lines):
        return
    if any(":math:" in ln or ".. math::" in ln for ln in original):
        return                                           # marked up: must build as it is
    if rst_problems("\n".join(lines), app.env):
        lines[:] = ["::", ""] + ["   " + ln for ln in original] + [""]


def setup(app):
    app.connect("builder-inited", write_pages)
    app.connect("autodoc-process-docstring", before_napoleon, priority=100)
    app.connect("autodoc-process-docstring", after_napoleon, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
