"""TensorBoard events written by tensorboardX's real writer, read back record by record."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from npg.app.agent import Agent
from npg.app.logger import read_csv

pytest.importorskip("tensorboardX", reason="the tensorboard extra is not installed")


def read_scalars(tb_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """{tag: [(step, value)]} from the TFRecord event files (length, crc, data, crc)."""
    from tensorboardX.proto import event_pb2
    out: dict = {}
    for path in sorted(tb_dir.glob("events.out.tfevents.*")):
        data = path.read_bytes()
        i = 0
        while i < len(data):
            (n,) = struct.unpack("<Q", data[i:i + 8])
            ev = event_pb2.Event.FromString(data[i + 12:i + 12 + n])
            i += 12 + n + 4
            for v in ev.summary.value:
                out.setdefault(v.tag, []).append((ev.step, v.simple_value))
    return out


def test_training_writes_sb3_named_scalars_beside_the_csv(tmp_path):
    a = Agent("CartPole-v1", "ppo", {"n_envs": 2, "n_steps": 16, "batch_size": 16,
                                     "n_epochs": 1, "hidden": (8,)}, seed=0)
    a.learn(320, progress=False, log_dir=tmp_path, tensorboard=True)
    s = read_scalars(tmp_path / "tb")
    assert {"rollout/ep_rew_mean", "rollout/ep_len_mean", "time/fps", "train/approx_kl",
            "train/clip_fraction", "train/entropy_loss", "train/policy_gradient_loss",
            "train/value_loss", "train/explained_variance", "train/learning_rate",
            "train/clip_range"} <= set(s)
    up = read_csv(tmp_path / "updates.csv")
    steps, kl = zip(*s["train/approx_kl"])
    np.testing.assert_array_equal(steps, up["env_steps"])
    np.testing.assert_allclose(kl, up["approx_kl"], rtol=1e-6)        # float32 in the file
    np.testing.assert_allclose([v for _, v in s["train/entropy_loss"]], -up["entropy"],
                               rtol=1e-6)
    last = s["rollout/ep_rew_mean"][-1]
    assert last[0] == 320
    assert last[1] == pytest.approx(np.mean(a.episode_returns[-100:]), rel=1e-6)


def test_tensorboard_needs_a_log_dir():
    a = Agent("CartPole-v1", "a2c", {"hidden": (4,)}, seed=0)
    with pytest.raises(ValueError, match="tensorboard=True needs a log_dir"):
        a.learn(32, progress=False, tensorboard=True)
