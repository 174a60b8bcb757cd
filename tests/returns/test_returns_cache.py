"""Numba compiles lazily and caches to disk: ``import npg`` compiles nothing, a second process
loads the kernels instead of compiling them. Each test uses a fresh NUMBA_CACHE_DIR, so it never
depends on a cache left by an earlier run (and never asserts a wall-clock time)."""

import json
import os
import subprocess
import sys

IMPORT_ONLY = """
import json, sys
import npg, npg.returns
k = sys.modules.get("npg.returns._kernels")
compiled = [] if k is None else [n for n, f in vars(k).items()
                                  if hasattr(f, "signatures") and f.signatures]
print(json.dumps({"kernels_imported": k is not None, "compiled": compiled}))
"""

CALL = """
import json
import numpy as np
import npg.returns as R
from npg.returns import _kernels as K
x = np.linspace(-1.0, 1.0, 12).reshape(6, 2)
f = np.zeros((6, 2), bool)
R.gae(x, x, x, f, f, 0.9, 0.9)
R.discounted_returns(x, f, f, 0.9)
stats = {n: K.__dict__[n].stats for n in ("gae_kernel", "discounted_kernel")}
print(json.dumps({n: {"hits": sum(s.cache_hits.values()), "misses": sum(s.cache_misses.values())}
                  for n, s in stats.items()}))
"""


def _run(code, cache_dir):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache_dir))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True, timeout=300)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_import_compiles_nothing(tmp_path):
    got = _run(IMPORT_ONLY, tmp_path)
    assert got["compiled"] == []
    assert not any(tmp_path.rglob("*.nbc"))           # nothing written to the cache either


def test_second_process_loads_the_cache(tmp_path):
    first = _run(CALL, tmp_path)
    assert all(s["misses"] == 1 and s["hits"] == 0 for s in first.values()), first
    assert any(tmp_path.rglob("*gae_kernel*.nbi")) and any(tmp_path.rglob("*.nbc"))
    second = _run(CALL, tmp_path)
    assert all(s["hits"] == 1 and s["misses"] == 0 for s in second.values()), second
