"""Sweeps: many seeds and settings of one algorithm, run on a process pool or a Ray cluster,
and the aggregate statistics of Agarwal et al. (2021) over them.

    from npg.app.sweep import make_plan, run_sweep, aggregate
    plan = make_plan("CartPole-v1", "ppo", 20_000, grid={"lr": [1e-3, 3e-4]}, seeds=10)
    run_sweep(plan, "sweeps/lr")                       # or backend="ray", address="auto"
    table = aggregate("sweeps/lr")                     # IQM, mean, median with bootstrap CIs

Modules: ``plan`` (grid / random draws x seeds), ``files`` (TOML plan and preset files),
``jobs`` (one job = one run directory), ``backends`` (serial, pool, Ray), ``runner`` (the
sweep directory), ``stats`` (IQM, stratified bootstrap, performance profiles, probability of
improvement), ``curves`` (learning curves on a common grid of env steps), ``tuning`` (Optuna
search), ``plots`` (matplotlib), ``cli`` (``npg sweep``, ``npg compare``). See docs/sweeps.md.
Importing this package imports none of Ray, Optuna, SciPy or matplotlib.
"""

from .files import load_preset, plan_from_toml, write_preset
from .plan import Dist, Plan, make_plan, parse_dist, parse_grid, parse_seeds
from .runner import load_plan, run_sweep

__all__ = ["Dist", "Plan", "make_plan", "parse_dist", "parse_grid", "parse_seeds",
           "plan_from_toml", "load_preset", "write_preset", "run_sweep", "load_plan",
           "aggregate", "search"]


def aggregate(sweep_dir, **kwargs):
    """``npg.app.sweep.stats.aggregate_sweep`` (imports SciPy)."""
    from .stats import aggregate_sweep
    return aggregate_sweep(sweep_dir, **kwargs)


def search(*args, **kwargs):
    """``npg.app.sweep.tuning.optuna_search`` (imports Optuna)."""
    from .tuning import optuna_search
    return optuna_search(*args, **kwargs)
