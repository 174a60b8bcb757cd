"""Finite MDPs read from gymnasium's toy-text environments (their ``env.unwrapped.P`` tables).

A toy-text table lists, for every state s and action a, the outcomes
``(probability, next_state, reward, terminated)``. We reduce it to

    P[s, a, s'] = sum of the probabilities of the outcomes that land in s'          [S, A, S]
    R[s, a]     = sum over outcomes of probability * reward                        [S, A]

and mark as terminal every state that some outcome enters with ``terminated = True`` (FrozenLake's
holes and goal, CliffWalking's goal, Taxi's delivered-passenger states). Terminal states are made
absorbing with zero reward, which is what "the episode ended" means for the exact quantities.
What the table says about moves *from* a terminal state is ignored (they never happen). A table
in which a state reachable from mu0 enters a terminal state without ``terminated`` cannot be
written this way and raises ValueError. (Taxi's unreachable states with the passenger already at
the destination keep their table rows.) mu0 is the environment's ``initial_state_distrib``.

Gymnasium is imported only when one of these functions is called.
"""

from __future__ import annotations

import numpy as np

from .finite import FiniteMDP

__all__ = ["from_gymnasium", "frozen_lake", "cliff_walking", "taxi"]


def _tables(env) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(P [S, A, S], R [S, A], ends [S], alive [S, S]) from ``env.P``.

    ``ends[s']``: some outcome enters s' with terminated = True; ``alive[s, s']``: some outcome
    from s enters s' with terminated = False.
    """
    table = env.P
    S, A = int(env.observation_space.n), int(env.action_space.n)
    P = np.zeros((S, A, S))
    R = np.zeros((S, A))
    ends = np.zeros(S, dtype=bool)
    alive = np.zeros((S, S), dtype=bool)
    for s in range(S):                      # building once from a Python dict: a loop is fine
        for a in range(A):
            for prob, s_next, reward, terminated in table[s][a]:
                P[s, a, s_next] += prob
                R[s, a] += prob * reward
                if prob > 0:
                    if terminated:
                        ends[s_next] = True
                    else:
                        alive[s, s_next] = True
    return P, R, ends, alive


def _reachable(mu0, alive: np.ndarray) -> np.ndarray:
    """``[S]`` bool: states reachable from supp(mu0) through outcomes without ``terminated``."""
    seen = np.asarray(mu0) > 0
    frontier = seen
    while np.any(frontier):
        nxt = np.any(alive[frontier], axis=0) & ~seen
        seen, frontier = seen | nxt, nxt
    return seen


def from_gymnasium(env, gamma: float) -> FiniteMDP:
    """The ``FiniteMDP`` of a gymnasium toy-text environment (anything with ``unwrapped.P``,
    a ``Discrete`` observation and action space, and ``unwrapped.initial_state_distrib``)."""
    u = getattr(env, "unwrapped", env)
    if not hasattr(u, "P") or not hasattr(u, "initial_state_distrib"):
        raise TypeError(f"env must be a gymnasium toy-text environment with a transition table "
                        f"'P' and 'initial_state_distrib'; got {type(u).__name__}")
    P, R, terminal, alive = _tables(u)
    live = _reachable(u.initial_state_distrib, alive) & ~terminal
    both = terminal & np.any(alive[live], axis=0)
    if np.any(both):
        raise ValueError(f"env's table enters state {int(np.flatnonzero(both)[0])} both with "
                         f"and without terminated=True; it cannot be a terminal state")
    idx = np.flatnonzero(terminal)
    P[idx] = 0.0
    P[idx, :, idx] = 1.0                     # absorbing: P[s, a, s] = 1 for every a
    R[idx] = 0.0
    mu0 = np.asarray(u.initial_state_distrib, dtype=np.float64)
    return FiniteMDP(P, R, mu0, gamma, terminal)


def _make(env_id: str, gamma: float, **kwargs) -> FiniteMDP:
    import gymnasium as gym

    env = gym.make(env_id, **kwargs)
    try:
        return from_gymnasium(env, gamma)
    finally:
        env.close()


def frozen_lake(map_name: str = "4x4", is_slippery: bool = True, gamma: float = 0.99,
                **env_kwargs) -> FiniteMDP:
    """FrozenLake (latest version): S = 16 ("4x4") or 64 ("8x8"), A = 4; reward 1 on reaching the goal.

    Holes and the goal are terminal. With ``is_slippery`` the intended move succeeds with
    probability 1/3 and each perpendicular move happens with 1/3.
    """
    if map_name not in ("4x4", "8x8"):
        raise ValueError(f"map_name must be '4x4' or '8x8'; got {map_name!r}")
    return _make(_latest("FrozenLake"), gamma, map_name=map_name, is_slippery=bool(is_slippery),
                 **env_kwargs)


def cliff_walking(gamma: float = 0.99, **env_kwargs) -> FiniteMDP:
    """CliffWalking (latest version): S = 48 (4 x 12 grid), A = 4; reward -1 per step, -100 for stepping into
    the cliff (which sends the agent back to the start without ending the episode); the goal is
    terminal."""
    return _make(_latest("CliffWalking"), gamma, **env_kwargs)


def taxi(gamma: float = 0.99, **env_kwargs) -> FiniteMDP:
    """Taxi (latest version, v4 in gymnasium 1.x): S = 500, A = 6; reward -1 per step, -10 for an illegal pick-up or drop-off, +20
    for delivering the passenger, which ends the episode (those states are terminal)."""
    return _make(_latest("Taxi"), gamma, **env_kwargs)


def _latest(name: str) -> str:
    """The highest registered version of a gymnasium environment (``CliffWalking-v1``)."""
    import gymnasium as gym

    ids = [k for k in gym.registry if k.split("-v")[0] == name]
    if not ids:
        raise ValueError(f"gymnasium has no environment named {name!r}")
    return max(ids, key=lambda k: int(k.rsplit("-v", 1)[1]))
