"""The ``npg`` command line: train, evaluate and plot.

    npg train                                   # PPO on CartPole-v1, 50k steps, tuned settings
    npg train ENV_ID --algo ppo --steps N --seed S --set key=value ... --out DIR
    npg eval DIR --episodes K [--stochastic] [--seed S]
    npg plot DIR [--out PNG]

``train`` draws a progress bar, writes ``episodes.csv``/``updates.csv`` and the saved agent
(``agent.json`` + ``agent.npz``) into DIR (default ``runs/<env>-<algo>-seed<seed>``), evaluates
the final policy and prints a summary. ``--set`` overrides config fields; values are read as
Python literals where they parse (``lr=3e-4``, ``hidden=32,32``, ``target_kl=None``,
``norm_adv=false``) and as strings otherwise (``dtype=float32``).
Run as ``npg ...`` once installed, or ``python -m npg.cli ...``.
"""

from __future__ import annotations

import argparse
import ast
import os
import sys
import time

import numpy as np

__all__ = ["main", "parse_set"]

DEFAULT_ENV, DEFAULT_ALGO, DEFAULT_STEPS = "CartPole-v1", "ppo", 50_000
_LITERALS = {"true": True, "false": False, "none": None, "null": None}


def parse_set(items) -> dict:
    """``["lr=3e-4", "hidden=32,32"]`` -> ``{"lr": 0.0003, "hidden": (32, 32)}``; ValueError
    for an item without "=" or with an empty key."""
    out = {}
    for item in items or ():
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ValueError(f"--set expects key=value; got {item!r}")
        text = text.strip()
        if text.lower() in _LITERALS:
            out[key] = _LITERALS[text.lower()]
            continue
        try:
            out[key] = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            out[key] = text
    return out


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="npg", description="NumPy policy gradients on gymnasium.")
    sub = p.add_subparsers(dest="command")
    t = sub.add_parser("train", help="train an agent (default: PPO on CartPole-v1)")
    t.add_argument("env", nargs="?", default=DEFAULT_ENV, help="gymnasium environment id")
    t.add_argument("--algo", default=DEFAULT_ALGO, help="ppo, reinforce, ac, a2c, qac")
    t.add_argument("--steps", type=int, default=DEFAULT_STEPS, help="environment steps")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config field (repeatable)")
    t.add_argument("--env-kwarg", action="append", default=[], metavar="KEY=VALUE",
                   help="environment constructor argument (repeatable)")
    t.add_argument("--out", default=None, help="run directory (logs and saved agent)")
    t.add_argument("--vectorization", default="auto",
                   choices=("auto", "sync", "async", "vector_entry_point"))
    t.add_argument("--normalize-obs", action="store_true")
    t.add_argument("--scale-reward", action="store_true")
    t.add_argument("--checkpoint-every", type=int, default=None, metavar="STEPS")
    t.add_argument("--eval-episodes", type=int, default=10, help="0 skips the final evaluation")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    e = sub.add_parser("eval", help="evaluate a saved agent")
    e.add_argument("dir", help="run directory written by `npg train` (or Agent.save)")
    e.add_argument("--episodes", type=int, default=10)
    e.add_argument("--seed", type=int, default=None)
    e.add_argument("--stochastic", action="store_true", help="sample actions instead of the mode")
    pl = sub.add_parser("plot", help="plot a run's learning curve to PNG")
    pl.add_argument("dir")
    pl.add_argument("--out", default=None, help="PNG path (default DIR/learning_curve.png)")
    pl.add_argument("--window", type=int, default=20)
    return p


def _summary(returns: np.ndarray) -> str:
    return (f"mean {returns.mean():.2f} +- {returns.std():.2f}  (min {returns.min():.2f}, "
            f"max {returns.max():.2f}, {returns.size} episodes)")


def _train(a, out) -> int:
    from .agent import Agent
    config = parse_set(a.set)
    env_kwargs = parse_set(a.env_kwarg)
    run_dir = a.out or os.path.join("runs", f"{a.env}-{a.algo}-seed{a.seed}")
    agent = Agent(a.env, a.algo, config, a.seed, a.vectorization, a.normalize_obs,
                  a.scale_reward, env_kwargs or None)
    print(f"training {a.algo} on {a.env} for {a.steps:,} steps (seed {a.seed}) -> {run_dir}",
          file=out)
    t0 = time.perf_counter()
    agent.learn(a.steps, progress=not a.quiet, log_dir=run_dir,
                checkpoint_every=a.checkpoint_every)
    wall = time.perf_counter() - t0
    agent.save(run_dir)
    print(f"done: {agent.env_steps:,} env steps, {agent.n_updates} updates in {wall:.1f} s "
          f"({agent.env_steps / wall:,.0f} steps/s)", file=out)
    print(f"training episodes: {len(agent.episode_returns)}, mean return of the last 20: "
          f"{agent.mean_return(20):.2f}", file=out)
    if a.eval_episodes > 0:
        print(f"evaluation (deterministic): {_summary(agent.evaluate(a.eval_episodes))}",
              file=out)
    print(f"saved to {run_dir}  (npg eval {run_dir}; npg plot {run_dir})", file=out)
    agent.close()
    return 0


def _eval(a, out) -> int:
    from .agent import Agent
    agent = Agent.load(a.dir)
    ret = agent.evaluate(a.episodes, deterministic=not a.stochastic, seed=a.seed)
    kind = "stochastic" if a.stochastic else "deterministic"
    print(f"{agent.algo_name} on {agent.env_id}, {kind}: {_summary(ret)}", file=out)
    agent.close()
    return 0


def _plot(a, out) -> int:
    from .plotting import plot_learning_curve
    try:
        path = plot_learning_curve(a.dir, a.out, window=a.window)
    except ImportError as err:
        print(f"npg plot: {err}", file=sys.stderr)
        return 1
    print(f"wrote {path}", file=out)
    return 0


def main(argv=None, out=None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); returns the exit code.
    ``npg`` with no command runs ``npg train``. Bad arguments exit with code 2 and a message
    on stderr; ``out`` is where normal output goes (default stdout)."""
    out = sys.stdout if out is None else out
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in ("train", "eval", "plot", "-h", "--help"):
        argv = ["train"] + argv
    parser = _parser()
    a = parser.parse_args(argv)
    try:
        if a.command == "train":
            return _train(a, out)
        if a.command == "eval":
            return _eval(a, out)
        return _plot(a, out)
    except (ValueError, TypeError) as err:
        parser.exit(2, f"npg {a.command}: error: {err}\n")


if __name__ == "__main__":
    sys.exit(main())
