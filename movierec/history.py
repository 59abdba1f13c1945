"""Each person's own rated movies, as a fixed-width row of movie codes a model can read.

A history-aware model sees, beside the 14 fields of a rating row, the movies
the person has rated: a multi-valued field that shares the movie embedding
(``autoint.HistoryPooling`` pools it into one field vector). Here the
histories are built once per split, one row per user.

The cap rule: a person's history is their rated movies in the fitted part of
the split (the rows passed as ``rated``), the most recent ``length`` by
timestamp, ties broken by the higher movie id first, written as codes of the
encoder's ``movie_id`` vocabulary, most recent first and padded with 0 (the
empty slot). Movies the encoder does not know are dropped before the cap, so
0 always means "no movie". A row is not cut at the rating's own time: on the
project's random split every fitted rating of the person counts, later ones
too, as in any model fitted on that split.

Memory: the matrix is users x length int32, 4 * length bytes a user (2.4 MB
for ML-1M's 6,040 users at length 100), whatever the number of movies; there
is no dense users x movies matrix. The rows for a batch of rating rows are
gathered from it (``for_rows``) when they are needed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from movierec.features import FeatureEncoder
from movierec.prepared import Prepared

HISTORY_LENGTH = 100
EMPTY = 0  # the movie code of an empty slot (the encoder's out-of-vocabulary code)
# A training batch's input key for histories that serve each a rated row and its sampled negatives
# (``movierec.pipeline``, ``autoint.AutoInt.pool_history``), where "history" has one per row.
HISTORY_PER_PERSON = "history_per_person"


def newest_first_by_user(users: np.ndarray, timestamps: np.ndarray, movie_ids: np.ndarray) -> np.ndarray:
    """The order of ratings by user, then newest first, then the higher movie id first.

    When the three keys fit in 63 bits (ML-1M needs 52), one stable argsort
    of a packed int64 key replaces ``np.lexsort`` over three keys: the same
    order, about 17 times faster on a million ratings, which the app's first
    page waits for. Larger releases fall back to ``np.lexsort``.
    """
    users, timestamps, movie_ids = (np.asarray(a, dtype=np.int64) for a in (users, timestamps, movie_ids))
    if not len(users):
        return np.arange(0)
    newer = timestamps.max() - timestamps  # >= 0, smaller is newer
    higher = movie_ids.max() - movie_ids  # >= 0, smaller is a higher id
    low_bits, mid_bits = int(higher.max()).bit_length(), int(newer.max()).bit_length()
    fits = users.min() >= 0 and int(users.max()).bit_length() + mid_bits + low_bits <= 63
    if not fits:  # lexsort's last key is the primary one
        return np.lexsort((higher, newer, users))
    return np.argsort((users << (mid_bits + low_bits)) | (newer << low_bits) | higher, kind="stable")


@dataclass(frozen=True)
class Histories:
    """Movie codes (users, length) int32, most recent first, zero-padded; row ``i`` is user ``user_index[i]``."""

    codes: np.ndarray

    def __post_init__(self) -> None:
        if self.codes.ndim != 2:
            raise ValueError(f"histories are (users, length) movie codes, got shape {self.codes.shape}")

    @property
    def length(self) -> int:
        return self.codes.shape[1]

    @classmethod
    def from_ratings(
        cls, rated: pd.DataFrame, user_index: pd.Index, encoder: FeatureEncoder, length: int = HISTORY_LENGTH
    ) -> Histories:
        """The capped histories of the users of ``user_index`` from their ratings in ``rated``.

        ``rated`` has ``user_id``, ``movie_id`` and ``timestamp`` columns;
        every user in it must be in ``user_index``. Users without ratings get
        an all-empty row. One sort of all ratings, no loop over users.
        """
        return cls(_per_user(rated, user_index, encoder, length, oldest_first=False))

    @classmethod
    def of_parts(cls, prepared: Prepared, parts: Sequence[str], length: int = HISTORY_LENGTH) -> Histories:
        """The histories of every user of ``prepared`` from the ratings of ``parts`` of its split."""
        return cls.from_ratings(prepared.frame(*parts), prepared.user_index, prepared.encoder, length)

    @staticmethod
    def first_rated(rated: pd.DataFrame, user_index: pd.Index, encoder: FeatureEncoder, count: int) -> np.ndarray:
        """Each user's first ``count`` rated movies, (users, count) codes, oldest first, zero-padded.

        The histories' rule the other way round: by timestamp, ties broken by
        the lower movie id first (as the new-user protocol reveals a
        newcomer's first ratings), unknown movies dropped. A row trained as a
        newcomer reads its person's (``movierec.pipeline``).
        """
        return _per_user(rated, user_index, encoder, count, oldest_first=True)

    @classmethod
    def for_model(cls, model, prepared: Prepared, parts: Sequence[str]) -> Histories | None:
        """The histories from ``parts`` at the model's length if it reads a history, else None."""
        length = getattr(model, "history_length", 0)
        return cls.of_parts(prepared, parts, length) if length else None

    def for_rows(self, user_rows: np.ndarray, own_movie_codes: np.ndarray) -> np.ndarray:
        """Histories (rows, length) for rating rows of users ``user_rows``, each without the row's own movie.

        A training row must not see the movie it is labelled on in its
        history, or the model learns to look the answer up. The own movie's
        slot becomes empty in place: pooling ignores order and empty slots.
        """
        rows = self.codes[np.asarray(user_rows)]  # fancy indexing copies, so the matrix stays untouched
        rows[rows == np.asarray(own_movie_codes, dtype=np.int32)[:, None]] = EMPTY
        return rows

    @staticmethod
    def for_movie_codes(rated_codes: Sequence[int], length: int = HISTORY_LENGTH) -> np.ndarray:
        """One history row (length,) from movie codes in the order they were rated (oldest first).

        For a person the model was not fitted on, such as a visitor who rated
        a few movies: the same rule as ``from_ratings``, most recent first,
        unknown movies (code 0) dropped, capped and zero-padded.
        """
        codes = np.asarray(rated_codes, dtype=np.int32).reshape(-1)
        newest_first = codes[codes != EMPTY][::-1][:length]
        out = np.zeros(length, dtype=np.int32)
        out[: len(newest_first)] = newest_first
        return out


def _per_user(rated: pd.DataFrame, user_index: pd.Index, encoder: FeatureEncoder, length: int,
              oldest_first: bool) -> np.ndarray:  # fmt: skip
    """(users, length) movie codes of each user's ``length`` most recent (or oldest) ratings, in that order."""
    if length < 1:
        raise ValueError(f"a history holds at least one movie, got length {length}")
    users = user_index.get_indexer(rated["user_id"].to_numpy())
    if (users < 0).any():
        raise KeyError(f"user_id {rated['user_id'].to_numpy()[users < 0][0]} of the ratings is not in user_index")
    movie_ids = rated["movie_id"].to_numpy()
    movies = encoder.encode_movie_ids(movie_ids)
    known = movies != EMPTY
    users, movies = users[known], movies[known]
    timestamps, movie_ids = rated["timestamp"].to_numpy()[known], movie_ids[known]
    if oldest_first:  # newest first of the negated keys: the oldest first, then the lower movie id first
        timestamps, movie_ids = -np.asarray(timestamps, np.int64), -np.asarray(movie_ids, np.int64)
    order = newest_first_by_user(users, timestamps, movie_ids)
    users, movies = users[order], movies[order]
    counts = np.bincount(users, minlength=len(user_index))
    rank = np.arange(len(users)) - (np.cumsum(counts) - counts)[users]  # position within the user's ratings
    kept = rank < length
    out = np.zeros((len(user_index), length), dtype=np.int32)
    out[users[kept], rank[kept]] = movies[kept]
    return out
