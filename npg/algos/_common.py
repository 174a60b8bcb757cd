"""Pieces shared by REINFORCE and the actor-critic family: building networks from a config,
the policy-gradient and value losses chained to the parameters, and one optimizer step.

The chain rule in three layers (DESIGN.md), for a batch of B transitions:

    loss layer          npg.losses: d L / d logp_b, d L / d H_b, d L / d v_b           [B]
    distribution layer  d logp / d dist_params, d H / d dist_params                   [B, ...]
    network layer       the policy's / critic's vjp                                   params

so each updater's gradient is one forward and one vjp per network.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..backend import get_xp, to_numpy
from ..distributions import categorical, gaussian, sde
from ..losses import entropy_loss, policy_gradient_loss, value_loss
from ..optim import SGD, Adam, RMSprop, clip_by_global_norm
from ..schedules import constant
from .base import (AlgoConfig, as_generator, check_bool_field, check_nonneg_field,
                   check_positive_field, check_progress)

__all__ = ["PGConfig", "make_policy", "init_policy", "make_critic", "init_critic", "init_networks",
           "make_optimizer", "actor_loss_and_grad", "critic_loss_and_grad",
           "apply_grads", "one_step_update", "as_batch", "check_progress"]

_POLICY_KINDS = ("mlp", "linear")
_OPTIMIZERS = ("adam", "sgd", "rmsprop")


def _check_choice(name: str, x, choices) -> str:
    if not isinstance(x, str):
        raise TypeError(f"{name} must be a str, one of {choices}; got {type(x).__name__}")
    if x not in choices:
        raise ValueError(f"{name} must be one of {choices}; got {x!r}")
    return x


@dataclass
class PGConfig(AlgoConfig):
    """Fields shared by REINFORCE and the actor-critics (on top of ``AlgoConfig``).

    policy: str = "mlp"
        "mlp": MLP policy (categorical or diagonal Gaussian) with ``hidden`` / ``activation``;
        "linear": linear in the features [1, obs] (``LinearSoftmaxPolicy`` /
        ``LinearGaussianPolicy`` with ``Polynomial(obs_dim, 1)``); the critic follows suit.
    lr: float = 1e-2
        Actor learning rate.
    critic_lr: float = 1e-2
        Critic learning rate (separate critics).
    optimizer: str = "adam"
        "adam", "sgd" (plain gradient descent) or "rmsprop" (PyTorch's RMSprop with alpha 0.99,
        eps 1e-5: what Stable-Baselines3's A2C uses).
    anneal_lr: bool = False
        Linear annealing of both learning rates: lr_k = lr (1 - progress).
    max_grad_norm: float | None = None
        Clip the global norm of all gradients (actor and critic together); None: no clipping.
    log_std_init: float = 0.0
        Initial log standard deviation of Gaussian policies.
    """

    policy: str = "mlp"
    lr: float = 1e-2
    critic_lr: float = 1e-2
    optimizer: str = "adam"
    anneal_lr: bool = False
    max_grad_norm: float | None = None
    log_std_init: float = 0.0

    def __post_init__(self):
        super().__post_init__()
        self.policy = _check_choice("policy", self.policy, _POLICY_KINDS)
        self.optimizer = _check_choice("optimizer", self.optimizer, _OPTIMIZERS)
        self.anneal_lr = check_bool_field("anneal_lr", self.anneal_lr)
        self.lr = check_positive_field("lr", self.lr)
        self.critic_lr = check_positive_field("critic_lr", self.critic_lr)
        if self.max_grad_norm is not None:
            self.max_grad_norm = check_positive_field("max_grad_norm", self.max_grad_norm)
        if isinstance(self.log_std_init, bool) or not isinstance(
                self.log_std_init, (int, float, np.integer, np.floating)):
            raise TypeError(f"log_std_init must be a real number; got "
                            f"{type(self.log_std_init).__name__}")
        if not math.isfinite(float(self.log_std_init)):
            raise ValueError(f"log_std_init must be finite; got {self.log_std_init}")
        self.log_std_init = float(self.log_std_init)


def check_coef(name: str, x) -> float:
    """A loss coefficient >= 0."""
    return check_nonneg_field(name, x)


# ------------------------------------------------------------------------------ networks

def make_policy(config: PGConfig, spec):
    """The policy object for ``spec`` (hyperparameters only). MultiDiscrete / MultiBinary
    actions (``spec.nvec``): ``MLPProductPolicy`` (``policy="mlp"`` only)."""
    from .. import policies
    from ..features import Polynomial
    if getattr(spec, "nvec", None) is not None:
        if config.policy != "mlp":
            raise ValueError(f"policy={config.policy!r} supports Discrete and Box actions; "
                             f"MultiDiscrete / MultiBinary actions need policy='mlp'")
        from ..policies.product import MLPProductPolicy
        return MLPProductPolicy.for_spec(spec, config.hidden, config.activation,
                                         config.orthogonal)
    if config.policy == "linear":
        phi = Polynomial(spec.obs_dim, 1)
        if spec.discrete:
            return policies.LinearSoftmaxPolicy(phi, spec.n_actions)
        return policies.LinearGaussianPolicy(phi, spec.act_dim, log_std_init=config.log_std_init)
    if spec.discrete:
        return policies.MLPCategoricalPolicy(spec.obs_dim, spec.n_actions, config.hidden,
                                             config.activation, config.orthogonal)
    return policies.MLPGaussianPolicy(spec.obs_dim, spec.act_dim, config.hidden,
                                      config.activation, log_std_init=config.log_std_init,
                                      orthogonal=config.orthogonal)


def init_policy(policy, config: PGConfig, spec, rng) -> dict:
    """Policy params: linear policies start at theta = 0 (uniform / zero-mean); MLPs use the
    policy's own init (hidden gain for the activation, head gain 0.01: near-uniform start)."""
    rng = as_generator(rng)
    if config.policy == "linear":
        return policy.init(rng, scale=0.0, dtype=config.dtype)
    return policy.init(rng, dtype=config.dtype)


def make_critic(config: PGConfig, spec, action_values: bool = False):
    """V(s) (or Q(s, .) with ``action_values``): linear in [1, obs] or an MLP, as ``policy``;
    with ``action_values`` and ``config.q_input == "pair"``, the MLP Q(s, a) over
    [obs, onehot(a)] (``npg.values_sa.MLPStateActionQ``, hidden ``config.critic_hidden``)."""
    from .. import values
    from ..features import Polynomial
    if action_values and getattr(config, "q_input", "state") == "pair":
        from ..values_sa import MLPStateActionQ
        return MLPStateActionQ(spec.obs_dim, spec.n_actions, config.critic_hidden,
                               config.activation)
    if config.policy == "linear":
        phi = Polynomial(spec.obs_dim, 1)
        return values.LinearQ(phi, spec.n_actions) if action_values else values.LinearValue(phi)
    if action_values:
        return values.MLPQ(spec.obs_dim, spec.n_actions, config.hidden, config.activation)
    return values.MLPValue(spec.obs_dim, config.hidden, config.activation)


def init_critic(critic, config: PGConfig, rng) -> dict:
    """Critic params (zeros for linear critics; ``mlp_init`` for MLPs)."""
    if config.policy == "linear":
        return critic.init(as_generator(rng), dtype=config.dtype)
    return critic.init(as_generator(rng), dtype=config.dtype, orthogonal=config.orthogonal)


def init_networks(algo, rng) -> tuple[dict, dict]:
    """``(policy params, critic params)`` of an actor-critic ``algo`` (its ``policy``,
    ``critic``, ``config`` and ``spec``), drawn in that order from the Generator ``rng``."""
    rng = as_generator(rng)
    pi = init_policy(algo.policy, algo.config, algo.spec, rng)
    return pi, init_critic(algo.critic, algo.config, rng)


def make_optimizer(config: PGConfig, lr: float):
    """The optimizer ``config.optimizer`` at the constant rate lr (>= 0: annealing reaches 0)."""
    if config.optimizer == "adam":
        return Adam(lr=constant(lr))
    if config.optimizer == "rmsprop":
        return RMSprop(lr=constant(lr), alpha=0.99, eps=1e-5)
    return SGD(lr=constant(lr))


# ------------------------------------------------------------------------------ losses

def actor_loss_terms(policy, dist, act, adv, ent_coef: float, mask=None):
    """The actor's loss at the distribution parameters and its gradient there.

        L_pi = -(1/B) sum_b A_b log pi(a_b|s_b) - ent_coef (1/B) sum_b H(pi(.|s_b))
        d L_pi / d dist = d_dist(-A / B, -ent_coef / B)             (A held constant)

    with log pi, H and d_dist from the policy's distribution layer (``policy.terms``; an
    action mask [B, A] zeroes the masked logits' gradient). Returns ``(loss, d_dist_params,
    stats)``.
    """
    logp, ent, d_dist = policy.terms(dist, act, mask=mask)
    loss, d_logp = policy_gradient_loss(logp, adv)
    stats = {"policy_loss": float(loss), "entropy": float(get_xp(ent).mean(ent))}
    d_ent = None
    if ent_coef:
        loss_h, d_ent = entropy_loss(ent)
        loss = loss + ent_coef * loss_h
        d_ent = ent_coef * d_ent
    return loss, d_dist(d_logp, d_ent), stats


def actor_loss_and_grad(policy, params, obs, act, adv, ent_coef: float = 0.0, mask=None):
    """L_pi(theta) (see ``actor_loss_terms``) and grad_theta L_pi = vjp(d L_pi / d dist).

    obs [B, D], act [B] or [B, K], adv [B] (constants), mask [B, A] bool or None (legal
    actions; see ``categorical.terms``). Returns ``(loss, grads, stats)``.
    """
    dist, vjp = policy.forward(params, obs)
    loss, d_dist, stats = actor_loss_terms(policy, dist, act, adv, ent_coef, mask)
    return loss, vjp(d_dist), stats


def critic_loss_and_grad(critic, params, obs, target, scale: float = 1.0):
    """scale * L_V(phi) with L_V = (1/2B) sum_b (V_phi(s_b) - y_b)^2 (targets y held
    constant: the semi-gradient of TD learning), and its gradient
    scale * (1/B) sum_b (V_phi(s_b) - y_b) grad_phi V_phi(s_b).  Returns ``(loss, grads)``."""
    v, vjp = critic.forward(params, obs)
    loss, d_v = value_loss(v, target)
    return scale * loss, vjp(scale * d_v)


# ------------------------------------------------------------------------------ steps

def apply_grads(config: PGConfig, state: dict, grads: dict, lrs: dict,
                progress: float) -> tuple[dict, float]:
    """Clip ``grads`` ({net: grads}) to the global norm ``max_grad_norm`` (all nets together),
    then take one optimizer step per net with its learning rate ``lrs[net]``, times
    (1 - progress) with ``anneal_lr``.

    Returns the new state (a shallow copy; inputs untouched) and the pre-clip gradient norm."""
    merged = {f"{net}/{k}": g for net, gs in grads.items() for k, g in gs.items()}
    if config.max_grad_norm is not None:
        merged, norm = clip_by_global_norm(merged, config.max_grad_norm)
        norm = float(norm)
        grads = {net: {k: merged[f"{net}/{k}"] for k in gs} for net, gs in grads.items()}
    else:
        norm = float(math.sqrt(sum(float(get_xp(g).sum(g * g)) for g in merged.values())))
    new = dict(state)
    new["opt"] = dict(state["opt"])
    scale = 1.0 - progress if config.anneal_lr else 1.0
    for net, g in grads.items():
        opt = make_optimizer(config, lrs[net] * scale)
        new[net], new["opt"][net] = opt.step(state[net], g, state["opt"][net])
    new["step"] = int(state["step"]) + 1
    return new, norm


def one_step_update(algo, state: dict, rollout, progress) -> tuple[dict, dict | None, dict]:
    """The update the actor-critics share: one clipped optimizer step of actor and critic
    along ``algo.loss_and_grad`` on ``algo.batch(state, rollout)``, the rollout's valid steps.

    Returns ``(new_state, batch, stats)``; ``batch`` is None (and the state unchanged) when the
    rollout holds only a phantom autoreset step."""
    progress = check_progress(progress)
    if rollout.n_valid == 0:
        return dict(state), None, {"n_samples": 0}
    c = algo.config
    b = algo.batch(state, algo.rollout_on(state, rollout))
    params = {k: state[k] for k in ("policy", "critic") if k in state}
    loss, grads, stats = algo.loss_and_grad(params, b)
    lrs = {"policy": c.lr, "critic": c.critic_lr}
    new, norm = apply_grads(c, state, grads, lrs, progress)
    stats.update(loss=float(loss), grad_norm=norm, n_samples=int(b["adv"].shape[0]))
    return new, b, stats


def as_batch(like, discrete: bool, flat: dict, keys: dict) -> dict:
    """Move the NumPy batch ``flat`` onto the module/dtype of the parameter array ``like``.

    keys maps output name -> key of ``flat``; "act" stays integer for discrete actions (and
    for MultiDiscrete / MultiBinary ones, which are integer arrays [B, K]). A
    float array that is finite in ``flat`` but overflows ``like``'s dtype in the cast (float64
    returns beyond float32's 3.4e38) raises a ValueError naming it (one isfinite pass each)."""
    xp, dt = get_xp(like), like.dtype
    out = {}
    for name, k in keys.items():
        if (name == "act" and (discrete or get_xp(flat[k]).isdtype(flat[k].dtype, "integral"))) \
                or name == "mask":
            out[name] = xp.asarray(flat[k])
            continue
        out[name] = xp.asarray(flat[k], dtype=dt)
        if not bool(xp.all(xp.isfinite(out[name]))):
            src = to_numpy(flat[k])
            what = "is not finite (NaN or inf)" if not np.isfinite(src).all() else (
                f"overflows {dt} (max |{k}| = {float(np.max(np.abs(src))):.3g})")
            raise ValueError(f"the rollout's {k} {what}; scale the rewards "
                             f"(Agent(scale_reward=True)) or use dtype float64")
    return out
