"""The bad-input table, part 2: nn, optim, losses, schedules, returns (``Case`` format of
``bad_input_cases.py``, which collects every part)."""

from __future__ import annotations

import numpy as np

from bad_input_cases import FINITE, INF, NAN, Case, _rng


# ------------------------------------------------------------------------------ nn

def nn_cases() -> list[Case]:
    from npg import nn
    p = nn.mlp_init((3, 4, 2), 0)
    x = np.ones((2, 3))
    big = {k: v * 1e200 for k, v in nn.mlp_init((3, 4, 2), 0, activation="relu").items()}
    swapped = dict(p, W2=np.ones((5, 2)))
    out = [
        Case("nn", "mlp_init: sizes a str", lambda: nn.mlp_init("34", 0), TypeError, ("sizes",)),
        Case("nn", "mlp_init: one size", lambda: nn.mlp_init((3,), 0), ValueError, ("sizes",)),
        Case("nn", "mlp_init: a zero width", lambda: nn.mlp_init((3, 0), 0), ValueError,
             ("sizes[1]",)),
        Case("nn", "mlp_init: width 2.5", lambda: nn.mlp_init((3, 2.5), 0), TypeError,
             ("sizes[1]", "int")),
        Case("nn", "mlp_init: width True", lambda: nn.mlp_init((3, True), 0), TypeError,
             ("sizes[1]", "int")),
        Case("nn", "mlp_init: rng a str", lambda: nn.mlp_init((3, 2), "0"), TypeError, ("rng",)),
        Case("nn", "mlp_init: rng None", lambda: nn.mlp_init((3, 2), None), TypeError, ("rng",)),
        Case("nn", "mlp_init: activation 'sigmoid'", lambda: nn.mlp_init((3, 2), 0, "sigmoid"),
             ValueError, ("activation",)),
        Case("nn", "mlp_init: activation 3", lambda: nn.mlp_init((3, 2), 0, 3), TypeError,
             ("activation",)),
        Case("nn", "mlp_init: gain '1'", lambda: nn.mlp_init((3, 2), 0, gain="1"), TypeError,
             ("gain", "real number")),
        Case("nn", "mlp_init: gain True", lambda: nn.mlp_init((3, 2), 0, gain=True), TypeError,
             ("gain", "real number")),
        Case("nn", "mlp_init: gain NaN", lambda: nn.mlp_init((3, 2), 0, gain=NAN), ValueError,
             ("gain",)),
        Case("nn", "mlp_init: out_gain -1", lambda: nn.mlp_init((3, 2), 0, out_gain=-1.0),
             ValueError, ("out_gain",)),
        Case("nn", "mlp_init: dtype float16", lambda: nn.mlp_init((3, 2), 0, dtype="float16"),
             TypeError, ("dtype",)),
        Case("nn", "mlp_init: orthogonal 1", lambda: nn.mlp_init((3, 2), 0, orthogonal=1),
             TypeError, ("orthogonal", "bool")),
        Case("nn", "mlp_forward: NaN x", lambda: nn.mlp_forward(p, x + NAN), ValueError,
             ("x", "finite")),
        Case("nn", "mlp_forward: x of wrong width", lambda: nn.mlp_forward(p, np.ones((2, 4))),
             ValueError, ("x", "W1")),
        Case("nn", "mlp_forward: 1-d x", lambda: nn.mlp_forward(p, np.ones(3)), ValueError,
             ("x",)),
        Case("nn", "mlp_forward: no W1", lambda: nn.mlp_forward({"b1": np.ones(2)}, x), ValueError,
             ("params", "W1")),
        Case("nn", "mlp_forward: W2 rows != W1 columns", lambda: nn.mlp_forward(swapped, x),
             ValueError, ("params['W2']", "shape")),
        Case("nn", "mlp_forward: b1 of wrong shape",
             lambda: nn.mlp_forward(dict(p, b1=np.ones(3)), x), ValueError,
             ("params['b1']", "shape")),
        Case("nn", "mlp_forward: NaN weight", lambda: nn.mlp_forward(dict(p, W2=p["W2"] + NAN), x),
             ValueError, ("mlp_forward", "finite")),
        Case("nn", "mlp_forward: relu net with weights x 1e200 overflows",
             lambda: nn.mlp_forward(big, x * 1e200, "relu"), ValueError,
             ("mlp_forward", "overflow")),
        Case("nn", "mlp_forward: activation 'sigmoid'", lambda: nn.mlp_forward(p, x, "sigmoid"),
             ValueError, ("activation",)),
        Case("nn", "mlp_forward vjp: d_y of wrong shape",
             lambda: nn.mlp_forward(p, x)[1](np.ones((2, 3))), ValueError, ("d_y",)),
        Case("nn", "mlp_forward vjp: NaN d_y",
             lambda: nn.mlp_forward(p, x)[1](np.full((2, 2), NAN)), ValueError,
             ("d_y", "finite")),
        Case("nn", "mlp_forward: tanh net, x = 1e300 (saturates)",
             lambda: nn.mlp_forward(p, x * 1e300)[0], FINITE),
        Case("nn", "dense: x of wrong width",
             lambda: nn.dense({"W": np.ones((3, 2)), "b": np.ones(2)}, np.ones((2, 4))),
             ValueError, ("x", "W")),
        Case("nn", "dense: params without b", lambda: nn.dense({"W": np.ones((3, 2))}, x),
             ValueError, ("params", "b")),
        Case("nn", "orthogonal_matrix: rng a str", lambda: nn.orthogonal_matrix((2, 2), "0"),
             TypeError, ("rng",)),
        Case("nn", "orthogonal_matrix: shape (2, 0)",
             lambda: nn.orthogonal_matrix((2, 0), _rng()), ValueError, ("shape",)),
    ]
    out += [
        Case("nn", "mlp_apply: NaN x", lambda: nn.mlp_apply(p, x + NAN), ValueError,
             ("x", "finite")),
        Case("nn", "n_layers: no weights", lambda: nn.n_layers({}), ValueError, ("W1",)),
        Case("nn", "default_gain: 'swish'", lambda: nn.default_gain("swish"), ValueError,
             ("activation",)),
        Case("nn", "activation_fn: None", lambda: nn.activation_fn(None), TypeError,
             ("activation",)),
        Case("nn", "resolve_float_dtype: int64", lambda: nn.resolve_float_dtype(np, "int64"),
             TypeError, ("dtype",)),
        Case("nn", "dense: NaN x",
             lambda: nn.dense({"W": np.ones((3, 2)), "b": np.ones(2)}, x + NAN), ValueError,
             ("x", "finite")),
    ]
    return out


# ------------------------------------------------------------------------------ optim

def optim_cases() -> list[Case]:
    from npg.optim import SGD, Adam, RMSprop, clip_by_global_norm
    p, g = {"w": np.ones(3)}, {"w": np.ones(3)}

    def step(opt, grads=g, params=p, state=None, n=1):
        st = opt.init(params) if state is None else state
        for _ in range(n):
            params, st = opt.step(params, grads, st)
        return params, st

    out = []
    for cls in (SGD, RMSprop, Adam):
        n = cls.__name__
        for what, lr, exc in (("'0.1'", "0.1", TypeError), ("True", True, TypeError),
                              ("NaN", NAN, ValueError), ("inf", INF, ValueError),
                              ("0", 0.0, ValueError), ("-1", -1.0, ValueError),
                              ("None", None, TypeError)):
            out.append(Case("optim", f"{n}: lr {what}", lambda cls=cls, lr=lr: cls(lr=lr), exc,
                            ("lr",)))
        out += [
            Case("optim", f"{n}.step: NaN gradient",
                 lambda cls=cls: step(cls(0.1), {"w": g["w"] + NAN}),
                 ValueError, ("grads['w']", "finite")),
            Case("optim", f"{n}.step: missing gradient key",
                 lambda cls=cls: step(cls(0.1), {"v": g["w"]}), ValueError, ("grads", "keys")),
            Case("optim", f"{n}.step: gradient of wrong shape",
                 lambda cls=cls: step(cls(0.1), {"w": np.ones(2)}), ValueError,
                 ("grads['w']", "shape")),
            Case("optim", f"{n}.step: params a list", lambda cls=cls: cls(0.1).step([1.0], g, {}),
                 TypeError, ("params",)),
            Case("optim", f"{n}.step: state without 'step'",
                 lambda cls=cls: cls(0.1).step(p, g, {}), ValueError, ("state", "init")),
            Case("optim", f"{n}.step: lr schedule gives NaN",
                 lambda cls=cls: step(cls(lambda t: NAN)), ValueError, ("lr",)),
            Case("optim", f"{n}.step: NaN parameter",
                 lambda cls=cls: step(cls(0.1), params={"w": np.array([NAN, 1.0, 1.0])}),
                 ValueError, ("params['w']", "finite")),
        ]
    for cls, buf in ((RMSprop, "v"), (Adam, "v")):
        n = cls.__name__
        out += [
            Case("optim", f"{n}.step: gradients 1e308 (g^2 overflows float64)",
                 lambda cls=cls: step(cls(0.1), {"w": np.full(3, 1e308)}), ValueError,
                 ("'w'", "overflow")),
            Case("optim", f"{n}.step: gradients 1e20 in float32 (g^2 overflows)",
                 lambda cls=cls: step(cls(0.1), {"w": np.full(3, 1e20, np.float32)},
                                      {"w": np.ones(3, np.float32)}), ValueError,
                 ("'w'", "overflow", "float32")),
            Case("optim", f"{n}.step: loaded state with an inf moment",
                 lambda cls=cls, buf=buf: step(cls(0.1), state={**cls(0.1).init(p),
                                                                f"{buf}.w": np.full(3, INF)}),
                 ValueError, (f"state['{buf}.w']", "finite")),
            Case("optim", f"{n}.step: loaded state with a negative second moment",
                 lambda cls=cls, buf=buf: step(cls(0.1), state={**cls(0.1).init(p),
                                                                f"{buf}.w": -np.ones(3)}),
                 ValueError, (f"state['{buf}.w']", ">= 0")),
            Case("optim", f"{n}.step: gradients 1e150 (large but g^2 finite)",
                 lambda cls=cls: step(cls(0.1), {"w": np.full(3, 1e150)}, n=3), FINITE),
        ]
    out += [
        Case("optim", "SGD: momentum '0.9'", lambda: SGD(0.1, momentum="0.9"), TypeError,
             ("momentum",)),
        Case("optim", "SGD: momentum 1", lambda: SGD(0.1, momentum=1.0), ValueError,
             ("momentum", "[0, 1)")),
        Case("optim", "SGD: nesterov 1", lambda: SGD(0.1, momentum=0.9, nesterov=1), TypeError,
             ("nesterov", "bool")),
        Case("optim", "SGD: nesterov without momentum", lambda: SGD(0.1, nesterov=True),
             ValueError, ("nesterov", "momentum")),
        Case("optim", "SGD.step: momentum buffer overflows",
             lambda: step(SGD(0.1, momentum=0.9), {"w": np.full(3, 1.7e308)},
                          state={"step": 1, "u.w": np.full(3, 1.7e308)}), ValueError,
             ("'w'", "overflow")),
        Case("optim", "Adam: b1 True", lambda: Adam(b1=True), TypeError, ("b1",)),
        Case("optim", "Adam: b2 1.0", lambda: Adam(b2=1.0), ValueError, ("b2", "[0, 1)")),
        Case("optim", "Adam: b1 NaN", lambda: Adam(b1=NAN), ValueError, ("b1",)),
        Case("optim", "Adam: eps '1e-8'", lambda: Adam(eps="1e-8"), TypeError, ("eps",)),
        Case("optim", "Adam: eps True", lambda: Adam(eps=True), TypeError, ("eps",)),
        Case("optim", "Adam: eps 0", lambda: Adam(eps=0.0), ValueError, ("eps",)),
        Case("optim", "RMSprop: alpha 1", lambda: RMSprop(alpha=1.0), ValueError, ("alpha",)),
        Case("optim", "Adam.step: state['step'] -1",
             lambda: Adam(0.1).step(p, g, {**Adam(0.1).init(p), "step": -1}), ValueError,
             ("state['step']",)),
        Case("optim", "Adam.step: state['step'] '3'",
             lambda: Adam(0.1).step(p, g, {**Adam(0.1).init(p), "step": "3"}), TypeError,
             ("state['step']", "int")),
        Case("optim", "clip_by_global_norm: max_norm '1'",
             lambda: clip_by_global_norm(g, "1"), TypeError, ("max_norm",)),
        Case("optim", "clip_by_global_norm: max_norm 0", lambda: clip_by_global_norm(g, 0.0),
             ValueError, ("max_norm",)),
        Case("optim", "clip_by_global_norm: max_norm NaN", lambda: clip_by_global_norm(g, NAN),
             ValueError, ("max_norm",)),
        Case("optim", "clip_by_global_norm: NaN gradient",
             lambda: clip_by_global_norm({"w": g["w"] + NAN}, 1.0), ValueError,
             ("grads['w']", "finite")),
        Case("optim", "clip_by_global_norm: empty dict", lambda: clip_by_global_norm({}, 1.0),
             TypeError, ("grads",)),
        Case("optim", "clip_by_global_norm: gradients 1e30 in float32 (norm^2 overflows)",
             lambda: clip_by_global_norm({"w": np.full(4, 1e30, np.float32)}, 1.0), FINITE),
        Case("optim", "clip_by_global_norm: gradients 1e308 (norm overflows float64)",
             lambda: clip_by_global_norm({"w": np.full(4, 1e308)}, 1.0), ValueError,
             ("grads", "norm", "overflow")),
    ]
    return out


# ------------------------------------------------------------------------------ losses

def losses_cases() -> list[Case]:
    from npg import losses as L
    v = np.zeros(4)
    out = []
    for fn, call, name in (
            ("policy_gradient_loss", lambda: L.policy_gradient_loss(v + NAN, v), "logp"),
            ("policy_gradient_loss", lambda: L.policy_gradient_loss(v, v + INF), "adv"),
            ("clipped_surrogate", lambda: L.clipped_surrogate(v, v + NAN, v, 0.2), "logp_old"),
            ("value_loss", lambda: L.value_loss(v, v + NAN), "target"),
            ("value_loss", lambda: L.value_loss(v, v, v + NAN, 0.2), "v_old"),
            ("entropy_loss", lambda: L.entropy_loss(v - INF), "ent"),
            ("explained_variance", lambda: L.explained_variance(v + NAN, v), "v")):
        out.append(Case("losses", f"{fn}: non-finite {name}", call, ValueError, (name, "finite")))
    out += [
        Case("losses", "policy_gradient_loss: adv of other length",
             lambda: L.policy_gradient_loss(v, np.zeros(3)), ValueError, ("adv", "[4]")),
        Case("losses", "policy_gradient_loss: empty batch",
             lambda: L.policy_gradient_loss(np.zeros(0), np.zeros(0)), ValueError,
             ("logp", "at least one")),
        Case("losses", "policy_gradient_loss: integer logp",
             lambda: L.policy_gradient_loss(np.zeros(4, int), v), TypeError, ("logp",)),
        Case("losses", "policy_gradient_loss: 2-d logp",
             lambda: L.policy_gradient_loss(np.zeros((4, 1)), v), ValueError, ("logp", "[B]")),
        Case("losses", "policy_gradient_loss: A log pi overflows",
             lambda: L.policy_gradient_loss(np.full(4, -1e200), np.full(4, 1e200)), ValueError,
             ("policy_gradient_loss", "overflow")),
        Case("losses", "clipped_surrogate: clip '0.2'",
             lambda: L.clipped_surrogate(v, v, v, "0.2"), TypeError, ("clip",)),
        Case("losses", "clipped_surrogate: clip True", lambda: L.clipped_surrogate(v, v, v, True),
             TypeError, ("clip",)),
        Case("losses", "clipped_surrogate: clip NaN", lambda: L.clipped_surrogate(v, v, v, NAN),
             ValueError, ("clip",)),
        Case("losses", "clipped_surrogate: clip -0.1", lambda: L.clipped_surrogate(v, v, v, -0.1),
             ValueError, ("clip",)),
        Case("losses", "clipped_surrogate: ratio exp(logp - logp_old) overflows",
             lambda: L.clipped_surrogate(v + 800.0, v, -np.ones(4), 0.2), ValueError,
             ("logp - logp_old", "overflow")),
        Case("losses", "clipped_surrogate: log-ratio 700 (ratio e^700 finite)",
             lambda: L.clipped_surrogate(v + 700.0, v, np.ones(4), 0.2)[:2], FINITE),
        Case("losses", "value_loss: clip without v_old", lambda: L.value_loss(v, v, clip=0.2),
             ValueError, ("v_old",)),
        Case("losses", "value_loss: (v - target)^2 overflows float64",
             lambda: L.value_loss(v + 1e200, v - 1e200), ValueError,
             ("value_loss", "overflow", "target")),
        Case("losses", "value_loss: (v - target)^2 overflows float32",
             lambda: L.value_loss(np.zeros(4, np.float32), np.full(4, 1e20, np.float32)),
             ValueError, ("value_loss", "overflow", "float32")),
        Case("losses", "entropy_loss: sum overflows", lambda: L.entropy_loss(np.full(4, 1e308)),
             ValueError, ("entropy_loss", "overflow")),
        Case("losses", "explained_variance: Var(y) overflows",
             lambda: L.explained_variance(v, np.array([1e200, -1e200, 0.0, 1.0])), ValueError,
             ("explained_variance", "overflow")),
        Case("losses", "explained_variance: constant targets (0.0 by definition)",
             lambda: L.explained_variance(v, v), FINITE),
    ]
    return out


# ------------------------------------------------------------------------------ schedules

def schedules_cases() -> list[Case]:
    from npg.schedules import constant, linear
    return [
        Case("schedules", "constant: value '0.1'", lambda: constant("0.1"), TypeError, ("value",)),
        Case("schedules", "constant: value True", lambda: constant(True), TypeError, ("value",)),
        Case("schedules", "constant: value NaN", lambda: constant(NAN), ValueError, ("value",)),
        Case("schedules", "linear: start '1'", lambda: linear("1", 0.0, 10), TypeError, ("start",)),
        Case("schedules", "linear: end inf", lambda: linear(1.0, INF, 10), ValueError, ("end",)),
        Case("schedules", "linear: n_steps 0", lambda: linear(1.0, 0.0, 0), ValueError,
             ("n_steps",)),
        Case("schedules", "linear: n_steps 2.5", lambda: linear(1.0, 0.0, 2.5), TypeError,
             ("n_steps",)),
        Case("schedules", "linear: n_steps True", lambda: linear(1.0, 0.0, True), TypeError,
             ("n_steps",)),
        Case("schedules", "call: t = -1", lambda: linear(1.0, 0.0, 10)(-1), ValueError, ("t",)),
        Case("schedules", "call: t = 1.5", lambda: constant(1.0)(1.5), TypeError, ("t",)),
        Case("schedules", "call: t = True", lambda: constant(1.0)(True), TypeError, ("t",)),
        Case("schedules", "linear: start -1e308, end 1e308 (end - start overflows)",
             lambda: [linear(-1e308, 1e308, 10)(t) for t in (0, 5, 10, 20)], FINITE),
    ]


# ------------------------------------------------------------------------------ returns

def returns_cases() -> list[Case]:
    from npg import returns as R
    T, N = 4, 2
    r, v, f = np.ones((T, N)), np.zeros((T, N)), np.zeros((T, N), bool)

    def gae(**kw):
        a = dict(rew=r, value=v, next_value=v, terminated=f, truncated=f, gamma=0.9, lam=0.95)
        a.update(kw)
        return R.gae(**a)

    out = []
    for name in ("gamma", "lam"):
        for what, x, exc in (("'0.9'", "0.9", TypeError), ("True", True, TypeError),
                             ("None", None, TypeError), ("1.5", 1.5, ValueError),
                             ("-0.1", -0.1, ValueError), ("NaN", NAN, ValueError),
                             ("an array [2]", np.array([0.9, 0.9]), TypeError)):
            out.append(Case("returns", f"gae: {name} {what}",
                            lambda name=name, x=x: gae(**{name: x}),
                            exc, (name,)))
    out += [
        Case("returns", "gae: gamma a 0-d array (accepted)", lambda: gae(gamma=np.float64(0.9)),
             FINITE),
        Case("returns", "gae: NaN reward", lambda: gae(rew=np.full((T, N), NAN)), ValueError,
             ("rew", "finite")),
        Case("returns", "gae: inf value", lambda: gae(value=np.full((T, N), INF)), ValueError,
             ("value", "finite")),
        Case("returns", "gae: NaN next_value where not terminated",
             lambda: gae(next_value=np.full((T, N), NAN)), ValueError, ("next_value", "finite")),
        Case("returns", "gae: rewards 1e308 overflow float64",
             lambda: gae(rew=np.full((T, N), 1e308)), ValueError, ("overflow", "float64")),
        Case("returns", "gae: rewards 1e38 overflow float32",
             lambda: gae(rew=np.full((T, N), 3e38, np.float32),
                         value=np.zeros((T, N), np.float32),
                         next_value=np.zeros((T, N), np.float32)),
             ValueError, ("overflow", "float32")),
        Case("returns", "gae: value of other shape", lambda: gae(value=np.zeros((T, N + 1))),
             ValueError, ("value", "shape")),
        Case("returns", "gae: 3-d rewards", lambda: gae(rew=np.ones((T, N, 1))), ValueError,
             ("rew", "[T, N]")),
        Case("returns", "gae: empty rollout", lambda: gae(rew=np.ones((0, N))), ValueError,
             ("rew", "T >= 1")),
        Case("returns", "gae: rewards a list", lambda: gae(rew=[1.0, 2.0]), TypeError, ("rew",)),
        Case("returns", "gae: boolean rewards", lambda: gae(rew=np.ones((T, N), bool)), TypeError,
             ("rew",)),
        Case("returns", "gae: terminated holds 2", lambda: gae(terminated=np.full((T, N), 2)),
             ValueError, ("terminated", "0/1")),
        Case("returns", "gae: terminated holds NaN", lambda: gae(terminated=np.full((T, N), NAN)),
             ValueError, ("terminated", "0/1")),
        Case("returns", "gae: truncated a str array",
             lambda: gae(truncated=np.full((T, N), "x")), TypeError, ("truncated", "boolean")),
        Case("returns", "gae: integer value", lambda: gae(value=np.zeros((T, N), int)), TypeError,
             ("value", "floating")),
        Case("returns", "gae: rewards 1e20 in float32 (finite)",
             lambda: gae(rew=np.full((T, N), 1e20, np.float32),
                         value=np.zeros((T, N), np.float32),
                         next_value=np.zeros((T, N), np.float32)),
             FINITE),
        Case("returns", "discounted_returns: gamma '0.99'",
             lambda: R.discounted_returns(r, f, f, "0.99"), TypeError, ("gamma",)),
        Case("returns", "discounted_returns: start_step without discount_weighting",
             lambda: R.discounted_returns(r, f, f, 0.9, start_step=1), ValueError,
             ("start_step", "discount_weighting")),
        Case("returns", "discounted_returns: start_step -1",
             lambda: R.discounted_returns(r, f, f, 0.9, discount_weighting=True, start_step=-1),
             ValueError, ("start_step",)),
        Case("returns", "discounted_returns: discount_weighting 1",
             lambda: R.discounted_returns(r, f, f, 0.9, discount_weighting=1), TypeError,
             ("discount_weighting", "bool")),
        Case("returns", "td_errors: gamma True", lambda: R.td_errors(r, v, v, f, True), TypeError,
             ("gamma",)),
        Case("returns", "lambda_returns: lam 2", lambda: R.lambda_returns(r, v, v, f, f, 0.9, 2.0),
             ValueError, ("lam",)),
        Case("returns", "nstep_returns: n 0", lambda: R.nstep_returns(r, v, v, f, f, 0.9, 0),
             ValueError, ("n",)),
        Case("returns", "nstep_returns: n 2.5", lambda: R.nstep_returns(r, v, v, f, f, 0.9, 2.5),
             TypeError, ("n",)),
        Case("returns", "nstep_returns: n True", lambda: R.nstep_returns(r, v, v, f, f, 0.9, True),
             TypeError, ("n",)),
        Case("returns", "nstep_returns: n '3'", lambda: R.nstep_returns(r, v, v, f, f, 0.9, "3"),
             TypeError, ("n",)),
    ]

    def vt(**kw):
        a = dict(rew=r, value=v, next_value=v, terminated=f, truncated=f, gamma=0.9,
                 target_logp=v, behaviour_logp=v)
        a.update(kw)
        return R.vtrace(**a)
    for name in ("rho_bar", "c_bar"):
        for what, x, exc in (("True", True, TypeError), ("'1'", "1", TypeError),
                             ("-1", -1.0, ValueError), ("NaN", NAN, ValueError)):
            out.append(Case("returns", f"vtrace: {name} {what}",
                            lambda name=name, x=x: vt(**{name: x}), exc, (name,)))
    out += [
        Case("returns", "vtrace: lam '1'", lambda: vt(lam="1"), TypeError, ("lam",)),
        Case("returns", "vtrace: NaN behaviour_logp", lambda: vt(behaviour_logp=v + NAN),
             ValueError, ("behaviour_logp",)),
        Case("returns", "vtrace: behaviour_logp -inf (mu(a) = 0)",
             lambda: vt(behaviour_logp=v - INF), ValueError, ("behaviour_logp",)),
        Case("returns", "vtrace: target_logp None", lambda: vt(target_logp=None), TypeError,
             ("target_logp",)),
        Case("returns", "vtrace: rho_bar inf, target_logp - behaviour_logp = 800 (w overflows)",
             lambda: vt(target_logp=v + 800.0, rho_bar=INF), ValueError, ("overflow",)),
        Case("returns", "vtrace: target_logp -inf (w = 0, legal)", lambda: vt(target_logp=v - INF),
             FINITE),
    ]
    return out


def core_cases() -> list[Case]:
    return (nn_cases() + optim_cases() + losses_cases() + schedules_cases() + returns_cases())
