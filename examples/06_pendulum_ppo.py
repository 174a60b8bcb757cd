"""Pendulum-v1 with PPO and generalised state-dependent exploration (gSDE).

The policy's mean is a 64-64 tanh MLP mu(s); exploration is a = mu(s) + phi(s) E, phi(s) the
mean network's last hidden layer and E [64, 1] a noise matrix per environment with entries
N(0, exp(L_ik)^2), redrawn every 4 steps and at the start of each rollout (Raffin, Kober &
Stulp 2022; npg.policies.sde, npg.app.sde_noise). log pi is that of the marginal N(mu(s),
phi(s)^2 @ exp(2L)); the sampled (unclipped) action gives log pi, the environment gets it
clipped to [-2, 2]. Settings: rl-baselines3-zoo's tuned Pendulum PPO (4 envs x 1024 steps,
minibatches of 64, 10 epochs, gamma 0.9, lambda 0.95, constant lr 1e-3 and clip 0.2, no
entropy bonus, use_sde with sde_sample_freq 4, SB3's default log_std_init 0.0; npg's vf_coef
1.0 is SB3's 0.5).

Expected outcome (benchmarks/learning.py, seeds 0-4): the mean return of the last 20 episodes
rises from about -1200 (random) to -200 at 73,728 / 94,208 / 53,248 / 49,152 / 61,440 env
steps: 5 of 5 seeds within 100k; trained on to 102,400 steps (--full), the best means of 20
are -169 / -167 / -165 / -147 / -163. With plain Gaussian exploration instead (use_sde=False,
log_std [1], lr and clip annealed, vf_coef 0.5), 3 of 5 seeds passed -200 by 102,400 steps
and the other two peaked near -210 and -226.

    python examples/06_pendulum_ppo.py [--steps 100000] [--seed 0]
"""

from __future__ import annotations

import _run
from npg.app.agent import Agent

CONFIG = dict(n_envs=4, n_steps=1024, batch_size=64, n_epochs=10, gamma=0.9, gae_lambda=0.95,
              lr=1e-3, anneal_lr=False, clip_range=0.2, anneal_clip=False, ent_coef=0.0,
              log_std_init=0.0, vf_coef=1.0, use_sde=True, sde_sample_freq=4)


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
