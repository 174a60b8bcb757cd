"""npg.envs.sequence_tasks: verifiable rewards and the Bradley-Terry preference sampler."""

import numpy as np
import pytest

from npg.distributions.sequence import SequenceSpace
from npg.envs.sequence_tasks import (Bandit, TableTask, TargetPattern, TinyArithmetic,
                                     preference_pairs)
from npg.policies import TabularSequencePolicy


def test_target_pattern_rewards_exactly_the_target():
    task = TargetPattern([(1,), (2, 1), (1, 2, 1)], vocab_size=3, max_len=4)
    assert task.targets == [(1, 0), (2, 1, 0), (1, 2, 1, 0)]
    assert np.all(task.rewards.sum(axis=1) == 1)
    y = task.space.encode([(1, 0), (1, 0), (1, 2, 1, 0)])
    np.testing.assert_array_equal(task.reward(np.array([0, 1, 2]), y), [1, 0, 1])
    np.testing.assert_array_equal(task.correct(np.array([0, 1, 2]), y), [True, False, True])


def test_graded_target_counts_the_matched_prefix():
    task = TargetPattern([(1, 2, 1)], vocab_size=3, max_len=4, graded=True)
    y = task.space.encode([(1, 2, 0), (2, 0), (1, 2, 1, 0)])
    np.testing.assert_allclose(task.reward(np.zeros(3, dtype=int), y), [2 / 4, 0, 1])


def test_tiny_arithmetic_answers_in_base():
    task = TinyArithmetic(base=2)            # digits d -> token d + 1, eos 0
    assert task.prompt_names == ["0+0", "0+1", "1+0", "1+1"]
    assert [task.answer(x) for x in range(4)] == [(1, 0), (2, 0), (2, 0), (2, 1, 0)]
    y = task.space.encode([(1, 0), (2, 0), (1, 0), (2, 1, 0)])
    np.testing.assert_array_equal(task.reward(np.arange(4), y), [1, 1, 0, 1])
    assert np.all(task.rewards.sum(axis=1) == 1)


def test_bandit_is_the_length_one_case():
    task = Bandit([[0.0, 1.0, 0.5]])
    assert task.space.max_len == 1 and task.space.size() == 3
    np.testing.assert_array_equal(task.rewards, [[0.0, 1.0, 0.5]])


def test_index_finds_every_completion():
    task = TinyArithmetic(3)
    np.testing.assert_array_equal(task.index(task.completions), np.arange(task.space.size()))


def test_bad_input_names_the_argument():
    with pytest.raises(ValueError, match="rewards"):
        TableTask(SequenceSpace(3, 2), np.zeros((1, 3)))
    with pytest.raises(ValueError, match="longer than max_len"):
        TargetPattern([(1, 1, 1, 1, 1)], max_len=4)
    with pytest.raises(ValueError, match="prompts"):
        TinyArithmetic(2).reward(np.array([4]), TinyArithmetic(2).space.encode([(1, 0)]))
    with pytest.raises(ValueError, match="base"):
        TinyArithmetic(1)


def test_preference_labels_follow_bradley_terry():
    # Two arms, uniform reference: every pair is {0, 1}; P(1 preferred) = sigma(r1 - r0).
    r = np.array([[0.0, 1.2], [0.3, -0.4]])
    task = Bandit(r)
    pol = TabularSequencePolicy(2, task.space)
    ref = pol.frozen(pol.init(0))
    n = 20_000
    pairs = preference_pairs(task, ref, n, np.random.default_rng(0))
    assert not np.any(np.all(pairs["chosen"] == pairs["rejected"], axis=1))
    for x in range(2):
        sel = pairs["prompts"] == x
        p = 1 / (1 + np.exp(-(r[x, 1] - r[x, 0])))
        freq = np.mean(pairs["chosen"][sel, 0] == 1)
        assert abs(freq - p) / np.sqrt(p * (1 - p) / sel.sum()) < 4.5


def test_preference_pairs_refuse_a_deterministic_reference():
    task = Bandit([[0.0, 1.0]])
    pol = TabularSequencePolicy(1, task.space)
    ref = pol.frozen({"theta": np.array([[[50.0, -50.0]]])})
    with pytest.raises(ValueError, match="identical"):
        preference_pairs(task, ref, 5, 0)
