"""``Agent.learn``'s loop on the online engine (``npg.engine.online``): one env, one update per
step, for ``ac``, ``qac`` and ``ac_lambda`` where ``online.applies`` says so.

It does what ``Agent._loop`` does at ``n_envs = n_steps = 1``, step by step: the same
``env_steps``, ``n_updates``, episode lists, log rows (``updates.csv`` gets the same stats,
``{"n_samples": 0}`` on a phantom step), TensorBoard rows, checkpoints and callbacks, with
the same train state and generators (``agent.state`` and the act stream are brought up to
date before every checkpoint and callback, and when the loop ends; the learner reloads the
state after a callback, which may change it). The progress bar gets the same counts, redrawn every 64 steps and at
the end (tqdm redraws at most 5 times a second anyway).
"""

from __future__ import annotations

from collections import deque

import numpy as np

from ..engine.online import OnlineLearner
from . import agent_run

__all__ = ["online_loop"]

_BAR_EVERY = 64
_NO_RETURNS, _NO_LENGTHS = np.zeros(0), np.zeros(0, np.int64)


def online_loop(agent, target, bar, log_dir, checkpoint_every, callback, stop) -> None:
    """The body of ``Agent.learn`` on the engine: step -> update -> log until
    ``agent.env_steps >= target``."""
    learner = OnlineLearner(agent.algo, agent.state, agent.collector, agent.rngs["act"],
                            block=1 if callback is not None else 1024)
    recent = deque(agent.episode_returns[-20:], maxlen=20)
    logger, tb, start, warned = agent._logger, agent._tb, agent.env_steps, False
    want_stats = logger is not None or tb is not None or callback is not None
    try:
        while agent.env_steps < target and not stop.requested:
            p = min(1.0, agent.env_steps / agent.schedule_steps)
            stats, episode = learner.step(p, want_stats)
            agent.env_steps += 1
            agent.n_updates += 1
            rets, lens = _NO_RETURNS, _NO_LENGTHS
            if episode is not None:
                agent.episode_returns.append(episode[0])
                agent.episode_lengths.append(episode[1])
                recent.append(episode[0])
                rets, lens = np.array([episode[0]]), np.array([episode[1]], np.int64)
            if not warned and not agent.episode_returns:
                warned = agent_run.warn_no_episodes(agent)
            if logger is not None:
                logger.log_episodes(agent.env_steps, rets, lens)
                logger.log_update(agent.n_updates, agent.env_steps, stats)
            if tb is not None:
                tb.log(agent.env_steps, rets, lens, stats)
            done = agent.env_steps - start
            if done == 1 or done % _BAR_EVERY == 0 or agent.env_steps >= target:
                bar.update(done, {"return": float(np.mean(recent))} if recent else None)
            if checkpoint_every is not None and agent.env_steps % checkpoint_every == 0:
                agent.state = learner.sync()
                agent._save(log_dir)
            if callback is not None:
                agent.state = learner.sync()
                info = {"env_steps": agent.env_steps, "stats": stats, "episode_returns": rets}
                if callback(agent, info) is False:
                    break
                learner.load_state(agent.state)      # the callback may have changed it
    finally:
        agent.state = learner.sync()
        done = agent.env_steps - start
        if done and done % _BAR_EVERY != 0 and done != 1:
            bar.update(done, {"return": float(np.mean(recent))} if recent else None)
