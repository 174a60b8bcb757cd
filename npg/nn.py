"""Dense layers, activations and the multilayer perceptron, each with its backward pass beside it.

Every op is ``forward(...) -> (y, vjp)``: the forward pass returns its output and a closure that
maps the gradient of a scalar loss with respect to the output, ``d_y = dL/dy``, to the gradients
with respect to the op's parameters and input (a vector-Jacobian product, ``d_y^T J``). Chaining
the closures in reverse order is backpropagation, written out by hand (no autograd anywhere).

Row-vector convention, batched over B with matrix products:

    dense:      y = x W + b                x [B, n_in], W [n_in, n_out], b [n_out], y [B, n_out]
    activation: y = f(x) elementwise       f in {tanh, relu, identity}
    MLP:        h_0 = x,   a_l = h_{l-1} W_l + b_l,   h_l = f(a_l)  (l < L),   y = h_L = a_L

Gradients (g_l = dL/da_l [B, n_l], starting from g_L = d_y for the identity output):

    dL/dW_l = h_{l-1}^T g_l   [n_{l-1}, n_l]       dL/db_l = sum_b g_l[b]   [n_l]
    dL/dh_{l-1} = g_l W_l^T   [B, n_{l-1}]         g_{l-1} = dL/dh_{l-1} * f'(a_{l-1})

The activation derivatives are read off the saved *outputs*, so no pre-activation is stored and
no transcendental function is evaluated twice: tanh' = 1 - y^2, relu' = [y > 0], identity' = 1.

``per_sample=True`` keeps the batch axis: dL_b/dW_l = h_{l-1}[b]^T g_l[b] is the outer product
[B, n_{l-1}, n_l], and dL_b/db_l = g_l[b] [B, n_l]; summing over b gives the batch gradients.
This is what per-sample scores [B, P] (Fisher matrices, estimator variance) need.

Everything here runs on any array-API namespace (NumPy, CuPy, array_api_strict). The backward
pass updates only temporaries it allocated itself (``d_h -= ...``), never its inputs; on NumPy
the forward activations are applied in place too (measured faster: benchmarks/mlp_policy.py).

References: Rumelhart, Hinton & Williams (1986), "Learning representations by back-propagating
errors"; Saxe, McClelland & Ganguli (2014), "Exact solutions to the nonlinear dynamics of learning
in deep linear neural networks" (orthogonal init); thinc's ``forward -> (y, backprop)`` layers.
"""

from __future__ import annotations

import math
from typing import Callable, Mapping, Sequence

import numpy as np

from .checks import as_generator, check_finite, check_ndim, check_positive, check_positive_int
from .backend import create, default_xp, device_of, get_xp

__all__ = ["ACTIVATIONS", "tanh", "relu", "identity", "activation_fn", "dense", "mlp_forward",
           "mlp_apply", "mlp_init", "mlp_sizes", "n_layers", "orthogonal_matrix", "default_gain",
           "resolve_float_dtype"]

ACTIVATIONS = ("tanh", "relu", "identity")


# ----------------------------------------------------------------------------------------------
# Activations: y = f(x) elementwise; vjp(d_y) = d_y * f'(x), with f'(x) computed from y.
# ``overwrite=True`` lets the vjp reuse d_y's memory (the MLP passes its own temporaries).
# ----------------------------------------------------------------------------------------------

def _tanh_backward(y, d_y, overwrite: bool = False):
    """d_y * (1 - y^2) = d_y - d_y y^2, with y = tanh(a) the saved output."""
    t = y * y
    t *= d_y
    if overwrite:
        d_y -= t
        return d_y
    return d_y - t


def _relu_backward(y, d_y, overwrite: bool = False):
    """d_y * [y > 0], with y = max(a, 0) the saved output (y > 0 exactly when a > 0)."""
    mask = get_xp(y).astype(y > 0, d_y.dtype)
    if overwrite:
        d_y *= mask
        return d_y
    return d_y * mask


def _identity_backward(y, d_y, overwrite: bool = False):
    return d_y


def tanh(x):
    """y = tanh(x), elementwise, any shape.

    Gradient: dy/dx = 1 - tanh(x)^2 = 1 - y^2, so ``vjp(d_y) = d_y * (1 - y^2)`` (from the output).
    """
    y = get_xp(x).tanh(x)
    return y, lambda d_y, overwrite=False: _tanh_backward(y, d_y, overwrite)


def relu(x):
    """y = max(x, 0), elementwise, any shape.

    Gradient: dy/dx = 1 if x > 0 else 0 (we take 0 at the kink x = 0); x > 0 exactly when y > 0,
    so ``vjp(d_y) = d_y * [y > 0]`` (from the output).
    """
    xp = get_xp(x)
    y = xp.maximum(x, create(xp, "zeros", (), dtype=x.dtype, device=device_of(x)))
    return y, lambda d_y, overwrite=False: _relu_backward(y, d_y, overwrite)


def identity(x):
    """y = x. Gradient: dy/dx = 1, so ``vjp(d_y) = d_y``."""
    return x, lambda d_y, overwrite=False: d_y


_ACTIVATION_FNS = {"tanh": tanh, "relu": relu, "identity": identity}
_BACKWARD = {"tanh": _tanh_backward, "relu": _relu_backward, "identity": _identity_backward}


def activation_fn(name: str, argname: str = "activation") -> Callable:
    """The activation op called ``name`` ('tanh', 'relu', 'identity'); typed errors otherwise."""
    if not isinstance(name, str):
        raise TypeError(f"{argname} must be one of {ACTIVATIONS} (a str); got "
                        f"{type(name).__name__}")
    try:
        return _ACTIVATION_FNS[name]
    except KeyError:
        raise ValueError(f"{argname} must be one of {ACTIVATIONS}; got {name!r}") from None


def _activate_inplace(name: str, a, xp):
    """f(a) for a fresh pre-activation buffer a: in place on NumPy (one buffer per layer); tanh
    is the module's ``tanh`` (``np.tanh``), the same function a reader differentiates."""
    if name == "identity":
        return a
    if xp is np:
        if name == "tanh":
            return np.tanh(a, out=a)
        return np.maximum(a, 0, out=a)
    return _ACTIVATION_FNS[name](a)[0]


# ----------------------------------------------------------------------------------------------
# Dense layer
# ----------------------------------------------------------------------------------------------

def dense(params: Mapping, x):
    """Affine layer ``y = x W + b``; params ``{"W": [n_in, n_out], "b": [n_out]}``, x [B, n_in].

    Gradient, for d_y = dL/dy [B, n_out]:
        dL/dW = x^T d_y [n_in, n_out],   dL/db = sum_b d_y[b] [n_out],   dL/dx = d_y W^T [B, n_in].
    ``vjp(d_y, per_sample=False, input_grad=True) -> ({"W": dW, "b": db}, d_x)``; with
    ``per_sample=True``, dW[b] = outer(x[b], d_y[b]) [B, n_in, n_out] and db[b] = d_y[b] [B, n_out].
    ``input_grad=False`` skips the product for d_x (returned as None).
    """
    if not isinstance(params, Mapping) or "W" not in params or "b" not in params:
        raise ValueError(f"params must be a dict with 'W' [n_in, n_out] and 'b' [n_out]; got "
                         f"{sorted(params) if isinstance(params, Mapping) else type(params).__name__}")
    W, b = params["W"], params["b"]
    _check_layer("W", "b", W, b, None)
    check_ndim("x", x, (2,), f"a batch of inputs [B, {int(W.shape[0])}]")
    if x.shape[1] != W.shape[0]:
        raise ValueError(f"x must have shape [B, {int(W.shape[0])}] to match W; got "
                         f"{tuple(x.shape)}")
    check_finite("x", x)
    y = x @ W
    y += b
    if not bool(get_xp(y).all(get_xp(y).isfinite(y))):
        raise ValueError(f"dense's output is not finite (NaN or inf) for finite x: W or b hold "
                         f"NaN/inf, or x W overflows {y.dtype}")

    def vjp(d_y, per_sample: bool = False, input_grad: bool = True):
        grads = {"W": _weight_grad(x, d_y, per_sample),
                 "b": d_y if per_sample else get_xp(d_y).sum(d_y, axis=0)}
        return grads, (d_y @ W.T if input_grad else None)
    return y, vjp


def _weight_grad(x, g, per_sample: bool):
    """x^T g [n_in, n_out], or the per-sample outer products x[b]^T g[b] [B, n_in, n_out]."""
    if per_sample:
        return x[:, :, None] * g[:, None, :]
    return x.T @ g


# ----------------------------------------------------------------------------------------------
# Multilayer perceptron
# ----------------------------------------------------------------------------------------------

def n_layers(params: Mapping) -> int:
    """L, the number of dense layers: the largest l with ``W1 .. Wl`` all in params."""
    L = 0
    while f"W{L + 1}" in params:
        L += 1
    if L == 0:
        raise ValueError(f"params must hold the MLP weights 'W1', 'b1', ...; got keys "
                         f"{sorted(params)}")
    return L


def _check_layer(wname: str, bname: str, W, b, n_in) -> None:
    """W [n_in, n_out] and b [n_out] arrays (n_in None: any)."""
    for name, x, nd in ((wname, W, 2), (bname, b, 1)):
        if not hasattr(x, "shape") or len(x.shape) != nd:
            raise ValueError(f"params[{name!r}] must be a {nd}-d array; got "
                             f"{getattr(x, 'shape', type(x).__name__)}")
    if n_in is not None and int(W.shape[0]) != n_in:
        raise ValueError(f"params[{wname!r}] must have shape [{n_in}, n_out] (its rows match "
                         f"the previous layer's width {n_in}); got {tuple(W.shape)}")
    if tuple(b.shape) != (int(W.shape[1]),):
        raise ValueError(f"params[{bname!r}] must have shape [{int(W.shape[1])}] to match "
                         f"params[{wname!r}]; got {tuple(b.shape)}")


def _check_mlp_params(params: Mapping, L: int) -> None:
    n_in = None
    for l in range(1, L + 1):
        if f"b{l}" not in params:
            raise ValueError(f"params must hold 'b{l}' beside 'W{l}'; got keys {sorted(params)}")
        _check_layer(f"W{l}", f"b{l}", params[f"W{l}"], params[f"b{l}"], n_in)
        n_in = int(params[f"W{l}"].shape[1])


def mlp_sizes(params: Mapping) -> tuple[int, ...]:
    """(n_0, n_1, ..., n_L), the layer widths read off the weights."""
    L = n_layers(params)
    return (int(params["W1"].shape[0]),) + tuple(int(params[f"W{l}"].shape[1])
                                                  for l in range(1, L + 1))


def mlp_forward(params: Mapping, x, activation: str = "tanh", out_activation: str = "identity",
                check: bool = True):
    """MLP ``y = h_L``, ``h_l = f_l(h_{l-1} W_l + b_l)``, ``h_0 = x``; returns ``(y, vjp)``.

    params: ``{"W1": [n_0, n_1], "b1": [n_1], ..., "WL": [n_{L-1}, n_L], "bL": [n_L]}`` (other
    keys are ignored, so a trunk can share a dict with heads); x [B, n_0]; y [B, n_L].
    f_l = ``activation`` for l < L and ``out_activation`` for the last layer.

    Gradient (backpropagation; g_l = dL/da_l, f' read from the outputs h_l):
        g_L = d_y * f_L'(a_L)
        dL/dW_l = h_{l-1}^T g_l,  dL/db_l = sum_b g_l[b],  dL/dh_{l-1} = g_l W_l^T
        g_{l-1} = dL/dh_{l-1} * f_{l-1}'(a_{l-1}),        dL/dx = g_1 W_1^T
    ``vjp(d_y, per_sample=False, input_grad=True) -> (grads, d_x)``: grads has the keys
    W1, b1, ..., WL, bL (in that order); per_sample=True gives each a leading [B] axis;
    ``input_grad=False`` skips the last product and returns d_x = None (the policy fast path).

    Bad input: x must be finite [B, n_0] and the weights' shapes must chain (ValueError naming
    the array); an output that is not finite (NaN weights, or finite weights and inputs whose
    products overflow the dtype, e.g. a relu net with huge weights) raises a ValueError naming
    ``mlp_forward``: one isfinite pass over y [B, n_L], not over the hidden layers.
    ``check=False`` skips every check here and in the vjp (trusted inputs: an updater that
    validated its batch and parameters once).
    """
    if check:
        _check_mlp_inputs(params, x, activation, out_activation)
    L = n_layers(params)
    xp = get_xp(x, params["W1"])
    hs = [x]                                   # h_0 .. h_L: the only saved activations
    for l in range(1, L + 1):
        a = hs[-1] @ params[f"W{l}"]           # a fresh buffer: safe to update in place
        a += params[f"b{l}"]
        name = activation if l < L else out_activation
        hs.append(_activate_inplace(name, a, xp))
    if check and not bool(xp.all(xp.isfinite(hs[-1]))):
        raise ValueError(f"mlp_forward's output is not finite (NaN or inf) for finite x: the "
                         f"params hold NaN/inf, or their products with x overflow "
                         f"{hs[-1].dtype} (max |x| = {float(xp.max(xp.abs(x))):.3g}); the "
                         f"weights have diverged or the inputs need normalising")

    def vjp(d_y, per_sample: bool = False, input_grad: bool = True):
        if check:
            _check_output_grad(d_y, hs[-1])
        if out_activation == "identity":
            g = d_y                            # read only: never updated in place below
        else:
            g = _BACKWARD[out_activation](hs[L], d_y)
        grads, d_x = {}, None
        for l in range(L, 0, -1):
            h_prev = hs[l - 1]
            grads[f"W{l}"] = _weight_grad(h_prev, g, per_sample)
            grads[f"b{l}"] = g if per_sample else xp.sum(g, axis=0)
            if l > 1:
                g = _BACKWARD[activation](h_prev, g @ params[f"W{l}"].T, overwrite=True)
            elif input_grad:
                d_x = g @ params["W1"].T
        return {k: grads[k] for k in _layer_keys(L)}, d_x
    return hs[-1], vjp


def _check_mlp_inputs(params: Mapping, x, activation: str, out_activation: str) -> None:
    activation_fn(activation)
    activation_fn(out_activation, "out_activation")
    _check_mlp_params(params, n_layers(params))
    check_ndim("x", x, (2,), f"a batch of inputs [B, {int(params['W1'].shape[0])}]")
    if x.shape[1] != params["W1"].shape[0]:
        raise ValueError(f"x must have shape [B, {int(params['W1'].shape[0])}] to match W1; "
                         f"got {tuple(x.shape)}")
    check_finite("x", x)


def _check_output_grad(d_y, y) -> None:
    check_ndim("d_y", d_y, (2,), f"the output gradient [B, {int(y.shape[1])}]")
    if tuple(d_y.shape) != tuple(y.shape):
        raise ValueError(f"d_y must have the output's shape {tuple(y.shape)}; got "
                         f"{tuple(d_y.shape)}")
    check_finite("d_y", d_y)


def mlp_apply(params: Mapping, x, activation: str = "tanh", out_activation: str = "identity"):
    """The MLP output alone, ``mlp_forward(params, x, ...)[0]`` (no gradient wanted)."""
    return mlp_forward(params, x, activation, out_activation)[0]


def _layer_keys(L: int) -> list[str]:
    return [k for l in range(1, L + 1) for k in (f"W{l}", f"b{l}")]


# ----------------------------------------------------------------------------------------------
# Initialisation (NumPy Generator, then the default array module)
# ----------------------------------------------------------------------------------------------

def default_gain(activation: str) -> float:
    """Recommended weight gain: tanh 5/3, relu sqrt(2), identity 1 (as torch's calculate_gain)."""
    activation_fn(activation)
    return {"tanh": 5.0 / 3.0, "relu": math.sqrt(2.0), "identity": 1.0}[activation]


def orthogonal_matrix(shape: tuple[int, int], rng: np.random.Generator,
                      gain: float = 1.0) -> np.ndarray:
    """A [n_in, n_out] NumPy matrix with orthonormal rows or columns, times ``gain``.

    Saxe et al. (2014): QR-factorise a standard Gaussian matrix G = Q R (G of shape [max, min]),
    multiply each column of Q by sign(R_jj) so that Q is Haar-distributed (uniform on the
    orthogonal group), and transpose when n_in < n_out. Then W^T W = gain^2 I (n_in >= n_out)
    or W W^T = gain^2 I (n_in < n_out).
    """
    if not isinstance(shape, (tuple, list)) or len(shape) != 2:
        raise TypeError(f"shape must be a pair (n_in, n_out); got {shape!r}")
    n_in, n_out = (check_positive_int(f"shape[{i}]", n) for i, n in enumerate(shape))
    rng = as_generator(rng)
    gain = check_positive("gain", gain)
    g = rng.standard_normal((max(n_in, n_out), min(n_in, n_out)))
    q, r = np.linalg.qr(g)
    d = np.sign(np.diag(r))
    d[d == 0] = 1.0
    q = q * d[None, :]
    return gain * (q if n_in >= n_out else q.T)


def mlp_init(sizes: Sequence[int], rng, activation: str = "tanh", orthogonal: bool = False,
             gain: float | None = None, dtype="float64", out_gain: float = 1.0) -> dict:
    """Parameters ``{"W1", "b1", ..., "WL", "bL"}`` for layer widths ``sizes = (n_0, ..., n_L)``.

    Weights of hidden layers: ``gain * orthogonal`` (``orthogonal=True``, Saxe et al. 2014) or
    Gaussian with std ``gain / sqrt(n_in)`` (LeCun-style scaling); ``gain`` defaults to
    ``default_gain(activation)``. The output layer uses ``out_gain`` instead (e.g. 0.01 for a
    policy head, so the initial policy is near uniform). Biases are zero. ``rng`` is a
    ``numpy.random.Generator`` or a seed; arrays are created on ``default_xp()`` in ``dtype``.
    """
    sizes = _check_sizes(sizes)
    activation_fn(activation)
    gain = default_gain(activation) if gain is None else check_positive("gain", gain)
    out_gain = check_positive("out_gain", out_gain)
    if not isinstance(orthogonal, bool):
        raise TypeError(f"orthogonal must be a bool; got {type(orthogonal).__name__}")
    rng = as_generator(rng)
    xp = default_xp()
    xdtype = resolve_float_dtype(xp, dtype)
    params = {}
    L = len(sizes) - 1
    for l in range(1, L + 1):
        n_in, n_out = sizes[l - 1], sizes[l]
        c = gain if l < L else out_gain
        W = (orthogonal_matrix((n_in, n_out), rng, c) if orthogonal
             else rng.standard_normal((n_in, n_out)) * (c / math.sqrt(n_in)))
        params[f"W{l}"] = xp.asarray(W, dtype=xdtype)
        params[f"b{l}"] = xp.zeros((n_out,), dtype=xdtype)
    return params


def resolve_float_dtype(xp, dtype):
    """``dtype`` ('float32', np.float32, xp.float32, ...) as a real floating dtype of ``xp``."""
    if dtype is None:
        return xp.float64
    try:
        name = dtype if isinstance(dtype, str) else np.dtype(dtype).name
        out = getattr(xp, name)
    except (TypeError, AttributeError):   # already a dtype object of a non-NumPy namespace
        out = dtype
    if out not in (xp.float32, xp.float64):
        raise TypeError(f"dtype must be a real floating dtype (float32 or float64); got {dtype!r}")
    return out


def _check_sizes(sizes) -> tuple[int, ...]:
    if isinstance(sizes, (str, bytes)) or not isinstance(sizes, Sequence):
        raise TypeError(f"sizes must be a sequence of positive ints (n_0, ..., n_L); got "
                        f"{type(sizes).__name__}")
    if len(sizes) < 2:
        raise ValueError(f"sizes must list at least an input and an output width; got {sizes!r}")
    return tuple(check_positive_int(f"sizes[{i}]", n) for i, n in enumerate(sizes))
