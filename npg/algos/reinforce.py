"""REINFORCE (Williams 1992): Monte-Carlo policy gradient on complete episodes.

For the discounted objective J(theta) = E[sum_t gamma^t r_t] the policy-gradient theorem gives
two unbiased estimators from one episode (Sutton & Barto 2018, sec. 13.3; Spinning Up, "Intro
to policy optimization", part 3):

    whole episode   g = G_0 sum_t grad log pi(a_t|s_t),          G_0 = sum_t gamma^t r_t
    reward-to-go    g = sum_t gamma^t (G_t - b(s_t)) grad log pi(a_t|s_t),
                    G_t = sum_{k>=t} gamma^{k-t} r_k

with an optional baseline b: none, the running mean of past returns, or a learned V_phi(s_t)
(b must not depend on a_t, so E[g] is unchanged). ``discount_weighting=False`` drops the
gamma^t factor (the common, biased "undiscounted state distribution" variant).

Loss minimised by one update over the B steps of the complete episodes in the buffer:

    L(theta, phi) = -(1/B) sum_b w_b log pi_theta(a_b|s_b)  +  (1/2B) sum_b (V_phi(s_b) - G_b)^2
    w_b = gamma^{k_b} (G_b - b_b)  (reward-to-go)   or   G_0(episode of b) - b  (whole episode)

where k_b is the step's index within its episode; w and G are constants. The V term is present
with ``baseline="value"`` only.  Gradient: grad_theta L = sum_b (-w_b / B) grad log pi(a_b|s_b)
(one weighted score sum), grad_phi L = (1/B) sum_b (V_phi(s_b) - G_b) grad V_phi(s_b).

Complete episodes across rollouts. The rollouts have a fixed length T over N environments, so
an episode may straddle two rollouts. The steps after each environment's last episode end are
kept in the train state ("pending") and prepended to the next rollout; an update uses only the
steps of episodes that have ended, so no return is ever cut at a rollout boundary. An update
whose buffer holds no complete episode takes no gradient step; an episode still running after
``MAX_PENDING_STEPS`` steps raises a ValueError (the environment needs a time limit).

Truncation (time limits). Without a critic a truncated episode is a finished episode of the
time-limited task: G_t sums the rewards up to the truncation and stops (no bootstrap). With
``baseline="value"`` the returns of a truncated episode bootstrap from the learned value of the
real final observation, G_t += gamma^{j-t+1} V(s_{j+1}) (``rollout.next_value``), i.e. they
estimate the returns of the task without the time limit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..backend import (create, cumulative_max, default_xp, device_of, get_xp, to_numpy,
                       tree_to)
from ..returns import discounted_returns
from ._common import (PGConfig, _check_choice, actor_loss_and_grad, apply_grads, as_batch,
                      critic_loss_and_grad, init_critic, init_policy, make_critic,
                      make_optimizer, check_progress)
from .base import Algorithm, as_generator, check_bool_field, check_update_stats

__all__ = ["ReinforceConfig", "Reinforce", "episode_index", "episode_weights"]

_BASELINES = ("none", "mean", "value")
_RETURNS = ("reward_to_go", "episode")
_STEP_KEYS = ("obs", "act", "rew", "terminated", "truncated", "valid")
MAX_PENDING_STEPS = 100_000     # rows an unfinished episode may wait in the buffer


@dataclass
class ReinforceConfig(PGConfig):
    """REINFORCE hyperparameters (fields of ``PGConfig`` / ``AlgoConfig`` too).

    n_envs: int = 8              N parallel environments.
    n_steps: int = 128           T steps per environment per rollout (episodes may be longer:
                                 their steps wait in the buffer).
    gamma: float = 0.99          discount.
    returns: str = "reward_to_go"   "reward_to_go" (G_t) or "episode" (G_0 for every step).
    discount_weighting: bool = True  multiply the reward-to-go weights by gamma^t.
    baseline: str = "none"       "none", "mean" (running mean of past returns) or "value"
                                 (a learned V(s), trained on the returns with ``critic_lr``).
    policy, lr, critic_lr, optimizer, max_grad_norm, log_std_init: see ``PGConfig``.
    """

    n_envs: int = 8
    n_steps: int = 128
    returns: str = "reward_to_go"
    discount_weighting: bool = True
    baseline: str = "none"

    def __post_init__(self):
        super().__post_init__()
        self.returns = _check_choice("returns", self.returns, _RETURNS)
        self.baseline = _check_choice("baseline", self.baseline, _BASELINES)
        self.discount_weighting = check_bool_field("discount_weighting", self.discount_weighting)


# ------------------------------------------------------------------------------ episode maths

def episode_index(done, valid):
    """Where each step sits in its episode, for a ``[T, N]`` buffer that starts at episode
    starts (vectorised, no loop over steps).

    start[t, i]  the first row of the episode containing step t (the row after the previous
                 end, 0 if none);  end[t, i] the row where it ends (T - 1 if it has not ended);
    k[t, i]      the number of valid steps of the episode before t (its time index; phantom
                 autoreset rows do not count).
    With C[u] = sum_{v<u} valid[v] (prefix counts), k[t] = C[t] - C[start[t]].
    Returns ``(start, end, k)``, int64 arrays [T, N] on the module and device of ``done``.
    """
    xp, dev = get_xp(done, valid), device_of(done)
    T, N = done.shape
    rows = create(xp, "arange", T, dtype=xp.int64, device=dev)[:, None]
    zero = create(xp, "zeros", (1, N), dtype=xp.int64, device=dev)
    after_end = cumulative_max(xp.where(done, rows + 1, 0))
    start = xp.concat([zero, after_end[:-1, ...]])
    end = cumulative_max(xp.where(done, rows, T - 1), reverse=True, minimum=True)
    C = xp.concat([zero, _cumsum(xp, xp.astype(valid, xp.int64))])
    k = C[:T, ...] - xp.take_along_axis(C, start, axis=0)
    return start, end, k


def _cumsum(xp, x):
    """Prefix sums along axis 0 (``np.cumsum`` on NumPy, ``cumulative_sum`` elsewhere)."""
    return np.cumsum(x, axis=0) if xp is np else xp.cumulative_sum(x, axis=0)


def episode_weights(rew, terminated, truncated, valid, gamma, next_value=None):
    """Returns of a ``[T, N]`` buffer that starts at episode starts.

        G_t    = sum_{u=t}^{j} gamma^{k_u - k_t} r_u + [c_j] gamma^{k_j - k_t + 1} V'_j
                 (reward-to-go to the episode's end j; the bootstrap only with next_value)
        G0_t   = sum_{u in episode} gamma^{k_u} r_u + [c_j] gamma^{k_j + 1} V'_j
                 (the whole-episode return, the same for each of its steps)
    Phantom rows (valid False) carry reward 0 and do not advance k.
    Returns ``(G, G0, k)`` [T, N]; k as in ``episode_index``.
    """
    xp = get_xp(rew, terminated)
    done = terminated | truncated
    start, end, k = episode_index(done, valid)
    G = discounted_returns(rew, terminated, truncated, gamma, next_value=next_value)
    disc = gamma ** xp.astype(k, xp.float64)
    w = xp.where(valid, disc * rew, 0.0)
    zero = create(xp, "zeros", (1, rew.shape[1]), dtype=xp.float64, device=device_of(rew))
    P = xp.concat([zero, _cumsum(xp, w)])
    G0 = xp.take_along_axis(P, end + 1, axis=0) - xp.take_along_axis(P, start, axis=0)
    if next_value is not None:
        k_end = xp.astype(xp.take_along_axis(k, end, axis=0), xp.float64)
        boot = xp.take_along_axis(xp.where(truncated & ~terminated, next_value, 0.0), end,
                                  axis=0)
        G0 = G0 + gamma ** (k_end + 1.0) * boot
    return G, G0, k


# ------------------------------------------------------------------------------ the algorithm

class Reinforce(Algorithm):
    """REINFORCE with an optional baseline, over N environments and complete episodes.

    Train state: ``{"policy": params, "critic": params (baseline="value" only), "opt":
    {...}, "step": int, "baseline": {"mean": float, "count": int}, "pending": {[T', N]
    arrays}}``.
    """

    name = "reinforce"
    any_namespace = True    # update and acting on any array-API module
    config_class = ReinforceConfig

    def __init__(self, config=None, spec=None):
        super().__init__(config, spec)
        from ._common import make_policy
        self.policy = make_policy(self.config, self.spec)
        self.critic = make_critic(self.config, self.spec) if self.config.baseline == "value" \
            else None

    def init(self, rng) -> dict:
        """Fresh params, optimizer states, a zero running mean and an empty episode buffer."""
        c, s = self.config, self.spec
        rng = as_generator(rng)
        pi = init_policy(self.policy, c, s, rng)
        state = {"policy": pi, "opt": {"policy": make_optimizer(c, c.lr).init(pi)}, "step": 0,
                 "baseline": {"mean": 0.0, "count": 0}, "pending": self._empty_pending()}
        if self.critic is not None:
            v = init_critic(self.critic, c, rng)
            state["critic"] = v
            state["opt"]["critic"] = make_optimizer(c, c.critic_lr).init(v)
        return state

    def _empty_pending(self) -> dict:
        """The empty episode buffer, on the default creation module (``use_backend``)."""
        xp = default_xp()
        return self._empty_pending_np() if xp is np else tree_to(self._empty_pending_np(), xp)

    def _empty_pending_np(self) -> dict:
        c, s = self.config, self.spec
        N, dt = c.n_envs, np.dtype(c.dtype)
        act = np.zeros((0, N), np.int64) if s.discrete else np.zeros(
            (0, N, s.act_dim), np.int64 if getattr(s, "nvec", None) is not None else dt)
        out = {"obs": np.zeros((0, N, s.obs_dim), dt), "act": act, "rew": np.zeros((0, N), dt),
               "terminated": np.zeros((0, N), bool), "truncated": np.zeros((0, N), bool),
               "valid": np.zeros((0, N), bool)}
        if s.discrete:                  # legal actions (all True when the env gives no mask)
            out["mask"] = np.zeros((0, N, s.n_actions), bool)
        if self.critic is not None:
            out["next_value"] = np.zeros((0, N), dt)
        return out

    def drop_partial_episodes(self, state: dict) -> dict:
        """``state`` with an empty episode buffer: for a run whose environments were reset
        (a checkpoint loaded without its environments' state), so that the steps of an
        episode cut short are never stitched onto the start of another."""
        like = state["policy"][next(iter(state["policy"]))]
        return {**state, "pending": tree_to(self._empty_pending_np(), get_xp(like),
                                            device_of(like))}

    # ------------------------------------------------------------------ episodes
    def split_episodes(self, pending: dict, rollout):
        """Prepend the pending steps to ``rollout``; return ``(buffer, used, pending')``:
        the [T', N] buffer, the mask of valid steps of complete episodes, and the steps after
        each environment's last episode end (already-used rows of that block marked invalid)."""
        if rollout.obs.shape[1] != self.config.n_envs:
            raise ValueError(f"rollout must come from n_envs = {self.config.n_envs} "
                             f"environments; got {rollout.obs.shape[1]}")
        keys = _STEP_KEYS + (("next_value",) if self.critic is not None else ())
        if self.critic is not None and rollout.next_value is None:
            raise ValueError("rollout must carry next_value with baseline='value' (collect "
                             "with value_fn=algo.value)")
        xp, dev = rollout.xp, device_of(rollout.valid)
        cast = (lambda x, dt: np.asarray(x, dtype=dt)) if xp is np else xp.astype
        buf = {k: xp.concat([pending[k], cast(getattr(rollout, k), pending[k].dtype)])
               for k in keys}
        if self.spec.discrete:                              # legal actions [T', N, A]
            A = self.spec.n_actions
            m = getattr(rollout, "mask", None)
            m = create(xp, "ones", tuple(rollout.act.shape) + (A,), dtype=xp.bool,
                       device=dev) if m is None else m
            old = pending.get("mask")
            old = create(xp, "ones", tuple(pending["act"].shape) + (A,), dtype=xp.bool,
                         device=dev) if old is None else old
            buf["mask"] = xp.concat([old, m])
        done = buf["terminated"] | buf["truncated"]
        T = done.shape[0]
        flipped = xp.astype(xp.flip(done, axis=0), xp.int64)
        last_end = xp.where(xp.any(done, axis=0), T - 1 - xp.argmax(flipped, axis=0), -1)
        rows = create(xp, "arange", T, dtype=last_end.dtype, device=dev)
        complete = rows[:, None] <= last_end[None, :]
        used = complete & buf["valid"]
        s0 = int(xp.min(last_end)) + 1
        if T - s0 > MAX_PENDING_STEPS:
            raise ValueError(f"an episode has run for more than {MAX_PENDING_STEPS} steps "
                             "without ending; REINFORCE learns from complete episodes, so the "
                             "environment needs a time limit (truncation)")
        copy = (lambda v: v.copy()) if xp is np else (lambda v: xp.asarray(v, copy=True))
        rest = {k: copy(v[s0:, ...]) for k, v in buf.items()}
        rest["valid"] = (buf["valid"] & ~complete)[s0:, ...]
        return buf, used, rest

    def targets(self, state, buf, used):
        """Returns G_b [B], actor weights w_b [B] and the B used steps' obs/act (on the
        buffer's array module)."""
        c = self.config
        xp, dev = get_xp(buf["valid"]), device_of(buf["valid"])
        nv = buf.get("next_value") if self.critic is not None else None
        G, G0, k = episode_weights(xp.astype(buf["rew"], xp.float64), buf["terminated"],
                                   buf["truncated"], buf["valid"], c.gamma,
                                   None if nv is None else xp.astype(nv, xp.float64))
        ret = (G if c.returns == "reward_to_go" else G0)[used]
        if c.baseline == "mean":
            base = create(xp, "full", ret.shape, float(state["baseline"]["mean"]),
                          dtype=xp.float64, device=dev)
        elif c.baseline == "value":
            v = state["critic"]
            obs = self.obs_array(buf["obs"][used], v[next(iter(v))])
            base = self.critic.value(v, obs)
            base = to_numpy(base).astype(np.float64) if xp is np else xp.astype(base, xp.float64)
        else:
            base = create(xp, "zeros", ret.shape, dtype=xp.float64, device=dev)
        w = ret - base
        if c.returns == "reward_to_go" and c.discount_weighting:
            w = c.gamma ** xp.astype(k[used], xp.float64) * w
        out = {"obs": buf["obs"][used], "act": buf["act"][used], "w": w, "ret": ret,
               "G": G[used]}
        if "mask" in buf and not bool(xp.all(buf["mask"])):  # masked steps among them
            out["mask"] = buf["mask"][used]
        return out

    # ------------------------------------------------------------------ loss and update
    def loss_and_grad(self, params, batch):
        """L(theta, phi) of the module docstring on one batch and its gradient.

        params: {"policy": ..., "critic": ... (baseline="value")}; batch: obs [B, D],
        act [B] / [B, K], w [B] actor weights, G [B] critic targets (constants).
        Returns ``(loss, {net: grads}, stats)``.
        """
        loss, g_pi, stats = actor_loss_and_grad(self.policy, params["policy"], batch["obs"],
                                                batch["act"], batch["w"],
                                                mask=batch.get("mask"))
        grads = {"policy": g_pi}
        if self.critic is not None:
            loss_v, grads["critic"] = critic_loss_and_grad(self.critic, params["critic"],
                                                           batch["obs"], batch["G"])
            loss = loss + loss_v
            stats["value_loss"] = float(loss_v)
        return loss, grads, stats

    def update(self, state, rollout, progress, rng):
        """Add ``rollout`` to the episode buffer, then one gradient step on the complete
        episodes (none if there are none yet). Returns ``(state, stats)``."""
        progress = check_progress(progress)
        c = self.config
        rollout = self.rollout_on(state, rollout)
        buf, used, rest = self.split_episodes(state["pending"], rollout)
        xp = rollout.xp
        new = dict(state)
        new["pending"] = rest
        B = int(xp.count_nonzero(used))
        n_ep = int(xp.count_nonzero((buf["terminated"] | buf["truncated"]) & buf["valid"]))
        if B == 0:
            return new, {"n_episodes": 0, "n_samples": 0}
        t = self.targets(state, buf, used)
        like = state["policy"][next(iter(state["policy"]))]
        keys = {"obs": "obs", "act": "act", "w": "w", "G": "G"}
        if "mask" in t:                                     # legal actions [B, A]
            keys["mask"] = "mask"
        batch = as_batch(like, self.spec.discrete, t, keys)
        params = {k: state[k] for k in ("policy", "critic") if k in state}
        loss, grads, stats = self.loss_and_grad(params, batch)
        lrs = {"policy": c.lr, "critic": c.critic_lr}
        new, norm = apply_grads(c, new, grads, lrs, progress)
        if c.baseline == "mean":
            m, n = float(state["baseline"]["mean"]), int(state["baseline"]["count"])
            new["baseline"] = {"mean": (m * n + float(xp.sum(t["ret"]))) / (n + B),
                               "count": n + B}
        stats.update(loss=float(loss), grad_norm=norm, n_episodes=n_ep, n_samples=B,
                     mean_return=float(xp.mean(t["ret"])))
        check_update_stats(stats, "REINFORCE")
        return new, stats
