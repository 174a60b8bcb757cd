"""Action masks from a vector environment: ``info["action_mask"]`` [N, A] (with gymnasium's
``info["_action_mask"]`` presence flags), checked row by row so that a state with no legal
action is an error naming the environment and the step. ``npg.envs.rollout.Collector`` reads them
(``npg.envs.spaces.obs_mask`` reads the Dict-observation form).
"""

from __future__ import annotations

import numpy as np

__all__ = ["MASK_KEY", "info_mask", "check_mask_rows"]

MASK_KEY = "action_mask"
"""The ``info`` key of an environment's action mask (bool [A], True = legal); a gymnasium vector
env reports it as ``info["action_mask"] [N, A]`` with the presence flags ``info["_action_mask"]``."""


def info_mask(info, n_envs: int, n_actions: int, out: np.ndarray) -> bool:
    """Write the action mask of ``info`` (a vector env's step/reset info) into ``out [N, A]``
    bool: ``info["action_mask"]`` where ``info["_action_mask"]`` says an env gave one, all True
    for the others. Returns False (``out`` untouched) when no env gave a mask. ValueError when
    the mask is not ``[N, A]``."""
    m = info.get(MASK_KEY) if isinstance(info, dict) else None
    if m is None:
        return False
    m = np.asarray(m)
    if m.shape != (n_envs, n_actions):
        raise ValueError(f"info[{MASK_KEY!r}] must have shape [{n_envs}, {n_actions}] (one "
                         f"flag per action of each environment); got {m.shape}")
    present = info.get("_" + MASK_KEY)
    out[...] = m.astype(bool, copy=False)
    if present is not None:
        out[~np.asarray(present, dtype=bool)] = True
    return True


def check_mask_rows(mask: np.ndarray, t: int, vector_step: int) -> None:
    """ValueError naming the first environment whose mask ``[N, A]`` allows no action."""
    bad = ~mask.any(axis=1)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"the action mask of environment {i} allows no action at rollout step "
                         f"{t} (vector step {vector_step}): every non-terminal state must have a "
                         f"legal action (info[{MASK_KEY!r}] is all False)")
