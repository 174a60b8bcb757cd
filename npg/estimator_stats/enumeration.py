"""Exact estimator moments by listing every trajectory of a finite MDP up to a horizon.

Under a stationary sampling policy beta [S, A] (pi itself, or an importance-sampling estimator's
behaviour) a trajectory of the sampler with horizon cap T (``npg.mdp.sampler``: it stops when it
enters a terminal state or after T steps) is a finite sequence s_0 a_0 s_1 ... with probability

    p(tau) = mu0(s_0) prod_t beta(a_t | s_t) P(s_{t+1} | s_t, a_t).

Listing every tau with p(tau) > 0 as the columns of one ``Trajectories`` object and running the
estimator's own ``weights`` on it gives its value g(tau) on each, so that

    E[g] = sum_tau p(tau) g(tau),    Cov(g) = sum_tau p(tau) (g(tau) - E g)(g(tau) - E g)'

exactly: nothing is approximated, and nothing about the estimator is re-derived. The moments are
those of the estimator as the sampler runs it with cap T; the estimator's mean differs from the
infinite-horizon grad J by the truncation term (of order gamma^T, zero once every episode ends
within T steps), which ``ExactMoments.bias`` includes.

Limits: the number of trajectories grows like (branching factor)^T. It is counted first, by
a forward pass over the number of distinct prefixes that end in each state, and a horizon whose
listing would not fit in ``max_bytes`` raises ``EnumerationTooLarge`` (a MemoryError and a
ValueError) saying how many trajectories and how many bytes it would need.
"""

from __future__ import annotations

import numpy as np

from ..checks import check_positive_int
from ..estimators import estimates_from_weights, score_table
from ..mdp import default_obs
from ..mdp.exact import check_policy_matrix
from ..mdp.sampler import Trajectories
from ..mdp.host import numpy_boundary
from .moments import ExactMoments

__all__ = ["EnumerationTooLarge", "count_trajectories", "enumeration_bytes",
           "enumerate_trajectories", "enumerated_moments", "sampling_policy"]

DEFAULT_MAX_BYTES = 1 << 30     # 1 GiB


class EnumerationTooLarge(MemoryError, ValueError):
    """Listing every trajectory would need more memory than allowed."""


def _branches(mdp, beta):
    """Per state the (a, s', beta(a|s) P(s'|s,a)) with positive probability, sorted by s."""
    weight = beta[:, :, None] * np.asarray(mdp.P)
    s, a, t = np.nonzero(weight > 0)
    counts = np.bincount(s, minlength=mdp.n_states)
    offsets = np.concatenate([[0], np.cumsum(counts)[:-1]])
    return a, t, weight[s, a, t], counts, offsets


@numpy_boundary
def count_trajectories(mdp, beta, horizon: int) -> int:
    """The number of distinct trajectories with positive probability under beta, cap T.

    n_0(s) = [mu0(s) > 0] for live s; n_{t+1}(s') = sum_s n_t(s) #{a : beta(a|s) P(s'|s,a) > 0};
    a prefix that enters a terminal state is complete. Exact (Python integers).
    """
    beta = check_policy_matrix(mdp, beta)
    T = check_positive_int("horizon", horizon)
    live = ~np.asarray(mdp.terminal)
    nb = ((beta[:, :, None] * np.asarray(mdp.P)) > 0).sum(axis=1).astype(object)   # [S, S']
    start = np.asarray(mdp.mu0) > 0
    alive = np.where(start & live, 1, 0).astype(object)
    done = int(np.sum(start & ~live))
    for _ in range(T):
        nxt = alive @ nb
        done += int(np.sum(nxt[~live]))
        alive = np.where(live, nxt, 0)
    return done + int(np.sum(alive))


def enumeration_bytes(n_traj: int, horizon: int, n_params: int) -> int:
    """Memory of the listing: the Trajectories arrays, the weights, pair indices and g [M, P]."""
    T = int(horizon)
    per = 8 * (T + 1) + 8 * T * 4 + 3 * T + 8 * (n_params + 2)
    return int(n_traj) * per


@numpy_boundary
def enumerate_trajectories(mdp, beta, horizon: int, n_params: int = 1,
                           max_bytes: int = DEFAULT_MAX_BYTES) -> tuple[Trajectories, np.ndarray]:
    """(every trajectory as one ``Trajectories`` with M columns, their probabilities [M]).

    The columns follow the sampler's conventions exactly (frozen states and zero rewards after
    an episode's end, terminated / truncated flags). Raises ``EnumerationTooLarge`` when the M
    trajectories would need more than ``max_bytes`` (``enumeration_bytes``).
    """
    beta = check_policy_matrix(mdp, beta)
    T = check_positive_int("horizon", horizon)
    n = count_trajectories(mdp, beta, T)
    need = enumeration_bytes(n, T, n_params)
    if need > max_bytes:
        raise EnumerationTooLarge(
            f"enumerating every trajectory up to horizon {T} gives {n:,} trajectories and would "
            f"need about {need / 2**30:.3g} GiB ({need:,} bytes) > max_bytes = "
            f"{max_bytes / 2**30:.3g} GiB; lower the horizon, raise max_bytes, or use the "
            f"second-moment recursion (method='recursion')")
    ba, bt, bp, counts, offsets = _branches(mdp, beta)
    R, terminal = np.asarray(mdp.R), np.asarray(mdp.terminal)
    s = np.flatnonzero(np.asarray(mdp.mu0) > 0)
    prob = np.asarray(mdp.mu0)[s].astype(np.float64)
    alive = ~terminal[s]
    rows = {"states": [s], "actions": [], "rew": [], "terminated": [], "valid": []}
    for _ in range(T):
        reps = np.where(alive, counts[s], 1)
        idx = np.repeat(np.arange(s.size), reps)
        within = np.arange(idx.size) - np.repeat(np.cumsum(reps) - reps, reps)
        s_i, alive_i = s[idx], alive[idx]
        branch = np.where(alive_i, offsets[s_i] + within, 0)
        for key in rows:
            rows[key] = [r[idx] for r in rows[key]]
        a = np.where(alive_i, ba[branch], 0)
        s_next = np.where(alive_i, bt[branch], s_i)
        prob = prob[idx] * np.where(alive_i, bp[branch], 1.0)
        term = alive_i & terminal[s_next]
        rows["actions"].append(a)
        rows["rew"].append(np.where(alive_i, R[s_i, a], 0.0))
        rows["terminated"].append(term)
        rows["valid"].append(alive_i)
        rows["states"].append(s_next)
        s, alive = s_next, alive_i & ~term
    truncated = np.zeros((T, s.size), bool)
    truncated[-1] = alive
    traj = Trajectories(np.stack(rows["states"]).astype(np.int64),
                        np.stack(rows["actions"]).astype(np.int64), np.stack(rows["rew"]),
                        np.stack(rows["terminated"]), truncated, np.stack(rows["valid"]))
    return traj, prob


def sampling_policy(estimator, pi: np.ndarray) -> np.ndarray:
    """The matrix trajectories are drawn from: the estimator's ``behaviour`` beta, else pi.

    ValueError when beta has the wrong shape, is not a policy matrix, or is 0 where pi > 0.
    """
    beta = getattr(estimator, "behaviour", None)
    if beta is None:
        return pi
    beta = np.asarray(beta, dtype=np.float64)
    if beta.shape != pi.shape:
        raise ValueError(f"behaviour must have shape {list(pi.shape)}; got {list(beta.shape)}")
    if not np.all(np.isfinite(beta)) or np.any(beta < 0) or np.any(
            np.abs(beta.sum(axis=1) - 1) > 1e-8):
        raise ValueError("behaviour must be a policy matrix: finite, >= 0, rows summing to 1")
    if np.any((beta <= 0) & (pi > 0)):
        raise ValueError("behaviour must be > 0 wherever the target policy pi is > 0 "
                         "(importance ratios would be infinite)")
    return beta


@numpy_boundary
def enumerated_moments(mdp, policy, params, estimator, horizon: int, obs=None, exact=None,
                       max_bytes: int = DEFAULT_MAX_BYTES, name: str | None = None):
    """``ExactMoments`` of ``estimator`` (any of ``npg.estimators``) by listing trajectories.

    g(tau) comes from the estimator's own ``weights`` and ``npg.estimators.estimates_from_weights``
    on every trajectory tau of the sampler with cap ``horizon`` (under pi, or the estimator's
    behaviour policy); E[g] and Cov(g) are the p(tau)-weighted sums in the module docstring.
    ``exact`` is the target for bias / MSE (default: none; pass grad J).
    """
    obs = default_obs(mdp, policy, params) if obs is None else obs
    pi, table = score_table(policy, params, obs)
    beta = sampling_policy(estimator, pi)
    traj, prob = enumerate_trajectories(mdp, beta, horizon, table.shape[1], max_bytes)
    g = estimates_from_weights(traj, estimator.weights(traj, float(mdp.gamma), pi), table,
                               pi.shape[1])
    mean = prob @ g
    d = g - mean
    cov = (d * prob[:, None]).T @ d
    return ExactMoments(name or estimator.name, mean, 0.5 * (cov + cov.T),
                        None if exact is None else np.asarray(exact, dtype=np.float64),
                        int(horizon), "enumeration", float(prob @ np.sum(g * g, axis=1)),
                        int(prob.size))
