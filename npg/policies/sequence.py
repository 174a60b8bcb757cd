"""Autoregressive sequence policies pi(y|x) = prod_t pi(y_t | x, y_<t) over a ``SequenceSpace``.

A *state* is (prompt x, prefix y_<t); every policy maps states to next-token logits z [V]:

    tabular:  z = theta[x, s(y_<t)]          one row per (prompt, prefix); s indexes prefixes
    linear:   z = phi(x, y_<t) W + b         phi = ``PrefixEncoding`` (or any features)
    MLP:      z = mlp(phi(x, y_<t))          hidden tanh/relu layers on the same encoding

Teacher forcing evaluates all L positions of a batch of completions at once: row (b, t) is the
state (x_b, y_b<t). The chain rule has the usual two hand-derived layers,

    grad_theta sum_{b,t} w_bt log pi(y_bt | x_b, y_b<t)
        = vjp( w_bt mask_bt (onehot(y_bt) - softmax(z_bt)) )

the inner factor from ``npg.distributions.sequence.token_log_prob_grad``, the vjp from the
network. ``score_sum`` is the w_bt = w_b case, the gradient of sum_b w_b log pi(y_b|x_b).
Rows past a completion's end are evaluated at the empty prefix and weighted 0.

The linear and MLP classes live in ``npg.policies.sequence_mlp``.
A reference policy is ``policy.frozen(params)``: a read-only copy of the parameters with the
evaluation methods (log-probabilities, enumeration) and no gradients.
NumPy only.
"""

from __future__ import annotations

import numpy as np

from ..checks import check_positive_int
from ..distributions import sequence as seqd
from ..distributions import categorical
from ..distributions.sequence import PAD, SequenceSpace
from .base import Policy, as_generator

__all__ = ["SequencePolicy", "TabularSequencePolicy", "FrozenSequencePolicy", "check_space",
           "next_token_probs"]


def check_space(space):
    if not isinstance(space, SequenceSpace):
        raise TypeError(f"space must be a npg.distributions.sequence.SequenceSpace; got "
                        f"{type(space).__name__}")
    return space


class SequencePolicy(Policy):
    """Shared machinery; a subclass defines ``init``, ``param_shapes`` and
    ``forward_states(params, prompts [R], prefixes [R, L], pos [R]) -> (z [R, V], vjp)`` with
    ``vjp(dz [R, V], per_sample=False) -> grads`` (per_sample: a leading [R] axis)."""

    space: SequenceSpace
    n_prompts: int

    def forward_states(self, params, prompts, prefixes, pos):
        raise NotImplementedError

    # -- validation ------------------------------------------------------------------------
    def check_prompts(self, prompts, name: str = "prompts") -> np.ndarray:
        if not hasattr(prompts, "shape") or not hasattr(prompts, "dtype"):
            raise TypeError(f"{name} must be an integer array [B]; got {type(prompts).__name__}")
        p = np.asarray(prompts)
        if not np.issubdtype(p.dtype, np.integer):
            raise TypeError(f"{name} must hold integer prompt indices; got dtype {p.dtype}")
        if p.ndim != 1:
            raise ValueError(f"{name} must have shape [B]; got {p.shape}")
        if p.size and (p.min() < 0 or p.max() >= self.n_prompts):
            raise ValueError(f"{name} must lie in [0, {self.n_prompts}); got values from "
                             f"{p.min()} to {p.max()}")
        return p.astype(np.int64, copy=False)

    def _batch(self, params, prompts, tokens):
        self.check_params(params)
        prompts = self.check_prompts(prompts)
        tokens = self.space.check(tokens)
        if tokens.shape[0] != prompts.shape[0]:
            raise ValueError(f"tokens must have one row per prompt ({prompts.shape[0]}); got "
                             f"{tokens.shape[0]}")
        return prompts, tokens

    # -- teacher forcing ---------------------------------------------------------------------
    def forward(self, params, prompts, tokens):
        """Logits z [B, L, V] at every position of ``tokens``; ``vjp(dz, per_sample=None)``.

        per_sample None: grads summed over the batch; "sequence": [B, ...] (summed over t);
        "token": [B, L, ...].
        """
        prompts, tokens = self._batch(params, prompts, tokens)
        B, L = tokens.shape
        n = self.space.lengths(tokens)
        pos = np.broadcast_to(np.arange(L), (B, L)).copy()
        prefixes = np.full((B, L, L), PAD, dtype=np.int64)
        for t in range(1, L):
            prefixes[:, t, :t] = tokens[:, :t]
        dead = pos >= n[:, None]                        # past the end: evaluate at empty prefix
        prefixes[dead] = PAD
        pos[dead] = 0
        rows_x = np.repeat(prompts, L)
        z, vjp_rows = self.forward_states(params, rows_x, prefixes.reshape(B * L, L),
                                          pos.reshape(B * L))
        V = self.space.vocab_size

        def vjp(dz, per_sample=None):
            dz = np.asarray(dz).reshape(B * L, V)
            if per_sample is None:
                return vjp_rows(dz)
            g = vjp_rows(dz, per_sample=True)
            g = {k: v.reshape((B, L) + v.shape[1:]) for k, v in g.items()}
            if per_sample == "token":
                return g
            if per_sample == "sequence":
                return {k: v.sum(axis=1) for k, v in g.items()}
            raise ValueError(f"per_sample must be None, 'sequence' or 'token'; got {per_sample!r}")
        return z.reshape(B, L, V), vjp

    def token_log_probs(self, params, prompts, tokens):
        """log pi(y_t | x, y_<t) [B, L], 0 on padding."""
        z, _ = self.forward(params, prompts, tokens)
        return seqd.token_log_probs(z, tokens)

    def log_prob(self, params, prompts, tokens):
        """log pi(y|x) = sum_t log pi(y_t | x, y_<t) [B]."""
        return self.token_log_probs(params, prompts, tokens).sum(axis=1)

    def token_score_sum(self, params, prompts, tokens, w):
        """sum_{b,t} w_bt grad_theta log pi(y_bt | x_b, y_b<t) (w [B, L]) -> grads like params."""
        z, vjp = self.forward(params, prompts, tokens)
        return vjp(seqd.token_log_prob_grad(z, tokens, w))

    def score_sum(self, params, prompts, tokens, w):
        """sum_b w_b grad_theta log pi(y_b | x_b) (w [B]) -> grads like params."""
        z, vjp = self.forward(params, prompts, tokens)
        return vjp(seqd.log_prob_grad(z, tokens, w))

    def scores(self, params, prompts, tokens):
        """grad_theta log pi(y_b | x_b) per completion, [B, P] in flatten(params) order."""
        z, vjp = self.forward(params, prompts, tokens)
        g = vjp(seqd.log_prob_grad(z, tokens), per_sample="sequence")
        return self._flat_scores(g, params, z.shape[0])

    def token_scores(self, params, prompts, tokens):
        """grad_theta log pi(y_bt | x_b, y_b<t) per token, [B, L, P]; zero rows on padding."""
        z, vjp = self.forward(params, prompts, tokens)
        w = np.ones(z.shape[:2], dtype=z.dtype)
        g = vjp(seqd.token_log_prob_grad(z, tokens, w), per_sample="token")
        B, L = z.shape[:2]
        flat = self._flat_scores({k: v.reshape((B * L,) + v.shape[2:]) for k, v in g.items()},
                                 params, B * L)
        return flat.reshape(B, L, -1)

    # -- generation and enumeration ------------------------------------------------------------
    def next_logits(self, params, prompts, prefixes, t: int):
        """z(x_b, y_b<t) [B, V] for prefixes [B, L] holding t real tokens (PAD after)."""
        B = prompts.shape[0]
        z, _ = self.forward_states(params, prompts, prefixes, np.full(B, t, dtype=np.int64))
        return z

    def sample(self, params, prompts, rng):
        """y_b ~ pi(.|x_b), tokens [B, L] int64, drawn with the Generator (or seed) ``rng``."""
        self.check_params(params)
        prompts = self.check_prompts(prompts)
        return seqd.sample(lambda pre, t: self.next_logits(params, prompts, pre, t),
                           prompts.shape[0], self.space, as_generator(rng))

    def completion_log_probs(self, params, prompts=None):
        """log pi(y|x) for every completion y of ``space.enumerate()``: [n, |Y|] for the n
        prompts (default: all prompts 0..n_prompts-1)."""
        prompts = np.arange(self.n_prompts) if prompts is None else self.check_prompts(prompts)
        ys = self.space.enumerate()
        N = ys.shape[0]
        lp = self.log_prob(params, np.repeat(prompts, N), np.tile(ys, (prompts.shape[0], 1)))
        return lp.reshape(prompts.shape[0], N)

    def frozen(self, params) -> "FrozenSequencePolicy":
        """A reference policy: this policy with a read-only copy of ``params``."""
        return FrozenSequencePolicy(self, params)


class FrozenSequencePolicy:
    """pi_ref: a policy and a frozen (copied, read-only) parameter dict; evaluation only."""

    def __init__(self, policy: SequencePolicy, params):
        if not isinstance(policy, SequencePolicy):
            raise TypeError(f"policy must be a SequencePolicy; got {type(policy).__name__}")
        policy.check_params(params)
        self.policy = policy
        self.params = {k: np.array(v, copy=True) for k, v in params.items()}
        for v in self.params.values():
            v.setflags(write=False)
        self.space, self.n_prompts = policy.space, policy.n_prompts

    def __repr__(self):
        return f"FrozenSequencePolicy({self.policy!r})"

    def token_log_probs(self, prompts, tokens):
        return self.policy.token_log_probs(self.params, prompts, tokens)

    def log_prob(self, prompts, tokens):
        return self.policy.log_prob(self.params, prompts, tokens)

    def sample(self, prompts, rng):
        return self.policy.sample(self.params, prompts, rng)

    def completion_log_probs(self, prompts=None):
        return self.policy.completion_log_probs(self.params, prompts)


# ----------------------------------------------------------------------------------------------
# Tabular
# ----------------------------------------------------------------------------------------------

class TabularSequencePolicy(SequencePolicy):
    """z = theta[x, s(y_<t)], theta [X, S, V], S = sum_{k<L} (V-1)^k prefixes without eos.

    Prefix index: s(y_<t) = offset_t + sum_{j<t} r(y_j) (V-1)^(t-1-j), offset_t =
    sum_{k<t} (V-1)^k, r(v) = v - [v > eos] the rank of v among the non-end tokens.
    Gradient: d z_r / d theta[x_r, s_r] = I, so vjp scatters dz_r into row (x_r, s_r).
    Every distribution over completions is representable (one softmax per prefix).
    """

    def __init__(self, n_prompts: int, space: SequenceSpace):
        self.n_prompts = check_positive_int("n_prompts", n_prompts)
        self.space = check_space(space)
        k = max(space.vocab_size - 1, 1)
        self.offsets = np.cumsum([0] + [k ** j for j in range(space.max_len)])
        self.n_prefixes = int(self.offsets[space.max_len])

    def __repr__(self):
        return f"TabularSequencePolicy(n_prompts={self.n_prompts}, space={self.space!r})"

    def param_shapes(self):
        return {"theta": (self.n_prompts, self.n_prefixes, self.space.vocab_size)}

    def init(self, rng, scale: float = 0.0, dtype=None):
        """theta = scale * N(0, 1) (scale 0: uniform next tokens), float64 by default."""
        theta = scale * as_generator(rng).standard_normal(self.param_shapes()["theta"])
        return {"theta": theta.astype(np.float64 if dtype is None else dtype)}

    def params_for(self, probs, floor: float = 1e-300):
        """theta representing pi(y|x) = probs [X, |Y|] (rows over ``space.enumerate()``).

        theta[x, s(prefix), v] = log P(prefix, v | x): each softmax then returns the conditional
        P(v | x, prefix) = P(prefix, v) / P(prefix). Prefixes of probability 0 get log(floor).
        """
        p = np.asarray(probs, dtype=np.float64)
        ys = self.space.enumerate()
        if p.shape != (self.n_prompts, ys.shape[0]) or np.any(p < 0):
            raise ValueError(f"probs must be non-negative [{self.n_prompts}, {ys.shape[0]}]")
        mass = np.zeros(self.param_shapes()["theta"])
        n = self.space.lengths(ys)
        for t in range(self.space.max_len):
            rows = n > t
            pre = np.where(np.arange(self.space.max_len) < t, ys[rows], PAD)
            s = self.prefix_index(pre, np.full(rows.sum(), t))
            for x in range(self.n_prompts):
                np.add.at(mass[x], (s, ys[rows, t]), p[x, rows])
        return {"theta": np.log(np.maximum(mass, floor))}

    def prefix_index(self, prefixes, pos):
        """s(y_<t) [R] for prefixes [R, L] (t = pos real tokens, no eos among them)."""
        k, eos = max(self.space.vocab_size - 1, 1), self.space.eos
        idx = self.offsets[pos].copy()
        for j in range(self.space.max_len):
            on = j < pos
            r = prefixes[:, j] - (prefixes[:, j] > eos)
            idx += np.where(on, r * k ** np.maximum(pos - 1 - j, 0), 0)
        return idx

    def forward_states(self, params, prompts, prefixes, pos):
        self.check_params(params)
        theta = params["theta"]
        s = self.prefix_index(prefixes, pos)
        z = theta[prompts, s]

        def vjp(dz, per_sample=False):
            if per_sample:
                out = np.zeros((dz.shape[0],) + theta.shape, dtype=dz.dtype)
                out[np.arange(dz.shape[0]), prompts, s] = dz
                return {"theta": out}
            out = np.zeros_like(theta, dtype=dz.dtype)
            np.add.at(out, (prompts, s), dz)
            return {"theta": out}
        return z, vjp


def next_token_probs(policy: SequencePolicy, params, prompts, prefixes, t: int):
    """softmax(z(x, y_<t)) [B, V], a convenience for inspection."""
    return categorical.softmax(policy.next_logits(params, prompts, prefixes, t))
