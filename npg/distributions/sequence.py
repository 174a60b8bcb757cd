"""Autoregressive distribution over completions: finite vocabulary, an end token, a maximum length.

A completion y = (y_1, ..., y_n) of a prompt x is a string of tokens from {0, ..., V-1} that
stops at the first end token ``eos`` or at the maximum length L, whichever comes first:

    n <= L,   y_t != eos for t < n,   and y_n = eos whenever n < L.

(At n = L the last token may be anything: generation is cut at L.) Its probability under an
autoregressive policy with next-token logits z_t = z(x, y_<t) [V] is

    pi(y|x) = prod_{t=1}^{n} softmax(z_t)_{y_t},
    log pi(y|x) = sum_{t=1}^{n} log pi(y_t | x, y_<t)

and these probabilities sum to one over the set Y of all completions (each factor is a
distribution over the next token, and every branch ends at eos or at L).

Storage: a batch of completions is an int64 array ``tokens [B, L]`` padded with ``PAD = -1``
after the last token; ``mask [B, L]`` is 1.0 on the n real tokens. Scores come in two layers:

    d log pi(y_t | x, y_<t) / d z_t = onehot(y_t) - softmax(z_t)        (per token, [B, L, V])
    d log pi(y|x) / d z_t           = mask_t (onehot(y_t) - softmax(z_t))  (per sequence)

so the gradient of any weighted token sum  sum_{b,t} w_bt log pi(y_bt | ...)  with respect to
the logits is  w_bt mask_bt (onehot(y_bt) - softmax(z_bt)); the policy's vjp finishes the chain.

| symbol | shape     | meaning                                         |
|--------|-----------|-------------------------------------------------|
| z      | [B, L, V] | next-token logits at every position             |
| tokens | [B, L]    | completions, PAD (-1) after the last token      |
| mask   | [B, L]    | 1.0 on real tokens, 0.0 on padding              |
| w      | [B, L]    | per-token weights (0 where mask is 0)            |

NumPy only (enumeration and sampling are host-side loops over positions).
"""

from __future__ import annotations

import itertools

import numpy as np

from ..checks import check_positive_int
from . import categorical

__all__ = ["PAD", "SequenceSpace", "token_log_probs", "log_prob", "token_log_prob_grad",
           "log_prob_grad", "sample"]

PAD = -1


class SequenceSpace:
    """The completions of a vocabulary of V tokens with end token ``eos`` and max length L.

    Args:
        vocab_size: V >= 2 when max_len > 1 (an end token and at least one other), >= 1 when 1.
        max_len: L, the most tokens a completion has (the end token included).
        eos: the end-token index in [0, V).
    """

    def __init__(self, vocab_size: int, max_len: int, eos: int = 0):
        self.vocab_size = check_positive_int("vocab_size", vocab_size)
        self.max_len = check_positive_int("max_len", max_len)
        if isinstance(eos, bool) or not isinstance(eos, (int, np.integer)):
            raise TypeError(f"eos must be an int token index; got {type(eos).__name__}")
        if not 0 <= int(eos) < self.vocab_size:
            raise ValueError(f"eos must lie in [0, {self.vocab_size}); got {int(eos)}")
        if self.max_len > 1 and self.vocab_size < 2:
            raise ValueError("vocab_size must be >= 2 (eos and another token) when max_len > 1")
        self.eos = int(eos)

    def __repr__(self):
        return (f"SequenceSpace(vocab_size={self.vocab_size}, max_len={self.max_len}, "
                f"eos={self.eos})")

    def __eq__(self, other):
        return isinstance(other, SequenceSpace) and (self.vocab_size, self.max_len, self.eos) == (
            other.vocab_size, other.max_len, other.eos)

    # -- validation and encoding -----------------------------------------------------------
    def check(self, tokens, name: str = "tokens") -> np.ndarray:
        """Validate a padded batch ``tokens [B, L]``; returns it as int64. Typed errors name it."""
        if not hasattr(tokens, "shape") or not hasattr(tokens, "dtype"):
            raise TypeError(f"{name} must be an integer array [B, {self.max_len}]; got "
                            f"{type(tokens).__name__}")
        t = np.asarray(tokens)
        if not np.issubdtype(t.dtype, np.integer):
            raise TypeError(f"{name} must hold integer token indices; got dtype {t.dtype}")
        if t.ndim != 2:
            raise ValueError(f"{name} must have shape [B, {self.max_len}]; got {t.shape}")
        if t.shape[1] > self.max_len:
            raise ValueError(f"{name} has completions of {t.shape[1]} positions, longer than "
                             f"max_len = {self.max_len}")
        if t.shape[1] != self.max_len:
            raise ValueError(f"{name} must have shape [B, {self.max_len}] (padded with "
                             f"{PAD}); got {t.shape}")
        if t.size and (t.min() < PAD or t.max() >= self.vocab_size):
            raise ValueError(f"{name} must hold tokens in [0, {self.vocab_size}) or padding "
                             f"{PAD}; got values from {t.min()} to {t.max()}")
        real = t != PAD
        n = real.sum(axis=1)
        if np.any(n == 0):
            raise ValueError(f"{name} rows must hold at least one token (row "
                             f"{int(np.argmax(n == 0))} is all padding)")
        if np.any(real != (np.arange(self.max_len) < n[:, None])):
            raise ValueError(f"{name} must be padded only after the last token")
        is_eos = (t == self.eos) & real
        early = is_eos & (np.arange(self.max_len) < (n - 1)[:, None])
        if np.any(early):
            raise ValueError(f"{name} row {int(np.argmax(early.any(1)))} has the end token "
                             f"{self.eos} before its last position")
        last = t[np.arange(t.shape[0]), n - 1]
        short = (n < self.max_len) & (last != self.eos)
        if np.any(short):
            raise ValueError(f"{name} row {int(np.argmax(short))} is shorter than max_len but "
                             f"does not end with the end token {self.eos}")
        return t.astype(np.int64, copy=False)

    def encode(self, completions) -> np.ndarray:
        """A list of token sequences -> padded ``tokens [B, L]`` int64 (validated)."""
        rows = [list(c) for c in completions]
        for i, c in enumerate(rows):
            if len(c) > self.max_len:
                raise ValueError(f"completions[{i}] has {len(c)} tokens, longer than max_len "
                                 f"= {self.max_len}")
            for tok in c:
                if isinstance(tok, bool) or not isinstance(tok, (int, np.integer)):
                    raise TypeError(f"completions[{i}] must hold int tokens; got "
                                    f"{type(tok).__name__}")
        out = np.full((len(rows), self.max_len), PAD, dtype=np.int64)
        for i, c in enumerate(rows):
            out[i, :len(c)] = c
        return self.check(out, "completions")

    def decode(self, tokens) -> list[tuple[int, ...]]:
        """Padded ``tokens [B, L]`` -> list of tuples of tokens."""
        t = self.check(tokens)
        return [tuple(int(v) for v in row if v != PAD) for row in t]

    @staticmethod
    def mask(tokens) -> np.ndarray:
        """1.0 on real tokens, 0.0 on padding, float64 [B, L]."""
        return (np.asarray(tokens) != PAD).astype(np.float64)

    @staticmethod
    def lengths(tokens) -> np.ndarray:
        """n_b, the number of tokens of each completion, int64 [B]."""
        return (np.asarray(tokens) != PAD).sum(axis=1).astype(np.int64)

    # -- enumeration -------------------------------------------------------------------------
    def size(self) -> int:
        """|Y| = sum_{n<L} (V-1)^(n-1) + (V-1)^(L-1) V: the number of completions."""
        k = self.vocab_size - 1
        return sum(k ** (n - 1) for n in range(1, self.max_len)) + k ** (self.max_len - 1) * \
            self.vocab_size

    def enumerate(self) -> np.ndarray:
        """Every completion, shortest first, as ``tokens [|Y|, L]`` (validated)."""
        others = [v for v in range(self.vocab_size) if v != self.eos]
        rows = []
        for n in range(1, self.max_len + 1):
            lasts = range(self.vocab_size) if n == self.max_len else [self.eos]
            for head in itertools.product(others, repeat=n - 1):
                for last in lasts:
                    rows.append(head + (last,))
        return self.encode(rows)


# ------------------------------------------------------------------------------------------
# log-probabilities and their derivatives with respect to the logits
# ------------------------------------------------------------------------------------------

def _check_z(z, tokens):
    if not hasattr(z, "shape") or z.ndim != 3:
        raise ValueError(f"z must be logits [B, L, V]; got {getattr(z, 'shape', type(z))}")
    if not np.issubdtype(z.dtype, np.floating):
        raise TypeError(f"z must be a real floating-point array; got dtype {z.dtype}")
    t = np.asarray(tokens)
    if t.shape != z.shape[:2]:
        raise ValueError(f"tokens must have shape {z.shape[:2]} (the logits' [B, L]); got "
                         f"{t.shape}")
    if t.size and (t.min() < PAD or t.max() >= z.shape[2]):
        raise ValueError(f"tokens must lie in [0, {z.shape[2]}) or be padding {PAD}")
    return t


def token_log_probs(z, tokens):
    """log pi(y_t | x, y_<t) = z_t[y_t] - log sum_v exp(z_t[v]) per position; 0 on padding.

    Shapes: z [B, L, V], tokens [B, L] -> [B, L] in z's dtype.
    Gradient: d/d z_t = mask_t (onehot(y_t) - softmax(z_t)), see ``token_log_prob_grad``.
    """
    t = _check_z(z, tokens)
    safe = np.where(t == PAD, 0, t)
    lp = np.take_along_axis(categorical.log_softmax(z, check=False), safe[..., None], axis=-1)[..., 0]
    return np.where(t == PAD, np.zeros((), z.dtype), lp)


def log_prob(z, tokens):
    """log pi(y|x) = sum_t mask_t log pi(y_t | x, y_<t).  Shapes: [B, L, V], [B, L] -> [B].

    Gradient: d log pi(y|x) / d z_t = mask_t (onehot(y_t) - softmax(z_t)).
    """
    return token_log_probs(z, tokens).sum(axis=1)


def token_log_prob_grad(z, tokens, w):
    """d/dz of sum_{b,t} w_bt log pi(y_bt | x_b, y_b<t)
    = w_bt mask_bt (onehot(y_bt) - softmax(z_bt)).

    Derivation: each term depends only on its own logits z_bt (teacher forcing: the prefix is
    data), and d log softmax(z)_y / dz = onehot(y) - softmax(z) (``categorical.log_prob_grad``).
    Shapes: z [B, L, V], tokens [B, L], w [B, L] -> [B, L, V]; zero on padding.
    """
    t = _check_z(z, tokens)
    w = np.asarray(w, dtype=z.dtype)
    if w.shape != t.shape:
        raise ValueError(f"w must have shape {t.shape} (one weight per token); got {w.shape}")
    if not np.all(np.isfinite(w)):
        raise ValueError("w must be finite; it contains NaN or inf")
    real = t != PAD
    safe = np.where(real, t, 0)
    d = -categorical.softmax(z, check=False)
    np.put_along_axis(d, safe[..., None], np.take_along_axis(d, safe[..., None], -1) + 1, -1)
    return d * (w * real)[..., None]


def log_prob_grad(z, tokens, w=None):
    """d/dz of sum_b w_b log pi(y_b|x_b): ``token_log_prob_grad`` with w_bt = w_b (w = 1 if None).

    Shapes: z [B, L, V], tokens [B, L], w [B] -> [B, L, V].
    """
    t = _check_z(z, tokens)
    if w is None:
        w = np.ones(t.shape[0], dtype=z.dtype)
    w = np.asarray(w, dtype=z.dtype)
    if w.shape != (t.shape[0],):
        raise ValueError(f"w must have shape [{t.shape[0]}] (one weight per completion); got "
                         f"{w.shape}")
    return token_log_prob_grad(z, t, np.broadcast_to(w[:, None], t.shape))


def sample(next_logits, batch: int, space: SequenceSpace, rng: np.random.Generator):
    """Draw ``batch`` completions token by token: y_t ~ softmax(next_logits(prefix, t)).

    ``next_logits(prefix [B, L] int64 (PAD from position t on), t) -> z_t [B, V]`` gives the
    next-token logits of every row; rows that have ended (eos, or t = L) are left untouched.
    Each token is drawn by the Gumbel-max trick from the NumPy Generator ``rng``
    (``categorical.sample``), so the draw is reproducible. Returns tokens [batch, L] int64.
    Not differentiable.
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator; got {type(rng).__name__}")
    tokens = np.full((batch, space.max_len), PAD, dtype=np.int64)
    alive = np.ones(batch, dtype=bool)
    for t in range(space.max_len):
        if not alive.any():
            break
        z = np.asarray(next_logits(tokens, t))
        if z.shape != (batch, space.vocab_size):
            raise ValueError(f"next_logits must return logits [{batch}, {space.vocab_size}]; "
                             f"got {z.shape}")
        y = categorical.sample(z, rng)
        tokens[alive, t] = y[alive]
        alive &= y != space.eos
    return tokens
