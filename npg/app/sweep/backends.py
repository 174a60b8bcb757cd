"""Where sweep jobs run: this process, a local process pool, or a Ray cluster.

    backend = make_backend("pool", workers=None)        # one worker per core (the default)
    backend = make_backend("ray", address="auto")       # join a cluster (`ray start --head`)
    backend = make_backend("serial")                    # this process, one job at a time

Each backend has ``submit(task) -> handle``, ``wait(handles) -> [(handle, result), ...]``
(at least one finished task) and ``close()``; a task is ``npg.app.sweep.jobs.execute``'s input and
every backend runs that same function, so the run directories are the same, bit for bit, on
all of them (only wall times differ).

Threads. Every worker runs one job on one core: ``OPENBLAS_NUM_THREADS``,
``OMP_NUM_THREADS``, ``MKL_NUM_THREADS`` and ``NUMBA_NUM_THREADS`` are set to the per-worker
count (default 1) in the workers' environment before they start (a pool worker inherits this
process's environment when spawned, which is set for the pool's lifetime and restored after;
Ray workers get it through ``runtime_env``), and Numba's again inside the worker with
``numba.set_num_threads``, so N workers on N cores never run N x N
threads. The pool uses the "spawn" start method: a forked child of a process that has
started BLAS or Numba threads can deadlock.

Ray. ``address=None`` starts a private local cluster with ``workers`` CPUs (and shuts it down
on ``close``) unless Ray is already initialised in this process, which is then used as is;
``"auto"`` joins the cluster running on this machine; ``"HOST:PORT"`` joins that head node,
after checking within ``timeout`` seconds that the port answers (a ConnectionError naming it,
instead of Ray's long retry loop). Run directories are shipped back as tar bytes, so the
workers need npg installed but no shared filesystem.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import multiprocessing
import os
import socket

from .jobs import execute

__all__ = ["make_backend", "SerialBackend", "PoolBackend", "RayBackend", "BACKENDS",
           "thread_env", "limit_threads", "default_workers", "worker_threads", "check_address"]

BACKENDS = ("pool", "ray", "serial")
THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
               "NUMBA_NUM_THREADS")


def default_workers() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:                       # not Linux
        return os.cpu_count() or 1


def thread_env(threads: int = 1) -> dict:
    return {v: str(int(threads)) for v in THREAD_VARS}


@contextlib.contextmanager
def _environ(values: dict):
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def limit_threads(threads: int = 1) -> None:
    """Set this process's Numba thread count and the thread variables (a worker's
    initializer; OpenBLAS reads its variable when NumPy loads, and ``Agent.learn`` runs with
    ``blas_threads=1`` by default)."""
    os.environ.update(thread_env(threads))
    try:
        import numba
        numba.set_num_threads(min(int(threads), numba.config.NUMBA_NUM_THREADS))
    except (ImportError, ValueError):
        pass


def worker_threads() -> dict:
    """This process's thread settings: the variables and Numba's thread count."""
    import numba
    return {**{v: os.environ.get(v) for v in THREAD_VARS}, "numba": numba.get_num_threads()}


class SerialBackend:
    """Runs each task in this process when it is submitted."""
    name = "serial"

    def __init__(self):
        self.workers = 1

    def submit(self, task):
        return _Done(execute(task))

    def wait(self, handles):
        return [(h, h.result) for h in handles]

    def close(self):
        pass


_SPAWN_HINT = (" (a worker died: killed, out of memory, or failed to start; in a script, "
               "call the sweep under `if __name__ == \"__main__\":`, since each 'spawn' "
               "worker imports the main module)")


class PoolBackend:
    """A ``concurrent.futures.ProcessPoolExecutor`` ("spawn") of ``workers`` processes."""
    name = "pool"

    def __init__(self, workers: int | None = None, threads: int = 1):
        self.workers = default_workers() if workers is None else int(workers)
        self._env = _environ(thread_env(threads))
        self._env.__enter__()
        self._pool = cf.ProcessPoolExecutor(
            self.workers, mp_context=multiprocessing.get_context("spawn"),
            initializer=limit_threads, initargs=(threads,))

    def submit(self, task):
        return self._pool.submit(execute, task)

    def call(self, fn, *args):
        """``fn(*args)`` in a worker (a module-level function), its result."""
        return self._pool.submit(fn, *args).result()

    def wait(self, handles):
        done, _ = cf.wait(handles, return_when=cf.FIRST_COMPLETED)
        out = []
        for h in done:
            try:
                out.append((h, h.result()))
            except Exception as err:             # a worker died (BrokenProcessPool, ...)
                hint = _SPAWN_HINT if isinstance(err, cf.process.BrokenProcessPool) else ""
                out.append((h, {"status": "failed",
                                "error": f"{type(err).__name__}: {err}{hint}"}))
        return out

    def close(self):
        try:
            self._pool.shutdown(wait=True, cancel_futures=True)
        finally:
            self._env.__exit__(None, None, None)


_H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"


def check_address(address: str, timeout: float) -> None:
    """ConnectionError unless a Ray head node answers at ``HOST:PORT`` within ``timeout`` s.

    Ray's GCS is a gRPC (HTTP/2) server: after a TCP connection, the HTTP/2 client preface
    and an empty SETTINGS frame (RFC 9113, sec. 3.4) must be answered with the server's
    SETTINGS frame (frame type 0x4). A closed port, a silent host, or a port that accepts but
    speaks no HTTP/2 (on which ``ray.init`` would retry for minutes) all fail here."""
    host, sep, port = address.rpartition(":")
    if address.startswith("ray://"):
        host, sep, port = address[len("ray://"):].rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"address must be 'auto' or HOST:PORT; got {address!r}")
    fix = "start one with `ray start --head` or fix --address"
    try:
        with socket.create_connection((host, int(port)), timeout=timeout) as conn:
            conn.sendall(_H2_PREFACE)
            reply = b""
            while len(reply) < 9:
                chunk = conn.recv(9 - len(reply))
                if not chunk:
                    break
                reply += chunk
    except OSError as err:
        raise ConnectionError(f"no Ray head node answers at {address!r} within {timeout:g} s "
                              f"({err}); {fix}") from None
    if len(reply) < 9 or reply[3] != 0x04:
        raise ConnectionError(f"{address!r} accepts connections but is not a Ray head node (no "
                              f"gRPC/HTTP2 reply within {timeout:g} s); {fix}")


def _ray_execute(task, threads):
    limit_threads(threads)
    return execute(task)


class RayBackend:
    """Tasks as Ray remote functions with ``num_cpus=1`` each (module docstring)."""
    name = "ray"

    def __init__(self, address: str | None = None, workers: int | None = None,
                 threads: int = 1, timeout: float = 10.0):
        try:
            import ray
        except ModuleNotFoundError:
            raise ImportError("the ray backend needs Ray: pip install 'npg[ray]'") from None
        self._ray, self._owned = ray, False
        env = {"env_vars": thread_env(threads)}
        if not ray.is_initialized():
            if address is None:
                ray.init(num_cpus=workers or default_workers(), include_dashboard=False,
                         runtime_env=env, log_to_driver=False, configure_logging=False)
            else:
                if address != "auto":
                    check_address(address, timeout)
                ray.init(address=address, runtime_env=env, log_to_driver=False,
                         configure_logging=False)
            self._owned = True
        self.workers = int(ray.cluster_resources().get("CPU", 1))
        self._remote = ray.remote(num_cpus=1, max_retries=0)(_ray_execute)
        self._threads = threads

    def submit(self, task):
        from .jobs import pack_dir
        job_dir = task["dir"]
        ship = pack_dir(job_dir) if os.path.isdir(job_dir) else b""
        return _RayHandle(self._remote.remote({**task, "ship": ship}, self._threads), job_dir)

    def wait(self, handles):
        from .jobs import unpack_dir
        refs = {h.ref: h for h in handles}
        done, _ = self._ray.wait(list(refs), num_returns=1)
        out = []
        for ref in done:
            h = refs[ref]
            try:
                result = self._ray.get(ref)
            except Exception as err:             # a worker or node died
                out.append((h, {"status": "failed", "error": f"{type(err).__name__}: {err}"}))
                continue
            unpack_dir(result.pop("files", b""), h.job_dir)
            out.append((h, result))
        return out

    def close(self):
        if self._owned:
            self._ray.shutdown()


class _Done:
    def __init__(self, result):
        self.result = result


class _RayHandle:
    def __init__(self, ref, job_dir):
        self.ref, self.job_dir = ref, job_dir


def make_backend(name: str = "pool", workers: int | None = None, address: str | None = None,
                 threads: int = 1, timeout: float = 10.0):
    """A backend by name ("pool", "ray", "serial")."""
    if name not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}; got {name!r}")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int)
                                or workers < 1):
        raise ValueError(f"workers must be a positive int or None; got {workers!r}")
    if not isinstance(threads, int) or isinstance(threads, bool) or threads < 1:
        raise ValueError(f"threads must be a positive int; got {threads!r}")
    if address is not None and name != "ray":
        raise ValueError(f"address is for the ray backend; got backend {name!r}")
    if name == "serial":
        return SerialBackend()
    if name == "pool":
        return PoolBackend(workers, threads)
    return RayBackend(address, workers, threads, timeout)
