"""The online actor-critics' FrozenLake settings learn: the ``ac`` defaults and the ``ac_lambda``
preset, one seed each, scored by the *exact* success rate within the 100-step limit of the
learned greedy policy (``npg.mdp``; no evaluation noise). Target 0.5; the optimum is 0.744.
Measured over seeds 0-9 (``benchmarks/traces_learning.py``): 0.639-0.730 for ``ac`` at 50k
steps, 0.711-0.730 for ``ac_lambda`` at 60k."""

from __future__ import annotations

import numpy as np
import pytest

from npg.app.agent import Agent
from npg.app.presets import preset
from npg.mdp import finite_horizon_objective, frozen_lake


def _exact_greedy_success(agent) -> float:
    mdp = frozen_lake("4x4", is_slippery=True, gamma=0.99)
    pi = np.asarray(agent.algo.policy.probs(agent.state["policy"], np.eye(mdp.n_states)))
    return finite_horizon_objective(mdp, np.eye(pi.shape[1])[np.argmax(pi, axis=1)], 100)


@pytest.mark.slow
@pytest.mark.parametrize("algo,steps", [("ac", 50_000), ("ac_lambda", 60_000)])
def test_frozenlake_settings_learn(algo, steps):
    found = preset("FrozenLake-v1", algo) if algo == "ac_lambda" else None
    agent = Agent("FrozenLake-v1", algo, found["config"] if found else None, seed=0)
    assert agent.online_engine
    agent.learn(steps, progress=False)
    assert _exact_greedy_success(agent) >= 0.5
