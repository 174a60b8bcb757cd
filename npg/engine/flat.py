"""Several networks' parameters as one flat vector theta [P], for a fast inner optimisation loop.

An update that takes many small gradient steps (PPO: 20 per rollout) pays a per-array cost for
every optimizer operation. Packing the networks ``{"policy": {...}, "critic": {...}}`` into one
vector turns the Adam step and the global gradient norm into a handful of vector operations,
while the networks still read their named arrays as views into theta::

    layout = FlatLayout.of(params)          # params: {"policy": {...}, "critic": {...}}
    theta = layout.pack(params)             # [P], in (network, key) insertion order
    views = layout.unpack(theta)            # same nesting, arrays are reshaped slices of theta
    g = layout.pack(grads)                  # grads with the nesting and keys of params

Packing is concatenation and unpacking reshapes slices, so theta and the nested dicts hold the
same numbers bit for bit, and an elementwise optimizer (Adam, SGD) applied to theta is the same
optimizer applied to every array.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np

from ..backend import get_xp

__all__ = ["FlatLayout", "pack_adam", "unpack_adam"]


@dataclass(frozen=True)
class FlatLayout:
    """entries: ((group, key, shape, start, stop), ...) in packing order."""

    entries: tuple

    @classmethod
    def of(cls, params: Mapping) -> "FlatLayout":
        """The layout of ``{group: {key: array}}``."""
        entries, start = [], 0
        for group, arrays in params.items():
            for key, a in arrays.items():
                n = 1
                for d in a.shape:
                    n *= int(d)
                entries.append((group, key, tuple(int(d) for d in a.shape), start, start + n))
                start += n
        return cls(tuple(entries))

    @property
    def size(self) -> int:
        """P, the length of theta."""
        return self.entries[-1][4] if self.entries else 0

    def pack(self, tree: Mapping, prefix: str = ""):
        """``{group: {key: array}}`` -> theta [P] (concatenated in layout order); with
        ``prefix``, the arrays ``tree[group][prefix + key]`` (``pack_adam``'s "m." and "v.")."""
        parts = [tree[g][prefix + k] for g, k, _, _, _ in self.entries]
        xp = get_xp(*parts)
        if xp is np:                            # the methods skip the array-API wrappers
            return np.concatenate([p.reshape(-1) for p in parts])
        return xp.concat([xp.reshape(p, (-1,)) for p in parts])

    def unpack(self, theta) -> dict:
        """theta [P] -> ``{group: {key: array}}`` of reshaped slices (views on NumPy)."""
        xp = get_xp(theta)
        out: dict = {}
        for g, k, shape, a, b in self.entries:
            out.setdefault(g, {})[k] = (theta[a:b].reshape(shape) if xp is np
                                        else xp.reshape(theta[a:b], shape))
        return out


def pack_adam(layout: FlatLayout, states: Mapping) -> dict:
    """Per-network Adam states ``{group: {"step", "m.<key>", "v.<key>"}}`` (``npg.optim.Adam``)
    -> one Adam state over theta ``{"step", "m.theta", "v.theta"}`` (the step counts of the
    networks are equal: one optimizer steps them together)."""
    return {"step": int(next(iter(states.values()))["step"]),
            "m.theta": layout.pack(states, "m."), "v.theta": layout.pack(states, "v.")}


def unpack_adam(layout: FlatLayout, flat_state: Mapping) -> dict:
    """The inverse of ``pack_adam`` (arrays are views into m.theta and v.theta)."""
    m, v = layout.unpack(flat_state["m.theta"]), layout.unpack(flat_state["v.theta"])
    return {g: {"step": int(flat_state["step"]), **{f"m.{k}": a for k, a in m[g].items()},
                **{f"v.{k}": a for k, a in v[g].items()}} for g in m}
