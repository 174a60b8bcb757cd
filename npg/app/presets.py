"""Tuned settings per (environment, algorithm): what ``npg train ENV`` starts from.

PPO's presets are rl-baselines3-zoo's published hyperparameters (``hyperparams/ppo.yml``,
Raffin 2020, https://github.com/DLR-RM/rl-baselines3-zoo), translated field by field:

- fields the zoo leaves out take Stable-Baselines3's PPO defaults (lr 3e-4, clip 0.2, both
  constant; batch 64; 10 epochs; gamma 0.99; GAE lambda 0.95; max_grad_norm 0.5; two hidden
  layers of 64 tanh units; orthogonal init), not npg's CartPole-tuned ``PPOConfig`` defaults;
- ``lin_X`` schedules become ``anneal_lr`` / ``anneal_clip``;
- SB3's ``vf_coef`` is doubled: npg's value loss (1/2B) sum (V - y)^2 is half SB3's mean
  squared error (see ``PPOConfig.vf_coef``);
- the zoo's ``normalize: true`` (VecNormalize) becomes ``normalize_obs`` and ``scale_reward``;
- a ``batch_size`` larger than ``n_envs * n_steps`` (SB3 then uses the whole rollout) becomes the
  rollout size; LunarLander's ``-v2`` entries serve gymnasium's ``-v3``.

The other presets are npg's own examples' settings (``examples/01..07``), with the figures
their docstrings report, and ``ac_lambda``'s measured settings
(``benchmarks/traces_learning.py``; ``ACLambdaConfig`` explains why FrozenLake's steps are 40
times CartPole's). ``steps`` is the zoo's ``n_timesteps`` (npg's measured budget for
CartPole). ``threshold`` is the task's usual "solved" return, used by
``benchmarks/learning.py --presets``.

The PPO presets of CartPole-v1 and Pendulum-v1 train in float32 (torch's dtype, so the zoo's),
chosen by measurement (``benchmarks/dtype.py [--env Pendulum-v1]``, warm cache): float32
reached the goal sooner in wall time (medians 0.6 s against 1.1 s over CartPole's seeds
0-159, 1.2 s against 2.0 s over Pendulum's seeds 0-99) and as often (CartPole 152/160 seeds
against float64's 143/160; Pendulum 99/100 against 100/100). The other presets keep
``AlgoConfig``'s float64 until measured the same way.

    preset("Pendulum-v1", "ppo")  ->  {"config": {...}, "normalize_obs": False, ...} or None
"""

from __future__ import annotations

import copy
import os

__all__ = ["PRESETS", "preset", "load_config_file", "SB3_PPO_DEFAULTS"]

SB3_PPO_DEFAULTS = dict(lr=3e-4, anneal_lr=False, clip_range=0.2, anneal_clip=False,
                        batch_size=64, n_epochs=10, gamma=0.99, gae_lambda=0.95, ent_coef=0.0,
                        vf_coef=1.0, max_grad_norm=0.5, hidden=(64, 64), activation="tanh",
                        orthogonal=True)

_ZOO = "rl-baselines3-zoo hyperparams/ppo.yml"


def _ppo(**fields) -> dict:
    return {**SB3_PPO_DEFAULTS, **fields}


PRESETS: dict[tuple[str, str], dict] = {
    ("CartPole-v1", "ppo"): dict(
        config=_ppo(n_envs=8, n_steps=32, batch_size=256, gae_lambda=0.8, gamma=0.98,
                    n_epochs=20, lr=1e-3, anneal_lr=True, clip_range=0.2, anneal_clip=True,
                    dtype="float32"),
        steps=50_000, threshold=475, source=_ZOO + " (tuned; n_timesteps 1e5, npg: 50k)"),
    ("Acrobot-v1", "ppo"): dict(
        config=_ppo(n_envs=16, n_steps=256, gae_lambda=0.94, gamma=0.99, n_epochs=4),
        normalize_obs=True, scale_reward=True, steps=1_000_000, threshold=-100, source=_ZOO),
    ("Pendulum-v1", "ppo"): dict(
        config=_ppo(n_envs=4, n_steps=1024, gae_lambda=0.95, gamma=0.9, n_epochs=10,
                    lr=1e-3, clip_range=0.2, use_sde=True, sde_sample_freq=4, dtype="float32"),
        steps=100_000, threshold=-200, source=_ZOO + " (tuned); examples/06_pendulum_ppo.py"),
    ("MountainCarContinuous-v0", "ppo"): dict(
        config=_ppo(n_envs=1, n_steps=8, batch_size=8, gamma=0.9999, lr=7.77e-5,
                    ent_coef=0.00429, clip_range=0.1, n_epochs=10, gae_lambda=0.9,
                    max_grad_norm=5.0, vf_coef=0.38, use_sde=True, log_std_init=-3.29,
                    orthogonal=False),
        normalize_obs=True, scale_reward=True, steps=20_000, threshold=90,
        source=_ZOO + " (tuned; batch_size 256 > the 8-step rollout: the whole rollout)"),
    ("LunarLander-v3", "ppo"): dict(
        config=_ppo(n_envs=16, n_steps=1024, batch_size=64, gae_lambda=0.98, gamma=0.999,
                    n_epochs=4, ent_coef=0.01),
        steps=1_000_000, threshold=200, source=_ZOO + " (LunarLander-v2); examples/08"),
    ("LunarLanderContinuous-v3", "ppo"): dict(
        config=_ppo(n_envs=16, n_steps=1024, batch_size=64, gae_lambda=0.98, gamma=0.999,
                    n_epochs=4, ent_coef=0.01),
        normalize_obs=True, scale_reward=True, steps=1_000_000, threshold=200,
        source=_ZOO + " (LunarLanderContinuous-v2)"),
    ("LunarLander-v3", "a2c"): dict(
        config=dict(n_envs=8, n_steps=5, gamma=0.995, gae_lambda=1.0, lr=8.3e-4,
                    critic_lr=8.3e-4, optimizer="rmsprop", anneal_lr=True, ent_coef=1e-5,
                    max_grad_norm=0.5, hidden=(64, 64)),
        steps=500_000, threshold=200,
        source="rl-baselines3-zoo hyperparams/a2c.yml (LunarLander-v2); examples/07"),
    ("FrozenLake-v1", "reinforce"): dict(
        config=dict(hidden=(8,), n_envs=32, n_steps=100, gamma=0.99, lr=3e-2,
                    baseline="mean", returns="reward_to_go"),
        steps=400_000, threshold=0.7, source="npg examples/01_frozenlake_reinforce.py"),
    ("FrozenLake-v1", "qac"): dict(
        config=dict(policy="linear", n_envs=8, n_steps=1, gamma=0.99, lr=1e-2, critic_lr=5e-2,
                    optimizer="adam", baseline=True),
        steps=100_000, threshold=0.7, source="npg examples/02_frozenlake_q_actor_critic.py"),
    ("FrozenLake-v1", "ac"): dict(
        config=dict(shared=True, hidden=(32,), n_envs=8, n_steps=5, n_step=5, gamma=0.99,
                    lr=3e-3, vf_coef=0.5, ent_coef=0.01),
        steps=300_000, threshold=0.7, source="npg examples/03_frozenlake_shared_actor_critic.py"),
    ("FrozenLake-v1", "ac_lambda"): dict(
        config=dict(n_envs=1, n_steps=1, gamma=0.99, lr=0.02, critic_lr=0.02),
        steps=60_000, threshold=0.7,
        source="npg benchmarks/traces_learning.py (greedy success 0.63-0.67, 5 seeds)"),
    ("CartPole-v1", "ac_lambda"): dict(
        config=dict(n_envs=1, n_steps=1, gamma=0.99, hidden=(32,), lam=0.8, critic_lam=0.8,
                    lr=5e-4, critic_lr=5e-3, discount_actor=False),
        steps=200_000, threshold=195,
        source="npg benchmarks/traces_learning.py (last-20 mean >= 195 on 4/5 seeds)"),
    ("CartPole-v0", "reinforce"): dict(
        config=dict(policy="linear", n_envs=32, n_steps=200, gamma=0.99, lr=0.1,
                    optimizer="adam", returns="reward_to_go"),
        steps=400_000, threshold=195, source="npg examples/04_cartpole_linear_reinforce.py"),
}


def preset(env_id: str, algo: str) -> dict | None:
    """A copy of the preset for ``(env_id, algo)`` (keys ``config``, ``normalize_obs``,
    ``scale_reward``, ``steps``, ``threshold``, ``source``), or None without one. A
    ``"module:Env-v0"`` id is looked up by its ``Env-v0`` part."""
    if not isinstance(env_id, str) or not isinstance(algo, str):
        raise TypeError("env_id and algo must be strings")
    found = PRESETS.get((env_id.rpartition(":")[2], algo))
    if found is None:
        return None
    out = {"normalize_obs": False, "scale_reward": False, **copy.deepcopy(found)}
    out["config"] = dict(out["config"])
    return out


def load_config_file(path) -> dict:
    """Config overrides from a TOML file: a table of config fields, optionally under
    ``[config]`` beside ``normalize_obs``/``scale_reward`` keys; lists become tuples
    (``hidden = [64, 64]``). Returns ``{"config": {...}, "normalize_obs": ..., ...}`` with only
    the keys present. ValueError naming the file for anything else (the fields themselves
    are validated by the algorithm's config)."""
    try:
        import tomllib
    except ImportError:                          # Python 3.10
        import tomli as tomllib
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        raise ValueError(f"--config {path!r}: no such file") from None
    except tomllib.TOMLDecodeError as err:
        raise ValueError(f"--config {path!r}: not valid TOML ({err})") from None
    flags = {k: data.pop(k) for k in ("normalize_obs", "scale_reward") if k in data}
    table = data.pop("config", None)
    if table is None:
        table, data = data, {}
    if data or not isinstance(table, dict):
        raise ValueError(f"--config {path!r}: expected config fields (optionally under "
                         f"[config]) and normalize_obs / scale_reward; got extra keys "
                         f"{sorted(data)}")
    for k, v in flags.items():
        if not isinstance(v, bool):
            raise ValueError(f"--config {path!r}: {k} must be true or false; got {v!r}")
    config = {k: tuple(v) if isinstance(v, list) else v for k, v in table.items()}
    return {"config": config, **flags}
