"""Small prompt sets with verifiable rewards, and a Bradley-Terry preference sampler.

Every task has a ``SequenceSpace`` (vocabulary, end token, max length), ``n_prompts`` prompts
(integer indices, named by ``prompt_names``) and a reward r(x, y) for every completion y, held
as a table over ``space.enumerate()`` so that exact expectations are finite sums:

    TargetPattern   r = 1 if y equals the prompt's target string (targets of different
                    lengths, so length effects show), else 0; ``graded=True`` instead gives
                    the fraction of the target matched before the first mistake.
    TinyArithmetic  prompt (a, b), a, b in [0, base); y must spell a + b in base ``base``
                    (1 or 2 digits, then the end token): r = 1 if so, else 0.
    Bandit          max_len 1: a completion is one token (arm), r = rewards[x, arm].
    TableTask       any known reward table [X, |Y|] (e.g. random, for DPO).

``preference_pairs`` draws (x, y_1, y_2) with y_1, y_2 ~ pi_ref(.|x) independently, drops
identical pairs, and labels y_1 preferred with the Bradley-Terry probability
(Bradley & Terry 1952; Rafailov et al. 2023, eq. 1)

    P(y_1 > y_2 | x) = sigma(r(x, y_1) - r(x, y_2)),   sigma(u) = 1 / (1 + e^-u).
"""

from __future__ import annotations

import numpy as np

from ..checks import as_generator, check_positive_int
from ..distributions.sequence import SequenceSpace

__all__ = ["SequenceTask", "TargetPattern", "TinyArithmetic", "Bandit", "TableTask",
           "preference_pairs"]


class SequenceTask:
    """A prompt set with a reward table ``rewards [X, |Y|]`` over ``space.enumerate()``."""

    space: SequenceSpace
    n_prompts: int
    rewards: np.ndarray
    prompt_names: list

    def _finish(self):
        ys = self.space.enumerate()
        self.completions = ys
        self._codes = self.codes(ys)
        self._order = np.argsort(self._codes)
        self.rewards = np.array([[self.score(x, y) for y in self.space.decode(ys)]
                                 for x in range(self.n_prompts)], dtype=np.float64)

    def score(self, x: int, y: tuple) -> float:
        raise NotImplementedError

    def codes(self, tokens) -> np.ndarray:
        """A unique integer per completion: sum_t (y_t + 2) (V + 2)^t (PAD = -1 gives 1)."""
        base = self.space.vocab_size + 2
        return ((np.asarray(tokens) + 2) * base ** np.arange(self.space.max_len)).sum(axis=1)

    def index(self, tokens) -> np.ndarray:
        """The row of each completion in ``space.enumerate()`` [B] (tokens validated)."""
        t = self.space.check(tokens)
        c = self.codes(t)
        pos = np.searchsorted(self._codes[self._order], c)
        return self._order[pos]

    def check_prompts(self, prompts, name="prompts"):
        p = np.asarray(prompts)
        if not np.issubdtype(p.dtype, np.integer) or p.ndim != 1:
            raise TypeError(f"{name} must be an integer array [B]; got {p.dtype} {p.shape}")
        if p.size and (p.min() < 0 or p.max() >= self.n_prompts):
            raise ValueError(f"{name} must lie in [0, {self.n_prompts}); got {p.min()}..{p.max()}")
        return p.astype(np.int64, copy=False)

    def reward(self, prompts, tokens) -> np.ndarray:
        """r(x_b, y_b) [B], float64."""
        p = self.check_prompts(prompts)
        idx = self.index(tokens)
        if idx.shape != p.shape:
            raise ValueError(f"tokens must have one row per prompt ({p.shape[0]}); got "
                             f"{idx.shape[0]}")
        return self.rewards[p, idx]

    def correct(self, prompts, tokens) -> np.ndarray:
        """Whether each completion earns the prompt's best reward [B] (accuracy)."""
        p = self.check_prompts(prompts)
        return self.reward(p, tokens) >= self.rewards.max(axis=1)[p]


class TargetPattern(SequenceTask):
    """Prompt x asks for the token string ``targets[x]`` (a tuple of non-end tokens; the end
    token is appended when it is shorter than max_len). r = 1 on an exact match, else 0; with
    ``graded`` r is the number of leading target tokens produced before the first mistake,
    divided by len(target)."""

    def __init__(self, targets, vocab_size: int = 3, max_len: int = 4, eos: int = 0,
                 graded: bool = False):
        self.space = SequenceSpace(vocab_size, max_len, eos)
        targets = [tuple(int(v) for v in t) for t in targets]
        targets = [t + (eos,) if len(t) < max_len and (not t or t[-1] != eos) else t
                   for t in targets]
        if not targets:
            raise ValueError("targets must list at least one target string")
        self.targets = [self.space.decode(self.space.encode([t]))[0] for t in targets]
        self.n_prompts = len(targets)
        self.graded = bool(graded)
        self.prompt_names = ["".join(map(str, t[:-1] if t[-1] == eos else t))
                             for t in self.targets]
        self._finish()

    def score(self, x, y):
        t = self.targets[x]
        if not self.graded:
            return float(y == t)
        k = 0
        while k < min(len(y), len(t)) and y[k] == t[k]:
            k += 1
        return k / len(t)


class TinyArithmetic(SequenceTask):
    """Prompts (a, b) for a, b in [0, base) (prompt index a * base + b); the answer a + b in base
    ``base``, most significant digit first, digit d as token d + 1, then the end token 0.
    max_len 3 (two digits and the end token); r = 1 on the right answer, else 0."""

    def __init__(self, base: int = 2):
        self.base = check_positive_int("base", base)
        if self.base < 2:
            raise ValueError(f"base must be >= 2; got {self.base}")
        self.space = SequenceSpace(self.base + 1, 3, eos=0)
        self.n_prompts = self.base ** 2
        self.prompt_names = [f"{a}+{b}" for a in range(self.base) for b in range(self.base)]
        self._finish()

    def answer(self, x: int) -> tuple:
        a, b = divmod(x, self.base)
        s = a + b
        digits = [s] if s < self.base else [s // self.base, s % self.base]
        return tuple(d + 1 for d in digits) + (0,)

    def score(self, x, y):
        return float(y == self.answer(x))


class Bandit(SequenceTask):
    """The length-one case: r(x, y) = rewards[x, y_1], one token per completion."""

    def __init__(self, rewards):
        r = np.asarray(rewards, dtype=np.float64)
        if r.ndim != 2 or r.shape[1] < 1 or not np.all(np.isfinite(r)):
            raise ValueError(f"rewards must be a finite array [X, K]; got shape {r.shape}")
        self.table = r
        self.space = SequenceSpace(r.shape[1], 1, eos=0)
        self.n_prompts = r.shape[0]
        self.prompt_names = [f"x{i}" for i in range(self.n_prompts)]
        self._finish()

    def score(self, x, y):
        return float(self.table[x, y[0]])


class TableTask(SequenceTask):
    """A known reward table r [X, |Y|] over ``space.enumerate()``."""

    def __init__(self, space: SequenceSpace, rewards):
        if not isinstance(space, SequenceSpace):
            raise TypeError(f"space must be a SequenceSpace; got {type(space).__name__}")
        r = np.asarray(rewards, dtype=np.float64)
        if r.ndim != 2 or r.shape[1] != space.size() or not np.all(np.isfinite(r)):
            raise ValueError(f"rewards must be a finite array [X, {space.size()}]; got {r.shape}")
        self.space, self.table, self.n_prompts = space, r, r.shape[0]
        self.prompt_names = [f"x{i}" for i in range(self.n_prompts)]
        self._finish()

    def score(self, x, y):
        return float(self.rewards[x, self.index(self.space.encode([y]))[0]])

    def _finish(self):
        ys = self.space.enumerate()
        self.completions, self._codes = ys, self.codes(ys)
        self._order = np.argsort(self._codes)
        self.rewards = self.table.copy()


def preference_pairs(task: SequenceTask, reference, n_pairs: int, rng, prompts=None,
                     max_tries: int = 100):
    """``n_pairs`` Bradley-Terry-labelled pairs (x, y_w, y_l) with y_1, y_2 ~ pi_ref(.|x).

    reference: a ``FrozenSequencePolicy`` (anything with ``sample(prompts, rng)``); prompts:
    the prompt of each pair [n_pairs] (default uniform draws). Identical pairs (y_1 = y_2) are
    redrawn. Returns a dict of prompts [n], chosen [n, L], rejected [n, L].
    """
    n = check_positive_int("n_pairs", n_pairs)
    rng = as_generator(rng)
    x = rng.integers(0, task.n_prompts, n) if prompts is None else task.check_prompts(prompts)
    if x.shape != (n,):
        raise ValueError(f"prompts must have shape [{n}]; got {x.shape}")
    y1, y2 = reference.sample(x, rng), reference.sample(x, rng)
    for _ in range(max_tries):
        same = np.all(y1 == y2, axis=1)
        if not same.any():
            break
        y2[same] = reference.sample(x[same], rng)
    else:
        raise ValueError("reference draws identical completions every time; its distribution "
                         "must put mass on at least two completions of every prompt")
    r1, r2 = task.reward(x, y1), task.reward(x, y2)
    first = rng.random(n) < 1.0 / (1.0 + np.exp(-(r1 - r2)))
    chosen = np.where(first[:, None], y1, y2)
    rejected = np.where(first[:, None], y2, y1)
    return {"prompts": x, "chosen": chosen, "rejected": rejected}
