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
from ..checks import check_finite
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
    obs_dim without hidden layers). ``forward`` returns (mean, phi, log_std); every method of
    the policy interface is written here for that triple (``npg.distributions.sde``), the
    gradients at constant features in v (the stop-gradient of the module docstring).
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

    def forward(self, params, obs, check: bool = True):
        """((mean [B, K], phi [B, H], clip(log_std) [H, K]), vjp); see ``sde_forward``."""
        return sde_forward(params, self.check_obs(params, obs) if check else obs,
                           self.activation)

    def terms(self, dist, act, mask=None, onehot=None):
        """The distribution's chain-rule layer at dist = (mean, phi, log_std)
        (``npg.distributions.sde.terms``): ``(logp [B], H [B], d_dist)`` with d_dist(d_logp,
        d_ent) = (d_mean, d_phi, d_log_std); the forward's vjp drops d_phi (the stop-gradient).
        A Gaussian has no action mask (TypeError if one is given)."""
        if mask is not None:
            raise TypeError("mask applies to Discrete actions only; this policy is Gaussian")
        return sde.terms(*dist, act)

    def _checked(self, params, obs, act=None):
        """(dist, vjp, act on the dist's module and dtype or None, xp)."""
        dist, vjp = self._forward(params, obs)
        xp = get_xp(dist[0])
        if act is not None:
            act = self._check_act(act, dist[0].shape[0], xp, dist[0].dtype)
        return dist, vjp, act, xp

    def log_prob(self, params, obs, act):
        """log pi(act | obs) [B] (``npg.distributions.sde.log_prob``)."""
        dist, _, act, _ = self._checked(params, obs, act)
        return sde.log_prob(*dist, act)

    def entropy(self, params, obs):
        """H(pi(.|s_b)) [B] (``npg.distributions.sde.entropy``)."""
        (_, phi, ls), _ = self._forward(params, obs)
        return sde.entropy(phi, ls)

    def score_sum(self, params, obs, act, w):
        """sum_b w_b grad_theta log pi(a_b|s_b) at constant features in v (the stop-gradient):
        vjp(d_dist(w, None)) with d_dist from ``terms``; the mean's path reaches the trunk."""
        dist, vjp, act, xp = self._checked(params, obs, act)
        w = self._check_weights(w, dist[0].shape[0], xp, dist[0].dtype)
        return vjp(self.terms(dist, act)[2](w, None))

    def scores(self, params, obs, act):
        """Per-sample scores [B, P] (``flatten(params)`` order): row b is ``score_sum`` with the
        weights e_b (one vjp per row: log_std [H, K] is shared by every row)."""
        dist, vjp, act, xp = self._checked(params, obs, act)
        B, dt = int(dist[0].shape[0]), dist[0].dtype
        d_dist = self.terms(dist, act)[2]
        eye = xp.eye(B, dtype=dt)
        rows = [vjp(d_dist(eye[b, :], None)) for b in range(B)]
        return xp.stack([xp.concat([xp.reshape(g[k], (-1,)) for k in params]) for g in rows])

    def entropy_grad(self, params, obs, w=None):
        """grad_theta sum_b w_b H(pi(.|s_b)) (w = 1 if None) = vjp(d_dist(0, w)); H depends on
        log_std alone at constant features."""
        dist, vjp, _, xp = self._checked(params, obs)
        B, dt = int(dist[0].shape[0]), dist[0].dtype
        w = xp.ones((B,), dtype=dt) if w is None else self._check_weights(w, B, xp, dt)
        d_dist = self.terms(dist, dist[0])[2]              # log pi's part is weighted by 0
        return vjp(d_dist(xp.zeros((B,), dtype=dt), w))

    def _check_old(self, old, dist):
        mean, phi, ls = dist
        ok = isinstance(old, (tuple, list)) and len(old) == 3 and all(
            hasattr(o, "shape") and tuple(o.shape) == tuple(x.shape) for o, x in zip(old, dist))
        if not ok:
            raise ValueError(f"old_dist_params must be a triple (mean {tuple(mean.shape)}, phi "
                             f"{tuple(phi.shape)}, log_std {tuple(ls.shape)})")
        xp = get_xp(mean)
        old = tuple(xp.asarray(o, dtype=mean.dtype) for o in old)
        for o in old:
            check_finite("old_dist_params", o)
        return old

    def kl(self, params, obs, old_dist_params):
        """KL(pi_old(.|s_b) || pi(.|s_b)) [B] (``npg.distributions.sde.kl``), pi_old given by
        its (mean, phi, log_std)."""
        dist, _ = self._forward(params, obs)
        return sde.kl(*self._check_old(old_dist_params, dist), *dist)

    def kl_grad(self, params, obs, old_dist_params, w=None):
        """grad_theta sum_b w_b KL(pi_old || pi) at constant features in v: vjp of
        ``sde.kl_grad`` (w = 1 if None)."""
        dist, vjp, _, xp = self._checked(params, obs)
        B, dt = int(dist[0].shape[0]), dist[0].dtype
        w = xp.ones((B,), dtype=dt) if w is None else self._check_weights(w, B, xp, dt)
        return vjp(sde.kl_grad(*self._check_old(old_dist_params, dist), *dist, w))

    def sample(self, params, obs, rng):
        """A draw from the marginal N(mu, v) (fresh noise for every row)."""
        (mean, phi, ls), _ = self.forward(params, obs)
        return sde.sample(mean, phi, ls, as_generator(rng))

    def mode(self, params, obs):
        return self.forward(params, obs)[0][0]
