"""A shared-trunk actor-critic: a policy head and a value head on the same hidden layers.

    h = trunk(s)           h_0 = s, h_l = f(h_{l-1} W_l + b_l), l = 1..L   (all layers activated)
    z = h W_pi + b_pi      logits [B, A]       (the policy pi(.|s) = softmax(z))
    v = h W_v + b_v        state value [B]     (W_v [H_L, 1], b_v [1])

A loss L(z, v) reaches the trunk from both heads; the two head gradients add at h:

    dL/dW_pi = h^T dL/dz [H_L, A]          dL/db_pi = sum_b dL/dz_b [A]
    dL/dW_v  = h^T dL/dv [H_L, 1]          dL/db_v  = sum_b dL/dv_b [1]
    dL/dh    = dL/dz W_pi^T + dL/dv W_v^T  [B, H_L]      -> backprop through the trunk (npg.nn)

As a ``CategoricalPolicy`` (``forward`` gives the logits, ``score_sum`` etc. from ``base``), the
value head gets exactly zero gradient. ``forward_both`` exposes both heads for actor-critic
losses such as PPO's  -J_clip + c_v * value loss - c_H * entropy.
"""

from __future__ import annotations

from typing import Sequence

from ..checks import check_positive, check_positive_int
from ..backend import default_xp, get_xp
from ..nn import default_gain, mlp_forward, mlp_init, orthogonal_matrix, resolve_float_dtype
from .base import CategoricalPolicy, as_generator
from .mlp import _check_activation, _check_bool, check_hidden, mlp_param_shapes

__all__ = ["SharedActorCritic"]


class SharedActorCritic(CategoricalPolicy):
    """Categorical policy and state-value function sharing an MLP trunk.

    Args:
        obs_dim: observation size (obs float [B, obs_dim]).
        n_actions: A.
        hidden: trunk widths (H_1, ..., H_L), at least one layer.
        activation: 'tanh' or 'relu' (or 'identity') for the trunk.
        orthogonal: orthogonal weight initialisation (Saxe et al. 2014).
    Parameters: trunk {"W1": [obs_dim, H_1], "b1", ..., "WL": [H_{L-1}, H_L], "bL"}, policy head
    {"W_pi": [H_L, A], "b_pi": [A]}, value head {"W_v": [H_L, 1], "b_v": [1]}.
    """

    def __init__(self, obs_dim: int, n_actions: int, hidden: Sequence[int] = (64, 64),
                 activation: str = "tanh", orthogonal: bool = False):
        self.obs_dim = check_positive_int("obs_dim", obs_dim)
        self.n_actions = check_positive_int("n_actions", n_actions)
        self.hidden = check_hidden(hidden, allow_empty=False)
        self.activation = _check_activation(activation)
        self.orthogonal = _check_bool("orthogonal", orthogonal)

    def __repr__(self):
        return (f"SharedActorCritic(obs_dim={self.obs_dim}, n_actions={self.n_actions}, "
                f"hidden={self.hidden}, activation={self.activation!r}, "
                f"orthogonal={self.orthogonal})")

    def param_shapes(self):
        H = self.hidden[-1]
        return {**mlp_param_shapes((self.obs_dim, *self.hidden)),
                "W_pi": (H, self.n_actions), "b_pi": (self.n_actions,),
                "W_v": (H, 1), "b_v": (1,)}

    def init(self, rng, dtype=None, gain: float | None = None, pi_gain: float = 0.01,
             v_gain: float = 1.0):
        """Trunk from ``npg.nn.mlp_init``; heads scaled by ``pi_gain`` (near-uniform policy) and
        ``v_gain``; biases zero. ``rng``: a numpy Generator or seed; float64 unless ``dtype``."""
        rng = as_generator(rng)
        pi_gain, v_gain = check_positive("pi_gain", pi_gain), check_positive("v_gain", v_gain)
        xp = default_xp()
        dtype = resolve_float_dtype(xp, dtype)
        trunk_gain = default_gain(self.activation) if gain is None else gain
        params = mlp_init((self.obs_dim, *self.hidden), rng, self.activation, self.orthogonal,
                          trunk_gain, dtype, out_gain=trunk_gain)
        H = self.hidden[-1]
        for key, n_out, c in (("pi", self.n_actions, pi_gain), ("v", 1, v_gain)):
            W = (orthogonal_matrix((H, n_out), rng, c) if self.orthogonal
                 else rng.standard_normal((H, n_out)) * (c / H ** 0.5))
            params[f"W_{key}"] = xp.asarray(W, dtype=dtype)
            params[f"b_{key}"] = xp.zeros((n_out,), dtype=dtype)
        return params

    def forward_both(self, params, obs, check: bool = True):
        """((logits [B, A], v [B]), vjp); ``vjp(d_logits, d_v, per_sample=False) -> grads``.

        Either head gradient may be None (zero). grads has every key of params; per_sample=True
        gives each a leading [B] axis. Gradients: see the module docstring.
        """
        if check:
            obs = self.check_obs(params, obs)
        h, trunk_vjp = mlp_forward(params, obs, self.activation, out_activation=self.activation, check=check)
        xp = get_xp(h)
        z = h @ params["W_pi"]
        z += params["b_pi"]
        v = xp.reshape(h @ params["W_v"], (-1,)) + params["b_v"]

        def vjp(d_logits=None, d_v=None, per_sample: bool = False):
            B = h.shape[0]
            head = {}
            d_h = None
            for key, d in (("pi", d_logits), ("v", None if d_v is None else d_v[:, None])):
                W = params[f"W_{key}"]
                if d is None:
                    shape_W, shape_b = tuple(W.shape), (int(W.shape[1]),)
                    if per_sample:
                        shape_W, shape_b = (B, *shape_W), (B, *shape_b)
                    head[f"W_{key}"] = xp.zeros(shape_W, dtype=h.dtype)
                    head[f"b_{key}"] = xp.zeros(shape_b, dtype=h.dtype)
                    continue
                head[f"W_{key}"] = (h[:, :, None] * d[:, None, :] if per_sample else h.T @ d)
                head[f"b_{key}"] = d if per_sample else xp.sum(d, axis=0)
                d_h = d @ W.T if d_h is None else d_h + d @ W.T
            if d_h is None:
                d_h = xp.zeros(tuple(h.shape), dtype=h.dtype)
            grads = trunk_vjp(d_h, per_sample, input_grad=False)[0]
            grads.update(head)
            return grads
        return (z, v), vjp

    def forward(self, params, obs, check: bool = True):
        """Logits [B, A] and ``vjp(d_logits, per_sample=False) -> grads`` (value head: zeros)."""
        (z, _), vjp_both = self.forward_both(params, obs, check)

        def vjp(d_logits, per_sample: bool = False):
            return vjp_both(d_logits, None, per_sample)
        return z, vjp

    def value(self, params, obs):
        """V(s) = trunk(s) W_v + b_v, [B]."""
        return self.forward_both(params, obs)[0][1]
