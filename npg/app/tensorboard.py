"""TensorBoard event files beside the CSV logs, with Stable-Baselines3's metric names.

    pip install "npg[tensorboard]"          # tensorboardX, the writer (no TensorFlow, no torch)
    npg train CartPole-v1 --tensorboard     # events in runs/.../tb/ ; tensorboard --logdir runs

Scalars, all against the environment-step count (SB3's ``num_timesteps``):

    rollout/ep_rew_mean, rollout/ep_len_mean   mean raw return / length of the last 100
                                               finished training episodes
    time/fps                                   env steps per second of the session so far
    train/<stat>                               every update statistic; the ones SB3 also logs
                                               under its own names: policy_gradient_loss,
                                               value_loss, entropy_loss (= -entropy),
                                               approx_kl, clip_fraction, explained_variance,
                                               learning_rate, clip_range, n_updates
"""

from __future__ import annotations

import os
import time
from collections import deque

import numpy as np

__all__ = ["TensorBoardWriter", "SB3_NAMES", "TB_DIR"]

TB_DIR = "tb"
SB3_NAMES = {"policy_loss": "policy_gradient_loss", "value_loss": "value_loss",
             "approx_kl": "approx_kl", "clip_fraction": "clip_fraction",
             "explained_variance": "explained_variance", "lr": "learning_rate",
             "clip_range": "clip_range", "n_updates": "n_updates"}


class TensorBoardWriter:
    """Writes ``run_dir/tb/events.out.tfevents.*`` with tensorboardX's ``SummaryWriter``."""

    def __init__(self, run_dir, start_steps: int = 0, history=()):
        try:
            from tensorboardX import SummaryWriter
        except ImportError:
            raise ImportError("TensorBoard logging needs tensorboardX: pip install "
                              "'npg[tensorboard]' (or pip install tensorboardX)") from None
        self.writer = SummaryWriter(logdir=os.path.join(os.fspath(run_dir), TB_DIR))
        self._returns, self._lengths = deque(maxlen=100), deque(maxlen=100)
        for r, n in history:
            self._returns.append(float(r))
            self._lengths.append(int(n))
        self._t0, self._steps0 = time.perf_counter(), int(start_steps)

    def log(self, env_steps: int, returns, lengths, stats: dict) -> None:
        """One update's scalars (module docstring)."""
        self._returns.extend(np.asarray(returns, np.float64).tolist())
        self._lengths.extend(np.asarray(lengths).tolist())
        w = self.writer
        if self._returns:
            w.add_scalar("rollout/ep_rew_mean", float(np.mean(self._returns)), env_steps)
            w.add_scalar("rollout/ep_len_mean", float(np.mean(self._lengths)), env_steps)
        elapsed = time.perf_counter() - self._t0
        if elapsed > 0:
            w.add_scalar("time/fps", (env_steps - self._steps0) / elapsed, env_steps)
        for k, v in stats.items():
            if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool):
                w.add_scalar(f"train/{SB3_NAMES.get(k, k)}", float(v), env_steps)
        if "entropy" in stats:
            w.add_scalar("train/entropy_loss", -float(stats["entropy"]), env_steps)

    def close(self) -> None:
        self.writer.close()
