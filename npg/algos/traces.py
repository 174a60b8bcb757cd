"""Eligibility traces, the backward view: TD(lambda) critics and actor-critic(lambda), one update
per environment step (Sutton & Barto 2018, sec. 12.2 (TD(lambda)), 13.5 (episodic
actor-critic with traces)).

Symbols: w critic params, theta policy params, z^w and z^theta their traces (dicts shaped like
the params), v(s, w) the critic, I the running discount gamma^t of the episodic objective.

Semi-gradient TD(lambda), per step (S&B eq. 12.5-12.7):

    z^w   <- gamma lam z^w + grad_w v(S_t, w)                      (accumulating trace)
    delta <- R_{t+1} + gamma (1 - d_t) v(S_{t+1}, w) - v(S_t, w)
    w     <- w + alpha delta z^w

A *replacing* trace (S&B sec. 12.1, for binary features such as one-hot / tabular codes) sets
each coordinate whose gradient is non-zero to that gradient instead of adding it:
z_i <- grad_i if grad_i != 0 else gamma lam z_i. Traces are reset to 0 after a step that ends
the episode (terminated or truncated); a truncated step still bootstraps from v(S_{t+1}).

Actor-critic(lambda), episodic (S&B p. 332):

    delta       as above
    z^w         <- gamma lam^w z^w + grad_w v(S_t, w)
    z^theta     <- gamma lam^theta z^theta + I grad_theta log pi(A_t|S_t, theta)
    w           <- w + alpha^w delta z^w
    theta       <- theta + alpha^theta delta z^theta
    I           <- gamma I                        (I = 1 at an episode's start)

With lam = 0 this is the one-step actor-critic (S&B p. 332, top box): exactly
``npg.algos.ActorCritic`` with n_envs = n_steps = 1, SGD and vf_coef = alpha^w / lr^w, up to
the factor I (``discount_actor=False`` drops it, as most implementations do).

Forward-view identity (S&B sec. 12.4; tested): with the weights *frozen* over an episode, the
accumulated increments of the backward view equal the offline lambda-return updates,

    sum_t delta_t z_t = sum_t (G^lam_t - v(S_t)) grad v(S_t),

since z_t = sum_{k<=t} (gamma lam)^{t-k} grad v(S_k) and G^lam_t - v(S_t) =
sum_{k>=t} (gamma lam)^{k-t} delta_k. ``td_lambda_episode`` computes the left side.

All of this is generic over npg networks: a critic with ``forward(params, obs) -> (v, vjp)``
(TabularValue, LinearValue, MLPValue) and a policy with ``score_sum`` (tabular, linear, MLP,
categorical or Gaussian), so tabular, linear and MLP function approximators share one code path.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..backend import create, device_of, get_xp, namespace_of, to_numpy
from ..checks import check_unit_interval
from ._common import PGConfig, _check_choice, init_networks, make_critic, make_policy
from .base import Algorithm, check_bool_field, check_positive_field, check_progress

__all__ = ["TRACE_KINDS", "value_and_grad", "score", "trace_update", "zeros_like",
           "add_scaled", "td_lambda_step", "td_lambda_episode", "ac_lambda_step",
           "ACLambdaConfig", "ActorCriticLambda", "next_values"]

TRACE_KINDS = ("accumulating", "replacing")


# ---------------------------------------------------------------------------- pieces

def value_and_grad(critic, params, obs1):
    """(v(s), grad_w v(s)) for one observation ``obs1`` (a batch of one: [1, ...])."""
    v, vjp = critic.forward(params, obs1)
    return float(v[0]), vjp(get_xp(v).ones_like(v))


def score(policy, params, obs1, act1):
    """grad_theta log pi(a|s) for one (obs1 [1, ...], act1 [1, ...]) pair."""
    like = next(iter(params.values()))
    return policy.score_sum(params, obs1, act1, create(get_xp(like), "ones", (1,),
                                                       dtype=like.dtype, device=device_of(like)))


def zeros_like(params):
    return {k: get_xp(v).zeros_like(v) for k, v in params.items()}


def trace_update(z, grad, decay: float, kind: str = "accumulating", scale: float = 1.0):
    """z <- decay z + scale grad (accumulating) or, coordinate-wise, scale grad where
    grad != 0 else decay z (replacing)."""
    if kind == "accumulating":
        return {k: decay * z[k] + scale * grad[k] for k in z}
    xp = get_xp(next(iter(z.values())))
    return {k: xp.where(grad[k] != 0, scale * grad[k], decay * z[k]) for k in z}


def add_scaled(params, z, step: float):
    """params + step z, key by key (the ascent step of the trace methods)."""
    return {k: params[k] + step * z[k] for k in params}


def _check_lam(name, lam):
    return check_unit_interval(name, lam)


def _check_kind(kind):
    return _check_choice("trace", kind, TRACE_KINDS)


def td_lambda_step(critic, params, z, obs1, rew, next_value, terminated, ended, gamma, lam,
                   alpha, kind="accumulating"):
    """One online semi-gradient TD(lambda) step (module docstring).

    ``next_value`` is v(S_{t+1}, w) (ignored where ``terminated``); ``ended`` (terminated or
    truncated) resets the trace after the update. Returns ``(params, z, delta)``.
    """
    gamma, lam = _check_lam("gamma", gamma), _check_lam("lam", lam)
    v, g = value_and_grad(critic, params, obs1)
    delta = float(rew) + (0.0 if terminated else gamma * float(next_value)) - v
    z = trace_update(z, g, gamma * lam, _check_kind(kind))
    params = add_scaled(params, z, alpha * delta)
    if ended:
        z = zeros_like(z)
    return params, z, delta


def td_lambda_episode(critic, params, obs, rew, next_obs, terminated, truncated, gamma, lam,
                      kind="accumulating"):
    """The backward view with frozen weights: sum_t delta_t z_t over the steps t = 0..T-1 of
    one episode (obs [T, ...], next_obs [T, ...] = S_{t+1}, rew/terminated/truncated [T]);
    a dict like params. The offline TD(lambda) update is alpha times it."""
    gamma, lam = _check_lam("gamma", gamma), _check_lam("lam", lam)
    _check_kind(kind)
    z, total = zeros_like(params), zeros_like(params)
    for t in range(len(rew)):
        v, g = value_and_grad(critic, params, obs[t:t + 1])
        nv = 0.0 if terminated[t] else float(critic.forward(params, next_obs[t:t + 1])[0][0])
        delta = float(rew[t]) + gamma * nv - v
        z = trace_update(z, g, gamma * lam, kind)
        total = add_scaled(total, z, delta)
        if terminated[t] or truncated[t]:
            z = zeros_like(z)
    return total


def ac_lambda_step(policy, critic, params, traces, I, obs1, act1, rew, next_value, terminated,
                   ended, gamma, lam_policy, lam_critic, lr_policy, lr_critic,
                   kind="accumulating"):
    """One step of episodic actor-critic(lambda) (module docstring).

    params = {"policy": theta, "critic": w}, traces = {"policy": z^theta, "critic": z^w};
    I the running discount. Returns ``(params, traces, I, delta)``; traces reset and I = 1
    after a step that ends the episode.
    """
    v, g_w = value_and_grad(critic, params["critic"], obs1)
    delta = float(rew) + (0.0 if terminated else gamma * float(next_value)) - v
    g_theta = score(policy, params["policy"], obs1, act1)
    z_w = trace_update(traces["critic"], g_w, gamma * lam_critic, kind)
    z_theta = trace_update(traces["policy"], g_theta, gamma * lam_policy, kind, scale=I)
    params = {"critic": add_scaled(params["critic"], z_w, lr_critic * delta),
              "policy": add_scaled(params["policy"], z_theta, lr_policy * delta)}
    traces = {"critic": z_w, "policy": z_theta}
    if ended:
        return params, {k: zeros_like(z) for k, z in traces.items()}, 1.0, delta
    return params, traces, I * gamma, delta


def next_values(critic, params, rollout, t: int, i: int) -> float:
    """v(S_{t+1}) with the *current* critic where the rollout holds S_{t+1} (obs[t + 1] inside
    an episode, last_obs after the last step); the collector's ``next_value`` (computed at
    collection time) at a truncation, whose real final observation the rollout does not store.
    0 where terminated."""
    if rollout.terminated[t, i]:
        return 0.0
    if rollout.truncated[t, i]:                 # obs[t + 1] / last_obs is the next episode's
        if rollout.next_value is None:
            raise ValueError("rollout must carry next_value (collect with value_fn=algo.value)")
        return float(rollout.next_value[t, i])
    like = next(iter(params.values()))
    nxt = rollout.last_obs[i] if t == rollout.obs.shape[0] - 1 else rollout.obs[t + 1, i]
    return float(critic.forward(params, row_on(like, nxt, like.dtype))[0][0])


def row_on(like, x, dtype=None):
    """One rollout row x [...] as a batch of one [1, ...] on the module and device of ``like``
    (a parameter array), in ``dtype`` (None: x's own): the online trace methods step one
    transition at a time, so each row crosses to the device as it is used."""
    xp = get_xp(like)
    if namespace_of(x) is xp and xp is not np:
        x = x[None, ...]
        return x if dtype is None else xp.astype(x, dtype)
    x = np.asarray(to_numpy(x) if namespace_of(x) not in (None, np) else x)[None]
    if xp is np:
        return np.asarray(x, dtype=dtype)
    return create(xp, "asarray", x, dtype=dtype, device=device_of(like))


# ---------------------------------------------------------------------------- the updater

def zero_traces(policy_params: dict, critic_params: dict, n_envs: int) -> dict:
    """Eligibility traces z = 0 for each of ``n_envs`` environments, with the keys and shapes of
    the networks' parameters: ``{"policy": {k: [N, ...]}, "critic": {k: [N, ...]}}``."""
    return {net: {k: np.zeros((n_envs,) + v.shape, v.dtype) for k, v in params.items()}
            for net, params in (("policy", policy_params), ("critic", critic_params))}


def online_setup(config, state: dict, progress) -> tuple:
    """What an online trace update starts from: the learning-rate scale (1 - progress with
    ``anneal_lr``), the networks' params, a copy of the traces to update in place, a parameter
    array (its dtype and backend) and its array module."""
    scale = 1.0 - check_progress(progress) if config.anneal_lr else 1.0
    params = {"policy": state["policy"], "critic": state["critic"]}
    like = next(iter(params["policy"].values()))
    xp = get_xp(like)
    copy = np.array if xp is np else (lambda v: xp.asarray(v, copy=True))
    traces = {net: {k: copy(v) for k, v in z.items()} for net, z in state["traces"].items()}
    return scale, params, traces, like, xp


def host_vector(x):
    """A per-environment state entry ([N]: I, R_bar) as a float64 NumPy copy (one copy from the
    device per update); ``device_vector`` puts it back on the module and device of ``like``."""
    return np.array(to_numpy(x), dtype=np.float64)


def device_vector(x, like):
    xp = get_xp(like)
    return x if xp is np else create(xp, "asarray", x, device=device_of(like))


@dataclass
class ACLambdaConfig(PGConfig):
    """Actor-critic(lambda) hyperparameters (fields of ``PGConfig`` / ``AlgoConfig`` too).

    n_envs: int = 1, n_steps: int = 1   one update per environment step (T = N = 1 is the
                                        textbook algorithm; larger T, N loop over the steps).
    lam: float = 0.9                    lambda^theta of the actor's trace, in [0, 1].
    critic_lam: float = 0.9             lambda^w of the critic's trace, in [0, 1].
    trace: str = "accumulating"         or "replacing" (binary features).
    discount_actor: bool = True         multiply the actor's gradient by I = gamma^t (S&B).
    lr: float = 5e-4                    alpha^theta, a plain SGD step sized for rewards of
                                        order 1 per step (CartPole-v1); with a trace the
                                        effective step is up to 1/(1 - gamma lam) times
                                        larger: 1e-2 / 5e-2 diverge on CartPole's MLP and
                                        3e-3 / 1e-2 collapse it by 30k steps; 5e-4 / 5e-3
                                        (hidden (32,), lam 0.8, no I) reach greedy 500 at 20k
                                        steps, seed 0, benchmarks/ac_defaults.py. A sparse
                                        0/1 reward (FrozenLake-v1) needs 0.02 (its preset).
    critic_lr: float = 5e-3             alpha^w (SGD); FrozenLake-v1: 0.02 (its preset).
    Measured, 5 seeds (``python benchmarks/traces_learning.py --only ac_lambda``): CartPole-v1
    with ``hidden=(32,), lam=critic_lam=0.8, discount_actor=False`` (these lr) meets the target
    (mean of the last 20 training episodes >= 195) on 4/5 seeds at 200k steps (median 499.7,
    seed 2 122.5; 3/5 at 100k, median 226; on the online engine). FrozenLake-v1 (slippery) needs
    larger steps: the SGD step alpha delta z scales with the TD error, much smaller on
    FrozenLake (a single reward of 1 at the goal, V <= 0.82) than on CartPole (+1 every step, V
    up to 1 / (1 - gamma)). With these lr its policy stays uniform (entropy log 4 after 60k
    steps, 5/5 seeds); with ``lr = critic_lr = 0.02`` and the other defaults (the preset of
    ``npg train FrozenLake-v1 --algo ac_lambda``) the greedy success is >= 0.5 on 5/5 seeds at
    60k steps (0.63-0.67 over 100 episodes; exact 0.71-0.73, optimum within the 100-step limit
    0.744), and 0.02 diverges on CartPole. The defaults (lam 0.9, I on, hidden 64-64) are the
    textbook algorithm with CartPole-sized steps; the settings above are the ones to use on each
    task.
    optimizer: "sgd" only (the trace methods are defined as SGD ascent).
    """

    n_envs: int = 1
    n_steps: int = 1
    lam: float = 0.9
    critic_lam: float = 0.9
    trace: str = "accumulating"
    discount_actor: bool = True
    lr: float = 5e-4
    critic_lr: float = 5e-3
    optimizer: str = "sgd"

    def __post_init__(self):
        super().__post_init__()
        self.lam = check_unit_interval("lam", self.lam)
        self.critic_lam = check_unit_interval("critic_lam", self.critic_lam)
        self.trace = _check_kind(self.trace)
        self.discount_actor = check_bool_field("discount_actor", self.discount_actor)
        if self.optimizer != "sgd":
            raise ValueError(f"optimizer must be 'sgd' for trace methods (w += alpha delta z); "
                             f"got {self.optimizer!r}")
        if self.max_grad_norm is not None:
            raise ValueError("max_grad_norm must be None for trace methods (the step is "
                             "alpha delta z, not a clipped gradient)")
        check_positive_field("lr", self.lr)


class ActorCriticLambda(Algorithm):
    """Episodic actor-critic(lambda) of the module docstring, online, as an ``Algorithm``.

    Train state: ``{"policy", "critic", "traces": {"policy": {k: [N, ...]}, "critic": ...},
    "I": [N], "step"}``; each environment i has its own traces and I.
    """

    name = "ac_lambda"
    any_namespace = True    # update and acting on any array-API module (one row at a time)
    config_class = ACLambdaConfig

    def __init__(self, config=None, spec=None):
        super().__init__(config, spec)
        self.policy = make_policy(self.config, self.spec)
        self.critic = make_critic(self.config, self.spec)

    def init(self, rng) -> dict:
        c = self.config
        pi, w = init_networks(self, rng)
        N = c.n_envs
        return {"policy": pi, "critic": w, "traces": zero_traces(pi, w, N), "I": np.ones(N),
                "step": 0}

    def update(self, state, rollout, progress, rng):
        """One trace step per valid (t, i) in time order, with the current weights."""
        c = self.config
        scale, params, traces, like, xp = online_setup(c, state, progress)
        rollout = rollout.to(np)        # read on the host: one transition (row) at a time
        I = host_vector(state["I"])
        deltas = []
        T, N = rollout.rew.shape
        for t in range(T):
            for i in range(N):
                if not rollout.valid[t, i]:
                    continue
                obs1 = row_on(like, rollout.obs[t, i], like.dtype)
                act1 = row_on(like, rollout.act[t, i])
                nv = next_values(self.critic, params["critic"], rollout, t, i)
                tr_i = {net: {k: z[k][i, ...] for k in z} for net, z in traces.items()}
                i_t = float(I[i]) if c.discount_actor else 1.0
                params, tr_i, _, delta = ac_lambda_step(
                    self.policy, self.critic, params, tr_i, i_t, obs1, act1,
                    rollout.rew[t, i], nv, bool(rollout.terminated[t, i]),
                    bool(rollout.terminated[t, i] or rollout.truncated[t, i]), c.gamma,
                    c.lam, c.critic_lam, c.lr * scale, c.critic_lr * scale, c.trace)
                for net in traces:
                    for k in traces[net]:
                        traces[net][k][i, ...] = tr_i[net][k]
                ended = rollout.terminated[t, i] or rollout.truncated[t, i]
                I[i] = 1.0 if ended else I[i] * c.gamma
                deltas.append(delta)
        new = {"policy": params["policy"], "critic": params["critic"], "traces": traces,
               "I": device_vector(I, like), "step": int(state["step"]) + 1}
        stats = {"n_samples": len(deltas),
                 "mean_td_error": float(np.mean(deltas)) if deltas else 0.0,
                 "mean_abs_td_error": float(np.mean(np.abs(deltas))) if deltas else 0.0}
        return new, stats
