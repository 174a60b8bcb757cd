"""MLP policies: a categorical over logits z = mlp(s), and a diagonal Gaussian with mean mlp(s).

Network (``npg.nn``, row-vector convention): h_0 = s [B, obs_dim], h_l = f(h_{l-1} W_l + b_l) for
the hidden layers (f = tanh or relu), and a linear output layer. The policy's gradients are the
two hand-derived layers of the chain rule:

    grad_theta sum_b w_b log pi(a_b|s_b) = backprop( w_b * d log pi(a_b|s_b) / d out_b )

with ``d log pi / dz = onehot(a) - softmax(z)`` (categorical, out = z [B, A]) and
``d log pi / d mean = (a - mean) / sigma^2`` (Gaussian, out = mean [B, K]); backprop is
``npg.nn.mlp_forward``'s vjp, skipping the unneeded gradient with respect to the observations.

The Gaussian's log_std [K] is a state-independent parameter, clipped to [LOG_STD_MIN,
LOG_STD_MAX] in ``forward``:

    grad_log_std sum_b w_b log pi(a_b|s_b) = sum_b w_b (((a_b - mean_b) / sigma)^2 - 1) * inside

where inside = 1 if LOG_STD_MIN <= log_std <= LOG_STD_MAX else 0 (the clip's derivative).

Initialisation (``init``): hidden layers with ``npg.nn.mlp_init`` (orthogonal, Saxe et al. 2014,
when ``orthogonal=True``; scaled Gaussian otherwise), the output layer scaled by ``out_gain``
(default 0.01, so the initial policy is near uniform / near zero mean, as recommended by
Andrychowicz et al. 2021, "What matters in on-policy reinforcement learning?"), biases zero.
"""

from __future__ import annotations

from typing import Sequence

from ..checks import check_positive_int
from ..backend import default_xp, get_xp
from ..distributions.gaussian import LOG_STD_MAX, LOG_STD_MIN, clip_log_std
from ..nn import activation_fn, mlp_forward, mlp_init, resolve_float_dtype
from .base import CategoricalPolicy, GaussianPolicy, as_generator, check_log_std_init

__all__ = ["MLPCategoricalPolicy", "MLPGaussianPolicy", "check_hidden", "mlp_param_shapes"]


def check_hidden(hidden, allow_empty: bool = True) -> tuple[int, ...]:
    """``hidden`` as a tuple of positive ints (hidden layer widths H_1, ..., H_{L-1})."""
    if isinstance(hidden, (str, bytes)) or not isinstance(hidden, Sequence):
        raise TypeError(f"hidden must be a sequence of positive ints (hidden layer widths); got "
                        f"{type(hidden).__name__}")
    if not allow_empty and len(hidden) == 0:
        raise ValueError("hidden must list at least one hidden layer width; got ()")
    return tuple(check_positive_int(f"hidden[{i}]", h) for i, h in enumerate(hidden))


def _check_activation(activation) -> str:
    activation_fn(activation)
    return activation


def _check_bool(name: str, x) -> bool:
    if not isinstance(x, bool):
        raise TypeError(f"{name} must be a bool; got {type(x).__name__}")
    return x


def mlp_param_shapes(sizes: Sequence[int]) -> dict:
    """{"W1": (n_0, n_1), "b1": (n_1,), ...} for layer widths (n_0, ..., n_L)."""
    out = {}
    for l in range(1, len(sizes)):
        out[f"W{l}"] = (sizes[l - 1], sizes[l])
        out[f"b{l}"] = (sizes[l],)
    return out


class MLPCategoricalPolicy(CategoricalPolicy):
    """pi(.|s) = softmax(z(s)), logits z = mlp(s) [B, A].

    Args:
        obs_dim: observation size (obs float [B, obs_dim]).
        n_actions: A.
        hidden: hidden layer widths, e.g. (64, 64).
        activation: 'tanh' or 'relu' (or 'identity') for the hidden layers.
        orthogonal: orthogonal weight initialisation (Saxe et al. 2014).
    Parameters: {"W1": [obs_dim, H_1], "b1": [H_1], ..., "WL": [H_{L-1}, A], "bL": [A]}.
    """

    def __init__(self, obs_dim: int, n_actions: int, hidden: Sequence[int] = (64, 64),
                 activation: str = "tanh", orthogonal: bool = False):
        self.obs_dim = check_positive_int("obs_dim", obs_dim)
        self.n_actions = check_positive_int("n_actions", n_actions)
        self.hidden = check_hidden(hidden)
        self.activation = _check_activation(activation)
        self.orthogonal = _check_bool("orthogonal", orthogonal)

    def __repr__(self):
        return (f"MLPCategoricalPolicy(obs_dim={self.obs_dim}, n_actions={self.n_actions}, "
                f"hidden={self.hidden}, activation={self.activation!r}, "
                f"orthogonal={self.orthogonal})")

    @property
    def sizes(self) -> tuple[int, ...]:
        return (self.obs_dim, *self.hidden, self.n_actions)

    def param_shapes(self):
        return mlp_param_shapes(self.sizes)

    def init(self, rng, dtype=None, gain: float | None = None, out_gain: float = 0.01):
        """MLP weights from the Generator (or seed) ``rng``; float64 unless ``dtype``.

        gain: hidden-layer weight gain (default ``npg.nn.default_gain(activation)``);
        out_gain: the logits layer's gain (0.01: near-uniform initial policy).
        """
        return mlp_init(self.sizes, as_generator(rng), self.activation, self.orthogonal, gain,
                        resolve_float_dtype(default_xp(), dtype), out_gain)

    def forward(self, params, obs, check: bool = True):
        """Logits z = mlp(obs) [B, A]; ``vjp(d_z [B, A], per_sample=False) -> grads``.

        Gradient (backpropagation, ``npg.nn.mlp_forward``): for g_L = d_z,
        dW_l = h_{l-1}^T g_l, db_l = sum_b g_l, g_{l-1} = (g_l W_l^T) * f'(a_{l-1}).
        """
        if check:
            obs = self.check_obs(params, obs)
        z, net_vjp = mlp_forward(params, obs, self.activation, check=check)

        def vjp(d_z, per_sample: bool = False):
            return net_vjp(d_z, per_sample, input_grad=False)[0]
        return z, vjp


class MLPGaussianPolicy(GaussianPolicy):
    """pi(.|s) = N(mean(s), diag(sigma^2)), mean = mlp(s) [B, K], sigma = exp(log_std) [K].

    Args:
        obs_dim: observation size (obs float [B, obs_dim]).
        act_dim: K.
        hidden: hidden layer widths, e.g. (64, 64).
        activation: 'tanh' or 'relu' (or 'identity') for the hidden layers.
        log_std_init: the initial log_std of every action dimension (state-independent).
        orthogonal: orthogonal weight initialisation (Saxe et al. 2014).
    Parameters: the MLP's {"W1", "b1", ..., "WL", "bL"} (output width K) and "log_std" [K].
    """

    def __init__(self, obs_dim: int, act_dim: int, hidden: Sequence[int] = (64, 64),
                 activation: str = "tanh", log_std_init: float = 0.0, orthogonal: bool = False):
        self.obs_dim = check_positive_int("obs_dim", obs_dim)
        self.act_dim = check_positive_int("act_dim", act_dim)
        self.hidden = check_hidden(hidden)
        self.activation = _check_activation(activation)
        self.log_std_init = check_log_std_init(log_std_init)
        self.orthogonal = _check_bool("orthogonal", orthogonal)

    def __repr__(self):
        return (f"MLPGaussianPolicy(obs_dim={self.obs_dim}, act_dim={self.act_dim}, "
                f"hidden={self.hidden}, activation={self.activation!r}, "
                f"log_std_init={self.log_std_init}, orthogonal={self.orthogonal})")

    @property
    def sizes(self) -> tuple[int, ...]:
        return (self.obs_dim, *self.hidden, self.act_dim)

    def param_shapes(self):
        return {**mlp_param_shapes(self.sizes), "log_std": (self.act_dim,)}

    def init(self, rng, dtype=None, gain: float | None = None, out_gain: float = 0.01):
        """MLP weights from the Generator (or seed) ``rng`` and log_std = log_std_init [K]."""
        xp = default_xp()
        dtype = resolve_float_dtype(xp, dtype)
        params = mlp_init(self.sizes, as_generator(rng), self.activation, self.orthogonal, gain,
                          dtype, out_gain)
        params["log_std"] = xp.full((self.act_dim,), self.log_std_init, dtype=dtype)
        return params

    def forward(self, params, obs, check: bool = True):
        """(mean [B, K], log_std [B, K]) = (mlp(obs), clip(log_std) broadcast over B).

        ``vjp((d_mean, d_log_std), per_sample=False) -> grads``: the MLP's grads from
        backpropagating d_mean, and grads["log_std"] = sum_b d_log_std_b * inside [K]
        (per_sample: d_log_std * inside [B, K]), inside = [LOG_STD_MIN <= log_std <= LOG_STD_MAX].
        """
        if check:
            obs = self.check_obs(params, obs)
        mean, net_vjp = mlp_forward(params, obs, self.activation, check=check)
        log_std = params["log_std"]
        xp = get_xp(mean)
        inside = xp.astype((log_std >= LOG_STD_MIN) & (log_std <= LOG_STD_MAX), mean.dtype)
        ls = xp.broadcast_to(clip_log_std(log_std), tuple(mean.shape))

        def vjp(d, per_sample: bool = False):
            d_mean, d_log_std = d
            grads = net_vjp(d_mean, per_sample, input_grad=False)[0]
            grads["log_std"] = (d_log_std * inside if per_sample
                                else xp.sum(d_log_std, axis=0) * inside)
            return grads
        return (mean, ls), vjp
