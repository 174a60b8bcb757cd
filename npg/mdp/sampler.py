"""A vectorised sampler: M independent trajectories of a finite MDP under a stationary policy.

One Python loop runs over time steps; every step advances all M trajectories at once, so the cost
is O(T M log(S A S)) array work and no per-trajectory Python loop.

Sampling a categorical row by inverse CDF. For probabilities p [K] with partial sums
c_k = p_0 + ... + p_k and u ~ Uniform[0, 1), the index k* = #{k : c_k <= u} has Pr(k* = k) = p_k
(u falls in [c_{k-1}, c_k), an interval of length p_k; zero-probability entries have an empty
interval and are never drawn). Many rows at once: lay the rows end to end and add the row number r
to row r's partial sums, which makes the whole table one increasing array; ``searchsorted`` of
r + u then finds the index inside row r in O(log) time.

Time alignment (the return kernels' convention, ``npg.returns``): after ``states[t]`` the policy
takes ``actions[t]``, receives ``rew[t] = R(states[t], actions[t])`` and moves to
``states[t + 1]``. ``terminated[t]`` is True when ``states[t + 1]`` is terminal (absorbing, zero
value: no bootstrap); ``truncated[t]`` is True at the horizon cap t = T - 1 of an episode that did
not terminate (bootstrap from V(states[T]), the real final state). ``valid[t]`` is True while the
episode is running at step t; after its end the state stays frozen at the final state, and
actions, rewards and both flags are 0 / False.

The sampler draws rewards as their expectation R(s, a) (the MDP stores only expected rewards):
that leaves every expected return and policy gradient unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..backend import to_numpy
from ..checks import as_generator, check_positive_int

__all__ = ["Trajectories", "sample_trajectories", "rollout", "as_generator"]


@dataclass(frozen=True, eq=False)
class Trajectories:
    """M trajectories of at most T steps, time-major (``[T, M]``), NumPy arrays.

    Attributes:
        states: ``[T + 1, M]`` int64, ``states[t]`` = s_t; frozen at the final state after the end.
        actions: ``[T, M]`` int64, a_t (0 where ``valid`` is False).
        rew: ``[T, M]`` float64, r_t = R(s_t, a_t) (0 where ``valid`` is False).
        terminated: ``[T, M]`` bool, s_{t+1} is terminal.
        truncated: ``[T, M]`` bool, the horizon cap ended a non-terminated episode after step t.
        valid: ``[T, M]`` bool, step t belongs to the episode (it has not ended before t).
    """

    states: np.ndarray
    actions: np.ndarray
    rew: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    valid: np.ndarray

    @property
    def horizon(self) -> int:
        """T, the horizon cap."""
        return int(self.rew.shape[0])

    @property
    def n_traj(self) -> int:
        """M, the number of trajectories."""
        return int(self.rew.shape[1])

    @property
    def lengths(self) -> np.ndarray:
        """``[M]`` number of valid steps of each trajectory."""
        return self.valid.sum(axis=0)


def _stochastic_rows(name: str, p, shape: tuple) -> np.ndarray:
    """Check a table of probability rows (last axis sums to 1, entries >= 0, finite)."""
    p = np.asarray(to_numpy(p), dtype=np.float64)
    if p.shape != shape:
        raise ValueError(f"{name} must have shape {list(shape)}; got {list(p.shape)}")
    if not np.all(np.isfinite(p)):
        raise ValueError(f"{name} must be finite; it contains NaN or inf")
    if np.any(p < 0):
        raise ValueError(f"{name} must hold probabilities >= 0; min is {p.min()!r}")
    if np.any(np.abs(p.sum(axis=-1) - 1.0) > 1e-8):
        raise ValueError(f"{name} rows must sum to 1 over the last axis")
    return p


class _RowSampler:
    """Draw one index per query from rows of a probability table ``p [n_rows, K]``."""

    def __init__(self, p: np.ndarray):
        self.k = p.shape[-1]
        rows = p.reshape(-1, self.k)
        self.offsets = np.arange(rows.shape[0], dtype=np.float64)
        # c[r, k] + r: increasing over the flattened table (see the module docstring).
        self.table = (np.cumsum(rows, axis=1) + self.offsets[:, None]).ravel()

    def draw(self, row: np.ndarray, u: np.ndarray) -> np.ndarray:
        pos = np.searchsorted(self.table, self.offsets[row] + u, side="right")
        return np.minimum(pos - row * self.k, self.k - 1)  # min guards the last partial sum < 1


def sample_trajectories(mdp, pi, n_traj: int, horizon: int, rng) -> Trajectories:
    """Roll out ``n_traj`` independent episodes of ``mdp`` under the policy matrix ``pi``.

    s_0 ~ mu0;  a_t ~ pi(. | s_t);  r_t = R(s_t, a_t);  s_{t+1} ~ P(. | s_t, a_t),
    until s_{t+1} is terminal (terminated) or t = horizon - 1 (truncated).

    Args:
        mdp: a ``FiniteMDP`` (uses ``P [S, A, S]``, ``R [S, A]``, ``mu0 [S]``, ``terminal [S]``).
        pi: ``[S, A]`` action probabilities pi(a | s) (``npg.mdp.policy_matrix``).
        n_traj: M >= 1.
        horizon: T >= 1, the cap on episode length.
        rng: a ``numpy.random.Generator`` (or an int seed); the only source of randomness.

    Returns:
        ``Trajectories`` with ``[T, M]`` arrays (``states`` is ``[T + 1, M]``).
    """
    m = check_positive_int("n_traj", n_traj)
    t_max = check_positive_int("horizon", horizon)
    rng = as_generator(rng)
    P, R = np.asarray(mdp.P), np.asarray(mdp.R)
    n_s, n_a = R.shape
    pi = _stochastic_rows("pi", pi, (n_s, n_a))
    terminal = getattr(mdp, "terminal", None)
    terminal = np.zeros(n_s, bool) if terminal is None else np.asarray(terminal, bool)
    start, act, step = (_RowSampler(np.asarray(mdp.mu0)[None, :]), _RowSampler(pi),
                        _RowSampler(P))

    states = np.empty((t_max + 1, m), np.int64)
    actions = np.zeros((t_max, m), np.int64)
    rew = np.zeros((t_max, m), np.float64)
    terminated = np.zeros((t_max, m), bool)
    valid = np.zeros((t_max, m), bool)
    s = start.draw(np.zeros(m, np.int64), rng.random(m))
    alive = ~terminal[s]  # an episode that starts in a terminal state has no steps
    states[0] = s
    for t in range(t_max):
        a = act.draw(s, rng.random(m))
        s_next = step.draw(s * n_a + a, rng.random(m))
        valid[t] = alive
        actions[t] = np.where(alive, a, 0)
        rew[t] = np.where(alive, R[s, a], 0.0)
        terminated[t] = alive & terminal[s_next]
        s = np.where(alive, s_next, s)
        states[t + 1] = s
        alive = alive & ~terminated[t]
        if not alive.any():          # every episode has ended: the rest stays frozen / zero
            states[t + 2:] = s
            break
    truncated = np.zeros((t_max, m), bool)
    truncated[-1] = alive
    return Trajectories(states, actions, rew, terminated, truncated, valid)


def rollout(mdp, policy, params, n_traj: int, horizon: int, rng, obs=None) -> Trajectories:
    """``sample_trajectories`` under an npg policy: pi(a | s) = ``policy.probs(params, obs)``.

    ``obs`` [S, ...] is the observation of every state (default ``npg.mdp.default_obs``). The
    policy is evaluated once on all S states; sampling a_t from row pi[s_t] is then exactly
    sampling from pi(. | s_t) for a stationary policy.
    """
    if obs is None:
        from .gradient import default_obs  # noqa: PLC0415  (keeps this module standalone)
        obs = default_obs(mdp, policy, params)
    pi = to_numpy(policy.probs(params, obs))
    return sample_trajectories(mdp, pi, n_traj, horizon, rng)
