"""Collecting fixed-length rollouts ``[T, N]`` from a gymnasium vector environment.

Time alignment (DESIGN.md): ``obs[t]``, then ``act[t]`` and ``logp[t] = log pi(act[t] | obs[t])``,
then ``rew[t]``, ``terminated[t]``, ``truncated[t]`` that follow ``act[t]``;
``value[t] = V(obs[t])`` and ``next_value[t] = V(s_{t+1})`` where s_{t+1} is the *real*
observation that followed ``act[t]``: for a truncated step the real final observation of the
episode (not the reset observation), and 0 for a terminated step (a terminal state has value 0,
so ``rew[t] + gamma next_value[t]`` is the one-step target on every valid step). Terminated and
truncated stay apart; both end the trace.

Autoreset (see ``npg.envs.make``): in NEXT_STEP mode the step after an episode's end is a phantom
transition (final obs, ignored action) -> reset obs with reward 0; it is kept in the ``[T, N]``
arrays so that they stay rectangular, but ``valid[t, i]`` is False there, its reward is 0, its
``next_value`` is 0, and it enters neither the episode statistics nor the normalisers' return.
Every update must use only the valid steps (``Rollout.flat`` selects them). In SAME_STEP and
DISABLED mode every step is valid and the final observation of a truncated episode comes from
``info["final_obs"]`` (or from the step itself, before npg resets the finished copies).

The collector keeps the current observations, the per-environment episode accumulators and the
autoreset flags between ``collect`` calls, so consecutive rollouts continue the same episodes.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv

from ..checks import check_positive_int
from ..backend import to_numpy
from .action_masks import MASK_KEY, check_mask_rows, info_mask
from .rollout_checks import (check_act_output, check_policy_outputs, check_step_output,
                             checked_value)
from .episodes import episode_stats
from .rollout_data import Rollout
from .make import autoreset_mode_of
from .normalize import ObsNormalizer, RewardScaler
from .spaces import (action_decoder, has_mask_key, obs_encoder, obs_mask, single_spaces,
                          space_info)

__all__ = ["Rollout", "Collector", "episode_stats", "ActFn", "ValueFn", "MASK_KEY", "info_mask"]

ActFn = Callable[[np.ndarray], tuple]            # obs [N, D] -> (env_action, action, logp [N])
ValueFn = Callable[[np.ndarray], np.ndarray]     # obs [M, D] -> [M]



class Collector:
    """Runs a policy in a ``VectorEnv`` and returns ``Rollout`` s of fixed length.

    envs            a gymnasium ``VectorEnv`` (e.g. from ``npg.envs.make_vec_env``), any
                    autoreset mode.
    obs_normalizer  an ``ObsNormalizer`` or None.
    reward_scaler   a ``RewardScaler`` or None.
    dtype           float dtype of obs, rewards, log-probabilities and values (float64 default;
                    float32 for the fast path).
    seed            seed of the first reset (None: continue the environments' own generators,
                    seeded by ``make_vec_env``).

    The collector is the stateful runtime object of the loop (current observations, episode
    accumulators); the first ``collect`` resets the environments. Attributes: ``space_info``
    (``npg.envs.SpaceInfo``: obs_dim, n_actions or act_dim and bounds), ``num_envs``,
    ``autoreset_mode``, ``total_env_steps``.
    """

    def __init__(self, envs: VectorEnv, obs_normalizer: ObsNormalizer | None = None,
                 reward_scaler: RewardScaler | None = None, dtype=np.float64,
                 seed: int | None = None):
        if not isinstance(envs, VectorEnv):
            raise TypeError(f"envs must be a gymnasium.vector.VectorEnv (see "
                            f"npg.envs.make_vec_env); got {type(envs).__name__}")
        if obs_normalizer is not None and not isinstance(obs_normalizer, ObsNormalizer):
            raise TypeError(f"obs_normalizer must be an ObsNormalizer or None; got "
                            f"{type(obs_normalizer).__name__}")
        if reward_scaler is not None and not isinstance(reward_scaler, RewardScaler):
            raise TypeError(f"reward_scaler must be a RewardScaler or None; got "
                            f"{type(reward_scaler).__name__}")
        dtype = np.dtype(dtype)
        if dtype.kind != "f":
            raise TypeError(f"dtype must be a floating dtype; got {dtype}")
        self.envs, self.dtype, self.seed = envs, dtype, seed
        self.obs_normalizer, self.reward_scaler = obs_normalizer, reward_scaler
        self.space_info = space_info(envs)
        self.num_envs = int(envs.num_envs)
        self.autoreset_mode = autoreset_mode_of(envs)
        obs_space, act_space = single_spaces(envs)
        self._encode = obs_encoder(obs_space)
        self._decode = action_decoder(act_space)
        self._mask_in_obs = has_mask_key(obs_space) and self.space_info.discrete
        self._raw = None           # [N, D] float64 encoded, un-normalised current observations
        self._mask = None          # [N, A] bool action mask of the current observations, or None
        self.total_env_steps = 0

    # ---------------------------------------------------------------- state
    def reset(self, seed: int | None = None) -> None:
        """Reset every environment (with ``seed``) and the episode accumulators."""
        N, D = self.num_envs, self.space_info.obs_dim
        obs, info = self.envs.reset(seed=seed)
        self._raw = self._encode(obs, np.empty((N, D), np.float64))
        self._mask = None
        if self.space_info.discrete:
            m = np.empty((N, self.space_info.n_actions), bool)
            if self._read_mask(obs, info, m):
                self._mask = m
        if self.obs_normalizer is not None:
            self.obs_normalizer.observe(self._raw)
        self._phantom = np.zeros(N, dtype=bool)   # NEXT_STEP: next step of env i is a reset
        self._ep_ret = np.zeros(N, dtype=np.float64)
        self._ep_len = np.zeros(N, dtype=np.int64)

    @property
    def frozen(self) -> bool:
        """True stops the normalisers' statistics (evaluation); they still normalise."""
        return any(m is not None and m.frozen for m in (self.obs_normalizer, self.reward_scaler))

    @frozen.setter
    def frozen(self, value: bool) -> None:
        for m in (self.obs_normalizer, self.reward_scaler):
            if m is not None:
                m.frozen = bool(value)

    def state_dict(self) -> dict[str, np.ndarray]:
        """The normalisers' statistics as plain arrays (keys ``obs_*``, ``ret_*``)."""
        out = {}
        for m in (self.obs_normalizer, self.reward_scaler):
            if m is not None:
                out.update(m.state_dict())
        return out

    def load_state_dict(self, state) -> None:
        state = dict(state)
        if self.obs_normalizer is not None:
            self.obs_normalizer.load_state_dict({k: v for k, v in state.items()
                                                 if k.startswith("obs_")})
        if self.reward_scaler is not None:
            self.reward_scaler.load_state_dict({k: v for k, v in state.items()
                                                if k.startswith("ret_")})

    def carry_state(self) -> dict[str, np.ndarray] | None:
        """What ``collect`` carries from one rollout to the next, as arrays: the current
        encoded observations ``obs [N, D]``, the NEXT_STEP phantom flags ``phantom [N]``, the
        running episodes' ``ep_return [N]`` and ``ep_length [N]`` and, with reward scaling, the
running discounted return ``scaler_return [N]`` of the ``RewardScaler``, with an action mask
        the current observations' ``mask [N, A]`` bool; None before the first
        collection. With the environments' own state (``npg.envs.snapshot``) it makes a resumed
        run continue its episodes exactly."""
        if self._raw is None:
            return None
        out = {"obs": self._raw.copy(), "phantom": self._phantom.copy(),
               "ep_return": self._ep_ret.copy(), "ep_length": self._ep_len.copy()}
        if self._mask is not None:
            out["mask"] = self._mask.copy()
        scaler = self.reward_scaler
        if scaler is not None and scaler.ret is not None:
            out["scaler_return"] = scaler.ret.copy()
        return out

    def set_carry_state(self, carry: dict) -> None:
        """Restore ``carry_state()``; ValueError naming the entry whose shape or dtype is not
        this collector's."""
        N, D = self.num_envs, self.space_info.obs_dim
        want = {"obs": ((N, D), np.float64), "phantom": ((N,), np.bool_),
                "ep_return": ((N,), np.float64), "ep_length": ((N,), np.int64)}
        if self.reward_scaler is not None and "scaler_return" in carry:
            want["scaler_return"] = ((N,), np.float64)
        if "mask" in carry:
            if not self.space_info.discrete:
                raise ValueError("collector state 'mask' needs a Discrete action space")
            want["mask"] = ((N, self.space_info.n_actions), np.bool_)
        for k, (shape, dt) in want.items():
            a = carry.get(k)
            if not isinstance(a, np.ndarray) or a.shape != shape or a.dtype != dt:
                got = f"{a.dtype} {a.shape}" if isinstance(a, np.ndarray) else repr(a)
                raise ValueError(f"collector state {k!r} must be {np.dtype(dt)} {shape}; got "
                                 f"{got}")
        if not (np.isfinite(carry["obs"]).all() and np.isfinite(carry["ep_return"]).all()):
            raise ValueError("collector state 'obs' and 'ep_return' must be finite")
        self._raw, self._phantom = carry["obs"].copy(), carry["phantom"].copy()
        self._ep_ret, self._ep_len = carry["ep_return"].copy(), carry["ep_length"].copy()
        self._mask = carry["mask"].copy() if "mask" in carry else None
        if "scaler_return" in want:
            if not np.isfinite(carry["scaler_return"]).all():
                raise ValueError("collector state 'scaler_return' must be finite")
            self.reward_scaler.ret = carry["scaler_return"].copy()

    # ---------------------------------------------------------------- collection
    def _read_mask(self, obs, info, out: np.ndarray) -> bool:
        """The action masks [N, A] of the vector observations ``obs`` into ``out``: from the
        Dict observation's "action_mask" entry, else from ``info["action_mask"]``; False when
        the environment gives none."""
        if self._mask_in_obs:
            out[...] = obs_mask(obs, self.num_envs, self.space_info.n_actions)
            return True
        return info_mask(info, self.num_envs, self.space_info.n_actions, out)

    def _policy_obs(self, raw: np.ndarray, out: np.ndarray) -> np.ndarray:
        if self.obs_normalizer is None:
            out[...] = raw
            return out
        return self.obs_normalizer.normalize(raw, out=out)

    def _final_obs(self, next_obs, info, idx: np.ndarray) -> np.ndarray:
        """Encoded, normalised real final observations ``[M, D]`` of the envs ``idx``."""
        if self.autoreset_mode == AutoresetMode.SAME_STEP:
            rows = np.stack([np.asarray(info["final_obs"][i]) for i in idx])
        else:                                               # DISABLED: before npg resets
            rows = np.asarray(next_obs)[idx]
        raw = self._encode(rows, np.empty((len(idx), self.space_info.obs_dim), np.float64))
        return self._policy_obs(raw, np.empty(raw.shape, self.dtype))

    def collect(self, act_fn: ActFn, value_fn: ValueFn | None, n_steps: int) -> Rollout:
        """Run ``n_steps`` vector steps and return the ``Rollout`` ``[T = n_steps, N]``.

        act_fn(obs [N, D]) -> (env_action, action, logp [N]), or, when the environment gives
            an action mask (``info["action_mask"]`` at reset, or a Dict observation's
            "action_mask" entry), act_fn(obs, mask [N, A] bool),
            which must take legal actions only: ``env_action`` goes to the
            environment (Discrete: ints [N] in [0, A); Box: [N, K] already clipped to the
            bounds, e.g. with ``npg.envs.clip_action``; MultiDiscrete / MultiBinary: ints
            [N, K] with a_k in [0, n_k)), ``action`` ([N] or [N, K], the unclipped sample)
            and ``logp`` are stored. It may also return V(obs) [N] as a
            fourth item (``PPO.act_value``: one pass for both); with a value_fn, that value
            is stored and value_fn is called only for the last and the final observations.
        value_fn(obs [M, D]) -> [M], or None (then ``value``/``next_value`` are None).
        Both receive NumPy arrays of the collector's dtype and must return NumPy arrays; the
        observation block they get is a view into the rollout buffer: read it, do not write it.

        The loop writes preallocated ``[T, N]`` rows (or ``_fused`` runs it in one call);
        validity, episode statistics and ``next_value`` are derived after it, over ``[T, N]``.
        """
        T = check_positive_int("n_steps", n_steps)
        if not callable(act_fn):
            raise TypeError(f"act_fn must be callable; got {type(act_fn).__name__}")
        if value_fn is not None and not callable(value_fn):
            raise TypeError(f"value_fn must be callable or None; got {type(value_fn).__name__}")
        if self._raw is None:
            self.reset(self.seed)
        N, next_step = self.num_envs, self.autoreset_mode == AutoresetMode.NEXT_STEP
        bufs = self._buffers(T, value_fn is not None)
        obs, act, logp, raw_rew, term, trunc, value, rew, mask = bufs
        act_shape = act.shape[1:]
        next_fix = []                       # (t, env indices, V(final obs)): SAME_STEP/DISABLED
        norm, encode, step, decode = self.obs_normalizer, self._encode, self.envs.step, self._decode
        raw, phantom0 = self._raw, self._phantom
        step0 = self.total_env_steps // N
        self._policy_obs(raw, obs[0])
        one_call = next_step and self._fused(act_fn, bufs)  # the whole rollout in one call
        for t in range(0 if one_call else T):
            o = obs[t]
            if mask is None:
                out = act_fn(o)
            else:
                out = act_fn(o, self._legal(mask, t, term, trunc, phantom0, step0, next_step))
            if t == 0:
                fused = check_act_output(out)
            env_a, a, lp = out[0], to_numpy(out[1]), to_numpy(out[2])
            if value_fn is not None:
                v = to_numpy(out[3] if fused else value_fn(o))
                if t == 0:
                    check_step_output("value_fn(obs)", v, (N,))
                value[t] = v
            if t == 0:
                check_step_output("act_fn's action", a, act_shape)
                check_step_output("act_fn's logp", lp, (N,))
            act[t], logp[t] = a, lp
            next_obs, r, te, tr, info = step(decode(to_numpy(env_a)))
            term[t], trunc[t], raw_rew[t] = te, tr, r
            if mask is not None and not self._read_mask(next_obs, info, mask[t + 1]):
                mask[t + 1] = True
            if not next_step and (te.any() or tr.any()):
                next_obs = self._autoreset(t, next_obs, te, tr, info, value_fn, next_fix,
                                           None if mask is None else mask[t + 1])
            if rew is not None:
                rew[t] = self._scale(t, r, term, trunc, phantom0)
            if norm is None:
                encode(next_obs, obs[t + 1])
            else:
                encode(next_obs, raw)
                norm.observe(raw)
                norm.normalize(raw, out=obs[t + 1])

        if norm is None:
            raw[...] = obs[T]
        if value_fn is not None and not one_call:
            value[T] = checked_value(value_fn, obs[T], N)
        self.total_env_steps += T * N
        if mask is not None:
            self._mask = mask[T].copy()
        return self._finish(obs, act, logp, raw_rew, rew, term, trunc, value, next_fix, mask)

    def _fused(self, act_fn, bufs) -> bool:
        """Run the whole rollout in one call where the act_fn offers a plan (``act_fn.
        rollout_plan()``: an object with ``dtype``, ``supports(envs)`` and ``run(envs, obs, act,
        logp, rew, term, trunc, value)``, e.g. ``npg.engine.rollout_cartpole.Plan``) that takes
        these envs, and the collector allows it (NEXT_STEP, values wanted, no normaliser,
        reward scaler or mask). The plan must give the loop's rollout bit for bit. True when
        it ran."""
        obs, act, logp, raw_rew, term, trunc, value, rew, mask = bufs
        plan_fn = getattr(act_fn, "rollout_plan", None)
        if (plan_fn is None or value is None or mask is not None or rew is not None
                or self.obs_normalizer is not None):
            return False
        plan = plan_fn()
        if plan is None or plan.dtype != self.dtype or not plan.supports(self.envs):
            return False
        plan.run(self.envs, obs, act, logp, raw_rew, term, trunc, value)
        return True

    @staticmethod
    def _legal(mask, t, term, trunc, phantom0, step0, next_step):
        """mask[t], checked to leave every env a legal action; under NEXT_STEP autoreset a
        phantom step (its action is ignored) allows every action."""
        if next_step:
            mask[t][phantom0 if t == 0 else term[t - 1] | trunc[t - 1]] = True
        check_mask_rows(mask[t], t, step0 + t)
        return mask[t]

    def _buffers(self, T: int, with_value: bool) -> tuple:
        """The preallocated rollout rows: obs [T + 1, N, D], act [T, N] or [T, N, K] (int64
        for Discrete / MultiDiscrete / MultiBinary), logp [T, N], raw rewards, terminated,
        truncated [T, N]; value [T + 1, N] (with a value_fn), scaled rewards [T, N] (with a
        reward scaler) and masks [T + 1, N, A] (when the env gives them; row 0 is the
        carried mask), else None."""
        N, D, dt, spec = self.num_envs, self.space_info.obs_dim, self.dtype, self.space_info
        act_shape = (N,) if spec.discrete else (N, spec.act_dim)
        integer = spec.discrete or spec.nvec is not None
        mask = None
        if self._mask is not None:                          # (T + 1) masks: obs[t]'s is mask[t]
            mask = np.empty((T + 1,) + self._mask.shape, bool)
            mask[0] = self._mask
        return (np.empty((T + 1, N, D), dt), np.empty((T,) + act_shape,
                                                       np.int64 if integer else dt),
                np.empty((T, N), dt), np.empty((T, N), np.float64), np.empty((T, N), bool),
                np.empty((T, N), bool), np.empty((T + 1, N), dt) if with_value else None,
                np.empty((T, N), dt) if self.reward_scaler is not None else None, mask)

    def _autoreset(self, t, next_obs, te, tr, info, value_fn, next_fix, mask_next=None):
        """SAME_STEP / DISABLED at an episode end: V(real final obs) of the truncated copies,
        and (DISABLED) reset the finished copies (their masks, in ``mask_next [N, A]``, from
        the reset's info). Returns the observations to continue from."""
        idx = np.flatnonzero(tr & ~te)
        if value_fn is not None and idx.size:
            next_fix.append((t, idx, to_numpy(value_fn(self._final_obs(next_obs, info, idx)))))
        if self.autoreset_mode == AutoresetMode.DISABLED:
            done = te | tr
            next_obs, reset_info = self.envs.reset(options={"reset_mask": done})
            if mask_next is not None:
                m = np.ones_like(mask_next)
                self._read_mask(next_obs, reset_info, m)
                mask_next[done] = m[done]
        return next_obs

    def _scale(self, t, r, term, trunc, phantom0):
        """Reward scaling at step t; phantom steps (NEXT_STEP, after an end) are skipped."""
        done = term[t] | trunc[t]
        if self.autoreset_mode != AutoresetMode.NEXT_STEP:
            ok = np.ones_like(done)
        else:
            ok = ~(phantom0 if t == 0 else term[t - 1] | trunc[t - 1])
        return self.reward_scaler.scale(np.asarray(r, np.float64), done, ok)

    def _finish(self, obs, act, logp, raw_rew, rew, term, trunc, value, next_fix,
                mask=None) -> Rollout:
        """Derive valid, next_value and the episode statistics; check the policy's outputs."""
        done = term | trunc
        valid = np.ones_like(done)
        if self.autoreset_mode == AutoresetMode.NEXT_STEP:
            valid[0] = ~self._phantom
            valid[1:] = ~done[:-1]
            self._phantom = done[-1].copy()
        next_value = None
        if value is not None:
            next_value = value[1:].copy()
            for t, idx, v in next_fix:
                next_value[t, idx] = v
            next_value[term | ~valid] = 0.0
            value = value[:-1]
        check_policy_outputs(self.space_info, act, logp, value, next_value, mask)
        ep_ret, ep_len, self._ep_ret, self._ep_len = episode_stats(
            raw_rew, valid, done, self._ep_ret, self._ep_len)
        return Rollout(obs=obs[:-1], act=act, logp=logp,
                       rew=raw_rew.astype(self.dtype) if rew is None else rew,
                       terminated=term, truncated=trunc, value=value, next_value=next_value,
                       valid=valid, last_obs=obs[-1], episode_returns=ep_ret,
                       episode_lengths=ep_len, mask=None if mask is None else mask[:-1],
                       last_mask=None if mask is None else mask[-1])

