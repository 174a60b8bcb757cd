"""The named records the compiled PPO update passes around (instead of positional arrays).

``Hyper``     the hyperparameters of one update, a namedtuple of floats (Numba reads its fields
              by name: ``hp.clip``, ``hp.max_norm``, ...). "Off" settings are encoded so that
              the kernels need no Optional: vf_clip <= 0 and max_norm <= 0 mean off, kl_stop =
              inf means no target-KL early stop.
``STEP_STATS`` the structured dtype of one minibatch step's losses and statistics; the update
              keeps one row per step evaluated (``out.approx_kl`` etc. inside the kernels).
``LAYER``     the structured dtype of one dense layer of a network inside the flat theta:
              offsets of W [n_in, n_out] and b [n_out], the sizes, and the offset of its
              [rows, n_out] block in an activation buffer (``npg.engine.mlp.net_table``).
``ACTORS``    the actor distributions the compiled loop knows: categorical logits, a diagonal
              Gaussian with state-independent log_std [K], and gSDE (``npg.distributions.sde``).
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np

__all__ = ["Hyper", "hyper", "STEP_STATS", "STAT_KEYS", "LAYER", "ACTORS", "CATEGORICAL",
           "GAUSSIAN", "GSDE"]

Hyper = namedtuple("Hyper", ["clip", "ent_coef", "vf_coef", "vf_clip", "norm_adv", "max_norm",
                             "kl_stop", "lr", "b1", "b2", "eps"])
Hyper.__doc__ = """PPO's hyperparameters for one update (all floats).

clip      eps of the clipped surrogate at this update (annealed by the caller)
ent_coef  entropy-bonus coefficient;   vf_coef  value-loss coefficient
vf_clip   clip of the value loss around V_old (<= 0: unclipped)
norm_adv  1.0: normalise advantages per minibatch, 0.0: not
max_norm  global gradient-norm clip (<= 0: no clipping)
kl_stop   stop before a step whose approx_kl exceeds this (1.5 target_kl; inf: never)
lr, b1, b2, eps   Adam's step size (annealed by the caller), decay rates and epsilon"""


def hyper(config, lr: float, clip: float, adam) -> Hyper:
    """The ``Hyper`` of a ``PPOConfig`` at learning rate ``lr`` and clip range ``clip``, with
    the decay rates and epsilon of ``adam`` (an ``npg.optim.Adam``)."""
    c = config
    return Hyper(float(clip), float(c.ent_coef), float(c.vf_coef),
                 -1.0 if c.clip_range_vf is None else float(c.clip_range_vf),
                 float(c.norm_adv), -1.0 if c.max_grad_norm is None else float(c.max_grad_norm),
                 np.inf if c.target_kl is None else 1.5 * float(c.target_kl), float(lr),
                 float(adam.b1), float(adam.b2), float(adam.eps))


STAT_KEYS = ("loss", "policy_loss", "value_loss", "entropy_loss", "approx_kl", "clip_fraction",
             "entropy")
STEP_STATS = np.dtype([(k, np.float64) for k in STAT_KEYS])
"""loss = policy_loss + vf_coef value_loss + ent_coef entropy_loss (L_clip, L_V, L_H = -mean H),
approx_kl = mean (r - 1) - log r, clip_fraction = mean [|r - 1| > eps], entropy = mean H."""

#: The structured dtype of one dense layer inside the flat theta: offsets of W [n_in, n_out] and
#: b [n_out], the sizes, and the offset of its [rows, n_out] block in an activation buffer.
LAYER = np.dtype([("w", np.int64), ("b", np.int64), ("n_in", np.int64), ("n_out", np.int64),
                  ("h", np.int64)])

CATEGORICAL, GAUSSIAN, GSDE = 0, 1, 2
ACTORS = {"categorical": CATEGORICAL, "gaussian": GAUSSIAN, "gsde": GSDE}
