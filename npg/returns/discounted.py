"""Discounted returns (reward-to-go) across episode boundaries, with optional bootstrapping."""

from __future__ import annotations

from ..backend import create, device_of
from . import _vectorised
from ._inputs import (check_gamma, check_outputs_finite, kernel_args, prepare, scalar,
                      use_kernels)

__all__ = ["discounted_returns"]


def discounted_returns(rew, terminated, truncated, gamma, next_value=None, *,
                       discount_weighting=False, start_step=None):
    r"""Discounted return G_t of every step of a rollout, [T, N] (or [T] for 1-D inputs).

    Recursion, backwards over t = T-1, ..., 0, separately for each environment:

        G_t = r_t + gamma * B_t,   B_t = 0            if terminated[t]  (d_t)
                                   B_t = V'_t         if truncated[t] (c_t) or t = T - 1
                                   B_t = G_{t+1}      otherwise

    so that G_t = sum_{k=t}^{j} gamma^{k-t} r_k + gamma^{j-t+1} (1 - d_j) V'_j, where j >= t is
    the first step that ends the episode (d_j or c_j) or the rollout (j = T - 1). Both flags end
    the sum; only termination drops the bootstrap. The next episode's rewards never leak in.

    With ``next_value=None`` this is the pure Monte-Carlo reward-to-go *within the batch*: V'_j
    is taken as 0 everywhere, also at truncations and at the rollout's last step, so an episode
    still running at t = T - 1 is cut short (REINFORCE on complete episodes wants this).

    With ``discount_weighting=True`` the output is gamma^{k_t} G_t, the per-step weight of the
    discounted objective J = E[sum_t gamma^t r_t], whose policy gradient is
    E[sum_t gamma^t G_t grad log pi(a_t | s_t)] (Sutton & Barto 2018, sec. 13.3). Here k_t is the
    step's index within its episode: k_0 = start_step, k_{t+1} = 0 if d_t or c_t, else k_t + 1.

    Returns are targets, not differentiated through: G is linear in (rew, next_value) with
    dG_t/dr_k = gamma^{k-t} for t <= k <= j and 0 otherwise.

    Args:
        rew: [T, N] rewards r_t following act[t] (float; integer rewards are converted).
        terminated: [T, N] bool (or 0/1) d_t: the episode reached a terminal state at t.
        truncated: [T, N] bool (or 0/1) c_t: the episode was cut (time limit) at t.
        gamma: discount in [0, 1].
        next_value: [T, N] V'_t = V(s_{t+1}) (of the real final observation at a truncation),
            or None for Monte-Carlo returns. Ignored, and may be NaN, where terminated.
        discount_weighting: multiply by gamma^{k_t} (see above).
        start_step: [N] non-negative ints (or an int): k_0, the steps each episode had already
            run at t = 0; default 0. Only with ``discount_weighting``.

    Returns:
        [T, N] array in the floating dtype of the inputs (float64 for integer rewards alone).
    """
    gamma = check_gamma("gamma", gamma)
    if not isinstance(discount_weighting, bool):
        raise TypeError(f"discount_weighting must be a bool; got "
                        f"{type(discount_weighting).__name__}")
    bootstrap = next_value is not None
    b = prepare(rew, terminated, truncated=truncated, next_value=next_value,
                has_truncated=True, has_next_value=bootstrap)
    w0 = _start_weight(b, gamma, start_step) if discount_weighting else None
    if start_step is not None and not discount_weighting:
        raise ValueError("start_step is only used with discount_weighting=True")
    if use_kernels(b):
        from . import _kernels
        r, d, c, nv = kernel_args(b, b.rew, b.terminated, b.truncated, b.next_value)
        out = b.xp.empty(r.shape, dtype=b.dtype)
        nv = b.xp.zeros_like(r) if nv is None else nv   # Monte-Carlo: V' = 0 everywhere
        _kernels.discounted_kernel(r, nv, d, c, scalar(b, gamma), out)
        if w0 is not None:
            _kernels.episode_discount_kernel(out, d, c, scalar(b, gamma), w0)
    else:
        out = _vectorised.discounted(b.xp, b.rew, b.next_value, b.terminated, b.truncated,
                                     gamma, bootstrap)
        if w0 is not None:
            out = _vectorised.episode_discount(b.xp, out, b.terminated, b.truncated, gamma, w0)
    check_outputs_finite(b, out)
    return b.shape_out(out)


def _start_weight(b, gamma, start_step):
    """w_0 = gamma^{start_step} [N] in the output dtype (gamma^0 = 1, also for gamma = 0)."""
    xp, N = b.xp, b.rew.shape[1]
    if start_step is None:
        return create(xp, "ones", (N,), dtype=b.dtype, device=device_of(b.rew))
    if isinstance(start_step, bool):
        raise TypeError("start_step must be a non-negative int or an integer array [N]; got bool")
    if isinstance(start_step, int):
        k = create(xp, "full", (N,), start_step, dtype=xp.int64, device=device_of(b.rew))
    elif hasattr(start_step, "dtype") and xp.isdtype(start_step.dtype, "integral") \
            and start_step.dtype != xp.bool:
        k = xp.asarray(start_step)
        if tuple(k.shape) == () or (b.squeeze and tuple(k.shape) == (1,)):
            k = xp.reshape(k, (1,)) if N == 1 else xp.full((N,), int(k), dtype=k.dtype)
        if tuple(k.shape) != (N,):
            raise ValueError(f"start_step must have shape [N] = [{N}]; got {tuple(k.shape)}")
    else:
        raise TypeError("start_step must be a non-negative int or an integer array [N]; got "
                        f"{getattr(start_step, 'dtype', type(start_step).__name__)}")
    if bool(xp.any(k < 0)):
        raise ValueError("start_step must be non-negative (steps already run at t = 0)")
    return gamma ** xp.astype(k, b.dtype)
