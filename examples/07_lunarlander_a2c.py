"""LunarLander-v3 with synchronous advantage actor-critic (A2C) and a separate critic.

8 copies x 5 steps per update; targets y_t = r_t + gamma r_{t+1} + ... + gamma^k V(s_{t+k})
to the end of the rollout (GAE with lambda = 1); the actor descends
-(1/B) sum_t A_t log pi(a_t | s_t) - ent_coef H, A_t = y_t - V(s_t) held constant; the critic
descends (1/2B) sum_t (V(s_t) - y_t)^2 with its own Adam. Settings after rl-baselines3-zoo
(gamma 0.995, lr 8.3e-4, a small entropy bonus).

Needs Box2D (npg's extra: ``pip install -e ".[box2d]"``); without it the script says so and exits.
Expected outcome, as measured (``python examples/07_lunarlander_a2c.py --seed S``, 1M steps,
~3-4 min): the mean return of the last 20 training episodes rises from about -200 (random) to
-128 (seed 0) and -122 (seed 1); greedy evaluation over 20 episodes -139 and -115. This does not
reproduce SB3's A2C on these settings, which uses RMSprop (alpha 0.99, eps 1e-5) and a linearly
annealed lr where npg's actor-critics use Adam at a constant lr. Seed 0 with Adam at lr 3e-4
passed +79 at 600k steps and ended at +30; without the joint gradient clip it reached +87 at
400k and fell back to -49 by 1M: learning, but not stably.

    python examples/07_lunarlander_a2c.py [--steps 1000000] [--seed 0]
"""

from __future__ import annotations

import _run
from npg.agent import Agent

CONFIG = dict(n_envs=8, n_steps=5, gamma=0.995, gae_lambda=1.0, lr=8.3e-4, critic_lr=8.3e-4,
              ent_coef=1e-5, max_grad_norm=0.5, hidden=(64, 64))


def main(argv=None):
    args = _run.parser(__doc__, steps=1_000_000, eval_episodes=20).parse_args(argv)
    if _run.box2d_missing():
        return None
    agent = Agent("LunarLander-v3", "a2c", CONFIG, seed=args.seed)
    agent.learn(args.steps, progress=not args.quiet)
    returns = agent.evaluate(args.eval_episodes)
    _run.report("LunarLander-v3 A2C", agent, returns)
    print(f"mean of the last 20 training episodes: {agent.mean_return(20):.1f}")
    return returns.mean()


if __name__ == "__main__":
    main()
