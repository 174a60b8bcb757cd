"""Serve MathJax 3 from the site itself, so pages render their math without network access.

The files come from the ``sphinx-mathjax-offline`` distribution (MathJax 3.2.2, Apache-2.0),
installed by npg's ``docs`` extra; only what ``tex-chtml.js`` loads is copied (about 3 MB):
the combined TeX -> CommonHTML component, its fonts, the TeX extensions that ``autoload`` may
fetch, and the menu and its assistive modules.
"""

from __future__ import annotations

import shutil
from importlib import metadata
from pathlib import Path

from sphinx.errors import ExtensionError

PARTS = ["tex-chtml.js", "output/chtml", "input/tex/extensions", "ui", "a11y"]


def mathjax_source() -> Path:
    """The directory holding MathJax's ``tex-chtml.js`` inside the installed distribution."""
    try:
        dist = metadata.distribution("sphinx-mathjax-offline")
    except metadata.PackageNotFoundError as exc:
        raise ExtensionError("npg_mathjax needs the sphinx-mathjax-offline package: "
                             "pip install '.[docs]'") from exc
    for f in dist.files or []:
        if f.name == "tex-chtml.js" and f.parent.name == "mathjax":
            return Path(dist.locate_file(f)).parent
    raise ExtensionError("sphinx-mathjax-offline is installed but holds no mathjax/tex-chtml.js")


def copy_mathjax(app, exc) -> None:
    if exc is not None or app.builder.format != "html":
        return
    src, dst = mathjax_source(), Path(app.outdir) / "_static" / "mathjax"
    for part in PARTS:
        s, d = src / part, dst / part
        if s.is_dir():
            shutil.copytree(s, d, dirs_exist_ok=True)
        else:
            d.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(s, d)


def setup(app):
    mathjax_source()                               # fail early with the install hint
    app.config.mathjax_path = "mathjax/tex-chtml.js"
    app.connect("build-finished", copy_mathjax)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
