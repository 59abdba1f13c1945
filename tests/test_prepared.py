"""Prepared: the encoder fitted on the training part only, every part encoded once, fields as asked."""

import numpy as np
import pytest

from movierec.features import FIELDS, labels
from movierec.prepared import prepare


def test_every_part_is_encoded_with_its_like_labels(prepared):
    for name in ("train", "validation", "test"):
        part, frame = prepared.part(name), getattr(prepared.split, name)
        assert part.codes.shape == (len(frame), len(FIELDS))
        np.testing.assert_array_equal(part.labels, labels(frame))
    both = np.concatenate([prepared.part("train").codes, prepared.part("test").codes])
    np.testing.assert_array_equal(prepared.codes("train", "test"), both)
    assert prepared.frame("train", "validation").index.tolist() == [
        *prepared.split.train.index, *prepared.split.validation.index
    ]


def test_vocabularies_come_from_the_training_part_only(prepared):
    trained_users = set(prepared.split.train["user_id"].astype(str))
    assert set(prepared.encoder.vocabularies["user_id"]) == trained_users


def test_a_subset_of_fields_keeps_the_reference_order_and_unknown_fields_are_refused(ml1m):
    subset = prepare(ml1m, fields=("zip", "user_id", "genre1"))
    assert subset.fields == ("user_id", "genre1", "zip")
    assert subset.part("train").codes.shape[1] == 3 and len(subset.vocab_sizes) == 3
    with pytest.raises(ValueError, match="unknown fields"):
        prepare(ml1m, fields=("user_id", "shoe_size"))
