"""Environment ids: checked against gymnasium's registry, with a "did you mean" when they miss.

gymnasium reads an id written ``"module:Env-v0"`` as "import ``module``, then look up
``Env-v0``": an id from a file (a checkpoint) would then run code. ``check_env_id`` accepts
such an id only with ``allow_import=True``, which the command line and ``Agent`` pass for ids
typed by the user and never for ids read from a checkpoint (unless the caller opts in).
"""

from __future__ import annotations

import difflib
import importlib

import gymnasium as gym

__all__ = ["check_env_id", "suggest", "UnknownEnvError"]


class UnknownEnvError(ValueError):
    """An id that gymnasium's registry does not hold (the message suggests close ones)."""


def suggest(word: str, choices, n: int = 3) -> str:
    """``" (did you mean 'A' or 'B'?)"`` for the closest of ``choices``, or ``""``."""
    close = difflib.get_close_matches(word, list(choices), n=n, cutoff=0.6)
    if not close:
        lower = {c.lower(): c for c in choices}
        close = [lower[c] for c in difflib.get_close_matches(word.lower(), list(lower), n=n,
                                                             cutoff=0.6)]
    if not close:
        return ""
    return " (did you mean " + " or ".join(repr(c) for c in close) + "?)"


def check_env_id(env_id, allow_import: bool = False, what: str = "env") -> str:
    """``env_id`` if gymnasium's registry holds it; ``UnknownEnvError`` naming ``what`` with
    the closest registered ids otherwise (and for deprecated versions, the current one).

    A ``"module:Env-v0"`` id imports ``module`` first, and only with ``allow_import=True``;
    without it that form is refused before anything is imported.
    """
    if not isinstance(env_id, str) or not env_id:
        raise TypeError(f"{what} must be a registered gymnasium id (a non-empty str); got "
                        f"{type(env_id).__name__}")
    if ":" in env_id:
        if not allow_import:
            raise ValueError(f"{what} {env_id!r} names a module to import; ids read from a file "
                             f"are never imported (pass the environment explicitly, or opt in "
                             f"with allow_import=True if you trust the file)")
        module, _, name = env_id.partition(":")
        try:
            importlib.import_module(module)
        except ImportError as err:
            raise UnknownEnvError(f"{what} {env_id!r}: cannot import module {module!r} "
                                  f"({err})") from None
        if name in gym.registry:
            return env_id
        raise UnknownEnvError(f"{what} {env_id!r}: module {module!r} registers no {name!r}"
                              f"{suggest(name, gym.registry)}")
    if env_id in gym.registry:
        return env_id
    try:
        gym.spec(env_id)                        # raises DeprecatedEnv with gymnasium's advice
    except gym.error.DeprecatedEnv as err:
        raise UnknownEnvError(f"{what} {env_id!r} is deprecated: {err}") from None
    except gym.error.Error:
        pass
    raise UnknownEnvError(f"{what} {env_id!r} is not a registered gymnasium environment"
                          f"{suggest(env_id, gym.registry)}")
