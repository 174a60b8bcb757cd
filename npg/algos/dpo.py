"""DPO: direct preference optimisation (Rafailov et al. 2023), and IPO (Azar et al. 2023).

    given pairs (x, y_w, y_l) and a frozen reference pi_ref:
        precompute log pi_ref(y_w|x), log pi_ref(y_l|x)
        repeat:
            take a minibatch (or all pairs)
            h = (log pi(y_w) - log pi_ref(y_w)) - (log pi(y_l) - log pi_ref(y_l))
            L = -mean log sigma(beta h)           (IPO: mean (h - 1/(2 beta))^2)
            theta <- optimiser step on grad L = score_sum(chosen, d_w) + score_sum(rejected, d_l)

With enough preference data over all completions and a policy class that contains it, the
minimiser is pi*(y|x) = pi_ref(y|x) exp(r(x,y)/beta) / Z(x) (``npg.sequence_exact.dpo_optimum``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..checks import as_generator, check_positive
from ..losses_sequence import check_choice, dpo_loss
from ..optim import Adam
from ..params import add, copy

__all__ = ["DPOConfig", "DPO", "check_pairs", "aggregate_pairs"]


@dataclass
class DPOConfig:
    """DPO's hyperparameters (validated on construction)."""

    beta: float = 0.1
    """KL strength beta (> 0); IPO's tau when kind = "ipo"."""
    kind: str = "dpo"
    """"dpo" (logistic loss) or "ipo" (squared loss)."""
    lr: float = 0.05
    """Adam step size."""
    batch_size: int | None = None
    """pairs per step (None: every pair, full-batch steps)."""

    def __post_init__(self):
        check_positive("beta", self.beta)
        check_choice("kind", self.kind, ("dpo", "ipo"))
        check_positive("lr", self.lr)
        if self.batch_size is not None and (isinstance(self.batch_size, bool) or not isinstance(
                self.batch_size, int) or self.batch_size < 1):
            raise ValueError(f"batch_size must be None or a positive int; got {self.batch_size!r}")


def check_pairs(policy, pairs) -> dict:
    """Validate a dict of prompts [n], chosen [n, L], rejected [n, L]; no identical pair."""
    for k in ("prompts", "chosen", "rejected"):
        if k not in pairs:
            raise ValueError(f"pairs must hold 'prompts', 'chosen' and 'rejected'; {k!r} missing")
    x = policy.check_prompts(pairs["prompts"], "pairs['prompts']")
    if x.shape[0] == 0:
        raise ValueError("pairs must hold at least one preference pair")
    yw = policy.space.check(pairs["chosen"], "pairs['chosen']")
    yl = policy.space.check(pairs["rejected"], "pairs['rejected']")
    if yw.shape[0] != x.shape[0] or yl.shape[0] != x.shape[0]:
        raise ValueError("pairs['chosen'] and pairs['rejected'] need one row per prompt")
    same = np.all(yw == yl, axis=1)
    if same.any():
        raise ValueError(f"pairs['rejected'] row {int(np.argmax(same))} equals pairs['chosen']: "
                         f"a pair of identical completions carries no preference")
    return {"prompts": x, "chosen": yw, "rejected": yl}


def aggregate_pairs(pairs) -> dict:
    """The unique (x, y_w, y_l) triples of ``pairs`` with their frequencies ``weights`` (sum 1).

    The DPO/IPO loss is a mean over pairs, so it equals the weighted mean over unique pairs:
    the same loss and gradient at a cost that no longer grows with the dataset.
    """
    x = np.asarray(pairs["prompts"])[:, None]
    rows = np.concatenate([x, np.asarray(pairs["chosen"]), np.asarray(pairs["rejected"])], 1)
    uniq, counts = np.unique(rows, axis=0, return_counts=True)
    L = (uniq.shape[1] - 1) // 2
    return {"prompts": uniq[:, 0], "chosen": uniq[:, 1:1 + L], "rejected": uniq[:, 1 + L:],
            "weights": counts / counts.sum()}


class DPO:
    """DPO / IPO on a ``SequencePolicy``; the state is {"params", "ref_params", "opt"}."""

    def __init__(self, policy, config: DPOConfig | None = None):
        self.policy = policy
        self.config = DPOConfig() if config is None else config
        if not isinstance(self.config, DPOConfig):
            raise TypeError(f"config must be a DPOConfig; got {type(config).__name__}")
        self.optimizer = Adam(self.config.lr)

    def init(self, ref_params) -> dict:
        """Start at the reference: params = ref_params = a copy of ``ref_params``."""
        self.policy.check_params(ref_params)
        return {"params": copy(ref_params), "ref_params": copy(ref_params),
                "opt": self.optimizer.init(ref_params)}

    def prepare(self, state, pairs) -> dict:
        """Validated pairs with the reference log-probabilities ref_w, ref_l [n] added."""
        p = check_pairs(self.policy, pairs)
        if "weights" in pairs:
            p["weights"] = np.asarray(pairs["weights"], dtype=np.float64)
        p["ref_w"] = self.policy.log_prob(state["ref_params"], p["prompts"], p["chosen"])
        p["ref_l"] = self.policy.log_prob(state["ref_params"], p["prompts"], p["rejected"])
        return p

    def loss_and_grad(self, params, data):
        """(loss, grad_theta loss, stats) on prepared pairs ``data``."""
        pol, c = self.policy, self.config
        x = data["prompts"]
        lw = pol.log_prob(params, x, data["chosen"])
        ll = pol.log_prob(params, x, data["rejected"])
        loss, d_w, d_l, stats = dpo_loss(lw, ll, data["ref_w"], data["ref_l"], c.beta, c.kind,
                                      data.get("weights"))
        grads = add(pol.score_sum(params, x, data["chosen"], d_w),
                    pol.score_sum(params, x, data["rejected"], d_l))
        return loss, grads, stats

    def update(self, state, data, rng=None):
        """One optimiser step on a minibatch (``rng`` picks it) or on all prepared pairs."""
        n = data["prompts"].shape[0]
        if self.config.batch_size is not None and self.config.batch_size < n:
            idx = as_generator(rng).choice(n, self.config.batch_size, replace=False)
            data = {k: v[idx] for k, v in data.items()}
            if "weights" in data:
                data["weights"] = data["weights"] / data["weights"].sum()
        loss, grads, stats = self.loss_and_grad(state["params"], data)
        params, opt = self.optimizer.step(state["params"], grads, state["opt"])
        return {"params": params, "ref_params": state["ref_params"], "opt": opt}, \
            dict(stats, loss=float(loss))
