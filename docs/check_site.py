"""Build npg's documentation site with warnings as errors and check it, in a real browser too.

    python docs/check_site.py                 # build, reference checks, browser check
    python docs/check_site.py --no-browser    # build and reference checks only
    python docs/check_site.py --no-build      # check an existing docs/_build/html

Steps (each prints its wall time; any failure exits 1 with the reasons):

1. build: ``sphinx-build -W --keep-going -b html docs docs/_build/html`` (the gallery runs the
   examples at tiny budgets; ``NPG_DOCS_GALLERY=0`` skips that).
2. reference: every public name of npg (each public module's ``__all__``) is in the API
   reference (``objects.inv``), and every cross-reference on the theory pages resolved to a link.
3. browser: headless Chromium (Debian's ``chromium``; installed by ``apt-get install -y
   chromium`` when missing and ``--install-browser`` is given) loads the home page, an API page
   with math and a gallery page from a local HTTP server, saves a screenshot of each
   (``docs/_build/screenshots``), and fails when a page or any file it loads is not found, when
   the page writes anything to the browser console (errors, uncaught exceptions), or when math is
   left unrendered: a math element without MathJax output, or raw ``\\(``, ``\\[`` or ``$$``
   in the visible text.
"""

from __future__ import annotations

import argparse
import functools
import html.parser
import http.server
import importlib
import inspect
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
PAGES = {"home": "index.html",
         "api": "api/generated/npg.mdp.gradient.html",
         "example": "gallery/generated/13_softmax_pg_rates.html"}


# ----------------------------------------------------------------------------- build
def build(out: Path) -> float:
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b",
                           "html", str(DOCS), str(out)], cwd=ROOT)
    if done.returncode:
        raise SystemExit(f"build: sphinx-build failed (exit {done.returncode}); see above")
    return time.perf_counter() - t0


# ------------------------------------------------------------------------- reference
def inventory(site: Path) -> set[str]:
    """The Python object names in a Sphinx ``objects.inv``."""
    data = (site / "objects.inv").read_bytes()
    lines = data.split(b"\n", 4)
    body = zlib.decompress(lines[4]).decode()
    names = set()
    for line in body.splitlines():
        m = re.match(r"(\S+)\s+py:\w+\s", line)
        if m:
            names.add(m.group(1))
    return names


def public_names() -> dict[str, list[str]]:
    """module -> its public names (``__all__``, minus submodules) for every public module."""
    sys.path.insert(0, str(DOCS / "_ext"))
    from npg_api import public_modules
    out = {}
    for m in public_modules():
        mod = importlib.import_module(m)
        names = getattr(mod, "__all__", None)
        if names is None:
            names = [n for n, o in vars(mod).items() if not n.startswith("_")
                     and (inspect.isfunction(o) or inspect.isclass(o))
                     and getattr(o, "__module__", None) == m]
        out[m] = [n for n in names if not inspect.ismodule(getattr(mod, n, None))]
    return out


def missing_from_reference(site: Path) -> list[str]:
    """Public names with no entry in the API reference, as ``module.name``.

    A function or class is found under the name its page documents it by (its home module, or
    the first public module exporting it from a private one); any other public object (a
    constant) under each module that exports it.
    """
    sys.path.insert(0, str(DOCS / "_ext"))
    from npg_api import documented_names, public_modules
    inv = inventory(site)
    where = {}
    for m, items in documented_names(public_modules()).items():
        for n, obj in items:
            if inspect.isfunction(obj) or inspect.isclass(obj):
                where[id(obj)] = f"{m}.{n}"
    missing = []
    for m, names in public_names().items():
        mod = importlib.import_module(m)
        for n in names:
            obj = getattr(mod, n)
            name = where.get(id(obj), f"{m}.{n}") if (inspect.isfunction(obj)
                                                      or inspect.isclass(obj)) else f"{m}.{n}"
            if name not in inv:
                missing.append(f"{m}.{n}" + (f" (documented as {name})" if name != f"{m}.{n}"
                                             else ""))
    return missing


def unresolved_theory_refs(site: Path) -> list[str]:
    """Cross-references on the theory and site pages that Sphinx could not resolve."""
    bad = []
    for page in sorted((site / "theory").glob("*.html")) + sorted((site / "site").glob("*.html")):
        text = page.read_text()
        # a resolved xref is wrapped in <a class="reference internal" ...>; an unresolved one
        # is a bare <code class="xref py ...">
        for m in re.finditer(r'(<a class="reference[^>]*>)?<code class="xref py[^"]*">'
                             r'<span class="pre">([^<]+)</span>', text):
            if m.group(1) is None:
                bad.append(f"{page.relative_to(site)}: {m.group(2)}")
    return bad


# --------------------------------------------------------------------------- browser
class _Quiet(http.server.SimpleHTTPRequestHandler):
    log: list = []

    def log_request(self, code="-", size="-"):
        _Quiet.log.append((self.path, int(code) if str(code).isdigit() else 0))

    def log_message(self, *args):
        pass


def serve(site: Path):
    handler = functools.partial(_Quiet, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return None


def install_chromium() -> float:
    t0 = time.perf_counter()
    subprocess.run(["apt-get", "update", "-q"], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["apt-get", "install", "-y", "-q", "chromium"], check=True,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def _browser(exe: str, url: str, *extra: str) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run([exe, "--headless", "--no-sandbox", "--disable-gpu",
                               "--no-first-run", f"--user-data-dir={profile}",
                               "--enable-logging=stderr", "--v=0", "--hide-scrollbars",
                               "--virtual-time-budget=15000", "--window-size=1280,1400",
                               *extra, url], capture_output=True, timeout=120)


class _MathText(html.parser.HTMLParser):
    """Counts math elements and MathJax outputs, and collects the visible text outside code."""

    SKIP = {"script", "style", "pre", "code", "mjx-assistive-mml", "textarea"}

    def __init__(self):
        super().__init__()
        self.math, self.mjx = 0, 0
        self.text: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        cls = dict(attrs).get("class") or ""
        if tag in self.SKIP:
            self._skip += 1
        if tag in ("span", "div") and "math" in cls.split():
            self.math += 1
        if tag == "mjx-container":
            self.mjx += 1

    def handle_endtag(self, tag):
        if tag in self.SKIP and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.text.append(data)


def math_problems(dom: str) -> list[str]:
    """Why the math of a rendered page is not rendered (empty when it is)."""
    p = _MathText()
    p.feed(dom)
    problems = []
    if p.math == 0 and p.mjx == 0:
        problems.append("no math on the page")
    if p.math and p.mjx < p.math:
        problems.append(f"{p.math} math elements but only {p.mjx} MathJax outputs")
    visible = "".join(p.text)
    for raw in ("\\(", "\\[", "$$"):
        if raw in visible:
            i = visible.index(raw)
            context = visible[max(0, i - 40):i + 40]
            problems.append(f"raw {raw!r} in the visible text: ...{context!r}")
    return problems


def console_lines(stderr: bytes) -> list[str]:
    return [ln for ln in stderr.decode(errors="replace").splitlines() if ":CONSOLE" in ln]


def check_page(exe: str, base: str, name: str, rel: str, shots: Path) -> tuple[list[str], str]:
    _Quiet.log.clear()
    url = f"{base}/{rel}"
    run = _browser(exe, url, "--dump-dom")
    problems = [f"console: {ln}" for ln in console_lines(run.stderr)]
    missing = [f"HTTP {code}: {path}" for path, code in _Quiet.log
               if code >= 400 and not path.startswith("/favicon.ico")]
    problems += missing
    if not any(path.split("?")[0] == "/" + rel and code == 200 for path, code in _Quiet.log):
        problems.append(f"the page {rel} was not served (HTTP log: {_Quiet.log[:3]})")
    dom = run.stdout.decode(errors="replace")
    if name != "example":
        problems += math_problems(dom)
    elif "<img" not in dom:
        problems.append("the example page shows no figure")
    shot = shots / f"{name}.png"
    _browser(exe, url, f"--screenshot={shot}")
    if not shot.exists() or shot.stat().st_size < 10_000:
        problems.append(f"no screenshot at {shot}")
    return [f"{rel}: {p}" for p in problems], str(shot)


def browser_check(site: Path, shots: Path, install: bool) -> list[str]:
    exe = chromium()
    if exe is None and install:
        print(f"browser: installing Debian's chromium took {install_chromium():.0f} s")
        exe = chromium()
    if exe is None:
        return ["browser: no chromium found (apt-get install -y chromium, or --install-browser)"]
    shots.mkdir(parents=True, exist_ok=True)
    server = serve(site)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    problems = []
    try:
        for name, rel in PAGES.items():
            found, shot = check_page(exe, base, name, rel, shots)
            problems += found
            print(f"browser: {rel}: {'ok' if not found else 'FAILED'}; screenshot {shot}")
    finally:
        server.shutdown()
    return problems


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--site", default=str(DOCS / "_build" / "html"))
    ap.add_argument("--screenshots", default=str(DOCS / "_build" / "screenshots"))
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--no-browser", action="store_true")
    ap.add_argument("--install-browser", action="store_true",
                    help="apt-get install chromium when it is missing")
    args = ap.parse_args(argv)
    site = Path(args.site)
    if not args.no_build:
        print(f"build: {build(site):.1f} s (sphinx-build -W --keep-going)")
    t0 = time.perf_counter()
    problems = [f"not in the API reference: {n}" for n in missing_from_reference(site)]
    problems += [f"unresolved cross-reference: {r}" for r in unresolved_theory_refs(site)]
    n = sum(len(v) for v in public_names().values())
    print(f"reference: {n} public names checked against objects.inv "
          f"({time.perf_counter() - t0:.1f} s)")
    if not args.no_browser:
        t0 = time.perf_counter()
        problems += browser_check(site, Path(args.screenshots), args.install_browser)
        print(f"browser: {time.perf_counter() - t0:.1f} s")
    for p in problems:
        print("FAILED:", p)
    print("site check:", "ok" if not problems else f"{len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
