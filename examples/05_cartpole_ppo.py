"""CartPole-v1 with PPO at the well-known tuned settings (rl-baselines3-zoo).

8 environments x 32 steps per rollout, one minibatch of 256, 20 epochs, gamma 0.98,
GAE lambda 0.8, Adam at lr 1e-3 and clip range 0.2, both annealed linearly to 0, no entropy
bonus; separate 64-64 tanh actor and critic with orthogonal initialisation (npg.algos.ppo).

Expected outcome: the mean of the last 20 training episodes passes 475 within 50,000 env steps
(``python benchmarks/learning.py --tasks cartpole_ppo``, PPOConfig's defaults, vf_coef 1.0:
float64 seeds 0-4 at 24,576 / 39,168 / 29,184 / 38,400 / 31,232 steps, seeds 5-9 at
26,880-39,680, float32 seeds 0-4 at 24,064-36,864), and the greedy policy then balances for the
full 500 steps.

    python examples/05_cartpole_ppo.py [--steps 50000] [--seed 0] [--float32]
"""

from __future__ import annotations

import _run
from npg.app.agent import Agent

CONFIG = dict(n_envs=8, n_steps=32, batch_size=256, n_epochs=20, gamma=0.98, gae_lambda=0.8,
              lr=1e-3, clip_range=0.2, anneal_lr=True, anneal_clip=True, ent_coef=0.0)


def main(argv=None):
    p = _run.parser(__doc__, steps=50_000, eval_episodes=20)
    p.add_argument("--float32", action="store_true", help="train in float32 (faster)")
    args = p.parse_args(argv)
    config = dict(CONFIG, dtype="float32" if args.float32 else "float64")
    agent = Agent("CartPole-v1", "ppo", config, seed=args.seed)
    agent.learn(args.steps, progress=not args.quiet)
    returns = agent.evaluate(args.eval_episodes)
    _run.report("CartPole-v1 PPO", agent, returns)
    print(f"mean of the last 20 training episodes: {agent.mean_return(20):.1f}")
    return returns.mean()


if __name__ == "__main__":
    main()
