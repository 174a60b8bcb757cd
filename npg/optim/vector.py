"""An elementwise optimizer's step on flat vectors, for one step or for many.

``opt.step(params, grads, state)`` (``npg.optim``) flattens the tree's arrays of one dtype into
one vector theta and its state buffers into vectors like it, runs the update rule once on them
(the formulas are elementwise, so this gives the same bits as running them array by array,
with one NumPy call per operation instead of one per operation and array) and splits the
results back into dicts shaped and keyed like the inputs: ``step_tree``, a one-step
``VectorRun``. A loop that takes many steps with the same tree (PPO's epochs of minibatch
steps) holds theta and the buffers as vectors from its first step to its last:

    run = VectorRun(opt, params, state)          # checks params and state once, flattens once
    for ...:
        grads = grad_fn(run.params)              # run.params: views of theta, shaped like params
        run.step(run.grad_vectors(grads))        # one update: the formulas of opt on theta
    params, state = run.result()                 # dicts, as opt.step returns them

so a run gives the parameters and state of calling ``opt.step`` once per step, bit for bit
(tested), without the per-step flatten, split and tree checks.

Never a silent non-finite step: a NaN or inf in a gradient, a parameter or a buffer makes the
new parameters or the new second moment (or momentum) non-finite, which one sum over each new
vector finds. Only then are the arrays checked one by one to name the culprit
(``_check_update``): a non-finite grads[k], params[k] or state buffer (e.g. a corrupted saved
state), a negative second moment, or a gradient whose square overflows the dtype (|g| >
1.3e154 in float64, 1.8e19 in float32), which would otherwise make v = inf and the step
exactly zero.

Clipping such vectors: ``npg.optim.clipping.clip_vectors_by_global_norm``.
"""

from __future__ import annotations

import functools
import numbers
from typing import Mapping, Sequence

import numpy as np

from ..backend import create, device_of, get_xp
from ..checks import check_finite, check_shape, max_abs
from ..params import flatten, unflatten

__all__ = ["VectorRun", "step_tree"]


def _quiet(fn):
    """NumPy's floating-point warnings off inside ``fn``: a NaN, inf or overflow there is found
    afterwards (``_check_update``, the norm's finiteness) and raised as a ValueError that names
    its cause, so a warning before it would only be noise."""
    @functools.wraps(fn)
    def quiet(*args, **kwargs):
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            return fn(*args, **kwargs)
    return quiet


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


class VectorRun:
    """One tree of parameters and its optimizer state as flat vectors across many steps.

    opt: an ``npg.optim`` optimizer (SGD, RMSprop, Adam); params, state: as for ``opt.step``
    (state from ``opt.init(params)`` or an earlier step), checked here once as ``step`` checks
    them. The vectors are this run's own copies: the inputs are never modified.
    """

    def __init__(self, opt, params: Mapping, state: Mapping):
        if not (callable(getattr(opt, "_update", None)) and callable(getattr(opt, "_buffers",
                                                                            None))):
            raise TypeError(f"opt must be an npg.optim SGD, RMSprop or Adam; got "
                            f"{type(opt).__name__}")
        self._start(opt, params, state, _check_tree(params, params, state, opt._buffers()))

    @classmethod
    def _unchecked(cls, opt, params: Mapping, state: Mapping, t: int) -> "VectorRun":
        """A run on a tree and state that ``_check_tree`` has passed (at step t)."""
        run = cls.__new__(cls)
        run._start(opt, params, state, t)
        return run

    def _start(self, opt, params: Mapping, state: Mapping, t: int) -> None:
        self.opt, self._like, self._name, self.t = opt, dict(params), type(opt).__name__, t
        self._bufs_names = opt._buffers()
        self._keys = _groups(params)
        self._theta, self._bufs = [], []
        for keys in self._keys:
            like = params[keys[0]]
            xp = get_xp(like)
            self._theta.append(flatten({k: params[k] for k in keys}))
            self._bufs.append([flatten({k: _buffer(xp, state[f"{b}.{k}"], like) for k in keys})
                               for b in self._bufs_names])
        self._params = None

    @property
    def params(self) -> dict:
        """The current parameters: views of theta shaped and keyed like the input params (a step
        makes a new theta, so they keep their values)."""
        if self._params is None:
            out = {}
            for keys, theta in zip(self._keys, self._theta):
                out.update(unflatten(theta, {k: self._like[k] for k in keys}))
            self._params = {k: out[k] for k in self._like}
        return self._params

    def grad_vectors(self, grads: Mapping) -> list:
        """``grads`` (a dict with params' keys and shapes, e.g. from a vjp) as one vector per
        dtype group of params, each in its group's dtype: the vectors ``step`` takes."""
        if not isinstance(grads, Mapping):
            raise TypeError(f"grads must be a dict of arrays; got {type(grads).__name__}")
        if set(grads) != set(self._like):
            raise ValueError(f"grads must have the keys of params {sorted(self._like)}; got "
                             f"{sorted(grads)}")
        for k, p in self._like.items():         # check_shape only to word a mismatch
            if getattr(grads[k], "shape", None) != p.shape:
                check_shape(f"grads[{k!r}]", grads[k], tuple(p.shape),
                            f"the shape of params[{k!r}]")
        return self._vectors(grads)

    def _vectors(self, grads: Mapping) -> list:
        out = []
        for keys in self._keys:
            like = self._like[keys[0]]
            xp = get_xp(like)
            out.append(flatten({k: xp.astype(grads[k], like.dtype, copy=False) for k in keys}))
        return out

    def step(self, g: Sequence) -> None:
        """One update with the gradient vectors ``g`` (``grad_vectors``' layout: one [P_j] per
        dtype group); a non-finite result raises ValueError naming its cause, and the run keeps
        its previous theta and state."""
        self._step(g, None)

    @_quiet
    def _step(self, g: Sequence, grads: Mapping | None) -> None:
        """``step``; ``grads``, the dict g came from (or None), names a non-finite gradient as
        given (before its cast to the parameters' dtype)."""
        if len(g) != len(self._theta):
            raise ValueError(f"g must hold {len(self._theta)} vector(s), one per dtype group "
                             f"of params (grad_vectors); got {len(g)}")
        new = []
        for j, (theta, bufs, gj) in enumerate(zip(self._theta, self._bufs, g)):
            if tuple(gj.shape) != tuple(theta.shape):
                check_shape(f"g[{j}]", gj, tuple(theta.shape), "grad_vectors' layout")
            xp = get_xp(theta)
            theta_new, bufs_new = self.opt._update(xp, xp.asarray(theta, copy=True), gj, bufs,
                                                   self.t)
            last = bufs_new[-1] if bufs_new else None
            if not (bool(xp.isfinite(xp.sum(theta_new)))
                    and (last is None or bool(xp.isfinite(xp.sum(last))))):
                self._check_keys(j, theta_new, gj, last, grads)
            new.append((theta_new, bufs_new))
        self._theta = [n[0] for n in new]
        self._bufs = [n[1] for n in new]
        self.t += 1
        self._params = None

    def _check_keys(self, j: int, theta_new, g, last, grads) -> None:
        """The key-by-key checks (``_check_update``) of group j's step whose sums were not
        finite: they raise, naming the cause, unless a sum overflowed from finite elements
        only (then the step stands)."""
        keys = self._keys[j]
        sub = {k: self._like[k] for k in keys}
        old, state = unflatten(self._theta[j], sub), {"step": self.t}
        for b, v in zip(self._bufs_names, self._bufs[j]):
            state.update((f"{b}.{k}", x) for k, x in unflatten(v, sub).items())
        news = unflatten(theta_new, sub)
        grads = unflatten(g, sub) if grads is None else grads
        lasts = unflatten(last, sub) if last is not None else {}
        for k in keys:
            _check_update(self._name, k, news[k], old[k], grads[k], state,
                          self._bufs_names, lasts.get(k))

    def result(self) -> tuple[dict, dict]:
        """``(params, state)`` now, as ``opt.step`` returns them (arrays: views of this run's
        vectors, which later steps do not modify: each step makes new vectors)."""
        params = dict(self.params)
        bufs = {}
        for keys, vecs in zip(self._keys, self._bufs):
            sub = {k: self._like[k] for k in keys}
            for b, v in zip(self._bufs_names, vecs):
                bufs.update((f"{b}.{k}", x) for k, x in unflatten(v, sub).items())
        state = {"step": self.t}
        state.update((f"{b}.{k}", bufs[f"{b}.{k}"]) for k in self._like
                     for b in self._bufs_names)
        return params, state


def step_tree(opt, params: Mapping, grads: Mapping, state: Mapping):
    """``opt.step``: one update of the tree ``params`` with ``grads`` (checked: keys, shapes,
    the state's buffers and step), as new ``(params, state)`` dicts."""
    t = _check_tree(params, grads, state, opt._buffers())
    run = VectorRun._unchecked(opt, params, state, t)
    run._step(run._vectors(grads), grads)
    return run.result()
