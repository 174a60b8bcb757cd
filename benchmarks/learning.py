"""Learning benchmark: env steps and wall time to each task's threshold, over 5 seeds.

Tasks (configs from the examples, so the figures describe what the examples do):
  cartpole_ppo        CartPole-v1 PPO, tuned settings: mean of the last 20 episodes >= 475
                      within 50,000 env steps.
  pendulum_ppo        Pendulum-v1 PPO with gSDE (zoo settings): mean of the last 20
                      episodes >= -200 within 100,000 steps (we also print the best reached).
  frozenlake          FrozenLake-v1 4x4 slippery REINFORCE, 16-8-4 MLP: greedy success rate
                      over 1000 evaluation episodes >= 0.70 after the example's budget
                      (optimum 0.744); frozenlake_qac and frozenlake_shared_ac likewise for
                      the Q actor-critic and the shared-trunk 5-step actor-critic examples.
  cartpole_linear     CartPole-v0 linear REINFORCE, 32 envs, lr 0.1: mean of the last 20
                      episodes reaches the cap of 200 (we print when it first passes 195 and
                      200) within the example's budget; greedy evaluation return at the end.
  lunarlander_ppo     LunarLander-v3 PPO: mean of the last 20 episodes >= 200 within 1M steps
                      (skipped without Box2D); lunarlander_a2c likewise for A2C within the
                      example's 500k (no target is set for it: read the best mean).
Training stops at the threshold (``--full`` runs the whole budget). Not part of the test suite.

``--presets`` instead runs each PPO preset of ``npg.app.presets`` (what ``npg train ENV`` uses) for
its whole default budget and prints the steps at which the mean of the last 20 training
episodes first reached the task's usual threshold (20, as the table above; MountainCarContinuous
runs only ~20-40 episodes of up to 999 steps in its 20k), that mean at the end, and a greedy
evaluation over 20 episodes, beside rl-baselines3-zoo's published PPO figure
(``benchmark.md``: one trained agent's mean +- std over its evaluation episodes).

    python benchmarks/learning.py [--tasks cartpole_ppo pendulum_ppo ...] [--seeds 5]
                                  [--first-seed 0] [--dtype float32] [--full]
    python benchmarks/learning.py --presets [--preset-envs Pendulum-v1 ...] [--seeds 5]
"""

from __future__ import annotations

import argparse
import importlib
import pathlib
import sys
import time
import warnings

import numpy as np

from npg.app.agent import Agent

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "examples"))


def example(name: str):
    return importlib.import_module(name)


# task -> (env id, algo, example module, budget, window, threshold, greedy-eval episodes)
TASKS = {
    "cartpole_ppo": ("CartPole-v1", "ppo", "05_cartpole_ppo", 50_000, 20, 475.0, 0),
    "pendulum_ppo": ("Pendulum-v1", "ppo", "06_pendulum_ppo", 100_000, 20, -200.0, 0),
    "frozenlake": ("FrozenLake-v1", "reinforce", "01_frozenlake_reinforce", 400_000, None,
                   0.70, 1000),
    "frozenlake_qac": ("FrozenLake-v1", "qac", "02_frozenlake_q_actor_critic", 100_000, None,
                      0.70, 1000),
    "frozenlake_shared_ac": ("FrozenLake-v1", "ac", "03_frozenlake_shared_actor_critic",
                             300_000, None, 0.70, 1000),
    "cartpole_linear": ("CartPole-v0", "reinforce", "04_cartpole_linear_reinforce", 400_000,
                        20, 200.0, 20),
    "lunarlander_ppo": ("LunarLander-v3", "ppo", "08_lunarlander_ppo", 1_000_000, 20, 200.0,
                        0),
    "lunarlander_a2c": ("LunarLander-v3", "a2c", "07_lunarlander_a2c", 500_000, 20, 200.0, 0),
}


def run(task: str, seed: int, full: bool, dtype: str | None = None) -> dict:
    env, algo, module, budget, window, threshold, n_eval = TASKS[task]
    config = dict(example(module).CONFIG)
    if dtype is not None:
        config["dtype"] = dtype
    agent = Agent(env, algo, config, seed=seed)
    t0 = time.perf_counter()
    hit = {"steps": None, "time": None, "best": -np.inf, "first195": None}

    def callback(ag, info):
        if window is None or len(ag.episode_returns) < window:
            return True
        m = ag.mean_return(window)
        hit["best"] = max(hit["best"], m)
        if task == "cartpole_linear" and m >= 195.0 and hit["first195"] is None:
            hit["first195"] = ag.env_steps
        if m >= threshold and hit["steps"] is None:
            hit["steps"], hit["time"] = ag.env_steps, time.perf_counter() - t0
            return full
        return True
    agent.learn(budget, progress=False, callback=callback)
    hit["wall"] = time.perf_counter() - t0
    hit["env_steps"] = agent.env_steps
    if n_eval:
        hit["eval"] = float(agent.evaluate(n_eval).mean())
        if window is None and hit["eval"] >= threshold:
            hit["steps"], hit["time"] = agent.env_steps, hit["wall"]
    return hit


ZOO_PPO = {"CartPole-v1": "500.0 +- 0.0 (100k)", "Acrobot-v1": "-73.5 +- 18.2 (1M)",
           "Pendulum-v1": "-172.2 +- 104.2 (100k)",
           "MountainCarContinuous-v0": "88.3 +- 2.6 (20k)",
           "LunarLander-v3": "242.1 +- 31.8 (1M, v2)",
           "LunarLanderContinuous-v3": "270.9 +- 32.1 (1M, v2)"}


def run_preset(env: str, seed: int) -> dict:
    """One seed of ``env``'s PPO preset over its whole budget (module docstring)."""
    from npg.app.presets import preset
    p = preset(env, "ppo")
    agent = Agent(env, "ppo", p["config"], seed=seed, normalize_obs=p["normalize_obs"],
                  scale_reward=p["scale_reward"])
    t0, hit = time.perf_counter(), {"steps": None}

    def callback(ag, info):
        if hit["steps"] is None and len(ag.episode_returns) >= 20 and \
                ag.mean_return(20) >= p["threshold"]:
            hit["steps"] = ag.env_steps
        return True
    agent.learn(p["steps"], progress=False, callback=callback)
    hit.update(wall=time.perf_counter() - t0, final=agent.mean_return(20),
               eval=float(agent.evaluate(20).mean()), budget=p["steps"],
               threshold=p["threshold"])
    agent.close()
    return hit


def main_presets(envs, seeds, first_seed):
    for env in envs:
        if env.startswith("LunarLander"):
            try:
                import Box2D  # noqa: F401
            except ImportError:
                print(f"{env}: skipped (Box2D not installed)")
                continue
        rows = [run_preset(env, s) for s in range(first_seed, first_seed + seeds)]
        r0 = rows[0]
        print(f"{env} ppo preset, budget {r0['budget']:,}, threshold {r0['threshold']:g} "
              f"(mean of the last 20 episodes); zoo PPO: {ZOO_PPO.get(env, '-')}")
        for s, h in zip(range(first_seed, first_seed + seeds), rows):
            print(f"  seed {s}: threshold at {fmt(h['steps'], ',')} steps; final mean "
                  f"{h['final']:.1f}; greedy eval {h['eval']:.1f}; {h['wall']:.0f} s", flush=True)
        ok = sum(h["steps"] is not None for h in rows)
        finals = np.array([h["final"] for h in rows])
        print(f"  reached on {ok} of {seeds} seeds; final mean over seeds {finals.mean():.1f} "
              f"(min {finals.min():.1f}, max {finals.max():.1f})", flush=True)


def fmt(x, spec):
    return "-" if x is None else format(x, spec)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    p.add_argument("--tasks", nargs="+", default=list(TASKS), choices=list(TASKS))
    p.add_argument("--seeds", type=int, default=5, help="how many seeds")
    p.add_argument("--first-seed", type=int, default=0, help="seeds first-seed, first-seed+1, ...")
    p.add_argument("--dtype", choices=("float64", "float32"), default=None,
                   help="override the example's dtype (float64 unless it says otherwise)")
    p.add_argument("--full", action="store_true", help="train the whole budget")
    p.add_argument("--presets", action="store_true", help="run the PPO presets instead")
    p.add_argument("--preset-envs", nargs="+", default=list(ZOO_PPO), choices=list(ZOO_PPO))
    a = p.parse_args(argv)
    if a.presets:
        return main_presets(a.preset_envs, a.seeds, a.first_seed)
    warnings.simplefilter("ignore", DeprecationWarning)      # CartPole-v0 is "out of date"
    for task in a.tasks:
        env, algo, _, budget, window, threshold, _ = TASKS[task]
        if task.startswith("lunarlander"):
            try:
                import Box2D  # noqa: F401
            except ImportError:
                print(f"{task}: skipped (Box2D not installed)")
                continue
        what = f"mean of last {window} >= {threshold:g}" if window else \
            f"greedy success >= {threshold:g}"
        print(f"{task}: {env} {algo}, {what}, budget {budget:,} env steps")
        reached = 0
        for seed in range(a.first_seed, a.first_seed + a.seeds):
            h = run(task, seed, a.full, a.dtype)
            reached += h["steps"] is not None
            extra = ""
            if window is not None:
                extra += f"  best mean {h['best']:.1f}"
            if "eval" in h:
                extra += f"  greedy eval {h['eval']:.3f}"
            if task == "cartpole_linear":
                extra += f"  first >= 195 at {fmt(h['first195'], ',')}"
            print(f"  seed {seed}: threshold at {fmt(h['steps'], ',')} steps, "
                  f"{fmt(h['time'], '.1f')} s  (ran {h['env_steps']:,} steps in "
                  f"{h['wall']:.1f} s){extra}", flush=True)
        print(f"  reached on {reached} of {a.seeds} seeds")


if __name__ == "__main__":
    main()
