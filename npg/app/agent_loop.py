"""The reference training loop of ``Agent.learn``: collect a rollout [T, N], update, log, repeat.

``npg.app.agent_online`` is its compiled twin for one env and one update per step (the online
actor-critics on ``npg.engine.online``): same counters, logs, checkpoints and callbacks.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from . import agent_run

__all__ = ["reference_loop"]


def reference_loop(agent, target, per, bar, log_dir, checkpoint_every, callback, stop) -> None:
    """collect -> update -> log until ``agent.env_steps >= target`` or ``stop.requested``:
    episode lists and counters, CSV and TensorBoard rows, the progress bar, a checkpoint
    every ``checkpoint_every`` steps into ``log_dir``, and ``callback(agent, info)`` after
    each update (returning False ends training)."""
    value_fn, recent = agent._value_fn(), deque(agent.episode_returns[-20:], maxlen=20)
    logger, start, warned = agent._logger, agent.env_steps, False
    while agent.env_steps < target and not stop.requested:
        rollout = agent.collector.collect(agent._rollout_act_fn(value_fn), value_fn,
                                          agent.config.n_steps)
        p = min(1.0, agent.env_steps / agent.schedule_steps)
        agent.state, stats = agent.algo.update(agent.state, rollout, p, agent.rngs["update"])
        agent.env_steps += rollout.env_steps
        agent.n_updates += 1
        rets, lens = rollout.episode_returns, rollout.episode_lengths
        agent.episode_returns.extend(rets.tolist())
        agent.episode_lengths.extend(lens.tolist())
        recent.extend(rets.tolist())
        if not warned and not agent.episode_returns:
            warned = agent_run.warn_no_episodes(agent)
        if logger is not None:
            logger.log_episodes(agent.env_steps, rets, lens)
            logger.log_update(agent.n_updates, agent.env_steps, stats)
        if agent._tb is not None:
            agent._tb.log(agent.env_steps, rets, lens, stats)
        bar.update(agent.env_steps - start,
                   {"return": float(np.mean(recent))} if recent else None)
        if checkpoint_every is not None and \
                agent.env_steps // checkpoint_every > (agent.env_steps - per) // checkpoint_every:
            agent._save(log_dir)
        info = {"env_steps": agent.env_steps, "stats": stats, "episode_returns": rets}
        if callback is not None and callback(agent, info) is False:
            break
