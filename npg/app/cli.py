"""The ``npg`` command line: train, resume, evaluate and plot.

    npg train                                   # PPO on CartPole-v1, 50k steps, tuned settings
    npg train ENV_ID --algo ppo --steps N --seed S --set key=value ... --out DIR [--force]
    npg resume DIR [--steps N]                  # continue a run exactly where it stopped
    npg eval DIR --episodes K [--stochastic] [--seed S]
    npg plot DIR [DIR ...] [--out PNG] [--title T]
    npg sweep DIR --grid lr=1e-3,3e-4 --seeds 10    # many runs (npg.app.sweep; docs/sweeps.md)
    npg compare DIR                             # IQM, bootstrap intervals, profiles
    npg config ALGO | npg info DIR | npg check-env ID

``train`` draws a progress bar, writes ``episodes.csv``/``updates.csv`` and checkpoints
(``ckpt-NNNNNNNN/``, see ``npg.app.checkpoint``) into DIR, evaluates the final policy and prints a
summary. DIR defaults to ``runs/<env>-<algo>-seed<seed>`` (with ``-2``, ``-3``, ... appended
when that holds a run already); an explicit ``--out`` that holds a run is refused unless
``--force`` (which replaces it) — or continue it with ``resume``. ``--set`` overrides config
fields; values are read as Python literals where they parse (``lr=3e-4``, ``hidden=32,32``,
``target_kl=None``, ``norm_adv=false``) and as strings otherwise (``dtype=float32``).

Ctrl-C finishes the current update, saves a checkpoint and exits (code 130) with a line saying
how to resume. Every error is one line on stderr (exit code 2); ``--debug`` shows the traceback.
``train`` and ``resume`` on a cold Numba cache start on the reference path while the engine's
kernels compile in a background process (``npg.engine.warmup``; ``NPG_BACKGROUND_COMPILE=0``
compiles in-process instead, so that a seeded first run is bitwise a warm-cache run).
Run as ``npg ...`` once installed, or ``python -m npg.app.cli ...``.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import os
import sys
import time

from ..engine import warmup

__all__ = ["main", "parse_set", "COMMANDS"]

DEFAULT_ENV, DEFAULT_ALGO, DEFAULT_STEPS = "CartPole-v1", "ppo", 50_000
COMMANDS = ("train", "resume", "eval", "plot", "config", "info", "check-env", "sweep",
            "compare")
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


_DEVICE_HELP = ("cpu (default: NumPy and the compiled engines) or cuda / cuda:N (CuPy on a GPU: "
                "the reference path; docs/devices.md says when that pays)")


def _parser() -> argparse.ArgumentParser:
    from ..version import VERSION as __version__
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    common.add_argument("--import", dest="imports", action="append", default=[],
                        metavar="MODULE", help="import MODULE first (it may register "
                        "environments; repeatable)")
    p = argparse.ArgumentParser(prog="npg", description="NumPy policy gradients on gymnasium.")
    p.add_argument("--version", action="version", version=f"npg {__version__}")
    sub = p.add_subparsers(dest="command")
    _train_parser(sub, common)
    _run_parsers(sub, common)
    from .sweep import cli as sweep_cli
    sweep_cli.add_parser(sub, parents=[common])
    return p


def _train_parser(sub, common) -> None:
    """``npg train``'s arguments."""
    t = sub.add_parser("train", parents=[common],
                       help="train an agent (default: PPO on CartPole-v1)")
    t.add_argument("env", nargs="?", default=DEFAULT_ENV, help="gymnasium environment id")
    t.add_argument("--algo", default=DEFAULT_ALGO,
                   help="an updater of npg.algos.ALGORITHMS: ppo, reinforce, a2c, ac, qac, "
                        "ac_lambda, ac_avg, vtrace (`npg config ALGO` lists its fields)")
    t.add_argument("--steps", type=int, default=None,
                   help=f"environment steps (default: the preset's, else {DEFAULT_STEPS:,})")
    t.add_argument("--config", default=None, metavar="FILE",
                   help="TOML file of config fields (over the preset, under --set)")
    t.add_argument("--no-preset", action="store_true",
                   help="start from the algorithm's defaults instead of the task's preset")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config field (repeatable)")
    t.add_argument("--env-kwarg", action="append", default=[], metavar="KEY=VALUE",
                   help="environment constructor argument (repeatable)")
    t.add_argument("--out", default=None, help="run directory (logs and checkpoints)")
    t.add_argument("--force", action="store_true", help="replace a run already in --out")
    t.add_argument("--vectorization", default="auto",
                   choices=("auto", "sync", "async", "vector_entry_point"))
    t.add_argument("--normalize-obs", action="store_true")
    t.add_argument("--scale-reward", action="store_true")
    t.add_argument("--checkpoint-every", type=int, default=None, metavar="STEPS")
    t.add_argument("--eval-episodes", type=int, default=10, help="0 skips the final evaluation")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.add_argument("--device", default=None, help=_DEVICE_HELP)
    t.add_argument("--tensorboard", action="store_true",
                   help="also write TensorBoard events into DIR/tb (needs tensorboardX)")


def _run_parsers(sub, common) -> None:
    """The commands on a run directory or a name: resume, eval, plot, config, info, check-env."""
    r = sub.add_parser("resume", parents=[common], help="continue a run from its checkpoint")
    r.add_argument("dir", help="run directory written by `npg train`")
    r.add_argument("--steps", type=int, default=None,
                   help="steps to train on (default: what is left of the run's schedule)")
    r.add_argument("--eval-episodes", type=int, default=10)
    r.add_argument("--quiet", action="store_true")
    r.add_argument("--device", default=None, help=_DEVICE_HELP)
    r.add_argument("--allow-import", action="store_true",
                   help="trust a saved 'module:Env' id (imports the module)")
    e = sub.add_parser("eval", parents=[common], help="evaluate a saved agent")
    e.add_argument("dir", help="run directory written by `npg train` (or Agent.save)")
    e.add_argument("--episodes", type=int, default=10)
    e.add_argument("--seed", type=int, default=None)
    e.add_argument("--stochastic", action="store_true", help="sample actions instead of the mode")
    e.add_argument("--allow-import", action="store_true",
                   help="trust a saved 'module:Env' id (imports the module)")
    pl = sub.add_parser("plot", parents=[common],
                        help="plot the learning curves of 1 to 10 runs to one PNG")
    pl.add_argument("dir", nargs="+", help="run directories (1 to 10)")
    pl.add_argument("--out", default=None, help="PNG path (default DIR/learning_curve.png for "
                    "one run, learning_curves.png here for several)")
    pl.add_argument("--window", type=int, default=20)
    pl.add_argument("--title", default=None, help="figure title (default: env / algo)")
    c = sub.add_parser("config", parents=[common], help="list an algorithm's config fields")
    c.add_argument("algo", help="ppo, reinforce, a2c, ac, qac, ac_lambda, ac_avg, vtrace")
    i = sub.add_parser("info", parents=[common], help="summarise a run directory")
    i.add_argument("dir")
    ce = sub.add_parser("check-env", parents=[common],
                        help="run gymnasium's env checker; say whether npg supports the spaces")
    ce.add_argument("env")


def _summary(returns) -> str:
    return (f"mean {returns.mean():.2f} +- {returns.std():.2f}  (min {returns.min():.2f}, "
            f"max {returns.max():.2f}, {returns.size} episodes)")


def _default_run_dir(a) -> str:
    """``runs/<env>-<algo>-seed<seed>``, or the first ``-2``, ``-3``, ... free of a run."""
    from .run_dir import is_run
    base = os.path.join("runs", f"{a.env.replace(':', '_').replace('/', '_')}-{a.algo}"
                                f"-seed{a.seed}")
    path, k = base, 1
    while is_run(path):
        k += 1
        path = f"{base}-{k}"
    return path


def _finish(agent, run_dir, wall, eval_episodes, out) -> None:
    print(f"done: {agent.env_steps:,} env steps, {agent.n_updates} updates in {wall:.1f} s "
          f"({agent.env_steps / max(wall, 1e-9):,.0f} steps/s)", file=out)
    print(f"training episodes: {len(agent.episode_returns)}, mean return of the last 20: "
          f"{agent.mean_return(20):.2f}", file=out)
    if eval_episodes > 0:
        print(f"evaluation (deterministic): {_summary(agent.evaluate(eval_episodes))}",
              file=out)
    print(f"saved to {run_dir}  (npg eval {run_dir}; npg plot {run_dir}; npg resume {run_dir} "
          f"--steps N)", file=out)


def _resolve_config(a, err) -> tuple[dict, bool, bool, int, dict]:
    """The config of ``npg train``: the task's preset (unless --no-preset), then the --config
    file, then --set; the flags and the step budget likewise. Returns ``(config,
    normalize_obs, scale_reward, steps, origin)``."""
    from .presets import load_config_file, preset
    base = None if a.no_preset else preset(a.env, a.algo)
    if base is None and not a.no_preset:
        print(f"npg: no preset for {a.env} with {a.algo}; using {a.algo}'s generic defaults "
              f"(`npg config {a.algo}` lists them)", file=err)
    base = base or {"config": {}, "normalize_obs": False, "scale_reward": False}
    file = load_config_file(a.config) if a.config else {"config": {}}
    sets = parse_set(a.set)
    config = _follow_rollout({**base["config"], **file["config"]}, {**file["config"], **sets})
    config.update(sets)
    norm = a.normalize_obs or file.get("normalize_obs", base["normalize_obs"])
    scale = a.scale_reward or file.get("scale_reward", base["scale_reward"])
    steps = a.steps if a.steps is not None else base.get("steps", DEFAULT_STEPS)
    origin = {"preset": None if a.no_preset or "source" not in base else
              f"{a.env}/{a.algo}: {base['source']}", "config_file": a.config,
              "overrides": sets}
    return config, bool(norm), bool(scale), steps, origin


def _follow_rollout(config: dict, given: dict) -> dict:
    """A preset whose minibatch is its whole rollout keeps it so when n_envs or n_steps are
    changed and batch_size is not."""
    out = dict(config)
    if "batch_size" in out and "batch_size" not in given and ({"n_envs", "n_steps"} & set(given)):
        old = config.get("n_envs", 0) * config.get("n_steps", 0)
        if out["batch_size"] == old:
            out["batch_size"] = given.get("n_envs", config["n_envs"]) * given.get(
                "n_steps", config["n_steps"])
    return out


def _train(a, out) -> int:
    from .agent import Agent
    from ..envs.ids import check_env_id
    from .run_dir import prepare
    check_env_id(a.env, allow_import=True)               # before any other message
    config, norm, scale, steps, origin = _resolve_config(a, sys.stderr)
    if origin["preset"]:
        print(f"preset {origin['preset']}", file=out)
    env_kwargs = parse_set(a.env_kwarg)
    agent = Agent(a.env, a.algo, config, a.seed, a.vectorization, norm, scale,
                  env_kwargs or None, device=a.device)
    agent.origin = origin
    try:
        run_dir = prepare(a.out, a.force) if a.out else prepare(_default_run_dir(a))
    except BaseException:
        agent.close()
        raise
    print(f"training {a.algo} on {a.env} for {steps:,} steps (seed {a.seed}) -> {run_dir}",
          file=out)
    was = warmup.enable()   # a cold kernel cache compiles in the background (npg.engine.warmup)
    try:
        t0 = time.perf_counter()
        agent.learn(steps, progress=not a.quiet, log_dir=run_dir,
                    checkpoint_every=a.checkpoint_every, tensorboard=a.tensorboard)
        wall = time.perf_counter() - t0
        agent.save(run_dir)
        _finish(agent, run_dir, wall, a.eval_episodes, out)
    finally:
        warmup.enable(was)
        agent.close()
    return 0


def _resume(a, out) -> int:
    from .agent import Agent
    agent = Agent.load(a.dir, allow_import=a.allow_import, device=a.device)
    steps = a.steps
    if steps is None:
        steps = (agent.schedule_steps or 0) - agent.env_steps
        if steps <= 0:
            agent.close()
            raise ValueError(f"the run in {a.dir!r} has finished its {agent.env_steps:,} steps; "
                             f"pass --steps N to train N more")
    print(f"resuming {agent.algo_name} on {agent.env_id} at {agent.env_steps:,} env steps for "
          f"{steps:,} more -> {a.dir}", file=out)
    was = warmup.enable()
    try:
        t0 = time.perf_counter()
        agent.learn(steps, progress=not a.quiet, log_dir=a.dir,
                    checkpoint_every=agent.run_settings.get("checkpoint_every"))
        wall = time.perf_counter() - t0
        agent.save(a.dir)
        _finish(agent, a.dir, wall, a.eval_episodes, out)
    finally:
        warmup.enable(was)
        agent.close()
    return 0


def _eval(a, out) -> int:
    from .agent import Agent
    agent = Agent.load(a.dir, allow_import=a.allow_import)
    try:
        ret = agent.evaluate(a.episodes, deterministic=not a.stochastic, seed=a.seed)
    finally:
        agent.close()
    kind = "stochastic" if a.stochastic else "deterministic"
    print(f"{agent.algo_name} on {agent.env_id}, {kind}: {_summary(ret)}", file=out)
    return 0


def _plot(a, out) -> int:
    from .plotting import plot_learning_curve, plot_learning_curves
    try:
        if len(a.dir) == 1:
            path = plot_learning_curve(a.dir[0], a.out, window=a.window, title=a.title)
        else:
            path = plot_learning_curves(a.dir, a.out or "learning_curves.png", a.window,
                                        a.title)
    except ImportError as err:
        print(f"npg plot: {err}", file=sys.stderr)
        return 1
    print(f"wrote {path}", file=out)
    return 0


def _tool(a, out) -> int:
    from . import cli_tools
    text = {"config": lambda: cli_tools.config_help(a.algo),
            "info": lambda: cli_tools.run_info(a.dir),
            "check-env": lambda: cli_tools.check_env(a.env)}[a.command]()
    print(text, file=out)
    return 0


def _import(module: str) -> None:
    import importlib
    try:
        importlib.import_module(module)
    except ImportError as err:
        raise ValueError(f"--import {module!r}: cannot import it ({err})") from None


def _route(argv: list) -> list:
    """``npg`` alone and ``npg ENV_ID ...`` mean ``npg train ...``; a misspelt command is an
    error with a suggestion (unless it is a registered environment id)."""
    if not argv:
        return ["train"]
    first = argv[0]
    if first in COMMANDS or first in ("-h", "--help", "--version"):
        return argv
    if first.startswith("-"):
        return ["train"] + argv
    close = difflib.get_close_matches(first, COMMANDS, n=1, cutoff=0.6)
    if close and "-v" not in first and ":" not in first:
        import gymnasium as gym
        if first not in gym.registry:
            raise SystemExit(f"npg: error: unknown command {first!r} (did you mean "
                             f"{close[0]!r}?); commands: {', '.join(COMMANDS)}, or an "
                             f"environment id to train on")
    return ["train"] + argv


def main(argv=None, out=None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); returns the exit code.
    ``npg`` with no command runs ``npg train``. Errors exit with code 2 and one line on stderr
    (``--debug``: the traceback); Ctrl-C during training saves and exits with code 130. ``out``
    is where normal output goes (default stdout)."""
    out = sys.stdout if out is None else out
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        argv = _route(argv)
    except SystemExit as err:
        print(err, file=sys.stderr)
        raise SystemExit(2) from None
    parser = _parser()
    a = parser.parse_args(argv)
    run = {"train": _train, "resume": _resume, "eval": _eval, "plot": _plot,
           "config": _tool, "info": _tool, "check-env": _tool,
           "sweep": _sweep_cli, "compare": _sweep_cli}[a.command]
    try:
        for module in a.imports:                   # explicit user input: may register envs
            _import(module)
        return run(a, out)
    except BrokenPipeError:                        # `npg config ppo | head`: not an error
        sys.stdout = open(os.devnull, "w")
        return 0
    except KeyboardInterrupt as err:
        if a.debug:
            raise
        msg = str(err) or "interrupted"
        print(f"npg {a.command}: {msg}", file=sys.stderr)
        return 130
    except Exception as err:                       # one line for every npg/gymnasium error
        if a.debug:
            raise
        parser.exit(2, f"npg {a.command}: error: {_one_line(err)}\n")


def _sweep_cli(a, out) -> int:
    from .sweep import cli as sweep_cli
    return sweep_cli.run(a, out)


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split()) or type(err).__name__
    if isinstance(err, (ValueError, TypeError)):
        return text
    return f"{type(err).__name__}: {text}"


if __name__ == "__main__":
    sys.exit(main())
