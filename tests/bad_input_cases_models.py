"""The bad-input table, part 3: every policy class and critic (``Case`` format of
``bad_input_cases.py``, which collects every part)."""

from __future__ import annotations

import numpy as np

from bad_input_cases import FINITE, INF, NAN, Case
from policy_cases import CASES as POLICY_CASES, DISCRETE


# ------------------------------------------------------------------------------ policies

def _policy(name):
    return POLICY_CASES[name](np, np.float64, np.random.default_rng(0))


def _scaled(params, s):
    return {k: v * s for k, v in params.items()}


def policy_cases() -> list[Case]:
    out = []
    for name in POLICY_CASES:
        pol, params, obs, act = _policy(name)
        B = obs.shape[0]
        w = np.ones(B)
        k0 = next(iter(params))
        nan_params = dict(params, **{k0: params[k0] + NAN})
        area = f"policies.{type(pol).__name__}"
        tag = f" ({name})"
        if len(params) > 1:
            out += [
                Case(area, "forward: params missing a key" + tag,
                     lambda pol=pol, p=params, o=obs, k0=k0: pol.forward(
                         {k: v for k, v in p.items() if k != k0}, o), ValueError,
                     ("params", "keys")),
                Case(area, "forward: float32 and float64 params mixed" + tag,
                     lambda pol=pol, p=params, o=obs, k0=k0: pol.forward(
                         dict(p, **{k0: p[k0].astype(np.float32)}), o), TypeError,
                     ("params[", "dtype"))]
        # tanh nets and tables saturate or stay finite; linear-in-features and relu nets overflow
        overflows = name in ("linear_poly", "linear_gaussian", "mlp_categorical_relu",
                             "mlp_gaussian", "mlp_sde")
        out += [
            Case(area, f"log_prob: NaN params['{k0}']" + tag,
                 lambda pol=pol, p=nan_params, o=obs, a=act: pol.log_prob(p, o, a), ValueError,
                 (f"params['{k0}']", "finite")),
            Case(area, "forward: params a list" + tag,
                 lambda pol=pol, o=obs: pol.forward([1.0], o), TypeError, ("params",)),
            Case(area, f"forward: params['{k0}'] of wrong shape" + tag,
                 lambda pol=pol, p=params, o=obs, k0=k0: pol.forward(
                     dict(p, **{k0: np.ones((9, 9))}), o), ValueError,
                 (f"params['{k0}']", "shape")),
            Case(area, "score_sum: NaN weights" + tag,
                 lambda pol=pol, p=params, o=obs, a=act: pol.score_sum(p, o, a, w + NAN),
                 ValueError, ("w", "finite")),
            Case(area, "score_sum: weights of wrong length" + tag,
                 lambda pol=pol, p=params, o=obs, a=act: pol.score_sum(p, o, a, np.ones(B + 1)),
                 ValueError, ("w", "shape")),
            Case(area, "entropy_grad: NaN weights" + tag,
                 lambda pol=pol, p=params, o=obs: pol.entropy_grad(p, o, w + NAN), ValueError,
                 ("w", "finite")),
            Case(area, "mode: NaN params" + tag,
                 lambda pol=pol, p=nan_params, o=obs: pol.mode(p, o), ValueError,
                 (f"params['{k0}']", "finite")),
            Case(area, "init: rng a str" + tag, lambda pol=pol: pol.init("0"), TypeError,
                 ("rng",)),
            Case(area, "sample: rng None" + tag,
                 lambda pol=pol, p=params, o=obs: pol.sample(p, o, None), TypeError, ("rng",)),
            Case(area, "log_prob: params x 1e300, obs x 1e8" + tag,
                 lambda pol=pol, p=params, o=obs, a=act: pol.log_prob(
                     _scaled(p, 1e300), o * 1e8 if o.dtype.kind == "f" else o, a),
                 ValueError if overflows else FINITE, ("overflow",) if overflows else ()),
        ]
        if obs.dtype.kind == "f":
            out += [
                Case(area, "log_prob: NaN obs" + tag,
                     lambda pol=pol, p=params, o=obs, a=act: pol.log_prob(p, o + NAN, a),
                     ValueError,
                     ("obs", "finite")),
                Case(area, "forward: obs of wrong width" + tag,
                     lambda pol=pol, p=params, o=obs: pol.forward(p, np.ones((2, o.shape[1] + 1))),
                     ValueError, ("obs", "shape")),
            ]
        else:
            out.append(Case(area, "forward: state index out of range" + tag,
                            lambda pol=pol, p=params, o=obs: pol.forward(p, o + 100), ValueError,
                            ("obs",)))
        if name in DISCRETE:
            out += [
                Case(area, "log_prob: action out of range" + tag,
                     lambda pol=pol, p=params, o=obs, a=act: pol.log_prob(p, o, a + 10), ValueError,
                     ("act",)),
                Case(area, "scores: float actions" + tag,
                     lambda pol=pol, p=params, o=obs, a=act: pol.scores(p, o, a * 1.0), TypeError,
                     ("act", "integer")),
                Case(area, "kl_grad: old logits of wrong shape" + tag,
                     lambda pol=pol, p=params, o=obs: pol.kl_grad(p, o, pol.dist_params(p, o)[:1]),
                     ValueError, ("old_dist_params", "shape")),
                Case(area, "probs: NaN obs or out-of-range state" + tag,
                     lambda pol=pol, p=params, o=obs: pol.probs(p, o + NAN if o.dtype.kind == "f"
                                                             else o - 100), ValueError, ("obs",)),
                Case(area, "kl: old logits NaN" + tag,
                     lambda pol=pol, p=params, o=obs: pol.kl(p, o, pol.dist_params(p, o) + NAN),
                     ValueError, ("old_dist_params", "finite")),
            ]
        else:
            out += [
                Case(area, "log_prob: NaN actions" + tag,
                     lambda pol=pol, p=params, o=obs, a=act: pol.log_prob(p, o, a + NAN),
                     ValueError,
                     ("act", "finite")),
                Case(area, "log_prob: actions of wrong shape" + tag,
                     lambda pol=pol, p=params, o=obs, a=act: pol.log_prob(p, o, a[:, :1]),
                     ValueError, ("act", "shape")),
                Case(area, "kl: old (mean, log_std) not a pair" + tag,
                     lambda pol=pol, p=params, o=obs: pol.kl(p, o, pol.dist_params(p, o)[0]),
                     ValueError, ("old_dist_params", "triple" if name == "mlp_sde" else "pair")),
                Case(area, "kl_grad: old log_std NaN" + tag,
                     lambda pol=pol, p=params, o=obs: pol.kl_grad(p, o, (
                         *pol.dist_params(p, o)[:-1], pol.dist_params(p, o)[-1] + NAN)),
                     ValueError, ("old_dist_params", "finite")),
                Case(area, "log_prob: actions 1e30 away from the mean (float64)" + tag,
                     lambda pol=pol, p=params, o=obs, a=act: pol.log_prob(p, o, a + 1e30), FINITE),
            ]
    out += _sde_policy_cases() + _policy_init_cases()
    return out


def _sde_policy_cases() -> list[Case]:
    from npg.policies import MLPSDEPolicy
    pol = MLPSDEPolicy(3, 2, hidden=(4,))
    p = pol.init(0)
    obs, act = np.ones((2, 3)), np.zeros((2, 2))
    A = "policies.MLPSDEPolicy"
    return [
        Case(A, "log_prob: NaN obs", lambda: pol.log_prob(p, obs + NAN, act), ValueError,
             ("obs", "finite")),
        Case(A, "log_prob: NaN params['log_std']",
             lambda: pol.log_prob(dict(p, log_std=p["log_std"] + NAN), obs, act), ValueError,
             ("params['log_std']", "finite")),
        Case(A, "log_prob: NaN actions", lambda: pol.log_prob(p, obs, act + NAN), ValueError,
             ("a", "finite")),
        Case(A, "log_prob: actions of wrong shape", lambda: pol.log_prob(p, obs, act[:, :1]),
             ValueError, ("act", "shape")),
        Case(A, "entropy: params['log_std'] of wrong shape",
             lambda: pol.entropy(dict(p, log_std=np.zeros(2)), obs), ValueError,
             ("params['log_std']", "shape")),
        Case(A, "sample: rng None", lambda: pol.sample(p, obs, None), TypeError, ("rng",)),
        Case(A, "mode: obs of wrong width", lambda: pol.mode(p, np.ones((2, 4))), ValueError,
             ("obs", "shape")),
        Case(A, "log_prob: relu net, params x 1e300 overflow",
             lambda: MLPSDEPolicy(3, 2, hidden=(4,), activation="relu").log_prob(
                 _scaled(MLPSDEPolicy(3, 2, hidden=(4,), activation="relu").init(0), 1e300),
                 obs * 1e10, act), ValueError, ("overflow",)),
    ]


def _policy_init_cases() -> list[Case]:
    from npg.features import Polynomial
    from npg.policies import (LinearGaussianPolicy, LinearSoftmaxPolicy, MLPCategoricalPolicy,
                              MLPGaussianPolicy, MLPSDEPolicy, SharedActorCritic,
                              TabularSoftmaxPolicy)
    P = "policies"
    out = []
    for cls in (MLPCategoricalPolicy, SharedActorCritic, TabularSoftmaxPolicy):
        n = cls.__name__
        first = "n_states" if cls is TabularSoftmaxPolicy else "obs_dim"
        for what, x, exc in (("0", 0, ValueError), ("'3'", "3", TypeError),
                             ("True", True, TypeError), ("2.5", 2.5, TypeError)):
            out.append(Case(P, f"{n}: {first} {what}", lambda cls=cls, x=x: cls(x, 2), exc,
                            (first,)))
            out.append(Case(P, f"{n}: n_actions {what}", lambda cls=cls, x=x: cls(3, x), exc,
                            ("n_actions",)))
    for cls in (MLPCategoricalPolicy, MLPGaussianPolicy, MLPSDEPolicy, SharedActorCritic):
        n = cls.__name__
        out += [
            Case(P, f"{n}: hidden (0,)", lambda cls=cls: cls(3, 2, hidden=(0,)), ValueError,
                 ("hidden[0]",)),
            Case(P, f"{n}: hidden '64'", lambda cls=cls: cls(3, 2, hidden="64"), TypeError,
                 ("hidden",)),
            Case(P, f"{n}: activation 'gelu'", lambda cls=cls: cls(3, 2, activation="gelu"),
                 ValueError, ("activation",)),
            Case(P, f"{n}.init: rng None", lambda cls=cls: cls(3, 2, hidden=(4,)).init(None),
                 TypeError, ("rng",)),
            Case(P, f"{n}.init: out_gain NaN" if cls is not SharedActorCritic else
                 f"{n}.init: pi_gain NaN",
                 (lambda cls=cls: cls(3, 2, hidden=(4,)).init(0, pi_gain=NAN))
                 if cls is SharedActorCritic else
                 (lambda cls=cls: cls(3, 2, hidden=(4,)).init(0, out_gain=NAN)), ValueError,
                 ("gain",)),
        ]
    for cls in (MLPGaussianPolicy, MLPSDEPolicy):
        n = cls.__name__
        out += [
            Case(P, f"{n}: log_std_init NaN", lambda cls=cls: cls(3, 2, log_std_init=NAN),
                 ValueError, ("log_std_init",)),
            Case(P, f"{n}: log_std_init '0'", lambda cls=cls: cls(3, 2, log_std_init="0"),
                 TypeError, ("log_std_init",)),
            Case(P, f"{n}: log_std_init True", lambda cls=cls: cls(3, 2, log_std_init=True),
                 TypeError, ("log_std_init",)),
        ]
    out += [
        Case(P, "LinearSoftmaxPolicy: features not a feature map",
             lambda: LinearSoftmaxPolicy(3, 2), TypeError, ("features",)),
        Case(P, "LinearSoftmaxPolicy.init: scale NaN",
             lambda: LinearSoftmaxPolicy(Polynomial(2, 1), 2).init(0, scale=NAN), ValueError,
             ("scale",)),
        Case(P, "LinearSoftmaxPolicy.init: scale '0.1'",
             lambda: LinearSoftmaxPolicy(Polynomial(2, 1), 2).init(0, scale="0.1"), TypeError,
             ("scale",)),
        Case(P, "TabularSoftmaxPolicy.init: scale -1",
             lambda: TabularSoftmaxPolicy(3, 2).init(0, scale=-1.0), ValueError, ("scale",)),
        Case(P, "LinearGaussianPolicy: act_dim 0",
             lambda: LinearGaussianPolicy(Polynomial(2, 1), 0), ValueError, ("act_dim",)),
        Case(P, "LinearGaussianPolicy: log_std_init inf",
             lambda: LinearGaussianPolicy(Polynomial(2, 1), 1, log_std_init=INF), ValueError,
             ("log_std_init",)),
    ]
    return out


# ------------------------------------------------------------------------------ critics

def values_cases() -> list[Case]:
    from npg.features import Polynomial
    from npg.values import MLPQ, LinearQ, LinearValue, MLPValue, TabularQ, TabularValue
    V = "values"
    mv = MLPValue(3, hidden=(4,))
    pv = mv.init(0)
    mr = MLPValue(3, hidden=(4,), activation="relu")
    pr = mr.init(0)
    q = MLPQ(3, 2, hidden=(4,))
    pq = q.init(0)
    obs = np.ones((2, 3))
    return [
        Case(V, "MLPValue: obs_dim 0", lambda: MLPValue(0), ValueError, ("obs_dim",)),
        Case(V, "MLPValue: hidden (2.5,)", lambda: MLPValue(3, hidden=(2.5,)), TypeError,
             ("hidden[0]",)),
        Case(V, "MLPValue.init: rng None", lambda: mv.init(None), TypeError, ("rng",)),
        Case(V, "MLPValue.value: NaN obs", lambda: mv.value(pv, obs + NAN), ValueError,
             ("obs", "finite")),
        Case(V, "MLPValue.value: NaN params", lambda: mv.value(_scaled(pv, NAN), obs), ValueError,
             ("params[", "finite")),
        Case(V, "MLPValue.value: relu critic, params x 1e300, obs x 1e10 overflow",
             lambda: mr.value(_scaled(pr, 1e300), obs * 1e10), ValueError, ("overflow",)),
        Case(V, "MLPValue.value: tanh critic, params x 1e300 (saturates, finite)",
             lambda: mv.value(_scaled(pv, 1e300), obs * 1e10), FINITE),
        Case(V, "MLPValue.loss_grad: NaN target",
             lambda: mv.loss_grad(pv, obs, np.array([0.0, NAN])), ValueError, ("target", "finite")),
        Case(V, "MLPValue.loss_grad: target of wrong shape",
             lambda: mv.loss_grad(pv, obs, np.zeros(3)), ValueError, ("target", "shape")),
        Case(V, "MLPValue.loss_grad: (V - y)^2 overflows float32",
             lambda: MLPValue(3, hidden=(4,)).loss_grad(MLPValue(3, hidden=(4,)).init(
                 0, dtype="float32"), obs.astype(np.float32), np.full(2, 1e20, np.float32)),
             ValueError, ("overflow", "float32")),
        Case(V, "MLPQ.value: action out of range", lambda: q.value(pq, obs, np.array([0, 2])),
             ValueError, ("act",)),
        Case(V, "MLPQ.value: float actions", lambda: q.value(pq, obs, np.array([0.0, 1.0])),
             TypeError, ("act", "integer")),
        Case(V, "TabularValue.value: state out of range",
             lambda: TabularValue(3).value(TabularValue(3).init(0), np.array([3])), ValueError,
             ("obs", "[0, 3)")),
        Case(V, "TabularValue: n_states True", lambda: TabularValue(True), TypeError,
             ("n_states",)),
        Case(V, "TabularValue.loss_grad: NaN target",
             lambda: TabularValue(3).loss_grad(TabularValue(3).init(0), np.array([0, 1]),
                                               np.array([NAN, 0.0])), ValueError,
             ("target", "finite")),
        Case(V, "TabularValue.forward: NaN params",
             lambda: TabularValue(3).forward({"v": np.full(3, NAN)}, np.array([0])), ValueError,
             ("params['v']", "finite")),
        Case(V, "TabularQ.loss_grad: action out of range",
             lambda: TabularQ(3, 2).loss_grad(TabularQ(3, 2).init(0), np.array([0]),
                                              np.array([2]), np.zeros(1)), ValueError, ("act",)),
        Case(V, "TabularQ.loss_grad: (Q - y)^2 overflows",
             lambda: TabularQ(3, 2).loss_grad(TabularQ(3, 2).init(0), np.array([0, 1]),
                                              np.array([0, 1]), np.full(2, 1e200)), ValueError,
             ("overflow",)),
        Case(V, "LinearValue: features an int", lambda: LinearValue(3), TypeError,
             ("features",)),
        Case(V, "LinearValue.value: NaN obs",
             lambda: LinearValue(Polynomial(3, 1)).value(LinearValue(Polynomial(3, 1)).init(0),
                                                         obs + NAN), ValueError, ("obs", "finite")),
        Case(V, "LinearValue.loss_grad: weights 1e200, (V - y)^2 overflows",
             lambda: LinearValue(Polynomial(3, 1)).loss_grad(
                 {"w": np.full(4, 1e200)}, obs, np.zeros(2)), ValueError, ("overflow",)),
        Case(V, "LinearQ: n_actions 0", lambda: LinearQ(Polynomial(3, 1), 0), ValueError,
             ("n_actions",)),
        Case(V, "MLPQ.loss_grad: NaN target",
             lambda: q.loss_grad(pq, obs, np.array([0, 1]), np.array([NAN, 0.0])), ValueError,
             ("target", "finite")),
        Case(V, "MLPValue.init: dtype 'int32'", lambda: mv.init(0, dtype="int32"), TypeError,
             ("dtype",)),
        Case(V, "TabularQ: n_actions '2'", lambda: TabularQ(3, "2"), TypeError, ("n_actions",)),
    ]


def model_cases() -> list[Case]:
    return policy_cases() + values_cases()
