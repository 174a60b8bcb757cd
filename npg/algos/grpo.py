"""GRPO: group relative policy optimisation (Shao et al. 2024, "DeepSeekMath", Algorithm 1).

    for each update:
        pi_old <- pi_theta
        draw n prompts x_g; for each, G completions o_{g,1..G} ~ pi_old(.|x_g)
        r_gi = r(x_g, o_gi);  A_gi = (r_gi - mean_i r_gi) [/ (std_i r_gi + eps)]
        repeat mu times (inner_iters):
            theta <- optimiser step on grad L(theta)    (``npg.losses_sequence.grpo_loss``:
                     clipped ratio to pi_old, KL to pi_ref, sequence/token/constant averaging)

The gradient is three hand-derived layers: d L / d logp_it from the loss, d logp / d z from
the sequence distribution, the network's vjp (``policy.token_score_sum``). The reference
policy is a frozen copy of the initial parameters (``ref_params`` in the state).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..checks import as_generator, check_positive, check_positive_int
from ..losses_sequence import (AGGREGATIONS, KL_ESTIMATORS, NORMALIZATIONS, check_choice,
                               check_group_size, grpo_loss, group_advantages)
from ..optim import Adam
from ..params import copy

__all__ = ["GRPOConfig", "GRPO"]


@dataclass
class GRPOConfig:
    """GRPO's hyperparameters (validated on construction)."""

    group_size: int = 8
    """G, completions per prompt (>= 2: the advantage is relative to the group)."""
    n_prompts: int = 8
    """n, groups per batch (prompts drawn uniformly with replacement)."""
    inner_iters: int = 1
    """mu, optimiser steps per batch on the clipped surrogate."""
    clip: float = 0.2
    """epsilon of the clipped ratio."""
    beta: float = 0.0
    """KL coefficient to the reference policy (0: no penalty)."""
    kl: str = "k3"
    """KL estimator: "k3" (the paper's) or "k1" (plain log-ratio)."""
    normalize: str = "mean_std"
    """advantage: "mean_std" (the paper) or "mean" (Dr. GRPO)."""
    aggregation: str = "sequence"
    """token averaging: "sequence" (GRPO), "token" (DAPO) or "constant" (Dr. GRPO)."""
    lr: float = 0.05
    """Adam step size."""
    eps: float = 1e-4
    """added to the group std."""

    def __post_init__(self):
        check_group_size(self.group_size)
        check_positive_int("n_prompts", self.n_prompts)
        check_positive_int("inner_iters", self.inner_iters)
        check_positive("clip", self.clip)
        if isinstance(self.beta, bool) or not isinstance(self.beta, (int, float)) \
                or not 0.0 <= float(self.beta) < float("inf"):
            raise ValueError(f"beta must be a finite number >= 0; got {self.beta!r}")
        check_choice("kl", self.kl, KL_ESTIMATORS)
        check_choice("normalize", self.normalize, NORMALIZATIONS)
        check_choice("aggregation", self.aggregation, AGGREGATIONS)
        check_positive("lr", self.lr)
        check_positive("eps", self.eps)


class GRPO:
    """GRPO on a ``SequencePolicy`` and a ``SequenceTask``; state = plain dict of arrays.

        algo = GRPO(policy, task, GRPOConfig(group_size=8))
        state = algo.init(params)
        state, stats = algo.update(state, rng)
    """

    def __init__(self, policy, task, config: GRPOConfig | None = None):
        self.policy, self.task = policy, task
        self.config = GRPOConfig() if config is None else config
        if not isinstance(self.config, GRPOConfig):
            raise TypeError(f"config must be a GRPOConfig; got {type(config).__name__}")
        if policy.space != task.space:
            raise ValueError(f"policy.space {policy.space} must equal task.space {task.space}")
        self.optimizer = Adam(self.config.lr)

    def init(self, params) -> dict:
        """{"params", "ref_params" (a frozen copy), "opt"} from initial parameters."""
        self.policy.check_params(params)
        return {"params": copy(params), "ref_params": copy(params),
                "opt": self.optimizer.init(params)}

    def sample_batch(self, state, rng) -> dict:
        """n prompts, G completions each from pi_old = pi_theta, rewards and advantages."""
        c, rng = self.config, as_generator(rng)
        x = np.repeat(rng.integers(0, self.task.n_prompts, c.n_prompts), c.group_size)
        tokens = self.policy.sample(state["params"], x, rng)
        r = self.task.reward(x, tokens)
        adv = group_advantages(r.reshape(c.n_prompts, c.group_size), c.normalize,
                               c.eps).reshape(-1)
        batch = {"prompts": x, "tokens": tokens, "rewards": r, "adv": adv,
                 "mask": self.task.space.mask(tokens),
                 "logp_old": self.policy.token_log_probs(state["params"], x, tokens)}
        if c.beta:
            batch["logp_ref"] = self.policy.token_log_probs(state["ref_params"], x, tokens)
        return batch

    def loss_and_grad(self, params, batch):
        """(loss, grad_theta loss, stats) on one batch: loss layer, then token_score_sum."""
        c = self.config
        logp = self.policy.token_log_probs(params, batch["prompts"], batch["tokens"])
        loss, d_logp, stats = grpo_loss(logp, batch["logp_old"], batch["adv"], batch["mask"],
                                        c.group_size, c.clip, c.aggregation,
                                        batch.get("logp_ref"), c.beta, c.kl)
        grads = self.policy.token_score_sum(params, batch["prompts"], batch["tokens"], d_logp)
        return loss, grads, stats

    def update(self, state, rng):
        """One GRPO iteration: sample a batch, mu optimiser steps. Returns (state, stats)."""
        batch = self.sample_batch(state, rng)
        params, opt = state["params"], state["opt"]
        for _ in range(self.config.inner_iters):
            loss, grads, stats = self.loss_and_grad(params, batch)
            params, opt = self.optimizer.step(params, grads, opt)
        stats = dict(stats, loss=float(loss), reward=float(batch["rewards"].mean()),
                     accuracy=float(self.task.correct(batch["prompts"], batch["tokens"]).mean()),
                     length=float(batch["mask"].sum(1).mean()))
        return {"params": params, "ref_params": state["ref_params"], "opt": opt}, stats
