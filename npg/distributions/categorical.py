"""Categorical distribution over A actions, parametrised by logits z [..., A].

    pi(a) = softmax(z)_a = exp(z_a) / sum_b exp(z_b)

Every function is batched over the leading dims ``...`` and takes its array module from its
inputs, so it runs on NumPy, CuPy and array_api_strict. Softmaxes subtract the row maximum
first, so no exp overflows for any finite logits. Invalid actions are masked with the large
*finite* negative ``MASK_LOGIT`` (no -inf arithmetic anywhere, so no inf - inf = NaN).

Bad and extreme input. Logits must be finite: NaN, +inf and -inf raise a ValueError naming the
argument (mask invalid actions with ``mask_logits``, not with -inf). Any finite logits give
finite results, in float32 and float64 alike: a log-probability below -F, F = the dtype's
largest finite number (logits +-1e308 put one at -2e308), is not representable and saturates at
-F, so log pi(a) = max(z_a - m, -F) - log sum_b exp(z_b - m); the action's probability is 0
either way, and the gradients onehot(a) - pi, -pi (log pi + H), p (r - KL) stay exact in the
entries that are not saturated. A KL above F saturates at F likewise.

| symbol | shape    | meaning                                  |
|--------|----------|------------------------------------------|
| z      | [..., A] | logits (real floating)                   |
| a      | [...]    | action indices, integers in [0, A)       |
| pi     | [..., A] | probabilities softmax(z)                 |
"""

from __future__ import annotations

import numpy as np

from ..checks import check_actions, check_float, check_ndim, check_positive_int
from ..backend import create, device_of, get_xp

__all__ = ["MASK_LOGIT", "log_softmax", "softmax", "one_hot", "log_prob", "log_prob_grad",
           "entropy", "entropy_grad", "kl", "kl_grad", "terms", "sample", "mode",
           "mask_logits"]

MASK_LOGIT = -1e9
"""Logit given to invalid actions: exp(MASK_LOGIT - max) underflows to exactly 0 in float32 and
float64, yet every sum and product involving it stays finite."""


def _check_logits(name, z):
    check_ndim(name, z, tuple(range(1, 33)), "logits [..., A]")
    check_float(name, z)
    if z.shape[-1] < 1:
        raise ValueError(f"{name} must have at least one action (last axis); got shape "
                         f"{tuple(z.shape)}")
    xp = get_xp(z)
    if z.size and not bool(xp.all(xp.isfinite(z))):
        kind = ("NaN" if bool(xp.any(xp.isnan(z))) else
                "+inf" if bool(xp.any(z == float("inf"))) else "-inf")
        raise ValueError(f"{name} must be finite logits; it contains {kind} (mask invalid "
                         f"actions with mask_logits, whose MASK_LOGIT = {MASK_LOGIT:g} is finite)")


def _check_act(name, z, a):
    check_actions(name, a, int(z.shape[-1]))
    if tuple(a.shape) != tuple(z.shape[:-1]):
        raise ValueError(f"{name} must have shape {tuple(z.shape[:-1])} (the logits' batch "
                         f"shape); got {tuple(a.shape)}")


def one_hot(a, n: int, dtype, check: bool = True):
    """onehot(a) [..., n]: 1 where the last index equals a, else 0 (a: ints [...] in [0, n)).

    ``check=False`` here and below trusts the inputs (an updater that validated its batch once).
    """
    if check:
        n = check_positive_int("n", n)
        check_actions("a", a, n)
    xp = get_xp(a)
    classes = create(xp, "arange", n, dtype=a.dtype, device=device_of(a))   # on a's device
    return xp.astype(a[..., None] == classes, dtype)


def log_softmax(z, check: bool = True):
    """log pi = z - log sum_b exp(z_b), computed as (z - m) - log sum_b exp(z_b - m), m = max z.

    Shapes: z [..., A] -> [..., A].
    Gradient (Jacobian): d log pi_i / d z_j = delta_ij - pi_j.
    """
    if check:
        _check_logits("z", z)
    xp = get_xp(z)
    with np.errstate(over="ignore"):          # z - m < -F rounds to -inf, saturated next
        y = z - xp.max(z, axis=-1, keepdims=True)
    y = xp.maximum(y, create(xp, "asarray", -xp.finfo(z.dtype).max, dtype=z.dtype,
                                   device=device_of(z)))   # saturate at -F
    return y - xp.log(xp.sum(xp.exp(y), axis=-1, keepdims=True))


def softmax(z, check: bool = True):
    """pi = exp(z - m) / sum_b exp(z_b - m) with m = max z (the shift cancels).

    Shapes: z [..., A] -> [..., A]; rows sum to 1.
    Gradient (Jacobian): d pi_i / d z_j = pi_i (delta_ij - pi_j).
    """
    if check:
        _check_logits("z", z)
    xp = get_xp(z)
    with np.errstate(over="ignore"):          # z - m = -inf gives exp = 0, the right value
        e = xp.exp(z - xp.max(z, axis=-1, keepdims=True))
    return e / xp.sum(e, axis=-1, keepdims=True)


def log_prob(z, a, check: bool = True):
    """log pi(a) = z_a - log sum_b exp(z_b).

    Shapes: z [..., A], a [...] ints -> [...].
    Gradient: d log pi(a) / d z = onehot(a) - pi            (see ``log_prob_grad``)
    """
    if check:
        _check_logits("z", z)
        _check_act("a", z, a)
    onehot = one_hot(a, z.shape[-1], z.dtype, check=False)
    return get_xp(z).sum(onehot * log_softmax(z, check=False), axis=-1)


def log_prob_grad(z, a, check: bool = True):
    """d log pi(a) / d z = onehot(a) - pi.

    Derivation: log pi(a) = z_a - log sum_b exp(z_b); the first term gives delta_{a j}, the
    second exp(z_j) / sum_b exp(z_b) = pi_j.
    Shapes: z [..., A], a [...] ints -> [..., A].
    """
    if check:
        _check_logits("z", z)
        _check_act("a", z, a)
    return one_hot(a, z.shape[-1], z.dtype, check=False) - softmax(z, check=False)


def entropy(z, check: bool = True):
    """H(pi) = -sum_a pi_a log pi_a.

    Shapes: z [..., A] -> [...]. Masked actions (pi_a = 0 exactly, log pi_a finite) add 0.
    Gradient: d H / d z_j = -pi_j (log pi_j + H)            (see ``entropy_grad``)
    """
    if check:
        _check_logits("z", z)
    xp = get_xp(z)
    logp = log_softmax(z, check=False)
    return -xp.sum(xp.exp(logp) * logp, axis=-1)


def entropy_grad(z, check: bool = True):
    """d H / d z_j = -pi_j (log pi_j + H).

    Derivation: dH/dz_j = -sum_i (d pi_i/d z_j)(log pi_i + 1) with d pi_i/d z_j =
    pi_i (delta_ij - pi_j), so dH/dz_j = -pi_j (log pi_j + 1) + pi_j sum_i pi_i (log pi_i + 1)
    = -pi_j (log pi_j + 1) + pi_j (1 - H) = -pi_j (log pi_j + H).
    Shapes: z [..., A] -> [..., A]; each row sums to 0 (softmax is shift-invariant).
    """
    if check:
        _check_logits("z", z)
    xp = get_xp(z)
    logp = log_softmax(z, check=False)
    p = xp.exp(logp)
    h = -xp.sum(p * logp, axis=-1, keepdims=True)
    return -p * (logp + h)


def kl(z_p, z_q, check: bool = True):
    """KL(p || q) = sum_a p_a (log p_a - log q_a), p = softmax(z_p), q = softmax(z_q).

    Shapes: z_p [..., A], z_q [..., A] -> [...]; >= 0, = 0 iff z_p - z_q is constant per row.
    Gradients: d KL / d z_p = p (r - KL) with r = log p - log q;
               d KL / d z_q = q - p                          (see ``kl_grad``)
    """
    if check:
        _check_same_shape(z_p, z_q)
    xp = get_xp(z_p, z_q)
    logp, logq = log_softmax(z_p, check=False), log_softmax(z_q, check=False)
    return xp.sum(xp.exp(logp) * (logp - logq), axis=-1)


def kl_grad(z_p, z_q, check: bool = True):
    """(d KL(p||q) / d z_p, d KL(p||q) / d z_q) = (p (r - KL), q - p), r = log p - log q.

    Derivation: d/dz_p_j sum_i p_i r_i = sum_i p_i (delta_ij - p_j)(r_i + 1)
    = p_j (r_j + 1) - p_j (KL + 1) = p_j (r_j - KL).  The q-term is -sum_i p_i log q_i, whose
    derivative is -(p_j - q_j sum_i p_i) = q_j - p_j.
    Shapes: [..., A] each.
    """
    if check:
        _check_same_shape(z_p, z_q)
    xp = get_xp(z_p, z_q)
    logp, logq = log_softmax(z_p, check=False), log_softmax(z_q, check=False)
    p, q = xp.exp(logp), xp.exp(logq)
    r = logp - logq
    pr = p * r
    k = xp.sum(pr, axis=-1, keepdims=True)
    return pr - p * k, q - p          # p (r - KL), written so that r - KL cannot overflow


def _check_same_shape(z_p, z_q):
    _check_logits("z_p", z_p)
    _check_logits("z_q", z_q)
    if tuple(z_p.shape) != tuple(z_q.shape):
        raise ValueError(f"z_q must have the shape of z_p {tuple(z_p.shape)}; got "
                         f"{tuple(z_q.shape)}")


def terms(z, a, mask=None, onehot=None):
    """The chain-rule layer for a loss on log pi(a_b) and H_b, from one evaluation:
    ``(logp [B], H [B], d_dist)`` with

        d_dist(d_logp [B], d_ent [B] or None) -> d L / d z [B, A]
                = d_logp (onehot(a) - pi) - d_ent pi (log pi + H)

    (``log_prob_grad`` and ``entropy_grad``, weighted per sample). ``onehot`` [B, A] may be
    passed precomputed (PPO reuses it across epochs). Action mask ``mask`` [B, A] bool: the
    logits become z' = where(mask, z, MASK_LOGIT) (``mask_logits``), so pi' is exactly 0 on
    masked actions, and d z' / d z = mask: the gradient is the formula above at z' times the
    mask, exactly 0 on every masked logit. Inputs are trusted (the caller validated them).
    """
    xp = get_xp(z)
    if mask is not None:
        z = xp.where(mask, z, create(xp, "asarray", MASK_LOGIT, dtype=z.dtype,
                                        device=device_of(z)))
    if onehot is None:
        onehot = one_hot(a, z.shape[-1], z.dtype, check=False)
    log_pi = log_softmax(z, check=False)
    pi = xp.exp(log_pi)
    logp = xp.sum(onehot * log_pi, axis=-1)
    ent = -xp.sum(pi * log_pi, axis=-1)

    def d_dist(d_logp, d_ent=None):
        d = d_logp[:, None] * (onehot - pi)
        if d_ent is not None:
            d = d - d_ent[:, None] * (pi * (log_pi + ent[:, None]))
        return d if mask is None else xp.where(mask, d, xp.zeros_like(d))
    return logp, ent, d_dist


def sample(z, rng: np.random.Generator):
    """Draw a ~ pi by the Gumbel-max trick: a = argmax_j (z_j + g_j), g_j ~ Gumbel(0, 1) i.i.d.

    P(argmax = j) = softmax(z)_j exactly (Gumbel 1954; Maddison et al. 2014, "A* Sampling").
    The Gumbel noise is drawn from the NumPy Generator ``rng`` and moved to z's module, so the
    draw is reproducible and identical on every backend. Masked logits never win.
    Shapes: z [..., A] -> int64 [...]. Not differentiable.
    """
    _check_logits("z", z)
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator; got {type(rng).__name__}")
    xp = get_xp(z)
    g = create(xp, "asarray", rng.gumbel(size=tuple(z.shape)), dtype=z.dtype,
               device=device_of(z))     # drawn on the host, one copy to z's device
    return xp.astype(xp.argmax(z + g, axis=-1), xp.int64)


def mode(z):
    """The most probable action argmax_a z_a (first one on ties).

    Shapes: z [..., A] -> int64 [...].
    """
    _check_logits("z", z)
    xp = get_xp(z)
    return xp.astype(xp.argmax(z, axis=-1), xp.int64)


def mask_logits(z, mask):
    """z where ``mask`` is True, ``MASK_LOGIT`` (finite) elsewhere.

    Shapes: z [..., A], mask bool broadcastable to z -> [..., A]. Every row must keep at least
    one valid action. Gradient: d out / d z = mask (0 for masked entries).
    """
    _check_logits("z", z)
    xp = get_xp(z, mask)
    if not hasattr(mask, "dtype") or mask.dtype != xp.bool:
        raise TypeError(f"mask must be a boolean array; got "
                        f"{getattr(mask, 'dtype', type(mask).__name__)}")
    if not bool(xp.all(xp.any(mask, axis=-1))):
        raise ValueError("mask must allow at least one action in every row")
    return xp.where(mask, z, create(xp, "asarray", MASK_LOGIT, dtype=z.dtype,
                                   device=device_of(z)))
