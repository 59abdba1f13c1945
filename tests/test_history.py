"""Histories: each user's most recent known movies, capped, padded, and never the row's own movie."""

import numpy as np
import pandas as pd
import pytest

from movierec.features import FIELDS, FeatureEncoder
from movierec.history import HISTORY_LENGTH, Histories

MOVIE_IDS = [10, 20, 30, 40, 50, 60]  # codes 1..6 in the encoder below
UNKNOWN_MOVIE = 99


def encoder(movie_ids=MOVIE_IDS) -> FeatureEncoder:
    return FeatureEncoder({f: [str(m) for m in movie_ids] if f == "movie_id" else [] for f in FIELDS})


def code(movie_id: int) -> int:
    return MOVIE_IDS.index(movie_id) + 1


def ratings(rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["user_id", "movie_id", "timestamp"])


USERS = pd.Index([7, 8, 9])


def test_most_recent_first_ties_to_the_higher_movie_id_and_zero_padding():
    rated = ratings([(7, 10, 100), (7, 30, 300), (7, 20, 200), (8, 40, 50), (8, 60, 50), (8, 50, 50)])
    histories = Histories.from_ratings(rated, USERS, encoder(), length=4)
    assert histories.codes.dtype == np.int32
    np.testing.assert_array_equal(
        histories.codes,
        [[code(30), code(20), code(10), 0], [code(60), code(50), code(40), 0], [0, 0, 0, 0]],  # user 9 rated none
    )


def test_the_cap_keeps_the_most_recent_and_unknown_movies_are_dropped_before_it():
    rated = ratings([(8, m, t) for t, m in enumerate(MOVIE_IDS)] + [(8, UNKNOWN_MOVIE, 1000)])
    histories = Histories.from_ratings(rated, USERS, encoder(), length=3)
    np.testing.assert_array_equal(histories.codes[1], [code(60), code(50), code(40)])
    assert not histories.codes[[0, 2]].any()


def test_rows_follow_the_user_index_not_the_rating_order():
    rated = ratings([(9, 10, 1), (7, 20, 1)])
    histories = Histories.from_ratings(rated, pd.Index([9, 8, 7]), encoder(), length=2)
    np.testing.assert_array_equal(histories.codes, [[code(10), 0], [0, 0], [code(20), 0]])


def test_a_rating_of_a_user_outside_the_index_is_an_error():
    with pytest.raises(KeyError, match="user_id 5"):
        Histories.from_ratings(ratings([(5, 10, 1)]), USERS, encoder())


def test_the_default_length_and_the_memory_is_users_times_length():
    histories = Histories.from_ratings(ratings([(7, 10, 1)]), USERS, encoder())
    assert histories.length == HISTORY_LENGTH == 100
    assert histories.codes.nbytes == len(USERS) * 4 * HISTORY_LENGTH


def slow_reference(rated: pd.DataFrame, users: pd.Index, movie_ids: list[int], length: int, oldest_first=False):
    """One user at a time, straight from the rule: newest first, ties to the higher id (or oldest, lower id)."""
    codes = {m: i + 1 for i, m in enumerate(movie_ids)}
    out = np.zeros((len(users), length), dtype=np.int32)
    sign = 1 if oldest_first else -1
    for row, user in enumerate(users):
        mine = [(t, m) for u, m, t in rated.itertuples(index=False) if u == user and m in codes]
        kept = sorted(mine, key=lambda tm: (sign * tm[0], sign * tm[1]))[:length]
        out[row, : len(kept)] = [codes[m] for _, m in kept]
    return out


@pytest.mark.parametrize("oldest_first", [False, True], ids=["histories", "first_rated"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_vectorised_construction_equals_the_slow_reference(seed, oldest_first):
    rng = np.random.default_rng(seed)
    movie_ids = sorted(rng.choice(np.arange(1, 100), 60, replace=False).tolist())
    users = pd.Index(rng.permutation(np.arange(100, 140)))
    pairs = {(int(rng.choice(users[:35])), int(rng.integers(1, 100))) for _ in range(600)}  # unique (user, movie)
    rated = ratings([(u, m, int(rng.integers(0, 20))) for u, m in sorted(pairs)])  # few timestamps: many ties
    rated = rated.sample(frac=1.0, random_state=seed)
    if oldest_first:
        got = Histories.first_rated(rated, users, encoder(movie_ids), 8)
    else:
        got = Histories.from_ratings(rated, users, encoder(movie_ids), length=8).codes
    np.testing.assert_array_equal(got, slow_reference(rated, users, movie_ids, 8, oldest_first))
    assert got[:, -1].any() and not got[:, 0].all()  # some histories are capped, some users have none


def test_first_rated_is_oldest_first_ties_to_the_lower_movie_id_without_unknowns():
    rated = ratings([(7, 30, 300), (7, 10, 100), (7, UNKNOWN_MOVIE, 1), (7, 20, 200), (8, 60, 50), (8, 40, 50)])
    np.testing.assert_array_equal(Histories.first_rated(rated, USERS, encoder(), 2),
                                  [[code(10), code(20)], [code(40), code(60)], [0, 0]])  # fmt: skip


def test_for_rows_removes_each_rows_own_movie_and_keeps_the_rest():
    histories = Histories(np.array([[3, 1, 2, 0], [4, 3, 0, 0]], dtype=np.int32))
    rows = histories.for_rows(np.array([0, 0, 1, 0]), np.array([1, 5, 3, 0]))
    np.testing.assert_array_equal(rows, [[3, 0, 2, 0], [3, 1, 2, 0], [4, 0, 0, 0], [3, 1, 2, 0]])
    assert not (rows == np.array([1, 5, 3, 0])[:, None])[:, :3].any()  # no row sees its own movie
    np.testing.assert_array_equal(histories.codes, [[3, 1, 2, 0], [4, 3, 0, 0]])  # the matrix is untouched


def test_for_movie_codes_is_most_recent_first_without_unknowns_capped_and_padded():
    np.testing.assert_array_equal(Histories.for_movie_codes([4, 0, 2, 5], length=5), [5, 2, 4, 0, 0])
    np.testing.assert_array_equal(Histories.for_movie_codes([1, 2, 3, 4], length=2), [4, 3])
    np.testing.assert_array_equal(Histories.for_movie_codes([], length=2), [0, 0])


@pytest.mark.parametrize("packed", [True, False])
def test_the_fast_order_is_lexsorts_by_user_newest_first_then_higher_movie_id(packed, monkeypatch):
    from movierec.history import newest_first_by_user

    rng = np.random.default_rng(3)
    n = 5000
    users = rng.integers(0, 50, n)
    timestamps = 978_300_000 + rng.integers(0, 40, n) * (1 if packed else 2**40)  # many ties
    movie_ids = rng.integers(1, 30, n) * (1 if packed else 2**20)  # too wide to pack with those timestamps
    reference = np.lexsort((-movie_ids, -timestamps, users))
    lexsorts, lexsort = [], np.lexsort
    monkeypatch.setattr(np, "lexsort", lambda keys: lexsorts.append(1) or lexsort(keys))
    assert np.array_equal(newest_first_by_user(users, timestamps, movie_ids), reference)
    assert len(lexsorts) == (0 if packed else 1)  # the packed key where it fits, lexsort where it does not
    assert newest_first_by_user(users[:0], timestamps[:0], movie_ids[:0]).size == 0


@pytest.mark.parametrize(("timestamp_bits", "packed"), [(31, True), (32, False)], ids=["63 bits", "64 bits"])
def test_the_packed_key_is_used_up_to_63_bits_exactly(timestamp_bits, packed, monkeypatch):
    from movierec.history import newest_first_by_user

    users = np.array([1, 0, 1, 0, 1])  # 1 bit
    timestamps = np.array([0, 2**timestamp_bits - 1, 5, 5, 2**timestamp_bits - 1])
    movie_ids = np.array([2**31 - 1, 0, 7, 8, 3])  # 31 bits
    reference = np.lexsort((-movie_ids, -timestamps, users))
    lexsorts, lexsort = [], np.lexsort
    monkeypatch.setattr(np, "lexsort", lambda keys: lexsorts.append(1) or lexsort(keys))
    assert np.array_equal(newest_first_by_user(users, timestamps, movie_ids), reference)
    assert len(lexsorts) == (0 if packed else 1)
