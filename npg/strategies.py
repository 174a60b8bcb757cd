"""Hypothesis strategies for property-testing gradient derivations the way npg tests its own.

Every strategy draws NumPy arrays (float64 for real values, int64 for indices); move them to
another backend with ``xp.asarray``. Sizes may be ints or strategies of ints. Example::

    from hypothesis import given
    from npg import strategies as nst
    from npg.testing import check_grad

    @given(nst.params({"w": (3,)}), nst.box_observations(4, 3))
    def test_my_gradient(params, obs):
        check_grad(lambda p: my_loss(p, obs), my_grad(params, obs), params)

| strategy | draws |
|---|---|
| ``params(shapes, bound)`` | dict name -> float64 array of that shape, entries in [-bound, bound] |
| ``box_observations(batch, obs_dim, bound)`` | float64 [B, obs_dim] in [-bound, bound] |
| ``discrete_observations(batch, n_states)`` | int64 [B] in [0, S) |
| ``discrete_actions(batch, n_actions)`` | int64 [B] in [0, A) |
| ``continuous_actions(batch, act_dim, bound)`` | float64 [B, K] in [-bound, bound] |
| ``logits(batch, n_actions, bound=1000)`` | float64 [B, A] in [-1000, 1000] |
| ``probability_vectors(n, batch=None)`` | float64 [n] or [B, n], entries >= 0, rows sum to 1 |
| ``sizes(min, max)`` | ints, for batch and dimension sizes |

This module imports hypothesis (a test extra), so ``import npg`` does not import it.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

__all__ = ["sizes", "floats", "params", "box_observations", "discrete_observations",
           "discrete_actions", "continuous_actions", "logits", "probability_vectors"]


def sizes(min_value: int = 1, max_value: int = 4) -> st.SearchStrategy[int]:
    """Ints in [min_value, max_value], for batch sizes and dimensions (small: FD is O(P))."""
    return st.integers(min_value, max_value)


def _as_strategy(x):
    return x if isinstance(x, st.SearchStrategy) else st.just(int(x))


def floats(bound: float = 10.0) -> st.SearchStrategy[float]:
    """Finite float64 scalars in [-bound, bound] (no NaN, no inf, no subnormals)."""
    if not bound > 0:
        raise ValueError(f"bound must be positive; got {bound}")
    return st.floats(-bound, bound, allow_nan=False, allow_infinity=False,
                     allow_subnormal=False, width=64)


def _float_array(shape, bound):
    """float64 arrays of ``shape`` (tuple, or strategy of tuples), entries in [-bound, bound]."""
    return hnp.arrays(np.float64, shape, elements=floats(bound))


def _int_array(shape, high):
    return hnp.arrays(np.int64, shape, elements=st.integers(0, high - 1))


@st.composite
def params(draw, shapes: Mapping[str, tuple], bound: float = 2.0):
    """A parameter dict ``{name: float64 array of shapes[name]}`` with entries in [-bound, bound].

    Keys keep the order of ``shapes`` (so ``npg.params.flatten`` order is predictable).
    """
    return {k: draw(_float_array(tuple(shape), bound)) for k, shape in shapes.items()}


@st.composite
def box_observations(draw, batch=sizes(), obs_dim=sizes(), bound: float = 5.0):
    """Box observations: float64 [B, obs_dim], entries in [-bound, bound]."""
    b, d = draw(_as_strategy(batch)), draw(_as_strategy(obs_dim))
    return draw(_float_array((b, d), bound))


@st.composite
def discrete_observations(draw, batch=sizes(), n_states=sizes(1, 6)):
    """Discrete observations (states): int64 [B], entries in [0, n_states)."""
    b, s = draw(_as_strategy(batch)), draw(_as_strategy(n_states))
    return draw(_int_array((b,), s))


@st.composite
def discrete_actions(draw, batch=sizes(), n_actions=sizes(1, 5)):
    """Discrete actions: int64 [B], entries in [0, n_actions)."""
    b, a = draw(_as_strategy(batch)), draw(_as_strategy(n_actions))
    return draw(_int_array((b,), a))


@st.composite
def continuous_actions(draw, batch=sizes(), act_dim=sizes(1, 3), bound: float = 5.0):
    """Continuous actions: float64 [B, K], entries in [-bound, bound]."""
    b, k = draw(_as_strategy(batch)), draw(_as_strategy(act_dim))
    return draw(_float_array((b, k), bound))


@st.composite
def logits(draw, batch=sizes(), n_actions=sizes(1, 5), bound: float = 1000.0):
    """Logits: float64 [B, A], entries in [-bound, bound] (default +-1000: extreme but legal).

    Entries are drawn from the whole interval or, a third of the time, exactly at -bound or
    +bound, so saturated rows like [1000, -1000, 3.5] appear often (stable log-softmax tests).
    """
    b, a = draw(_as_strategy(batch)), draw(_as_strategy(n_actions))
    ends = st.sampled_from([-float(bound), float(bound)])
    elements = st.one_of(floats(bound), floats(bound), ends)
    return draw(hnp.arrays(np.float64, (b, a), elements=elements))


@st.composite
def probability_vectors(draw, n=sizes(1, 5), batch=None, min_prob: float = 0.0):
    """Probability vectors: float64 [n] (or [B, n] when ``batch`` is given), each entry
    >= min_prob and each row summing to 1 within a few ulps.

    Drawn as nonnegative weights w in [0, 1] normalised w / sum(w), then mixed with the uniform
    distribution: p = (1 - n min_prob) w / sum(w) + min_prob. Needs n * min_prob <= 1.
    """
    size = draw(_as_strategy(n))
    if not 0.0 <= min_prob * size <= 1.0:
        raise ValueError(f"min_prob must lie in [0, 1/n]; got {min_prob} with n = {size}")
    shape = (size,) if batch is None else (draw(_as_strategy(batch)), size)
    w = draw(hnp.arrays(np.float64, shape, elements=st.floats(0.0, 1.0, allow_subnormal=False)))
    total = np.sum(w, axis=-1, keepdims=True)
    w = np.where(total > 0, w, 1.0)                 # an all-zero row becomes uniform
    p = w / np.sum(w, axis=-1, keepdims=True)
    return (1.0 - size * min_prob) * p + min_prob
