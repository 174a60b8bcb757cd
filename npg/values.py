"""Critics V(s) and Q(s, a) with the gradients of their squared-error regression losses.

Every critic regresses on targets ``y`` that are held constant (they are not differentiated,
the usual "semi-gradient" of TD learning, Sutton & Barto 2018, section 9.3):

    L(theta) = 1/(2B) sum_b (V_theta(s_b) - y_b)^2
    Gradient: dL/dtheta = 1/B sum_b (V_theta(s_b) - y_b) dV_theta(s_b)/dtheta

For a state-action critic replace ``V_theta(s_b)`` by ``Q_theta(s_b, a_b)``. The chain rule is
split as everywhere in npg: ``forward(params, obs) -> (v, vjp)``, and ``vjp(d_v)`` pulls the
loss's derivative ``d_v = dL/dv = (v - y) / B`` (shape ``[B]``, or ``[B, A]`` for Q) back to
the parameters, giving a dict with the keys of ``params``.

| class | params | V or Q |
|---|---|---|
| ``TabularValue(S)`` | ``{"v": [S]}`` | ``V(s) = v[s]`` |
| ``LinearValue(phi)`` | ``{"w": [D]}`` | ``V(s) = phi(s) . w`` |
| ``MLPValue(obs_dim, hidden)`` | ``{"W1","b1",...}`` | ``V(s) = mlp(s)[0]`` |
| ``TabularQ(S, A)`` | ``{"q": [S, A]}`` | ``Q(s, .) = q[s, :]`` |
| ``LinearQ(phi, A)`` | ``{"W": [D, A]}`` | ``Q(s, .) = phi(s) W`` |
| ``MLPQ(obs_dim, A, hidden)`` | ``{"W1","b1",...}`` | ``Q(s, .) = mlp(s)`` |

Constructors store hyperparameters only; ``init(rng)`` creates parameters (a seed or a
``numpy.random.Generator``); every method takes the parameters explicitly. Outputs keep the
dtype of the parameters; observations and targets are cast to it.
"""

from __future__ import annotations

import numpy as np

from .checks import (as_generator, check_actions, check_finite, check_float, check_ndim,
                      check_positive_int, check_result_finite, check_shape)
from .losses import value_loss, value_overflow_hint
from .backend import default_xp, get_xp, scatter_add_rows
from .nn import activation_fn, mlp_forward, mlp_init

__all__ = ["TabularValue", "LinearValue", "MLPValue", "TabularQ", "LinearQ", "MLPQ"]


# --------------------------------------------------------------------------- input checks


def _check_states(obs, n_states: int):
    """Discrete observations: an integer array [B] with entries in [0, n_states)."""
    xp = get_xp(obs)
    check_ndim("obs", obs, (1,), "a batch of integer states [B]")
    if not xp.isdtype(obs.dtype, "integral"):
        raise TypeError(f"obs must be an integer array of states in [0, {n_states}); "
                        f"got dtype {obs.dtype}")
    if obs.shape[0] and (bool(xp.any(obs < 0)) or bool(xp.any(obs >= n_states))):
        raise ValueError(f"obs must lie in [0, {n_states}); got values from {int(xp.min(obs))} "
                         f"to {int(xp.max(obs))}")
    return obs


def _check_box(obs, obs_dim: int | None, dtype):
    """Box observations: a finite float array [B, obs_dim], cast to the parameters' dtype."""
    xp = get_xp(obs)
    check_ndim("obs", obs, (2,), f"a batch of observations [B, {obs_dim or 'obs_dim'}]")
    if obs_dim is not None:
        check_shape("obs", obs, (None, obs_dim), "a batch of observations")
    if xp.isdtype(obs.dtype, "bool"):
        raise TypeError(f"obs must be a real-valued array; got dtype {obs.dtype}")
    obs = xp.astype(obs, dtype)
    check_finite("obs", obs)
    return obs


def _check_params(params, like: dict):
    """params must have exactly the keys and shapes of ``like`` (name -> shape), float, finite."""
    if not isinstance(params, dict):
        raise TypeError(f"params must be a dict of arrays; got {type(params).__name__}")
    if set(params) != set(like):
        raise ValueError(f"params must have keys {sorted(like)}; got {sorted(params)}")
    for k, shape in like.items():
        check_shape(f"params[{k!r}]", params[k], shape)
        check_float(f"params[{k!r}]", params[k])
        check_finite(f"params[{k!r}]", params[k])
    return params[next(iter(like))].dtype


def _check_target(target, batch: int, dtype):
    """Regression targets: a finite real array [B], cast to the parameters' dtype."""
    xp = get_xp(target)
    check_shape("target", target, (batch,), "one regression target per observation")
    if xp.isdtype(target.dtype, "bool"):
        raise TypeError(f"target must be a real-valued array; got dtype {target.dtype}")
    target = xp.astype(target, dtype)
    check_finite("target", target)
    return target


def _onehot(xp, act, n: int, dtype):
    """onehot(a) [B, n]: row b is 1 at column a_b and 0 elsewhere."""
    return xp.astype(act[:, None] == xp.arange(n, dtype=act.dtype)[None, :], dtype)


# --------------------------------------------------------------------------- shared loss code


class _StateValue:
    """Shared ``value`` and ``loss_grad`` of V critics; subclasses define ``forward``."""

    def value(self, params, obs):
        """V(s_b) for every observation, shape [B]."""
        return self.forward(params, obs)[0]

    def loss_grad(self, params, obs, target):
        """Squared-error regression loss and its gradient.

        loss = 1/(2B) sum_b (V(s_b) - y_b)^2                      (scalar, 0-d array)
        Gradient: dL/dv_b = (v_b - y_b) / B, pulled back through ``forward``'s vjp.
        target y is [B] and held constant. Returns ``(loss, grads)``.
        """
        v, vjp = self.forward(params, obs)
        y = _check_target(target, v.shape[0], v.dtype)
        loss, d_v = value_loss(v, y, check=False)
        return _checked_loss(loss, v, y), vjp(d_v)


class _ActionValue:
    """Shared ``value`` and ``loss_grad`` of Q critics; subclasses define ``forward``."""

    def value(self, params, obs, act):
        """Q(s_b, a_b) [B] for integer actions ``act`` [B]."""
        q = self.forward(params, obs)[0]
        return _gather(q, act, self.n_actions)

    def loss_grad(self, params, obs, act, target):
        """Squared-error loss on the taken actions and its gradient.

        loss = 1/(2B) sum_b (Q(s_b, a_b) - y_b)^2
        Gradient: dL/dQ[b, a] = onehot(a_b)[a] (Q(s_b, a_b) - y_b) / B, a matrix [B, A] pulled
        back through ``forward``'s vjp. Returns ``(loss, grads)``.
        """
        q, vjp = self.forward(params, obs)
        xp = get_xp(q)
        check_shape("act", act, (q.shape[0],), "one action index per observation")
        check_actions("act", act, self.n_actions)
        onehot = _onehot(xp, act, self.n_actions, q.dtype)
        y = _check_target(target, q.shape[0], q.dtype)
        loss, d_q = value_loss(xp.sum(q * onehot, axis=1), y, check=False)
        return _checked_loss(loss, q, y), vjp(onehot * d_q[:, None])


def _checked_loss(loss, v, y):
    """The regression loss, or a ValueError if it overflowed (one isfinite on a scalar)."""
    if not bool(get_xp(loss).isfinite(loss)):
        check_finite("the critic's values", v)
        check_result_finite("the critic's loss", loss, value_overflow_hint(v, y))
    return loss


def _gather(q, act, n_actions: int):
    """Q(s_b, a_b) = sum_a q[b, a] onehot(a_b)[a], shape [B]."""
    xp = get_xp(q)
    check_shape("act", act, (q.shape[0],), "one action index per observation")
    check_actions("act", act, n_actions)
    return xp.sum(q * _onehot(xp, act, n_actions, q.dtype), axis=1)


def _dtype(xp, dtype):
    """The floating dtype named ``dtype`` ('float64' default, or a NumPy dtype) on ``xp``."""
    return getattr(xp, np.dtype(dtype or "float64").name)




# --------------------------------------------------------------------------- tabular


class TabularValue(_StateValue):
    """A table of state values, ``V(s) = v[s]``, params ``{"v": [S]}`` (initialised to zero).

    obs: integer states [B]. Gradient of V(s_b) with respect to v is the one-hot e_{s_b}, so
    vjp(d_v)["v"][s] = sum_{b: s_b = s} d_v[b] (a scatter-add over the batch).
    """

    def __init__(self, n_states: int):
        self.n_states = check_positive_int("n_states", n_states)

    def __repr__(self):
        return f"TabularValue(n_states={self.n_states})"

    def init(self, rng=None, dtype="float64"):
        """``{"v": zeros [S]}``; ``rng`` is accepted for a uniform interface (nothing is random)."""
        xp = default_xp()
        return {"v": xp.zeros((self.n_states,), dtype=_dtype(xp, dtype))}

    def forward(self, params, obs, check: bool = True):
        """v [B] = params["v"][obs]; vjp(d_v [B]) -> {"v": scatter_add(obs, d_v) [S]}.
        ``check=False`` (here and in every critic) skips validating params and obs."""
        if check:
            _check_params(params, {"v": (self.n_states,)})
            obs = _check_states(obs, self.n_states)
        table = params["v"]
        xp = get_xp(table)
        v = xp.take(table, obs, axis=0)

        def vjp(d_v):
            return {"v": scatter_add_rows(xp, self.n_states, obs, xp.astype(d_v, table.dtype))}
        return v, vjp


class TabularQ(_ActionValue):
    """A table of action values, ``Q(s, a) = q[s, a]``, params ``{"q": [S, A]}`` (zeros).

    obs: integer states [B]; forward gives the rows Q(s_b, .) [B, A];
    vjp(d_q [B, A])["q"][s, :] = sum_{b: s_b = s} d_q[b, :].
    """

    def __init__(self, n_states: int, n_actions: int):
        self.n_states = check_positive_int("n_states", n_states)
        self.n_actions = check_positive_int("n_actions", n_actions)

    def __repr__(self):
        return f"TabularQ(n_states={self.n_states}, n_actions={self.n_actions})"

    def init(self, rng=None, dtype="float64"):
        """``{"q": zeros [S, A]}``; ``rng`` is accepted for a uniform interface."""
        xp = default_xp()
        return {"q": xp.zeros((self.n_states, self.n_actions), dtype=_dtype(xp, dtype))}

    def forward(self, params, obs, check: bool = True):
        """q [B, A] = params["q"][obs, :]; vjp(d_q [B, A]) -> {"q": scatter_add(obs, d_q)}."""
        if check:
            _check_params(params, {"q": (self.n_states, self.n_actions)})
            obs = _check_states(obs, self.n_states)
        table = params["q"]
        xp = get_xp(table)
        q = xp.take(table, obs, axis=0)

        def vjp(d_q):
            return {"q": scatter_add_rows(xp, self.n_states, obs, xp.astype(d_q, table.dtype))}
        return q, vjp


# --------------------------------------------------------------------------- linear


class LinearValue(_StateValue):
    """Linear in features, ``V(s) = phi(s) . w``, params ``{"w": [D]}`` (initialised to zero).

    ``features`` is a feature map (``npg.features``): ``features(obs) -> phi [B, D]`` and
    ``features.dim = D``. Include a constant feature for a bias.
    Gradient: dV(s_b)/dw = phi(s_b), so vjp(d_v [B]) = {"w": phi^T d_v [D]}.
    """

    def __init__(self, features):
        if not callable(features) or not hasattr(features, "dim"):
            raise TypeError("features must be a feature map with __call__(obs) -> [B, D] and "
                            f".dim; got {type(features).__name__}")
        self.features = features

    def __repr__(self):
        return f"LinearValue(features={self.features!r})"

    def init(self, rng=None, dtype="float64"):
        """``{"w": zeros [D]}``; ``rng`` is accepted for a uniform interface."""
        xp = default_xp()
        return {"w": xp.zeros((int(self.features.dim),), dtype=_dtype(xp, dtype))}

    def forward(self, params, obs, check: bool = True):
        """v [B] = phi(obs) w; vjp(d_v [B]) -> {"w": phi^T d_v}."""
        w = params["w"]
        dtype = _check_params(params, {"w": (int(self.features.dim),)}) if check else w.dtype
        xp = get_xp(w)
        phi = xp.astype(self.features(obs), dtype)
        v = phi @ w

        def vjp(d_v):
            return {"w": xp.astype(d_v, dtype) @ phi}
        return v, vjp


class LinearQ(_ActionValue):
    """Linear in features per action, ``Q(s, .) = phi(s) W``, params ``{"W": [D, A]}`` (zeros).

    Gradient: dQ(s_b, a)/dW[:, a'] = phi(s_b) [a = a'], so vjp(d_q [B, A]) = {"W": phi^T d_q}.
    """

    def __init__(self, features, n_actions: int):
        if not callable(features) or not hasattr(features, "dim"):
            raise TypeError("features must be a feature map with __call__(obs) -> [B, D] and "
                            f".dim; got {type(features).__name__}")
        self.features = features
        self.n_actions = check_positive_int("n_actions", n_actions)

    def __repr__(self):
        return f"LinearQ(features={self.features!r}, n_actions={self.n_actions})"

    def init(self, rng=None, dtype="float64"):
        """``{"W": zeros [D, A]}``; ``rng`` is accepted for a uniform interface."""
        xp = default_xp()
        shape = (int(self.features.dim), self.n_actions)
        return {"W": xp.zeros(shape, dtype=_dtype(xp, dtype))}

    def forward(self, params, obs, check: bool = True):
        """q [B, A] = phi(obs) W; vjp(d_q [B, A]) -> {"W": phi^T d_q [D, A]}."""
        W = params["W"]
        shape = (int(self.features.dim), self.n_actions)
        dtype = _check_params(params, {"W": shape}) if check else W.dtype
        xp = get_xp(W)
        phi = xp.astype(self.features(obs), dtype)
        q = phi @ W

        def vjp(d_q):
            return {"W": phi.mT @ xp.astype(d_q, dtype)}
        return q, vjp


# --------------------------------------------------------------------------- multilayer perceptron


def _check_hidden(hidden) -> tuple[int, ...]:
    if isinstance(hidden, int) and not isinstance(hidden, bool):
        hidden = (hidden,)
    if not isinstance(hidden, (tuple, list)):
        raise TypeError(f"hidden must be a tuple of positive ints; got {type(hidden).__name__}")
    return tuple(check_positive_int(f"hidden[{i}]", h) for i, h in enumerate(hidden))


def _mlp_shapes(sizes) -> dict:
    shapes = {}
    for l in range(1, len(sizes)):
        shapes[f"W{l}"] = (sizes[l - 1], sizes[l])
        shapes[f"b{l}"] = (sizes[l],)
    return shapes


class _MLPCritic:
    """Shared constructor, ``init`` and ``forward`` of the MLP critics (``n_out`` outputs)."""

    def __init__(self, obs_dim: int, n_out: int, hidden, activation: str):
        self.obs_dim = check_positive_int("obs_dim", obs_dim)
        self.hidden = _check_hidden(hidden)
        activation_fn(activation)
        self.activation = activation
        self._sizes = (self.obs_dim,) + self.hidden + (n_out,)

    def init(self, rng, dtype="float64", orthogonal: bool = False, gain=None):
        """MLP parameters ``{"W1","b1",...}`` from ``npg.nn.mlp_init`` (output gain 1)."""
        return mlp_init(self._sizes, as_generator(rng), self.activation, orthogonal, gain, dtype,
                        out_gain=1.0)

    def _forward(self, params, obs, check: bool = True):
        """out [B, n_out] = mlp(obs); vjp(d_out [B, n_out]) -> grads (backprop, npg.nn)."""
        dtype = params["W1"].dtype
        if check:
            dtype = _check_params(params, _mlp_shapes(self._sizes))
            obs = _check_box(obs, self.obs_dim, dtype)
        out, net_vjp = mlp_forward(params, obs, self.activation, check=check)

        def vjp(d_out):
            return net_vjp(get_xp(out).astype(d_out, dtype), input_grad=False)[0]
        return out, vjp


class MLPValue(_MLPCritic, _StateValue):
    """``V(s) = mlp(s)[0]``: an MLP obs_dim -> hidden... -> 1 (tanh or relu hidden layers).

    obs: float [B, obs_dim]. Gradient by backpropagation (``npg.nn.mlp_forward``), fed with
    d_out = d_v[:, None] [B, 1].
    """

    def __init__(self, obs_dim: int, hidden=(64, 64), activation: str = "tanh"):
        super().__init__(obs_dim, 1, hidden, activation)

    def __repr__(self):
        return (f"MLPValue(obs_dim={self.obs_dim}, hidden={self.hidden}, "
                f"activation={self.activation!r})")

    def forward(self, params, obs, check: bool = True):
        """v [B] = mlp(obs)[:, 0]; vjp(d_v [B]) -> grads with the keys of params."""
        out, out_vjp = self._forward(params, obs, check)
        return out[:, 0], lambda d_v: out_vjp(d_v[:, None])


class MLPQ(_MLPCritic, _ActionValue):
    """``Q(s, .) = mlp(s)``: an MLP obs_dim -> hidden... -> n_actions.

    obs: float [B, obs_dim]; forward gives Q(s_b, .) [B, A]; vjp(d_q [B, A]) backpropagates.
    """

    def __init__(self, obs_dim: int, n_actions: int, hidden=(64, 64), activation: str = "tanh"):
        self.n_actions = check_positive_int("n_actions", n_actions)
        super().__init__(obs_dim, self.n_actions, hidden, activation)

    def __repr__(self):
        return (f"MLPQ(obs_dim={self.obs_dim}, n_actions={self.n_actions}, "
                f"hidden={self.hidden}, activation={self.activation!r})")

    def forward(self, params, obs, check: bool = True):
        """q [B, A] = mlp(obs); vjp(d_q [B, A]) -> grads with the keys of params."""
        return self._forward(params, obs, check)
