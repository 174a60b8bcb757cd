"""Off-policy actor-critic from stored behaviour data with V-trace (Espeholt et al. 2018,
"IMPALA", sec. 4; per-decision importance sampling: Precup et al. 2000, Degris et al. 2012).

Data: trajectories of a behaviour policy mu that carry, with each step, log mu(a_t|s_t) (the
collector's ``logp``). The learner pi_theta with critic V_phi computes, on a rollout [T, N]:

    log pi(a_t|s_t), V_t = V_phi(s_t), V'_t = V_phi(s_{t+1})    (current weights)
    vs, adv = npg.returns.vtrace(r, V, V', d, c, gamma, log pi, log mu, rho_bar, c_bar, lam)
    loss    L = -(1/B) sum_b adv_b log pi(a_b|s_b) + vf_coef (1/2B) sum_b (V_b - vs_b)^2
                - ent_coef (1/B) sum_b H(pi(.|s_b))          (vs, adv constants; B valid steps)
    grad    grad_theta L = vjp_pi(d_dist(-adv/B, -ent_coef/B)),
            grad_phi L = vjp_V(vf_coef (V - vs)/B)

Expected step, exactly (``npg.mdp.vtrace.vtrace_policy_gradient``; tests/algos/test_off_policy.py):
with V = V^{pi_rho_bar} (the V-trace fixed point) and n_mu(s) = sum_t Pr_mu(s_t = s),

    E_mu[sum_t adv_t grad log pi(a_t|s_t)]
        = sum_s n_mu(s) sum_a min(rho_bar mu(a|s), pi(a|s)) A^{pi_rho_bar}(s, a) grad log pi(a|s)

Untruncated (rho_bar = inf) this is sum_s n_mu(s) sum_a pi A^pi grad log pi: the policy gradient
with the behaviour's state weighting (the "excursion" gradient of Degris et al.), which is
grad J itself where the state distribution does not depend on the policy (a contextual bandit);
truncation biases it, by the exact difference of the two formulas.

Behaviour policies: any stored data (``update`` on rollouts collected by another policy; the
rollout's ``logp`` is log mu), or a lagged copy of the learner (``behaviour_lag = k``: ``act``
samples from a copy of theta refreshed every k updates; k = 0: the current theta, on-policy
up to the one-rollout lag).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..checks import check_unit_interval
from ..backend import create, device_of, get_xp, namespace_of, to_numpy
from ..losses import explained_variance
from ..returns import vtrace
from ._common import (PGConfig, apply_grads, check_coef, init_networks, make_critic,
                      make_optimizer, make_policy)
from .base import Algorithm, check_progress, check_real_field

__all__ = ["OffPolicyData", "vtrace_loss_and_grad", "OffPolicyConfig", "OffPolicyActorCritic"]


@dataclass
class OffPolicyData:
    """Behaviour data, time-major [T, N] (obs and next_obs [T, N, ...]).

    next_obs[t] = s_{t+1} (read where not terminated). ``next_value_fixed`` [T, N] (or None):
    where not NaN it replaces V_phi(next_obs[t]) (truncations whose real final observation a
    ``Rollout`` does not store: the collector's V at collection time).
    """

    obs: object
    act: object
    behaviour_logp: object
    rew: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    valid: np.ndarray
    next_obs: object
    next_value_fixed: np.ndarray | None = None

    @classmethod
    def from_rollout(cls, rollout) -> "OffPolicyData":
        """From an ``npg.envs.rollout.Rollout``: behaviour_logp = rollout.logp; next_obs = obs[t + 1]
        (last_obs after the last step); at truncations the stored next_value."""
        if rollout.logp is None:
            raise ValueError("rollout.logp (the behaviour log-probs) is missing")
        xp = rollout.xp
        nxt = xp.concat([rollout.obs[1:, ...], rollout.last_obs[None, ...]], axis=0)
        fixed = None
        if bool(xp.any(rollout.truncated)):
            if rollout.next_value is None:
                raise ValueError("rollout must carry next_value at truncations (collect with "
                                 "value_fn=algo.value)")
            fixed = xp.where(rollout.truncated, rollout.next_value, math.nan)
        return cls(rollout.obs, rollout.act, rollout.logp, rollout.rew, rollout.terminated,
                   rollout.truncated, rollout.valid, nxt, fixed)


def _flat(x, T, N):
    return get_xp(x).reshape(x, (T * N,) + tuple(x.shape[2:]))


def _on(xp, like, x, dtype=None):
    """x on the params' module and device (host data copied there once); floats in their
    dtype (or ``dtype``), integers (states, actions) and bools kept."""
    if namespace_of(x) is not xp:
        x = create(xp, "asarray", to_numpy(x) if namespace_of(x) is not None else
                   np.asarray(x), device=device_of(like))
    if dtype is None and xp.isdtype(x.dtype, "real floating"):
        dtype = like.dtype
    return x if dtype is None or x.dtype == dtype else xp.astype(x, dtype)


def vtrace_loss_and_grad(policy, critic, params, data: OffPolicyData, gamma, rho_bar,
                         c_bar, lam, vf_coef, ent_coef):
    """L of the module docstring on ``data`` and its gradient. Returns ``(loss, grads, stats)``
    with grads {"policy", "critic"}; ``stats`` has the mean rho, the fraction of truncated
    weights, and the value loss."""
    T, N = data.rew.shape
    like = next(iter(params["policy"].values()))
    xp, f64 = get_xp(like), get_xp(like).float64
    valid = _on(xp, like, data.valid, xp.bool)
    B = int(xp.count_nonzero(valid))
    if B == 0:
        raise ValueError("data holds no valid step")
    obs = _flat(_on(xp, like, data.obs), T, N)
    act = _flat(_on(xp, like, data.act), T, N)
    dist, vjp_pi = policy.forward(params["policy"], obs)
    logp, ent, d_dist = policy.terms(dist, act)
    v, vjp_v = critic.forward(params["critic"], obs)
    nobs = _flat(_on(xp, like, data.next_obs), T, N)
    nv = xp.reshape(xp.astype(critic.forward(params["critic"], nobs)[0], f64), (T, N))
    if data.next_value_fixed is not None:
        fixed = _on(xp, like, data.next_value_fixed, f64)
        nv = xp.where(xp.isnan(fixed), nv, fixed)
    term, trunc = _on(xp, like, data.terminated), _on(xp, like, data.truncated)
    nv = xp.where(term, 0.0, nv)
    v64 = xp.reshape(xp.astype(v, f64), (T, N))
    tl = xp.where(valid, xp.reshape(xp.astype(logp, f64), (T, N)), 0.0)
    bl = _on(xp, like, data.behaviour_logp, f64)
    if tuple(bl.shape) != (T, N):
        raise ValueError(f"behaviour_logp must have shape [T, N] = [{T}, {N}]; got "
                         f"{tuple(bl.shape)}")
    bl = xp.where(valid, bl, 0.0)
    vs, adv = vtrace(_on(xp, like, data.rew, f64), v64, nv, term, trunc, gamma, tl, bl,
                     rho_bar, c_bar, lam)
    m = xp.astype(xp.reshape(valid, (-1,)), f64)
    adv_f, vs_f = xp.reshape(adv, (-1,)) * m, xp.reshape(vs, (-1,))
    dl = xp.astype(-adv_f / B, like.dtype)
    de = xp.astype(-ent_coef * m / B, like.dtype) if ent_coef else None
    g_pi = vjp_pi(d_dist(dl, de))
    resid = (xp.reshape(v64, (-1,)) - vs_f) * m
    g_v = vjp_v(xp.astype(vf_coef * resid / B, like.dtype))
    ent64 = xp.astype(ent, f64)
    value_loss = float(0.5 * xp.sum(resid ** 2) / B)
    policy_loss = -float(xp.sum(adv_f * xp.reshape(tl, (-1,)))) / B
    loss = policy_loss + vf_coef * value_loss - ent_coef * float(xp.sum(ent64 * m)) / B
    w = xp.exp(tl - bl)[valid]
    stats = {"policy_loss": policy_loss, "value_loss": value_loss,
             "entropy": float(xp.sum(ent64 * m) / B), "mean_ratio": float(xp.mean(w)),
             "rho_clip_frac": float(xp.mean(xp.astype(w > rho_bar, f64))),
             "explained_variance": explained_variance(v64[valid], vs[valid])}
    return loss, {"policy": g_pi, "critic": g_v}, stats


def _level(name, x) -> float:
    if isinstance(x, float) and math.isinf(x) and x > 0:
        return x
    v = check_real_field(name, x)
    if v < 0:
        raise ValueError(f"{name} must be >= 0 (or inf); got {v}")
    return v


@dataclass
class OffPolicyConfig(PGConfig):
    """V-trace actor-critic hyperparameters (``PGConfig`` / ``AlgoConfig`` fields too).

    rho_bar: float = 1.0          truncation of the TD errors' weights (>= 0, inf: none).
    c_bar: float = 1.0            truncation of the trace coefficients (>= 0, inf: none).
    vtrace_lambda: float = 1.0    lam multiplying c (in [0, 1]).
    vf_coef: float = 0.5          value-loss weight.  ent_coef: float = 0.01  entropy bonus.
    behaviour_lag: int = 0        act with a copy of the policy refreshed every k updates
                                  (0: the current policy).
    lr: float = 1e-3, critic_lr: float = 1e-3 (Adam by default), max_grad_norm: float = 40.0.
    """

    n_envs: int = 8
    n_steps: int = 32
    rho_bar: float = 1.0
    c_bar: float = 1.0
    vtrace_lambda: float = 1.0
    vf_coef: float = 0.5
    ent_coef: float = 0.01
    behaviour_lag: int = 0
    lr: float = 1e-3
    critic_lr: float = 1e-3
    max_grad_norm: float | None = 40.0

    def __post_init__(self):
        super().__post_init__()
        self.rho_bar, self.c_bar = _level("rho_bar", self.rho_bar), _level("c_bar", self.c_bar)
        self.vtrace_lambda = check_unit_interval("vtrace_lambda", self.vtrace_lambda)
        self.vf_coef, self.ent_coef = check_coef("vf_coef", self.vf_coef), check_coef(
            "ent_coef", self.ent_coef)
        if isinstance(self.behaviour_lag, bool) or not isinstance(self.behaviour_lag,
                                                                  (int, np.integer)):
            raise TypeError(f"behaviour_lag must be an int >= 0; got "
                            f"{type(self.behaviour_lag).__name__}")
        if self.behaviour_lag < 0:
            raise ValueError(f"behaviour_lag must be >= 0; got {self.behaviour_lag}")
        self.behaviour_lag = int(self.behaviour_lag)


class OffPolicyActorCritic(Algorithm):
    """The V-trace actor-critic of the module docstring.

    Train state: ``{"policy", "critic", "behaviour" (a params copy, with behaviour_lag > 0),
    "opt", "step"}``. ``update`` accepts a rollout from any behaviour policy whose ``logp`` is
    log mu(a_t|s_t); ``update_data`` an ``OffPolicyData`` (e.g. replayed stored trajectories).
    """

    name = "vtrace"
    any_namespace = True    # update and acting on any array-API module
    config_class = OffPolicyConfig

    def __init__(self, config=None, spec=None):
        super().__init__(config, spec)
        self.policy = make_policy(self.config, self.spec)
        self.critic = make_critic(self.config, self.spec)

    def init(self, rng) -> dict:
        c = self.config
        pi, v = init_networks(self, rng)
        state = {"policy": pi, "critic": v, "step": 0,
                 "opt": {"policy": make_optimizer(c, c.lr).init(pi),
                         "critic": make_optimizer(c, c.critic_lr).init(v)}}
        if c.behaviour_lag:
            state["behaviour"] = dict(pi)
        return state

    def act(self, state, obs, rng, deterministic: bool = False):
        """Sample from the behaviour copy when ``behaviour_lag > 0`` (its logp is log mu)."""
        if self.config.behaviour_lag and not deterministic:
            return super().act({**state, "policy": state["behaviour"]}, obs, rng)
        return super().act(state, obs, rng, deterministic)

    def update(self, state, rollout, progress, rng):
        if rollout.n_valid == 0:
            return dict(state), {"n_samples": 0}
        rollout = self.rollout_on(state, rollout)
        return self.update_data(state, OffPolicyData.from_rollout(rollout), progress)

    def update_data(self, state, data: OffPolicyData, progress=0.0):
        """One optimizer step of actor and critic on behaviour data. Returns (state, stats)."""
        c = self.config
        progress = check_progress(progress)
        params = {"policy": state["policy"], "critic": state["critic"]}
        loss, grads, stats = vtrace_loss_and_grad(
            self.policy, self.critic, params, data, c.gamma, c.rho_bar,
            c.c_bar, c.vtrace_lambda, c.vf_coef, c.ent_coef)
        new, norm = apply_grads(c, state, grads, {"policy": c.lr, "critic": c.critic_lr},
                                progress)
        if c.behaviour_lag and new["step"] % c.behaviour_lag == 0:
            new["behaviour"] = dict(new["policy"])
        valid = data.valid
        n = (np.count_nonzero(valid) if namespace_of(valid) in (None, np)
             else get_xp(valid).count_nonzero(valid))
        stats.update(loss=float(loss), grad_norm=norm, n_samples=int(n))
        return new, stats
