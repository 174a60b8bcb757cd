"""A finite MDP as plain data: transitions P [S, A, S], expected rewards R [S, A], mu0 [S], gamma.

Symbols

| symbol          | shape       | meaning                                                        |
|-----------------|-------------|----------------------------------------------------------------|
| P(s' given s,a) | [S, A, S]   | transition probabilities; every row P[s, a, :] sums to 1       |
| R(s, a)         | [S, A]      | expected reward of taking a in s: sum_s' P(s'|s,a) r(s,a,s')   |
| mu0(s)          | [S]         | initial-state distribution                                     |
| gamma           | scalar      | discount in [0, 1]                                             |
| terminal(s)     | [S] bool    | absorbing states: P(s|s,a) = 1 and R(s,a) = 0 for every a      |

An episode ends when it enters a terminal state; the absorbing self-loop with zero reward is the
usual device (Sutton & Barto, 2nd ed., sec. 3.4) that lets one Bellman equation cover episodic
and continuing tasks. The exact quantities (``npg.mdp.exact``) treat terminal states as having
value 0 and no visits, so gamma = 1 is allowed whenever the policy terminates with probability 1.

Array module: the data decides. Built from NumPy arrays (or lists), the arrays are stored as
read-only float64 NumPy arrays, as always. Built from arrays of another array-API module
(``array_api_strict``, CuPy), they are stored on that module and device, and every exact quantity of
``npg.mdp`` is then computed there (``xp.linalg.solve`` on the GPU for CuPy). ``mdp.to("cupy")``
moves an MDP; ``mdp.xp`` is its module. Validation always runs once, on the host, at construction
(one explicit conversion, ``to_numpy``, then one copy back): the checks below are the same for
every module, and no later call re-validates or copies the tables.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..backend import common_xp, create, device_of, load_backend, namespace_of, to_numpy
from ..checks import check_unit_interval

__all__ = ["FiniteMDP", "PROB_ATOL"]

PROB_ATOL = 1e-8  # how far a probability row may be from summing to 1 (then renormalised)


def _as_float64(name: str, x, ndim: int, what: str) -> np.ndarray:
    if x is None:
        raise TypeError(f"{name} must be an array ({what}); got None")
    try:
        a = np.asarray(to_numpy(x), dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a real array ({what}); got {type(x).__name__}") from None
    if a.ndim != ndim:
        raise ValueError(f"{name} must be {what}; got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be finite; it contains NaN or inf")
    return a


def _check_distribution(name: str, p: np.ndarray, axis: int = -1) -> np.ndarray:
    """Entries >= 0 and sums to 1 (within PROB_ATOL) along ``axis``; returns p renormalised."""
    if np.any(p < 0):
        idx = tuple(int(i) for i in np.argwhere(p < 0)[0])
        raise ValueError(f"{name} must hold probabilities >= 0; {name}{list(idx)} = {p[idx]!r}")
    total = p.sum(axis=axis, keepdims=True)
    bad = np.abs(total - 1.0) > PROB_ATOL
    if np.any(bad):
        idx = tuple(int(i) for i in np.argwhere(bad)[0][:-1]) if p.ndim > 1 else ()
        got = float(total[idx].ravel()[0]) if idx else float(total.ravel()[0])
        where = f" (row {list(idx)})" if idx else ""
        raise ValueError(f"{name} must sum to 1 over its last axis{where}; got {got!r}")
    return p / total


def _readonly(a: np.ndarray) -> np.ndarray:
    a = np.array(a, dtype=a.dtype, copy=True)
    a.setflags(write=False)
    return a


@dataclass(frozen=True, eq=False)
class FiniteMDP:
    """A finite MDP (P, R, mu0, gamma, terminal); validated and stored read-only on creation.

    Args:
        P: transition probabilities ``P[s, a, s'] = Pr(s_{t+1} = s' | s_t = s, a_t = a)``,
            ``[S, A, S]``, entries >= 0, every row summing to 1.
        R: expected rewards ``R[s, a] = E[r_t | s_t = s, a_t = a]``, ``[S, A]``.
        mu0: initial distribution ``Pr(s_0 = s)``, ``[S]``.
        gamma: discount in [0, 1].
        terminal: ``[S]`` bool mask of absorbing zero-reward states (default: none). Each must
            have ``P[s, a, s] = 1`` and ``R[s, a] = 0`` for every action, else ValueError.

    The tables are stored on the array module of ``P`` (and its device): read-only NumPy for
    NumPy input, else that module (all of P, R, mu0, terminal on one module: a TypeError naming
    both otherwise). ``to`` moves them.

    Raises:
        TypeError / ValueError naming the argument: wrong shapes, NaN/inf, negative
        probabilities, rows not summing to 1 (tolerance ``PROB_ATOL``), gamma outside [0, 1],
        terminal states that are not absorbing with zero reward.
    """

    P: np.ndarray
    R: np.ndarray
    mu0: np.ndarray
    gamma: float
    terminal: np.ndarray | None = None

    def __post_init__(self):
        P = _as_float64("P", self.P, 3, "a transition tensor [S, A, S]")
        S, A = P.shape[0], P.shape[1]
        if S == 0 or A == 0 or P.shape[2] != S:
            raise ValueError(f"P must have shape [S, A, S] with S, A >= 1; got {P.shape}")
        P = _check_distribution("P", P)
        R = _as_float64("R", self.R, 2, f"expected rewards [S, A] = [{S}, {A}]")
        if R.shape != (S, A):
            raise ValueError(f"R must have shape [S, A] = [{S}, {A}] to match P; got {R.shape}")
        mu0 = _as_float64("mu0", self.mu0, 1, f"an initial distribution [S] = [{S}]")
        if mu0.shape != (S,):
            raise ValueError(f"mu0 must have shape [S] = [{S}] to match P; got {mu0.shape}")
        mu0 = _check_distribution("mu0", mu0)
        gamma = check_unit_interval("gamma", self.gamma)
        terminal = self._check_terminal(self.terminal, P, R, S)
        xp = common_xp(self.P, self.R, self.mu0, self.terminal,
                       names=("P", "R", "mu0", "terminal"))
        device = device_of(self.P) if namespace_of(self.P) is xp else None
        self._store(dict(P=P, R=R, mu0=mu0, terminal=terminal), xp, device)
        object.__setattr__(self, "gamma", gamma)

    def _store(self, tables: dict, xp, device) -> None:
        """Set the fields from validated NumPy tables: read-only NumPy, or copies on xp/device."""
        for name, value in tables.items():
            if xp is np:
                value = _readonly(np.asarray(to_numpy(value)))
            else:
                value = create(xp, "asarray", value, device=device)
            object.__setattr__(self, name, value)

    @property
    def xp(self):
        """The array module the tables live on (numpy, array_api_strict, cupy, ...)."""
        return namespace_of(self.P)

    @property
    def device(self):
        """The device the tables live on ("cpu" for NumPy)."""
        return device_of(self.P)

    def to(self, backend, device=None) -> "FiniteMDP":
        """This MDP with its tables on ``backend`` ('numpy', 'cupy', 'array_api_strict' or a
        module) and ``device`` (default: that module's default device); one copy, no checks.
        """
        xp = load_backend(backend)
        if xp is self.xp and device in (None, self.device):
            return self
        out = object.__new__(FiniteMDP)
        tables = {k: to_numpy(getattr(self, k)) for k in ("P", "R", "mu0", "terminal")}
        out._store(tables, xp, device)
        object.__setattr__(out, "gamma", self.gamma)
        return out

    @staticmethod
    def _check_terminal(terminal, P, R, S) -> np.ndarray:
        if terminal is None:
            return np.zeros(S, dtype=bool)
        t = np.asarray(to_numpy(terminal))
        if t.dtype != np.bool_:
            raise TypeError(f"terminal must be a bool array [S] = [{S}]; got dtype {t.dtype}")
        if t.shape != (S,):
            raise ValueError(f"terminal must have shape [S] = [{S}] to match P; got {t.shape}")
        idx = np.flatnonzero(t)
        loops = P[idx, :, idx]                                   # [n_terminal, A]
        if np.any(np.abs(loops - 1.0) > PROB_ATOL):
            s = int(idx[np.argmax(np.any(np.abs(loops - 1.0) > PROB_ATOL, axis=1))])
            raise ValueError(f"terminal state {s} must be absorbing: P[{s}, a, {s}] = 1 for "
                             f"every action a")
        if np.any(R[idx] != 0.0):
            s = int(idx[np.argmax(np.any(R[idx] != 0.0, axis=1))])
            raise ValueError(f"terminal state {s} must have zero reward: R[{s}, :] = 0")
        return t

    @classmethod
    def from_transition_rewards(cls, P, R3, mu0, gamma, terminal=None) -> "FiniteMDP":
        """Build from reward-on-transition ``r(s, a, s')`` ``[S, A, S]``.

        R(s, a) = sum_s' P(s'|s, a) r(s, a, s')                                   [S, A]
        """
        P_ = _as_float64("P", P, 3, "a transition tensor [S, A, S]")
        R3_ = _as_float64("R3", R3, 3, "rewards on transitions [S, A, S]")
        if R3_.shape != P_.shape:
            raise ValueError(f"R3 must have the shape of P {P_.shape}; got {R3_.shape}")
        xp = common_xp(P, R3, mu0, terminal, names=("P", "R3", "mu0", "terminal"))
        mdp = cls(P_, np.einsum("sat,sat->sa", P_, R3_), to_numpy(mu0), gamma,
                  None if terminal is None else to_numpy(terminal))
        return mdp if xp is np else mdp.to(xp, device_of(P))

    @property
    def n_states(self) -> int:
        return int(self.P.shape[0])

    @property
    def n_actions(self) -> int:
        return int(self.P.shape[1])

    @property
    def nonterminal(self) -> np.ndarray:
        """``[S]`` bool: ~terminal."""
        return ~self.terminal

    def replace(self, **changes) -> "FiniteMDP":
        """A copy with some fields changed (e.g. ``mdp.replace(gamma=1.0)``), validated again;
        it lives on this MDP's array module and device."""
        fields = dict(P=self.P, R=self.R, mu0=self.mu0, gamma=self.gamma, terminal=self.terminal)
        unknown = set(changes) - set(fields)
        if unknown:
            raise TypeError(f"replace() got unknown fields {sorted(unknown)}; expected some of "
                            f"{sorted(fields)}")
        fields.update(changes)
        if self.xp is np:
            return FiniteMDP(**fields)
        host = {k: v if namespace_of(v) is None else to_numpy(v) for k, v in fields.items()}
        return FiniteMDP(**host).to(self.xp, self.device)        # stays on this MDP's module

    def __repr__(self) -> str:
        return (f"FiniteMDP(n_states={self.n_states}, n_actions={self.n_actions}, "
                f"gamma={self.gamma}, n_terminal={int(to_numpy(self.terminal).sum())})")
