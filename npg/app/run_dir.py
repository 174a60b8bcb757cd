"""A run directory that protects itself: no writes through symlinks, one writer at a time, and
no run replaced by accident.

    prepare(path, force=False)     a directory for a *new* run: refuses one that holds a run
                                   (``RunExistsError``) unless ``force``, which removes npg's
                                   files of the old run (and nothing else)
    with RunLock(path): ...        an exclusive lock (``fcntl.flock`` on ``path/.lock``): a
                                   second process gets ``RunLockedError`` naming the holder's pid
    open_for_write(path, append)   a file opened with O_NOFOLLOW: a symlink placed in the run
                                   directory is refused, never written through

The lock is advisory and released by the kernel when its process dies, so a killed run never
leaves a stale lock. POSIX only (Linux, macOS), as is ``fcntl``.
"""

from __future__ import annotations

import errno
import fcntl
import os
import shutil

__all__ = ["prepare", "RunLock", "open_for_write", "is_run", "RunExistsError",
           "RunLockedError", "LOCK_FILE", "RUN_FILES"]

LOCK_FILE = ".lock"
RUN_FILES = ("episodes.csv", "updates.csv", "learning_curve.png", "run.json")
_RUN_PREFIXES = ("ckpt-", ".tmp-ckpt-")


class RunExistsError(ValueError):
    """The directory already holds a run, and replacing it was not asked for."""


class RunLockedError(RuntimeError):
    """Another process holds the run directory's lock."""


def _check_dir(path) -> str:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"run directory must be a path; got {type(path).__name__}")
    path = os.fspath(path)
    if os.path.islink(path):
        raise ValueError(f"run directory {path!r} is a symlink; npg does not follow symlinks "
                         f"in run directories (pass the real path)")
    if os.path.exists(path) and not os.path.isdir(path):
        raise ValueError(f"run directory {path!r} exists and is not a directory")
    return path


def is_run(path) -> bool:
    """Whether directory ``path`` holds npg's files of a run (logs or checkpoints)."""
    if not os.path.isdir(path):
        return False
    return any(n in RUN_FILES or n.startswith(_RUN_PREFIXES) for n in os.listdir(path))


def prepare(path, force: bool = False) -> str:
    """Create ``path`` for a new run; ``RunExistsError`` if it holds one unless ``force``, which
    deletes that run's logs, plot and checkpoints (symlinks among them are unlinked, never
    followed; other files stay). Returns the path."""
    path = _check_dir(path)
    if is_run(path):
        if not force:
            raise RunExistsError(
                f"{path!r} already holds a run; pass --force (force=True) to replace it, or "
                f"continue it with `npg resume {path}`")
        with RunLock(path):
            for name in os.listdir(path):
                full = os.path.join(path, name)
                if name in RUN_FILES or name.startswith(_RUN_PREFIXES):
                    if os.path.isdir(full) and not os.path.islink(full):
                        shutil.rmtree(full)
                    else:
                        os.unlink(full)
    os.makedirs(path, exist_ok=True)
    return path


class RunLock:
    """``with RunLock(path):`` holds an exclusive lock on run directory ``path`` (created)."""

    def __init__(self, path):
        self.path = _check_dir(path)
        self._fd = None

    def acquire(self) -> "RunLock":
        os.makedirs(self.path, exist_ok=True)
        lock = os.path.join(self.path, LOCK_FILE)
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
        except OSError as err:
            if err.errno == errno.ELOOP:
                raise ValueError(f"{lock!r} is a symlink; npg does not follow symlinks in run "
                                 f"directories") from None
            raise
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise RunLockedError(f"run directory {self.path!r} is in use by another npg process "
                                 f"(pid {holder}); wait for it or use another directory") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()


def open_for_write(path, append: bool = False, exclusive: bool = False):
    """A binary file opened for writing without following a symlink at ``path``
    (``ValueError`` names it); ``append`` continues it, ``exclusive`` requires it to be new."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW
    flags |= os.O_APPEND if append else (os.O_EXCL if exclusive else os.O_TRUNC)
    try:
        fd = os.open(path, flags, 0o644)
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise ValueError(f"{os.fspath(path)!r} is a symlink; npg does not write through "
                             f"symlinks in run directories") from None
        raise
    return os.fdopen(fd, "ab" if append else "wb")
