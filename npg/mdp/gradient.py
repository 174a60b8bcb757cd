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
"""

from __future__ import annotations

import numpy as np

from ..backend import get_xp, to_numpy
from ..params import flatten
from .exact import check_policy_matrix, evaluate, visitation
from .finite import FiniteMDP

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
    if _observes_index(policy):
        return xp.arange(S)
    return xp.eye(S, dtype=dtype)


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


def state_action_pairs(obs, n_actions: int):
    """Every (s, a) pair, s-major: (obs_pairs [S*A, ...], act [S*A]) on obs's backend.

    Pair k is (s, a) = (k // A, k % A), so a weight matrix w [S, A] flattens to w.reshape(-1).
    """
    xp = get_xp(obs)
    S = int(obs.shape[0])
    state = xp.asarray(np.repeat(np.arange(S), n_actions))
    act = xp.asarray(np.tile(np.arange(n_actions), S))
    return xp.take(obs, state, axis=0), act


def _weighted_score_sum(policy, params, obs, w: np.ndarray):
    """sum_{s,a} w(s, a) grad log pi(a|s) via ``policy.score_sum``; grads dict on params' backend."""
    xp, dtype = _like(params)
    obs_pairs, act = state_action_pairs(obs, w.shape[1])
    return policy.score_sum(params, obs_pairs, act, xp.asarray(w.reshape(-1), dtype=dtype))


def policy_gradient(mdp: FiniteMDP, policy, params, obs=None) -> dict:
    """Exact grad J(theta) = sum_{s,a} d(s) pi(a|s) Q(s, a) grad log pi(a|s).

    Returns a grads dict with the keys and shapes of ``params``, on their backend and dtype.
    ``obs``: the observation of each state, [S] or [S, D] (default ``default_obs``).
    """
    _check_policy(mdp, policy)
    obs = _obs(mdp, policy, params, obs)
    pi = check_policy_matrix(mdp, policy_matrix(policy, params, obs))
    _, Q, _ = evaluate(mdp, pi)
    d = visitation(mdp, pi)
    return _weighted_score_sum(policy, params, obs, d[:, None] * pi * Q)


def fisher(mdp: FiniteMDP, policy, params, obs=None, normalized: bool = False) -> np.ndarray:
    """F = sum_{s,a} d(s) pi(a|s) score(s,a) score(s,a)^T, NumPy float64 ``[P, P]``.

    ``normalized=True`` weights states by d / sum d (a distribution) instead of d.
    """
    _check_policy(mdp, policy)
    obs = _obs(mdp, policy, params, obs)
    pi = check_policy_matrix(mdp, policy_matrix(policy, params, obs))
    d = visitation(mdp, pi, normalized=normalized)
    obs_pairs, act = state_action_pairs(obs, mdp.n_actions)
    G = np.asarray(to_numpy(policy.scores(params, obs_pairs, act)), dtype=np.float64)
    w = (d[:, None] * pi).reshape(-1)                                       # [S*A]
    return G.T @ (w[:, None] * G)


def natural_gradient(mdp: FiniteMDP, policy, params, obs=None, normalized: bool = False,
                     damping: float = 0.0, rcond: float = 1e-10) -> np.ndarray:
    """Natural gradient (F + damping I)^+ grad J, NumPy float64 ``[P]`` in flatten(params) order.

    The pseudo-inverse (``np.linalg.lstsq``, singular values below ``rcond`` times the largest
    dropped) gives the min-norm solution: the softmax's null directions get no step.
    """
    damping = float(damping)
    if not damping >= 0.0 or not np.isfinite(damping):
        raise ValueError(f"damping must be a finite number >= 0; got {damping}")
    F = fisher(mdp, policy, params, obs, normalized)
    g = np.asarray(to_numpy(flatten(policy_gradient(mdp, policy, params, obs))), np.float64)
    if damping:
        F = F + damping * np.eye(F.shape[0])
    return np.linalg.lstsq(F, g, rcond=rcond)[0]
