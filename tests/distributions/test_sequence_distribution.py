"""npg.distributions.sequence: the completion space, log-probabilities and their gradients."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from npg.distributions import sequence as seqd
from npg.distributions.sequence import PAD, SequenceSpace
from npg.testing import check_grad


def test_space_size_matches_enumeration_and_hand_count():
    # V = 3 (eos 0, tokens 1, 2), L = 3: lengths 1: (0); 2: (a, 0) x 2; 3: (a, b, any) 2*2*3.
    sp = SequenceSpace(3, 3, 0)
    ys = sp.enumerate()
    assert sp.size() == 1 + 2 + 12 == ys.shape[0]
    assert len(set(sp.decode(ys))) == ys.shape[0]
    np.testing.assert_array_equal(sp.lengths(ys)[:3], [1, 2, 2])


def test_length_one_space_is_every_token():
    sp = SequenceSpace(4, 1, 2)
    np.testing.assert_array_equal(sp.enumerate()[:, 0], [0, 1, 2, 3])


def test_eos_in_the_middle_of_the_vocabulary():
    sp = SequenceSpace(4, 2, eos=2)
    ys = sp.decode(sp.enumerate())
    assert (2,) in ys and (0, 2) in ys and (3, 3) in ys and all(y[0] != 2 for y in ys[1:])


@pytest.mark.parametrize("bad, match", [
    ([(1, 2, 1, 0)], "longer than max_len"),
    ([(1, 5)], r"in \[0, 3\)"),
    ([(1, -3)], r"in \[0, 3\)"),
    ([()], "at least one token"),
    ([(0, 1)], "end token 0 before"),
    ([(1,)], "does not end with the end token"),
])
def test_bad_completions_raise_naming_the_argument(bad, match):
    with pytest.raises(ValueError, match=match):
        SequenceSpace(3, 3, 0).encode(bad)


def test_check_rejects_wrong_kinds():
    sp = SequenceSpace(3, 3, 0)
    with pytest.raises(TypeError, match="tokens"):
        sp.check([[1, 0, PAD]])
    with pytest.raises(TypeError, match="integer"):
        sp.check(np.zeros((1, 3)))
    with pytest.raises(ValueError, match="longer than max_len"):
        sp.check(np.array([[1, 1, 1, 0]]))
    with pytest.raises(ValueError, match="padded only after"):
        sp.check(np.array([[1, PAD, 0]]))
    with pytest.raises(ValueError, match="vocab_size"):
        SequenceSpace(1, 2)
    with pytest.raises(ValueError, match="eos"):
        SequenceSpace(3, 2, eos=3)


def _logits_and_tokens(draw, sp):
    ys = sp.enumerate()
    b = draw(st.integers(1, 4))
    idx = draw(st.lists(st.integers(0, ys.shape[0] - 1), min_size=b, max_size=b))
    z = np.array(draw(st.lists(st.floats(-3, 3), min_size=b * sp.max_len * sp.vocab_size,
                               max_size=b * sp.max_len * sp.vocab_size)))
    return z.reshape(b, sp.max_len, sp.vocab_size), ys[idx]


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_token_log_prob_grad_matches_finite_differences(data):
    sp = SequenceSpace(3, 3, 0)
    z, y = _logits_and_tokens(data.draw, sp)
    w = np.array(data.draw(st.lists(st.floats(-2, 2), min_size=y.size, max_size=y.size)))
    w = w.reshape(y.shape) * sp.mask(y)

    def f(p):
        return np.sum(w * seqd.token_log_probs(p["z"], y))
    check_grad(f, {"z": seqd.token_log_prob_grad(z, y, w)}, {"z": z})


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_sequence_log_prob_grad_matches_finite_differences(data):
    sp = SequenceSpace(4, 2, 1)
    z, y = _logits_and_tokens(data.draw, sp)
    w = np.array(data.draw(st.lists(st.floats(-2, 2), min_size=y.shape[0],
                                    max_size=y.shape[0])))
    check_grad(lambda p: np.sum(w * seqd.log_prob(p["z"], y)),
               {"z": seqd.log_prob_grad(z, y, w)}, {"z": z})


def test_padding_contributes_nothing():
    sp = SequenceSpace(3, 3, 0)
    y = sp.encode([(0,), (1, 0)])
    z = np.random.default_rng(0).standard_normal((2, 3, 3))
    lp = seqd.token_log_probs(z, y)
    assert lp[0, 1] == 0 and lp[0, 2] == 0 and lp[1, 2] == 0
    g = seqd.log_prob_grad(z, y)
    assert np.all(g[0, 1:] == 0) and np.all(g[1, 2] == 0)


def _iid_next_logits(z):
    return lambda prefix, t: np.broadcast_to(z[t], (prefix.shape[0], z.shape[1]))


def test_sampling_frequencies_match_the_exact_probabilities():
    # logits depending on position only: pi(y) = prod_t softmax(z_t)[y_t]; z-test per completion.
    sp = SequenceSpace(3, 3, 0)
    z = np.array([[0.3, -0.2, 0.5], [1.0, 0.0, -0.5], [0.2, 0.1, -0.3]])
    ys = sp.enumerate()
    p = np.exp(seqd.log_prob(np.broadcast_to(z, (ys.shape[0], 3, 3)), ys))
    assert abs(p.sum() - 1) < 1e-12
    n = 40_000
    y = seqd.sample(_iid_next_logits(z), n, sp, np.random.default_rng(0))
    codes = {c: i for i, c in enumerate(sp.decode(ys))}
    counts = np.bincount([codes[c] for c in sp.decode(y)], minlength=ys.shape[0])
    zscore = (counts / n - p) / np.sqrt(p * (1 - p) / n)
    assert np.max(np.abs(zscore)) < 4.5


def test_sample_refuses_a_missing_generator():
    sp = SequenceSpace(3, 2, 0)
    with pytest.raises(TypeError, match="rng"):
        seqd.sample(_iid_next_logits(np.zeros((2, 3))), 3, sp, 0)
