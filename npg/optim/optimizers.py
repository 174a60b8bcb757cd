"""The update rules: SGD (momentum, Nesterov), RMSprop and Adam as ``init`` / ``step`` pairs
(the package docstring, ``npg.optim``, states the conventions).

Each rule is elementwise: a class gives its buffers and its formulas on flat vectors, and
``step`` runs them once per dtype on the tree flattened into one vector
(``npg.optim.vector.step_tree``: the same bits as array by array, never a silent non-finite
step).
"""

from __future__ import annotations

import math
import numbers
from typing import Callable, Mapping

from ..checks import check_positive, check_real
from .vector import _quiet, _zero_state, step_tree

__all__ = ["SGD", "RMSprop", "Adam"]


def _check_lr(lr):
    if callable(lr):
        return lr
    check_real("lr", lr, "a positive float or a schedule callable")
    return check_positive("lr", lr)


def _rate(name: str, x, what: str) -> float:
    """A float in [0, 1), e.g. a momentum or an exponential decay rate."""
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise TypeError(f"{name} must be a real number in [0, 1) ({what}); "
                        f"got {type(x).__name__}")
    v = float(x)
    if not 0.0 <= v < 1.0:
        raise ValueError(f"{name} must lie in [0, 1) ({what}); got {v}")
    return v


def _lr_at(lr, t: int) -> float:
    value = float(lr(t)) if callable(lr) else lr
    if not (math.isfinite(value) and value >= 0.0):
        raise ValueError(f"lr schedule must give a finite value >= 0; got {value} at step {t}")
    return value


class _Elementwise:
    """``init`` and ``step`` of an optimizer whose update is elementwise: a subclass gives its
    state buffers (``_buffers``) and its formulas on flat vectors (``_update(xp, theta, g,
    [buffer vectors], t) -> (new theta, [new buffer vectors])``, t the updates taken before)."""

    def _buffers(self) -> tuple[str, ...]:
        raise NotImplementedError

    def init(self, params: Mapping) -> dict:
        """``{"step": 0}`` and a zero array ``"<buffer>.<name>"`` per buffer and parameter."""
        return _zero_state(params, self._buffers())

    @_quiet
    def step(self, params: Mapping, grads: Mapping, state: Mapping):
        """One update; returns new ``(params, state)`` (inputs are not modified; the new arrays
        are views of flat vectors, ``npg.optim.vector``)."""
        return step_tree(self, params, grads, state)


class SGD(_Elementwise):
    """Stochastic gradient descent with optional (Nesterov) momentum, as in PyTorch's SGD.

        without momentum:  theta <- theta - lr_t g
        with momentum mu:  u <- mu u + g                 (u = "velocity", starts at 0)
                           theta <- theta - lr_t u                      (heavy ball, Polyak 1964)
                           theta <- theta - lr_t (g + mu u)             (nesterov=True, Sutskever
                                                                         et al. 2013)

    State: ``{"step": int}`` plus ``"u.<name>"`` buffers when momentum > 0.
    """

    def __init__(self, lr: float | Callable[[int], float], momentum: float = 0.0,
                 nesterov: bool = False):
        self.lr = _check_lr(lr)
        self.momentum = _rate("momentum", momentum, "the momentum coefficient")
        if not isinstance(nesterov, bool):
            raise TypeError(f"nesterov must be a bool; got {type(nesterov).__name__}")
        if nesterov and self.momentum == 0.0:
            raise ValueError("nesterov=True needs momentum > 0")
        self.nesterov = nesterov

    def __repr__(self):
        return f"SGD(lr={self.lr!r}, momentum={self.momentum!r}, nesterov={self.nesterov!r})"

    def _buffers(self):
        return ("u",) if self.momentum > 0.0 else ()

    def _update(self, xp, theta, g, bufs, t):
        """The formulas of the class docstring on the vector theta; ``bufs`` is [u] or []."""
        lr, mu = _lr_at(self.lr, t), self.momentum
        if mu == 0.0:
            return theta - lr * g, []
        u = mu * bufs[0] + g
        d = g + mu * u if self.nesterov else u
        return theta - lr * d, [u]


class RMSprop(_Elementwise):
    """RMSprop (Tieleman & Hinton 2012, lecture 6.5), in PyTorch's form (no momentum, no centring).

    At update t = 1, 2, ... with gradient g (all operations elementwise):

        v <- alpha v + (1 - alpha) g^2             running mean of g^2, starts at 0
        theta <- theta - lr_t g / (sqrt(v) + eps)

    No bias correction, so the first steps are larger than lr: the first is
    lr g / (sqrt(1 - alpha) |g| + eps), about 10 lr for alpha = 0.99. ``eps`` is added outside
    the square root (PyTorch's ``torch.optim.RMSprop``, which Stable-Baselines3's A2C uses with
    alpha = 0.99, eps = 1e-5; TensorFlow adds it inside). ``lr_t`` is ``lr(t - 1)`` for a
    schedule.

    State: ``{"step": t, "v.<name>": v}``.
    """

    def __init__(self, lr: float | Callable[[int], float] = 1e-2, alpha: float = 0.99,
                 eps: float = 1e-8):
        self.lr = _check_lr(lr)
        self.alpha = _rate("alpha", alpha, "the decay rate of the mean of g^2")
        self.eps = check_positive("eps", eps)

    def __repr__(self):
        return f"RMSprop(lr={self.lr!r}, alpha={self.alpha!r}, eps={self.eps!r})"

    def _buffers(self):
        return ("v",)

    def _update(self, xp, theta, g, bufs, t):
        """The formulas of the class docstring on the vector theta; ``bufs`` is [v]."""
        lr, a = _lr_at(self.lr, t), self.alpha
        v = a * bufs[0] + (1.0 - a) * (g * g)
        return theta - lr * g / (xp.sqrt(v) + self.eps), [v]


class Adam(_Elementwise):
    """Adam (Kingma & Ba 2015, Algorithm 1), with bias correction.

    At update t = 1, 2, ... with gradient g (all operations elementwise):

        m <- b1 m + (1 - b1) g                     first-moment estimate, starts at 0
        v <- b2 v + (1 - b2) g^2                   second raw-moment estimate, starts at 0
        m_hat = m / (1 - b1^t)                     bias-corrected
        v_hat = v / (1 - b2^t)
        theta <- theta - lr_t m_hat / (sqrt(v_hat) + eps)

    ``eps`` is added to sqrt(v_hat), the *bias-corrected* root, outside the square root, exactly
    as in Algorithm 1 (not inside the root, and not to the uncorrected sqrt(v) as in the
    paper's "more efficient" reordering of section 2). ``lr_t`` is ``lr(t - 1)`` for a schedule.

    State: ``{"step": t, "m.<name>": m, "v.<name>": v}``.
    """

    def __init__(self, lr: float | Callable[[int], float] = 3e-4, b1: float = 0.9,
                 b2: float = 0.999, eps: float = 1e-8):
        self.lr = _check_lr(lr)
        self.b1 = _rate("b1", b1, "the first-moment decay rate")
        self.b2 = _rate("b2", b2, "the second-moment decay rate")
        self.eps = check_positive("eps", eps)

    def __repr__(self):
        return f"Adam(lr={self.lr!r}, b1={self.b1!r}, b2={self.b2!r}, eps={self.eps!r})"

    def _buffers(self):
        return ("m", "v")

    def _update(self, xp, theta, g, bufs, t):
        """The formulas of the class docstring on the vector theta; ``bufs`` is [m, v]."""
        lr, b1, b2 = _lr_at(self.lr, t), self.b1, self.b2
        c1, c2 = 1.0 - b1 ** (t + 1), 1.0 - b2 ** (t + 1)      # bias corrections at t + 1
        m = (1.0 - b1) * g                      # the formulas, in place on new arrays: the
        m += b1 * bufs[0]                       # same operations and operands as written,
        v = g * g                               # so the same bits
        v *= 1.0 - b2
        v += b2 * bufs[1]
        root = xp.sqrt(v / c2)                  # sqrt(v_hat) + eps
        root += self.eps
        u = m / c1                              # lr m_hat / root
        u *= lr
        u /= root
        theta -= u                              # theta is _apply's own copy
        return theta, [m, v]
