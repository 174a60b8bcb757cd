"""FrozenLake 4x4 (slippery) with a Q actor-critic: a softmax policy and a state-action critic
updated SARSA-style at every step.

Per transition (s, a, r, s', a'), as gradient steps on (npg.algos.q_actor_critic)
    critic  (1/2) (Q_w(s, a) - y)^2,   y = r + gamma Q_w(s', a')   (0 at a terminal s')
    actor   -(Q_w(s, a) - V(s)) log pi(a | s),   V(s) = sum_b pi(b | s) Q_w(s, b)
(the actor's weight is the critic's Q with the policy's own average subtracted, which keeps
the update centred; the weights are constants). Policy and critic are linear in the features
[1, onehot(s)], i.e. tabular; 8 copies step in parallel, with an update (Adam) after every
vector step.

Expected outcome (seed 0, default budget): the training success rate passes 0.7 after about
40,000 env steps and the greedy policy succeeds in about 0.73 of the evaluation episodes
(optimum 0.744).

    python examples/02_frozenlake_q_actor_critic.py [--steps 100000] [--seed 0]
"""

from __future__ import annotations

import _run
from npg.app.agent import Agent

CONFIG = dict(policy="linear", n_envs=8, n_steps=1, gamma=0.99, lr=1e-2, critic_lr=5e-2,
              optimizer="adam", baseline=True)


def main(argv=None):
    args = _run.parser(__doc__, steps=100_000, eval_episodes=1000).parse_args(argv)
    agent = Agent("FrozenLake-v1", "qac", CONFIG, seed=args.seed)
    agent.learn(args.steps, progress=not args.quiet)
    success = agent.evaluate(args.eval_episodes)
    _run.report("FrozenLake Q actor-critic", agent, success, "success rate")
    return success.mean()


if __name__ == "__main__":
    main()
