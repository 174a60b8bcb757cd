"""Many optimizer steps on flat vectors: the bits of ``opt.step`` each time, without its
per-step flatten, unflatten and tree checks.

``opt.step(params, grads, state)`` (``npg.optim``) flattens the tree's arrays of one dtype into
a vector theta, its state buffers into vectors like it, runs the elementwise update rule once
on them and splits the results back into dicts: per step, one concatenation per vector and a
check of every key and shape. A loop that takes many steps with the same tree (PPO's epochs of
minibatch steps) can hold theta and the buffers as vectors from its first step to its last:

    run = VectorRun(opt, params, state)          # checks params and state once, flattens once
    for ...:
        grads = grad_fn(run.params)              # run.params: views of theta, shaped like params
        run.step(run.grad_vectors(grads))        # one update: the formulas of opt on theta
    params, state = run.result()                 # dicts, as opt.step returns them

Each step is the same arithmetic on the same operands as ``opt.step`` (the same update rule on
the same flattened vectors; flattening copies values, it does not round them), so a run gives
the parameters and state of calling ``opt.step`` once per step, bit for bit (tested). The
finiteness guarantee is the same too: after each step one sum over the new theta and one over
the last new buffer; only when one is not finite are the arrays checked key by key to name
the cause (``npg.optim.optimizers._check_update``).

Clipping such vectors: ``npg.optim.clipping.clip_vectors_by_global_norm``.
"""

from __future__ import annotations

from typing import Mapping, Sequence

from ..backend import get_xp
from ..checks import check_shape
from ..params import flatten, unflatten
from .optimizers import (SGD, Adam, RMSprop, _buffer, _check_tree, _check_update, _groups,
                         _quiet)

__all__ = ["VectorRun"]


class VectorRun:
    """One tree of parameters and its optimizer state as flat vectors across many steps.

    opt: an ``npg.optim`` optimizer (SGD, RMSprop, Adam); params, state: as for ``opt.step``
    (state from ``opt.init(params)`` or an earlier step), checked here once as ``step`` checks
    them. The vectors are this run's own copies: the inputs are never modified.
    """

    def __init__(self, opt, params: Mapping, state: Mapping):
        if not isinstance(opt, (SGD, RMSprop, Adam)):
            raise TypeError(f"opt must be an npg.optim SGD, RMSprop or Adam; got "
                            f"{type(opt).__name__}")
        self.opt, self._like, self._name = opt, dict(params), type(opt).__name__
        self._bufs_names = opt._buffers()
        self.t = _check_tree(params, params, state, self._bufs_names)   # (params as the grads)
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
        out = []
        for keys in self._keys:
            like = self._like[keys[0]]
            xp = get_xp(like)
            for k in keys:                      # check_shape only to word a mismatch
                if getattr(grads[k], "shape", None) != self._like[k].shape:
                    check_shape(f"grads[{k!r}]", grads[k], tuple(self._like[k].shape),
                                f"the shape of params[{k!r}]")
            out.append(flatten({k: xp.astype(grads[k], like.dtype, copy=False) for k in keys}))
        return out

    @_quiet
    def step(self, g: Sequence) -> None:
        """One update with the gradient vectors ``g`` (``grad_vectors``' layout: one [P_j] per
        dtype group); a non-finite result raises ValueError naming its cause, and the run keeps
        its previous theta and state."""
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
                self._name_failure(j, theta_new, gj, last)
            new.append((theta_new, bufs_new))
        self._theta = [n[0] for n in new]
        self._bufs = [n[1] for n in new]
        self.t += 1
        self._params = None

    def _name_failure(self, j: int, theta_new, g, last) -> None:
        """The key-by-key checks of ``opt.step`` for group j's failed step; they raise."""
        keys = self._keys[j]
        sub = {k: self._like[k] for k in keys}
        old, state = unflatten(self._theta[j], sub), {"step": self.t}
        for b, v in zip(self._bufs_names, self._bufs[j]):
            state.update((f"{b}.{k}", x) for k, x in unflatten(v, sub).items())
        news, grads = unflatten(theta_new, sub), unflatten(g, sub)
        lasts = unflatten(last, sub) if last is not None else {}
        for k in keys:
            _check_update(self._name, k, news[k], old[k], grads[k], state,
                          self._bufs_names, lasts.get(k))
        raise ValueError(f"{self._name}: the step is not finite")      # (not reached)

    def result(self) -> tuple[dict, dict]:
        """``(params, state)`` now, as ``opt.step`` returns them (arrays: views of this run's
        vectors, which later steps do not modify: each step makes new vectors)."""
        params = {k: v for k, v in self.params.items()}
        bufs = {}
        for keys, vecs in zip(self._keys, self._bufs):
            sub = {k: self._like[k] for k in keys}
            for b, v in zip(self._bufs_names, vecs):
                bufs.update((f"{b}.{k}", x) for k, x in unflatten(v, sub).items())
        state = {"step": self.t}
        state.update((f"{b}.{k}", bufs[f"{b}.{k}"]) for k in self._like
                     for b in self._bufs_names)
        return params, state
