"""The online actor-critics on the engine: one environment, one compiled update per step.

``npg.algos.ActorCritic`` and ``npg.algos.QActorCritic`` (either critic: Q(s, .) in one pass, or
the pair critic Q(s, a) = mlp([s, onehot(a)]), ``online_pair``) with ``n_envs = n_steps = 1``
update after every environment step (Sutton & Barto 2018, sec. 13.5). Through the generic loop
(the collector, a rollout of one step, the checked networks and optimizers) a step costs ~4 ms,
of which the arithmetic is a few microseconds. ``OnlineLearner`` is that loop's compiled twin:
per step, one stepper call on the single environment (``online_env``), one encoding of the
observation, and one kernel call (``online_kernels``) that does the critic's TD update, the
actor's update and the optimizer step; one more kernel call draws the next action. The draws are
the reference's: the Gumbel noise of ``categorical.sample`` from the same Generator, drawn in
blocks and rewound to the exact count used when the learner closes.

Semantics are the collector's (``npg.envs.rollout``) and the updaters': the step after an
episode's end is a phantom (its action drawn and ignored, no update); a terminated step never
bootstraps; a truncated one bootstraps from V(real final observation); episode returns and
lengths as ``episode_stats`` sums them. ``applies(algo, collector)`` says why a configuration
is not covered (the reference path then runs).

    learner = OnlineLearner(algo, state, collector, act_rng)
    stats, episode = learner.step(progress)    # one env step and its update (stats None on
                                               # a phantom step); episode: (return, length)
    state = learner.sync()                     # train state, collector carry, env, rng synced
"""

from __future__ import annotations

import math

import numpy as np

from ..algos import ActorCritic, QActorCritic
from ..algos.traces import ActorCriticLambda
from ..envs.spaces import has_mask_key, policy_obs_space, single_spaces
from ..features import Polynomial
from ..policies import LinearSoftmaxPolicy, MLPCategoricalPolicy
from ..values import LinearQ, LinearValue, MLPQ, MLPValue
from ..values_sa import MLPStateActionQ
from .flat import FlatLayout
from . import online_env
from . import online_kernels as K
from .online_pair import online_step_qac_pair
from .online_traces import online_step_lambda

__all__ = ["applies", "OnlineLearner"]

_BLOCK = 1024                     # Gumbel rows drawn per Generator call


def _net_reason(net, kind: str) -> str | None:
    if isinstance(net, (MLPCategoricalPolicy, MLPValue, MLPQ, MLPStateActionQ)):
        return None if net.activation in K.ACT_CODES else f"activation {net.activation!r}"
    if isinstance(net, (LinearSoftmaxPolicy, LinearValue, LinearQ)):
        phi = net.features
        if isinstance(phi, Polynomial) and phi.degree == 1:
            return None
        return f"{kind} features {phi!r} (only Polynomial(obs_dim, 1))"
    return f"{kind} {type(net).__name__}"


def applies(algo, collector) -> str | None:
    """None when ``OnlineLearner`` runs this algorithm exactly as its reference loop would,
    else the reason it does not (then the reference path runs)."""
    c = algo.config
    if type(algo) not in (ActorCritic, QActorCritic, ActorCriticLambda) and not (
            isinstance(algo, ActorCritic) and type(algo).update is ActorCritic.update):
        return f"no online engine for {type(algo).__name__}"
    if c.n_envs != 1 or c.n_steps != 1:
        return "the online engine needs n_envs = n_steps = 1 (one update per env step)"
    if not algo.spec.discrete:
        return "the online engine covers Discrete actions only"
    if c.dtype != "float64":
        return "the online engine computes in float64 only"
    if getattr(c, "shared", False) or getattr(c, "n_step", None) is not None:
        return "shared-trunk and n-step actor-critics run on the reference path"
    if collector.obs_normalizer is not None or collector.reward_scaler is not None:
        return "observation / reward normalisers run on the reference path"
    if collector.autoreset_mode.name != "NEXT_STEP":
        return "the online engine follows NEXT_STEP autoreset only"
    carry = collector.carry_state()
    obs_space = single_spaces(collector.envs)[0]
    if has_mask_key(obs_space) or (carry is not None and "mask" in carry):
        return "action masks run on the reference path"
    for net, kind in ((algo.policy, "policy"), (algo.critic, "critic")):
        why = _net_reason(net, kind)
        if why is not None:
            return f"the online engine does not cover the {why}"
    return None


def _entries(layout, group: str, net) -> list:
    """(w_off, b_off, n_in, n_out) per layer of ``net``'s slice of the flat layout."""
    ent = {k: (shape, start) for g, k, shape, start, _ in layout.entries if g == group}
    if isinstance(net, (LinearSoftmaxPolicy, LinearValue, LinearQ)):
        (shape, start), = ent.values()                 # theta [D + 1, A] or w [D + 1]
        n_out = shape[1] if len(shape) == 2 else 1
        return [(start + n_out, start, shape[0] - 1, n_out)]
    out, l = [], 1
    while f"W{l}" in ent:
        (n_in, n_out), w0 = ent[f"W{l}"]
        out.append((w0, ent[f"b{l}"][1], n_in, n_out))
        l += 1
    return out


def _hyper(config) -> list:
    """The floats ``online_kernels.HYPER`` (Adam's b1, b2, eps and RMSprop's alpha 0.99, eps
    1e-5 as ``npg.algos._common.make_optimizer`` builds them; max_grad_norm 0 for none; the
    trace decays gamma lambda of actor-critic(lambda))."""
    g = float(config.gamma)
    return [g, float(getattr(config, "vf_coef", 1.0)), float(getattr(config, "ent_coef", 0.0)),
            float(config.max_grad_norm or 0.0), 0.9, 1.0 - 0.9, 0.999, 1.0 - 0.999, 1e-8, 0.99,
            1.0 - 0.99, 1e-5, g * float(getattr(config, "lam", 0.0)),
            g * float(getattr(config, "critic_lam", 0.0))]


class OnlineLearner:
    """The compiled twin of the one-env, one-step learning loop (module docstring).

    Everything the kernels touch lives in one float workspace ``ws`` (hyperparameters, flat
    theta, gradient, optimizer moments, activations, the two observation rows, statistics,
    a block of Gumbel draws) and one integer record ``ix`` (sizes, codes, layer tables), so a
    step is one compiled call with two arrays and a few scalars."""

    def __init__(self, algo, state: dict, collector, act_rng, block: int = _BLOCK):
        self.algo, self.collector, self.rng, self.block = algo, collector, act_rng, int(block)
        self.kind = ("qac" if isinstance(algo, QActorCritic) else
                     "ac_lambda" if isinstance(algo, ActorCriticLambda) else "ac")
        pair = isinstance(algo.critic, MLPStateActionQ)
        self._kernel = {"ac": K.online_step_ac, "ac_lambda": online_step_lambda,
                        "qac": online_step_qac_pair if pair else K.online_step_qac}[self.kind]
        c = algo.config
        self.layout = lay = FlatLayout.of({"policy": state["policy"],
                                           "critic": state["critic"]})
        self.bufs_names = {"adam": ("m", "v"), "rmsprop": ("v",), "sgd": ()}[c.optimizer]
        if self.kind == "ac_lambda":              # plain SGD ascent along the traces (in m)
            self.bufs_names = ()
        self.A = int(algo.spec.n_actions)
        self.ix = self._record(algo, lay)
        self.ws = np.zeros(K.workspace_size(self.ix))
        self.w = K.views(self.ws, self.ix)
        self.w.hp[:] = _hyper(c)
        self.lrs, self.anneal = (float(c.lr), float(c.critic_lr)), bool(c.anneal_lr)
        self._env_steps = 0                 # steps not yet added to the collector's count
        self.load_state(state)
        self._setup_env()
        self._gumbel_start()

    def _record(self, algo, lay) -> np.ndarray:
        c = algo.config
        net_pi, n_pi = K.layer_table(_entries(lay, "policy", algo.policy))
        net_c, n_c = K.layer_table(_entries(lay, "critic", algo.critic))
        wide = int(max(net_pi[:, 2:4].max(), net_c[:, 2:4].max()))
        split = sum(e[4] - e[3] for e in lay.entries if e[0] == "policy")
        code = K.ACT_CODES[getattr(algo.policy, "activation", None)      # one code: a linear
                           or getattr(algo.critic, "activation", "tanh")]   # policy has none
        head = dict(P=lay.size, SPLIT=split, D=int(algo.spec.obs_dim), A=self.A,
                    BLOCK=self.block, L_PI=len(net_pi), L_C=len(net_c), N_PI=n_pi, N_C=n_c,
                    WIDE=wide, N_OUT_C=int(net_c[-1, 3]), KIND=int(self.kind == "qac"),
                    CODE=code, OPT=K.OPT_CODES[c.optimizer],
                    BASELINE=int(bool(getattr(c, "baseline", False))),
                    REPLACING=int(getattr(c, "trace", "") == "replacing"))
        return np.concatenate([np.array([head[f] for f in K.IX_FIELDS], np.int64),
                               net_pi.reshape(-1), net_c.reshape(-1)])

    def load_state(self, state: dict) -> None:
        """Take the networks' parameters, the optimizers' state and the step count from the
        train state ``state`` (copies); the next action is recomputed."""
        params = {"policy": state["policy"], "critic": state["critic"]}
        lay, w = self.layout, self.w
        w.theta[:] = lay.pack(params)
        self.step_count = int(state["step"])
        self._pending = None
        if self.kind == "ac_lambda":
            w.m[:] = lay.pack({net: {k: z[0] for k, z in tr.items()}
                               for net, tr in state["traces"].items()})
            self.I = float(np.asarray(state["I"], np.float64)[0])
            self.t = {"policy": 0, "critic": 0}
            return
        opt = state["opt"]
        for b in self.bufs_names:
            tree = {net: {k: opt[net][f"{b}.{k}"] for k in params[net]} for net in params}
            getattr(w, b)[:] = lay.pack(tree)
        self.t = {net: int(opt[net]["step"]) for net in params}

    # ---------------------------------------------------------------- environment side
    def _setup_env(self) -> None:
        col = self.collector
        if col.carry_state() is None:
            col.reset(col.seed)
        carry = col.carry_state()
        self.par = 0
        self.w.s[0] = carry["obs"][0]
        self.phantom = bool(carry["phantom"][0])
        self.ep_ret, self.ep_len = float(carry["ep_return"][0]), int(carry["ep_length"][0])
        self.stepper = online_env.one_env_stepper(col.envs)
        space = policy_obs_space(single_spaces(col.envs)[0])
        from gymnasium import spaces
        rows = self.w.s
        if isinstance(space, spaces.Discrete):
            n, start = int(space.n), int(space.start)

            def encode(obs, row):
                i = int(obs) - start
                if not 0 <= i < n:
                    raise ValueError(f"observation must lie in [{start}, {start + n}); got "
                                     f"{int(obs)}")
                return i
        elif isinstance(space, spaces.Box):
            def encode(obs, row):
                rows[row] = np.asarray(obs).reshape(-1)
                return -1
        else:
            from ..envs.spaces import obs_encoder
            batch = obs_encoder(space)

            def encode(obs, row):
                batch(np.asarray(obs)[None], rows[row:row + 1])
                return -1
        self.encode = encode

    def _gumbel_start(self) -> None:
        self._rng_state = self.rng.bit_generator.state
        self.w.gumbel[:] = self.rng.gumbel(size=(self.block, self.A))
        self._used = 0

    # ---------------------------------------------------------------- one step
    def _act_now(self) -> tuple:
        """The action at the current observation with the current parameters."""
        if self._used == self.block:
            self._gumbel_start()
        return K.act(self.ws, self.ix, self.par, self._used)

    def step(self, progress: float, want_stats: bool = True):
        """Act, step the environment, update. Returns ``(stats or None, episode or None)``:
        stats None on a phantom step (or when not ``want_stats``), episode ``(return,
        length)`` when one ends."""
        a, logp = self._act_now() if self._pending is None else self._pending
        if not math.isfinite(logp):
            raise ValueError("act_fn returned a NaN or inf log-probability (the policy's "
                             "logits are not finite: the parameters have diverged)")
        self._used += 1
        obs, r, te, tr = self.stepper.step(a)
        par = self.par
        idx = self.encode(obs, 1 - par)
        self._env_steps += 1
        if self._used == self.block:
            self._gumbel_start()
        update = not self.phantom
        lr_pi, lr_c = self.lrs
        if update and self.anneal:
            lr_pi, lr_c = lr_pi * (1.0 - progress), lr_c * (1.0 - progress)
        if self.kind == "ac_lambda":
            return self._lambda_step(a, r, te, tr, idx, update, lr_pi, lr_c, want_stats)
        t = self.t
        tp, tc = t["policy"] + 1, t["critic"] + 1
        a2, logp2, norm = self._kernel(
            self.ws, self.ix, par, update, a, r, te, idx, lr_pi, lr_c, 1.0 - 0.9 ** tp,
            1.0 - 0.999 ** tp, 1.0 - 0.9 ** tc, 1.0 - 0.999 ** tc, self._used)
        self._pending = (a2, logp2)
        self.par = 1 - par
        stats = {"n_samples": 0} if want_stats else None
        episode = None
        if update:
            if not math.isfinite(norm):
                raise ValueError(f"{self.algo.name} update: the gradient is not finite (NaN "
                                 f"or inf); lower the learning rate or scale the rewards")
            t["policy"], t["critic"] = tp, tc
            self.step_count += 1
            if want_stats:
                stats = self._stats()
            self.ep_ret, self.ep_len = self.ep_ret + r, self.ep_len + 1
            if te or tr:
                episode = (self.ep_ret, self.ep_len)
                self.ep_ret, self.ep_len = 0.0, 0
        self.phantom = te or tr
        return stats, episode

    def _lambda_step(self, a, r, te, tr, idx, update, lr_pi, lr_c, want_stats):
        """The rest of ``step`` for actor-critic(lambda): one trace update (valid steps),
        the running discount I, and the step count (every update call, as the reference)."""
        ended = te or tr
        i_t = self.I if self.algo.config.discount_actor else 1.0
        a2, logp2, delta = self._kernel(self.ws, self.ix, self.par, update, a, r, te, ended,
                                        idx, lr_pi, lr_c, i_t, self._used)
        self._pending = (a2, logp2)
        self.par = 1 - self.par
        self.step_count += 1
        episode = None
        stats = {"n_samples": 0, "mean_td_error": 0.0, "mean_abs_td_error": 0.0}
        if update:
            if not math.isfinite(delta):
                raise ValueError("ac_lambda update: the TD error is not finite (NaN or inf); "
                                 "lower the learning rates or scale the rewards")
            self.I = 1.0 if ended else self.I * self.algo.config.gamma
            stats = {"n_samples": 1, "mean_td_error": delta, "mean_abs_td_error": abs(delta)}
            self.ep_ret, self.ep_len = self.ep_ret + r, self.ep_len + 1
            if ended:
                episode = (self.ep_ret, self.ep_len)
                self.ep_ret, self.ep_len = 0.0, 0
        self.phantom = ended
        return (stats if want_stats else None), episode

    def _stats(self) -> dict:
        """The update's statistics, with the reference's keys in its order."""
        s = self.w.stats.tolist()
        out = {"policy_loss": s[0], "entropy": s[1]}
        if self.kind == "ac":
            vf = self.w.hp[K.H_VF_COEF]
            out["value_loss"] = s[2] / float(vf) if vf else 0.0
            out.update(loss=s[3], grad_norm=s[4], n_samples=1, mean_advantage=s[5],
                       explained_variance=0.0)
        else:
            out.update(value_loss=s[2], loss=s[3], grad_norm=s[4], n_samples=1, mean_q=s[5])
        return out

    # ---------------------------------------------------------------- hand-back
    def train_state(self) -> dict:
        """The train state (fresh arrays) in the reference's layout and key order."""
        lay, w = self.layout, self.w
        tree = lay.unpack(w.theta)
        new = {net: {k: a.copy() for k, a in arrays.items()} for net, arrays in tree.items()}
        if self.kind == "ac_lambda":
            traces = {net: {k: z[None].copy() for k, z in arrays.items()}
                      for net, arrays in lay.unpack(w.m).items()}
            return {"policy": new["policy"], "critic": new["critic"], "traces": traces,
                    "I": np.array([self.I]), "step": self.step_count}
        bufs = {b: lay.unpack(getattr(w, b)) for b in self.bufs_names}
        opt = {}
        for net, arrays in new.items():            # the optimizers' key order: m.k, v.k, ...
            opt[net] = {"step": self.t[net]}
            for k in arrays:
                for b in self.bufs_names:
                    opt[net][f"{b}.{k}"] = bufs[b][net][k].copy()
        return {"policy": new["policy"], "critic": new["critic"], "step": self.step_count,
                "opt": opt}

    def sync(self) -> dict:
        """Write the collector's carry, the environment's state and the act stream's position
        (rewound to the draws used) back; returns the train state."""
        if self._used < self.block:
            self.rng.bit_generator.state = self._rng_state
            if self._used:
                self.rng.gumbel(size=(self._used, self.A))
            self._used = self.block                   # the next act draws a fresh block
            self._pending = None
        col = self.collector
        col.total_env_steps += self._env_steps
        self._env_steps = 0
        carry = col.carry_state()
        carry.update(obs=self.w.s[self.par][None].copy(), phantom=np.array([self.phantom]),
                     ep_return=np.array([self.ep_ret]), ep_length=np.array([self.ep_len]))
        col.set_carry_state(carry)
        self.stepper.sync()
        return self.train_state()
