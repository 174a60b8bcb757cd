r"""Exact policy gradient, Fisher matrix and natural gradient of any npg categorical policy.

Policy gradient theorem (Sutton et al., 2000; Sutton & Barto 2nd ed., sec. 13.2), a vector
``[P]``:

.. math::

    \nabla J(\theta) = \sum_s d(s) \sum_a \pi(a|s)\, Q(s, a)\, \nabla_\theta \log \pi(a|s)

with d the unnormalised discounted visitation and Q the action values of ``npg.mdp.exact``.
This is a weighted score sum over all S*A pairs (s, a) with weights ``[S, A]``

.. math::

    w(s, a) = d(s)\, \pi(a|s)\, Q(s, a)

so it is computed by the policy's own ``score_sum`` (the same fast path every sampled estimator
uses); exactness then rests on the policy's score being right, which its own tests check.

Fisher information (Kakade, 2001, "A natural policy gradient"), ``[P, P]``, with the score
``score(s, a)`` from ``policy.scores`` in ``flatten(params)`` order:

.. math::

    F(\theta) = \sum_s d(s) \sum_a \pi(a|s)\, \mathrm{score}(s, a)\, \mathrm{score}(s, a)^T,
    \qquad \mathrm{score}(s, a) = \nabla_\theta \log \pi(a|s)

and the natural gradient is :math:`F^+ \nabla J` (min-norm least squares; F is singular for
softmax policies, which are invariant to adding a constant to a state's logits). With d
unnormalised, the tabular softmax natural gradient is :math:`A(s, a) - \mathrm{mean}_{a'} A(s, a')`
(``npg.mdp.closed_forms``).

Observations: ``default_obs`` gives the observation of every state s = 0..S-1 that a policy
built for this MDP expects: int indices for ``TabularSoftmaxPolicy`` and for linear policies over
discrete feature maps (``OneHot``), one-hot float rows ``[S, S]`` otherwise
(e.g. ``MLPCategoricalPolicy(obs_dim=S)``).
Pass ``obs`` (``[S]`` or ``[S, D]``) for any other encoding.

Array modules. The MDP's module computes the exact quantities (``npg.mdp.exact``). A NumPy MDP
is the host reference: the policy and its parameters may live on any module, pi is converted
once to NumPy, and the gradient comes back on the parameters' module (the Fisher and the natural
gradient as NumPy float64). An MDP on another module (``mdp.to("cupy")``) needs the parameters and
``obs`` on that same module (TypeError naming both modules otherwise); then nothing leaves it:
grad J, F and F^+ grad J are arrays of that module, on the parameters' device.
"""

from __future__ import annotations

import numpy as np

from ..backend import common_xp, create, device_of, get_xp, to_numpy
from ..params import flatten
from .exact import check_policy_matrix, evaluate, visitation
from .finite import FiniteMDP
from .linalg import lstsq

__all__ = ["default_obs", "policy_matrix", "state_action_pairs", "policy_gradient",
           "fisher", "natural_gradient"]


def _observes_index(policy) -> bool:
    """True when the policy's observation is the int state index: the tabular softmax, or a
    linear policy over a discrete feature map (``features.discrete``, e.g. ``OneHot``)."""
    try:
        from ..policies import TabularSoftmaxPolicy
        if isinstance(policy, TabularSoftmaxPolicy):
            return True
    except ImportError:
        pass
    return bool(getattr(getattr(policy, "features", None), "discrete", False))


def _like(params):
    """(xp, float dtype) of a params dict; (numpy, float64) when None."""
    if params is None:
        return np, np.float64
    arrays = list(params.values())
    xp = get_xp(*arrays)
    floats = [a.dtype for a in arrays if xp.isdtype(a.dtype, "real floating")]
    return xp, (floats[0] if floats else xp.float64)


def default_obs(mdp: FiniteMDP, policy, params=None):
    """Observations of states 0..S-1: int ``[S]`` (tabular, OneHot features) or one-hot ``[S, S]``.

    Arrays are created on the backend and in the float dtype of ``params`` (NumPy float64 when
    ``params`` is None). ValueError when the policy's declared size does not match S.
    """
    S = mdp.n_states
    xp, dtype = _like(params)
    for attr in ("n_states", "obs_dim"):
        n = getattr(policy, attr, None)
        if n is not None and int(n) != S:
            raise ValueError(f"policy.{attr} = {n} does not match the MDP's n_states = {S}")
    device = None if params is None else device_of(next(iter(params.values()), None))
    if _observes_index(policy):
        return create(xp, "arange", S, device=device)
    return create(xp, "eye", S, dtype=dtype, device=device)


def _obs(mdp, policy, params, obs):
    if obs is None:
        return default_obs(mdp, policy, params)
    if not hasattr(obs, "shape") or obs.ndim not in (1, 2) or obs.shape[0] != mdp.n_states:
        raise ValueError(f"obs must hold one observation per state, [S] or [S, D] with "
                         f"S = {mdp.n_states}; got {getattr(obs, 'shape', type(obs).__name__)}")
    return obs


def _check_policy(mdp: FiniteMDP, policy) -> None:
    if not isinstance(mdp, FiniteMDP):
        raise TypeError(f"mdp must be a FiniteMDP; got {type(mdp).__name__}")
    n = getattr(policy, "n_actions", None)
    if n is None or not hasattr(policy, "probs"):
        raise TypeError(f"policy must be a categorical npg policy (with n_actions and probs); "
                        f"got {type(policy).__name__}")
    if int(n) != mdp.n_actions:
        raise ValueError(f"policy.n_actions = {n} does not match the MDP's n_actions = "
                         f"{mdp.n_actions}")


def policy_matrix(policy, params, obs) -> np.ndarray:
    """pi(a|s) = ``policy.probs(params, obs)`` as NumPy float64 ``[S, A]``."""
    return np.asarray(to_numpy(policy.probs(params, obs)), dtype=np.float64)


def _check_modules(mdp: FiniteMDP, params, obs) -> None:
    """An MDP off NumPy needs params and obs on its module: TypeError naming both otherwise."""
    if mdp.xp is not np:
        arrays = list(params.values())
        common_xp(mdp.P, *arrays, obs, names=["the MDP's P"]
                  + [f"params[{k!r}]" for k in params] + ["obs"])


def mdp_policy_matrix(mdp: FiniteMDP, policy, params, obs):
    """pi [S, A] on the MDP's module, checked (``check_policy_matrix``); for a NumPy MDP this is
    ``policy_matrix`` (the one conversion of a policy on another module to NumPy)."""
    _check_modules(mdp, params, obs)
    if mdp.xp is np:
        return check_policy_matrix(mdp, policy_matrix(policy, params, obs))
    return check_policy_matrix(mdp, policy.probs(params, obs))


def state_action_pairs(obs, n_actions: int):
    """Every (s, a) pair, s-major: (obs_pairs [S*A, ...], act [S*A]) on obs's backend and device.

    Pair k is (s, a) = (k // A, k % A), so a weight matrix w [S, A] flattens to w.reshape(-1).
    """
    xp = get_xp(obs)
    S, A = int(obs.shape[0]), int(n_actions)
    k = create(xp, "arange", S * A, device=device_of(obs))
    return xp.take(obs, k // A, axis=0), k % A


def _on_params(params, x):
    """x (the MDP's module) as an array of params' module and float dtype: one conversion from a
    NumPy MDP to the policy's module, a dtype cast otherwise."""
    xp, dtype = _like(params)
    if get_xp(x) is not xp:
        x = to_numpy(x)
        return create(xp, "asarray", x, dtype=dtype,
                      device=device_of(next(iter(params.values()), None)))
    return xp.astype(x, dtype)


def _weighted_score_sum(policy, params, obs, w):
    """sum_{s,a} w(s, a) grad log pi(a|s) via ``policy.score_sum``; grads dict on params' backend."""
    obs_pairs, act = state_action_pairs(obs, w.shape[1])
    return policy.score_sum(params, obs_pairs, act,
                            _on_params(params, get_xp(w).reshape(w, (-1,))))


def _scores64(mdp: FiniteMDP, policy, params, obs):
    """The score table psi [S*A, P] as float64 on the MDP's module."""
    obs_pairs, act = state_action_pairs(obs, mdp.n_actions)
    G = policy.scores(params, obs_pairs, act)
    if mdp.xp is np:
        return np.asarray(to_numpy(G), dtype=np.float64)
    return mdp.xp.astype(G, mdp.xp.float64)


def policy_gradient(mdp: FiniteMDP, policy, params, obs=None) -> dict:
    """Exact grad J(theta) = sum_{s,a} d(s) pi(a|s) Q(s, a) grad log pi(a|s).

    Returns a grads dict with the keys and shapes of ``params``, on their backend and dtype.
    ``obs``: the observation of each state, [S] or [S, D] (default ``default_obs``).
    """
    _check_policy(mdp, policy)
    obs = _obs(mdp, policy, params, obs)
    pi = mdp_policy_matrix(mdp, policy, params, obs)
    _, Q, _ = evaluate(mdp, pi)
    d = visitation(mdp, pi)
    return _weighted_score_sum(policy, params, obs, d[:, None] * pi * Q)


def fisher(mdp: FiniteMDP, policy, params, obs=None, normalized: bool = False):
    """F = sum_{s,a} d(s) pi(a|s) score(s,a) score(s,a)^T, float64 ``[P, P]`` on the MDP's module.

    ``normalized=True`` weights states by d / sum d (a distribution) instead of d.
    """
    _check_policy(mdp, policy)
    obs = _obs(mdp, policy, params, obs)
    pi = mdp_policy_matrix(mdp, policy, params, obs)
    d = visitation(mdp, pi, normalized=normalized)
    G = _scores64(mdp, policy, params, obs)                                 # [S*A, P]
    w = mdp.xp.reshape(d[:, None] * pi, (-1,))                              # [S*A]
    return G.T @ (w[:, None] * G)


def natural_gradient(mdp: FiniteMDP, policy, params, obs=None, normalized: bool = False,
                     damping: float = 0.0, rcond: float = 1e-10):
    """Natural gradient (F + damping I)^+ grad J, float64 ``[P]`` in flatten(params) order, on the
    MDP's module.

    The pseudo-inverse (``lstsq``, singular values below ``rcond`` times the largest dropped;
    ``npg.mdp.linalg``) gives the min-norm solution: the softmax's null directions get no step.
    """
    damping = float(damping)
    if not damping >= 0.0 or not np.isfinite(damping):
        raise ValueError(f"damping must be a finite number >= 0; got {damping}")
    F = fisher(mdp, policy, params, obs, normalized)
    xp = mdp.xp
    g = flatten(policy_gradient(mdp, policy, params, obs))
    g = np.asarray(to_numpy(g), np.float64) if xp is np else xp.astype(g, xp.float64)
    if damping:
        F = F + damping * create(xp, "eye", F.shape[0], dtype=xp.float64, device=device_of(F))
    return lstsq(xp, F, g, rcond=rcond)[0]
