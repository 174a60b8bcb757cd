"""Optimizers that descend a loss given its gradient: SGD (momentum, Nesterov), RMSprop, Adam,
clipping.

An optimizer is a pair ``init`` / ``step`` in the style of optax, with the state as plain data::

    opt = Adam(lr=3e-4)
    state = opt.init(params)                         # {"step": 0, "m.W1": zeros, ...}
    params, state = opt.step(params, grads, state)   # one update; params and state are new dicts

The state is a flat dict of arrays plus the int ``"step"`` (updates taken so far), keyed
``"<buffer>.<param name>"``, so it saves and loads as it is::

    np.savez(path, **state);  state = dict(np.load(path))     # (npg.to_numpy first off NumPy)

``lr`` is a positive float or a schedule (``npg.schedules``): a callable of the step count,
called with the number of updates taken before the current one (``lr(0)`` for the first).
Updates keep the dtype of the parameters (the hyperparameters are Python floats).

A loop that takes many steps with the same tree can hold theta and the state as flat vectors
from its first step to its last (``VectorRun``, ``clip_vectors_by_global_norm``: the same bits
as ``step`` and ``clip_by_global_norm`` at every step, without flattening the dicts at each).

The update rules are in ``npg.optim.optimizers``, clipping in ``npg.optim.clipping``, the
steps on flat vectors (one, ``opt.step``, or many, ``VectorRun``) in ``npg.optim.vector``.
"""

from .clipping import clip_by_global_norm, clip_vectors_by_global_norm
from .optimizers import SGD, Adam, RMSprop
from .vector import VectorRun

__all__ = ["SGD", "RMSprop", "Adam", "clip_by_global_norm", "VectorRun",
           "clip_vectors_by_global_norm"]
