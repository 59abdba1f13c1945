"""From tidy MovieLens frames to the 14 categorical fields the models read.

Every field is categorical and lives in its own vocabulary. Index 0 of each
vocabulary is reserved for values never seen in training (a brand-new user,
an unseen zip code, a future year), so encoding never fails: the model has an
embedding for "unknown" in every field.

The fields split by what they describe, which lets ranking reuse work: a
user's five fields and a movie's six are encoded once and combined with the
three context fields (the date the rating is made for) by array indexing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from movierec.files import write_json

USER_FIELDS: tuple[str, ...] = ("user_id", "gender", "age", "occupation", "zip")
MOVIE_FIELDS: tuple[str, ...] = ("movie_id", "movie_decade", "movie_year", "genre1", "genre2", "genre3")
CONTEXT_FIELDS: tuple[str, ...] = ("rating_year", "rating_month", "rating_decade")
# The order the models see, the reference design's.
FIELDS: tuple[str, ...] = (
    "user_id", "movie_id", "movie_decade", "movie_year", "rating_year", "rating_month", "rating_decade",
    "genre1", "genre2", "genre3", "gender", "age", "occupation", "zip",
)  # fmt: skip
OOV_INDEX = 0
NO_GENRE = "no"
UNKNOWN = "unknown"
LIKE_THRESHOLD = 4  # label = rating >= 4
ENCODER_FORMAT = "movierec.feature-encoder"
ENCODER_VERSION = 1


class EncoderMismatchError(ValueError):
    """A saved encoder does not fit the fields this code expects."""


def labels(ratings: pd.DataFrame) -> np.ndarray:
    return (ratings["rating"].to_numpy() >= LIKE_THRESHOLD).astype(np.float32)


def rating_values(ratings, disliked_weight: float = 1.0) -> np.ndarray:
    """Each rating's cell in a person's rated row (float32): 1 for a liked movie, ``disliked_weight`` for any other.

    A movie rated but not liked is still evidence of what the person
    watches, but weaker evidence of what they will like; with 1 every rated
    movie counts alike (the 0/1 rows of plain EASE).
    """
    if not 0 < disliked_weight <= 1:  # NaN fails too
        raise ValueError(f"the disliked movies' weight must be in (0, 1], got {disliked_weight}")
    ratings = np.asarray(ratings, dtype=np.float64)
    if not np.isfinite(ratings).all():
        raise ValueError("a rating to weigh is missing or not a number")
    return np.where(ratings >= LIKE_THRESHOLD, 1.0, disliked_weight).astype(np.float32)


def user_fields(users: pd.DataFrame) -> pd.DataFrame:
    """The user's fields as strings, one row per user, in ``users``' order."""
    return pd.DataFrame(
        {
            "user_id": users["user_id"].astype(str).to_numpy(),
            "gender": users["gender"].astype(str).to_numpy(),
            "age": users["age"].astype(str).to_numpy(),
            "occupation": users["occupation"].astype(str).to_numpy(),
            "zip": users["zip"].astype(str).str.strip().str[:5].to_numpy(),
        }
    )


def movie_fields(movies: pd.DataFrame) -> pd.DataFrame:
    """The movie's fields as strings: release year and decade, first three genres."""
    year = movies["year"].astype("Int64")
    genres = movies["genres"].fillna("").astype(str).str.split("|")
    padded = [([g for g in gs if g] + [NO_GENRE] * 3)[:3] for gs in genres]
    out = pd.DataFrame(
        {
            "movie_id": movies["movie_id"].astype(str).to_numpy(),
            "movie_decade": np.where(year.isna(), UNKNOWN, (year // 10 * 10).astype(str) + "s"),
            "movie_year": np.where(year.isna(), UNKNOWN, year.astype(str)),
        }
    )
    for i in range(3):
        out[f"genre{i + 1}"] = [p[i] for p in padded]
    return out


def context_fields(years: Sequence[int] | np.ndarray, months: Sequence[int] | np.ndarray) -> pd.DataFrame:
    """The context fields for the dates a rating is made (or a ranking is asked) for."""
    years, months = np.asarray(years, dtype=np.int64), np.asarray(months, dtype=np.int64)
    return pd.DataFrame(
        {
            "rating_year": years.astype(str),
            "rating_month": months.astype(str),
            "rating_decade": (years // 10 * 10).astype(str) + "s",
        }
    )


def timestamp_year_month(timestamps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    dates = pd.to_datetime(np.asarray(timestamps), unit="s", utc=True)
    return np.asarray(dates.year, dtype=np.int64), np.asarray(dates.month, dtype=np.int64)


@dataclass
class FeatureEncoder:
    """Per-field vocabularies with a reserved out-of-vocabulary index 0."""

    vocabularies: dict[str, list[str]]

    def __post_init__(self) -> None:
        missing = [f for f in FIELDS if f not in self.vocabularies]
        extra = [f for f in self.vocabularies if f not in FIELDS]
        if missing or extra:
            raise EncoderMismatchError(f"encoder fields do not match the code: missing {missing}, unexpected {extra}")
        for field, values in self.vocabularies.items():
            if not isinstance(values, list | tuple) or not all(isinstance(v, str) for v in values):
                raise EncoderMismatchError(f"vocabulary of {field!r} must be a list of strings")
            if len(set(values)) != len(values):
                raise EncoderMismatchError(f"vocabulary of {field!r} repeats a value")
        self._index = {f: pd.Index(self.vocabularies[f]) for f in FIELDS}

    # ------------------------------------------------------------------ fitting
    @classmethod
    def fit(cls, ratings: pd.DataFrame, users: pd.DataFrame, movies: pd.DataFrame) -> FeatureEncoder:
        """Vocabularies of the values that occur in ``ratings`` (the training rows)."""
        seen_users = users[users["user_id"].isin(ratings["user_id"].unique())]
        seen_movies = movies[movies["movie_id"].isin(ratings["movie_id"].unique())]
        years, months = timestamp_year_month(ratings["timestamp"].to_numpy())
        tables = (user_fields(seen_users), movie_fields(seen_movies), context_fields(years, months))
        vocabularies = {}
        for table in tables:
            for field in table.columns:
                vocabularies[field] = _sorted_values(table[field].unique())
        return cls({f: vocabularies[f] for f in FIELDS})

    # ------------------------------------------------------------------ sizes
    @property
    def fields(self) -> tuple[str, ...]:
        return FIELDS

    @property
    def vocab_sizes(self) -> list[int]:
        """Embedding rows per field: the vocabulary plus the OOV row."""
        return [len(self.vocabularies[f]) + 1 for f in FIELDS]

    # ------------------------------------------------------------------ encoding
    def encode_table(self, table: pd.DataFrame) -> np.ndarray:
        """Codes (rows, columns) for a frame whose columns are field names; unseen values give 0."""
        out = np.empty((len(table), len(table.columns)), dtype=np.int32)
        for j, field in enumerate(table.columns):
            out[:, j] = self._index[field].get_indexer(table[field].astype(str).to_numpy()) + 1
        return out

    def encode_users(self, users: pd.DataFrame) -> np.ndarray:
        return self.encode_table(user_fields(users))

    def encode_movies(self, movies: pd.DataFrame) -> np.ndarray:
        return self.encode_table(movie_fields(movies))

    def encode_movie_ids(self, movie_ids) -> np.ndarray:
        """The ``movie_id`` codes (int32) of many movie ids, 0 for a movie the vocabulary lacks.

        Each distinct id is encoded once: MovieLens 25M has 25M ratings of 60K movies.
        """
        distinct, inverse = np.unique(np.asarray(movie_ids), return_inverse=True)
        codes = self.encode_table(pd.DataFrame({"movie_id": distinct.astype(str)}))[:, 0]
        return codes[inverse].astype(np.int32)

    def encode_context(self, years: Sequence[int] | np.ndarray, months: Sequence[int] | np.ndarray) -> np.ndarray:
        return self.encode_table(context_fields(years, months))

    def encode_ratings(self, ratings: pd.DataFrame, users: pd.DataFrame, movies: pd.DataFrame) -> np.ndarray:
        """Codes (n_ratings, 14) in ``FIELDS`` order for rated (user, movie, time) rows."""
        user_codes = self.encode_users(users)
        movie_codes = self.encode_movies(movies)
        user_rows = _positions(users["user_id"], ratings["user_id"], "user_id")
        movie_rows = _positions(movies["movie_id"], ratings["movie_id"], "movie_id")
        years, months = timestamp_year_month(ratings["timestamp"].to_numpy())
        return self.assemble(user_codes[user_rows], movie_codes[movie_rows], self.encode_context(years, months))

    @staticmethod
    def assemble(user_codes: np.ndarray, movie_codes: np.ndarray, context_codes: np.ndarray) -> np.ndarray:
        """Put the three groups of codes (broadcastable rows) into ``FIELDS`` order."""
        n = max(len(user_codes), len(movie_codes), len(context_codes))
        out = np.empty((n, len(FIELDS)), dtype=np.int32)
        for codes, group in ((user_codes, USER_FIELDS), (movie_codes, MOVIE_FIELDS), (context_codes, CONTEXT_FIELDS)):
            for j, field in enumerate(group):
                out[:, FIELD_POSITION[field]] = codes[:, j]
        return out

    # ------------------------------------------------------------------ JSON
    def to_json(self) -> dict:
        return {
            "format": ENCODER_FORMAT,
            "version": ENCODER_VERSION,
            "fields": list(FIELDS),
            "oov_index": OOV_INDEX,
            "label": f"rating >= {LIKE_THRESHOLD}",
            "vocabularies": self.vocabularies,
        }

    @classmethod
    def from_json(cls, payload: dict, source: str = "encoder") -> FeatureEncoder:
        """An encoder from its JSON form, every key and type checked; errors name ``source`` and the field."""
        if not isinstance(payload, dict) or payload.get("format") != ENCODER_FORMAT:
            raise EncoderMismatchError(f"{source} is not a movierec feature encoder")
        if payload.get("version") != ENCODER_VERSION:
            raise EncoderMismatchError(
                f"{source} has encoder version {payload.get('version')}, this code reads version {ENCODER_VERSION}"
            )
        if payload.get("fields") != list(FIELDS):
            raise EncoderMismatchError(
                f"{source} lists fields {payload.get('fields')}, the code expects {list(FIELDS)}"
            )
        if payload.get("oov_index", OOV_INDEX) != OOV_INDEX:
            raise EncoderMismatchError(f"{source}: field 'oov_index' is {payload['oov_index']!r}, expected {OOV_INDEX}")
        vocabularies = payload.get("vocabularies")
        if not isinstance(vocabularies, dict):
            raise EncoderMismatchError(f"{source}: field 'vocabularies' is missing or not an object")
        for field, values in vocabularies.items():
            # A string would pass as a list of its characters ("FM" -> ["F", "M"]).
            if not isinstance(values, list):
                raise EncoderMismatchError(
                    f"{source}: field 'vocabularies.{field}' must be a list of strings, got {type(values).__name__}"
                )
        return cls({f: list(v) for f, v in vocabularies.items()})

    def save(self, path: str | Path) -> None:
        write_json(path, self.to_json())

    @classmethod
    def load(cls, path: str | Path) -> FeatureEncoder:
        path = Path(path)
        try:
            payload = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as err:
            raise EncoderMismatchError(f"{path} is not valid JSON (corrupt or truncated): {err}") from err
        return cls.from_json(payload, source=str(path))


FIELD_POSITION = {f: i for i, f in enumerate(FIELDS)}
_INTEGER = re.compile(r"-?[0-9]+")  # ASCII only: "²" passes str.isdigit() but not int()


def _sorted_values(values: np.ndarray) -> list[str]:
    """Numeric strings in numeric order, then the rest alphabetically: stable and readable."""
    values = [str(v) for v in values]
    return sorted(values, key=lambda v: (0, int(v), v) if _INTEGER.fullmatch(v) else (1, 0, v))


def _positions(keys: pd.Series, wanted: pd.Series, name: str) -> np.ndarray:
    rows = pd.Index(keys.to_numpy()).get_indexer(wanted.to_numpy())
    if (rows < 0).any():
        raise KeyError(f"{name} {wanted.to_numpy()[rows < 0][0]} is not in the lookup table")
    return rows
