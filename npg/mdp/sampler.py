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

Array modules: the MDP's (``FiniteMDP.xp``). On a NumPy MDP everything is NumPy, as always, and pi
may come from any module (converted once to NumPy). On an MDP moved to another module
(``mdp.to("cupy")``), pi must live there too (TypeError naming both modules otherwise) and the
tables, the search and the output arrays all stay there. The random numbers always come from the
NumPy ``Generator``: its uniforms [M] are drawn on the host, twice a step, and each draw is copied
once to the MDP's device (the one explicit conversion of this module). So one seed gives the same
trajectories, bit for bit, on every module.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..backend import common_xp, create, device_of, namespace_of, to_numpy
from ..checks import as_generator, check_positive_int

__all__ = ["Trajectories", "sample_trajectories", "rollout", "as_generator"]


@dataclass(frozen=True, eq=False)
class Trajectories:
    """M trajectories of at most T steps, time-major (``[T, M]``), arrays of the MDP's module.

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
        xp = namespace_of(self.valid)
        return xp.sum(xp.astype(self.valid, xp.int64), axis=0)


def _stochastic_rows(xp, name: str, p, shape: tuple, device=None):
    """Check a table of probability rows (last axis sums to 1, entries >= 0, finite) on xp."""
    if xp is np:
        p = np.asarray(to_numpy(p), dtype=np.float64)
    else:
        p = xp.astype(create(xp, "asarray", p, device=device), xp.float64)
    if tuple(p.shape) != shape:
        raise ValueError(f"{name} must have shape {list(shape)}; got {list(p.shape)}")
    if not bool(xp.all(xp.isfinite(p))):
        raise ValueError(f"{name} must be finite; it contains NaN or inf")
    if bool(xp.any(p < 0)):
        raise ValueError(f"{name} must hold probabilities >= 0; min is {float(xp.min(p))!r}")
    if bool(xp.any(xp.abs(xp.sum(p, axis=-1) - 1.0) > 1e-8)):
        raise ValueError(f"{name} rows must sum to 1 over the last axis")
    return p


class _RowSampler:
    """Draw one index per query from rows of a probability table ``p [n_rows, K]`` (on xp)."""

    def __init__(self, xp, p):
        self.xp, self.k = xp, p.shape[-1]
        rows = xp.reshape(p, (-1, self.k))
        self.offsets = create(xp, "arange", rows.shape[0], dtype=xp.float64,
                              device=device_of(p))
        # c[r, k] + r: increasing over the flattened table (see the module docstring).
        cumsum = getattr(xp, "cumulative_sum", None) or xp.cumsum      # cumsum: older CuPy
        self.table = xp.reshape(cumsum(rows, axis=1) + self.offsets[:, None], (-1,))

    def draw(self, row, u):
        xp = self.xp
        pos = xp.searchsorted(self.table, xp.take(self.offsets, row) + u, side="right")
        return xp.minimum(pos - row * self.k, self.k - 1)  # min guards the last partial sum < 1


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
    terminal = getattr(mdp, "terminal", None)
    xp = common_xp(mdp.P, mdp.R, mdp.mu0, terminal, names=("P", "R", "mu0", "terminal"))
    if xp is not np:
        common_xp(mdp.P, pi, names=("the MDP's P", "pi"))
    dev = device_of(mdp.P)
    P, R, mu0 = mdp.P, mdp.R, mdp.mu0
    if xp is np:
        P, R, mu0 = np.asarray(P), np.asarray(R), np.asarray(mu0)
    n_s, n_a = R.shape
    pi = _stochastic_rows(xp, "pi", pi, (n_s, n_a), dev)
    terminal = (create(xp, "zeros", n_s, dtype=xp.bool, device=dev) if terminal is None
                else xp.astype(xp.asarray(terminal), xp.bool))
    start, act, step = (_RowSampler(xp, mu0[None, :]), _RowSampler(xp, pi),
                        _RowSampler(xp, P))
    R_flat = xp.reshape(R, (-1,))

    def uniform():                   # host draws, one copy each to the MDP's device
        u = rng.random(m)
        return u if xp is np else create(xp, "asarray", u, device=dev)

    def new(shape, dtype, kind="zeros"):
        return create(xp, kind, shape, dtype=dtype, device=dev)

    states = new((t_max + 1, m), xp.int64, "empty")
    actions, rew = new((t_max, m), xp.int64), new((t_max, m), xp.float64)
    terminated, valid = new((t_max, m), xp.bool), new((t_max, m), xp.bool)
    s = start.draw(new(m, xp.int64), uniform())
    alive = ~xp.take(terminal, s)  # an episode that starts in a terminal state has no steps
    states[0, :] = s
    for t in range(t_max):
        a = act.draw(s, uniform())
        s_next = step.draw(s * n_a + a, uniform())
        valid[t, :] = alive
        actions[t, :] = xp.where(alive, a, 0)
        rew[t, :] = xp.where(alive, xp.take(R_flat, s * n_a + a), 0.0)
        terminated[t, :] = alive & xp.take(terminal, s_next)
        s = xp.where(alive, s_next, s)
        states[t + 1, :] = s
        alive = alive & ~terminated[t, :]
        if not bool(xp.any(alive)):  # every episode has ended: the rest stays frozen / zero
            states[t + 2:, :] = s
            break
    truncated = new((t_max, m), xp.bool)
    truncated[-1, :] = alive
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
    pi = policy.probs(params, obs)
    xp = getattr(mdp, "xp", np)
    return sample_trajectories(mdp, to_numpy(pi) if xp is np else pi, n_traj, horizon, rng)
