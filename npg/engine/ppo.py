"""The engine's surface for PPO: the only engine names ``npg.algos.ppo`` calls.

    applies(config, spec, params) -> bool    can the compiled path run this train state?
    ready(algo, kind)             -> bool    is it ready now (compiled or in the cache)?
    update(...)                               the whole inner loop of one update (``ppo_loop``)
    act(...), value(...), act_value(...)     one compiled call per acting step
    rollout_plan(...)                         what a whole fused rollout needs (``rollout_cartpole``)
    fused(config, spec, params)   -> bool    does ``act_value`` do action and value in one call?

The compiled path covers NumPy train states of a separate MLP actor (categorical, diagonal
Gaussian, gSDE) and MLP critic with an activation the kernels know (tanh, relu, identity);
the shared trunk, masked rollouts and other backends take the reference path. Every function
here equals PPO's reference path to floating-point rounding (tests/engine/test_ppo_engine.py).
``ready`` is the single place where the engine asks whether its kernels can run without a
compile pause (``npg.engine.warmup``: on a cold cache with background compilation on, the
reference path runs while a child process compiles the kernels).
"""

from __future__ import annotations

import time

import numpy as np

from . import acting, ppo_loop, warmup
from . import kernels as K
from .acting_continuous import gaussian_act, sde_act
from .rollout_cartpole import Plan
from .flat import FlatLayout, pack_adam, unpack_adam
from .threads import chooser

__all__ = ["actor_kind", "applies", "ready", "update", "act", "value", "act_value", "fused",
           "rollout_plan", "PARALLEL_ROWS"]

PARALLEL_ROWS = 128


def actor_kind(config, spec) -> str | None:
    """"categorical", "gaussian", "gsde" (keys of ``records.ACTORS``), or None (the shared
    trunk, MultiDiscrete / MultiBinary product actions: the reference path)."""
    if config.shared or getattr(spec, "nvec", None) is not None:
        return None
    if spec.discrete:
        return "categorical"
    return "gsde" if config.use_sde else "gaussian"


def applies(config, spec, params) -> bool:
    """True when the compiled path can run for the policy params ``params`` (NumPy arrays,
    a separate actor and critic, a kernel activation)."""
    return (type(params.get("W1")) is np.ndarray and actor_kind(config, spec) is not None
            and config.activation in K.ACT_CODES)


def ready(algo, kind: str) -> bool:
    """Whether the compiled ``kind`` (``warmup.KINDS``) may run now for ``algo`` without a
    compile pause: ``npg.engine.warmup.ready`` (True unless background compilation is on and
    its child is still compiling; then the caller takes its reference path). Asked last, only
    where the engine applies."""
    return warmup.ready(algo, kind)


def update(config, spec, params, opt_states, batch, lr, clip, rng, adam, threads=None):
    """The epochs of one PPO update on the engine, with the contract of ``PPO._epochs``:
    ``(params, opt_states, stat sums, steps evaluated, steps taken)``.

    params ``{"policy": ..., "critic": ...}`` and opt_states (the per-network Adam states) are
    packed into flat vectors (``FlatLayout``; copies: the inputs are not modified), run through
    ``ppo_loop.inner_loop`` and unpacked again. threads: 1, or 2 to run the actor's and the
    critic's halves of each minibatch step on two threads (bitwise the same update); None
    (auto): 1 when a minibatch has fewer than ``PARALLEL_ROWS`` rows (the hand-off costs more
    than the half it saves), else the count that measures faster on this machine now
    (``threads.ThreadChooser``).
    """
    layout = FlatLayout.of(params)
    theta, opt = layout.pack(params), pack_adam(layout, opt_states)
    rows = min(int(config.batch_size), int(batch["adv"].shape[0]))
    choose = None
    if threads is None:
        threads = 1
        if rows >= PARALLEL_ROWS:
            choose = chooser((theta.dtype.str, int(config.batch_size), theta.size,
                              actor_kind(config, spec)))
            threads = choose.pick()
    t0 = time.perf_counter()
    theta, opt, sums, n_eval, n_taken = ppo_loop.inner_loop(
        actor_kind(config, spec), config, layout, theta, opt, batch, lr, clip, rng, adam, threads)
    if choose is not None:
        choose.record(threads, (time.perf_counter() - t0) / max(n_eval, 1))
    return layout.unpack(theta), unpack_adam(layout, opt), sums, n_eval, n_taken


def _obs(spec, obs, params):
    return acting.check_obs(obs, spec.obs_dim, params["W1"].dtype)


def act(config, spec, params, obs, rng, deterministic=False, noise=None):
    """``(env_action, action, logp)`` as ``PPO.act``: categorical by the Gumbel draws of
    ``categorical.sample``, Gaussian and gSDE by ``acting_continuous`` (noise E [M, H, K] with
    use_sde); env_action is the action clipped to the Box bounds."""
    obs = _obs(spec, obs, params)
    kind = actor_kind(config, spec)
    if kind == "categorical":
        a, logp = acting.act_categorical(params, obs, rng, deterministic, config.activation)
        return a, a, logp
    w = acting.weights(params)
    if kind == "gsde":
        a, logp = sde_act(w, params["log_std"], obs, rng, deterministic, noise,
                          config.activation)
    else:
        a, logp = gaussian_act(w, params["log_std"], obs, rng, deterministic, config.activation)
    return np.clip(a, spec.act_low, spec.act_high).astype(a.dtype, copy=False), a, logp


def value(config, spec, params, obs):
    """V(obs) [M] of the critic ``params``."""
    return acting.value(params, _obs(spec, obs, params), config.activation)


def fused(config, spec, params) -> bool:
    """True when ``act_value`` computes action and value in one call (categorical actors)."""
    return actor_kind(config, spec) == "categorical" and applies(config, spec, params)


def act_value(config, spec, actor, critic, obs, rng):
    """``(env_action, action, logp, V(obs))`` in one kernel call (categorical actors)."""
    obs = acting.check_obs_shape(obs, spec.obs_dim, actor["W1"].dtype)
    a, logp, v = acting.act_value_categorical(actor, critic, obs, rng, config.activation)
    return a, a, logp, v


def rollout_plan(config, spec, actor, critic, rng) -> Plan:
    """The policy's part of a fused rollout (``npg.engine.rollout_cartpole``; categorical
    actors, where ``fused``): the weight tuples, the activation code, the acting Generator."""
    dt = actor["W1"].dtype
    return Plan(acting.weights(actor), acting.weights(critic), K.act_code(config.activation, dt),
                rng, dt)
