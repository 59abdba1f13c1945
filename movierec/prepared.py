"""A release, its split, the encoder fitted on the training part, and every part encoded once.

Vocabularies are fitted on the training part only, so validation and test
rows see out-of-vocabulary codes exactly where a deployed model would.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from movierec.data import MovieLens
from movierec.features import FIELD_POSITION, FIELDS, FeatureEncoder, labels
from movierec.split import PARTS, SPLIT_SEED, Split, split_ratings

# What a user's history is when a held-out part is evaluated: every part before it. It is what the user's
# full ranking leaves out, what the baselines are fitted on and what a history-aware model reads.
HISTORY_PARTS = {"test": ("train", "validation"), "validation": ("train",)}


def history_parts(part: str) -> tuple[str, ...]:
    """The parts of the split a user's history comes from when ``part`` is evaluated."""
    if part not in HISTORY_PARTS:
        raise ValueError(f"can evaluate on {sorted(HISTORY_PARTS)}, not {part!r}")
    return HISTORY_PARTS[part]


@dataclass(frozen=True)
class EncodedPart:
    """One part of a split as model input: codes (rows, fields) and like labels (rows,)."""

    codes: np.ndarray
    labels: np.ndarray


@dataclass
class Prepared:
    """Everything training and evaluation read.

    ``fields`` are the model's input columns, a subset of the encoder's in
    ``FIELDS`` order (all of them unless a protocol leaves some out).
    ``memo`` keeps what is costly and depends on nothing but these (EASE's
    choices on validation), so the notebook's several readers compute it
    once; ``dataclasses.replace`` starts a copy with an empty one.
    """

    data: MovieLens
    split: Split
    encoder: FeatureEncoder
    parts: dict[str, EncodedPart] = field(repr=False)
    fields: tuple[str, ...] = FIELDS
    memo: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    @property
    def vocab_sizes(self) -> list[int]:
        sizes = self.encoder.vocab_sizes
        return [sizes[FIELD_POSITION[f]] for f in self.fields]

    def part(self, name: str) -> EncodedPart:
        return self.parts[name]

    @property
    def user_index(self) -> pd.Index:
        """Row positions of user ids in ``data.users``."""
        return pd.Index(self.data.users["user_id"].to_numpy())

    @property
    def movie_index(self) -> pd.Index:
        """Positions of movie ids in the catalogue ``data.movies``."""
        return pd.Index(self.data.movies["movie_id"].to_numpy())

    def frame(self, *parts: str) -> pd.DataFrame:
        """The rating rows of ``parts`` of the split, in that order."""
        return pd.concat([getattr(self.split, part) for part in parts])

    def codes(self, *parts: str) -> np.ndarray:
        return np.concatenate([self.part(part).codes for part in parts])


def prepare(
    data: MovieLens,
    seed: int = SPLIT_SEED,
    encoder: FeatureEncoder | None = None,
    split: Split | None = None,
    fields: Sequence[str] = FIELDS,
) -> Prepared:
    """Split (the documented one unless given), fit the encoder on the training part, encode every part."""
    split = split or split_ratings(data.ratings, seed)
    encoder = encoder or FeatureEncoder.fit(split.train, data.users, data.movies)
    unknown = [f for f in fields if f not in FIELD_POSITION]
    if unknown:
        raise ValueError(f"unknown fields {unknown}; choose from {list(FIELDS)}")
    fields = tuple(f for f in FIELDS if f in fields)
    columns = [FIELD_POSITION[f] for f in fields]
    parts = {}
    for name in PARTS:
        frame = getattr(split, name)
        parts[name] = EncodedPart(encoder.encode_ratings(frame, data.users, data.movies)[:, columns], labels(frame))
    return Prepared(data, split, encoder, parts, fields)
