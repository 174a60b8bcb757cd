"""Every bad-input case of the table in ``bad_input_cases.py`` / ``bad_input_cases_models.py``:
the public function raises the expected ValueError / TypeError with a message that names the
argument (and what was expected), or, for extreme but legal input, returns finite results.

``docs/bad_input.md`` is the same table with the messages (``python tests/bad_input_cases.py``).
Cases in ``OPEN`` are bad inputs of modules outside this table's owner (npg.mdp) that are still
accepted silently: strict xfails, so that the fix turns them into failures to move here.
"""

from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from bad_input_cases import FINITE, all_cases, outcome, passes  # noqa: E402

OPEN = {
    "mdp: random_mdp: reward_scale '1'",
    "mdp: random_mdp: p_terminate True",
    "mdp: random_mdp: rng None",
}

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


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_bad_input(case):
    ok, msg = passes(case)
    assert ok, msg


def test_every_error_case_names_something():
    """A case without names would pass on any message: each error case checks at least one."""
    assert all(c.names for c in CASES if c.expect != FINITE)


def test_outcome_reports_silent_non_finite():
    """The harness itself: a silent NaN is reported as such, not as a pass."""
    import numpy as np
    from bad_input_cases import Case
    c = Case("harness", "nan", lambda: np.array([np.nan]), FINITE)
    assert outcome(c)[0] == "NON-FINITE" and not passes(c)[0]
    c = Case("harness", "unnamed", lambda: (_ for _ in ()).throw(ValueError("x is bad")),
             ValueError, ("y",))
    assert not passes(c)[0]
