"""Exact expectations for sequence policies, by enumerating every completion.

With Y = ``space.enumerate()`` finite, each expectation over completions is a finite sum:

    J(theta) = sum_x w_x [ sum_y pi(y|x) r(x,y) - beta KL(pi(.|x) || pi_ref(.|x)) ]
    grad J   = sum_x w_x sum_y pi(y|x) [ r(x,y) - beta log(pi(y|x) / pi_ref(y|x)) ] grad log pi(y|x)

(``objective_gradient``; the "+1" of d(p log p) drops out because sum_y pi grad log pi = 0.)

The expected GRPO direction (``expected_grpo_direction``) is E[-grad L] for the loss of
``npg.losses_sequence.grpo_loss`` on a batch of n groups, prompts x_g ~ w i.i.d., G completions
per group i.i.d. from pi(.|x_g), evaluated where the update starts (pi_old = pi_theta, so every
ratio is 1 and nothing is clipped). There -grad L = sum_i c_i [A_i grad log pi(o_i) -
beta sum_t dD_it grad log pi(o_it | ...)], and since the B = n G rows are exchangeable

    E[-grad L] = sum_x w_x sum_y pi(y|x) [ omega(x,y) grad log pi(y|x)
                             - beta kappa(x,y) sum_t dD_t(y) grad log pi(y_t | x, y_<t) ]
    omega(x,y) = B E[c_1 A_1 | x_1 = x, o_1 = y],      kappa(x,y) = B E[c_1 | x_1 = x, o_1 = y].

A_1 depends on the other G - 1 members only through the multiset of their (reward, length)
classes, and c_1 ("token") also on the total length of the other n - 1 groups: so the
conditional expectations are finite sums over the multinomial compositions of G - 1 into the
K classes of prompt x, and over the distribution of that total length (a convolution power).
This is exact: no sampling, no Monte Carlo.

Identities the tests check: with normalize="mean" and aggregation="constant",
omega = ((G-1)/G) (r - E r) / L_max, so E[-grad L] = ((G-1)/(G L_max)) grad E[r] exactly;
the std division and the 1/|o| factors change omega by prompt difficulty and length.

The closed-form DPO / KL-regularised optimum (Rafailov et al. 2023, eq. 4; Peters & Schaal 2007):
    pi*(y|x) = pi_ref(y|x) exp(r(x,y) / beta) / Z(x)                      (``dpo_optimum``)
"""

from __future__ import annotations

import math

import numpy as np

from .checks import check_positive, check_positive_int
from .losses_sequence import (AGGREGATIONS, KL_ESTIMATORS, NORMALIZATIONS, check_choice,
                              check_group_size, kl_penalty)

__all__ = ["completion_probs", "expected_reward", "sequence_kl", "objective_gradient",
           "grpo_class_weights", "expected_grpo_direction", "grpo_bias", "dpo_optimum", "kl_rows",
           "compositions"]

MAX_COMPOSITIONS = 2_000_000


def completion_probs(policy, params, prompts=None):
    """pi(y|x) [n, |Y|] for the prompts (default all) over ``space.enumerate()``."""
    return np.exp(policy.completion_log_probs(params, prompts))


def expected_reward(policy, params, task, prompts=None):
    """E_{y ~ pi(.|x)} r(x, y) [n]."""
    prompts = np.arange(task.n_prompts) if prompts is None else task.check_prompts(prompts)
    return (completion_probs(policy, params, prompts) * task.rewards[prompts]).sum(axis=1)


def kl_rows(log_p, log_q):
    """KL(p || q) per row, sum_y p (log p - log q), from log-probabilities [n, N]."""
    p = np.exp(log_p)
    return np.sum(np.where(p > 0, p * (log_p - log_q), 0.0), axis=1)


def sequence_kl(policy, params, reference, prompts=None):
    """KL(pi(.|x) || pi_ref(.|x)) [n] over whole completions."""
    return kl_rows(policy.completion_log_probs(params, prompts),
                   reference.completion_log_probs(prompts))


def _check_reference(reference):
    if not hasattr(reference, "token_log_probs") or not hasattr(reference,
                                                                "completion_log_probs"):
        raise TypeError(f"reference must be a FrozenSequencePolicy (policy.frozen(params)) when "
                        f"beta > 0; got {type(reference).__name__}")


def _prompt_weights(task, prompt_weights):
    if prompt_weights is None:
        return np.full(task.n_prompts, 1.0 / task.n_prompts)
    w = np.asarray(prompt_weights, dtype=np.float64)
    if w.shape != (task.n_prompts,) or np.any(w < 0) or not np.isclose(w.sum(), 1.0):
        raise ValueError(f"prompt_weights must be a probability vector [{task.n_prompts}]")
    return w


def _all_rows(task):
    ys = task.completions
    X, N = task.n_prompts, ys.shape[0]
    return np.repeat(np.arange(X), N), np.tile(ys, (X, 1)), X, N


def objective_gradient(policy, params, task, reference=None, beta: float = 0.0,
                       prompt_weights=None):
    """grad_theta J (module docstring): the true gradient of E r - beta KL, ascent direction."""
    w = _prompt_weights(task, prompt_weights)
    prompts, tokens, X, N = _all_rows(task)
    logp = policy.completion_log_probs(params)
    coef = task.rewards.copy()
    if beta:
        beta = check_positive("beta", beta)
        _check_reference(reference)
        coef = coef - beta * (logp - reference.completion_log_probs())
    weight = (w[:, None] * np.exp(logp) * coef).reshape(X * N)
    return policy.score_sum(params, prompts, tokens, weight)


def compositions(total: int, parts: int) -> np.ndarray:
    """Every vector of ``parts`` non-negative ints summing to ``total``, [M, parts]."""
    n = math.comb(total + parts - 1, parts - 1)
    if n > MAX_COMPOSITIONS:
        raise ValueError(f"{n} compositions of {total} into {parts} classes exceed "
                         f"{MAX_COMPOSITIONS}: use a smaller group_size or fewer reward classes")
    if parts == 1:
        return np.array([[total]], dtype=np.int64)
    rows = [np.concatenate([np.full((len(rest), 1), k), rest], axis=1)
            for k in range(total, -1, -1) for rest in [compositions(total - k, parts - 1)]]
    return np.concatenate(rows, axis=0)


def _multinomial(comps, q):
    """P(counts = comps) for G - 1 = comps.sum(1) i.i.d. draws with class probabilities q."""
    m = comps.sum(axis=1)
    log_fact = np.array([math.lgamma(k + 1) for k in range(int(m.max()) + 1)])
    logc = log_fact[m] - log_fact[comps].sum(axis=1)
    return np.exp(logc) * np.prod(q[None, :] ** comps, axis=1)


def _length_dist(probs, lengths, L):
    """P(|o| = l) for l = 0..L from pi(.|x) [N]."""
    d = np.zeros(L + 1)
    np.add.at(d, lengths, probs)
    return d


def _rest_length_dist(probs, lengths, w, L, G, n_groups):
    """Distribution of the total length of n - 1 other groups (prompts ~ w): a convolution."""
    group = np.zeros(G * L + 1)
    for x, wx in enumerate(w):
        d = np.array([1.0])
        for _ in range(G):
            d = np.convolve(d, _length_dist(probs[x], lengths, L))
        group[:d.size] += wx * d
    total = np.array([1.0])
    for _ in range(n_groups - 1):
        total = np.convolve(total, group)
    return total


def grpo_class_weights(rewards, lengths, probs, G, normalize, aggregation, L, B,
                       rest=None, eps=1e-4, ddof=1):
    """(omega, kappa) per completion [N] of one prompt, from its rewards, lengths, pi [N].

    omega(y) = B E[c_1 A_1 | o_1 = y], kappa(y) = B E[c_1 | o_1 = y] (module docstring);
    ``rest``: distribution of the other groups' total length (aggregation "token").
    """
    keys = np.stack([rewards, lengths.astype(np.float64)], axis=1)
    cls, inv = np.unique(keys, axis=0, return_inverse=True)
    inv = np.asarray(inv).reshape(-1)
    q = np.zeros(cls.shape[0])
    np.add.at(q, inv, probs)
    comps = compositions(G - 1, cls.shape[0])
    pm = _multinomial(comps, q)
    r, ell = cls[:, 0], cls[:, 1]
    s1, s2, t_own = comps @ r, comps @ (r * r), comps @ ell
    omega_c, kappa_c = np.zeros(cls.shape[0]), np.zeros(cls.shape[0])
    for j in range(cls.shape[0]):
        mean = (r[j] + s1) / G
        a = r[j] - mean
        if normalize == "mean_std":
            ss = np.maximum(r[j] ** 2 + s2 - G * mean ** 2, 0.0)
            a = a / (np.sqrt(ss / (G - ddof)) + eps)
        if aggregation == "sequence":
            c = np.full(pm.shape, 1.0 / (B * ell[j]))
        elif aggregation == "constant":
            c = np.full(pm.shape, 1.0 / (B * L))
        else:
            t = np.arange(rest.size)
            c = np.sum(rest[None, :] / (ell[j] + t_own[:, None] + t[None, :]), axis=1)
        omega_c[j], kappa_c[j] = B * np.sum(pm * c * a), B * np.sum(pm * c)
    return omega_c[inv], kappa_c[inv]


def expected_grpo_direction(policy, params, task, group_size: int, normalize: str = "mean_std",
                            aggregation: str = "sequence", n_groups: int = 1, reference=None,
                            beta: float = 0.0, kl: str = "k3", eps: float = 1e-4, ddof: int = 1,
                            prompt_weights=None, return_weights: bool = False):
    """E[-grad_theta grpo_loss] at pi_old = pi_theta, exactly (module docstring).

    Returns grads like params (ascent direction); with ``return_weights`` also (omega, kappa)
    [X, |Y|], the effective per-completion coefficients.
    """
    G = check_group_size(group_size)
    n_groups = check_positive_int("n_groups", n_groups)
    check_choice("normalize", normalize, NORMALIZATIONS)
    check_choice("aggregation", aggregation, AGGREGATIONS)
    check_choice("kl", kl, KL_ESTIMATORS)
    if ddof >= G:
        raise ValueError(f"ddof must be < group_size = {G}; got {ddof}")
    w = _prompt_weights(task, prompt_weights)
    prompts, tokens, X, N = _all_rows(task)
    L, B = task.space.max_len, n_groups * G
    logp = policy.completion_log_probs(params)
    probs = np.exp(logp)
    lengths = task.space.lengths(task.completions)
    rest = (_rest_length_dist(probs, lengths, w, L, G, n_groups) if aggregation == "token"
            else None)
    omega, kappa = np.zeros((X, N)), np.zeros((X, N))
    for x in range(X):
        omega[x], kappa[x] = grpo_class_weights(task.rewards[x], lengths, probs[x], G,
                                                normalize, aggregation, L, B, rest, eps, ddof)
    scale = (w[:, None] * probs).reshape(X * N, 1)
    mask = task.space.mask(tokens)
    tw = scale * omega.reshape(X * N, 1) * mask
    if beta:
        beta = check_positive("beta", beta)
        _check_reference(reference)
        lp_tok = policy.token_log_probs(params, prompts, tokens)
        _, dD = kl_penalty(lp_tok, reference.token_log_probs(prompts, tokens), kl)
        tw = tw - beta * scale * kappa.reshape(X * N, 1) * dD * mask
    g = policy.token_score_sum(params, prompts, tokens, tw)
    return (g, (omega, kappa)) if return_weights else g


def grpo_bias(policy, params, task, group_size: int, normalize: str = "mean_std",
              aggregation: str = "sequence", **options) -> dict:
    """Per prompt x, how the exact GRPO direction g_x relates to the true gradient t_x = grad E r:

        scale_x  = <g_x, t_x> / |t_x|^2      (the unbiased "mean"/"constant" gives
                                              (G-1)/(G L_max) for every prompt)
        cosine_x = <g_x, t_x> / (|g_x| |t_x|)   (1 when g_x is a multiple of t_x)

    with E r (``success``) and the prompt's best-reward completion length (``target_len``).
    Only one prompt at a time is drawn (prompt_weights one-hot), so g_x is that prompt's own
    group; ``options`` go to ``expected_grpo_direction`` (not n_groups > 1 with "token").
    Returns {"success", "target_len", "scale", "cosine"}, arrays [X].
    """
    from .params import flatten
    X = task.n_prompts
    out = {k: np.zeros(X) for k in ("success", "target_len", "scale", "cosine")}
    out["success"] = expected_reward(policy, params, task)
    best = task.rewards.argmax(axis=1)
    out["target_len"] = task.space.lengths(task.completions[best]).astype(np.float64)
    for x in range(X):
        w = np.eye(X)[x]
        g = flatten(expected_grpo_direction(policy, params, task, group_size, normalize,
                                            aggregation, prompt_weights=w, **options))
        t = flatten(objective_gradient(policy, params, task, prompt_weights=w))
        tt = float(t @ t)
        out["scale"][x] = float(g @ t) / tt if tt > 0 else np.nan
        norm = float(np.linalg.norm(g) * np.linalg.norm(t))
        out["cosine"][x] = float(g @ t) / norm if norm > 0 else np.nan
    return out


def dpo_optimum(ref_log_probs, rewards, beta: float):
    """pi*(y|x) = pi_ref(y|x) exp(r(x,y)/beta) / Z(x) [n, N], from log pi_ref and r [n, N].

    Computed as softmax(log pi_ref + r / beta) per row (shifted by the row max: no overflow).
    """
    beta = check_positive("beta", beta)
    lr = np.asarray(ref_log_probs, dtype=np.float64)
    r = np.asarray(rewards, dtype=np.float64)
    if lr.shape != r.shape or lr.ndim != 2:
        raise ValueError(f"ref_log_probs and rewards must both be [n, N]; got {lr.shape}, "
                         f"{r.shape}")
    s = lr + r / beta
    s = s - s.max(axis=1, keepdims=True)
    e = np.exp(s)
    return e / e.sum(axis=1, keepdims=True)
