"""First and second derivatives of a categorical policy's logits z(s; theta) [S, A] in theta [P].

The Hessian of J for a parametric policy splits by the chain rule through the logits:

    d^2 J / dtheta^2 = Jz^T (d^2 J / dz^2) Jz + sum_{s,a} (dJ/dz(s,a)) d^2 z(s,a) / dtheta^2

``logit_jacobian`` gives Jz [S*A, P] (rows s-major, columns in flatten(params) order) from the
policy's own per-sample vjp: row (s, a) is vjp(e_a at sample s). ``weighted_logit_hessian``
gives the second term's matrix N(c) = d^2/dtheta^2 sum_{s,a} c(s,a) z(s,a) [P, P] for fixed
weights c [S, A]: exactly zero for the tabular softmax and linear-in-features policies (z is
linear in theta), and for MLP policies the Hessian of a weighted sum of network outputs,
computed column by column by Pearlmutter's (1994) "R-operator": forward-mode tangents pushed
through the forward pass and the backward pass of ``npg.nn`` (no autograd). For a chain
a_l = h_{l-1} W_l + b_l, h_l = f(a_l) (l < L), z = a_L, a direction (dW_l, db_l) gives

    forward tangents:  da_l = dh_{l-1} W_l + h_{l-1} dW_l + db_l,   dh_l = f'(a_l) da_l,  dh_0 = 0
    backward:          g_L = c,   g_{l-1} = (g_l W_l^T) * f'(a_{l-1})
    its tangent:       dg_L = 0,  dg_{l-1} = (dg_l W_l^T + g_l dW_l^T) * f'(a_{l-1})
                                            + (g_l W_l^T) * f''(a_{l-1}) * da_{l-1}
    Hessian-vector:    (N v)_{W_l} = dh_{l-1}^T g_l + h_{l-1}^T dg_l,  (N v)_{b_l} = sum_b dg_l

with f' and f'' read off the outputs h: tanh' = 1 - h^2, tanh'' = -2 h (1 - h^2);
relu' = [h > 0], relu'' = 0 (almost everywhere); identity' = 1, identity'' = 0.
All P directions (unit vectors) are pushed at once, in chunks, as a leading axis.
"""

from __future__ import annotations

import numpy as np

from ..backend import get_xp, to_numpy
from ..params import size
from ..policies import (LinearSoftmaxPolicy, MLPCategoricalPolicy, SharedActorCritic,
                        TabularSoftmaxPolicy)

__all__ = ["logit_jacobian", "weighted_logit_hessian", "logit_layers"]


def _np_params(params) -> dict:
    return {k: np.asarray(to_numpy(v), dtype=np.float64) for k, v in params.items()}


def logit_jacobian(policy, params, obs) -> np.ndarray:
    """Jz[(s, a), p] = d z(s, a) / d theta_p, NumPy float64 ``[S*A, P]`` (s-major rows)."""
    z, vjp = policy.forward(params, obs)
    S, A = int(z.shape[0]), int(z.shape[1])
    xp = get_xp(z)
    J = np.empty((S, A, size(params)))
    for a in range(A):
        e = np.zeros((S, A))
        e[:, a] = 1.0
        g = vjp(xp.asarray(e, dtype=z.dtype), per_sample=True)
        cols = [np.asarray(to_numpy(g[k]), dtype=np.float64).reshape(S, -1) for k in params]
        J[:, a, :] = np.concatenate(cols, axis=1)
    return J.reshape(S * A, -1)


def logit_layers(policy):
    """The affine chain behind an MLP policy's logits: [(W key, b key, activation after), ...].

    None for policies whose logits are linear in theta (tabular, linear); TypeError otherwise.
    """
    if isinstance(policy, (TabularSoftmaxPolicy, LinearSoftmaxPolicy)):
        return None
    if isinstance(policy, MLPCategoricalPolicy):
        L = len(policy.hidden) + 1
        return [(f"W{l}", f"b{l}", policy.activation if l < L else "identity")
                for l in range(1, L + 1)]
    if isinstance(policy, SharedActorCritic):
        L = len(policy.hidden)
        trunk = [(f"W{l}", f"b{l}", policy.activation) for l in range(1, L + 1)]
        return trunk + [("W_pi", "b_pi", "identity")]
    raise TypeError(f"policy must be a TabularSoftmaxPolicy, LinearSoftmaxPolicy, "
                    f"MLPCategoricalPolicy or SharedActorCritic for exact second derivatives; "
                    f"got {type(policy).__name__}")


def _derivatives(name: str, h: np.ndarray):
    """(f'(a), f''(a)) read off the output h = f(a)."""
    if name == "tanh":
        d1 = 1.0 - h * h
        return d1, -2.0 * h * d1
    if name == "relu":
        return (h > 0).astype(h.dtype), np.zeros_like(h)
    return np.ones_like(h), np.zeros_like(h)


def _forward(layers, p: dict, x: np.ndarray):
    hs = [x]
    for W, b, f in layers:
        a = hs[-1] @ p[W] + p[b]
        hs.append(np.tanh(a) if f == "tanh" else np.maximum(a, 0.0) if f == "relu" else a)
    return hs


def _directions(params: dict, start: int, stop: int) -> dict:
    """Unit directions e_start..e_{stop-1} as a dict of [m, *shape] arrays (flatten order)."""
    m, out, offset = stop - start, {}, 0
    for k, v in params.items():
        n = v.size
        block = np.zeros((m, n))
        lo, hi = max(start, offset), min(stop, offset + n)
        if lo < hi:
            block[np.arange(lo - start, hi - start), np.arange(lo - offset, hi - offset)] = 1.0
        out[k] = block.reshape((m, *v.shape))
        offset += n
    return out


def _r_op(layers, p: dict, hs: list, c: np.ndarray, V: dict) -> dict:
    """(N v) for the m directions in V: the R-operator recursions of the module docstring."""
    L = len(layers)
    m = next(iter(V.values())).shape[0]
    dh = [np.zeros((m, *hs[0].shape))]
    da = []
    for l, (W, b, f) in enumerate(layers, start=1):
        a_dot = dh[-1] @ p[W] + np.einsum("bi,mij->mbj", hs[l - 1], V[W]) + V[b][:, None, :]
        da.append(a_dot)
        dh.append(a_dot * _derivatives(f, hs[l])[0][None] if l < L else a_dot)
    out = {k: np.zeros_like(v) for k, v in V.items()}
    g, g_dot = c, np.zeros((m, *c.shape))
    for l in range(L, 0, -1):
        W, b, _ = layers[l - 1]
        out[W] = np.einsum("mbi,bj->mij", dh[l - 1], g) + np.einsum("bi,mbj->mij", hs[l - 1],
                                                                     g_dot)
        out[b] = g_dot.sum(axis=1)
        if l > 1:
            f_prev = layers[l - 2][2]
            d1, d2 = _derivatives(f_prev, hs[l - 1])
            u = g @ p[W].T
            u_dot = g_dot @ p[W].T + np.einsum("bj,mij->mbi", g, V[W])
            g_dot = u_dot * d1[None] + (u * d2)[None] * da[l - 2]
            g = u * d1
    return out


def weighted_logit_hessian(policy, params, obs, c, chunk: int = 256) -> np.ndarray:
    """N(c) = d^2/dtheta^2 sum_{s,a} c(s, a) z(s, a; theta), NumPy float64 ``[P, P]``.

    Zero for tabular and linear policies; the R-operator (module docstring) for MLP trunks.
    ``obs`` [S, obs_dim] (float) for the MLP policies; ``c`` [S, A].
    """
    layers = logit_layers(policy)
    P = size(params)
    if layers is None:
        return np.zeros((P, P))
    p = _np_params(params)
    x = np.asarray(to_numpy(obs), dtype=np.float64)
    c = np.asarray(c, dtype=np.float64)
    hs = _forward(layers, p, x)
    N = np.empty((P, P))
    for start in range(0, P, chunk):
        stop = min(P, start + chunk)
        Nv = _r_op(layers, p, hs, c, _directions(p, start, stop))
        N[start:stop] = np.concatenate(
            [Nv[k].reshape(stop - start, -1) if k in Nv else np.zeros((stop - start, v.size))
             for k, v in p.items()], axis=1)
    return N
