"""``Agent(device=...)``: the train state on another array module, the environments on the host.

What crosses the boundary, and where (each in one place):

    train state     ``algo.init`` runs on NumPy (the same draws as a CPU agent) and the whole
                    state is copied to the device once (``to_device``, ``npg.backend.tree_to``);
                    ``Agent.load`` copies a checkpoint's NumPy arrays there once; ``save``
                    copies the state back (``npg.algos.state_to_flat``).
    acting          per environment step: the observation batch [N, D] goes to the device once,
                    the action, its log-probability and V(obs) ([N] each) come back once each
                    (``act_fn``): the gymnasium boundary, where the environments need NumPy.
    rollouts        collected on the host (``npg.envs.rollout.Collector``), copied to the device
                    once per update, at the top of ``algo.update`` (``Algorithm.rollout_on``,
                    ``Rollout.to``); returns, advantages and the minibatch loop run there (the
                    online trace methods copy one observation row per transition instead).
    randomness      every draw comes from the agent's NumPy Generators on the host and is
                    copied to the device once (Gumbel noise, Gaussian noise, minibatch
                    permutations), so one seed gives the same learning on every module, up to
                    the rounding of its kernels.

The compiled engines (``npg.engine``) are NumPy by design and are not used off the CPU: the
reference path runs. Only algorithms with ``any_namespace = True`` run on a device; the others
are refused by name (``resolve``).

When a GPU pays (reasoning, not measured: npg's test machines have no GPU). A step of the
reference path launches a few kernels per layer and per operation, each costing microseconds,
plus a host-device round trip per environment step. For CartPole-size networks (2 x 64 tanh
units, batches of 256) the arithmetic per kernel is tiny, so launches and transfers dominate and
the NumPy agent with its compiled engines is faster. A GPU pays when each kernel carries real
arithmetic: wide networks (thousands of hidden units), large batches (tens of thousands of
transitions per update, long PPO epochs) or high-dimensional observations (pixels), where the
matrix products dominate and the per-step transfers are amortised.
"""

from __future__ import annotations

import numpy as np

from ..algos import ALGORITHMS
from ..backend import create, resolve_device, tree_to

__all__ = ["resolve", "to_device", "act_fn", "device_algorithms"]


def device_algorithms() -> tuple[str, ...]:
    """The names of the algorithms that run on any array module (``any_namespace``)."""
    return tuple(sorted(n for n, a in ALGORITHMS.items() if getattr(a, "any_namespace", False)))


def resolve(device, algo_class) -> tuple:
    """``(xp, dev)`` for ``Agent(device=device)`` (``npg.backend.resolve_device``: None or
    "cpu" is NumPy); a ValueError naming the algorithm when ``algo_class`` runs on NumPy only
    and the device is not the CPU."""
    xp, dev = resolve_device(device, "device")
    if xp is not np and not getattr(algo_class, "any_namespace", False):
        raise ValueError(f"device={device!r}: algo {algo_class.name!r} updates on NumPy only; "
                         f"the algorithms that run on a device are {device_algorithms()} "
                         f"(or use device=None)")
    return xp, dev


def to_device(agent, state: dict) -> dict:
    """``state`` (NumPy, from ``init`` or a checkpoint) on the agent's module and device: one
    copy of every array; the NumPy state itself for a CPU agent (no copy)."""
    return state if agent.xp is np else tree_to(state, agent.xp, agent.device)


def act_fn(agent, value_fn):
    """The collector's act_fn off the CPU: obs [N, D] (NumPy) copied to the device once, then
    the agent's acting step (``Agent._act_fn``) and, with a value function, V(obs) on the same
    device copy, returned as the fourth item (the collector then calls ``value_fn`` only for
    the last and the final observations). The algorithm returns NumPy outputs."""
    xp, dev = agent.xp, agent.device

    def act(obs, mask=None):
        x = create(xp, "asarray", obs, device=dev)
        out = agent._act_fn(x, mask)
        if value_fn is None:
            return out
        return (*out[:3], agent.algo.value(agent.state, x))
    return act
