"""Sphinx configuration of npg's documentation site.

Build: ``sphinx-build -W --keep-going -b html docs docs/_build/html``
(needs ``pip install ".[docs]"``), or ``python docs/check_site.py`` for the build and its checks.
The API pages (``docs/api/generated``) and the gallery (``docs/gallery/generated``) are written at
build time by the local extensions in ``docs/_ext``; nothing generated is committed.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(DOCS / "_ext"))
sys.path.insert(0, str(ROOT))

project = "npg"
author = "npg developers"
copyright = "npg developers"
release = version = "0.1.0"

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "sphinx_copybutton",
    "npg_api",          # API pages from npg's public modules; plain-text docstrings kept readable
    "npg_gallery",      # the numbered examples, run at tiny budgets
    "npg_mathjax",      # MathJax 3 served from _static (no network needed to read the site)
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "**/__pycache__"]

myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3
myst_dmath_double_inline = True

autodoc_default_options = {"members": True, "undoc-members": True, "show-inheritance": True}
autodoc_member_order = "bysource"
toc_object_entries = False        # the sidebar lists pages, not every function (4x faster build)
autodoc_typehints = "signature"
napoleon_google_docstring = True
napoleon_numpy_docstring = True
napoleon_use_ivar = True          # dataclass fields are documented once, by autodoc

html_theme = "furo"
html_title = "npg: policy gradients in NumPy"
html_static_path = []
pygments_style = "friendly"
highlight_language = "text"       # docstring formula blocks are plain text, not Python
copybutton_prompt_text = ">>> "

# the examples' tiny budgets (the gallery); NPG_DOCS_GALLERY=0 skips running them
npg_gallery_run = os.environ.get("NPG_DOCS_GALLERY", "1") != "0"
