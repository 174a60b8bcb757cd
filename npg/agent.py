"""``Agent``: an algorithm, its vector environment and its train state, in gymnasium's idiom.

    from npg import Agent    # or: from npg.agent import Agent
    agent = Agent("CartPole-v1", algo="ppo", seed=0)          # tuned PPO defaults
    agent.learn(50_000)                                         # collect -> update, repeated
    returns = agent.evaluate(n_episodes=20)                     # separate env, seeded
    action = agent.predict(obs)                                 # one raw observation or a batch
    agent.save("runs/cartpole");  agent = Agent.load("runs/cartpole")

One ``learn`` iteration collects a rollout ``[T, N]`` with ``npg.rollout.Collector`` (T =
``config.n_steps``, N = ``config.n_envs``) and passes it to ``algo.update(state, rollout,
progress, rng)`` with ``progress = (steps done in this call before the rollout) / total_steps``
in [0, 1), which drives the algorithms' linear annealing. Randomness: one ``seed`` gives the
environments' seeds (copy i gets ``seed + i``) and, through ``numpy.random.SeedSequence(seed)``,
independent Generators for initialisation, acting, updates and stochastic ``predict``; so the
same seed gives bitwise-identical learning, and a saved agent carries its generators' states.
"""

from __future__ import annotations

import math
import sys
from collections import deque
from dataclasses import asdict
from typing import Callable

import numpy as np
from gymnasium.vector import VectorEnv

from ._checks import check_positive_int
from .algos import get_algorithm, make_config
from .envs import ObsNormalizer, RewardScaler, make_vec_env, space_info
from .envs.spaces import action_decoder, obs_encoder, single_spaces
from .logger import CSVLogger
from .progress import ProgressBar
from .rollout import Collector
from .sde_noise import SDENoise
from . import blas as _blas, checkpoint

__all__ = ["Agent", "VECTORIZATIONS"]

VECTORIZATIONS = ("auto", "sync", "async", "vector_entry_point")
_STREAMS = ("init", "act", "update", "predict")


def _check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be a non-negative int; got {type(seed).__name__}")
    if seed < 0:
        raise ValueError(f"seed must be a non-negative int; got {seed}")
    return int(seed)


def _resolve_mode(env, vectorization: str) -> str:
    """"auto": the environment's own vectorised class where it registers one, else "sync"."""
    if vectorization not in VECTORIZATIONS:
        raise ValueError(f"vectorization must be one of {VECTORIZATIONS}; got {vectorization!r}")
    if vectorization != "auto":
        return vectorization
    if isinstance(env, str):
        import gymnasium as gym
        if gym.spec(env).vector_entry_point is not None:
            return "vector_entry_point"
    return "sync"


class Agent:
    """A learning agent on a gymnasium environment.

    env             a registered id ("CartPole-v1"), a callable returning a fresh ``gym.Env``,
                    or a ``gymnasium.vector.VectorEnv`` with ``config.n_envs`` copies (its
                    ``num_envs`` fills ``n_envs`` when the config leaves it unset).
    algo            a name in ``npg.algos.ALGORITHMS`` ("ppo", "reinforce", "ac", "a2c", "qac").
    config          None (the algorithm's defaults), a dict of field overrides, or the
                    algorithm's config dataclass (validated there; unknown keys raise).
    seed            non-negative int; everything random derives from it.
    vectorization   "auto" (default: the environment's own vector class where registered, as
                    CartPole's, else "sync"), "sync", "async" or "vector_entry_point".
    normalize_obs   running observation normalisation (``ObsNormalizer``), saved with the agent.
    scale_reward    reward scaling by the running std of the discounted return
                    (``RewardScaler`` with the config's gamma), saved with the agent.
    env_kwargs      keyword arguments for the environment's constructor (e.g.
                    ``{"is_slippery": False}``), also used by ``evaluate``.

    Attributes: ``algo`` (the Algorithm), ``config``, ``state`` (the train state), ``envs``,
    ``collector``, ``env_steps`` (environment steps learned from so far, all copies),
    ``n_updates``, ``episode_returns`` / ``episode_lengths`` (lists over finished training
    episodes, raw rewards).
    """

    def __init__(self, env="CartPole-v1", algo: str = "ppo", config=None, seed: int = 0,
                 vectorization: str = "auto", normalize_obs: bool = False,
                 scale_reward: bool = False, env_kwargs: dict | None = None):
        self.seed = _check_seed(seed)
        self.algo_name = algo
        algo_class = get_algorithm(algo)
        for name, flag in (("normalize_obs", normalize_obs), ("scale_reward", scale_reward)):
            if not isinstance(flag, (bool, np.bool_)):
                raise TypeError(f"{name} must be a bool; got {type(flag).__name__}")
        if env_kwargs is not None and not isinstance(env_kwargs, dict):
            raise TypeError(f"env_kwargs must be a dict or None; got {type(env_kwargs).__name__}")
        self.env_kwargs = dict(env_kwargs or {})
        self.normalize_obs, self.scale_reward = bool(normalize_obs), bool(scale_reward)
        if isinstance(env, VectorEnv):
            if isinstance(config, dict) and "n_envs" not in config:
                config = {**config, "n_envs": int(env.num_envs)}
            elif config is None:
                config = {"n_envs": int(env.num_envs)}
        self.config = make_config(algo_class.config_class, config)
        if isinstance(env, VectorEnv):
            if env.num_envs != self.config.n_envs:
                raise ValueError(f"env must have config.n_envs = {self.config.n_envs} copies; "
                                 f"got a VectorEnv with {env.num_envs}")
            self.vectorization, self.envs = "given", env
            self.env_id = env.spec.id if getattr(env, "spec", None) is not None else None
        elif isinstance(env, str) or callable(env):
            self.vectorization = _resolve_mode(env, vectorization)
            self.envs = make_vec_env(env, self.config.n_envs, mode=self.vectorization,
                                     seed=self.seed, **self.env_kwargs)
            self.env_id = env if isinstance(env, str) else None
        else:
            raise TypeError(f"env must be an environment id (str), a callable returning a "
                            f"gymnasium Env, or a gymnasium VectorEnv; got {type(env).__name__}")
        self._env_fn = env if callable(env) and not isinstance(env, (str, VectorEnv)) else None
        self.spec = space_info(self.envs)
        self.algo = algo_class(self.config, self.spec)
        self.rngs = {k: np.random.default_rng(s) for k, s in
                     zip(_STREAMS, np.random.SeedSequence(self.seed).spawn(len(_STREAMS)))}
        self.state = self.algo.init(self.rngs["init"])
        self.sde_noise = (SDENoise(self.config.n_envs, self.config.n_steps,
                                   self.config.sde_sample_freq)
                          if getattr(self.config, "use_sde", False) else None)
        gamma = self.config.gamma
        self.collector = Collector(
            self.envs, ObsNormalizer() if self.normalize_obs else None,
            RewardScaler(gamma=gamma) if self.scale_reward else None, dtype=self.algo.dtype)
        obs_space, act_space = single_spaces(self.envs)
        self._obs_shape = tuple(obs_space.shape)
        self._encode, self._decode = obs_encoder(obs_space), action_decoder(act_space)
        self.env_steps, self.n_updates = 0, 0
        self.episode_returns: list[float] = []
        self.episode_lengths: list[int] = []

    def __repr__(self):
        env = self.env_id or type(self.envs).__name__
        return f"Agent(env={env!r}, algo={self.algo_name!r}, seed={self.seed}, {self.config!r})"

    # ---------------------------------------------------------------- acting
    def _act_fn(self, o):
        """The acting step of ``learn``; with gSDE, E from ``self.sde_noise`` (redrawn on its
        schedule from the act stream, before the action's own use of it)."""
        rng = self.rngs["act"]
        if self.sde_noise is None:
            return self.algo.act(self.state, o, rng)
        noise = self.sde_noise.matrices(self.state["policy"]["log_std"], rng)
        return self.algo.act(self.state, o, rng, noise=noise)

    def _rollout_act_fn(self, value_fn) -> Callable:
        """The collector's act_fn: ``algo.act_value`` (action and value in one pass) where the
        algorithm computes both in one call (``fused_acting``), else ``_act_fn``."""
        fused = getattr(self.algo, "fused_acting", None)
        if value_fn is None or fused is None or not fused(self.state):
            return self._act_fn
        return lambda o: self.algo.act_value(self.state, o, self.rngs["act"])

    def _value_fn(self) -> Callable | None:
        probe = np.zeros((1, self.spec.obs_dim), self.algo.dtype)
        if self.algo.value(self.state, probe) is None:
            return None
        return lambda o: self.algo.value(self.state, o)

    def policy_obs(self, obs) -> tuple[np.ndarray, bool]:
        """Raw observations (one, or a batch ``[M, ...]``) -> the policy's input ``[M, D]``
        (one-hot / flattened, normalised with the frozen running statistics), and whether a
        single observation was given."""
        x = np.asarray(obs)
        single = x.shape == self._obs_shape
        if single:
            x = x.reshape((1,) + self._obs_shape)
        elif x.ndim != len(self._obs_shape) + 1 or x.shape[1:] != self._obs_shape:
            raise ValueError(f"obs must be one observation of shape {self._obs_shape} or a "
                             f"batch of shape [M, {', '.join(map(str, self._obs_shape))}]; got "
                             f"{x.shape}")
        enc = self._encode(x, np.empty((x.shape[0], self.spec.obs_dim), np.float64))
        norm = self.collector.obs_normalizer
        if norm is not None and norm.moments is not None:
            enc = norm.normalize(enc)
        return enc.astype(self.algo.dtype, copy=False), single

    def predict(self, obs, deterministic: bool = True, rng=None):
        """The environment action(s) for raw observation(s) ``obs``.

        A single observation gives a single action; a batch ``[M, ...]`` gives ``[M]`` (Discrete)
        or ``[M, K...]`` (Box, clipped to the bounds). ``deterministic`` takes the mode (argmax /
        mean); otherwise actions are sampled with ``rng`` (a Generator; default the agent's own
        predict stream, saved with it).
        """
        x, single = self.policy_obs(obs)
        env_a, _, _ = self.algo.act(self.state, x, self.rngs["predict"] if rng is None else rng,
                                    deterministic=bool(deterministic))
        a = self._decode(env_a)
        return a[0] if single else a

    # ---------------------------------------------------------------- learning
    def learn(self, total_steps: int, progress: bool = True, log_dir=None,
              checkpoint_every: int | None = None, callback=None,
              blas_threads: int | None = 1) -> "Agent":
        """Train for ``total_steps`` environment steps (rounded up to whole rollouts of
        ``n_envs * n_steps``); returns self. Calling again continues training.

        progress          draw a progress bar on stderr.
        log_dir           write ``episodes.csv`` and ``updates.csv`` there (``npg.logger``);
                          appended to when the agent has learned before.
        checkpoint_every  save the agent into ``log_dir`` every this many env steps (needs
                          ``log_dir``); None: no intermediate checkpoints.
        callback          ``callback(agent, info) -> bool | None`` after every update, ``info``
                          with env_steps, update stats and the finished episodes' returns;
                          returning False stops training.
        blas_threads      OpenBLAS threads while learning (``npg.blas``; default 1, much
                          faster for small networks); None leaves the thread pool alone.
        """
        total = check_positive_int("total_steps", total_steps)
        if checkpoint_every is not None:
            checkpoint_every = check_positive_int("checkpoint_every", checkpoint_every)
            if log_dir is None:
                raise ValueError("checkpoint_every needs a log_dir to save checkpoints in")
        if callback is not None and not callable(callback):
            raise TypeError(f"callback must be callable or None; got {type(callback).__name__}")
        per = self.config.n_envs * self.config.n_steps
        n_iter = math.ceil(total / per)
        logger = CSVLogger(log_dir, append=self.env_steps > 0) if log_dir is not None else None
        bar = ProgressBar(n_iter * per, sys.stderr if progress else None)
        if blas_threads is not None:
            blas_threads = check_positive_int("blas_threads", blas_threads)
        value_fn, recent = self._value_fn(), deque(self.episode_returns[-20:], maxlen=20)
        try:
            with _blas.blas_threads(blas_threads):
                self._loop(n_iter, per, total, value_fn, recent, logger, bar, log_dir,
                           checkpoint_every, callback)
        finally:
            bar.close()
            if logger is not None:
                logger.close()
        return self

    def _loop(self, n_iter, per, total, value_fn, recent, logger, bar, log_dir,
              checkpoint_every, callback):
        """The body of ``learn``: ``n_iter`` times collect -> update -> log."""
        next_ckpt = checkpoint_every
        for k in range(n_iter):
            rollout = self.collector.collect(self._rollout_act_fn(value_fn), value_fn,
                                             self.config.n_steps)
            self.state, stats = self.algo.update(self.state, rollout, k * per / total,
                                                 self.rngs["update"])
            self.env_steps += rollout.env_steps
            self.n_updates += 1
            rets, lens = rollout.episode_returns, rollout.episode_lengths
            self.episode_returns.extend(rets.tolist())
            self.episode_lengths.extend(lens.tolist())
            recent.extend(rets.tolist())
            if logger is not None:
                logger.log_episodes(self.env_steps, rets, lens)
                logger.log_update(self.n_updates, self.env_steps, stats)
            bar.update((k + 1) * per, {"return": float(np.mean(recent))} if recent else None)
            if next_ckpt is not None and (k + 1) * per >= next_ckpt:
                logger.flush()
                self.save(log_dir)
                next_ckpt += checkpoint_every
            info = {"env_steps": self.env_steps, "stats": stats, "episode_returns": rets}
            if callback is not None and callback(self, info) is False:
                break

    def mean_return(self, window: int = 20) -> float:
        """Mean raw return of the last ``window`` finished training episodes (NaN if none)."""
        window = check_positive_int("window", window)
        last = self.episode_returns[-window:]
        return float(np.mean(last)) if last else math.nan

    # ---------------------------------------------------------------- evaluation
    def evaluate(self, n_episodes: int = 10, deterministic: bool = True, seed: int | None = None,
                 env=None, n_envs: int = 16) -> np.ndarray:
        """Returns ``[n_episodes]`` of complete episodes on a separate evaluation environment.

        Episode j is reset with seed ``seed + j`` (default ``seed = agent.seed + 10_000``, away
        from the training copies' seeds) and runs until terminated or truncated; stochastic
        actions come from ``numpy.random.default_rng(seed)``. Observation statistics are used
        frozen. ``env`` overrides the environment (an id or a callable; default the agent's).
        Episodes run ``n_envs`` at a time in one synchronous vector environment.
        """
        n_episodes = check_positive_int("n_episodes", n_episodes)
        seed = self.seed + 10_000 if seed is None else _check_seed(seed)
        env = env if env is not None else (self.env_id or self._env_fn)
        if env is None:
            raise ValueError("env must be given: this agent was built from a VectorEnv without "
                             "a registered id")
        n = min(check_positive_int("n_envs", n_envs), n_episodes)
        envs = make_vec_env(env, n, mode="sync", **self.env_kwargs)
        rng = np.random.default_rng(seed)
        out = np.empty(n_episodes, np.float64)
        try:
            for first in range(0, n_episodes, n):
                obs, _ = envs.reset(seed=[seed + first + i for i in range(n)])
                ret, running = np.zeros(n), np.ones(n, bool)
                running[n_episodes - first:] = False          # the last round may be partial
                while running.any():
                    obs, r, te, tr, _ = envs.step(self.predict(obs, deterministic, rng))
                    ret += np.where(running, r, 0.0)
                    running &= ~(te | tr)
                m = min(n, n_episodes - first)
                out[first:first + m] = ret[:m]
        finally:
            envs.close()
        return out

    # ---------------------------------------------------------------- checkpoints
    def save(self, path) -> str:
        """Save into directory ``path`` (created): ``agent.json`` (algo, config, env id and
        kwargs, seed, flags, counters, generator states) and ``agent.npz`` (the train state and
        the normalisers' statistics). Returns the directory."""
        meta = {"algo": self.algo_name, "config": asdict(self.config), "env_id": self.env_id,
                "env_kwargs": self.env_kwargs, "seed": self.seed,
                "vectorization": self.vectorization, "normalize_obs": self.normalize_obs,
                "scale_reward": self.scale_reward, "env_steps": self.env_steps,
                "n_updates": self.n_updates,
                "rng": {k: g.bit_generator.state for k, g in self.rngs.items()}}
        return checkpoint.save(path, meta, self.state, self.collector.state_dict())

    @classmethod
    def load(cls, path, env=None) -> "Agent":
        """An agent from ``save(path)``: same config, parameters, optimiser state, normaliser
        statistics and generator states, so it acts identically and can resume learning.
        ``env`` (an id, callable or VectorEnv) replaces the saved environment id."""
        meta, state, norm = checkpoint.load(path)
        env = env if env is not None else meta["env_id"]
        if env is None:
            raise ValueError("env must be given: the saved agent has no registered env id")
        vec = meta["vectorization"] if meta["vectorization"] in VECTORIZATIONS else "auto"
        agent = cls(env, meta["algo"], meta["config"], meta["seed"], vec,
                    meta["normalize_obs"], meta["scale_reward"], meta["env_kwargs"])
        agent.state = state
        agent.collector.load_state_dict(norm)
        agent.env_steps, agent.n_updates = int(meta["env_steps"]), int(meta["n_updates"])
        for k, s in meta["rng"].items():
            agent.rngs[k].bit_generator.state = s
        return agent

    def close(self) -> None:
        """Close the training environments."""
        self.envs.close()
