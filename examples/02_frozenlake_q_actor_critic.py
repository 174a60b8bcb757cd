"""FrozenLake 4x4 (slippery) with a Q actor-critic: a softmax policy and a state-action critic
updated SARSA-style at every step.

Per transition (s, a, r, s', a'):
    critic  Q(s, a) <- Q(s, a) + beta (r + gamma Q(s', a') - Q(s, a))   (0 at a terminal s')
    actor   theta   <- theta + alpha Q(s, a) grad log pi(a | s)
Both are the tabular special case of npg's MLP-free "linear" policy and critic on one-hot
states (linear in the features [1, onehot(s)]), with 8 copies stepping in parallel and an
update after every vector step.

Expected outcome (seed 0, default budget): a greedy success rate around 0.7 over 1000
evaluation episodes (optimum 0.744).

    python examples/02_frozenlake_q_actor_critic.py [--steps 200000] [--seed 0]
"""

from __future__ import annotations

import _run
from npg.agent import Agent

CONFIG = dict(policy="linear", n_envs=8, n_steps=1, gamma=0.99, lr=0.05, critic_lr=0.1,
              optimizer="sgd")


def main(argv=None):
    args = _run.parser(__doc__, steps=200_000, eval_episodes=1000).parse_args(argv)
    agent = Agent("FrozenLake-v1", "qac", CONFIG, seed=args.seed)
    agent.learn(args.steps, progress=not args.quiet)
    success = agent.evaluate(args.eval_episodes)
    _run.report("FrozenLake Q actor-critic", agent, success, "success rate")
    return success.mean()


if __name__ == "__main__":
    main()
