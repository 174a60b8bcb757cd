"""The continuing (average-reward) setting: differential TD(lambda) and the differential
actor-critic(lambda) (Sutton & Barto 2018, sec. 10.3, 12.8 and 13.6, "Policy gradient for
continuing problems").

Objective: the average reward rho(pi) = lim (1/n) sum_t E[R_t] = sum_s d_pi(s) r_pi(s), no
discount. Its gradient (``npg.mdp.differential.average_reward_gradient``) is
grad rho = sum_s d_pi(s) sum_a pi(a|s) Q~(s, a) grad log pi(a|s), Q~ the differential values.
Per step, with R_bar the running estimate of rho:

    delta     <- R_{t+1} - R_bar + v(S_{t+1}, w) - v(S_t, w)        (differential TD error)
    R_bar     <- R_bar + alpha^R delta
    z^w       <- lam^w z^w + grad_w v(S_t, w)
    z^theta   <- lam^theta z^theta + grad_theta log pi(A_t|S_t, theta)
    w         <- w + alpha^w delta z^w
    theta     <- theta + alpha^theta delta z^theta

Unbiasedness (tests/algos/test_average_reward.py): with the exact critic (v = V~, R_bar = rho) and
S_t ~ d_pi, E[delta_t | S_t, A_t] = Q~(S_t, A_t) - V~(S_t), and E[delta_t | past, S_t] = 0, so
E[delta_t z^theta_t] = E[delta_t grad log pi(A_t|S_t)] = grad rho for every lam^theta.

Episodic environments run as one continuing task: a step that ends an episode (terminated or
truncated) moves on to the next episode's first observation (obs[t + 1], or last_obs), the
restart of ``npg.mdp.differential.continuing_transitions`` without its zero-reward step in the
terminal state. Traces are never reset.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..checks import check_unit_interval
from ._common import PGConfig, init_networks, make_critic, make_policy
from .base import Algorithm, check_nonneg_field
from .traces import (TRACE_KINDS, add_scaled, device_vector, host_vector, online_setup, row_on,
                     score, trace_update, value_and_grad, zero_traces)

__all__ = ["differential_ac_step", "DifferentialACConfig", "DifferentialActorCritic"]


def differential_ac_step(policy, critic, params, traces, avg_reward, obs1, act1, rew,
                         next_value, lam_policy, lam_critic, lr_policy, lr_critic, lr_avg,
                         kind="accumulating"):
    """One step of the differential actor-critic(lambda) of the module docstring.

    params = {"policy": theta, "critic": w}; traces likewise; ``next_value`` = v(S_{t+1}, w).
    Returns ``(params, traces, avg_reward, delta)``.
    """
    lam_policy = check_unit_interval("lam_policy", lam_policy)
    lam_critic = check_unit_interval("lam_critic", lam_critic)
    v, g_w = value_and_grad(critic, params["critic"], obs1)
    delta = float(rew) - float(avg_reward) + float(next_value) - v
    z_w = trace_update(traces["critic"], g_w, lam_critic, kind)
    z_theta = trace_update(traces["policy"], score(policy, params["policy"], obs1, act1),
                           lam_policy, kind)
    new = {"critic": add_scaled(params["critic"], z_w, lr_critic * delta),
           "policy": add_scaled(params["policy"], z_theta, lr_policy * delta)}
    return new, {"critic": z_w, "policy": z_theta}, float(avg_reward) + lr_avg * delta, delta


@dataclass
class DifferentialACConfig(PGConfig):
    """Differential actor-critic(lambda) hyperparameters (``PGConfig`` fields too; gamma is not
    used: the objective is undiscounted).

    lam: float = 0.8, critic_lam: float = 0.8   trace parameters in [0, 1].
    lr: float = 3e-3, critic_lr: float = 1e-2   alpha^theta, alpha^w (SGD).
    avg_lr: float = 1e-2                        alpha^R, step size of R_bar (>= 0).
    trace: str = "accumulating"                 or "replacing".
    """

    n_envs: int = 1
    n_steps: int = 1
    lam: float = 0.8
    critic_lam: float = 0.8
    lr: float = 3e-3
    critic_lr: float = 1e-2
    avg_lr: float = 1e-2
    trace: str = "accumulating"
    optimizer: str = "sgd"

    def __post_init__(self):
        super().__post_init__()
        self.lam = check_unit_interval("lam", self.lam)
        self.critic_lam = check_unit_interval("critic_lam", self.critic_lam)
        self.avg_lr = check_nonneg_field("avg_lr", self.avg_lr)
        if self.trace not in TRACE_KINDS:
            raise ValueError(f"trace must be one of {TRACE_KINDS}; got {self.trace!r}")
        if self.optimizer != "sgd" or self.max_grad_norm is not None:
            raise ValueError("optimizer must be 'sgd' and max_grad_norm None for trace methods")


class DifferentialActorCritic(Algorithm):
    """The continuing actor-critic(lambda) as an ``Algorithm`` (one step per transition).

    Train state: ``{"policy", "critic", "traces": {net: {k: [N, ...]}}, "avg_reward": [N],
    "step"}``; each environment keeps its own traces and R_bar.
    """

    name = "ac_avg"
    any_namespace = True    # update and acting on any array-API module (one row at a time)
    config_class = DifferentialACConfig

    def __init__(self, config=None, spec=None):
        super().__init__(config, spec)
        self.policy = make_policy(self.config, self.spec)
        self.critic = make_critic(self.config, self.spec)

    def init(self, rng) -> dict:
        c = self.config
        pi, w = init_networks(self, rng)
        N = c.n_envs
        return {"policy": pi, "critic": w, "traces": zero_traces(pi, w, N),
                "avg_reward": np.zeros(N), "step": 0}

    def update(self, state, rollout, progress, rng):
        c = self.config
        scale, params, traces, like, xp = online_setup(c, state, progress)
        rollout = rollout.to(np)        # read on the host: one transition (row) at a time
        avg = host_vector(state["avg_reward"])
        deltas = []
        T, N = rollout.rew.shape
        for t in range(T):
            for i in range(N):
                if not rollout.valid[t, i]:
                    continue
                nxt = rollout.last_obs[i] if t == T - 1 else rollout.obs[t + 1, i]
                nv, _ = value_and_grad(self.critic, params["critic"],
                                       row_on(like, nxt, like.dtype))
                tr_i = {net: {k: z[k][i, ...] for k in z} for net, z in traces.items()}
                params, tr_i, avg[i], delta = differential_ac_step(
                    self.policy, self.critic, params, tr_i, avg[i],
                    row_on(like, rollout.obs[t, i], like.dtype),
                    row_on(like, rollout.act[t, i]), rollout.rew[t, i], nv, c.lam,
                    c.critic_lam, c.lr * scale, c.critic_lr * scale, c.avg_lr * scale, c.trace)
                for net in traces:
                    for k in traces[net]:
                        traces[net][k][i, ...] = tr_i[net][k]
                deltas.append(delta)
        new = {"policy": params["policy"], "critic": params["critic"], "traces": traces,
               "avg_reward": device_vector(avg, like), "step": int(state["step"]) + 1}
        return new, {"n_samples": len(deltas), "avg_reward": float(np.mean(avg)),
                     "mean_abs_td_error": float(np.mean(np.abs(deltas))) if deltas else 0.0}
