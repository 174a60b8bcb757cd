"""Evaluating an agent: complete episodes on a separate, seeded environment, with a step cap."""

from __future__ import annotations

import warnings

import numpy as np

from ..checks import check_positive_int
from ..envs import make_vec_env
from ..envs.action_masks import info_mask
from ..envs.ids import check_env_id
from ..envs.spaces import single_spaces

__all__ = ["evaluate", "check_seed"]


def check_seed(seed) -> int:
    """A non-negative int seed; TypeError/ValueError naming ``seed`` otherwise."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be a non-negative int; got {type(seed).__name__}")
    if seed < 0:
        raise ValueError(f"seed must be a non-negative int; got {seed}")
    return int(seed)


def evaluate(agent, n_episodes: int = 10, deterministic: bool = True, seed: int | None = None,
             env=None, n_envs: int = 16, max_steps: int | None = None) -> np.ndarray:
    """Returns ``[n_episodes]`` of episodes on a separate evaluation environment.

    Episode j is reset with seed ``seed + j`` (default ``seed = agent.seed + 10_000``, away
    from the training copies' seeds) and runs until terminated or truncated, or for at most
    ``max_steps`` steps (default: the environment's own time limit, or 10,000 where it has
    none; an episode cut there is counted with its return so far, and a RuntimeWarning says
    how many were). Stochastic actions come from ``numpy.random.default_rng(seed)``.
    Observation statistics are used frozen. ``env`` overrides the environment (an id or a
    callable; default the agent's). Episodes run ``n_envs`` at a time in one synchronous
    vector environment. A NaN or infinite reward is a ValueError naming the environment.
    """
    n_episodes = check_positive_int("n_episodes", n_episodes)
    seed = agent.seed + 10_000 if seed is None else check_seed(seed)
    env = env if env is not None else (agent.env_id or agent._env_fn)
    if env is None:
        raise ValueError("env must be given: this agent was built from a VectorEnv without "
                         "a registered id")
    n = min(check_positive_int("n_envs", n_envs), n_episodes)
    if isinstance(env, str):
        check_env_id(env, allow_import=True)
    envs = make_vec_env(env, n, mode="sync", **agent.env_kwargs)
    try:
        _check_spaces(agent, envs, env)
    except BaseException:
        envs.close()
        raise
    cap = _step_cap(envs, max_steps)
    rng = np.random.default_rng(seed)
    out, cut = np.empty(n_episodes, np.float64), 0
    try:
        for first in range(0, n_episodes, n):
            m = min(n, n_episodes - first)
            out[first:first + m], c = _round(agent, envs, env, seed + first, m,
                                             deterministic, rng, cap)
            cut += c
    finally:
        envs.close()
    if cut:
        warnings.warn(f"evaluate: {cut} of {n_episodes} episodes reached max_steps = {cap} "
                      f"without ending; their returns are those of the first {cap} steps",
                      RuntimeWarning, stacklevel=3)
    return out


def _round(agent, envs, env, seed0, m, deterministic, rng, cap):
    """One round of ``envs.num_envs`` episodes (the first ``m`` counted): (returns, cut). An
    action mask in the environment's ``info`` (``npg.envs.action_masks``) is passed to
    ``predict``, so masked tasks are evaluated on legal actions only."""
    n = envs.num_envs
    obs, info = envs.reset(seed=[seed0 + i for i in range(n)])
    ret, running = np.zeros(n), np.zeros(n, bool)
    running[:m] = True
    n_act = agent.spec.n_actions if agent.spec.discrete else None
    mask = np.ones((n, n_act), bool) if n_act else None
    for _ in range(cap):
        if not running.any():
            break
        given = n_act is not None and info_mask(info, n, n_act, mask)
        obs, r, te, tr, info = envs.step(agent.predict(obs, deterministic, rng,
                                                        action_mask=mask if given else None))
        r = np.asarray(r, np.float64)
        if not np.isfinite(r[running]).all():
            raise ValueError(f"env {env!r} returned a NaN or infinite reward during "
                             f"evaluation")
        ret += np.where(running, r, 0.0)
        running &= ~(te | tr)
    return ret[:m], int(running.sum())


def _step_cap(envs, max_steps) -> int:
    if max_steps is not None:
        return check_positive_int("max_steps", max_steps)
    spec = getattr(envs, "spec", None)
    limit = getattr(spec, "max_episode_steps", None)
    return int(limit) if limit else 10_000


def _check_spaces(agent, envs, env) -> None:
    """ValueError naming ``env`` when its spaces are not the ones the agent was trained on."""
    got, want = single_spaces(envs), single_spaces(agent.envs)
    for what, g, w in zip(("observation", "action"), got, want):
        if g != w:
            raise ValueError(f"env {env!r} has {what} space {g}; this agent was trained on {w}")
