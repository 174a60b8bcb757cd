"""Score tables and weighted score sums: the linear algebra behind ``npg.estimators``' harness.

On a finite MDP the score grad log pi(a | s) depends only on the pair (s, a), so the policy's own
``scores`` are computed once for all S A pairs (a table ``[S A, P]``, row s A + a) and each
trajectory's estimate g_m = sum_t w_t^m table[s_t^m A + a_t^m] is a product of per-pair weight
sums with that table (``estimates_from_weights``).

Array modules: ``score_table`` is NumPy (a policy on any module, converted once);
``mdp_score_table`` lives on the MDP's module (``FiniteMDP.xp``); ``estimates_from_weights`` on the
module of its arguments (one module: TypeError naming both otherwise), with ``bincount`` where the
module has one (NumPy, CuPy) and a gather summed over t elsewhere (the array-API standard has no
scatter-add).
"""

from __future__ import annotations

import numpy as np

from .backend import common_xp, create, device_of, get_xp, to_numpy
from .mdp import state_action_pairs
from .mdp.sampler import Trajectories

__all__ = ["score_table", "mdp_score_table", "expected_score_sum", "estimates_from_weights"]


def score_table(policy, params, obs):
    """pi [S, A] and the score table grad log pi(a | s) [S A, P] (row s A + a), as NumPy.

    ``obs`` [S, ...] is every state's observation; the scores come from ``policy.scores`` (in
    ``flatten(params)`` order) on the S A pairs (obs(s), a).
    """
    xp = get_xp(*params.values())
    obs = xp.asarray(to_numpy(obs))
    obs_sa, act = state_action_pairs(obs, int(policy.n_actions))
    pi = np.asarray(to_numpy(policy.probs(params, obs)), dtype=np.float64)
    return pi, np.asarray(to_numpy(policy.scores(params, obs_sa, act)), dtype=np.float64)


def mdp_score_table(mdp, policy, params, obs):
    """``score_table`` on the MDP's module: NumPy for a NumPy MDP (``score_table`` itself), else
    pi [S, A] and the table [S A, P] as float64 arrays of that module (params and obs there too).
    """
    xp = getattr(mdp, "xp", np)
    if xp is np:
        return score_table(policy, params, obs)
    common_xp(mdp.P, *params.values(), obs,
              names=["the MDP's P"] + [f"params[{k!r}]" for k in params] + ["obs"])
    obs_sa, act = state_action_pairs(obs, int(policy.n_actions))
    return (xp.astype(policy.probs(params, obs), xp.float64),
            xp.astype(policy.scores(params, obs_sa, act), xp.float64))


def expected_score_sum(policy, params, obs, weight) -> np.ndarray:
    """sum_{s, a} weight(s, a) grad log pi(a | s), flattened [P]; ``weight`` [S, A].

    With weight = d(s) pi(a | s) Q(s, a) (discounted visitation d) this is grad J; with other
    weights it is the exact expectation of an estimator whose E[w_t | s_t, a_t] is known.
    NumPy float64 (``score_table``'s conversion).
    """
    _, table = score_table(policy, params, obs)
    return np.asarray(to_numpy(weight), dtype=np.float64).reshape(-1) @ table


def estimates_from_weights(traj: Trajectories, w, table, n_actions: int,
                           chunk_entries: int = 4_000_000):
    """g_m = sum_t w_t^m table[s_t^m A + a_t^m]:  w [T, M], table [S A, P] -> [M, P].

    Per-pair weight sums W [M, S A] by ``bincount`` (in chunks of trajectories so that W holds at
    most ``chunk_entries`` numbers), then ``W @ table``. On a module without ``bincount`` (the
    array-API standard has none) the same sum is taken over t: g = sum_t w_t table[pair_t], one
    gather [M, P] a step. All arrays on one module (TypeError naming both otherwise).
    """
    xp = common_xp(traj.states, w, table, names=("traj.states", "w", "table"))
    if not hasattr(xp, "bincount"):
        return _estimates_by_gather(xp, traj, w, table, n_actions)
    w = xp.where(traj.valid, xp.asarray(w, dtype=xp.float64), 0.0)
    n_sa, m = table.shape[0], traj.n_traj
    pair = traj.states[:-1, :] * n_actions + traj.actions  # [T, M]
    out = create(xp, "empty", (m, table.shape[1]), dtype=xp.float64, device=device_of(table))
    step = max(1, chunk_entries // n_sa)
    for lo in range(0, m, step):
        hi = min(m, lo + step)
        arange = create(xp, "arange", hi - lo, device=device_of(table))
        idx = (arange * n_sa)[None, :] + pair[:, lo:hi]
        counts = xp.bincount(xp.reshape(idx, (-1,)), weights=xp.reshape(w[:, lo:hi], (-1,)),
                             minlength=(hi - lo) * n_sa)
        out[lo:hi, :] = xp.reshape(counts, (hi - lo, n_sa)) @ table
    return out


def _estimates_by_gather(xp, traj: Trajectories, w, table, n_actions: int):
    """g_m = sum_t w_t^m table[pair_t^m] with one ``take`` [M, P] per step t."""
    w = xp.where(traj.valid, xp.astype(w, xp.float64), 0.0)
    pair = traj.states[:-1, :] * n_actions + traj.actions  # [T, M]
    out = create(xp, "zeros", (traj.n_traj, table.shape[1]), dtype=xp.float64,
                 device=device_of(table))
    for t in range(traj.horizon):
        out = out + w[t, :][:, None] * xp.take(table, pair[t, :], axis=0)
    return out
