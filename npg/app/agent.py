"""``Agent``: an algorithm, its vector environment and its train state, in gymnasium's idiom.

    from npg import Agent    # or: from npg.app.agent import Agent
    agent = Agent("CartPole-v1", algo="ppo", seed=0)          # tuned PPO defaults
    agent.learn(50_000)                                         # collect -> update, repeated
    returns = agent.evaluate(n_episodes=20)                     # separate env, seeded
    action = agent.predict(obs)                                 # one raw observation or a batch
    agent.save("runs/cartpole");  agent = Agent.load("runs/cartpole")

One ``learn`` iteration collects a rollout ``[T, N]`` with ``npg.envs.rollout.Collector`` (T =
``config.n_steps``, N = ``config.n_envs``) and passes it to ``algo.update(state, rollout,
progress, rng)`` with ``progress = (steps done in this call before the rollout) / total_steps``
in [0, 1), which drives the algorithms' linear annealing. Randomness: one ``seed`` gives the
environments' seeds (copy i gets ``seed + i``) and, through ``numpy.random.SeedSequence(seed)``,
independent Generators for initialisation, acting, updates and stochastic ``predict``; so the
same seed gives bitwise-identical learning, and a saved agent carries its generators' states.
Devices: ``device=`` puts the train state on CuPy or another array-API module (agent_device).
"""

from __future__ import annotations

import math
import os
import sys
from typing import Callable

import gymnasium as gym
import numpy as np
from gymnasium.vector import VectorEnv

from ..backend import namespace_of, to_numpy
from ..checks import check_positive_int
from ..algos import get_algorithm, make_config
from ..envs import ObsNormalizer, RewardScaler, make_vec_env, space_info
from ..envs.ids import check_env_id
from ..envs.make import has_vector_class
from ..envs.spaces import MASK_OBS_KEY, action_decoder, batch_encoder, single_spaces
from .evaluation import check_seed
from .interrupt import TrainingInterrupted, deferred_interrupt
from .logger import CSVLogger
from .progress import ProgressBar
from ..envs.rollout import Collector
from .run_dir import RunLock
from .sde_noise import SDENoise
from ..engine import blas as _blas
from ..engine.online import applies as online_applies
from . import agent_checkpoint, agent_device, agent_loop, agent_online, agent_run, evaluation

__all__ = ["Agent", "VECTORIZATIONS"]

VECTORIZATIONS = ("auto", "sync", "async", "vector_entry_point")
_STREAMS = ("init", "act", "update", "predict")


def _resolve_mode(env, vectorization: str, env_kwargs=None) -> str:
    """"auto": the environment's own vectorised class where it has one (gymnasium's registered
    ``vector_entry_point``, or npg's for Pendulum-v1 and CartPole: ``npg.envs.make.
    OWN_VECTOR_ENVS``), else "sync"."""
    if vectorization not in VECTORIZATIONS:
        raise ValueError(f"vectorization must be one of {VECTORIZATIONS}; got {vectorization!r}")
    if vectorization != "auto":
        return vectorization
    if isinstance(env, str) and has_vector_class(env, env_kwargs):
        return "vector_entry_point"
    return "sync"


class Agent:
    """A learning agent on a gymnasium environment.

    env             a registered id ("CartPole-v1"; "module:Env-v0" imports module first), a
                    callable returning a fresh ``gym.Env``, a ``gymnasium.vector.VectorEnv``
                    with ``config.n_envs`` copies (its ``num_envs`` fills ``n_envs`` when the
                    config leaves it unset), or one ``gym.Env`` instance (one copy: n_envs = 1;
                    evaluation, saving and loading use its registered id and the kwargs it was
                    made with, as Stable-Baselines3 wraps an instance in a one-copy vector env).
    algo            a name in ``npg.algos.ALGORITHMS`` ("ppo", "reinforce", "ac", "a2c", "qac").
    config          None (the algorithm's defaults), a dict of field overrides, or the
                    algorithm's config dataclass (validated there; unknown keys raise).
    seed            non-negative int; everything random derives from it.
    vectorization   "auto" (default: the environment's own vector class where registered, as
                    CartPole's, or npg's own for Pendulum-v1; else "sync"), "sync", "async"
                    or "vector_entry_point".
    normalize_obs   running observation normalisation (``ObsNormalizer``), saved with the agent.
    scale_reward    reward scaling by the running std of the discounted return
                    (``RewardScaler`` with the config's gamma), saved with the agent.
    env_kwargs      keyword arguments for the environment's constructor (e.g.
                    ``{"is_slippery": False}``), also used by ``evaluate``.
    device          None or "cpu" (NumPy, compiled engines where they apply), "cuda" /
                    "cuda:N" (CuPy on GPU N) or an array-API device object (e.g.
                    ``array_api_strict.Device("device1")``): the reference path runs there
                    (``npg.app.agent_device``: the boundary, and when a GPU pays).

    Attributes: ``algo`` (the Algorithm), ``config``, ``state`` (the train state), ``envs``,
    ``collector``, ``env_steps`` (environment steps learned from so far, all copies),
    ``n_updates``, ``episode_returns`` / ``episode_lengths`` (lists over finished training
    episodes, raw rewards).
    """

    def __init__(self, env="CartPole-v1", algo: str = "ppo", config=None, seed: int = 0,
                 vectorization: str = "auto", normalize_obs: bool = False,
                 scale_reward: bool = False, env_kwargs: dict | None = None, device=None):
        self.seed = check_seed(seed)
        self.algo_name = algo
        algo_class = get_algorithm(algo)
        self.xp, self.device = agent_device.resolve(device, algo_class)
        for name, flag in (("normalize_obs", normalize_obs), ("scale_reward", scale_reward)):
            if not isinstance(flag, (bool, np.bool_)):
                raise TypeError(f"{name} must be a bool; got {type(flag).__name__}")
        if env_kwargs is not None and not isinstance(env_kwargs, dict):
            raise TypeError(f"env_kwargs must be a dict or None; got {type(env_kwargs).__name__}")
        self.env_kwargs = dict(env_kwargs or {})
        self.normalize_obs, self.scale_reward = bool(normalize_obs), bool(scale_reward)
        if isinstance(env, (VectorEnv, gym.Env)):
            n = int(env.num_envs) if isinstance(env, VectorEnv) else 1
            if isinstance(config, dict) and "n_envs" not in config:
                config = {**config, "n_envs": n}
            elif config is None:
                config = {"n_envs": n}
        self.config = make_config(algo_class.config_class, config)
        self._open_envs(env, vectorization, env_kwargs)
        self.spec = space_info(self.envs)
        self.algo = algo_class(self.config, self.spec)
        self.rngs = {k: np.random.default_rng(s) for k, s in
                     zip(_STREAMS, np.random.SeedSequence(self.seed).spawn(len(_STREAMS)))}
        self.state = agent_device.to_device(self, self.algo.init(self.rngs["init"]))
        self.sde_noise = (SDENoise(self.config.n_envs, self.config.n_steps,
                                   self.config.sde_sample_freq)
                          if getattr(self.config, "use_sde", False) else None)
        gamma = self.config.gamma
        self.collector = Collector(
            self.envs, ObsNormalizer() if self.normalize_obs else None,
            RewardScaler(gamma=gamma) if self.scale_reward else None, dtype=self.algo.dtype)
        obs_space, act_space = single_spaces(self.envs)
        self._encode_raw, self._decode = batch_encoder(obs_space), action_decoder(act_space)
        self.env_steps, self.n_updates = 0, 0
        self.schedule_steps: int | None = None
        self.episode_returns: list[float] = []
        self.episode_lengths: list[int] = []
        self._lock: RunLock | None = None          # held while learn() writes into a log_dir
        self._logger: CSVLogger | None = None
        self._tb = None                            # npg.app.tensorboard.TensorBoardWriter
        self._checkpoint_every: int | None = None
        self.run_settings: dict = {}
        self.origin: dict | None = None            # where the config came from (run.json)
        self._logs_at_save: tuple[str, dict] | None = None   # (dir, sizes) of a loaded run
        self._wall_time = 0.0                      # training wall time logged so far

    def _open_envs(self, env, vectorization: str, env_kwargs) -> None:
        """``self.envs`` (a VectorEnv with config.n_envs copies), ``vectorization``, ``env_id``
        and ``_env_fn`` from an id, a callable, an Env instance or a VectorEnv."""
        if isinstance(env, VectorEnv):
            if env.num_envs != self.config.n_envs:
                raise ValueError(f"env must have config.n_envs = {self.config.n_envs} copies; "
                                 f"got a VectorEnv with {env.num_envs}")
            self.vectorization, self.envs = "given", env
            self.env_id = env.spec.id if getattr(env, "spec", None) is not None else None
        elif isinstance(env, gym.Env):
            self._wrap_instance(env, env_kwargs)
        elif isinstance(env, str) or callable(env):
            if isinstance(env, str):
                check_env_id(env, allow_import=True)
            self.vectorization = _resolve_mode(env, vectorization, self.env_kwargs)
            self.envs = make_vec_env(env, self.config.n_envs, mode=self.vectorization,
                                     seed=self.seed, **self.env_kwargs)
            self.env_id = env if isinstance(env, str) else None
        else:
            raise TypeError(f"env must be an environment id (str), a callable returning a "
                            f"gymnasium Env, or a gymnasium VectorEnv; got {type(env).__name__}")
        self._env_fn = env if callable(env) and not isinstance(env, (str, VectorEnv, gym.Env)) \
            else None

    def _wrap_instance(self, env: gym.Env, env_kwargs) -> None:
        """One environment instance as a one-copy vector env."""
        if self.config.n_envs != 1:
            raise ValueError(f"env: an environment instance gives one copy, so n_envs must be 1; "
                             f"got n_envs = {self.config.n_envs} (pass an id or a callable for "
                             f"more copies)")
        self.vectorization = "given"
        self.envs = make_vec_env(lambda **_: env, 1, mode="sync", seed=self.seed)
        spec = env.spec
        self.env_id = spec.id if spec is not None and spec.id in gym.registry else None
        if spec is not None and not env_kwargs:
            self.env_kwargs = {k: v for k, v in spec.kwargs.items() if k != "render_mode"}

    def __repr__(self):
        env = self.env_id or type(self.envs).__name__
        dev = "" if self.device is None else f", device={self.device!r}"
        return (f"Agent(env={env!r}, algo={self.algo_name!r}, seed={self.seed}{dev}, "
                f"{self.config!r})")

    # ---------------------------------------------------------------- acting
    def _act_fn(self, o, mask=None):
        """The acting step of ``learn``; with gSDE, E from ``self.sde_noise`` (redrawn on its
        schedule from the act stream, before the action's own use of it). ``mask`` [N, A]:
        the environment's legal actions (masked Discrete tasks)."""
        rng = self.rngs["act"]
        if mask is not None:
            return self.algo.act(self.state, o, rng, mask=mask)
        if self.sde_noise is None:
            return self.algo.act(self.state, o, rng)
        noise = self.sde_noise.matrices(self.state["policy"]["log_std"], rng)
        return self.algo.act(self.state, o, rng, noise=noise)

    def _rollout_act_fn(self, value_fn) -> Callable:
        """The collector's act_fn: ``algo.act_value`` (action and value in one call, and a
        ``rollout_plan``: a whole rollout in one) where ``algo.fused_acting``, else ``_act_fn``."""
        if self.xp is not np:                  # one host -> device copy of the obs per step
            return agent_device.act_fn(self, value_fn)
        fused = getattr(self.algo, "fused_acting", None)
        if value_fn is None or fused is None or not fused(self.state):
            return self._act_fn
        fn = lambda o, mask=None: self.algo.act_value(self.state, o, self.rngs["act"], mask)  # noqa
        fn.rollout_plan = lambda: self.algo.rollout_plan(self.state, self.rngs["act"])
        return fn

    def _value_fn(self) -> Callable | None:
        probe = np.zeros((1, self.spec.obs_dim), self.algo.dtype)
        if self.algo.value(self.state, probe) is None:
            return None
        return lambda o: self.algo.value(self.state, o)

    def policy_obs(self, obs) -> tuple[np.ndarray, bool]:
        """Raw observations (one, or a batch ``[M, ...]``; for Dict and Tuple spaces a batch is
        the vector env's dict or tuple of ``[M, ...]`` arrays) -> the policy's input ``[M, D]``
        (encoded as ``npg.envs.spaces`` says, normalised with the frozen running statistics),
        and whether a single observation was given. A CuPy (or other non-NumPy) array is
        copied to NumPy once here: the encoders and normalisers are host code."""
        if namespace_of(obs) not in (None, np):
            obs = to_numpy(obs)
        enc, single = self._encode_raw(obs)
        norm = self.collector.obs_normalizer
        if norm is not None and norm.moments is not None:
            enc = norm.normalize(enc)
        return enc.astype(self.algo.dtype, copy=False), single

    def predict(self, obs, deterministic: bool = True, rng=None, action_mask=None):
        """The environment action(s) for raw observation(s) ``obs``.

        A single observation gives a single action; a batch ``[M, ...]`` gives ``[M]`` (Discrete)
        or ``[M, K...]`` (Box, clipped to the bounds). ``deterministic`` takes the mode (argmax /
        mean); otherwise actions are sampled with ``rng`` (a Generator; default the agent's own
        predict stream, saved with it). ``action_mask`` (Discrete actions): bool ``[A]`` for
        one observation or ``[M, A]`` for a batch, True on the legal actions; only those are
        chosen (e.g. ``info["action_mask"]`` of the environment's last step; for a Dict
        observation with an "action_mask" entry that entry, unless ``action_mask`` is given).
        """
        x, single = self.policy_obs(obs)
        kw = {}
        if action_mask is None and isinstance(obs, dict) and MASK_OBS_KEY in obs:
            action_mask = np.asarray(obs[MASK_OBS_KEY]).astype(bool)   # a Dict obs's own mask
        if action_mask is not None:
            m = np.asarray(action_mask)
            kw["mask"] = m[None] if single and m.ndim == 1 else m
        env_a, _, _ = self.algo.act(self.state, x, self.rngs["predict"] if rng is None else rng,
                                    deterministic=bool(deterministic), **kw)
        a = self._decode(env_a)
        return a[0] if single else a

    # ---------------------------------------------------------------- learning
    def learn(self, total_steps: int, progress: bool = True, log_dir=None,
              checkpoint_every: int | None = None, callback=None,
              blas_threads: int | None = 1, schedule_steps: int | None = None,
              tensorboard: bool = False) -> "Agent":
        """Train for ``total_steps`` more environment steps (rounded up to whole rollouts of
        ``n_envs * n_steps``); returns self. Calling again continues training.

        progress          draw a progress bar on stderr.
        log_dir           the run directory: ``episodes.csv`` and ``updates.csv`` (appended to
                          when the agent has learned before; cut back to the checkpoint's rows
                          when it was loaded from this directory), checkpoints, and a lock
                          that keeps a second process out (``npg.app.run_dir``).
        checkpoint_every  save a checkpoint into ``log_dir`` whenever ``env_steps`` passes a
                          multiple of this; None: none during training.
        callback          ``callback(agent, info) -> bool | None`` after every update, ``info``
                          with env_steps, update stats and the finished episodes' returns;
                          returning False stops training.
        blas_threads      OpenBLAS threads while learning (``npg.engine.blas``; default 1, much
                          faster for small networks); None leaves the thread pool alone.
        schedule_steps    the length in env steps of the annealing schedules (learning rate,
                          clip range), shared by every ``learn`` call: the update after
                          ``env_steps`` steps gets progress ``env_steps / schedule_steps``.
                          Default: kept from earlier calls (and from a checkpoint), extended to
                          ``env_steps + total_steps`` when this call goes past it (as
                          Stable-Baselines3's ``reset_num_timesteps=False``); so
                          ``learn(k, schedule_steps=2 * k); learn(k)`` equals ``learn(2 * k)``
                          bit for bit when k is a multiple of the rollout size.
        tensorboard       also write TensorBoard events into ``log_dir/tb`` with
                          Stable-Baselines3's metric names (``npg.app.tensorboard``; needs the
                          ``tensorboard`` extra).

        Ctrl-C finishes the current update, saves a checkpoint into ``log_dir`` (if given) and
        raises ``npg.app.interrupt.TrainingInterrupted`` (a KeyboardInterrupt); a second Ctrl-C
        stops at once.
        """
        total = check_positive_int("total_steps", total_steps)
        if checkpoint_every is not None:
            checkpoint_every = check_positive_int("checkpoint_every", checkpoint_every)
            if log_dir is None:
                raise ValueError("checkpoint_every needs a log_dir to save checkpoints in")
        if callback is not None and not callable(callback):
            raise TypeError(f"callback must be callable or None; got {type(callback).__name__}")
        if blas_threads is not None:
            blas_threads = check_positive_int("blas_threads", blas_threads)
        if tensorboard and log_dir is None:
            raise ValueError("tensorboard=True needs a log_dir to write the events in")
        target = self.env_steps + total
        if schedule_steps is not None:
            self.schedule_steps = check_positive_int("schedule_steps", schedule_steps)
        elif self.schedule_steps is None or target > self.schedule_steps:
            self.schedule_steps = target
        per = self.config.n_envs * self.config.n_steps
        bar = ProgressBar(math.ceil(total / per) * per, sys.stderr if progress else None)
        self._checkpoint_every = checkpoint_every
        completed = False
        try:
            if log_dir is not None:
                self._open_run(log_dir, tensorboard)
            with _blas.blas_threads(blas_threads), deferred_interrupt() as stop:
                self._loop(target, per, bar, log_dir, checkpoint_every, callback, stop)
            if stop.requested:
                saved = self._save(log_dir) if log_dir is not None else None
                where = f"; checkpoint saved to {saved} (resume with `npg resume {log_dir}`)" \
                    if saved else ""
                raise TrainingInterrupted(f"training interrupted at {self.env_steps:,} env "
                                          f"steps{where}", self.env_steps, saved)
            completed = True
        finally:
            bar.close()
            self._close_run(interrupted=not completed)
        return self

    def _open_run(self, log_dir, tensorboard: bool) -> None:
        agent_run.open_run(self, log_dir, tensorboard)

    def _close_run(self, interrupted: bool) -> None:
        agent_run.close_run(self, interrupted)

    def _save(self, path, keep: int = 2) -> str:
        return agent_run.save(self, path, keep)

    online_engine = True     # ac / qac, 1 env, 1 update per step: the compiled twin of _loop

    def _loop(self, target, per, bar, log_dir, checkpoint_every, callback, stop):
        """The body of ``learn``: collect -> update -> log until ``env_steps >= target``
        (``npg.app.agent_online`` where ``npg.engine.online.applies``; same results)."""
        if self.online_engine and self.xp is np and \
                online_applies(self.algo, self.collector) is None:
            return agent_online.online_loop(self, target, bar, log_dir, checkpoint_every,
                                            callback, stop)
        return agent_loop.reference_loop(self, target, per, bar, log_dir, checkpoint_every,
                                         callback, stop)

    def mean_return(self, window: int = 20) -> float:
        """Mean raw return of the last ``window`` finished training episodes (NaN if none)."""
        window = check_positive_int("window", window)
        last = self.episode_returns[-window:]
        return float(np.mean(last)) if last else math.nan

    # ---------------------------------------------------------------- evaluation
    def evaluate(self, n_episodes: int = 10, deterministic: bool = True, seed: int | None = None,
                 env=None, n_envs: int = 16, max_steps: int | None = None) -> np.ndarray:
        """Returns ``[n_episodes]`` of episodes on a separate evaluation environment
        (``npg.app.evaluation.evaluate``, which states the seeding, the step cap and the checks)."""
        return evaluation.evaluate(self, n_episodes, deterministic, seed, env, n_envs, max_steps)

    # ---------------------------------------------------------------- checkpoints
    def save(self, path, keep: int = 2) -> str:
        """Save a checkpoint into run directory ``path`` (created; ``npg.app.checkpoint``): a new
        ``ckpt-NNNNNNNN`` directory written atomically, the ``keep`` newest kept. It holds
        the algorithm, config, env id and kwargs, seed, flags, counters, schedule, generator
        states, the train state, the normalisers, the finished episodes' history and, for
        environments whose state is plain data (``npg.envs.snapshot``), the environments and
        running episodes, so that ``Agent.load(path).learn(k)`` continues the run bit for bit.
        Returns the checkpoint's directory."""
        if self._lock is not None and os.path.realpath(self._lock.path) == \
                os.path.realpath(os.fspath(path)):
            return self._save(path, keep)
        with RunLock(path):
            return self._save(path, keep)

    @classmethod
    def load(cls, path, env=None, allow_import: bool = False, device=None) -> "Agent":
        """The agent of the newest checkpoint in run directory ``path`` (or of the checkpoint
        directory ``path``), verified (``npg.app.checkpoint``) and checked against the config and
        spaces before anything runs (``npg.app.agent_checkpoint``).

        env           an id, callable or VectorEnv replacing the saved environment id (the
                      saved environment state is then not restored, with a warning).
        allow_import  accept a saved id of the form ``"module:Env-v0"``, which imports
                      ``module``: only for checkpoints you trust. By default only ids in
                      gymnasium's registry are accepted from a file.
        device        where the loaded train state lives (as ``Agent(device=...)``; the
                      checkpoint holds NumPy arrays, moved there once).
        """
        return agent_checkpoint.load_agent(cls, path, env, allow_import, device)

    def close(self) -> None:
        """Close the training environments."""
        self.envs.close()
