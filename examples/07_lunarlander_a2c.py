"""LunarLander-v3 with synchronous advantage actor-critic (A2C) and a separate critic.

8 copies x 5 steps per update; targets y_t = r_t + gamma r_{t+1} + ... + gamma^k V(s_{t+k})
to the end of the rollout (GAE with lambda = 1); the actor descends
-(1/B) sum_t A_t log pi(a_t | s_t) - ent_coef H, A_t = y_t - V(s_t) held constant; the critic
descends (1/2B) sum_t (V(s_t) - y_t)^2. Settings after rl-baselines3-zoo's A2C (gamma 0.995,
lr 8.3e-4 annealed linearly to 0, ent_coef 1e-5, joint gradient clip 0.5) with
Stable-Baselines3's optimizer, RMSprop (alpha 0.99, eps 1e-5), one per network.

Needs Box2D (npg's extra: ``pip install -e ".[box2d]"``); without it the script says so and exits.
Expected outcome, as measured (``python examples/07_lunarlander_a2c.py --seed S``, 500k steps,
~80 s): the mean return of the last 20 training episodes rises from about -200 (random) to
39 / 4 / -33 / 135 for seeds 0-3 (greedy evaluation over 20 episodes 94 / -34 / -50 / 187). A2C
here is unstable: with a 1M budget (lr annealed over 1M) seeds 0-3 reached +50 to +157 by
250k-700k steps and fell back to -37 / -124 / -83 / -84 by 1M. With Adam at a constant lr
instead, seeds 0 and 1 were at -128 and -122 after 1M steps.

    python examples/07_lunarlander_a2c.py [--steps 500000] [--seed 0]
"""

from __future__ import annotations

import _run
from npg.app.agent import Agent

CONFIG = dict(n_envs=8, n_steps=5, gamma=0.995, gae_lambda=1.0, lr=8.3e-4, critic_lr=8.3e-4,
              optimizer="rmsprop", anneal_lr=True, ent_coef=1e-5, max_grad_norm=0.5,
              hidden=(64, 64))


def main(argv=None):
    args = _run.parser(__doc__, steps=500_000, eval_episodes=20).parse_args(argv)
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
