"""Every bad-input case of the table in ``bad_input_cases*.py`` (collected by ``all_cases``):
the public function raises the expected ValueError / TypeError with a message that names the
argument (and what was expected), or, for extreme but legal input, returns finite results.

``docs/bad_input.md`` is the same table with the messages (``python tests/bad_input_cases.py``).
Cases in ``OPEN`` are bad inputs of modules outside this table's owner (npg.mdp) that are still
accepted silently: strict xfails, so that the fix turns them into failures to move here.
"""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

sys.path.insert(0, os.path.dirname(__file__))

from bad_input_cases import FINITE, all_cases, outcome, passes  # noqa: E402
from bad_input_cases_algos import OPEN  # noqa: E402

CASES = all_cases()


def _param(c):
    marks = [pytest.mark.xfail(strict=True, reason="open: npg.mdp accepts it")] \
        if c.id in OPEN else []
    return pytest.param(c, id=c.id, marks=marks)


def test_ids_unique():
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})


def test_open_cases_exist():
    assert OPEN <= {c.id for c in CASES}


def test_docs_table_lists_every_case():
    """docs/bad_input.md is made from this table (python tests/bad_input_cases.py); every case
    must appear in it."""
    path = os.path.join(os.path.dirname(__file__), os.pardir, "docs", "bad_input.md")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    missing = [c.id for c in CASES
               if f"### {c.area}" not in text or f"| {c.what.replace('|', '/')} |" not in text]
    assert not missing, missing[:10]


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_bad_input(case):
    ok, msg = passes(case)
    assert ok, msg


def test_every_error_case_names_something():
    """A case without names would pass on any message: each error case checks at least one."""
    assert all(c.names for c in CASES if c.expect != FINITE)


def test_outcome_reports_silent_non_finite():
    """The harness itself: a silent NaN is reported as such, not as a pass."""
    from bad_input_cases import Case
    c = Case("harness", "nan", lambda: np.array([np.nan]), FINITE)
    assert outcome(c)[0] == "NON-FINITE" and not passes(c)[0]
    c = Case("harness", "unnamed", lambda: (_ for _ in ()).throw(ValueError("x is bad")),
             ValueError, ("y",))
    assert not passes(c)[0]


# ---------------------------------------------------------------------------- extreme logits

def _logits(dtype, bound=None):
    F = float(np.finfo(dtype).max) if bound is None else bound
    width = 32 if dtype == np.float32 else 64
    return hnp.arrays(dtype, st.tuples(st.integers(1, 3), st.integers(1, 5)),
                      elements=st.floats(-F, F, allow_nan=False, allow_infinity=False,
                                         width=width))


@settings(max_examples=150, deadline=None, derandomize=True)
@given(data=st.data())
def test_any_finite_logits_give_finite_results(data):
    """Every categorical function is finite for every finite logit array of either dtype, up to
    +-float max (log-probabilities below -float max saturate there), and probabilities sum
    to 1."""
    from npg.distributions import categorical as C
    dtype = data.draw(st.sampled_from([np.float32, np.float64]))
    z = data.draw(_logits(dtype))
    zq = data.draw(hnp.arrays(dtype, z.shape, elements=st.floats(
        -float(np.finfo(dtype).max), float(np.finfo(dtype).max), allow_nan=False,
        allow_infinity=False, width=32 if dtype == np.float32 else 64)))
    for a in range(z.shape[1]):
        act = np.full(z.shape[0], a)
        assert np.all(np.isfinite(C.log_prob(z, act)))
        assert np.all(np.isfinite(C.log_prob_grad(z, act)))
    for out in (C.entropy(z), C.entropy_grad(z), C.log_softmax(z), C.kl(z, zq),
                *C.kl_grad(z, zq)):
        assert out.dtype == dtype and np.all(np.isfinite(out))
    p = C.softmax(z)
    np.testing.assert_allclose(p.sum(axis=-1), 1.0, rtol=1e-5)
    assert np.all(C.kl(z, zq) >= 0)


@settings(max_examples=100, deadline=None, derandomize=True)
@given(z=_logits(np.float64, bound=1e4))
def test_saturation_leaves_ordinary_logits_bit_for_bit(z):
    """The saturation at -float max changes nothing where z - max z is representable: the same
    bits as the plain shifted formula."""
    from npg.distributions import categorical as C
    y = z - z.max(axis=-1, keepdims=True)
    plain = y - np.log(np.sum(np.exp(y), axis=-1, keepdims=True))
    np.testing.assert_array_equal(C.log_softmax(z), plain)
