"""CartPole-v0 with REINFORCE and a linear categorical policy on 32 parallel environments.

pi(a | s) = softmax(W^T [1, s] )_a with W [5, 2]: a log-linear policy on the raw 4-dimensional
state plus a bias. Each update takes T = 200 steps (the v0 episode cap) from 32 copies and
descends
    L = -(1/B) sum_t gamma^t G_t log pi(a_t | s_t),   G_t the reward-to-go,
with Adam at learning rate 0.1. Episodes that straddle two rollouts wait in the buffer until
they finish, so every return is a complete-episode return.

Expected outcome (seed 0, default budget): the mean return of the last 20 training episodes
climbs from about 20 to the v0 cap of 200 (at about 256,000 env steps; seeds 0-4: 230,000 to
390,000), and the greedy policy balances for all 200 steps.

    python examples/04_cartpole_linear_reinforce.py [--steps 400000] [--seed 0]
"""

from __future__ import annotations

import warnings

import _run
from npg.app.agent import Agent

CONFIG = dict(policy="linear", n_envs=32, n_steps=200, gamma=0.99, lr=0.1, optimizer="adam",
              returns="reward_to_go")


def main(argv=None):
    args = _run.parser(__doc__, steps=400_000, eval_episodes=20).parse_args(argv)
    with warnings.catch_warnings():          # gymnasium flags v0 as out of date; it is the point
        warnings.simplefilter("ignore", DeprecationWarning)
        agent = Agent("CartPole-v0", "reinforce", CONFIG, seed=args.seed)
        agent.learn(args.steps, progress=not args.quiet)
        returns = agent.evaluate(args.eval_episodes)
    _run.report("CartPole-v0 linear REINFORCE", agent, returns)
    print(f"mean of the last 100 training episodes: {agent.mean_return(100):.1f}")
    return returns.mean()


if __name__ == "__main__":
    main()
