"""MLP policy for MultiDiscrete and MultiBinary actions: one network, one logit block per action
dimension (``npg.distributions.product``).

    z = mlp(s) [B, W]           W = sum nvec (MultiDiscrete) or K (MultiBinary)
    pi(a|s) = prod_k softmax(z_k(s))_{a_k}      or      prod_k Bernoulli(sigmoid(z_k(s)))

Gradient of a weighted log-likelihood (the policy-gradient layer):

    grad_theta sum_b w_b log pi(a_b|s_b) = backprop( w_b * d log pi(a_b|s_b) / d z_b )

with d log pi / d z_k = onehot(a_k) - softmax(z_k) (MultiDiscrete) or a_k - sigmoid(z_k)
(MultiBinary), and backprop ``npg.nn.mlp_forward``'s vjp. Initialisation as the categorical MLP
(output gain 0.01: a near-uniform start, Andrychowicz et al. 2021).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..checks import check_positive_int
from ..backend import create, default_xp, device_of, get_xp
from ..distributions import product as P
from ..nn import mlp_forward, mlp_init, resolve_float_dtype
from .base import Policy, as_generator
from .mlp import _check_activation, _check_bool, check_hidden, mlp_param_shapes

__all__ = ["MLPProductPolicy", "PRODUCT_KINDS"]

PRODUCT_KINDS = ("multi_discrete", "multi_binary")


class MLPProductPolicy(Policy):
    """pi(a|s) a product of categoricals (``kind="multi_discrete"``, ``nvec``) or of Bernoullis
    (``kind="multi_binary"``, ``nvec = (2,) * K``) with logits z = mlp(s).

    Parameters: {"W1": [obs_dim, H_1], "b1", ..., "WL": [H_{L-1}, W], "bL": [W]}.
    Actions: int64 [B, K]. Distribution parameters: ``npg.distributions.product.ProductLogits``.
    """

    def __init__(self, obs_dim: int, nvec, kind: str = "multi_discrete",
                 hidden: Sequence[int] = (64, 64), activation: str = "tanh",
                 orthogonal: bool = False):
        if kind not in PRODUCT_KINDS:
            raise ValueError(f"kind must be one of {PRODUCT_KINDS}; got {kind!r}")
        self.kind = kind
        self.nvec = P.check_nvec(nvec)
        if kind == "multi_binary" and any(n != 2 for n in self.nvec):
            raise ValueError(f"a multi_binary policy has nvec = (2,) * K; got {self.nvec}")
        self.obs_dim = check_positive_int("obs_dim", obs_dim)
        self.hidden = check_hidden(hidden)
        self.activation = _check_activation(activation)
        self.orthogonal = _check_bool("orthogonal", orthogonal)
        self.width = sum(self.nvec) if kind == "multi_discrete" else len(self.nvec)

    @classmethod
    def for_spec(cls, spec, hidden=(64, 64), activation="tanh", orthogonal=False):
        """The policy for an ``npg.envs.SpaceInfo`` with product actions (``spec.nvec``;
        ``spec.binary`` selects Bernoulli bits)."""
        if getattr(spec, "nvec", None) is None:
            raise ValueError("spec must describe MultiDiscrete or MultiBinary actions (spec.nvec "
                             "set); got a spec without nvec")
        return cls(spec.obs_dim, spec.nvec, "multi_binary" if spec.binary else "multi_discrete",
                   hidden, activation, orthogonal)

    def __repr__(self):
        return (f"MLPProductPolicy(obs_dim={self.obs_dim}, nvec={self.nvec}, kind={self.kind!r}, "
                f"hidden={self.hidden}, activation={self.activation!r})")

    @property
    def sizes(self) -> tuple[int, ...]:
        return (self.obs_dim, *self.hidden, self.width)

    def param_shapes(self):
        return mlp_param_shapes(self.sizes)

    def init(self, rng, dtype=None, gain: float | None = None, out_gain: float = 0.01):
        """MLP weights from the Generator (or seed) ``rng``; float64 unless ``dtype``."""
        return mlp_init(self.sizes, as_generator(rng), self.activation, self.orthogonal, gain,
                        resolve_float_dtype(default_xp(), dtype), out_gain)

    # ------------------------------------------------------------------ network
    def forward(self, params, obs, check: bool = True):
        """``(ProductLogits(z = mlp(obs) [B, W], nvec, binary), vjp)``; ``vjp(d_z [B, W],
        per_sample=False) -> grads`` (backpropagation, ``npg.nn.mlp_forward``). Params and obs
        are checked (``Policy.check_obs``) unless ``check=False``."""
        if check:
            obs = self.check_obs(params, obs)
        z, net_vjp = mlp_forward(params, obs, self.activation, check=check)

        def vjp(d_z, per_sample: bool = False):
            return net_vjp(d_z, per_sample, input_grad=False)[0]
        return P.ProductLogits(z, self.nvec, self.kind == "multi_binary"), vjp

    def dist_params(self, params, obs):
        """The ``ProductLogits`` of pi(.|s_b) (forward without the vjp)."""
        return self.forward(params, obs)[0]

    # ------------------------------------------------------------------ distribution
    def terms(self, dist, act, mask=None, onehot=None):
        """(log pi [B], H [B], d_dist) at ``dist`` (the forward's ``ProductLogits``, or its
        logits z [B, W]) for actions act [B, K] (``product.md_terms`` /
        ``product.bern_terms``). An action mask needs a Discrete space (TypeError)."""
        if mask is not None:
            raise TypeError("an action mask needs a Discrete action space; these actions are "
                            "MultiDiscrete / MultiBinary")
        z = dist.z if isinstance(dist, P.ProductLogits) else dist
        return P.ProductLogits(z, self.nvec, self.kind == "multi_binary").terms(act)

    def log_prob(self, params, obs, act):
        """log pi(a_b | s_b) [B]."""
        return self.dist_params(params, obs).log_prob(act)

    def entropy(self, params, obs):
        """H(pi(.|s_b)) [B]."""
        return self.dist_params(params, obs).entropy()

    def score_sum(self, params, obs, act, w):
        """grad_theta sum_b w_b log pi(a_b|s_b) = vjp(w_b d log pi_b / d z_b); w [B]."""
        dist, vjp = self.forward(params, obs)
        xp = get_xp(dist.z)
        w = (np.asarray(w, dtype=dist.z.dtype) if xp is np else
             xp.astype(w, dist.z.dtype) if get_xp(w) is xp else
             create(xp, "asarray", w, dtype=dist.z.dtype, device=device_of(dist.z)))
        if tuple(w.shape) != (dist.z.shape[0],):
            raise ValueError(f"w must have shape [{dist.z.shape[0]}]; got {tuple(w.shape)}")
        return vjp(dist.terms(act)[2](w))

    def sample(self, params, obs, rng):
        """a_b ~ pi(.|s_b), int64 [B, K], from the numpy Generator (or seed) ``rng``."""
        return self.dist_params(params, obs).sample(as_generator(rng))

    def mode(self, params, obs):
        """The most probable joint action per observation, int64 [B, K]."""
        return self.dist_params(params, obs).mode()
