"""``SDENoise``: the exploration matrices of gSDE, part of the *acting* loop's state.

gSDE (``npg.distributions.sde``) acts with a = mu(s) + phi(s) E_n for environment n, holding
the noise matrix E_n [H, K] fixed for several steps, so that exploration is smooth in time.
The schedule follows Stable-Baselines3's PPO: new matrices at the start of every rollout and,
when ``sample_freq > 0``, every ``sample_freq`` steps within it:

    t = (acting steps so far) mod n_steps          (the step's index within its rollout)
    resample E ~ N(0, exp(L)^2) elementwise  when  t = 0  or  (sample_freq > 0 and t mod
                                                                 sample_freq = 0)

The object is created and driven by ``npg.app.agent.Agent`` (one ``matrices`` call per acting
step of ``learn``); algorithms hold hyperparameters only and receive E as ``noise``. It is
not saved: a restored agent resumes at a rollout boundary, where E is redrawn anyway.
"""

from __future__ import annotations

from ..checks import check_positive_int
from ..distributions import sde
from ..distributions.gaussian import clip_log_std

__all__ = ["SDENoise"]


class SDENoise:
    """Noise matrices E [n_envs, H, K] and the step count that schedules their resampling.

    n_envs, n_steps: the rollout's N and T; sample_freq: -1 (only at rollout starts) or a
    positive int (also every ``sample_freq`` steps).
    """

    def __init__(self, n_envs: int, n_steps: int, sample_freq: int = -1):
        self.n_envs = check_positive_int("n_envs", n_envs)
        self.n_steps = check_positive_int("n_steps", n_steps)
        if sample_freq != -1:
            check_positive_int("sample_freq", sample_freq)
        self.sample_freq = int(sample_freq)
        self.count = 0
        self.noise = None

    def __repr__(self):
        return (f"SDENoise(n_envs={self.n_envs}, n_steps={self.n_steps}, "
                f"sample_freq={self.sample_freq})")

    def due(self) -> bool:
        """Whether the next acting step draws new matrices."""
        t = self.count % self.n_steps
        return (self.noise is None or t == 0
                or (self.sample_freq > 0 and t % self.sample_freq == 0))

    def matrices(self, log_std, rng):
        """E [n_envs, H, K] for this acting step (redrawn from exp(clip(log_std)) and the
        numpy Generator ``rng`` when due); advances the step count."""
        if self.due():
            self.noise = sde.sample_noise(clip_log_std(log_std), self.n_envs, rng)
        self.count += 1
        return self.noise
