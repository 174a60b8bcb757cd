"""What the collector checks of the policy's outputs: act_fn's tuple, the shapes of the first
step's action, log-prob and value, and, once per rollout (vectorised over [T, N]), that every
log-probability and value is finite and every action is in range and allowed by its mask."""

from __future__ import annotations

import numpy as np

from ..backend import to_numpy

__all__ = ["check_step_output", "check_act_output", "checked_value", "check_policy_outputs"]


def check_step_output(name: str, x: np.ndarray, shape: tuple) -> None:
    """ValueError naming ``name`` unless x has ``shape``."""
    if x.shape != shape:
        want = "[" + ", ".join(str(s) for s in shape) + "]"
        raise ValueError(f"{name} must have shape {want}; got {x.shape}")


def check_act_output(out) -> bool:
    """act_fn's result is a 3- or 4-tuple; True when it carries the values (4 items)."""
    if not isinstance(out, tuple) or len(out) not in (3, 4):
        raise TypeError("act_fn must return a tuple (env_action, action, logp) or "
                        f"(env_action, action, logp, value); got {type(out).__name__}"
                        + (f" of length {len(out)}" if isinstance(out, tuple) else ""))
    return len(out) == 4


def checked_value(value_fn, obs, N: int):
    """value_fn(obs) as NumPy [N], checked."""
    v = to_numpy(value_fn(obs))
    check_step_output("value_fn(obs)", v, (N,))
    return v


def check_policy_outputs(spec, act, logp, value, next_value, mask) -> None:
    """A rollout's values and log-probabilities are finite, its actions in range for the
    action space ``spec`` (``npg.envs.SpaceInfo``) and allowed by their masks [T + 1, N, A]."""
    if value is not None and not (np.all(np.isfinite(value))
                                  and np.all(np.isfinite(next_value))):
        raise ValueError("value_fn returned NaN or inf")
    if not np.all(np.isfinite(logp)):
        raise ValueError("act_fn returned a NaN or inf log-probability")
    if spec.discrete and (act.min() < 0 or act.max() >= spec.n_actions):
        raise ValueError(f"act_fn's action must lie in [0, {spec.n_actions}); got "
                         f"values from {act.min()} to {act.max()}")
    if spec.nvec is not None and (act.min() < 0 or np.any(act >= np.asarray(spec.nvec))):
        raise ValueError(f"act_fn's action [N, K] must lie in [0, n_k) per dimension, n = "
                         f"{list(spec.nvec)}; got values from {act.min()} to {act.max()}")
    if mask is not None:
        took = np.take_along_axis(mask[:-1], act[..., None], axis=2)[..., 0]
        if not took.all():
            t, i = (int(x[0]) for x in np.nonzero(~took))
            raise ValueError(f"act_fn took action {int(act[t, i])} of environment {i} at "
                             f"rollout step {t}, which its action mask forbids")
