"""The one ordering: best first, ties to the lower position, the same with or without a partial sort."""

import numpy as np
import pytest

from movierec.ranking import top_k


def test_top_k_is_stable_on_ties():
    scores = np.array([[1.0, 3.0, 3.0, 2.0, 3.0]])
    assert top_k(scores, 3).tolist() == [[1, 2, 4]]


@pytest.mark.parametrize(
    ("k", "expected"),
    [(1, [1]), (3, [1, 3, 0]), (5, [1, 3, 0, 2, 4]), (10, [1, 3, 0, 2, 4])],
)
def test_ties_straddling_the_cut_go_to_the_lower_position(k, expected):
    scores = np.array([0.5, 0.9, 0.5, 0.7, 0.5], dtype=np.float32)  # three tied 0.5s
    assert top_k(scores, k).tolist() == expected


def test_excluded_positions_scored_minus_infinity_come_last():
    scores = np.array([[-np.inf, 0.2, -np.inf, 0.2], [0.1, -np.inf, -np.inf, -np.inf]])
    assert top_k(scores, 3).tolist() == [[1, 3, 0], [0, 1, 2]]


@pytest.mark.parametrize("seed", range(5))
def test_partial_sort_equals_a_full_stable_sort(seed):
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, 6, size=(7, 40)).astype(np.float64)  # many ties
    scores[rng.random(scores.shape) < 0.2] = -np.inf
    for k in (1, 5, 10, 40, 50):
        np.testing.assert_array_equal(top_k(scores, k), np.argsort(-scores, axis=1, kind="stable")[:, :k])


def test_empty_inputs_and_bad_k():
    assert top_k(np.zeros((3, 0)), 5).shape == (3, 0)
    assert top_k(np.zeros(0), 5).shape == (0,)
    with pytest.raises(ValueError, match="k must be at least 1"):
        top_k(np.zeros(4), 0)


def test_nan_scores_rank_last_and_never_return_garbage():
    scores = np.array([[0.5, np.nan, 0.9, np.nan, 0.1, 0.3, 0.2], [np.nan] * 7])
    assert top_k(scores, 4).tolist() == [[2, 0, 5, 6], [0, 1, 2, 3]]
