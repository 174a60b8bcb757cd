"""Tabular softmax policy: one logit per (state, action), pi(a|s) = softmax(theta[s])_a.

Parameters: {"theta": [S, A]}. Observations: integer states [B] in [0, S).

    z_b = theta[s_b]                                     [B, A]
    grad_theta log pi(a_b|s_b) = e_{s_b} (onehot(a_b) - pi(.|s_b))^T      (only row s_b)

so the weighted score sum scatters w_b (onehot(a_b) - pi_b) into row s_b:
    score_sum[s, :] = sum_{b: s_b = s} w_b (onehot(a_b) - pi(.|s)).
(Sutton & Barto 2018, sec. 13.2, "softmax in action preferences".)
"""

from __future__ import annotations

from ..checks import check_positive_int
from ..backend import default_xp, get_xp, scatter_add_rows
from .base import CategoricalPolicy, as_generator, check_init_scale

__all__ = ["TabularSoftmaxPolicy"]


class TabularSoftmaxPolicy(CategoricalPolicy):
    """pi(a|s) = softmax(theta[s])_a with theta [S, A].

    Args:
        n_states: S, the number of discrete states.
        n_actions: A, the number of discrete actions.
    """

    def __init__(self, n_states: int, n_actions: int):
        self.n_states = check_positive_int("n_states", n_states)
        self.n_actions = check_positive_int("n_actions", n_actions)

    def __repr__(self):
        return f"TabularSoftmaxPolicy(n_states={self.n_states}, n_actions={self.n_actions})"

    def param_shapes(self):
        return {"theta": (self.n_states, self.n_actions)}

    def init(self, rng, scale: float = 0.1, dtype=None):
        """theta = scale * N(0, 1) [S, A] (scale=0: the uniform policy), float64 by default."""
        rng = as_generator(rng)
        xp = default_xp()
        theta = check_init_scale(scale) * rng.standard_normal((self.n_states, self.n_actions))
        return {"theta": xp.asarray(theta, dtype=xp.float64 if dtype is None else dtype)}

    def _validate_obs(self, obs, xp, dtype):
        if not hasattr(obs, "shape") or not hasattr(obs, "dtype"):
            raise TypeError(f"obs must be an integer array [B] of states; got "
                            f"{type(obs).__name__}")
        if len(obs.shape) != 1:
            raise ValueError(f"obs must be integer states of shape [B]; got {tuple(obs.shape)}")
        oxp = get_xp(obs)
        if not oxp.isdtype(obs.dtype, "integral"):
            raise TypeError(f"obs must be integer state indices in [0, {self.n_states}); got "
                            f"dtype {obs.dtype}")
        if obs.shape[0] and (bool(oxp.any(obs < 0)) or bool(oxp.any(obs >= self.n_states))):
            raise ValueError(f"obs must lie in [0, {self.n_states}); got values from "
                             f"{int(oxp.min(obs))} to {int(oxp.max(obs))}")
        return obs if get_xp(obs) is xp else xp.asarray(obs)

    def forward(self, params, obs, check: bool = True):
        """z = theta[obs] [B, A].

        vjp(dz [B, A]) -> {"theta": G [S, A]} with G[s] = sum_{b: s_b = s} dz_b;
        per_sample=True gives {"theta": [B, S, A]} with dz_b in row s_b of sample b.
        """
        if check:
            obs = self.check_obs(params, obs)
        theta = params["theta"]
        xp = get_xp(theta)
        z = xp.take(theta, obs, axis=0)

        def vjp(dz, per_sample=False):
            if per_sample:
                rows = xp.astype(obs[:, None] == xp.arange(self.n_states, dtype=obs.dtype),
                                 dz.dtype)
                return {"theta": rows[:, :, None] * dz[:, None, :]}
            return {"theta": scatter_add_rows(xp, self.n_states, obs, dz)}

        return z, vjp
