"""The command line's look-up commands: ``npg config ALGO``, ``npg info RUN_DIR``,
``npg check-env ID``. Each returns the text it prints."""

from __future__ import annotations

import os
import re
from dataclasses import MISSING, fields

__all__ = ["config_help", "run_info", "check_env"]


def _field_docs(config_class) -> dict[str, str]:
    """``{field: description}`` from the docstrings of ``config_class`` and its bases, which
    document each field as ``name: type = default`` followed by its description (on the same
    line after spaces, and/or on more-indented lines below)."""
    docs: dict[str, str] = {}
    for cls in reversed(config_class.__mro__):
        lines = (cls.__doc__ or "").splitlines()
        for i, line in enumerate(lines):
            m = re.match(r"^(\s*)(\w+): [^=]+?=\s*(\S+(?: \S+)*?)(?:\s{2,}(.*))?$", line)
            if not m:
                continue
            indent, name, text = len(m.group(1)), m.group(2), [m.group(4) or ""]
            for more in lines[i + 1:]:
                if more.strip() and len(more) - len(more.lstrip()) > indent and \
                        not re.match(r"^\s*\w+: [^=]+=", more):
                    text.append(more.strip())
                else:
                    break
            docs[name] = " ".join(t for t in text if t)
    return docs


def config_help(algo: str) -> str:
    """Every config field of ``algo`` with its type, default and description."""
    from ..algos import get_algorithm
    cls = get_algorithm(algo).config_class
    docs = _field_docs(cls)
    rows = []
    for f in fields(cls):
        default = f.default if f.default is not MISSING else f.default_factory()
        rows.append((f.name, getattr(f.type, "__name__", str(f.type)), repr(default),
                     docs.get(f.name, "")))
    width = max(len(f"{n} = {d}") for n, _, d, _ in rows)
    out = [f"{cls.__name__} ({algo}): set with --set KEY=VALUE or a --config TOML file"]
    for name, typ, default, doc in rows:
        out.append(f"  {f'{name} = {default}':<{width}}  ({typ}) {doc}".rstrip())
    return "\n".join(out)


def run_info(run_dir) -> str:
    """A summary of a run directory: what produced it, how far it got, its checkpoints."""
    from . import checkpoint
    from .logger import EPISODES_FILE, read_csv
    from .provenance import read_run
    run_dir = os.fspath(run_dir)
    meta, _, ckpt = checkpoint.load(run_dir)
    lines = [f"run {run_dir}: {meta['algo']} on {meta['env_id']}, seed {meta['seed']}",
             f"  newest checkpoint {os.path.basename(ckpt)}: {meta['env_steps']:,} env steps, "
             f"{meta['n_updates']} updates, schedule {meta['schedule_steps'] or 0:,} steps, "
             f"environment state {'saved' if meta.get('env_state') else 'not saved'}"]
    ep = os.path.join(run_dir, EPISODES_FILE)
    if os.path.exists(ep):
        ret = read_csv(ep)["return"]
        if ret.size:
            lines.append(f"  training episodes {ret.size}, mean return of the last 20 "
                         f"{ret[-20:].mean():.2f}, best {ret.max():.2f}")
    rec = read_run(run_dir)
    if rec:
        origin = rec.get("origin") or {}
        if origin:
            lines.append(f"  config from {origin.get('preset') or 'defaults'}"
                         f"{'; file ' + origin['config_file'] if origin.get('config_file') else ''}"
                         f"{'; --set ' + str(origin['overrides']) if origin.get('overrides') else ''}")
        for s in rec.get("sessions", []):
            v = s.get("versions", {})
            a, b = s.get("env_steps", [None, None])
            lines.append(f"  session {s.get('start')} -> {s.get('end') or 'running or killed'}: "
                         f"steps {a:,} -> {b if b is None else f'{b:,}'}, npg {v.get('npg')}, "
                         f"numpy {v.get('numpy')}, gymnasium {v.get('gymnasium')}: "
                         f"{' '.join(s.get('argv', []))}")
    return "\n".join(lines)


def _plain(message) -> str:
    """A warning's text without terminal colour codes, shortened."""
    return re.sub(r"\x1b\[[0-9;]*m", "", str(message))[:120]


def check_env(env_id: str) -> str:
    """Run gymnasium's environment checker on ``env_id`` and say whether npg supports its
    observation and action spaces (and how it encodes them)."""
    import warnings

    import gymnasium as gym
    from gymnasium.utils.env_checker import check_env as gym_check

    from ..envs.ids import check_env_id
    from ..envs.spaces import space_info
    env_id = check_env_id(env_id, allow_import=True)
    env = gym.make(env_id)
    out = [f"{env_id}: observation space {env.observation_space}, action space "
           f"{env.action_space}"]
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            gym_check(env.unwrapped, skip_render_check=True)
        out.append("  gymnasium's env checker: passed" + (
            f" with {len(caught)} warning(s): " + "; ".join(_plain(w.message) for w in caught)
            if caught else ""))
    except Exception as err:                        # the checker's own assertion messages
        out.append(f"  gymnasium's env checker: FAILED: {type(err).__name__}: {err}")
    try:
        vec = gym.vector.SyncVectorEnv([lambda: gym.make(env_id)])
        info = space_info(vec)
        kind = (f"{info.n_actions} discrete actions" if info.discrete
                else f"{info.act_dim} Bernoulli action bits" if info.binary
                else f"{info.act_dim} categorical action dimensions {list(info.nvec)}"
                if info.nvec is not None else f"{info.act_dim}-dimensional Box actions")
        out.append(f"  npg: supported: observations encoded to {info.obs_dim} features, {kind}")
        vec.close()
    except (TypeError, ValueError) as err:
        out.append(f"  npg: not supported: {err}")
    env.close()
    return "\n".join(out)
