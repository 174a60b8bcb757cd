"""``Rollout``: one rollout of T steps from N environments as plain arrays, with the time
alignment of DESIGN.md (collected by ``npg.envs.rollout.Collector``).

The collector fills NumPy arrays on the host (the gymnasium boundary). ``Rollout.to(xp,
device)`` is the one host -> device conversion of a rollout: every step field, ``valid`` and
``last_obs`` are copied once onto another array module (CuPy, array_api_strict); the episode
statistics stay NumPy (they only feed the host's logs). The updaters call it once at the top
of ``update`` (``npg.algos.base.Algorithm.rollout_on``), so a rollout is never copied per step.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..backend import create, namespace_of, to_numpy

__all__ = ["Rollout"]

_STEP_FIELDS = ("obs", "act", "logp", "rew", "terminated", "truncated", "value", "next_value",
                "mask")


@dataclass
class Rollout:
    """One rollout of T steps from N environments (NumPy arrays from the collector; any one
    array module after ``to``).

    obs         [T, N, D]  observations given to the policy (encoded, normalised if enabled)
    act         [T, N] int64 (Discrete), [T, N, K] int64 (MultiDiscrete, MultiBinary: a_k in
                [0, n_k)) or [T, N, K] float (Box): the actions whose log-probability is
                ``logp``, i.e. the *unclipped* Gaussian sample
    logp        [T, N]     log pi(act[t] | obs[t]) as returned by ``act_fn``
    rew         [T, N]     rewards following act[t] (scaled if a RewardScaler is used)
    terminated  [T, N] bool;  truncated [T, N] bool  (both may be True on one step)
    value       [T, N]     V(obs[t]), or None without a value function
    next_value  [T, N]     V(real s_{t+1}); 0 where terminated or invalid; None without V
    valid       [T, N] bool False on phantom autoreset transitions
    last_obs    [N, D]     the observations after the last step (where the next rollout starts)
    episode_returns [E] float64, episode_lengths [E] int64: the episodes that finished during
                this rollout, in the order they finished, from raw (unscaled) rewards; valid
                steps only.
    mask        [T, N, A] bool, the legal actions of obs[t] (the mask that came with obs[t]),
                or None when the environment gives no action mask. All True on phantom steps.
    last_mask   [N, A] bool, the mask of last_obs, or None.
    """

    obs: np.ndarray
    act: np.ndarray
    logp: np.ndarray
    rew: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    value: np.ndarray | None
    next_value: np.ndarray | None
    valid: np.ndarray
    last_obs: np.ndarray
    episode_returns: np.ndarray
    episode_lengths: np.ndarray
    mask: np.ndarray | None = None
    last_mask: np.ndarray | None = None

    @property
    def env_steps(self) -> int:
        """T * N: the environment steps this rollout cost, phantom ones included."""
        return int(self.valid.size)

    @property
    def xp(self):
        """The array module of the step fields (NumPy for a collected rollout), named as
        ``npg.backend.namespace_of`` names it (so that it compares with the state's)."""
        return namespace_of(self.valid) or np

    @property
    def n_valid(self) -> int:
        """B, the number of valid transitions."""
        xp = self.xp
        return int(np.count_nonzero(self.valid)) if xp is np else int(xp.count_nonzero(self.valid))

    def to(self, xp, device=None) -> "Rollout":
        """This rollout with its step fields, ``valid`` and ``last_obs`` on array module ``xp``
        (and ``device``): one copy each; ``episode_returns`` / ``episode_lengths`` stay NumPy.
        ``xp = numpy`` brings a device rollout back to the host. Returns self when every array
        already lives there."""
        names = _STEP_FIELDS + ("valid", "last_obs", "last_mask")
        arrays = {k: getattr(self, k) for k in names if getattr(self, k) is not None}
        if all(namespace_of(a) is xp for a in arrays.values()) and (
                device is None or all(getattr(a, "device", device) == device
                                      for a in arrays.values())):
            return self
        if xp is np:
            return replace(self, **{k: to_numpy(a) for k, a in arrays.items()})
        return replace(self, **{k: create(xp, "asarray", to_numpy(a), device=device)
                                for k, a in arrays.items()})

    @property
    def done(self) -> np.ndarray:
        """[T, N] terminated or truncated: where the trace of an episode ends."""
        return self.terminated | self.truncated

    def flat(self, **extra: np.ndarray) -> dict[str, np.ndarray]:
        """The valid steps as a batch: every ``[T, N, ...]`` field becomes ``[B, ...]``.

        ``extra`` adds arrays aligned with the rollout (e.g. ``adv=[T, N]``, ``ret=[T, N]``)
        selected by the same mask; row b of every output is the same transition.
        """
        mask = self.valid
        out = {k: getattr(self, k)[mask] for k in _STEP_FIELDS if getattr(self, k) is not None}
        xp = self.xp
        for k, x in extra.items():
            x = np.asarray(x) if xp is np else x
            if tuple(x.shape[:2]) != tuple(mask.shape):
                raise ValueError(f"{k} must be aligned with the rollout, shape "
                                 f"[{mask.shape[0]}, {mask.shape[1]}, ...]; got "
                                 f"{tuple(x.shape)}")
            out[k] = x[mask]
        return out
