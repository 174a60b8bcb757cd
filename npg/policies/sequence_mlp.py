"""Linear and MLP sequence policies on features of (prompt, prefix).

    phi(x, y_<t) = ``PrefixEncoding`` (or any features callable with a ``dim``)
    linear:  z = phi W1 + b1
    MLP:     z = mlp(phi), hidden tanh/relu layers (``npg.nn.mlp_forward``)

The teacher-forcing, scoring and sampling machinery is ``SequencePolicy``'s
(``npg.policies.sequence``); these classes only map states to logits and back-propagate.
NumPy only.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..checks import check_positive_int
from ..distributions.sequence import PAD, SequenceSpace
from ..nn import mlp_forward, mlp_init, resolve_float_dtype
from .base import as_generator
from .mlp import check_hidden, mlp_param_shapes
from .sequence import SequencePolicy, check_space

__all__ = ["PrefixEncoding", "MLPSequencePolicy", "LinearSequencePolicy"]


# ----------------------------------------------------------------------------------------------
# Features of (prompt, prefix) and the linear and MLP policies on them
# ----------------------------------------------------------------------------------------------

class PrefixEncoding:
    """phi(x, y_<t) [D]: one-hot prompt [X], one-hot position t [L], one-hot last token [V]
    (slot eos = "no token yet"), token counts of the prefix / L [V], one-hot (prompt, position)
    [X L] and one-hot (position, last token) [L V].  D = X + L + 2V + XL + LV. Not differentiated
    (it is input data)."""

    def __init__(self, n_prompts: int, space: SequenceSpace):
        self.n_prompts = check_positive_int("n_prompts", n_prompts)
        self.space = check_space(space)
        X, L, V = self.n_prompts, space.max_len, space.vocab_size
        self.dim = X + L + 2 * V + X * L + L * V

    def __repr__(self):
        return f"PrefixEncoding(n_prompts={self.n_prompts}, space={self.space!r})"

    def __call__(self, prompts, prefixes, pos, dtype=np.float64):
        X, L, V = self.n_prompts, self.space.max_len, self.space.vocab_size
        R = prompts.shape[0]
        rows = np.arange(R)
        last = np.where(pos > 0, prefixes[rows, np.maximum(pos - 1, 0)], self.space.eos)
        counts = np.zeros((R, V))
        for j in range(L):
            on = (j < pos) & (prefixes[:, j] != PAD)
            np.add.at(counts, (rows[on], prefixes[on, j]), 1.0)
        phi = np.zeros((R, self.dim), dtype=dtype)
        o = 0
        for idx, width in ((prompts, X), (pos, L), (last, V)):
            phi[rows, o + idx] = 1.0
            o += width
        phi[:, o:o + V] = counts / L
        o += V
        phi[rows, o + prompts * L + pos] = 1.0
        o += X * L
        phi[rows, o + pos * V + last] = 1.0
        return phi


def _check_features(features, n_prompts, space):
    if features is None:
        return PrefixEncoding(n_prompts, space)
    if not callable(features) or not isinstance(getattr(features, "dim", None), int):
        raise TypeError("features must be callable (prompts, prefixes, pos) -> [R, D] with an "
                        "int attribute dim")
    return features


class MLPSequencePolicy(SequencePolicy):
    """z = mlp(phi(x, y_<t)) [V] with hidden layers ``hidden`` (() gives the linear policy).

    Gradient: backpropagation through ``npg.nn.mlp_forward`` (its docstring), input phi fixed.
    Parameters {"W1", "b1", ..., "WL", "bL"}; output layer scaled by out_gain at init.
    """

    def __init__(self, n_prompts: int, space: SequenceSpace, hidden: Sequence[int] = (32,),
                 activation: str = "tanh", features=None):
        self.n_prompts = check_positive_int("n_prompts", n_prompts)
        self.space = check_space(space)
        self.hidden = check_hidden(hidden)
        if activation not in ("tanh", "relu", "identity"):
            raise ValueError(f"activation must be 'tanh', 'relu' or 'identity'; got {activation!r}")
        self.activation = activation
        self.features = _check_features(features, self.n_prompts, space)

    def __repr__(self):
        return (f"{type(self).__name__}(n_prompts={self.n_prompts}, space={self.space!r}, "
                f"hidden={self.hidden}, activation={self.activation!r})")

    @property
    def sizes(self):
        return (self.features.dim, *self.hidden, self.space.vocab_size)

    def param_shapes(self):
        return mlp_param_shapes(self.sizes)

    def init(self, rng, dtype=None, out_gain: float = 0.01):
        """Weights from the Generator (or seed) ``rng`` (``npg.nn.mlp_init``), float64 default."""
        return mlp_init(self.sizes, as_generator(rng), self.activation, False, None,
                        resolve_float_dtype(np, dtype), out_gain)

    def forward_states(self, params, prompts, prefixes, pos):
        self.check_params(params)
        dtype = params["W1"].dtype
        z, net_vjp = mlp_forward(params, self.features(prompts, prefixes, pos, dtype),
                                 self.activation)

        def vjp(dz, per_sample=False):
            return net_vjp(np.asarray(dz, dtype=dtype), per_sample, input_grad=False)[0]
        return z, vjp


class LinearSequencePolicy(MLPSequencePolicy):
    """z = phi(x, y_<t) W1 + b1: the MLP policy without hidden layers.

    Gradient: d/dW1 sum_r <dz_r, z_r> = sum_r phi_r^T dz_r, d/db1 = sum_r dz_r.
    """

    def __init__(self, n_prompts: int, space: SequenceSpace, features=None):
        super().__init__(n_prompts, space, hidden=(), activation="identity", features=features)

    def __repr__(self):
        return f"LinearSequencePolicy(n_prompts={self.n_prompts}, space={self.space!r})"

    def init(self, rng, dtype=None, out_gain: float = 0.0):
        """W1 from ``npg.nn.mlp_init`` scaled by out_gain (0: all zeros, the uniform next-token
        policy, ``rng`` unused), b1 = 0."""
        as_generator(rng)
        return super().init(rng, dtype, out_gain) if out_gain else {
            k: np.zeros(s, dtype=resolve_float_dtype(np, dtype))
            for k, s in self.param_shapes().items()}
