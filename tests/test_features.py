import json

import numpy as np
import pandas as pd
import pytest

from movierec.features import (
    FIELDS,
    OOV_INDEX,
    EncoderMismatchError,
    FeatureEncoder,
    labels,
    movie_fields,
)


def test_fourteen_fields_in_reference_order():
    assert FIELDS == (
        "user_id", "movie_id", "movie_decade", "movie_year", "rating_year", "rating_month", "rating_decade",
        "genre1", "genre2", "genre3", "gender", "age", "occupation", "zip",
    )  # fmt: skip


def test_movie_fields_pad_genres_with_no_and_derive_decade():
    movies = pd.DataFrame(
        {"movie_id": [1, 2], "title": ["A (1995)", "B"], "year": pd.array([1995, None], dtype="Int64"),
         "genres": ["Action|Comedy|Drama|War", "Horror"]}
    )  # fmt: skip
    table = movie_fields(movies)
    assert table.iloc[0][["movie_decade", "movie_year", "genre1", "genre2", "genre3"]].tolist() == [
        "1990s", "1995", "Action", "Comedy", "Drama",
    ]  # fmt: skip
    assert table.iloc[1][["movie_decade", "movie_year", "genre1", "genre2", "genre3"]].tolist() == [
        "unknown", "unknown", "Horror", "no", "no",
    ]  # fmt: skip


def test_labels_are_rating_at_least_four():
    assert labels(pd.DataFrame({"rating": [1, 3, 4, 5]})).tolist() == [0, 0, 1, 1]


def test_encoding_is_consistent_and_in_range(ml1m, prepared):
    codes = prepared.part("train").codes
    assert codes.shape[1] == len(FIELDS) and codes.dtype == np.int32
    assert (codes >= 0).all() and (codes < np.array(prepared.encoder.vocab_sizes)).all()
    # training rows never need the OOV code: the vocabularies were fitted on them
    assert (codes > OOV_INDEX).all()
    row = prepared.split.train.iloc[0]
    user_code = codes[0, FIELDS.index("user_id")]
    assert prepared.encoder.vocabularies["user_id"][user_code - 1] == str(row["user_id"])


def test_unseen_values_map_to_oov(ml1m, prepared):
    users = pd.DataFrame({"user_id": [10**6], "gender": ["F"], "age": [25], "occupation": ["writer"], "zip": ["ZZZZZ"]})
    codes = prepared.encoder.encode_users(users)[0]
    assert codes[0] == OOV_INDEX  # brand-new user
    assert codes[4] == OOV_INDEX  # unseen zip
    assert codes[1] != OOV_INDEX  # but a known gender still encodes
    context = prepared.encoder.encode_context([2999], [1])[0]
    assert context[0] == OOV_INDEX  # a future year


def test_json_round_trip(tmp_path, prepared):
    path = tmp_path / "encoder.json"
    prepared.encoder.save(path)
    loaded = FeatureEncoder.load(path)
    assert loaded.vocabularies == prepared.encoder.vocabularies
    codes = prepared.part("test").codes
    again = loaded.encode_ratings(prepared.split.test, prepared.data.users, prepared.data.movies)
    np.testing.assert_array_equal(codes, again)
    assert json.loads(path.read_text())["format"] == "movierec.feature-encoder"


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda p: p.update(fields=p["fields"][::-1]), "lists fields"),
        (lambda p: p.update(version=99), "encoder version 99"),
        (lambda p: p.update(format="something"), "not a movierec feature encoder"),
        (lambda p: p["vocabularies"].pop("zip"), "missing"),
        (lambda p: p["vocabularies"]["age"].append(p["vocabularies"]["age"][0]), "repeats"),
    ],
)
def test_mismatched_encoder_files_are_refused(tmp_path, prepared, mutate, message):
    payload = prepared.encoder.to_json()
    payload = json.loads(json.dumps(payload))
    mutate(payload)
    path = tmp_path / "encoder.json"
    path.write_text(json.dumps(payload))
    with pytest.raises(EncoderMismatchError, match=message):
        FeatureEncoder.load(path)


def test_truncated_encoder_file_is_refused(tmp_path, prepared):
    path = tmp_path / "encoder.json"
    prepared.encoder.save(path)
    path.write_text(path.read_text()[:100])
    with pytest.raises(EncoderMismatchError, match="corrupt or truncated"):
        FeatureEncoder.load(path)


@pytest.mark.parametrize("odd", ["--5", "²", "-3", "007", "1e3"])
def test_vocabulary_order_never_crashes_on_odd_text(odd):
    from movierec.features import _sorted_values

    values = _sorted_values(np.array(["10", "9", odd, "abc"]))
    assert sorted(values) == sorted(["10", "9", odd, "abc"])
    assert values.index("9") < values.index("10")  # numbers in numeric order
