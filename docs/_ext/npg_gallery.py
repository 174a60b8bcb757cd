"""The gallery: every numbered example in ``examples/``, run at a tiny budget while the site builds.

For each ``examples/NN_*.py`` (and ``estimator_table.py``) this writes a page
``docs/gallery/generated/<name>.md`` holding the example's docstring (its "Expected outcome" at
the full budget), the exact command that was run, what it printed, the figure it saved (when it
takes ``--png``) and its source. Each example is run in this process by calling its
``main(argv)`` with the arguments in ``BUDGETS`` (the same tiny budgets as its tests), in a
temporary working directory. An example missing from ``BUDGETS``, or one that raises, is a Sphinx
warning, so the ``-W`` build fails. Results are cached under ``docs/gallery/generated`` keyed on
the example's source, its arguments and npg's source, so an unchanged example is not rerun.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import io
import json
import os
import re
import sys
import tempfile
import time
import traceback
from pathlib import Path



class _Log:
    """Sphinx's logger, imported on first use (so BUDGETS is importable without Sphinx)."""

    def __getattr__(self, name):
        from sphinx.util import logging
        return getattr(logging.getLogger(__name__), name)


LOG = _Log()
AGENT = ["--steps", "64", "--eval-episodes", "2", "--quiet"]
# name -> (argv at the gallery's budget, figures: "png" (main takes --png FILE), "out" (main
# takes --out DIR and saves its PNGs there) or None); the budgets of the examples' own tests
BUDGETS = {
    "00_gradient_check.py": ([], None),
    "01_frozenlake_reinforce.py": (AGENT, False),
    "02_frozenlake_q_actor_critic.py": (AGENT, False),
    "03_frozenlake_shared_actor_critic.py": (AGENT, False),
    "04_cartpole_linear_reinforce.py": (AGENT, False),
    "05_cartpole_ppo.py": (AGENT, False),
    "06_pendulum_ppo.py": (AGENT, False),
    "07_lunarlander_a2c.py": (AGENT, False),
    "08_lunarlander_ppo.py": (AGENT, False),
    "10_grpo_arithmetic.py": (["--updates", "3", "--quiet"], "png"),
    "11_grpo_bias_table.py": (["--group-size", "3"], None),
    "12_dpo_optimum.py": (["--pairs", "500", "--steps", "3"], None),
    "13_softmax_pg_rates.py": (["--steps", "40"], "png"),
    "14_npg_rate.py": (["--steps", "20"], "png"),
    "15_entropy_npg_linear_rate.py": (["--steps", "30"], "png"),
    "16_chain_plateau.py": (["--steps", "300", "--max-n", "3"], "png"),
    "17_sgd_rate.py": (["--steps", "5", "--seeds", "1", "--batch", "2"], "png"),
    "18_lqr_rates.py": (["--iters", "40"], "png"),
    "19_optimal_baseline.py": (["--n-traj", "300", "--horizon", "20"], "png"),
    "20_swingup_reinforce.py": (["--epochs", "2", "--n-envs", "4", "--horizon", "30", "--quiet"],
                                "png"),
    "21_offpolicy_vtrace.py": (["--steps", "512", "--quiet", "--eval-episodes", "1"], None),
    "22_seed_sweep.py": (["--tiny", "--steps", "160", "--seeds", "2", "--backend", "serial",
                          "--eval-episodes", "1", "--quiet"], "out"),
    "estimator_table.py": (["--n-traj", "300", "--horizon", "20"], "png"),
}


def gallery_examples(root: Path) -> list[Path]:
    """The gallery's scripts: the numbered examples, then estimator_table.py."""
    ex = root / "examples"
    return sorted(ex.glob("[0-9][0-9]_*.py")) + sorted(ex.glob("estimator_table.py"))


def _npg_hash(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted((root / "npg").rglob("*.py")):
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def run_example(path: Path, argv: list[str]) -> tuple[str, float]:
    """Import ``path`` and call its ``main(argv)`` in a temporary directory; (stdout, seconds)."""
    spec = importlib.util.spec_from_file_location(f"npg_gallery_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.parent))               # the examples import their helper _run
    old = Path.cwd()
    out = io.StringIO()
    t0 = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stdout(out), \
                contextlib.redirect_stderr(io.StringIO()):
            os.chdir(tmp)
            spec.loader.exec_module(module)
            module.main(argv)
    finally:
        os.chdir(old)
        sys.path.remove(str(path.parent))
    return out.getvalue(), time.perf_counter() - t0


_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>$#|~])")


def docstring_markdown(doc: str) -> str:
    """A plain-text docstring as Markdown: prose paragraphs escaped, indented blocks as text."""
    paras = re.split(r"\n\s*\n", doc.strip("\n"))
    out = []
    for para in paras[1:]:                              # the first line is the page title
        lines = para.splitlines()
        if all(ln.startswith((" ", "\t")) or not ln.strip() for ln in lines):
            out.append("```text\n" + "\n".join(ln[4:] if ln.startswith("    ") else ln.strip()
                                               for ln in lines) + "\n```")
        else:
            text = "\n".join(ln.strip() for ln in lines)
            parts = re.split(r"``(.+?)``", text)        # reST literals -> Markdown code
            out.append("".join(f"`{p}`" if k % 2 else _MD_SPECIAL.sub(r"\\\1", p)
                               for k, p in enumerate(parts)))
    return "\n\n".join(out)


def _title(doc: str, path: Path | None = None) -> str:
    first = doc.strip().splitlines()[0].strip()
    number = path.name.split("_", 1)[0] if path is not None and path.name[:2].isdigit() else ""
    return (f"{number} · " if number else "") + _MD_SPECIAL.sub(r"\\\1", first)


def write_page(path: Path, out_dir: Path, npg_hash: str) -> str:
    name = path.name
    argv, figures = BUDGETS[name]
    png_name = f"{path.stem}.png"
    fig_dir = out_dir / path.stem
    run_argv = argv + {"png": ["--png", str(out_dir / png_name)],
                       "out": ["--out", str(fig_dir)]}.get(figures, [])
    key = json.dumps([path.read_text(), argv, figures, npg_hash])
    key = hashlib.sha256(key.encode()).hexdigest()
    cache = out_dir / f"{path.stem}.json"
    page = out_dir / f"{path.stem}.md"
    if cache.exists() and page.exists() and json.loads(cache.read_text()).get("key") == key:
        return path.stem
    try:
        stdout, seconds = run_example(path, run_argv)
    except ImportError as exc:            # an optional extra (box2d, stats, ...) is missing
        LOG.info(f"npg_gallery: {name} not run: {exc}")
        stdout, seconds = f"not run in this build: {exc}", 0.0
    stdout = stdout.replace(str(out_dir) + os.sep, "")     # figure paths as the command shows them
    doc = _module_doc(path)
    shown = " ".join(argv + {"png": ["--png", png_name],
                             "out": ["--out", "DIR"]}.get(figures, []))
    body = [f"# {_title(doc, path)}", "", f"`examples/{name}`", "", docstring_markdown(doc), "",
            "## At the gallery's budget", "",
            f"Run while this site was built ({seconds:.1f} s), far below the budget of the "
            "expected outcome above, so the figures differ from it:", "",
            f"```bash\npython examples/{name} {shown}\n```", "",
            "```text", stdout.rstrip(), "```", ""]
    pngs = [png_name] if figures == "png" and (out_dir / png_name).exists() else []
    if figures == "out":
        pngs = [f"{path.stem}/{p.name}" for p in sorted(fig_dir.rglob("*.png"))]
    if figures and not pngs and not stdout.startswith("not run in this build"):
        LOG.warning(f"npg_gallery: {name} saved no figure at the gallery's budget")
    body += [f"![{name}: {p}]({p})\n" for p in pngs]
    body += ["## Source", "", f"```{{literalinclude}} ../../../examples/{name}",
             ":language: python", "```", ""]
    page.write_text("\n".join(body))
    cache.write_text(json.dumps({"key": key, "seconds": seconds}))
    return path.stem


def _module_doc(path: Path) -> str:
    import ast
    return ast.get_docstring(ast.parse(path.read_text()), clean=False) or path.name


def write_gallery(app) -> None:
    root = Path(app.srcdir).parent
    out_dir = Path(app.srcdir) / "gallery" / "generated"
    out_dir.mkdir(parents=True, exist_ok=True)
    if not app.config.npg_gallery_run:
        LOG.info("npg_gallery: NPG_DOCS_GALLERY=0, examples not run")
    npg_hash = _npg_hash(root)
    stems = []
    for path in gallery_examples(root):
        if path.name not in BUDGETS:
            LOG.warning(f"npg_gallery: {path.name} has no tiny budget in docs/_ext/npg_gallery.py "
                        "BUDGETS; add one")
            continue
        if not app.config.npg_gallery_run:
            page = out_dir / f"{path.stem}.md"
            if not page.exists():
                page.write_text(f"# {_title(_module_doc(path), path)}\n\n(not run in this build)\n")
            stems.append(path.stem)
            continue
        try:
            stems.append(write_page(path, out_dir, npg_hash))
        except Exception:                                  # noqa: BLE001 (reported, fails -W)
            LOG.warning(f"npg_gallery: {path.name} failed:\n{traceback.format_exc()}")
    index = ["# Gallery", "",
             "The numbered curriculum of `examples/`, each run at a tiny budget while this site "
             "was built: its docstring states the outcome measured at the full budget, the page "
             "shows what the tiny run printed and plotted, and the source.", "",
             "```{toctree}", ":maxdepth: 1", "", *stems, "```", ""]
    text = "\n".join(index)
    p = out_dir / "index.md"
    if not p.exists() or p.read_text() != text:
        p.write_text(text)


def setup(app):
    app.add_config_value("npg_gallery_run", True, "env")
    app.connect("builder-inited", write_gallery)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
