"""Cart-pole swing-up with diagonal-Gaussian REINFORCE: 256 envs, gamma 0.999, T = 1000.

The experiment of the source texts: a policy N(mu_theta(s), diag(sigma^2)) with an MLP mean
(two hidden tanh layers of 64) and a state-independent log sigma, trained by REINFORCE on the
swing-up of ``npg.envs.swingup`` (pole hanging at the start, force in [-1, 1], reward in [0, 1]
per step, so an episode's return is at most 1000). Each epoch collects one rollout of
T = 1000 steps (one full episode) from each of 256 environments and takes one Adam step,
lr 1e-2, on

    L = -(1/B) sum_t gamma^t G_t log pi(a_t|s_t),     G_t the reward-to-go, gamma = 0.999.

Expected outcome (measured, seed 0, on 2 shared CPU cores: about 11 s of CPU per epoch, 14 min
of wall time under load): at the text's budget, 20 epochs (5.12 M env steps, 20 Adam steps),
the mean episode return rises from 19.4 (epoch 1) to 172.8 (epoch 3), dips to 154.0 (epoch 7)
and climbs to 242.9 at epoch 20 (best 244.4, epoch 19), out of a possible 1000: an average
reward of 0.24 a step, so the task is far from solved (a pole balanced upright, centred and
still earns about 1 a step). Curve: docs/swingup_reinforce.png (``--png``). At twice the
budget, ``--epochs 40`` (seed 0; 11.3 min of CPU, 21.5 min wall at load ~4.5 on 2 cores; its
first 20 epochs are the 20-epoch run's, bit for bit), the return keeps rising: 230.3 (epoch
21), 323.3 (29), 369.4 (32), 392.0 (36), 449.9 at epoch 40 (the best), still under half
of 1000 and not flat; curve: docs/swingup_reinforce_40.png.

    python examples/20_swingup_reinforce.py [--epochs 20] [--n-envs 256] [--seed 0] \
        [--png swingup.png]
"""

from __future__ import annotations

import argparse

import numpy as np

from npg.algos import Reinforce
from npg.envs import space_info
from npg.envs.swingup import CartPoleSwingUpVectorEnv
from npg.envs.rollout import Collector

CONFIG = dict(policy="mlp", hidden=(64, 64), activation="tanh", gamma=0.999, lr=1e-2,
              optimizer="adam", returns="reward_to_go", discount_weighting=True)


def parse(argv):
    p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--n-envs", type=int, default=256)
    p.add_argument("--horizon", type=int, default=1000, help="T, the time limit")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--png", default=None, help="write the learning curve here (matplotlib)")
    p.add_argument("--quiet", action="store_true")
    return p.parse_args(argv)


def train(epochs, n_envs, horizon, seed, quiet=True):
    """Returns the mean episode return of each epoch [epochs]."""
    envs = CartPoleSwingUpVectorEnv(n_envs, max_steps=horizon)
    envs.reset(seed=seed)
    algo = Reinforce({**CONFIG, "n_envs": n_envs, "n_steps": horizon}, space_info(envs))
    rng = np.random.default_rng(seed)
    state = algo.init(rng)
    col = Collector(envs, seed=seed)
    curve = []
    for epoch in range(epochs):
        box = [state]
        ro = col.collect(lambda o: algo.act(box[0], o, rng), None, horizon)
        state, _ = algo.update(state, ro, epoch / epochs, rng)
        curve.append(float(np.mean(ro.episode_returns)) if ro.episode_returns.size else 0.0)
        if not quiet:
            print(f"epoch {epoch + 1:3d}: mean return {curve[-1]:7.2f} over "
                  f"{ro.episode_returns.size} episodes")
    return np.array(curve)


def plot(curve, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib missing: no plot")
        return
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(np.arange(1, curve.size + 1), curve, marker="o", ms=3)
    ax.set_xlabel("epoch (256 episodes of T = 1000)")
    ax.set_ylabel("mean episode return")
    ax.set_title("Cart-pole swing-up, diagonal-Gaussian REINFORCE")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None):
    args = parse(argv)
    curve = train(args.epochs, args.n_envs, args.horizon, args.seed, args.quiet)
    print(f"swing-up REINFORCE: epoch 1 mean return {curve[0]:.1f}, epoch {curve.size} "
          f"{curve[-1]:.1f}, best {curve.max():.1f} (max possible {args.horizon})")
    if args.png:
        plot(curve, args.png)
    return curve


if __name__ == "__main__":
    main()
