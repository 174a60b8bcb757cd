"""``npg sweep`` and ``npg compare``.

    npg sweep DIR --grid lr=1e-3,3e-4 --seeds 10 [--steps N] [--set n_envs=4 ...]
    npg sweep DIR --file plan.toml                     # the plan from a TOML file
    npg sweep DIR --random lr=loguniform:1e-4:1e-2 --draws 8 --seeds 3
    npg sweep DIR                                      # resume the plan recorded in DIR
    npg sweep DIR ... --backend ray --address auto     # join a cluster (`ray start --head`)
    npg sweep DIR --search lr=loguniform:1e-4:1e-2 --trials 20   # Optuna -> DIR/best.toml
    npg compare DIR [--plot]                           # the interval table (and PNGs)

A job that fails is reported with its error and the others finish; the exit code is then 1.
Values of ``--grid`` are separated by commas outside brackets (``hidden=(8,),(16,16)``) and
read as ``npg train --set`` reads them. Distributions: ``uniform:LOW:HIGH``,
``loguniform:LOW:HIGH``, ``int:LOW:HIGH``, ``choice:V1,V2``.
"""

from __future__ import annotations

import os

__all__ = ["add_parser", "run"]


def add_parser(subparsers, parents=()) -> None:
    """Add the ``sweep`` and ``compare`` subcommands to ``subparsers`` (argparse).

    parents   parsers whose options both subcommands share (``npg.app.cli``'s common
              ``--debug`` / ``--import``); without them each gets its own ``--debug``."""
    parents = list(parents)
    s = subparsers.add_parser("sweep", parents=parents,
                              help="run seeds x settings on a process pool or Ray")
    s.add_argument("dir", help="sweep directory (plan, results, one run directory per job)")
    s.add_argument("--env", default=None, help="environment id (default CartPole-v1)")
    s.add_argument("--algo", default=None, help="algorithm (default ppo)")
    s.add_argument("--steps", type=int, default=None, help="env steps per job (default 50000)")
    s.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2",
                   help="a config field and its values (repeatable: the product is swept)")
    s.add_argument("--random", action="append", default=[], metavar="KEY=DIST",
                   help="a config field drawn at random (with --draws)")
    s.add_argument("--draws", type=int, default=0, help="random configs to draw")
    s.add_argument("--plan-seed", type=int, default=0, help="seed of the random draws")
    s.add_argument("--seeds", default=None,
                   help="a count (0..N-1) or a list: 0,3,5 (default 5; 1 for --search)")
    s.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="a config override of every job (repeatable)")
    s.add_argument("--file", default=None, help="a TOML plan file (docs/sweeps.md)")
    s.add_argument("--eval-episodes", type=int, default=10)
    s.add_argument("--backend", default="pool", choices=("pool", "ray", "serial"))
    s.add_argument("--workers", type=int, default=None, help="pool size (default: cores)")
    s.add_argument("--address", default=None, help="Ray cluster: auto or HOST:PORT")
    s.add_argument("--timeout", type=float, default=10.0,
                   help="seconds to wait for a Ray head node to answer")
    s.add_argument("--search", action="append", default=[], metavar="KEY=DIST",
                   help="Optuna search over this field (repeatable) instead of a sweep")
    s.add_argument("--trials", type=int, default=20, help="Optuna trials")
    s.add_argument("--segments", type=int, default=4, help="pruning stages per trial")
    s.add_argument("--no-prune", action="store_true", help="never prune a trial")
    s.add_argument("--quiet", action="store_true", help="no line per finished job")
    c = subparsers.add_parser("compare", parents=parents, help="aggregate statistics of a sweep")
    c.add_argument("dir", help="sweep directory written by `npg sweep`")
    c.add_argument("--resamples", type=int, default=2000, help="bootstrap resamples")
    c.add_argument("--confidence", type=float, default=0.95)
    c.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    c.add_argument("--plot", action="store_true", help="write curves/intervals/profile PNGs")
    if not parents:
        for p in (s, c):
            p.add_argument("--debug", action="store_true", help="show tracebacks of errors")
            p.set_defaults(imports=[])


def _plan(a):
    from ..cli import parse_set
    from .files import plan_from_toml
    from .plan import make_plan, parse_dist, parse_grid
    from .runner import load_plan
    given = a.grid or a.random or a.set or a.env or a.algo or a.steps or a.seeds
    if a.file:
        if a.grid or a.random or a.set or a.env or a.algo or a.steps or a.seeds:
            raise ValueError("--file holds the whole plan; give no --grid/--random/--set/"
                             "--env/--algo/--steps/--seeds with it")
        return plan_from_toml(a.file)
    if not given and os.path.isfile(os.path.join(a.dir, "plan.json")):
        return load_plan(a.dir)
    random = dict(parse_dist(x) for x in a.random)
    if len(random) != len(a.random):
        raise ValueError("--random: a field is given twice")
    return make_plan(a.env or "CartPole-v1", a.algo or "ppo", a.steps or 50_000,
                     parse_grid(a.grid) if a.grid else None, a.seeds or "5", random, a.draws,
                     a.plan_seed, parse_set(a.set), a.eval_episodes)


def _search(a, out) -> int:
    from ..cli import parse_set
    from .plan import parse_dist, parse_seeds
    from .tuning import optuna_search
    if a.grid or a.random or a.file:
        raise ValueError("--search does not combine with --grid, --random or --file")
    space = dict(parse_dist(x) for x in a.search)
    res = optuna_search(a.env or "CartPole-v1", a.algo or "ppo", a.steps or 50_000, space,
                        a.dir, a.trials, parse_seeds(a.seeds or "1"),
                        parse_set(a.set), a.backend, a.workers, a.address, a.segments,
                        not a.no_prune, a.eval_episodes, timeout=a.timeout,
                        log=None if a.quiet else out)
    print(f"{res['n_complete']} trials complete, {res['n_pruned']} pruned, "
          f"{res['n_failed']} failed", file=out)
    if res["preset"] is None:
        return 1
    print(f"best: trial {res['trial']}, value {res['value']:.2f}: {res['config']}", file=out)
    print(f"wrote {res['preset']}  (npg train --config {res['preset']})", file=out)
    return 0


def _sweep(a, out) -> int:
    from .runner import run_sweep
    if a.search:
        return _search(a, out)
    plan = _plan(a)
    n = len(plan.configs) * len(plan.seeds)
    print(f"sweep: {len(plan.configs)} config(s) x {len(plan.seeds)} seed(s) = {n} jobs of "
          f"{plan.algo} on {plan.env}, {plan.steps:,} steps each, backend {a.backend} -> "
          f"{a.dir}", file=out)
    res = run_sweep(plan, a.dir, a.backend, a.workers, a.address, a.timeout,
                    log=None if a.quiet else out)
    print(f"{len(res['done'])} done, {len(res['skipped'])} already done, "
          f"{len(res['failed'])} failed in {res['wall_time']:.1f} s  (npg compare {a.dir})",
          file=out)
    for jid, err in res["failed"].items():
        print(f"  {jid}: {err}  (traceback in {a.dir}/jobs/{jid}/error.json)", file=out)
    return 1 if res["failed"] else 0


def _compare(a, out) -> int:
    from .stats import aggregate_sweep, format_table
    table = aggregate_sweep(a.dir, a.resamples, a.confidence, a.seed)
    print(format_table(table), file=out)
    if a.plot:
        from .plots import plot_sweep
        for path in plot_sweep(a.dir, seed=a.seed):
            print(f"wrote {path}", file=out)
    return 0


def run(args, out) -> int:
    """Run ``npg sweep`` or ``npg compare`` with parsed ``args``; output to ``out``."""
    return _compare(args, out) if args.command == "compare" else _sweep(args, out)
