"""Command-line plumbing shared by the examples: a parser with --steps/--seed/--quiet and a
line that reports an evaluation. Kept out of the example scripts so that they read as the
experiment itself."""

from __future__ import annotations

import argparse

import numpy as np


def parser(doc: str, steps: int, eval_episodes: int) -> argparse.ArgumentParser:
    """--steps (training budget in env steps), --seed, --eval-episodes, --quiet."""
    p = argparse.ArgumentParser(description=doc.strip().splitlines()[0])
    p.add_argument("--steps", type=int, default=steps, help=f"env steps (default {steps:,})")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--eval-episodes", type=int, default=eval_episodes)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def report(name: str, agent, returns: np.ndarray, what: str = "return") -> None:
    print(f"{name}: {agent.env_steps:,} env steps, {len(agent.episode_returns)} training "
          f"episodes; greedy {what} over {returns.size} evaluation episodes: "
          f"{returns.mean():.3f}")


def box2d_missing() -> bool:
    """True (with a message) when gymnasium's Box2D environments cannot be built."""
    try:
        import Box2D  # noqa: F401
    except ImportError:
        print("skipped: LunarLander needs Box2D; install npg's box2d extra: "
              "`pip install -e \".[box2d]\"`")
        return True
    return False
