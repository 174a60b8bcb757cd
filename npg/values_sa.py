"""A Q critic over the concatenated (state, action) encoding: Q(s, a) = mlp([phi(s), onehot(a)]).

npg's ``MLPQ`` maps s to the vector Q(s, .) (one output per action). The Q actor-critic of the
source texts instead feeds the pair in: for FrozenLake, a 16 + 4 = 20-dimensional input (the
one-hot state concatenated with the one-hot action) into a 20-10-1 network (hidden widths 20
and 10, one output). ``MLPStateActionQ(obs_dim, n_actions, hidden=(20, 10))`` is that critic.

    x(s, a)  = [obs(s), onehot(a)]                                   [D + A]
    Q(s, a)  = mlp(x(s, a))[0]                                       (npg.nn.mlp_forward)
    Q(s, .)  = mlp(X)[:, 0] reshaped [B, A], X = every (s_b, a) pair  [B A, D + A]

Gradient: the network's backpropagation fed with d_out = d_q.reshape(B A, 1) (``forward``), or
d_out = d_v[:, None] on the taken pairs only (``value_forward``). The regression loss on the
taken actions is L = (1/2B) sum_b (Q(s_b, a_b) - y_b)^2 with
dL/dtheta = (1/B) sum_b (Q(s_b, a_b) - y_b) grad Q(s_b, a_b) (``loss_grad``).

It has the interface of ``npg.values.MLPQ`` (``init``, ``forward(params, obs) -> (q [B, A],
vjp)``, ``value``, ``loss_grad``), so ``npg.algos.q_actor_critic`` can take it wherever it
builds an ``MLPQ`` (see the closing note of issue 15).
"""

from __future__ import annotations

from .checks import (as_generator, check_actions, check_finite, check_ndim, check_positive_int,
                      check_shape)
from .backend import create, device_of, get_xp
from .nn import mlp_forward, mlp_init
from .losses import value_loss

__all__ = ["MLPStateActionQ"]


class MLPStateActionQ:
    """Q(s, a) = mlp([obs, onehot(a)]): an MLP (D + A) -> hidden... -> 1 (module docstring)."""

    def __init__(self, obs_dim: int, n_actions: int, hidden=(20, 10), activation: str = "tanh"):
        self.obs_dim = check_positive_int("obs_dim", obs_dim)
        self.n_actions = check_positive_int("n_actions", n_actions)
        if isinstance(hidden, int) and not isinstance(hidden, bool):
            hidden = (hidden,)
        if not isinstance(hidden, (tuple, list)):
            raise TypeError(f"hidden must be a tuple of positive ints; got "
                            f"{type(hidden).__name__}")
        self.hidden = tuple(check_positive_int(f"hidden[{i}]", h) for i, h in enumerate(hidden))
        if activation not in ("tanh", "relu"):
            raise ValueError(f"activation must be 'tanh' or 'relu'; got {activation!r}")
        self.activation = activation
        self.sizes = (self.obs_dim + self.n_actions,) + self.hidden + (1,)

    def __repr__(self):
        return (f"MLPStateActionQ(obs_dim={self.obs_dim}, n_actions={self.n_actions}, "
                f"hidden={self.hidden}, activation={self.activation!r})")

    def init(self, rng, dtype="float64", orthogonal: bool = False, gain=None):
        """Parameters {"W1", "b1", ...} (``npg.nn.mlp_init``, output gain 1)."""
        return mlp_init(self.sizes, as_generator(rng), self.activation, orthogonal, gain, dtype,
                        out_gain=1.0)

    def _obs(self, params, obs):
        like = params["W1"]
        xp = get_xp(like)
        check_ndim("obs", obs, (2,), f"a batch of observations [B, {self.obs_dim}]")
        if int(obs.shape[1]) != self.obs_dim:
            raise ValueError(f"obs must have shape [B, {self.obs_dim}]; got {tuple(obs.shape)}")
        obs = (xp.asarray(obs, dtype=like.dtype) if get_xp(obs) is xp else   # host obs: one
               create(xp, "asarray", obs, dtype=like.dtype, device=device_of(like)))  # copy
        check_finite("obs", obs)
        return xp, obs

    def value_forward(self, params, obs, act):
        """Q(s_b, a_b) [B] on the taken pairs, and vjp(d_v [B]) -> grads."""
        xp, obs = self._obs(params, obs)
        check_shape("act", act, (obs.shape[0],), "one action index per observation")
        check_actions("act", act, self.n_actions)
        classes = create(xp, "arange", self.n_actions, device=device_of(obs))
        onehot = xp.astype(xp.asarray(act)[:, None] == classes[None, :], obs.dtype)
        out, vjp = mlp_forward(params, xp.concat([obs, onehot], axis=1), self.activation)
        return out[:, 0], lambda d_v: vjp(d_v[:, None], input_grad=False)[0]

    def forward(self, params, obs, check: bool = True):
        """Q(s_b, .) [B, A] from the B A pairs; vjp(d_q [B, A]) -> grads. ``check=False``
        skips validating params and obs."""
        xp, obs = self._obs(params, obs) if check else (get_xp(obs), obs)
        B, A = int(obs.shape[0]), self.n_actions
        rows = xp.reshape(xp.broadcast_to(obs[:, None, ...], (B, A, self.obs_dim)),
                          (B * A, self.obs_dim))
        eye = create(xp, "eye", A, dtype=obs.dtype, device=device_of(obs))
        eye = xp.reshape(xp.broadcast_to(eye[None, ...], (B, A, A)),
                         (B * A, A))
        out, vjp = mlp_forward(params, xp.concat([rows, eye], axis=1), self.activation)
        return (xp.reshape(out[:, 0], (B, A)),
                lambda d_q: vjp(xp.reshape(d_q, (B * A, 1)), input_grad=False)[0])

    def value(self, params, obs, act):
        """Q(s_b, a_b) [B] for integer actions ``act`` [B]."""
        return self.value_forward(params, obs, act)[0]

    def loss_grad(self, params, obs, act, target):
        """(L, dL/dtheta) of L = (1/2B) sum_b (Q(s_b, a_b) - y_b)^2 (targets constant)."""
        q, vjp = self.value_forward(params, obs, act)
        xp = get_xp(q)
        check_shape("target", target, (q.shape[0],), "one target per observation")
        y = xp.asarray(target, dtype=q.dtype)
        check_finite("target", y)
        loss, d_q = value_loss(q, y, check=False)
        return loss, vjp(d_q)
