"""Off-policy actor-critic with V-trace: exact truncation bias on a finite MDP, then CartPole
learned from the data of a lagged behaviour policy.

Part 1 (exact, ``npg.mdp.vtrace``): on a random 6-state MDP with a behaviour mu and a target pi,
the V-trace operator's fixed point is V^{pi_rho_bar} (Espeholt et al. 2018, theorem 1) whatever
c_bar; the table prints, for several rho_bar, the distance of the fixed point from V^pi and
V^mu and the cosine between the expected V-trace actor step and the untruncated one (the
truncation bias, exactly). rho_bar = inf recovers V^pi; rho_bar -> 0 tends to V^mu.

Part 2 (sampled, ``npg.algos.OffPolicyActorCritic``): CartPole-v1, 8 envs x 32 steps, the
behaviour a copy of the learner refreshed every ``--lag`` updates (the rollout's logp is
log mu), rho_bar = c_bar = 1, Adam lr 1e-3 for actor and critic, entropy bonus 0.01.

Expected outcome (seed 0, measured on 2 shared CPU cores, about 1 min): part 1 prints
max |V_rhobar - V^pi| falling from 2.74 (rho_bar = 0.01, where the fixed point is V^mu to
1e-4) through 0.91 (rho_bar = 1) to 0 (inf), the fixed-point residual |R V_rb - V_rb| below
1e-15, and the cosine between the truncated and untruncated expected actor steps rising from
0.74 to 1. Part 2 with the default 100,000 steps and lag 4: mean of the last 20 training
episodes 469.9, greedy evaluation 500 (the cap) over 10 episodes (seed 1 of
benchmarks/traces_learning.py: 408.1).

    python examples/21_offpolicy_vtrace.py [--steps 100000] [--lag 4] [--seed 0]
"""

from __future__ import annotations

import math

import numpy as np

import _run
import npg.mdp as M
from npg.app.agent import Agent
from npg.mdp.vtrace import truncated_target_policy, vtrace_operator, vtrace_policy_gradient
from npg.params import flatten
from npg.policies import TabularSoftmaxPolicy

CONFIG = dict(n_envs=8, n_steps=32, gamma=0.99, lr=1e-3, critic_lr=1e-3, rho_bar=1.0,
              c_bar=1.0, vf_coef=0.5, ent_coef=0.01, hidden=(64, 64))


def exact_table(seed: int = 0, levels=(0.01, 0.1, 0.5, 1.0, 2.0, math.inf)):
    """Rows (rho_bar, |V_rb - V^pi|_inf, |V_rb - V^mu|_inf, fixed-point residual, cosine)."""
    rng = np.random.default_rng(seed)
    mdp = M.random_mdp(6, 3, rng, gamma=0.9)
    pol = TabularSoftmaxPolicy(6, 3)
    params = {"theta": 2.0 * rng.normal(size=(6, 3))}
    pi = M.policy_matrix(pol, params, np.arange(6))
    mu = rng.dirichlet(np.ones(3), 6)
    V_pi, V_mu = M.evaluate(mdp, pi)[0], M.evaluate(mdp, mu)[0]
    g_inf = flatten(vtrace_policy_gradient(mdp, pol, params, mu, 20, math.inf))
    rows = []
    for rb in levels:
        V_rb = M.evaluate(mdp, truncated_target_policy(pi, mu, rb))[0]
        resid = np.max(np.abs(vtrace_operator(mdp, pi, mu, V_rb, rb, min(rb, 1.0)) - V_rb))
        g = flatten(vtrace_policy_gradient(mdp, pol, params, mu, 20, rb))
        cos = float(g @ g_inf / (np.linalg.norm(g) * np.linalg.norm(g_inf)))
        rows.append((rb, float(np.max(np.abs(V_rb - V_pi))), float(np.max(np.abs(V_rb - V_mu))),
                     float(resid), cos))
    return rows


def main(argv=None):
    p = _run.parser(__doc__, steps=100_000, eval_episodes=10)
    p.add_argument("--lag", type=int, default=4, help="behaviour refreshed every LAG updates")
    args = p.parse_args(argv)
    rows = exact_table(args.seed)
    print("rho_bar  |V_rb-V^pi|  |V_rb-V^mu|  |R V_rb - V_rb|  cos(step, untruncated)")
    for rb, d_pi, d_mu, resid, cos in rows:
        print(f"{rb:7.2f}  {d_pi:11.4f}  {d_mu:11.4f}  {resid:15.2e}  {cos:10.4f}")
    agent = Agent("CartPole-v1", "vtrace", {**CONFIG, "behaviour_lag": args.lag},
                  seed=args.seed)
    agent.learn(args.steps, progress=not args.quiet)
    returns = agent.evaluate(args.eval_episodes)
    _run.report("CartPole-v1 V-trace actor-critic (lagged behaviour)", agent, returns)
    print(f"mean of the last 20 training episodes: {agent.mean_return(20):.1f}")
    return {"exact": rows, "mean_return": agent.mean_return(20), "eval": float(returns.mean())}


if __name__ == "__main__":
    main()
