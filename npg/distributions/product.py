"""Product distributions for MultiDiscrete and MultiBinary actions.

MultiDiscrete(nvec), K dimensions with n_k values each: independent categoricals, one per
dimension, parametrised by the concatenated logits z = [z_1 | ... | z_K], z_k [..., n_k]:

    pi(a) = prod_k softmax(z_k)_{a_k}
    log pi(a) = sum_k log softmax(z_k)_{a_k},   H = sum_k H_k,   KL(p || q) = sum_k KL_k

so every derivative is the categorical one (``npg.distributions.categorical``) in its block:
d log pi(a) / d z_k = onehot(a_k) - pi_k, d H / d z_k = -pi_k (log pi_k + H_k),
d KL / d zp_k = p_k (r_k - KL_k), d KL / d zq_k = q_k - p_k.

MultiBinary(K): independent Bernoullis with logits z [..., K], p_k = sigmoid(z_k):

    log pi(a) = sum_k a_k z_k - softplus(z_k)        d/dz_k = a_k - sigmoid(z_k)
    H = sum_k softplus(z_k) - z_k sigmoid(z_k)         d/dz_k = -z_k s_k (1 - s_k), s = sigmoid
    KL(p || q) = sum_k p_k (zp_k - zq_k) - softplus(zp_k) + softplus(zq_k)
        d/dzp_k = p_k (1 - p_k) (zp_k - zq_k),          d/dzq_k = q_k - p_k

(log sigmoid(z) = z - softplus(z) and log(1 - sigmoid(z)) = -softplus(z); see Bishop 2006,
"Pattern Recognition and Machine Learning", sec. 4.3.2, for the logistic parametrisation.)
softplus(z) = log(1 + e^z) is computed as logaddexp(0, z) and the sigmoid from e^{-|z|}, so no
exp overflows for any finite logits. Logits must be finite (ValueError naming the argument);
actions are integers in range (ValueError); every function keeps the logits' float dtype.

| symbol | shape           | meaning                                         |
|--------|-----------------|-------------------------------------------------|
| nvec   | (n_1, ..., n_K) | values per MultiDiscrete dimension, each >= 1   |
| z      | [..., sum nvec] | concatenated logits (MultiDiscrete)             |
| z      | [..., K]        | Bernoulli logits (MultiBinary)                  |
| a      | [..., K]        | actions: a_k in [0, n_k) or in {0, 1}           |
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..backend import create, device_of, get_xp
from ..checks import check_float, check_ndim
from . import categorical as C

__all__ = ["check_nvec", "md_split", "md_log_prob", "md_log_prob_grad", "md_entropy",
           "md_entropy_grad", "md_kl", "md_kl_grad", "md_sample", "md_mode",
           "softplus", "sigmoid", "bern_log_prob", "bern_log_prob_grad", "bern_entropy",
           "bern_entropy_grad", "bern_kl", "bern_kl_grad", "bern_sample", "bern_mode",
           "md_terms", "bern_terms", "ProductLogits"]


# ------------------------------------------------------------------------------ checks

def check_nvec(nvec) -> tuple:
    """nvec as a tuple of Python ints, each >= 1 (ValueError naming the zero or negative
    dimension; TypeError for non-integers), at least one dimension."""
    arr = np.asarray(nvec)
    if arr.ndim == 1 and arr.size == 0:
        raise ValueError("nvec must have at least one dimension; got an empty nvec")
    if arr.dtype.kind not in "iu" or arr.ndim != 1:
        raise TypeError(f"nvec must be a 1-d sequence of ints (values per dimension); got "
                        f"{nvec!r}")
    bad = np.flatnonzero(arr < 1)
    if bad.size:
        k = int(bad[0])
        raise ValueError(f"nvec[{k}] = {int(arr[k])}: every MultiDiscrete dimension needs at "
                         f"least one value (nvec must be >= 1); got nvec = {arr.tolist()}")
    return tuple(int(n) for n in arr)


def _check_logits(name, z, width=None):
    check_ndim(name, z, tuple(range(1, 33)), "logits [..., W]")
    check_float(name, z)
    if width is not None and z.shape[-1] != width:
        raise ValueError(f"{name} must have {width} logits on its last axis (sum of nvec); got "
                         f"shape {tuple(z.shape)}")
    xp = get_xp(z)
    if z.size and not bool(xp.all(xp.isfinite(z))):
        raise ValueError(f"{name} must be finite logits; it contains NaN or inf")


def _check_actions(name, a, batch_shape, high):
    """a [..., K] integers with 0 <= a_k < high[k] (int64 on a's module and device)."""
    if get_xp(a) is not np:
        return _check_actions_xp(name, a, batch_shape, high)
    a = np.asarray(a)
    if a.dtype.kind not in "iub":
        raise TypeError(f"{name} must be integer actions; got dtype {a.dtype}")
    if tuple(a.shape) != tuple(batch_shape):
        raise ValueError(f"{name} must have shape {tuple(batch_shape)}; got {tuple(a.shape)}")
    high = np.asarray(high)
    if a.size and (a.min() < 0 or np.any(a >= high)):
        raise ValueError(f"{name} must lie in [0, n_k) per dimension, n = {high.tolist()}; got "
                         f"values from {a.min()} to {a.max()}")
    return a.astype(np.int64, copy=False)


def _check_actions_xp(name, a, batch_shape, high):
    """``_check_actions`` for an array of another module (CuPy, array_api_strict)."""
    xp = get_xp(a)
    if not (xp.isdtype(a.dtype, "integral") or a.dtype == xp.bool):
        raise TypeError(f"{name} must be integer actions; got dtype {a.dtype}")
    if tuple(a.shape) != tuple(batch_shape):
        raise ValueError(f"{name} must have shape {tuple(batch_shape)}; got {tuple(a.shape)}")
    a = xp.astype(a, xp.int64)
    hi = create(xp, "asarray", np.asarray(high, dtype=np.int64), device=device_of(a))
    if a.size and (int(xp.min(a)) < 0 or bool(xp.any(a >= hi))):
        raise ValueError(f"{name} must lie in [0, n_k) per dimension, n = "
                         f"{np.asarray(high).tolist()}; got values from {int(xp.min(a))} to "
                         f"{int(xp.max(a))}")
    return a


# ------------------------------------------------------------------------------ MultiDiscrete

def md_split(z, nvec) -> list:
    """The per-dimension logit blocks [z_1, ..., z_K] of z [..., sum nvec] (views)."""
    nvec = check_nvec(nvec)
    _check_logits("z", z, sum(nvec))
    return _split(z, nvec)


def _split(z, nvec):
    ends = np.cumsum(nvec)
    return [z[..., int(e) - n:int(e)] for n, e in zip(nvec, ends)]


def _md_args(z, a, nvec):
    nvec = check_nvec(nvec)
    _check_logits("z", z, sum(nvec))
    if a is None:
        return None, nvec
    return _check_actions("a", a, z.shape[:-1] + (len(nvec),), nvec), nvec


def md_log_prob(z, a, nvec):
    """log pi(a) = sum_k log softmax(z_k)_{a_k}.  Shapes: z [..., sum nvec], a [..., K] -> [...].
    Gradient: d/dz_k = onehot(a_k) - softmax(z_k) (``md_log_prob_grad``)."""
    a, nvec = _md_args(z, a, nvec)
    return sum(C.log_prob(zk, a[..., k], check=False) for k, zk in enumerate(_split(z, nvec)))


def md_log_prob_grad(z, a, nvec):
    """d log pi(a) / d z = [onehot(a_1) - pi_1 | ... | onehot(a_K) - pi_K]  [..., sum nvec]."""
    a, nvec = _md_args(z, a, nvec)
    return get_xp(z).concat([C.log_prob_grad(zk, a[..., k], check=False)
                             for k, zk in enumerate(_split(z, nvec))], axis=-1)


def md_entropy(z, nvec):
    """H = sum_k H(softmax(z_k)).  Shapes: z [..., sum nvec] -> [...].
    Gradient: d H / d z_k = -pi_k (log pi_k + H_k) (``md_entropy_grad``)."""
    _, nvec = _md_args(z, None, nvec)
    return sum(C.entropy(zk, check=False) for zk in _split(z, nvec))


def md_entropy_grad(z, nvec):
    """d H / d z = [-pi_k (log pi_k + H_k)]_k concatenated  [..., sum nvec]."""
    _, nvec = _md_args(z, None, nvec)
    return get_xp(z).concat([C.entropy_grad(zk, check=False) for zk in _split(z, nvec)],
                            axis=-1)


def _md_pair(z_p, z_q, nvec):
    nvec = check_nvec(nvec)
    _check_logits("z_p", z_p, sum(nvec))
    _check_logits("z_q", z_q, sum(nvec))
    if z_p.shape != z_q.shape:
        raise ValueError(f"z_q must have the shape of z_p {z_p.shape}; got {z_q.shape}")
    return zip(_split(z_p, nvec), _split(z_q, nvec))


def md_kl(z_p, z_q, nvec):
    """KL(p || q) = sum_k KL(softmax(zp_k) || softmax(zq_k)) [...]; >= 0.
    Gradients (``md_kl_grad``): d/dzp_k = p_k (r_k - KL_k), d/dzq_k = q_k - p_k."""
    return sum(C.kl(p, q, check=False) for p, q in _md_pair(z_p, z_q, nvec))


def md_kl_grad(z_p, z_q, nvec):
    """(d KL / d z_p, d KL / d z_q), each [..., sum nvec], the categorical blocks side by side."""
    parts = [C.kl_grad(p, q, check=False) for p, q in _md_pair(z_p, z_q, nvec)]
    xp = get_xp(z_p)
    return (xp.concat([g for g, _ in parts], axis=-1), xp.concat([g for _, g in parts], axis=-1))


def md_sample(z, nvec, rng: np.random.Generator):
    """a ~ pi: one Gumbel-max draw per dimension (``categorical.sample``, dimensions in
    order from ``rng``). Shapes: z [..., sum nvec] -> int64 [..., K]."""
    _, nvec = _md_args(z, None, nvec)
    return get_xp(z).stack([C.sample(zk, rng) for zk in _split(z, nvec)], axis=-1)


def md_mode(z, nvec):
    """The most probable joint action: argmax per dimension. int64 [..., K]."""
    _, nvec = _md_args(z, None, nvec)
    return get_xp(z).stack([C.mode(zk) for zk in _split(z, nvec)], axis=-1)


# ------------------------------------------------------------------------------ MultiBinary

def softplus(z):
    """softplus(z) = log(1 + e^z) = logaddexp(0, z) (no overflow). d/dz = sigmoid(z)."""
    xp = get_xp(z)
    return xp.logaddexp(create(xp, "zeros", (), dtype=z.dtype, device=device_of(z)), z)


def sigmoid(z):
    """sigmoid(z) = 1 / (1 + e^{-z}), from e = e^{-|z|}: 1/(1+e) for z >= 0, e/(1+e) below.
    d/dz = sigmoid(z) (1 - sigmoid(z))."""
    xp = get_xp(z)
    e = xp.exp(-xp.abs(z))
    s = xp.where(z >= 0, 1 / (1 + e), e / (1 + e))
    return s if s.dtype == z.dtype else xp.astype(s, z.dtype)


def _bern_args(z, a=None):
    _check_logits("z", z)
    if a is None:
        return None
    a = _check_actions("a", a, z.shape, np.full(z.shape[-1], 2))
    return get_xp(a).astype(a, z.dtype)


def bern_log_prob(z, a):
    """log pi(a) = sum_k a_k z_k - softplus(z_k).  Shapes: z [..., K], a [..., K] in {0, 1}
    -> [...].  Gradient: a - sigmoid(z) (``bern_log_prob_grad``)."""
    a = _bern_args(z, a)
    return get_xp(z).sum(a * z - softplus(z), axis=-1)


def bern_log_prob_grad(z, a):
    """d log pi(a) / d z_k = a_k - sigmoid(z_k)  [..., K]."""
    a = _bern_args(z, a)
    return a - sigmoid(z)


def bern_entropy(z):
    """H = sum_k softplus(z_k) - z_k sigmoid(z_k) [...] (each term in [0, log 2]).
    Gradient: d H / d z_k = -z_k s_k (1 - s_k), s = sigmoid(z) (``bern_entropy_grad``)."""
    _bern_args(z)
    return get_xp(z).sum(softplus(z) - z * sigmoid(z), axis=-1)


def bern_entropy_grad(z):
    """d H / d z_k = s_k - [s_k (1 - s_k) z_k + s_k] = -z_k s_k (1 - s_k)  [..., K]."""
    _bern_args(z)
    s = sigmoid(z)
    return -z * s * (1 - s)


def _bern_pair(z_p, z_q):
    _check_logits("z_p", z_p)
    _check_logits("z_q", z_q)
    if z_p.shape != z_q.shape:
        raise ValueError(f"z_q must have the shape of z_p {z_p.shape}; got {z_q.shape}")


def bern_kl(z_p, z_q):
    """KL(p || q) = sum_k p_k (zp_k - zq_k) - softplus(zp_k) + softplus(zq_k) [...], p =
    sigmoid(z_p): from log p = z - softplus(z), log(1 - p) = -softplus(z), the p softplus terms
    cancel. Gradients: p (1 - p)(zp - zq) and q - p (``bern_kl_grad``)."""
    _bern_pair(z_p, z_q)
    return get_xp(z_p).sum(sigmoid(z_p) * (z_p - z_q) - softplus(z_p) + softplus(z_q), axis=-1)


def bern_kl_grad(z_p, z_q):
    """(d KL / d z_p, d KL / d z_q) = (p (1 - p)(zp - zq), q - p), each [..., K]: d/dzp of
    p (zp - zq) is p (1 - p)(zp - zq) + p, and -softplus(zp) contributes -p."""
    _bern_pair(z_p, z_q)
    p, q = sigmoid(z_p), sigmoid(z_q)
    return p * (1 - p) * (z_p - z_q), q - p


def bern_sample(z, rng: np.random.Generator):
    """a_k = 1 if u_k < sigmoid(z_k) else 0, u_k ~ U[0, 1) from ``rng``: P(a_k = 1) = p_k.
    Shapes: z [..., K] -> int64 [..., K]."""
    _bern_args(z)
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator; got {type(rng).__name__}")
    xp = get_xp(z)
    u = rng.random(tuple(z.shape))              # host draws, one copy to z's device
    u = u if xp is np else create(xp, "asarray", u, device=device_of(z))
    return xp.astype(u < sigmoid(z), xp.int64)


def bern_mode(z):
    """The most probable bits: 1 where z > 0 (p > 1/2), else 0 (ties at 0). int64 [..., K]."""
    _bern_args(z)
    return get_xp(z).astype(z > 0, get_xp(z).int64)


# ------------------------------------------------------------------------------ updater terms

def md_terms(z, a, nvec):
    """log pi(a) [B], H [B] and ``d_dist(d_logp [B], d_ent [B] or None) -> d L / d z`` for
    MultiDiscrete logits z [B, sum nvec] and actions a [B, K]: the sums over the K blocks of
    ``categorical.terms`` (log pi and H add over independent dimensions), so
    d L / d z_k = d_logp (onehot(a_k) - pi_k) - d_ent pi_k (log pi_k + H_k), block by block.
    Inputs are checked once here."""
    a, nvec = _md_args(z, a, nvec)
    blocks = [C.terms(zk, a[..., k]) for k, zk in enumerate(_split(z, nvec))]
    logp = sum(lp for lp, _, _ in blocks)
    ent = sum(h for _, h, _ in blocks)

    def d_dist(d_logp, d_ent=None):
        return get_xp(z).concat([d(d_logp, d_ent) for _, _, d in blocks], axis=-1)
    return logp, ent, d_dist


def bern_terms(z, a):
    """log pi(a) [B], H [B] and ``d_dist(d_logp, d_ent)`` for Bernoulli logits z [B, K]:
    d L / d z = d_logp (a - s) - d_ent z s (1 - s), s = sigmoid(z)."""
    af = _bern_args(z, a)
    xp = get_xp(z)
    s, sp = sigmoid(z), softplus(z)
    logp = xp.sum(af * z - sp, axis=-1)
    ent = xp.sum(sp - z * s, axis=-1)

    def d_dist(d_logp, d_ent=None):
        d = d_logp[:, None] * (af - s)
        if d_ent is not None:
            d = d - d_ent[:, None] * (z * s * (1 - s))
        return d
    return logp, ent, d_dist


# ------------------------------------------------------------------------------ the parameters

@dataclass(frozen=True)
class ProductLogits:
    """The distribution parameters of a product policy (``npg.policies.product``): logits
    z [B, W] with their block structure, so that the updaters' chain rule
    (the policy's ``terms``) and acting (``npg.algos.base.Algorithm.act``) know
    the family, as a tuple (mean, log_std) says Gaussian and a plain [B, A] array categorical.

    z       [B, W] logits: W = sum nvec (MultiDiscrete) or K (MultiBinary).
    nvec    (n_1, ..., n_K); (2,) * K for MultiBinary.
    binary  True: independent Bernoullis (MultiBinary), False: categoricals (MultiDiscrete).
    """

    z: np.ndarray
    nvec: tuple
    binary: bool = False

    def terms(self, act):
        """(log pi(a_b) [B], H_b [B], d_dist): ``bern_terms`` / ``md_terms``."""
        return bern_terms(self.z, act) if self.binary else md_terms(self.z, act, self.nvec)

    def log_prob(self, act):
        """log pi(a_b) [B] for actions act [B, K]."""
        return bern_log_prob(self.z, act) if self.binary else md_log_prob(self.z, act, self.nvec)

    def entropy(self):
        """H(pi_b) [B]."""
        return bern_entropy(self.z) if self.binary else md_entropy(self.z, self.nvec)

    def sample(self, rng: np.random.Generator):
        """a_b ~ pi_b, int64 [B, K]."""
        return bern_sample(self.z, rng) if self.binary else md_sample(self.z, self.nvec, rng)

    def mode(self):
        """The most probable joint action, int64 [B, K]."""
        return bern_mode(self.z) if self.binary else md_mode(self.z, self.nvec)
