"""Pendulum-v1 with PPO and a diagonal-Gaussian MLP policy.

a ~ N(mu_theta(s), diag(exp(2 log_std))) with a 64-64 tanh mean network and a state-independent
log_std; the sampled (unclipped) action gives log pi, the environment gets it clipped to
[-2, 2]. Settings after rl-baselines3-zoo's Pendulum PPO (4 envs x 1024 steps, minibatches of
64, 10 epochs, gamma 0.9, lambda 0.95, lr 1e-3) but with plain Gaussian exploration instead of
generalised state-dependent exploration (gSDE), and the clip range annealed.

Expected outcome (seed 0, default budget): the mean return of the last 20 episodes rises from
about -1200 (random) to -200 at about 94,000 env steps. Over seeds 0-4 (benchmarks/learning.py)
3 of 5 pass -200 by 102,400 steps (25 rollouts); the other two peak near -210 and -226.

    python examples/06_pendulum_ppo.py [--steps 100000] [--seed 0]
"""

from __future__ import annotations

import _run
from npg.agent import Agent

CONFIG = dict(n_envs=4, n_steps=1024, batch_size=64, n_epochs=10, gamma=0.9, gae_lambda=0.95,
              lr=1e-3, clip_range=0.2, ent_coef=0.0, log_std_init=0.0, vf_coef=0.5)


def main(argv=None):
    args = _run.parser(__doc__, steps=100_000, eval_episodes=20).parse_args(argv)
    agent = Agent("Pendulum-v1", "ppo", CONFIG, seed=args.seed)
    agent.learn(args.steps, progress=not args.quiet)
    returns = agent.evaluate(args.eval_episodes)
    _run.report("Pendulum-v1 PPO", agent, returns)
    print(f"mean of the last 20 training episodes: {agent.mean_return(20):.1f}")
    return returns.mean()


if __name__ == "__main__":
    main()
