"""LunarLander-v3 with PPO.

Settings after rl-baselines3-zoo's LunarLander PPO: 16 copies x 1024 steps per rollout,
minibatches of 64, 4 epochs, gamma 0.999, GAE lambda 0.98, lr 3e-4, entropy bonus 0.01,
separate 64-64 tanh actor and critic.

Needs Box2D (npg's extra: ``pip install -e ".[box2d]"``); without it the script says so and exits.
Expected outcome (``python benchmarks/learning.py --tasks lunarlander_ppo --seeds 10``): the
mean return of the last 20 episodes passes the "solved" threshold of 200 within the 1M budget on
8 of seeds 0-9, at 720,896-983,040 env steps (65-94 s; seed 0 at 720,896); seeds 1 and 3 peak at
158 and 170.

    python examples/08_lunarlander_ppo.py [--steps 1000000] [--seed 0]
"""

from __future__ import annotations

import _run
from npg.app.agent import Agent

CONFIG = dict(n_envs=16, n_steps=1024, batch_size=64, n_epochs=4, gamma=0.999,
              gae_lambda=0.98, lr=3e-4, anneal_lr=False, anneal_clip=False, clip_range=0.2,
              ent_coef=0.01, vf_coef=0.5)


def main(argv=None):
    args = _run.parser(__doc__, steps=1_000_000, eval_episodes=20).parse_args(argv)
    if _run.box2d_missing():
        return None
    agent = Agent("LunarLander-v3", "ppo", CONFIG, seed=args.seed)
    agent.learn(args.steps, progress=not args.quiet)
    returns = agent.evaluate(args.eval_episodes)
    _run.report("LunarLander-v3 PPO", agent, returns)
    print(f"mean of the last 20 training episodes: {agent.mean_return(20):.1f}")
    return returns.mean()


if __name__ == "__main__":
    main()
