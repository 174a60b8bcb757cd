"""Q actor-critic: the actor follows Q_w(s, a), a state-action critic learned SARSA-style.

Sutton & Barto (2018), sec. 13.5 with an action-value critic (the "QAC" of Silver's RL course,
lecture 7). One update from a rollout ``[T, N]`` (default T = N = 1: an update after every
environment step):

    critic target   y_t = r_t + gamma (1 - d_t) Q'_t
                    Q'_t = Q_w(s_{t+1}, a_{t+1})      SARSA, where the next action is in the
                                                      rollout (t + 1 < T, same episode)
                    Q'_t = sum_a pi(a|s_{t+1}) Q_w(s_{t+1}, a)   Expected SARSA (van Seijen et
                         al. 2009) where it is not: the rollout's last step, and truncations
                         (s_{t+1} the real final obs); this is ``rollout.next_value``, because
                         ``value`` of this algorithm is V(s) = sum_a pi(a|s) Q(s, a).
    actor weight    A_t = Q_w(s_t, a_t)   (or Q_w(s_t, a_t) - V(s_t) with ``baseline=True``)
    loss            L = -(1/B) sum_b A_b log pi_theta(a_b|s_b)
                        + (1/2B) sum_b (Q_w(s_b, a_b) - y_b)^2
    gradient        grad_theta L = sum_b (-A_b / B) grad log pi(a_b|s_b)
                    grad_w L = (1/B) sum_b (Q_w(s_b, a_b) - y_b) grad_w Q_w(s_b, a_b)
with A and y constants (semi-gradient TD for the critic). Discrete actions only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..checks import check_finite, check_positive_int
from ..backend import get_xp, to_numpy
from ._common import (PGConfig, actor_loss_and_grad, as_batch, one_step_update,
                      init_critic, init_policy, make_critic, make_optimizer, make_policy)
from .base import Algorithm, as_generator, check_bool_field

__all__ = ["QACConfig", "QActorCritic", "sarsa_targets"]


@dataclass
class QACConfig(PGConfig):
    """Q actor-critic hyperparameters (fields of ``PGConfig`` / ``AlgoConfig`` too).

    n_envs: int = 1              N parallel environments.
    n_steps: int = 1             T steps per update (1: online, an update every step).
    gamma: float = 0.99          discount.
    baseline: bool = True        weight the actor by Q - V (an advantage) instead of Q
                                 (False: the textbook QAC weight Q(s, a)).
    lr: float = 1e-4             actor learning rate (Adam).
    critic_lr: float = 1e-3      critic learning rate (Adam).
    q_input: str = "state"       the critic's input: "state", Q(s, .) = one network s -> A
                                 outputs (``MLPQ``, hidden ``hidden``; ``LinearQ`` with
                                 policy="linear"); "pair", Q(s, a) = mlp([obs, onehot(a)])
                                 with one output (``npg.values_sa.MLPStateActionQ``, hidden
                                 ``critic_hidden``, any policy): the source texts' critic.
    critic_hidden: tuple = (20, 10)   hidden widths of the "pair" critic (the texts' 20-10-1
                                 on FrozenLake's 16 + 4 inputs); unused with q_input="state".
    policy, optimizer, max_grad_norm: see ``PGConfig``.

    The defaults (lr 1e-4, critic_lr 1e-3, baseline) are measured, 5 seeds, one update per
    step (``python benchmarks/traces_learning.py --only qac``): CartPole-v1 greedy return 500
    on 4/5 seeds at 50k steps (seed 0 collapses: 9.35); FrozenLake-v1 (slippery) greedy
    success 0.67, 0.52, 0.66, 0.67, 0.33 at 50k steps (target 0.5: 4/5; optimum ~0.74);
    seeds 5-9: 5/5 on both. With ``q_input="pair"``: CartPole 5/5, FrozenLake 4/5.
    PGConfig's lr = critic_lr = 1e-2 without the baseline collapse on both (CartPole 9.4 on
    5/5 seeds, FrozenLake 0.00-0.06): every CartPole reward is +1, so Q(s, a) > 0 and each
    per-step Adam step of about lr pushes up the taken action; lr = critic_lr = 1e-3 with the
    baseline still collapses CartPole (5/5).
    """

    n_envs: int = 1
    n_steps: int = 1
    baseline: bool = True
    lr: float = 1e-4
    critic_lr: float = 1e-3
    q_input: str = "state"
    critic_hidden: tuple = (20, 10)

    def __post_init__(self):
        super().__post_init__()
        self.baseline = check_bool_field("baseline", self.baseline)
        if not isinstance(self.q_input, str):
            raise TypeError(f"q_input must be a str, 'state' or 'pair'; got "
                            f"{type(self.q_input).__name__}")
        if self.q_input not in ("state", "pair"):
            raise ValueError(f"q_input must be 'state' or 'pair'; got {self.q_input!r}")
        hidden = self.critic_hidden
        if isinstance(hidden, int) and not isinstance(hidden, bool):
            hidden = (hidden,)
        if not isinstance(hidden, (tuple, list)):
            raise TypeError(f"critic_hidden must be a tuple of positive ints; got "
                            f"{type(hidden).__name__}")
        self.critic_hidden = tuple(check_positive_int(f"critic_hidden[{i}]", h)
                                   for i, h in enumerate(hidden))


def sarsa_targets(rew, terminated, truncated, valid, q_next_in, next_value, gamma):
    """y [T, N] = r + gamma (1 - d) Q' (see the module docstring).

    q_next_in [T, N]: Q(obs[t+1], act[t+1]) for t < T - 1 (row T - 1 ignored); next_value
    [T, N]: sum_a pi Q at the real next state. Q' = q_next_in where t + 1 < T, the episode goes
    on (not d_t, not c_t) and row t + 1 is valid; next_value elsewhere.
    """
    xp = get_xp(rew, valid, q_next_in)
    inside = xp.concat([~(terminated[:-1, ...] | truncated[:-1, ...]) & valid[1:, ...],
                        xp.zeros_like(valid[:1, ...])])
    q_next = xp.where(inside, q_next_in, next_value)
    y = rew + gamma * xp.where(terminated, 0.0, q_next)
    if not bool(xp.all(xp.isfinite(y))):              # never a silent NaN target
        check_finite("rew", rew)
        if not bool(xp.all(xp.isfinite(xp.where(terminated, 0.0, q_next)))):
            raise ValueError("the bootstrap Q(s', a') / next_value must be finite where the "
                             "episode goes on; it contains NaN or inf")
        raise ValueError(f"the SARSA targets r + gamma Q' overflow {y.dtype}: max |r| = "
                         f"{float(xp.max(xp.abs(rew))):.3g}; scale the rewards")
    return y


class QActorCritic(Algorithm):
    """Q actor-critic (module docstring). Train state: ``{"policy", "critic", "opt", "step"}``."""

    name = "qac"
    any_namespace = True    # update and acting on any array-API module
    config_class = QACConfig

    def __init__(self, config=None, spec=None):
        super().__init__(config, spec)
        if not self.spec.discrete:
            raise ValueError("QActorCritic needs a Discrete action space (its critic is "
                             "Q(s, .) over A actions)")
        self.policy = make_policy(self.config, self.spec)
        self.critic = make_critic(self.config, self.spec, action_values=True)

    def init(self, rng) -> dict:
        c, rng = self.config, as_generator(rng)
        pi = init_policy(self.policy, c, self.spec, rng)
        q = init_critic(self.critic, c, rng)
        return {"policy": pi, "critic": q, "step": 0,
                "opt": {"policy": make_optimizer(c, c.lr).init(pi),
                        "critic": make_optimizer(c, c.critic_lr).init(q)}}

    def value(self, state, obs):
        """V(s) = sum_a pi(a|s) Q(s, a) [M] (NumPy)."""
        like = state["policy"][next(iter(state["policy"]))]
        x = self.obs_array(obs, like)
        q, _ = self.critic.forward(state["critic"], x)
        pi = self.policy.probs(state["policy"], x)
        return to_numpy(get_xp(q).sum(pi * q, axis=1))

    def loss_and_grad(self, params, batch):
        """L of the module docstring on one batch, and its gradient.

        batch: obs [B, D], act [B], adv [B] (actor weights), ret [B] (critic targets).
        Returns ``(loss, {"policy": grads, "critic": grads}, stats)``."""
        loss, g_pi, stats = actor_loss_and_grad(self.policy, params["policy"],
                                                batch["obs"], batch["act"], batch["adv"],
                                                mask=batch.get("mask"))
        loss_q, g_q = self.critic.loss_grad(params["critic"], batch["obs"], batch["act"],
                                            batch["ret"])
        stats["value_loss"] = float(loss_q)
        return loss + loss_q, {"policy": g_pi, "critic": g_q}, stats

    def batch(self, state, rollout) -> dict:
        """SARSA targets and actor weights on the [T, N] rollout, then its valid steps."""
        c = self.config
        if rollout.next_value is None or rollout.value is None:
            raise ValueError("rollout must carry value and next_value (collect with "
                             "value_fn=algo.value)")
        T, N = rollout.rew.shape
        xp = rollout.xp                   # the state's module (``rollout_on``)
        w = state["critic"]
        like = w[next(iter(w))]
        obs = self.obs_array(xp.reshape(rollout.obs, (T * N, -1)), like)
        act = xp.reshape(rollout.act, (T * N,))
        q = self.critic.value(w, obs, act)
        q = to_numpy(q).reshape(T, N) if xp is np else xp.reshape(q, (T, N))
        q_next_in = xp.concat([q[1:, ...], xp.zeros_like(q[:1, ...])])
        y = sarsa_targets(rollout.rew, rollout.terminated, rollout.truncated, rollout.valid,
                          q_next_in, rollout.next_value, c.gamma)
        adv = q - rollout.value if c.baseline else q
        flat = rollout.flat(adv=adv, ret=y)
        like = state["policy"][next(iter(state["policy"]))]
        keys = {"obs": "obs", "act": "act", "adv": "adv", "ret": "ret"}
        if "mask" in flat:                                  # legal actions [B, A]
            keys["mask"] = "mask"
        return as_batch(like, True, flat, keys)

    def update(self, state, rollout, progress, rng):
        """One step of actor and critic on the rollout's valid steps; ``(state, stats)``."""
        new, b, stats = one_step_update(self, state, rollout, progress)
        if b is not None:
            stats.update(mean_q=float(get_xp(b["adv"]).mean(b["adv"])))
        return new, stats
