"""``Agent(device=...)`` against the CPU agent: PPO training throughput on CartPole-v1.

Rows: one per hidden width H (two tanh layers of H units), each with three columns of
environment steps per second of ``agent.learn``:

* ``numpy engine``     ``Agent(...)``, the default (NumPy, PPO's compiled update and acting);
* ``numpy reference``  the same agent on the reference path (``algo.fast_path = False``), i.e.
                       the code a device agent runs, on NumPy;
* ``cuda reference``   ``Agent(..., device="cuda")`` (CuPy); "not measured" without CuPy and a
                       GPU: no figure is invented for it.

    python benchmarks/device_agent.py                       # H = 64, 256; 4096 steps each
    python benchmarks/device_agent.py --hidden 64,1024,4096 --steps 16384 --n-envs 16

Config: n_envs (default 8) x n_steps 256 per rollout, minibatch 512, n_epochs 4, float64.
Timing: one rollout of warm-up (compilation, CuPy kernel caches) and then the wall-clock time of
``learn(--steps)``; CuPy work is synchronised by the per-step copies of the actions to the host.
"""

from __future__ import annotations

import argparse
import time

from npg.app.agent import Agent
from npg.backend import cupy_available


def _rate(hidden: int, device, reference: bool, steps: int, n_envs: int) -> float:
    config = dict(n_envs=n_envs, n_steps=256, batch_size=512, n_epochs=4,
                  hidden=(hidden, hidden))
    agent = Agent("CartPole-v1", "ppo", config, seed=0, device=device)
    if reference:
        agent.algo.fast_path = False
    agent.learn(n_envs * 256, progress=False)                      # warm-up
    t0 = time.perf_counter()
    agent.learn(steps, progress=False)
    wall = time.perf_counter() - t0
    agent.close()
    return steps / wall


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--hidden", default="64,256", help="comma-separated hidden widths")
    p.add_argument("--steps", type=int, default=4096, help="env steps timed per cell")
    p.add_argument("--n-envs", type=int, default=8)
    a = p.parse_args(argv)
    gpu = cupy_available()
    print(f"PPO on CartPole-v1, {a.n_envs} envs x 256 steps, minibatch 512, 4 epochs, "
          f"float64; env steps / s over {a.steps} steps")
    print(f"{'hidden':>8} {'numpy engine':>14} {'numpy reference':>16} {'cuda reference':>16}")
    for h in (int(x) for x in a.hidden.split(",")):
        eng = _rate(h, None, False, a.steps, a.n_envs)
        ref = _rate(h, None, True, a.steps, a.n_envs)
        cuda = f"{_rate(h, 'cuda', True, a.steps, a.n_envs):16,.0f}" if gpu else \
            f"{'not measured':>16}"
        print(f"{h:>8} {eng:14,.0f} {ref:16,.0f} {cuda}")
    if not gpu:
        print("no CuPy or no GPU here: the cuda column is not measured")


if __name__ == "__main__":
    main()
