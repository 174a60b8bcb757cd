"""The loss layer for sequence policies: GRPO's group-relative surrogate and DPO / IPO.

Each loss takes per-token or per-sequence log-probabilities, returns the scalar loss (minimised)
and its derivative with respect to those log-probabilities; the policy's ``token_score_sum`` /
``score_sum`` finishes the chain rule (``npg.policies.sequence``).

GRPO (Shao et al. 2024, "DeepSeekMath", eq. 3, outcome supervision). A batch holds n groups of
G completions o_1..o_G of one prompt each, rows g G .. g G + G - 1 for group g:

    A_i = (r_i - mean_j r_j) / (std_j r_j + eps)      "mean_std" (the paper)
    A_i =  r_i - mean_j r_j                            "mean"     (Dr. GRPO, Liu et al. 2025)
    rho_it = pi_theta(o_it | q, o_i<t) / pi_old(o_it | q, o_i<t)
    l_it = min(rho_it A_i, clip(rho_it, 1 - eps_c, 1 + eps_c) A_i) - beta D_it
    L = - sum_i c_i sum_t mask_it l_it

with the aggregation weights c_i (B = n G rows, |o_i| the length of completion i):

    "sequence"  c_i = 1 / (B |o_i|)        per-sequence mean, then mean over the batch (GRPO)
    "token"     c_i = 1 / sum_j |o_j|      mean over every token of the batch (DAPO, Yu et al. 2025)
    "constant"  c_i = 1 / (B L_max)        a constant (Dr. GRPO): no length weighting

and the per-token KL penalty to the reference policy, u_it = log pi_ref - log pi_theta:

    "k3"    D = exp(u) - u - 1,   dD/dlogp = 1 - exp(u)       (Schulman 2020; the paper's eq. 4)
    "k1"    D = -u,               dD/dlogp = 1                (the plain log-ratio)

Gradient with respect to logp_it = log pi_theta(o_it | ...), A and logp_old held constant:

    d l_it / d logp_it = rho_it A_i [not clipped] - beta dD/dlogp,
    clipped  <=>  (A_i > 0 and rho_it > 1 + eps_c) or (A_i < 0 and rho_it < 1 - eps_c),
    d L / d logp_it = - c_i mask_it d l_it / d logp_it.

DPO (Rafailov et al. 2023, eq. 7) on pairs (x, y_w preferred, y_l rejected), see ``dpo_loss``.
IPO (Azar et al. 2023, "A general theoretical paradigm...", eq. 17) as ``kind="ipo"``.
NumPy only.
"""

from __future__ import annotations

import numpy as np

from .checks import check_positive

__all__ = ["NORMALIZATIONS", "AGGREGATIONS", "KL_ESTIMATORS", "check_choice", "check_group_size",
           "group_advantages",
           "aggregation_weights", "kl_penalty", "grpo_loss", "dpo_loss", "sigmoid", "log_sigmoid"]

NORMALIZATIONS = ("mean_std", "mean")
AGGREGATIONS = ("sequence", "token", "constant")
KL_ESTIMATORS = ("k3", "k1")


def check_choice(name, value, options):
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"{name} must be one of {options}; got {value!r}")
    return value


def _real(name, x, shape=None, ndim=None):
    if not hasattr(x, "shape") or not hasattr(x, "dtype"):
        raise TypeError(f"{name} must be a real array; got {type(x).__name__}")
    a = np.asarray(x)
    if not np.issubdtype(a.dtype, np.floating):
        raise TypeError(f"{name} must be a real floating-point array; got dtype {a.dtype}")
    if ndim is not None and a.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions; got shape {a.shape}")
    if shape is not None and a.shape != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)}; got {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be finite; it contains NaN or inf")
    return a


def check_group_size(group_size) -> int:
    """G >= 2 (a group-relative advantage needs at least two members)."""
    if isinstance(group_size, bool) or not isinstance(group_size, (int, np.integer)):
        raise TypeError(f"group_size must be an int >= 2; got {type(group_size).__name__}")
    if int(group_size) < 2:
        raise ValueError(f"group_size must be >= 2: with G = {int(group_size)} the group-relative "
                         f"advantage r_i - mean_j r_j is identically 0 (undefined normalisation)")
    return int(group_size)


def group_advantages(rewards, normalize: str = "mean_std", eps: float = 1e-4, ddof: int = 1):
    """A [n, G] from rewards [n, G]: r - mean (and / (std + eps) for "mean_std").

    std uses ``ddof`` (1: the sample standard deviation, as torch.std and TRL). A group whose
    rewards are all equal gets A = 0. Not differentiated (rewards are data).
    """
    r = _real("rewards", rewards, ndim=2)
    if r.shape[0] == 0:
        raise ValueError("rewards must hold at least one group; got shape (0, G) (empty batch)")
    check_group_size(r.shape[1])
    check_choice("normalize", normalize, NORMALIZATIONS)
    a = r - r.mean(axis=1, keepdims=True)
    if normalize == "mean_std":
        a = a / (r.std(axis=1, ddof=ddof, keepdims=True) + check_positive("eps", eps))
    return a


def aggregation_weights(lengths, group_size: int, max_len: int, aggregation: str = "sequence"):
    """c_i [B] of the module docstring from lengths |o_i| [B] (B = n G rows)."""
    n = np.asarray(lengths)
    if n.ndim != 1 or n.shape[0] == 0:
        raise ValueError(f"lengths must be a non-empty [B] array; got shape {n.shape}")
    G = check_group_size(group_size)
    if n.shape[0] % G:
        raise ValueError(f"the batch ({n.shape[0]} rows) must hold whole groups of "
                         f"group_size = {G}")
    if np.any(n < 1) or np.any(n > max_len):
        raise ValueError(f"lengths must lie in [1, {max_len}]")
    B = n.shape[0]
    agg = check_choice("aggregation", aggregation, AGGREGATIONS)
    if agg == "sequence":
        return 1.0 / (B * n.astype(np.float64))
    if agg == "token":
        return np.full(B, 1.0 / n.sum())
    return np.full(B, 1.0 / (B * max_len))


def kl_penalty(logp, logp_ref, estimator: str = "k3"):
    """Per-token D [.] and dD/dlogp for u = logp_ref - logp (module docstring).

    k3: D = exp(u) - u - 1 >= 0, dD/dlogp = 1 - exp(u);  k1: D = -u, dD/dlogp = 1.
    """
    check_choice("kl", estimator, KL_ESTIMATORS)
    u = logp_ref - logp
    if estimator == "k3":
        e = np.exp(u)
        return e - u - 1.0, 1.0 - e
    return -u, np.ones_like(u)


def grpo_loss(logp, logp_old, adv, mask, group_size: int, clip: float = 0.2,
              aggregation: str = "sequence", logp_ref=None, beta: float = 0.0, kl: str = "k3"):
    """GRPO loss and d loss / d logp (module docstring for formula and gradient).

    Shapes: logp, logp_old, mask, logp_ref [B, L]; adv [B] (one advantage per completion,
    from ``group_advantages``); B = n G. Returns ``(loss, d_logp [B, L], stats)`` with stats
    {"clip_frac": fraction of real tokens clipped, "kl": mean D over real tokens}.
    """
    lp = _real("logp", logp, ndim=2)
    B, L = lp.shape
    if B == 0:
        raise ValueError("logp must hold at least one group; got an empty batch")
    lp_old = _real("logp_old", logp_old, shape=(B, L))
    a = _real("adv", adv, shape=(B,))
    m = _real("mask", mask, shape=(B, L))
    eps_c = check_positive("clip", clip)
    c = aggregation_weights(m.sum(axis=1).astype(np.int64), group_size, L, aggregation)
    rho = np.exp(lp - lp_old)
    A = a[:, None]
    surrogate = np.minimum(rho * A, np.clip(rho, 1.0 - eps_c, 1.0 + eps_c) * A)
    clipped = ((A > 0) & (rho > 1.0 + eps_c)) | ((A < 0) & (rho < 1.0 - eps_c))
    d_l = np.where(clipped, 0.0, rho * A)
    per_token = surrogate
    d_kl_mean = 0.0
    if beta:
        beta = check_positive("beta", beta)
        lr = _real("logp_ref", logp_ref, shape=(B, L))
        D, dD = kl_penalty(lp, lr, kl)
        per_token = per_token - beta * D
        d_l = d_l - beta * dD
        d_kl_mean = float((D * m).sum() / m.sum())
    elif logp_ref is not None:
        _real("logp_ref", logp_ref, shape=(B, L))
    w = c[:, None] * m
    loss = -np.sum(w * per_token)
    stats = {"clip_frac": float((clipped * m).sum() / m.sum()), "kl": d_kl_mean}
    return loss, -w * d_l, stats


def sigmoid(u):
    """sigma(u) = 1 / (1 + exp(-u)), computed as exp(-log(1 + exp(-u))) (no overflow)."""
    return np.exp(-np.logaddexp(0.0, -u))


def log_sigmoid(u):
    """log sigma(u) = -log(1 + exp(-u)) = -logaddexp(0, -u).  d/du = sigma(-u)."""
    return -np.logaddexp(0.0, -u)


def dpo_loss(logp_w, logp_l, ref_w, ref_l, beta: float = 0.1, kind: str = "dpo",
             weights=None):
    """DPO (or IPO) loss on B preference pairs and its derivatives (d_logp_w, d_logp_l) [B].

    h_b = (log pi(y_w|x) - log pi_ref(y_w|x)) - (log pi(y_l|x) - log pi_ref(y_l|x)),  u = beta h.

    DPO:  L = -(1/B) sum_b log sigma(u_b)            (1/B -> weights_b when given).
          d log sigma(u)/du = sigma(-u), so dL/du_b = -sigma(-u_b) / B and
          dL/d logp_w = -(beta/B) sigma(-u),   dL/d logp_l = +(beta/B) sigma(-u).
          Descending L therefore *raises* log pi(y_w) and *lowers* log pi(y_l), each with
          weight sigma(-u) = sigma(r_hat(y_l) - r_hat(y_w)), r_hat = beta log pi/pi_ref: large
          when the implicit reward orders the pair wrongly. So
              grad_theta L = -(beta/B) sum_b sigma(r_hat_l - r_hat_w)
                                  (grad log pi(y_w) - grad log pi(y_l)),
          as in the paper's eq. 7 gradient (section 4); the sign of the sigma argument is the
          one to check: sigma(r_hat_w - r_hat_l) would weight *correctly* ordered pairs most.
    IPO:  L = (1/B) sum_b (h_b - 1/(2 beta))^2  (beta plays IPO's tau),
          dL/d logp_w = (2/B)(h - 1/(2 beta)) = -dL/d logp_l.
    ``weights`` [B] (>= 0, summing to 1) replace the 1/B of the mean: a dataset aggregated into
    unique pairs with their frequencies gives the same loss and gradient as the full dataset.
    Returns ``(loss, d_logp_w, d_logp_l, stats)``; stats {"accuracy": mean [u > 0],
    "margin": mean h} (weighted).
    """
    lw = _real("logp_w", logp_w, ndim=1)
    B = lw.shape[0]
    if B == 0:
        raise ValueError("logp_w must hold at least one preference pair; got an empty batch")
    ll = _real("logp_l", logp_l, shape=(B,))
    rw = _real("ref_w", ref_w, shape=(B,))
    rl = _real("ref_l", ref_l, shape=(B,))
    beta = check_positive("beta", beta)
    check_choice("kind", kind, ("dpo", "ipo"))
    if weights is None:
        om = np.full(B, 1.0 / B)
    else:
        om = _real("weights", weights, shape=(B,))
        if np.any(om < 0) or not np.isclose(om.sum(), 1.0):
            raise ValueError("weights must be >= 0 and sum to 1")
    h = (lw - rw) - (ll - rl)
    if kind == "dpo":
        u = beta * h
        loss = -np.sum(om * log_sigmoid(u))
        d_w = -beta * om * sigmoid(-u)
    else:
        e = h - 1.0 / (2.0 * beta)
        loss = np.sum(om * e * e)
        d_w = 2.0 * om * e
    return loss, d_w, -d_w, {"accuracy": float(np.sum(om * (h > 0))),
                             "margin": float(np.sum(om * h))}
