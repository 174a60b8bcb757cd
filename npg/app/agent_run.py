"""The run-directory side of ``Agent.learn`` and ``Agent.save``: the lock, the logs (CSV and
TensorBoard), run.json, checkpoints, and the warning for runs whose episodes never end.

These are the Agent's own steps, kept apart so that ``npg.app.agent`` reads as the training loop;
they take the agent as their first argument and touch its run state (``_lock``, ``_logger``,
``_tb``, ``_logs_at_save``, ``_wall_time``, ``_checkpoint_every``).
"""

from __future__ import annotations

import os
import warnings

from . import agent_checkpoint, checkpoint, provenance
from .logger import EPISODES_FILE, UPDATES_FILE, CSVLogger
from .run_dir import RunLock

__all__ = ["open_run", "close_run", "save", "warn_no_episodes"]


def open_run(agent, log_dir, tensorboard: bool) -> None:
    """Lock ``log_dir``, cut its logs back to the loaded checkpoint's rows, open them."""
    agent._lock = RunLock(log_dir).acquire()
    if tensorboard:
        from .tensorboard import TensorBoardWriter
        history = zip(agent.episode_returns[-100:], agent.episode_lengths[-100:])
        agent._tb = TensorBoardWriter(log_dir, agent.env_steps, history)
    provenance.start_session(agent, log_dir)
    sizes = None
    if agent._logs_at_save is not None and os.path.realpath(agent._logs_at_save[0]) == \
            os.path.realpath(os.fspath(log_dir)):
        sizes = agent._logs_at_save[1]
    agent._logger = CSVLogger(log_dir, append=agent.env_steps > 0, truncate_to=sizes,
                              wall_time_offset=agent._wall_time)


def close_run(agent, interrupted: bool) -> None:
    """Close the logs, finish run.json's session, release the lock."""
    logger, agent._logger = agent._logger, None
    tb, agent._tb = agent._tb, None
    if tb is not None:
        tb.close()
    if logger is not None:
        agent._wall_time = logger.wall_time
        logger.close()
    if agent._lock is not None:
        provenance.end_session(agent, agent._lock.path, interrupted)
        agent._lock.release()
        agent._lock = None


def save(agent, path, keep: int = 2) -> str:
    """A checkpoint of ``agent`` in ``path``, recording the logs' sizes when a run is open."""
    logger, logs = agent._logger, None
    wall = agent._wall_time
    if logger is not None:
        logger.flush()
        logs = {name: os.path.getsize(os.path.join(logger.log_dir, name))
                for name in (EPISODES_FILE, UPDATES_FILE)}
        wall = logger.wall_time
    run = {"checkpoint_every": agent._checkpoint_every}
    meta, arrays = agent_checkpoint.contents(agent, logs, wall, run)
    return checkpoint.save(path, meta, arrays, keep=keep)


_QUIET_UPDATES = 10     # updates without any finished episode before learn() warns


def warn_no_episodes(agent) -> bool:
    """Warn (once per learn call, returning True) when no training episode has ended in 10
    updates and in more steps per environment than its time limit, if it has one."""
    per_env = agent.env_steps // agent.config.n_envs
    limit = getattr(getattr(agent.envs, "spec", None), "max_episode_steps", None)
    if agent.n_updates < _QUIET_UPDATES or (limit and per_env <= limit):
        return False
    warnings.warn(
        f"{agent.algo_name}: no episode has ended in {agent.env_steps:,} env steps "
        f"({per_env:,} per environment); the environment may never end its episodes: give it a "
        f"time limit (gymnasium.wrappers.TimeLimit). No return can be logged, and REINFORCE "
        f"cannot learn without complete episodes", RuntimeWarning, stacklevel=5)
    return True
