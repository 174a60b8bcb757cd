"""MLP policy with generalised state-dependent exploration (gSDE; ``npg.distributions.sde``).

Network: the mean network of ``MLPGaussianPolicy``, split at its last hidden layer:

    phi = trunk(s) = h_{L-1}  [B, H]     (the last hidden layer; s itself without hidden layers)
    mu  = phi W_L + b_L       [B, K]
    a | s ~ N(mu, diag v),    v = phi_sg^2 @ exp(2 L) + eps,   L = log_std [H, K]

with phi_sg = phi held constant (a stop-gradient; Stable-Baselines3's learn_features=False):
gradients reach the trunk through the mean only. Parameters: the MLP's {"W1", "b1", ...,
"WL", "bL"} and "log_std" [H, K], clipped to [LOG_STD_MIN, LOG_STD_MAX] in the forward pass.

Gradient of the forward pass, for upstream (d_mu [B, K], d_L [H, K]):
    dW_L = phi^T d_mu,   db_L = sum_b d_mu_b,   d_phi = d_mu W_L^T -> the trunk's backprop,
    d log_std = d_L * inside,  inside = [LOG_STD_MIN <= log_std <= LOG_STD_MAX].
"""

from __future__ import annotations

from ..backend import default_xp, get_xp
from ..distributions import sde
from ..distributions.gaussian import LOG_STD_MAX, LOG_STD_MIN, clip_log_std
from ..nn import mlp_forward, mlp_init, resolve_float_dtype
from .base import as_generator
from .mlp import MLPGaussianPolicy, mlp_param_shapes

__all__ = ["MLPSDEPolicy", "sde_forward"]


def sde_forward(params, obs, activation: str, phi_sg=None):
    """Unchecked forward: ``((mu [B, K], phi [B, H], clip(L) [H, K]), vjp)``.

    ``phi_sg`` [B, H], if given, replaces phi in the returned distribution parameters (the
    features the variance sees; tests pass fixed ones to difference the loss at constant
    features). ``vjp((d_mu, d_phi, d_L)) -> grads``: d_phi (the variance's) is dropped, the
    stop-gradient; see the module docstring for the rest.
    """
    L = sum(1 for k in params if k.startswith("W"))
    head_W, head_b = params[f"W{L}"], params[f"b{L}"]
    if L > 1:
        trunk = {k: params[k] for l in range(1, L) for k in (f"W{l}", f"b{l}")}
        phi, trunk_vjp = mlp_forward(trunk, obs, activation, out_activation=activation)
    else:
        phi, trunk_vjp = obs, None
    mean = phi @ head_W
    mean += head_b
    log_std = params["log_std"]
    xp = get_xp(mean)
    inside = xp.astype((log_std >= LOG_STD_MIN) & (log_std <= LOG_STD_MAX), mean.dtype)

    def vjp(d):
        d_mu, _, d_L = d
        grads = trunk_vjp(d_mu @ head_W.T, input_grad=False)[0] if trunk_vjp else {}
        grads[f"W{L}"] = phi.T @ d_mu
        grads[f"b{L}"] = xp.sum(d_mu, axis=0)
        grads["log_std"] = d_L * inside
        return grads
    return (mean, phi if phi_sg is None else phi_sg, clip_log_std(log_std)), vjp


class MLPSDEPolicy(MLPGaussianPolicy):
    """pi(.|s) = N(mu(s), diag v(s)), v = phi(s)^2 @ exp(2 log_std) + eps (gSDE).

    Args as ``MLPGaussianPolicy``; log_std_init fills the [H, K] matrix (H = hidden[-1], or
    obs_dim without hidden layers). ``forward`` returns (mean, phi, log_std); the Gaussian
    helpers of ``GaussianPolicy`` that assume a [K] log_std are replaced by ``log_prob``,
    ``sample``, ``mode`` and ``entropy`` below.
    """

    @property
    def n_features(self) -> int:
        return self.hidden[-1] if self.hidden else self.obs_dim

    def __repr__(self):
        return "MLPSDEPolicy" + super().__repr__()[len("MLPGaussianPolicy"):]

    def param_shapes(self):
        return {**mlp_param_shapes(self.sizes), "log_std": (self.n_features, self.act_dim)}

    def init(self, rng, dtype=None, gain: float | None = None, out_gain: float = 0.01):
        """MLP weights from ``rng`` and log_std = log_std_init [H, K]."""
        xp = default_xp()
        dtype = resolve_float_dtype(xp, dtype)
        params = mlp_init(self.sizes, as_generator(rng), self.activation, self.orthogonal, gain,
                          dtype, out_gain)
        params["log_std"] = xp.full((self.n_features, self.act_dim), self.log_std_init,
                                    dtype=dtype)
        return params

    def forward(self, params, obs):
        """((mean [B, K], phi [B, H], clip(log_std) [H, K]), vjp); see ``sde_forward``."""
        return sde_forward(params, self.check_obs(params, obs), self.activation)

    def log_prob(self, params, obs, act):
        """log pi(act | obs) [B] (``npg.distributions.sde.log_prob``)."""
        (mean, phi, ls), _ = self.forward(params, obs)
        return sde.log_prob(mean, phi, ls, get_xp(mean).asarray(act, dtype=mean.dtype))

    def entropy(self, params, obs):
        (_, phi, ls), _ = self.forward(params, obs)
        return sde.entropy(phi, ls)

    def sample(self, params, obs, rng):
        """A draw from the marginal N(mu, v) (fresh noise for every row)."""
        (mean, phi, ls), _ = self.forward(params, obs)
        return sde.sample(mean, phi, ls, as_generator(rng))

    def mode(self, params, obs):
        return self.forward(params, obs)[0][0]
