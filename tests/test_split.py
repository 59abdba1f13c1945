"""The splits: the project's random split and the protocols' time and 80/10/10 splits."""

import pandas as pd
import pytest

from movierec.split import SPLIT_SEED, eight_one_one, split_ratings, temporal_split


def test_the_project_split_is_seeded_disjoint_and_complete(ml1m):
    first, again = split_ratings(ml1m.ratings), split_ratings(ml1m.ratings)
    for part in ("train", "validation", "test"):
        pd.testing.assert_frame_equal(getattr(first, part), getattr(again, part))
    indexes = [set(getattr(first, part).index) for part in ("train", "validation", "test")]
    assert sum(len(i) for i in indexes) == len(ml1m.ratings) == len(set().union(*indexes))
    assert len(first.test) == pytest.approx(0.2 * len(ml1m.ratings), abs=1)
    assert len(first.validation) == pytest.approx(0.1 * 0.8 * len(ml1m.ratings), abs=1)
    assert first.describe()["random_state"] == SPLIT_SEED and first.describe()["rows"] == first.rows()


def test_eighty_ten_ten_is_seeded_and_complete(ml1m):
    split = eight_one_one(ml1m.ratings)
    assert sum(split.rows().values()) == len(ml1m.ratings)
    assert len(split.test) == pytest.approx(0.1 * len(ml1m.ratings), abs=1)
    pd.testing.assert_frame_equal(split.test, eight_one_one(ml1m.ratings).test)


def test_temporal_split_puts_every_test_row_after_every_training_row(ml1m):
    split = temporal_split(ml1m.ratings)
    assert split.train["timestamp"].max() <= split.validation["timestamp"].min()
    assert split.validation["timestamp"].max() <= split.test["timestamp"].min()
    n = len(ml1m.ratings)
    assert len(split.test) == round(0.1 * n) and len(split.validation) == round(0.1 * n)
    assert len(split.train) + len(split.validation) + len(split.test) == n


def test_temporal_split_keeps_file_order_among_equal_times():
    ratings = pd.DataFrame({"timestamp": [5, 1, 5, 1, 3, 5, 5, 5, 5, 5], "rating": 4, "row": range(10)})
    split = temporal_split(ratings, test_share=0.2, validation_share=0.2)
    assert split.train["row"].tolist() == [1, 3, 4, 0, 2, 5]
    assert split.test["row"].tolist() == [8, 9]
