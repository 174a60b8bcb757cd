"""A first run that does not wait for the compiler: the engine's kernels compile in a child process
while training starts on the reference path.

The first call of a compiled kernel compiles it (about 40 CPU-seconds for PPO's CartPole
engine on the 2-core development machine, ``benchmarks/cold.py``) and writes the machine code
into Numba's on-disk cache; later runs load it in milliseconds. With background compilation
enabled (``enable()``; ``npg train`` and ``npg resume`` enable it), the first update that
would run on the engine asks ``ready(algo, kind)``:

* cache warm (a marker written by an earlier warm-up of the same configuration, for the same
  npg, Numba and Python and the same engine sources, is found): True at once, so the run is
  the run it would be without this module, bit for bit;
* cache cold: a child process (``python -m npg.engine.warmup_child``) is started that builds
  the same algorithm from its config and space spec and calls its public ``act_value``,
  ``act``, ``value`` and ``update`` on a small synthetic rollout, which compiles exactly the
  specialisations the run uses (dtype, activation, layer count) into the cache: the acting
  kernels first, then the update. ``ready`` returns False until the child reports ``kind``
  done; meanwhile the caller runs its reference (NumPy) path, on this process's core, while
  the child compiles on the other one (a separate process: no GIL between them). The child
  lives on if the run ends first, so the next run finds the cache warm.
* the child fails to start, crashes or runs past ``TIMEOUT_S``: a RuntimeWarning, and
  ``ready`` returns True (the engine then compiles in this process, as without this module).

What this means for results: on a cold cache the first updates (or acting steps) run on the
reference path, which agrees with the engine to floating-point rounding, not bit for bit, so
a seeded first run is not bitwise the run a warm cache gives (with a warm cache, seeded runs
are reproducible as before). ``NPG_BACKGROUND_COMPILE=0`` in the environment turns the
mechanism off (the engine compiles in-process on first use, as before; every seeded run then
reproduces bit for bit); ``=1`` turns it on for any caller. Without ``enable()`` and without
the variable it is off: the Python API and the test suite keep in-process compilation.

    was = warmup.enable()                 # the CLI does this around a training run
    if warmup.ready(algo, "update"):      # in the updater's dispatch: engine or reference
        ...

Kinds, in the order the child compiles them: "acting" (the compiled acting step), "rollout"
(a whole rollout in one call, ``npg.engine.rollout_cartpole``, where the spaces are CartPole's),
"kernels" (the small kernels outside the engine: GAE, npg's CartPole step; ``npg.compiling``
holds them until then, so that this process takes their NumPy paths instead of compiling them
a second time), "update" (the compiled update on one thread) and "parallel" (the same update
with the actor's and the critic's halves on two threads: about as much compiling again, so the
run updates on one thread, the same numbers bit for bit, until it is ready). Algorithms
without an exercise in ``EXERCISES`` (keyed by ``algo.name``) are always ready.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
import weakref

from .. import compiling

__all__ = ["KINDS", "ENV_VAR", "TIMEOUT_S", "EXERCISES", "enable", "enabled", "ready",
           "start", "status", "wait", "marker_path"]

KINDS = ("acting", "rollout", "kernels", "update", "parallel")
ENV_VAR = "NPG_BACKGROUND_COMPILE"
TIMEOUT_S = 900.0          # a child still compiling after this long is stopped
_POLL_S = 0.02             # ready() looks at the child's progress at most this often

# algo.name -> "module:function" of its exercise, run in the child (npg.engine.warmup_child)
EXERCISES: dict[str, str] = {"ppo": "npg.engine.warmup_child:exercise_ppo"}

_MODE = {"enabled": False, "in_child": False}
_JOBS: dict[str, "_Job"] = {}
_KEYS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()   # algo -> _key(algo)


def enable(on: bool = True) -> bool:
    """Turn background compilation on (or off) for this process (``ENV_VAR`` overrides);
    returns the previous setting (``was = enable(); ...; enable(was)`` scopes it)."""
    was, _MODE["enabled"] = _MODE["enabled"], bool(on)
    return was


def enabled() -> bool:
    """Whether ``ready`` may start a child: ``NPG_BACKGROUND_COMPILE`` "0"/"1" if set, else
    ``enable``'s setting; never inside the child itself."""
    if _MODE["in_child"]:
        return False
    flag = os.environ.get(ENV_VAR, "").strip()
    if flag in ("0", "1"):
        return flag == "1"
    return _MODE["enabled"]


def _check_kind(kind) -> None:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}; got {kind!r}")


def ready(algo, kind: str) -> bool:
    """True when ``algo``'s compiled ``kind`` path may run now without compiling in this process
    (or when background compilation is off, or the child failed); False while a child is
    still compiling it (the caller then takes its reference path). The first call for a
    configuration starts the child when the cache is cold (``start``)."""
    _check_kind(kind)
    if not enabled() or getattr(algo, "name", None) not in EXERCISES:
        return True
    job = _JOBS.get(_key(algo))
    if job is None:
        job = start(algo)
    return job.ready(kind)


def start(algo, cache_dir: str | None = None) -> "_Job":
    """The warm-up job of ``algo``'s configuration, started if needed: nothing to do when the
    marker in ``cache_dir`` (default: Numba's cache directory of ``npg.engine``) says the cache
    is warm, else a child process compiling into the cache. One job per configuration and
    process; a second call returns the first job."""
    key = _key(algo)
    if key in _JOBS:
        return _JOBS[key]
    try:
        marker = marker_path(algo, cache_dir)
    except AttributeError:              # NUMBA_DISABLE_JIT: no compiled code, no cache
        marker = None
    job = _JOBS[key] = _Job(marker)
    if marker is not None and not os.path.exists(marker):
        job.launch(algo)
        compiling.hold(lambda: job.ready("kernels"))
    return job


def status(algo) -> dict:
    """``{"started": bool, "running": bool, "done": [kinds], "failed": str or None}`` for
    ``algo``'s configuration in this process (``started`` False: no child was needed or
    asked for)."""
    job = _JOBS.get(_key(algo))
    if job is None:
        return {"started": False, "running": False, "done": [], "failed": None}
    job.poll()
    return {"started": job.proc is not None, "running": job.running(),
            "done": sorted(job.done), "failed": job.failed}


def wait(algo, timeout: float | None = None) -> bool:
    """Block until ``algo``'s child (if any) has finished; True when every kind is ready."""
    job = _JOBS.get(_key(algo))
    if job is None:
        return True
    t_end = None if timeout is None else time.monotonic() + timeout
    while job.running() and (t_end is None or time.monotonic() < t_end):
        time.sleep(_POLL_S)
    job.poll()
    return all(job.ready(k) for k in KINDS)


# ---------------------------------------------------------------------------- configuration key

def _key(algo) -> str:
    """The fields that decide which kernel specialisations a run compiles: the algorithm, the
    dtype, the activation, the number of layers, the network layout and the action space."""
    try:
        return _KEYS[algo]
    except (KeyError, TypeError):
        pass
    c, s = algo.config, algo.spec
    hidden = getattr(c, "hidden", ())
    parts = (type(algo).__module__, type(algo).__qualname__, str(getattr(c, "dtype", "")),
             str(getattr(c, "activation", "")), len(hidden) if hidden else 0,
             bool(getattr(c, "shared", False)), bool(getattr(c, "use_sde", False)),
             bool(getattr(s, "discrete", False)))
    key = hashlib.sha1(repr(parts).encode()).hexdigest()[:16]
    try:
        _KEYS[algo] = key
    except TypeError:                   # not weak-referenceable: recomputed on each call
        pass
    return key


def _sources_stamp() -> str:
    """A hash of what the cached machine code depends on: npg's, Numba's and Python's versions
    and each compiled source file's modification time and size (Numba's own staleness test)."""
    import numba
    from ..version import VERSION as __version__
    here = os.path.dirname(os.path.abspath(__file__))
    files = sorted(os.path.join(here, f) for f in os.listdir(here) if f.endswith(".py"))
    files.append(os.path.join(os.path.dirname(here), "returns", "_kernels.py"))
    stamps = [(os.path.basename(f), os.stat(f).st_mtime_ns, os.stat(f).st_size)
              for f in files if os.path.exists(f)]
    parts = (__version__, numba.__version__, sys.version, stamps)
    return hashlib.sha1(repr(parts).encode()).hexdigest()[:16]


def _npg_dir() -> str:
    """The directory of the npg package this process imported (the child must import it)."""
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _engine_cache_dir() -> str:
    from . import kernels
    return kernels.bias_act._cache.cache_path


def marker_path(algo, cache_dir: str | None = None) -> str:
    """The file whose presence says that ``algo``'s configuration is compiled into the cache."""
    d = _engine_cache_dir() if cache_dir is None else os.fspath(cache_dir)
    return os.path.join(d, f"npg-warm-{_key(algo)}-{_sources_stamp()}.json")


# ---------------------------------------------------------------------------- the child process

def _child_env() -> dict:
    """The environment of the child: this one, with the directory holding this process's npg
    first on the import path and then this process's path (absolute), so that the child
    imports the same npg and finds the same exercises. The child runs in its job directory:
    ``python -m`` puts its working directory first on the path, and a caller's working
    directory may hold another npg (a source checkout beside an installed copy, as when
    ``pytest`` runs an installed npg from the repository root)."""
    env = dict(os.environ)
    paths = [os.path.dirname(_npg_dir())] + [os.path.abspath(p) for p in sys.path]
    paths = [p for p in dict.fromkeys(paths) if os.path.isdir(p)]
    old = env.get("PYTHONPATH")
    env["PYTHONPATH"] = os.pathsep.join(paths + ([old] if old else []))
    env.pop(ENV_VAR, None)
    return env


class _Job:
    """One child compiling one configuration; ``done`` holds the kinds it reported."""

    def __init__(self, marker: str | None):
        self.marker, self.proc, self.dir = marker, None, None
        self.done = set(KINDS) if marker is None or os.path.exists(marker) else set()
        self.failed: str | None = None
        self.t_start = self.t_poll = 0.0

    def launch(self, algo) -> None:
        try:
            self.dir = tempfile.mkdtemp(prefix="npg-warmup-")
            with open(os.path.join(self.dir, "job.pkl"), "wb") as f:
                pickle.dump({"cls": type(algo), "config": algo.config, "spec": algo.spec,
                             "exercise": EXERCISES[algo.name], "marker": self.marker,
                             "parent": os.getpid(), "npg": _npg_dir()}, f)
            log = open(os.path.join(self.dir, "child.log"), "wb")
            with log:
                self.proc = subprocess.Popen(
                    [sys.executable, "-m", "npg.engine.warmup_child", self.dir],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=_child_env(),
                    cwd=self.dir,               # not the caller's: see _child_env
                    start_new_session=True)     # lives on after this run; Ctrl-C stays here
            self.t_start = time.monotonic()
        except (OSError, pickle.PicklingError, TypeError, AttributeError) as err:
            self._fail(f"could not start the compiler process ({err})")

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def poll(self) -> None:
        """Read the child's progress (its stage files; the marker once it is done); note a
        crash or a timeout."""
        if self.failed is not None or self.proc is None or len(self.done) == len(KINDS):
            return
        self.t_poll = time.monotonic()
        if os.path.exists(self.marker):          # the child's last act before it exits
            self.done.update(KINDS)
            return
        for k in KINDS:
            if k not in self.done and os.path.exists(os.path.join(self.dir, k)):
                self.done.add(k)
        rc = self.proc.poll()
        if rc is not None and not os.path.exists(self.marker):
            self._fail(f"the compiler process exited with status {rc}: {self._log_tail()}")
            shutil.rmtree(self.dir, ignore_errors=True)
        elif rc is None and self.t_poll - self.t_start > TIMEOUT_S:
            self.proc.kill()
            self._fail(f"the compiler process ran past {TIMEOUT_S:.0f} s")

    def ready(self, kind: str) -> bool:
        if kind in self.done or self.failed is not None:
            return True
        if time.monotonic() - self.t_poll >= _POLL_S:
            self.poll()
        return kind in self.done or self.failed is not None

    def _log_tail(self) -> str:
        try:
            with open(os.path.join(self.dir, "child.log"), "rb") as f:
                lines = f.read().decode(errors="replace").strip().splitlines()
        except OSError:
            return "no log"
        return " | ".join(lines[-3:]) or "no output"

    def _fail(self, why: str) -> None:
        self.failed = why
        warnings.warn(f"npg: background compilation failed: {why}; the engine's kernels "
                      f"compile in this process instead", RuntimeWarning, stacklevel=4)
