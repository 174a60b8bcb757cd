"""Hyperparameter search with Optuna, its trials run on any sweep backend, pruned on the
learning curve.

    from npg.app.sweep import Dist, search
    best = search("CartPole-v1", "ppo", 20_000, {"lr": Dist("loguniform", 1e-4, 1e-2)},
                  "sweeps/lr-search", n_trials=20, backend="pool")
    # best["config"], best["value"]; the preset sweeps/lr-search/best.toml: npg train --config

Each trial is a config drawn by Optuna's sampler (TPE, seeded) from ``space`` ({field: Dist})
on top of ``base``, trained on each of ``seeds`` as ordinary sweep jobs
(``npg.app.sweep.jobs``: one run directory per trial and seed, ``SEARCH/trials/t0003-s0``) in
``segments`` stages of ``steps / segments`` env steps. After each stage the trial reports the
mean over its seeds of the running training return (the learning curve at that step) to
Optuna, whose pruner (``MedianPruner``: stop a trial whose curve is below the median of earlier
trials at the same stage) may stop it; a trial that is not stopped continues from its
checkpoint, exactly (docs/checkpoints.md), so a finished trial is the same run as an
uninterrupted one. A finished trial's value is the mean over seeds of the deterministic
evaluation return (``eval_episodes``; its training return when 0). Up to ``workers`` jobs run
at once (Optuna's ask-and-tell interface: trials are asked for as workers free up).

References: Optuna (Akiba et al., 2019, "Optuna: a next-generation hyperparameter
optimization framework", KDD); the tree-structured Parzen estimator (Bergstra et al., 2011,
"Algorithms for hyper-parameter optimization", NeurIPS); the median stopping rule (Golovin et
al., 2017, "Google Vizier", KDD), which Optuna's ``MedianPruner`` implements.

The study lives in ``SEARCH/study.db`` (SQLite, Optuna's RDB storage): rerunning the search in
the same directory continues it up to ``n_trials`` trials in total (trials left running by a
killed process are marked failed and redrawn). ``pip install 'npg[optuna]'``.
"""

from __future__ import annotations

import json
import os

from .backends import make_backend
from .files import write_preset
from .plan import Dist, check_config_keys, parse_seeds

__all__ = ["optuna_search", "BEST_FILE"]

BEST_FILE, TRIALS_DIR, SETTINGS_FILE = "best.toml", "trials", "search.json"


def _optuna():
    try:
        import optuna
    except ModuleNotFoundError:
        raise ImportError("hyperparameter search needs Optuna: pip install 'npg[optuna]'") \
            from None
    return optuna


def _suggest(trial, space: dict) -> dict:
    cfg = {}
    for name in sorted(space):
        d = space[name]
        if d.kind in ("uniform", "loguniform"):
            cfg[name] = trial.suggest_float(name, d.low, d.high, log=d.kind == "loguniform")
        elif d.kind == "int":
            cfg[name] = trial.suggest_int(name, int(d.low), int(d.high))
        else:                                    # tuples are not Optuna choices: by label
            labels = [repr(v) for v in d.values]
            cfg[name] = d.values[labels.index(trial.suggest_categorical(name, labels))]
    return cfg


def _check(space, n_trials, segments):
    if not isinstance(space, dict) or not space:
        raise ValueError("space must be a non-empty dict {field: Dist}")
    for k, d in space.items():
        if not isinstance(d, Dist):
            raise TypeError(f"space[{k!r}] must be an npg.app.sweep.Dist; got {type(d).__name__}")
    for name, v in (("n_trials", n_trials), ("segments", segments)):
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise ValueError(f"{name} must be a positive int; got {v!r}")


def _record_settings(search_dir: str, settings: dict) -> None:
    path = os.path.join(search_dir, SETTINGS_FILE)
    text = json.dumps(settings, indent=1, sort_keys=True)
    if os.path.isfile(path):
        with open(path) as f:
            if json.load(f) != json.loads(text):
                raise ValueError(f"{search_dir!r} holds another search ({SETTINGS_FILE}); use "
                                 f"a new directory, or rerun with the same settings to resume")
        return
    with open(path, "w") as f:
        f.write(text)


def optuna_search(env: str, algo: str, steps: int, space: dict, search_dir, n_trials: int = 20,
                  seeds=(0,), base: dict | None = None, backend="pool",
                  workers: int | None = None, address: str | None = None,
                  segments: int = 4, prune: bool = True, eval_episodes: int = 10,
                  sampler_seed: int = 0, agent_kwargs: dict | None = None,
                  timeout: float = 10.0, log=None) -> dict:
    """Run the search (module docstring); returns ``{"config", "value", "trial", "preset",
    "n_complete", "n_pruned", "n_failed"}`` and writes the preset ``SEARCH/best.toml``."""
    from ...checks import check_positive_int
    from ..run_dir import RunLock
    optuna = _optuna()
    _check(space, n_trials, segments)
    steps = check_positive_int("steps", steps)
    seeds, base = parse_seeds(list(seeds)), dict(base or {})
    check_config_keys(algo, list(space) + list(base), "space")
    search_dir = os.fspath(search_dir)
    os.makedirs(os.path.join(search_dir, TRIALS_DIR), exist_ok=True)
    settings = {"env": env, "algo": algo, "steps": steps, "seeds": seeds,
                "base": json.loads(json.dumps(base)), "segments": segments, "prune": prune,
                "space": {k: d.to_json() for k, d in sorted(space.items())},
                "eval_episodes": eval_episodes, "agent_kwargs": agent_kwargs or {},
                "sampler_seed": sampler_seed}
    with RunLock(search_dir):
        _record_settings(search_dir, settings)
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        pruner = optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=0) if prune \
            else optuna.pruners.NopPruner()
        storage = f"sqlite:///{os.path.abspath(os.path.join(search_dir, 'study.db'))}"
        study = optuna.create_study(storage=storage, study_name="npg", direction="maximize",
                                    load_if_exists=True)
        done_before = len(study.get_trials(deepcopy=False))
        # a resumed search draws on from a new seed, not the first trials' draws again
        study = optuna.load_study(study_name="npg", storage=storage, pruner=pruner,
                                  sampler=optuna.samplers.TPESampler(seed=sampler_seed +
                                                                     done_before))
        state = optuna.trial.TrialState
        for t in study.get_trials(deepcopy=False, states=(state.RUNNING,)):
            study.tell(t.number, state=state.FAIL)
        owned = isinstance(backend, str)
        be = make_backend(backend, workers, address, 1, timeout) if owned else backend
        try:
            _loop(study, be, space, base, settings, search_dir, n_trials, log)
        finally:
            if owned:
                be.close()
        return _best(study, base, settings, search_dir)


def _specs(trial_number: int, cfg: dict, settings: dict) -> list[dict]:
    return [{"id": f"t{trial_number:04d}-s{s}", "config_index": trial_number,
             "env": settings["env"], "algo": settings["algo"], "config": cfg, "seed": s,
             "steps": settings["steps"], "eval_episodes": settings["eval_episodes"],
             "agent_kwargs": settings["agent_kwargs"]} for s in settings["seeds"]]


def _loop(study, be, space, base, settings, search_dir, n_trials, log):
    """Ask for trials while workers are free; after each stage of a trial's seeds, report
    and prune or continue (module docstring)."""
    import math
    state = __import__("optuna").trial.TrialState
    seg, steps, nseeds = settings["segments"], settings["steps"], len(settings["seeds"])
    finished = lambda: sum(t.state.is_finished() for t in study.get_trials(deepcopy=False))
    active, handles = {}, {}     # trial number -> record; handle -> (trial number, spec)

    def submit(num):
        rec = active[num]
        upto = math.ceil(steps * (rec["stage"] + 1) / seg)
        rec["results"] = []
        for spec in rec["specs"]:
            d = os.path.join(search_dir, TRIALS_DIR, spec["id"])
            handles[be.submit({"spec": spec, "dir": d, "upto": upto})] = num

    while True:
        while finished() + len(active) < n_trials and len(active) * nseeds < be.workers:
            trial = study.ask()
            cfg = {**base, **_suggest(trial, space)}
            active[trial.number] = {"trial": trial, "stage": 0, "cfg": cfg,
                                    "specs": _specs(trial.number, cfg, settings)}
            submit(trial.number)
        if not handles:
            return
        for h, res in be.wait(list(handles)):
            num = handles.pop(h)
            rec = active[num]
            rec["results"].append(res)
            if len(rec["results"]) == nseeds:
                _advance(study, rec, seg, log, state)
                if rec["stage"] is None:
                    del active[num]
                else:
                    submit(num)


def _advance(study, rec, seg, log, state):
    """One stage of a trial is done on all its seeds: tell, prune, or go on (stage += 1)."""
    import numpy as np
    num, trial, res = rec["trial"].number, rec["trial"], rec["results"]
    bad = [r for r in res if r.get("status") == "failed"]
    if bad:
        study.tell(num, state=state.FAIL)
        _say(log, f"trial {num}: FAILED: {bad[0].get('error')}")
        rec["stage"] = None
        return
    curve = float(np.nanmean([r.get("train_return", np.nan) for r in res]))
    if rec["stage"] == seg - 1:
        finals = [r["final_return"] if r.get("final_return") is not None
                  else r.get("train_return") for r in res]
        value = float(np.nanmean(finals))
        study.tell(num, value)
        _say(log, f"trial {num}: {value:.2f}  {rec['cfg']}")
        rec["stage"] = None
        return
    trial.report(curve if np.isfinite(curve) else -np.inf, rec["stage"])
    if trial.should_prune():
        study.tell(num, state=state.PRUNED)
        _say(log, f"trial {num}: pruned at stage {rec['stage'] + 1}/{seg} (curve {curve:.2f})")
        rec["stage"] = None
        return
    rec["stage"] += 1


def _say(log, line):
    if log is not None:
        print(line, file=log)


def _best(study, base, settings, search_dir) -> dict:
    state = __import__("optuna").trial.TrialState
    trials = study.get_trials(deepcopy=False)
    count = {s: sum(t.state == s for t in trials) for s in (state.COMPLETE, state.PRUNED,
                                                              state.FAIL)}
    out = {"n_complete": count[state.COMPLETE], "n_pruned": count[state.PRUNED],
           "n_failed": count[state.FAIL], "config": None, "value": None, "trial": None,
           "preset": None}
    if not count[state.COMPLETE]:
        return out
    best = study.best_trial
    space = {k: Dist(**{**v, "values": tuple(_tuple(x) for x in v["values"])})
             for k, v in settings["space"].items()}
    cfg = dict(base)
    for k, v in best.params.items():
        d = space[k]
        cfg[k] = d.values[[repr(x) for x in d.values].index(v)] if d.kind == "choice" else v
    flags = {k: v for k, v in settings["agent_kwargs"].items()
             if k in ("normalize_obs", "scale_reward")}
    path = write_preset(os.path.join(search_dir, BEST_FILE), cfg, settings["env"],
                        settings["algo"], source=f"npg sweep --search, trial {best.number}, "
                        f"value {best.value:.4g}", steps=settings["steps"], **flags)
    out.update(config=cfg, value=float(best.value), trial=best.number, preset=path)
    return out


def _tuple(v):
    return tuple(_tuple(x) for x in v) if isinstance(v, list) else v
