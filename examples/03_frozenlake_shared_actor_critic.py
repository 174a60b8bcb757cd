"""FrozenLake 4x4 (slippery) with a shared-trunk actor-critic and 5-step traces.

One network, one-hot state -> tanh trunk -> (policy logits, value). Every 5 steps of each of
the 8 copies it forms the n-step targets
    G_t^(5) = r_t + gamma r_{t+1} + ... + gamma^{k-1} r_{t+k-1} + gamma^k V(s_{t+k})
(k <= 5, cut at episode ends: terminated adds nothing, truncated bootstraps from the real
final state) and descends
    L = -(1/B) sum_t A_t log pi(a_t | s_t) + vf_coef (1/2B) sum_t (V(s_t) - G_t)^2,
    A_t = G_t - V(s_t) held constant,
through the shared trunk (npg.policies.SharedActorCritic).

Expected outcome (seed 0, default budget): the training success rate passes 0.55 after about
60,000 env steps and the greedy policy succeeds in about 0.73 of the evaluation episodes
(optimum 0.744).

    python examples/03_frozenlake_shared_actor_critic.py [--steps 300000] [--seed 0]
"""

from __future__ import annotations

import _run
from npg.app.agent import Agent

CONFIG = dict(shared=True, hidden=(32,), n_envs=8, n_steps=5, n_step=5, gamma=0.99,
              lr=3e-3, vf_coef=0.5, ent_coef=0.01)


def main(argv=None):
    args = _run.parser(__doc__, steps=300_000, eval_episodes=1000).parse_args(argv)
    agent = Agent("FrozenLake-v1", "ac", CONFIG, seed=args.seed)
    agent.learn(args.steps, progress=not args.quiet)
    success = agent.evaluate(args.eval_episodes)
    _run.report("FrozenLake shared actor-critic", agent, success, "success rate")
    return success.mean()


if __name__ == "__main__":
    main()
