"""The bad-input table: every case that ``tests/test_bad_input.py`` runs and ``docs/bad_input.md``
lists, for the gradient core (distributions, nn, optim, losses, schedules, returns).

A case is ``Case(area, what, call, expect, names)``: ``call()`` runs the public function on the
bad input; ``expect`` is the exception type it must raise (ValueError / TypeError), with a
message containing every string of ``names`` (the argument, and what was expected), or
``FINITE``: the input is extreme but legal and every array in the result must be finite.

``python tests/bad_input_cases.py`` prints the table as markdown (the docs are made that way).
The table is split by layer: the distributions here, ``bad_input_cases_core.py`` (nn, optim,
losses, schedules, returns), ``bad_input_cases_models.py`` (policies, critics) and
``bad_input_cases_algos.py`` (the updaters' configs and updates, finite MDPs).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

FINITE = "finite"
NAN, INF = float("nan"), float("inf")


@dataclass(frozen=True)
class Case:
    area: str
    what: str
    call: Callable[[], object]
    expect: object                    # ValueError, TypeError or FINITE
    names: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        return f"{self.area}: {self.what}"


def _rng():
    return np.random.default_rng(0)


def _z(*rows, dtype=np.float64):
    return np.array(rows, dtype=dtype)


# ------------------------------------------------------------------------------ categorical

def categorical_cases() -> list[Case]:
    from npg.distributions import categorical as C
    z, a = _z([0.1, 0.2, 0.3], [1.0, -1.0, 0.0]), np.array([0, 2])
    bad_z = {"NaN logit": _z([NAN, 0.0, 0.0], [0, 0, 0]),
             "+inf logit": _z([INF, 0.0, 0.0], [0, 0, 0]),
             "-inf logit (use mask_logits)": _z([-INF, 0.0, 0.0], [0, 0, 0])}
    out = []
    for what, zb in bad_z.items():
        for fn, call in (("log_prob", lambda zb=zb: C.log_prob(zb, a)),
                         ("log_prob_grad", lambda zb=zb: C.log_prob_grad(zb, a)),
                         ("softmax", lambda zb=zb: C.softmax(zb)),
                         ("log_softmax", lambda zb=zb: C.log_softmax(zb)),
                         ("entropy", lambda zb=zb: C.entropy(zb)),
                         ("entropy_grad", lambda zb=zb: C.entropy_grad(zb)),
                         ("sample", lambda zb=zb: C.sample(zb, _rng())),
                         ("mode", lambda zb=zb: C.mode(zb)),
                         ("kl (z_p)", lambda zb=zb: C.kl(zb, z)),
                         ("kl_grad (z_q)", lambda zb=zb: C.kl_grad(z, zb))):
            name = "z_q" if "z_q" in fn else "z_p" if "z_p" in fn else "z"
            out.append(Case("categorical", f"{fn}: {what}", call, ValueError, (name, "finite")))
    out += [
        Case("categorical", "log_prob: integer logits", lambda: C.log_prob(np.ones((2, 3), int), a),
             TypeError, ("z", "floating")),
        Case("categorical", "log_prob: logits a list", lambda: C.log_prob([[0.0, 1.0]], a),
             TypeError, ("z",)),
        Case("categorical", "log_prob: 0-d logits", lambda: C.log_prob(np.float64(1.0), a),
             ValueError, ("z",)),
        Case("categorical", "log_prob: zero actions", lambda: C.log_prob(np.zeros((2, 0)), a),
             ValueError, ("z", "at least one action")),
        Case("categorical", "log_prob: float actions", lambda: C.log_prob(z, a * 1.0),
             TypeError, ("a", "integer")),
        Case("categorical", "log_prob: bool actions", lambda: C.log_prob(z, a > 0),
             TypeError, ("a", "integer")),
        Case("categorical", "log_prob: action = A", lambda: C.log_prob(z, np.array([0, 3])),
             ValueError, ("a", "[0, 3)")),
        Case("categorical", "log_prob: action -1", lambda: C.log_prob(z, np.array([-1, 0])),
             ValueError, ("a", "[0, 3)")),
        Case("categorical", "log_prob: action shape", lambda: C.log_prob(z, np.array([0])),
             ValueError, ("a", "shape")),
        Case("categorical", "kl: shape mismatch", lambda: C.kl(z, z[:1]), ValueError,
             ("z_q", "shape")),
        Case("categorical", "sample: rng None", lambda: C.sample(z, None), TypeError, ("rng",)),
        Case("categorical", "sample: rng an int", lambda: C.sample(z, 0), TypeError, ("rng",)),
        Case("categorical", "one_hot: float actions",
             lambda: C.one_hot(np.array([0.5]), 3, np.float64), TypeError, ("a", "integer")),
        Case("categorical", "one_hot: n = 0", lambda: C.one_hot(np.array([0]), 0, np.float64),
             ValueError, ("n",)),
        Case("categorical", "mask_logits: NaN logits",
             lambda: C.mask_logits(z + NAN, np.ones((2, 3), bool)), ValueError, ("z", "finite")),
        Case("categorical", "mask_logits: int mask", lambda: C.mask_logits(z, np.ones((2, 3), int)),
             TypeError, ("mask", "boolean")),
        Case("categorical", "mask_logits: a row all masked",
             lambda: C.mask_logits(z, np.array([[True] * 3, [False] * 3])), ValueError, ("mask",)),
    ]
    for dt, big in ((np.float64, 1e308), (np.float32, 3e38)):
        ze = _z([big, -big, 0.0], [-big, -big, -big], dtype=dt)
        for act in (np.array([0, 0]), np.array([1, 2])):
            out.append(Case("categorical", f"log_prob: logits +-{big:g} ({np.dtype(dt).name}), "
                            f"actions {act.tolist()}", lambda ze=ze, act=act: C.log_prob(ze, act),
                            FINITE))
        for fn in ("log_prob_grad", "entropy", "entropy_grad", "softmax", "log_softmax"):
            f = getattr(C, fn)
            call = (lambda f=f, ze=ze: f(ze, np.array([1, 0]))) if fn == "log_prob_grad" else (
                lambda f=f, ze=ze: f(ze))
            out.append(Case("categorical", f"{fn}: logits +-{big:g} ({np.dtype(dt).name})", call,
                            FINITE))
        zq = ze[::-1].copy()
        out += [Case("categorical", f"kl, kl_grad: logits +-{big:g} ({np.dtype(dt).name})",
                     lambda ze=ze, zq=zq: (C.kl(ze, zq), C.kl_grad(ze, zq)), FINITE),
                Case("categorical", f"sample, mode: logits +-{big:g} ({np.dtype(dt).name})",
                     lambda ze=ze: (C.sample(ze, _rng()), C.mode(ze)), FINITE)]
    return out


# ------------------------------------------------------------------------------ gaussian, sde

def gaussian_cases() -> list[Case]:
    from npg.distributions import gaussian as G
    m, s, a = np.zeros((2, 2)), np.zeros((2, 2)), np.ones((2, 2))
    nan = np.full((2, 2), NAN)
    out = []
    for fn, call, name in (
            ("log_prob", lambda: G.log_prob(nan, s, a), "mean"),
            ("log_prob", lambda: G.log_prob(m, nan, a), "log_std"),
            ("log_prob", lambda: G.log_prob(m, s, nan), "a"),
            ("log_prob_grad", lambda: G.log_prob_grad(m, s, nan), "a"),
            ("entropy", lambda: G.entropy(nan), "log_std"),
            ("entropy_grad", lambda: G.entropy_grad(nan), "log_std"),
            ("kl", lambda: G.kl(m, s, nan, s), "mean_q"),
            ("kl_grad", lambda: G.kl_grad(m, s, m, nan), "log_std_q"),
            ("sample", lambda: G.sample(nan, s, _rng()), "mean"),
            ("clip_log_std", lambda: G.clip_log_std(nan), "log_std")):
        out.append(Case("gaussian", f"{fn}: NaN {name}", call, ValueError, (name, "finite")))
    out += [
        Case("gaussian", "log_prob: +inf log_std", lambda: G.log_prob(m, s + INF, a), ValueError,
             ("log_std", "finite")),
        Case("gaussian", "log_prob: integer mean", lambda: G.log_prob(np.zeros((2, 2), int), s, a),
             TypeError, ("mean", "floating")),
        Case("gaussian", "log_prob: 0-d mean", lambda: G.log_prob(np.float64(0), s, a),
             ValueError, ("mean",)),
        Case("gaussian", "log_prob: shapes do not broadcast",
             lambda: G.log_prob(m, np.zeros(3), a), ValueError, ("log_std", "broadcast")),
        Case("gaussian", "kl: shapes do not broadcast", lambda: G.kl(m, s, np.zeros((3, 2)), s),
             ValueError, ("mean_q", "broadcast")),
        Case("gaussian", "sample: rng None", lambda: G.sample(m, s, None), TypeError, ("rng",)),
        Case("gaussian", "log_prob: |a - mean| / sigma overflows float32",
             lambda: G.log_prob(np.zeros((1, 1), np.float32), np.full((1, 1), -20, np.float32),
                                np.full((1, 1), 1e30, np.float32)), ValueError,
             ("log_prob", "overflow", "float32")),
        Case("gaussian", "kl: exp(2 (log_std_p - log_std_q)) overflows",
             lambda: G.kl(m, s + 400, m, s - 400), ValueError, ("kl", "overflow", "log_std")),
        Case("gaussian", "sample: exp(log_std) overflows",
             lambda: G.sample(m, s + 1000, _rng()), ValueError, ("sample", "overflow")),
        Case("gaussian", "log_prob: log_std at LOG_STD_MIN, |a - mean| = 1e10 (float64)",
             lambda: G.log_prob(m, s + G.LOG_STD_MIN, a * 1e10), FINITE),
        Case("gaussian", "log_prob, kl: log_std at the clip bounds (float32)",
             lambda: (G.log_prob(np.zeros((1, 2), np.float32), np.array(
                 [[G.LOG_STD_MIN, G.LOG_STD_MAX]], np.float32), np.ones((1, 2), np.float32)),
                 G.kl(np.zeros((1, 2), np.float32), np.full((1, 2), G.LOG_STD_MAX, np.float32),
                      np.ones((1, 2), np.float32), np.full((1, 2), G.LOG_STD_MIN, np.float32))),
             FINITE),
    ]
    return out


def sde_cases() -> list[Case]:
    from npg.distributions import sde as S
    m, phi, L, a = np.zeros((2, 2)), np.ones((2, 3)), np.zeros((3, 2)), np.ones((2, 2))
    out = []
    for name, args in (("mean", (m + NAN, phi, L, a)), ("phi", (m, phi + NAN, L, a)),
                       ("log_std", (m, phi, L + NAN, a)), ("a", (m, phi, L, a + INF))):
        out.append(Case("sde", f"log_prob: non-finite {name}", lambda args=args: S.log_prob(*args),
                        ValueError, (name, "finite")))
        out.append(Case("sde", f"log_prob_grad: non-finite {name}",
                        lambda args=args: S.log_prob_grad(*args), ValueError, (name, "finite")))
    out += [
        Case("sde", "entropy: NaN phi", lambda: S.entropy(phi + NAN, L), ValueError,
             ("phi", "finite")),
        Case("sde", "variance: H mismatch", lambda: S.variance(phi, np.zeros((2, 2))), ValueError,
             ("phi", "log_std", "H")),
        Case("sde", "log_prob: a of wrong shape", lambda: S.log_prob(m, phi, L, np.ones((2, 3))),
             ValueError, ("a", "[B, K]")),
        Case("sde", "log_prob: integer phi", lambda: S.log_prob(m, np.ones((2, 3), int), L, a),
             TypeError, ("phi", "floating")),
        Case("sde", "log_prob: exp(2 log_std) overflows",
             lambda: S.log_prob(m, phi, L + 400, a), ValueError, ("overflow", "log_std")),
        Case("sde", "sample: rng None", lambda: S.sample(m, phi, L, None), TypeError, ("rng",)),
        Case("sde", "sample_noise: n = 0", lambda: S.sample_noise(L, 0, _rng()), ValueError,
             ("n", "positive")),
        Case("sde", "sample_noise: n = True", lambda: S.sample_noise(L, True, _rng()), TypeError,
             ("n", "int")),
        Case("sde", "sample_noise: n = 2.5", lambda: S.sample_noise(L, 2.5, _rng()), TypeError,
             ("n", "int")),
        Case("sde", "noise_action: noise of wrong shape",
             lambda: S.noise_action(m, phi, np.zeros((2, 3, 3))), ValueError,
             ("noise", "[B, H, K]")),
        Case("sde", "noise_action: NaN noise",
             lambda: S.noise_action(m, phi, np.full((2, 3, 2), NAN)), ValueError,
             ("noise", "finite")),
        Case("sde", "variance_vjp: NaN d_v",
             lambda: S.variance_vjp(phi, L, np.full((2, 2), NAN)), ValueError, ("d_v", "finite")),
        Case("sde", "entropy_grad: log_std of 3 axes",
             lambda: S.entropy_grad(phi, np.zeros((3, 2, 1))), ValueError, ("log_std",)),
        Case("sde", "sample_noise: rng None", lambda: S.sample_noise(L, 2, None), TypeError,
             ("rng",)),
        Case("sde", "log_prob: phi = 0 (variance floor EPS)",
             lambda: S.log_prob(m, np.zeros((2, 3)), L, a), FINITE),
    ]
    return out


def all_cases() -> list[Case]:
    from bad_input_cases_algos import algo_cases
    from bad_input_cases_core import core_cases
    from bad_input_cases_models import model_cases
    return (categorical_cases() + gaussian_cases() + sde_cases() + core_cases() + model_cases()
            + algo_cases())


# ------------------------------------------------------------------------------ running a case

def outcome(case: Case) -> tuple[str, str]:
    """(kind, text): kind is an exception's type name, 'finite' or 'NON-FINITE'."""
    import warnings
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            result = case.call()
    except Exception as e:  # noqa: BLE001 - the table reports whatever happened
        return type(e).__name__, str(e)
    return ("finite", "") if all_finite(result) else ("NON-FINITE", repr(result)[:200])


def all_finite(x) -> bool:
    if isinstance(x, dict):
        return all(all_finite(v) for v in x.values())
    if isinstance(x, (tuple, list)):
        return all(all_finite(v) for v in x)
    if x is None or isinstance(x, (str, bool)):
        return True
    try:
        return bool(np.all(np.isfinite(np.asarray(x, dtype=np.float64))))
    except (TypeError, ValueError):
        return True


def passes(case: Case) -> tuple[bool, str]:
    kind, text = outcome(case)
    if case.expect == FINITE:
        return kind == "finite", f"{kind}: {text}"
    if kind != case.expect.__name__:
        return False, f"{kind}: {text}"
    missing = [n for n in case.names if n.lower() not in text.lower()]
    return not missing, f"{kind}: {text}" + (f"  (message lacks {missing})" if missing else "")


def markdown() -> str:
    """The table for docs/bad_input.md: one section per area, one row per case."""
    from bad_input_cases_algos import OPEN
    rows, area = [], None
    for c in all_cases():
        if c.area != area:
            area = c.area
            rows += ["", f"### {area}", "", "| bad input | outcome |", "|---|---|"]
        kind, text = outcome(c)
        shown = ("finite result (extreme but legal input)" if kind == "finite"
                 else f"`{kind}`: {text}")
        if c.id in OPEN:
            shown = (f"**open**: accepted ({kind}); should raise `{c.expect.__name__}` naming "
                     f"{', '.join(c.names)}")
        cell = shown.replace("|", "\\|").replace("\n", " ")
        rows.append(f"| {c.what.replace('|', '/')} | {cell} |")
    return "\n".join(rows).lstrip("\n") + "\n"


if __name__ == "__main__":
    import sys
    sys.path.insert(0, __import__("os").path.dirname(__file__))
    if "--check" in sys.argv:
        bad = 0
        for c in all_cases():
            ok, msg = passes(c)
            if not ok:
                bad += 1
                print(f"FAIL {c.id}\n     {msg}")
        print(f"{bad} failing of {len(all_cases())}")
    else:
        print(markdown())
