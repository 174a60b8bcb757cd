"""The update rules: SGD (momentum, Nesterov), RMSprop and Adam as ``init`` / ``step`` pairs
(the package docstring, ``npg.optim``, states the conventions).

The formulas are elementwise, so a step runs them once on theta, the tree's arrays of one dtype
flattened into one vector (``_apply``), with the same bits as array by array; the new arrays
are views of the new vectors, shaped and keyed like the inputs.

Never a silent non-finite step: a NaN or inf in a gradient, a parameter or a buffer makes the
new parameters or the new second moment (or momentum) non-finite, which one sum over each new
vector finds. Only then are the arrays checked one by one to name the culprit: a non-finite
grads[k], params[k] or state buffer (e.g. a corrupted saved state), a negative second moment,
or a gradient whose square overflows the dtype (|g| > 1.3e154 in float64, 1.8e19 in float32),
which would otherwise make v = inf and the step exactly zero.
"""

from __future__ import annotations

import functools
import math
import numbers
from typing import Callable, Mapping

import numpy as np

from ..checks import check_finite, check_positive, check_real, check_shape, max_abs
from ..backend import create, device_of, get_xp
from ..params import flatten, unflatten

__all__ = ["SGD", "RMSprop", "Adam"]


def _quiet(fn):
    """NumPy's floating-point warnings off inside ``fn``: a NaN, inf or overflow there is found
    afterwards (``_check_update``, the norm's finiteness) and raised as a ValueError that names
    its cause, so a warning before it would only be noise."""
    @functools.wraps(fn)
    def quiet(*args, **kwargs):
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            return fn(*args, **kwargs)
    return quiet


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


def _check_tree(params: Mapping, grads: Mapping, state: Mapping, buffers: tuple[str, ...]):
    """grads (and each state buffer) must have params' keys and shapes. Finiteness is checked
    after the update (``_check_update``): a non-finite gradient gives a non-finite update."""
    if not isinstance(params, Mapping) or not isinstance(grads, Mapping):
        raise TypeError("params and grads must be dicts of arrays")
    if set(grads) != set(params):
        raise ValueError(f"grads must have the keys of params {sorted(params)}; "
                         f"got {sorted(grads)}")
    if "step" not in state:
        raise ValueError("state must come from opt.init(params): it has no 'step'")
    for k, p in params.items():                 # check_shape only to word a mismatch
        if getattr(grads[k], "shape", None) != p.shape:
            check_shape(f"grads[{k!r}]", grads[k], tuple(p.shape), f"the shape of params[{k!r}]")
        for name in buffers:
            key = f"{name}.{k}"
            if key not in state:
                raise ValueError(f"state has no {key!r}: it must come from opt.init(params)")
            if getattr(state[key], "shape", None) != p.shape:
                check_shape(f"state[{key!r}]", state[key], tuple(p.shape))
    t = state["step"]
    if isinstance(t, (bool, str, bytes)) or not (isinstance(t, numbers.Integral) or (
            hasattr(t, "dtype") and tuple(getattr(t, "shape", ())) == () and
            get_xp(t).isdtype(t.dtype, "integral"))):
        raise TypeError(f"state['step'] must be an int (updates taken so far); got "
                        f"{type(t).__name__}")
    t = int(t)
    if t < 0:
        raise ValueError(f"state['step'] must be >= 0; got {t}")
    return t


def _check_update(opt: str, k: str, new_p, p, g, state: Mapping, buffers: tuple[str, ...],
                  buf=None) -> None:
    """Cheap post-update checks for parameter k; on failure, name the cause and raise.

    One sum each over ``new_p`` and ``buf`` (the new second-moment buffer v of RMSprop and Adam,
    or the new momentum u of SGD) finds any NaN or inf in them: a sum with a NaN, an inf or both
    signs of inf is not finite. A finite sum means finite elements, so the step is accepted;
    a sum that overflowed from finite elements only takes the detailed checks below, which
    then raise only if something is wrong. ``g`` is the gradient as given: a NaN or inf in it
    makes ``new_p`` non-finite (for any lr, as 0 * inf is NaN), so it is found here and named
    first. A negative v (a corrupted state) makes sqrt(v) NaN, so ``new_p`` is not finite.
    """
    xp = get_xp(new_p)
    if bool(xp.isfinite(xp.sum(new_p))) and (buf is None or bool(xp.isfinite(xp.sum(buf)))):
        return
    finite = bool(xp.all(xp.isfinite(new_p))) and (buf is None or bool(xp.all(xp.isfinite(buf))))
    if finite and not (buf is not None and buffers[-1] == "v" and bool(xp.any(buf < 0))):
        return                                  # a sum overflowed; every element is fine
    check_finite(f"grads[{k!r}]", g)
    check_finite(f"params[{k!r}]", p)
    for name in buffers:
        key = f"{name}.{k}"
        check_finite(f"state[{key!r}]", xp.asarray(state[key]))
        if name == "v" and bool(xp.any(xp.asarray(state[key]) < 0)):
            raise ValueError(f"state[{key!r}] must be >= 0 (a mean of squared gradients); it "
                             f"holds negative values: the state is corrupted")
    what = "the second moment g^2" if buffers[-1:] == ("v",) else "the momentum buffer u"
    raise ValueError(f"{opt}: {what} for {k!r} overflows {p.dtype}: max |grads[{k!r}]| = "
                     f"{max_abs(g):.3g} (float max {float(xp.finfo(p.dtype).max):.3g}); an "
                     f"update would be non-finite or exactly zero. Clip the gradients "
                     f"(clip_by_global_norm), scale the loss, or use float64")


def _zero_state(params: Mapping, buffers: tuple[str, ...]) -> dict:
    """``{"step": 0}`` and a zero array ``"<buffer>.<name>"`` per buffer and parameter."""
    state = {"step": 0}
    for name in buffers:
        state.update({f"{name}.{k}": get_xp(p).zeros_like(p) for k, p in params.items()})
    return state


def _buffer(xp, x, like):
    """A state buffer on the parameters' array module and dtype (state may come from np.load)."""
    if get_xp(x) is not xp:                       # a NumPy buffer: onto like's device, once
        x = create(xp, "asarray", x, device=device_of(like))
    return x if x.dtype == like.dtype else xp.astype(x, like.dtype)


def _groups(params: Mapping) -> list[list[str]]:
    """The keys of ``params`` grouped by array module and dtype, in key order (usually one)."""
    groups: dict = {}
    for k, p in params.items():
        groups.setdefault((get_xp(p), p.dtype), []).append(k)
    return list(groups.values())


def _apply(opt: str, update, params: Mapping, grads: Mapping, state: Mapping,
           buffers: tuple[str, ...]):
    """One step of an elementwise optimizer: ``update(xp, theta, g, [buffer vectors], t) ->
    (new theta, [new buffer vectors])`` runs once per dtype group on the parameters
    flattened into one vector theta (the formulas are elementwise, so this gives the same
    bits as running them array by array, with one NumPy call per operation instead of one
    per operation and array). The new parameters and buffers are views of the new vectors,
    shaped like ``params``. Checked as in ``_check_update``: one sum each over the new theta
    and the last new buffer; only when one is not finite, array by array, to name the cause.
    """
    t = _check_tree(params, grads, state, buffers)
    new_params, new_state, new_bufs_all = {}, {"step": t + 1}, {}
    for keys in _groups(params):
        sub = {k: params[k] for k in keys}
        like = sub[keys[0]]
        xp = get_xp(like)
        theta = flatten(sub)
        g = flatten({k: xp.astype(grads[k], like.dtype, copy=False) for k in keys})
        bufs = [flatten({k: _buffer(xp, state[f"{b}.{k}"], like) for k in keys})
                for b in buffers]
        theta_new, bufs_new = update(xp, theta, g, bufs, t)
        news = unflatten(theta_new, sub)
        new_bufs = [{f"{b}.{k}": x for k, x in unflatten(v, sub).items()}
                    for b, v in zip(buffers, bufs_new)]
        last = bufs_new[-1] if buffers else None
        if not (bool(xp.isfinite(xp.sum(theta_new)))
                and (last is None or bool(xp.isfinite(xp.sum(last))))):
            for k in keys:
                buf = new_bufs[-1][f"{buffers[-1]}.{k}"] if buffers else None
                _check_update(opt, k, news[k], params[k], grads[k], state, buffers, buf)
        new_params.update(news)
        for nb in new_bufs:
            new_bufs_all.update(nb)
    new_params = {k: new_params[k] for k in params}         # params' order, and the state's
    new_state.update((f"{b}.{k}", new_bufs_all[f"{b}.{k}"]) for k in params for b in buffers)
    return new_params, new_state


class SGD:
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

    def init(self, params: Mapping) -> dict:
        """``{"step": 0}`` and, with momentum, a zero velocity ``"u.<name>"`` per parameter."""
        return _zero_state(params, self._buffers())

    @_quiet
    def step(self, params: Mapping, grads: Mapping, state: Mapping):
        """One descent step; returns new ``(params, state)`` (inputs are not modified)."""
        return _apply("SGD", self._update, params, grads, state, self._buffers())

    def _update(self, xp, theta, g, bufs, t):
        """The formulas of the class docstring on the vector theta; ``bufs`` is [u] or []."""
        lr, mu = _lr_at(self.lr, t), self.momentum
        if mu == 0.0:
            return theta - lr * g, []
        u = mu * bufs[0] + g
        d = g + mu * u if self.nesterov else u
        return theta - lr * d, [u]


class RMSprop:
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

    def init(self, params: Mapping) -> dict:
        """``{"step": 0}`` and a zero mean square ``"v.<name>"`` per parameter."""
        return _zero_state(params, self._buffers())

    @_quiet
    def step(self, params: Mapping, grads: Mapping, state: Mapping):
        """One RMSprop update; returns new ``(params, state)`` (inputs are not modified)."""
        return _apply("RMSprop", self._update, params, grads, state, self._buffers())

    def _update(self, xp, theta, g, bufs, t):
        """The formulas of the class docstring on the vector theta; ``bufs`` is [v]."""
        lr, a = _lr_at(self.lr, t), self.alpha
        v = a * bufs[0] + (1.0 - a) * (g * g)
        return theta - lr * g / (xp.sqrt(v) + self.eps), [v]


class Adam:
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

    def init(self, params: Mapping) -> dict:
        """``{"step": 0}`` and zero moments ``"m.<name>"``, ``"v.<name>"`` per parameter."""
        return _zero_state(params, self._buffers())

    @_quiet
    def step(self, params: Mapping, grads: Mapping, state: Mapping):
        """One Adam update; returns new ``(params, state)`` (inputs are not modified)."""
        return _apply("Adam", self._update, params, grads, state, self._buffers())

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
