"""Advantage actor-critics: one-step TD, n-step, GAE(lambda), shared trunk, and A2C.

One update from a rollout ``[T, N]`` collected with pi_theta and V_phi (``value`` and
``next_value`` from the collector, the latter from the real final observation at a truncation):

    advantages  A_t and value targets y_t (constants, never differentiated through):
                GAE(gamma, lambda):  A = sum_k (gamma lambda)^k delta_{t+k},  y = A + V
                                     delta_t = r_t + gamma (1 - d_t) V'_t - V_t
                n-step (n_step=n):   y = G^(n)_t,  A = y - V
    loss        L = -(1/B) sum_b A_b log pi_theta(a_b|s_b)
                    + vf_coef (1/2B) sum_b (V_phi(s_b) - y_b)^2
                    - ent_coef (1/B) sum_b H(pi_theta(.|s_b))
    gradient    grad_theta L = vjp_pi(d_dist(-A/B, -ent_coef/B))      (``_common``)
                grad_phi L   = vjp_V(vf_coef (V - y) / B)
    step        global-norm clip (optional), one optimizer step per network.

The members of the family are this one update with different settings:

* one-step advantage actor-critic (``ActorCritic`` defaults): lambda = 0, so A_t = delta_t, the
  TD error, which drives the actor and is a constant for it; with N = 1 and T = 1 it updates
  after every environment step (Sutton & Barto 2018, sec. 13.5).
* actor-critic with GAE(lambda) (Schulman et al. 2016): any lambda in [0, 1].
* n-step traces (``n_step=n``): targets G^(n) (Sutton & Barto 2018, ch. 7); lambda = 1 with
  T = n is the "bootstrap from the end of the rollout" return of A3C (Mnih et al. 2016).
* shared trunk (``shared=True``): ``npg.policies.SharedActorCritic`` with policy and value heads
  on one network; then theta = phi and the two heads' loss derivatives meet in one vjp,
  ``vjp(d logits, vf_coef d v)``, with a single optimizer (lr).
* synchronous A2C (``A2C``): the same update over N parallel environments with T = 5, lambda = 1
  (Mnih et al. 2016, the synchronous variant of OpenAI baselines); only the defaults differ.

Terminated steps never bootstrap; truncated ones bootstrap from V(real final obs) and end the
trace; only ``rollout.valid`` steps enter the loss.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..checks import check_positive_int, check_unit_interval
from ..backend import get_xp, to_numpy
from ..returns import gae, nstep_returns
from ._common import (PGConfig, actor_loss_and_grad, actor_loss_terms, as_batch,
                      check_coef, critic_loss_and_grad, init_critic, one_step_update,
                      init_policy, make_critic, make_optimizer, make_policy)
from ..losses import explained_variance, value_loss
from .base import Algorithm, as_generator, check_bool_field

__all__ = ["ACConfig", "ActorCritic", "A2CConfig", "A2C", "advantages_and_targets"]


@dataclass
class ACConfig(PGConfig):
    """Actor-critic hyperparameters (fields of ``PGConfig`` / ``AlgoConfig`` too).

    n_envs: int = 1              N parallel environments.
    n_steps: int = 1             T steps per environment per update (1: update every step).
    gamma: float = 0.99          discount.
    gae_lambda: float = 0.0      lambda of GAE in [0, 1] (0: one-step TD error).
    n_step: int | None = None    use n-step return targets G^(n) instead of GAE.
    shared: bool = False         one shared-trunk network (``SharedActorCritic``, discrete
                                 actions, MLP) instead of separate actor and critic.
    vf_coef: float = 0.5         weight of the value loss (>= 0).
    ent_coef: float = 0.0        weight of the entropy bonus (>= 0).
    lr: float = 3e-4             actor learning rate (Adam). 3e-4 learns both CartPole-v1 and
                                 FrozenLake-v1; 1e-3 collapses FrozenLake's policy (below).
    critic_lr: float = 1e-3      critic learning rate (Adam).
    policy, optimizer, max_grad_norm, log_std_init: see ``PGConfig``.

    The defaults are the textbook one-step actor-critic (N = T = 1, an update after every step),
    for small discrete tasks such as CartPole-v1 and FrozenLake-v1. With one sample per update
    Adam moves every weight by about lr whatever the TD error's size, so lr sets how fast the
    softmax turns deterministic: PGConfig's 1e-2 does so before the critic is useful
    (CartPole-v1: greedy return 9.4 on 5/5 seeds after 50k steps); 1e-3 learns CartPole-v1 but
    on FrozenLake-v1 (slippery, reward only at the goal) it settles on poor deterministic
    policies (after 50k steps, 5 seeds: entropy 0.00-0.05 nats, greedy success 0.07-0.29, exact
    0.10-0.42). Measured with these defaults (lr 3e-4, critic_lr 1e-3), 5 seeds, ``python
    benchmarks/traces_learning.py --only "ac defaults"``: CartPole-v1 greedy return >= 195 on
    5/5 seeds at 50k steps (500 on 4/5, 498.9 on the fifth); FrozenLake-v1 greedy success >= 0.5
    on 5/5 seeds at 50k steps (0.52-0.67 over 100 episodes; the exact success of the learned
    greedy policies is 0.64-0.73, the optimum within the 100-step limit 0.744). Seeds 5-9: 5/5
    on both. Actor lr 2e-4 and 5e-4 also learn FrozenLake (exact greedy success >= 0.58 on 5/5
    seeds at 50k, ``--set lr=2e-4``).
    """

    n_envs: int = 1
    n_steps: int = 1
    gae_lambda: float = 0.0
    n_step: int | None = None
    shared: bool = False
    vf_coef: float = 0.5
    ent_coef: float = 0.0
    lr: float = 3e-4
    critic_lr: float = 1e-3

    def __post_init__(self):
        super().__post_init__()
        self.gae_lambda = check_unit_interval("gae_lambda", self.gae_lambda)
        if self.n_step is not None:
            self.n_step = check_positive_int("n_step", self.n_step)
        self.shared = check_bool_field("shared", self.shared)
        self.vf_coef = check_coef("vf_coef", self.vf_coef)
        self.ent_coef = check_coef("ent_coef", self.ent_coef)
        if self.shared and self.policy != "mlp":
            raise ValueError("shared=True needs policy='mlp' (a shared trunk); got "
                             f"policy={self.policy!r}")


@dataclass
class A2CConfig(ACConfig):
    """Synchronous advantage actor-critic: ``ACConfig`` with A2C's defaults (N = 8, T = 5,
    lambda = 1: each step's target bootstraps from the end of the rollout; lr 7e-4; entropy
    bonus 0.01; gradient clip 0.5)."""

    n_envs: int = 8
    n_steps: int = 5
    gae_lambda: float = 1.0
    lr: float = 7e-4
    critic_lr: float = 7e-4
    ent_coef: float = 0.01
    max_grad_norm: float | None = 0.5


def advantages_and_targets(rollout, gamma: float, lam: float, n_step: int | None = None):
    """A [T, N] and value targets y [T, N] from a rollout with ``value`` and ``next_value``.

    n_step None: GAE(gamma, lam) (``npg.returns.gae``), y = A + V.
    n_step = n:  y = G^(n) (``npg.returns.nstep_returns``), A = y - V.
    """
    if rollout.value is None or rollout.next_value is None:
        raise ValueError("rollout must carry value and next_value (collect with "
                         "value_fn=algo.value)")
    args = (rollout.rew, rollout.value, rollout.next_value, rollout.terminated,
            rollout.truncated, gamma)
    if n_step is None:
        return gae(*args, lam)
    y = nstep_returns(*args, n_step)
    return y - rollout.value, y


class ActorCritic(Algorithm):
    """The advantage actor-critic of the module docstring (separate or shared networks).

    Train state: ``{"policy": params, "critic": params (separate only), "opt": {...},
    "step": int}``; with ``shared=True`` "policy" holds the shared network.
    """

    name = "ac"
    any_namespace = True    # update and acting on any array-API module
    config_class = ACConfig

    def __init__(self, config=None, spec=None):
        super().__init__(config, spec)
        c, s = self.config, self.spec
        if c.shared:
            if not s.discrete:
                raise ValueError("shared=True supports Discrete action spaces only "
                                 "(SharedActorCritic is categorical)")
            from ..policies import SharedActorCritic
            self.policy = SharedActorCritic(s.obs_dim, s.n_actions, c.hidden, c.activation,
                                            c.orthogonal)
            self.critic = None
        else:
            self.policy = make_policy(c, s)
            self.critic = make_critic(c, s)

    def init(self, rng) -> dict:
        c, s = self.config, self.spec
        rng = as_generator(rng)
        if c.shared:
            pi = self.policy.init(rng, dtype=c.dtype)
            return {"policy": pi, "opt": {"policy": make_optimizer(c, c.lr).init(pi)},
                    "step": 0}
        pi = init_policy(self.policy, c, s, rng)
        v = init_critic(self.critic, c, rng)
        return {"policy": pi, "critic": v, "step": 0,
                "opt": {"policy": make_optimizer(c, c.lr).init(pi),
                        "critic": make_optimizer(c, c.critic_lr).init(v)}}

    def value(self, state, obs):
        """V(obs) [M] (NumPy): the critic, or the shared network's value head."""
        if not self.config.shared:
            return super().value(state, obs)
        params = state["policy"]
        x = self.obs_array(obs, params[next(iter(params))])
        (_, v), _ = self.policy.forward_both(params, x)
        return to_numpy(v)

    # ------------------------------------------------------------------ loss
    def loss_and_grad(self, params, batch):
        """L of the module docstring on one batch, and its gradient.

        params: {"policy": ...} (+ "critic" when separate); batch: obs [B, D], act, adv [B],
        ret [B] (targets y). Returns ``(loss, {net: grads}, stats)``.
        """
        c = self.config
        obs, act, adv, y = batch["obs"], batch["act"], batch["adv"], batch["ret"]
        if not c.shared:
            loss, g_pi, stats = actor_loss_and_grad(self.policy, params["policy"], obs, act,
                                                    adv, c.ent_coef, batch.get("mask"))
            loss_v, g_v = critic_loss_and_grad(self.critic, params["critic"], obs, y,
                                               c.vf_coef)
            stats["value_loss"] = float(loss_v) / c.vf_coef if c.vf_coef else 0.0
            return loss + loss_v, {"policy": g_pi, "critic": g_v}, stats
        (logits, v), vjp = self.policy.forward_both(params["policy"], obs)
        loss, d_logits, stats = actor_loss_terms(self.policy, logits, act, adv, c.ent_coef,
                                                 batch.get("mask"))
        loss_v, d_v = value_loss(v, y)
        stats["value_loss"] = float(loss_v)
        return loss + c.vf_coef * loss_v, {"policy": vjp(d_logits, c.vf_coef * d_v)}, stats

    # ------------------------------------------------------------------ update
    def batch(self, state, rollout) -> dict:
        """Advantages/targets on the [T, N] rollout, then its valid steps on the params'
        module and dtype: obs, act, adv, ret."""
        c = self.config
        adv, ret = advantages_and_targets(rollout, c.gamma, c.gae_lambda, c.n_step)
        flat = rollout.flat(adv=adv, ret=ret)
        like = state["policy"][next(iter(state["policy"]))]
        keys = {"obs": "obs", "act": "act", "adv": "adv", "ret": "ret", "value": "value"}
        if "mask" in flat:                                  # legal actions [B, A]
            keys["mask"] = "mask"
        return as_batch(like, self.spec.discrete, flat, keys)

    def update(self, state, rollout, progress, rng):
        """One gradient step on the rollout's valid steps. Returns ``(state, stats)``."""
        new, b, stats = one_step_update(self, state, rollout, progress)
        if b is not None:
            stats.update(mean_advantage=float(get_xp(b["adv"]).mean(b["adv"])),
                         explained_variance=explained_variance(b["value"], b["ret"]))
        return new, stats


class A2C(ActorCritic):
    """Synchronous advantage actor-critic over N environments: ``ActorCritic`` with
    ``A2CConfig``'s defaults (the update is the same function; see the module docstring)."""

    name = "a2c"
    config_class = A2CConfig
