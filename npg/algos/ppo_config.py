"""PPO's hyperparameters: a validated dataclass (defaults: the tuned CartPole-v1 settings)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..checks import check_positive_int, check_unit_interval
from .base import (AlgoConfig, check_bool_field, check_nonneg_field, check_positive_field,
                   check_real_field)

__all__ = ["PPOConfig"]


@dataclass
class PPOConfig(AlgoConfig):
    """PPO hyperparameters; defaults are the well-known tuned CartPole-v1 settings
    (rl-baselines3-zoo): 8 envs x 32 steps, one minibatch of 256, 20 epochs.

    n_envs: int = 8              N parallel environments.
    n_steps: int = 32            T steps per environment per rollout.
    gamma: float = 0.98          discount.
    gae_lambda: float = 0.8      GAE lambda in [0, 1].
    batch_size: int | None = None    minibatch size (<= n_envs * n_steps); the B valid steps
                                 are split into ceil(B / batch_size) near-equal minibatches.
                                 None (the default): one minibatch of the whole rollout,
                                 n_envs * n_steps (256 at the defaults), so that changing
                                 n_envs or n_steps alone keeps a valid config.
    n_epochs: int = 20           passes over the rollout per update.
    lr: float = 1e-3             Adam learning rate at progress 0.
    anneal_lr: bool = True       lr_k = lr (1 - progress).
    clip_range: float = 0.2      eps of the clipped surrogate at progress 0 (> 0).
    anneal_clip: bool = True     eps_k = clip_range (1 - progress).
    clip_range_vf: float | None = None   clip of the value loss around V_old (None: unclipped).
    ent_coef: float = 0.0        entropy-bonus coefficient (>= 0).
    vf_coef: float = 1.0         value-loss coefficient (>= 0). npg's value loss is
                                 (1/2B) sum (V - y)^2, half of Stable-Baselines3's mean squared
                                 error, so vf_coef = 1.0 here weighs the critic exactly as SB3's
                                 default 0.5 does under the joint gradient clip (CartPole tuned
                                 run, fast path, 50k steps: 14 of 15 seeds reach 475 at 1.0
                                 against 3 of 5 at 0.5).
    max_grad_norm: float | None = 0.5    global gradient-norm clip (None: no clipping).
    norm_adv: bool = True        normalise advantages per minibatch (needs batch_size >= 2).
    target_kl: float | None = None       early-stopping threshold on approx_kl (None: off).
    adam_eps: float = 1e-5       Adam's epsilon.
    log_std_init: float = 0.0    initial log standard deviation (Gaussian policies).
    shared: bool = False         one MLP trunk with a policy and a value head
                                 (``npg.policies.SharedActorCritic``; Discrete actions only)
                                 instead of separate actor and critic networks.
    use_sde: bool = False        generalised state-dependent exploration (Box actions only):
                                 a = mu(s) + phi(s) E with the noise matrix E [H, K] held for
                                 several steps (``npg.policies.sde``, ``npg.app.sde_noise``);
                                 log_std becomes an [H, K] matrix.
    sde_sample_freq: int = -1    with use_sde, redraw E every this many env steps (and at the
                                 start of each rollout); -1: only at the start of each rollout.
    dtype, hidden, activation, orthogonal: see ``AlgoConfig`` (default float64, (64, 64),
                                 tanh, orthogonal).
    """

    n_envs: int = 8
    n_steps: int = 32
    gamma: float = 0.98
    gae_lambda: float = 0.8
    batch_size: int | None = None
    n_epochs: int = 20
    lr: float = 1e-3
    anneal_lr: bool = True
    clip_range: float = 0.2
    anneal_clip: bool = True
    clip_range_vf: float | None = None
    ent_coef: float = 0.0
    vf_coef: float = 1.0
    max_grad_norm: float | None = 0.5
    norm_adv: bool = True
    target_kl: float | None = None
    adam_eps: float = 1e-5
    log_std_init: float = 0.0
    shared: bool = False
    use_sde: bool = False
    sde_sample_freq: int = -1

    def __post_init__(self):
        super().__post_init__()
        self.gae_lambda = check_unit_interval("gae_lambda", self.gae_lambda)
        if self.batch_size is None:
            self.batch_size = self.n_envs * self.n_steps
        self.batch_size = check_positive_int("batch_size", self.batch_size)
        self.n_epochs = check_positive_int("n_epochs", self.n_epochs)
        self.lr = check_positive_field("lr", self.lr)
        self.clip_range = check_positive_field("clip_range", self.clip_range)
        if self.clip_range_vf is not None:
            self.clip_range_vf = check_positive_field("clip_range_vf", self.clip_range_vf)
        self.ent_coef = check_nonneg_field("ent_coef", self.ent_coef)
        self.vf_coef = check_nonneg_field("vf_coef", self.vf_coef)
        if self.max_grad_norm is not None:
            self.max_grad_norm = check_positive_field("max_grad_norm", self.max_grad_norm)
        if self.target_kl is not None:
            self.target_kl = check_positive_field("target_kl", self.target_kl)
        self.adam_eps = check_positive_field("adam_eps", self.adam_eps)
        self.log_std_init = check_real_field("log_std_init", self.log_std_init)
        for name in ("anneal_lr", "anneal_clip", "norm_adv", "shared", "use_sde"):
            setattr(self, name, check_bool_field(name, getattr(self, name)))
        if isinstance(self.sde_sample_freq, bool) or not isinstance(self.sde_sample_freq,
                                                                     (int, np.integer)):
            raise TypeError(f"sde_sample_freq must be an int (-1 or >= 1); got "
                            f"{type(self.sde_sample_freq).__name__}")
        if self.sde_sample_freq != -1 and self.sde_sample_freq < 1:
            raise ValueError(f"sde_sample_freq must be -1 (only at rollout starts) or >= 1; got "
                             f"{self.sde_sample_freq}")
        self.sde_sample_freq = int(self.sde_sample_freq)
        if self.batch_size > self.n_envs * self.n_steps:
            raise ValueError(f"batch_size must be <= n_envs * n_steps = "
                             f"{self.n_envs * self.n_steps}; got {self.batch_size}")
        if self.norm_adv and self.batch_size < 2:
            raise ValueError("batch_size must be >= 2 with norm_adv=True (a minibatch of one "
                             "sample has no advantage spread to normalise by); got 1")
