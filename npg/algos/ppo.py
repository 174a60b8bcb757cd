"""Proximal Policy Optimization with the clipped surrogate (Schulman et al. 2017).

One update, from a rollout ``[T, N]`` collected with pi_old and V_old:

    A, y   = GAE(gamma, lambda)(rew, V_old, V_old', terminated, truncated)   (value targets y = A + V_old)
    repeat n_epochs times, over a fresh random split of the B valid steps into minibatches:
        A_n  = (A - mean A) / (std A + 1e-8)                  per minibatch (norm_adv)
        L(theta, phi) = L_clip(theta) + vf_coef L_V(phi) - ent_coef mean H(pi_theta)
        g    = grad L, clipped to global norm max_grad_norm (actor and critic together)
        Adam step with lr_k = lr (1 - progress)                (anneal_lr)
    with L_clip from ``npg.losses.clipped_surrogate`` at eps_k = clip_range (1 - progress)
    (anneal_clip) and L_V from ``npg.losses.value_loss`` (clipped with clip_range_vf if set).
    Target-KL early stopping (Stable-Baselines3's rule): before each step, if the minibatch's
    approx_kl > 1.5 target_kl the update ends without taking that step.

Implementation details follow Huang et al. (2022), "The 37 implementation details of Proximal
Policy Optimization" (ICLR blog track): orthogonal initialisation with gain sqrt(2) for hidden
layers, 0.01 for the policy head and 1 for the value head, zero biases; Adam with eps 1e-5;
separate actor and critic networks; per-minibatch advantage normalisation; global gradient
clipping; linear annealing; truncated episodes bootstrap from V(real final observation).

The gradient of one minibatch (``loss_and_grad``, tested against finite differences of the
loss it returns) is the chain rule in three layers: the loss layer (``npg.losses``) gives
d L / d logp, d L / d H and d L / d v per sample; the distribution layer (``policy.terms``)
turns the first two into d L / d dist_params; the networks' vjps do the rest.

gSDE (``use_sde=True``, Box actions; Raffin, Kober & Stulp 2022): the actor is
``npg.policies.sde.MLPSDEPolicy``, a | s ~ N(mu(s), diag(phi(s)^2 @ exp(2 L) + eps)) with
phi the mean network's last hidden layer (held constant in the variance) and L = log_std
[H, K]; the loss is the same with this density. Acting takes the noise matrices E [N, H, K]
from the caller (``act(..., noise=E)``: a = mu + phi E), which owns them
(``npg.app.sde_noise.SDENoise``, driven by ``npg.app.agent.Agent``).

The engine (``npg.engine.ppo``): where it applies (NumPy train states, a separate actor of any
of the three kinds and critic), ``update`` runs the epochs as one compiled call and ``act`` /
``value`` one compiled call per step; both agree with the reference path above to rounding
(tests/engine/test_ppo_engine*.py). ``algo.fast_path = False`` selects the reference path.
"""

from __future__ import annotations

import math

import numpy as np

from ..backend import create, device_of, get_xp, to_numpy
from ..checks import check_finite
from ..distributions import categorical, sde
from ..engine import ppo as engine
from ..losses import clipped_surrogate, entropy_loss, explained_variance, value_loss
from ..optim import Adam, VectorRun, clip_by_global_norm, clip_vectors_by_global_norm
from ..returns import gae
from ..schedules import constant
from ..values import MLPValue
from .base import (Algorithm, as_generator, check_progress, check_update_stats,
                   check_value_targets)
from .ppo_config import PPOConfig

__all__ = ["PPOConfig", "PPO"]

_HIDDEN_GAIN = math.sqrt(2.0)
_POLICY_GAIN = 0.01
_VALUE_GAIN = 1.0
_ADV_EPS = 1e-8


class PPO(Algorithm):
    """PPO with separate MLP actor (categorical or diagonal Gaussian) and MLP critic.

    Train state: ``{"policy": params, "critic": params, "opt": {"policy": adam state,
    "critic": adam state}, "step": int}`` (step = updates done); with ``shared=True`` the
    policy params are the shared trunk's (``SharedActorCritic``) and there is no "critic".
    """

    name = "ppo"
    any_namespace = True    # update and acting on any array-API module
    config_class = PPOConfig
    fast_path = True        # False: always the reference inner loop (tests compare the two)
    fast_threads = None     # 1 or 2 threads for the compiled update; None: the faster, measured

    def __init__(self, config=None, spec=None):
        super().__init__(config, spec)
        from ..policies import MLPCategoricalPolicy, MLPGaussianPolicy, SharedActorCritic
        c, s = self.config, self.spec
        self.nets = ("policy",) if c.shared else ("policy", "critic")
        if c.use_sde and s.discrete:
            raise ValueError("use_sde=True needs a Box action space (gSDE perturbs continuous "
                             "actions); this environment's is Discrete")
        if c.shared:
            if not s.discrete:
                raise ValueError("shared=True needs a Discrete action space (the shared-trunk "
                                 "actor-critic is categorical); this environment's is a Box")
            self.policy = SharedActorCritic(s.obs_dim, s.n_actions, c.hidden, c.activation,
                                            orthogonal=c.orthogonal)
            return
        if s.nvec is not None:                      # MultiDiscrete / MultiBinary actions
            if c.use_sde:
                raise ValueError("use_sde=True needs a Box action space (gSDE perturbs "
                                 "continuous actions); these are MultiDiscrete / MultiBinary")
            from ..policies.product import MLPProductPolicy
            self.policy = MLPProductPolicy.for_spec(s, c.hidden, c.activation, c.orthogonal)
        elif s.discrete:
            self.policy = MLPCategoricalPolicy(s.obs_dim, s.n_actions, c.hidden, c.activation,
                                               orthogonal=c.orthogonal)
        else:
            from ..policies.sde import MLPSDEPolicy
            gauss = MLPSDEPolicy if c.use_sde else MLPGaussianPolicy
            self.policy = gauss(s.obs_dim, s.act_dim, c.hidden, c.activation,
                                log_std_init=c.log_std_init, orthogonal=c.orthogonal)
        self.critic = MLPValue(s.obs_dim, c.hidden, c.activation)

    # ------------------------------------------------------------------ state
    def init(self, rng) -> dict:
        """Fresh train state: orthogonal (or scaled Gaussian) weights with gains sqrt(2)
        (hidden), 0.01 (policy head), 1 (value head, MLPValue's output gain); zero biases;
        log_std = log_std_init."""
        rng = as_generator(rng)
        c = self.config
        if c.shared:
            pi = self.policy.init(rng, dtype=c.dtype, gain=_HIDDEN_GAIN, pi_gain=_POLICY_GAIN,
                                  v_gain=_VALUE_GAIN)
            return {"policy": pi, "opt": {"policy": self._optimizer(c.lr).init(pi)}, "step": 0}
        pi = self.policy.init(rng, dtype=c.dtype, gain=_HIDDEN_GAIN, out_gain=_POLICY_GAIN)
        v = self.critic.init(rng, dtype=c.dtype, orthogonal=c.orthogonal, gain=_HIDDEN_GAIN)
        opt = self._optimizer(c.lr)
        return {"policy": pi, "critic": v,
                "opt": {"policy": opt.init(pi), "critic": opt.init(v)}, "step": 0}

    def _optimizer(self, lr: float) -> Adam:
        return Adam(lr=constant(lr), eps=self.config.adam_eps)

    # ------------------------------------------------------------------ the loss
    def loss_and_grad(self, params, mb, clip_range: float):
        """The PPO loss of one minibatch and its gradient.

            L = L_clip(theta; eps) + vf_coef L_V(phi) + ent_coef L_H(theta)
            L_clip = -(1/B) sum_b min(r_b A_b, clip(r_b, 1-eps, 1+eps) A_b), r = pi/pi_old
            L_V    = (1/2B) sum_b (V_phi(s_b) - y_b)^2   (or its clipped form)
            L_H    = -(1/B) sum_b H(pi_theta(. given s_b))
        with A normalised over the minibatch when ``norm_adv`` (a constant: it does not
        depend on theta).
        Gradient: grad_theta L = vjp_pi(d dist_params), d dist_params from d L / d logp
        (``clipped_surrogate``) and d L / d H (``entropy_loss``) through ``policy.terms``;
        grad_phi L = vjp_V(vf_coef d L_V / d v) (``value_loss``).

        params: {"policy": ..., "critic": ...} ({"policy": ...} when shared); mb: dict with
        obs [B, D], act [B] or [B, K], logp_old [B], adv [B], ret [B] (targets y), v_old [B];
        optional onehot [B, A] and mask [B, A]; finite arrays on the params' backend and dtype
        (``update`` builds and checks them once, so the forward passes skip their checks).
        With use_sde, phi is held constant in the variance (a stop-gradient): the gradient is
        that of L with the variance's features fixed at their current value; an optional
        mb["phi_sg"] [B, H] fixes them explicitly (tests difference the loss that way).
        Returns ``(loss, grads with the nesting of params, stats)``.
        """
        c = self.config
        obs, act, adv = mb["obs"], mb["act"], mb["adv"]
        xp = get_xp(adv)
        if c.norm_adv:
            centred = adv - xp.mean(adv)            # (A - mean A) / (std A + eps): xp.std's
            adv = centred / (xp.sqrt(xp.mean(centred * centred)) + _ADV_EPS)   # own operations
        if c.shared:
            (dist, v), both_vjp = self.policy.forward_both(params["policy"], obs, check=False)
        else:
            dist, pi_vjp = self._actor(params["policy"], obs, mb.get("phi_sg"))
            v, v_vjp = self.critic.forward(params["critic"], obs, check=False)
        logp, ent, d_dist = self.policy.terms(dist, act, mask=mb.get("mask"),
                                              onehot=mb.get("onehot"))
        loss_pi, d_logp, stats = clipped_surrogate(logp, mb["logp_old"], adv, clip_range,
                                                   check=False)
        loss_h, d_ent = entropy_loss(ent, check=False)
        vf_clip = c.clip_range_vf
        loss_v, d_v = value_loss(v, mb["ret"], mb["v_old"] if vf_clip else None, vf_clip,
                                 check=False)
        loss = loss_pi + c.vf_coef * loss_v + c.ent_coef * loss_h
        d_z = d_dist(d_logp, c.ent_coef * d_ent if c.ent_coef else None)
        if c.shared:
            grads = {"policy": both_vjp(d_z, c.vf_coef * d_v)}
        else:
            grads = {"policy": pi_vjp(d_z), "critic": v_vjp(c.vf_coef * d_v)}
        stats.update(policy_loss=float(loss_pi), value_loss=float(loss_v),
                     entropy=float(xp.mean(ent)))
        return loss, grads, stats

    def _actor(self, params, obs, phi_sg=None):
        """The actor's unchecked forward; with gSDE and ``phi_sg`` given, the variance's
        features are those (``npg.policies.sde.sde_forward``)."""
        if phi_sg is None:
            return self.policy.forward(params, obs, check=False)
        from ..policies.sde import sde_forward
        return sde_forward(params, obs, self.config.activation, phi_sg)

    # ------------------------------------------------------------------ the update
    def _batch(self, state, rollout):
        """GAE on the [T, N] rollout, then the valid steps as arrays on the params' module."""
        c = self.config
        if rollout.value is None or rollout.next_value is None:
            raise ValueError("rollout must carry value and next_value (collect with value_fn)")
        adv, ret = gae(rollout.rew, rollout.value, rollout.next_value, rollout.terminated,
                       rollout.truncated, c.gamma, c.gae_lambda)
        flat = rollout.flat(adv=adv, ret=ret)
        self.policy.check_params(state["policy"])       # the checks the inner loop skips
        self.value(state, rollout.obs[:1, 0, ...])
        like = state["policy"]["W1"]
        xp, dt = get_xp(like), like.dtype
        batch = {"obs": xp.asarray(flat["obs"], dtype=dt), "logp_old": xp.asarray(
                 flat["logp"], dtype=dt), "adv": xp.asarray(flat["adv"], dtype=dt),
                 "ret": xp.asarray(flat["ret"], dtype=dt),
                 "v_old": xp.asarray(flat["value"], dtype=dt)}
        check_finite("rollout.obs", batch["obs"])
        check_value_targets(batch["ret"], c.batch_size)    # one reduction: no inf value loss
        if self.spec.discrete:
            batch["act"] = xp.asarray(flat["act"])
            if "mask" in flat:                      # legal actions [B, A] (masked rollouts)
                batch["mask"] = xp.asarray(flat["mask"])
        elif self.spec.nvec is not None:            # product actions: ints [B, K]
            batch["act"] = xp.asarray(flat["act"])
        else:
            batch["act"] = xp.asarray(flat["act"], dtype=dt)
        return batch

    def _step(self, runs, grads) -> None:
        """Clip the global norm over all networks together (actor and critic), then one Adam
        step per network (``runs``: a ``VectorRun`` per network, stepped in place)."""
        g = [(n, v) for n in runs for v in runs[n].grad_vectors(grads[n])]
        if self.config.max_grad_norm is not None:
            try:
                clipped = clip_vectors_by_global_norm([v for _, v in g],
                                                      self.config.max_grad_norm)[0]
            except ValueError:          # the dict's error names the gradient: grads[(net, key)]
                clip_by_global_norm({(n, k): v for n in grads for k, v in grads[n].items()},
                                    self.config.max_grad_norm)
                raise
            g = [(n, v) for (n, _), v in zip(g, clipped)]
        for n, run in runs.items():
            run.step([v for m, v in g if m == n])

    def _epochs(self, params, opt_states, batch, lr, clip, rng):
        """The reference inner loop: ``n_epochs`` passes over a fresh random split of the batch
        into minibatches, each one ``loss_and_grad`` and ``_step``; stops early on target KL.
        Returns ``(params, opt_states, stat sums, steps evaluated, steps taken)``; the engine's
        ``npg.engine.ppo.update`` has the same contract. The networks and their Adam states are
        held as flat vectors for the whole loop (``npg.optim.VectorRun``: the bits of
        ``Adam.step`` at each step, without flattening the dicts at each)."""
        c = self.config
        xp, B = get_xp(batch["adv"]), int(batch["adv"].shape[0])
        dev = device_of(batch["adv"])
        n_mb = max(1, math.ceil(B / c.batch_size))
        runs = {n: VectorRun(self._optimizer(lr), params[n], opt_states[n]) for n in params}
        if self.spec.discrete and "onehot" not in batch:    # once for every minibatch's terms
            batch = dict(batch, onehot=categorical.one_hot(batch["act"], self.spec.n_actions,
                                                           batch["adv"].dtype))
        sums, n_eval, n_taken = {}, 0, 0
        for _ in range(c.n_epochs):
            for idx in np.array_split(rng.permutation(B), n_mb):
                ix = idx if xp is np else create(xp, "asarray", idx, device=dev)
                mb = {k: xp.take(v, ix, axis=0) for k, v in batch.items()}
                _, grads, st = self.loss_and_grad({n: r.params for n, r in runs.items()}, mb,
                                                  clip)
                n_eval += 1
                for k, v in st.items():
                    sums[k] = sums.get(k, 0.0) + v
                if c.target_kl is not None and st["approx_kl"] > 1.5 * c.target_kl:
                    return (*self._results(runs), sums, n_eval, n_taken)
                self._step(runs, grads)
                n_taken += 1
        return (*self._results(runs), sums, n_eval, n_taken)

    @staticmethod
    def _results(runs) -> tuple[dict, dict]:
        """``(params, opt_states)`` per network from the runs."""
        out = {n: r.result() for n, r in runs.items()}
        return {n: p for n, (p, _) in out.items()}, {n: s for n, (_, s) in out.items()}

    def update(self, state, rollout, progress, rng):
        """One PPO update from ``rollout``; returns ``(state, stats)``.

        progress in [0, 1] (fraction of training done) drives the annealing; rng (a numpy
        Generator or seed) shuffles the minibatches. Stats: approx_kl, clip_fraction, entropy,
        policy_loss, value_loss (means over the minibatch steps evaluated), explained_variance
        (of the rollout's V_old against the GAE targets), n_updates (minibatch steps taken),
        lr, clip_range.
        """
        c = self.config
        p = check_progress(progress)
        rng = as_generator(rng)
        lr = c.lr * (1.0 - p) if c.anneal_lr else c.lr
        clip = c.clip_range * (1.0 - p) if c.anneal_clip else c.clip_range
        batch = self._batch(state, self.rollout_on(state, rollout))
        B = int(batch["adv"].shape[0])
        if B == 0:
            raise ValueError("rollout has no valid steps to learn from")
        params = {net: state[net] for net in self.nets}
        if (self.fast_path and "mask" not in batch                  # masked: the reference
                and engine.applies(c, self.spec, state["policy"]) and engine.ready(self, "update")):
            threads = self.fast_threads if engine.ready(self, "parallel") else 1  # same bits
            out = engine.update(c, self.spec, params, state["opt"], batch, lr, clip, rng,
                                self._optimizer(lr), threads)
        else:
            out = self._epochs(params, state["opt"], batch, lr, clip, rng)
        params, opt_states, sums, n_eval, n_taken = out
        state = dict(state, opt=opt_states, **params)
        state["step"] = int(state.get("step", 0)) + 1
        stats = {k: v / n_eval for k, v in sums.items()}
        check_update_stats(stats, "PPO")
        stats.update(explained_variance=explained_variance(batch["v_old"], batch["ret"]),
                     n_updates=n_taken, lr=lr, clip_range=clip)
        return state, stats

    # ------------------------------------------------------------------ acting
    def _fast(self, params) -> bool:
        """Whether acting takes the engine (``npg.engine.ppo``: applies, and ready)."""
        return (self.fast_path and engine.applies(self.config, self.spec, params)
                and engine.ready(self, "acting"))

    def act(self, state, obs, rng, deterministic=False, noise=None, mask=None):
        """``Algorithm.act``, on the engine where it applies (the same draws; the mode of a Box
        policy always from the checked path, bitwise the policy's ``mode``).

        With use_sde: a = mu + phi E for ``noise`` E [M, H, K] (``npg.app.sde_noise.SDENoise``),
        a fresh draw from N(mu, v) per row when ``noise`` is None, the mean when deterministic;
        logp is log pi(a | obs) under ``npg.distributions.sde``."""
        params = state["policy"]
        if mask is not None and not self.spec.discrete:
            self.action_mask(mask, None)                    # TypeError: a mask needs Discrete
        if mask is None and (self.spec.discrete or not deterministic) and self._fast(params):
            rng = rng if deterministic else as_generator(rng)
            return engine.act(self.config, self.spec, params, obs, rng, deterministic, noise)
        if not self.config.use_sde:
            return super().act(state, obs, rng, deterministic, mask)
        mean, phi, ls = self.policy.forward(params, obs)[0]
        if deterministic:
            a = mean
        elif noise is None:
            a = sde.sample(mean, phi, ls, as_generator(rng))
        else:
            a = sde.noise_action(mean, phi, get_xp(mean).asarray(noise, dtype=mean.dtype))
        lp = to_numpy(sde.log_prob(mean, phi, ls, a))
        a = to_numpy(a)
        return np.clip(a, self.spec.act_low, self.spec.act_high).astype(a.dtype, copy=False), a, lp

    def fused_acting(self, state) -> bool:
        """True when ``act_value`` computes action and value in one compiled call."""
        return engine.fused(self.config, self.spec, state["policy"]) and self._fast(state["policy"])

    def act_value(self, state, obs, rng, mask=None):
        """``(env_action, action, logp, V(obs))``: a sampled ``act`` and ``value`` on the same
        observations, in one engine call where ``fused_acting(state)`` (same draws and numbers
        as the two calls), else the two calls."""
        if mask is not None or not self.fused_acting(state):
            return (*self.act(state, obs, rng, mask=mask), self.value(state, obs))
        return engine.act_value(self.config, self.spec, state["policy"], state["critic"], obs,
                                as_generator(rng))

    def rollout_plan(self, state, rng):
        """What a whole rollout in one compiled call needs (``npg.engine.rollout_cartpole``,
        used by ``Collector.collect`` where the environment allows it), or None: only where
        ``fused_acting(state)``; the same draws from ``rng`` as ``act_value`` per step."""
        if not self.fused_acting(state) or not engine.ready(self, "rollout"):
            return None
        return engine.rollout_plan(self.config, self.spec, state["policy"], state["critic"],
                                   as_generator(rng))

    def value(self, state, obs):
        """V(obs) [M] (NumPy): the critic's, or the shared trunk's value head."""
        if self._fast(state["policy"]):
            return engine.value(self.config, self.spec, state["critic"], obs)
        if not self.config.shared:
            return super().value(state, obs)
        return to_numpy(self.policy.value(state["policy"], obs))
