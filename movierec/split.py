"""Splitting ratings into the parts a model is fitted, selected and tested on.

The project split, on which every number of the shipped models is measured:
``train_test_split(ratings in file order, test_size=0.2, random_state=42)``,
then a seeded 10% of the training part as validation (``random_state=42``).
The evaluation protocols of ``movierec.protocols`` add a global time split, a
random 80/10/10 split and a split of people (``new_user_split``). Test rows are never used to fit or to choose
anything; validation rows choose (epochs, hyperparameters) and may join the
training rows for a final refit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

SPLIT_SEED = 42
TEST_SIZE = 0.2
VALIDATION_SIZE = 0.1
NEW_USER_SHARE = 0.1
PARTS = ("train", "validation", "test")


def train_test_split(*arrays, **options):
    """scikit-learn's ``train_test_split``, imported on first use: the app never splits, and its first page would
    otherwise wait about a second for scikit-learn (``movierec.startup``)."""
    from sklearn.model_selection import train_test_split as split

    return split(*arrays, **options)


@dataclass(frozen=True)
class Split:
    """Rating rows to fit on (train), to choose with (validation) and to test on (test).

    Frozen: what is computed from a split once (``Prepared.memo``) stays true
    of it; ``dataclasses.replace`` makes another.

    ``new_validation`` is the new-user protocol's second group of people held
    out whole: newcomers on whom its serving choices are made, so the test
    people are read once (``new_user_split``); None elsewhere.
    """

    train: pd.DataFrame
    validation: pd.DataFrame
    test: pd.DataFrame
    new_validation: pd.DataFrame | None = None

    def rows(self) -> dict[str, int]:
        rows = {part: len(getattr(self, part)) for part in PARTS}
        if self.new_validation is not None:
            rows["new_validation"] = len(self.new_validation)
        return rows

    def describe(self) -> dict:
        return {
            "method": "sklearn train_test_split on ratings in file order",
            "test_size": TEST_SIZE,
            "validation_size": VALIDATION_SIZE,
            "random_state": SPLIT_SEED,
            "rows": self.rows(),
        }


def split_ratings(
    ratings: pd.DataFrame,
    seed: int = SPLIT_SEED,
    test_size: float = TEST_SIZE,
    validation_size: float = VALIDATION_SIZE,
) -> Split:
    """Random split: test first, then validation as a share of what is left."""
    train_full, test = train_test_split(ratings, test_size=test_size, random_state=seed)
    train, validation = train_test_split(train_full, test_size=validation_size, random_state=seed)
    return Split(train, validation, test)


def temporal_split(ratings: pd.DataFrame, test_share: float = 0.1, validation_share: float = 0.1) -> Split:
    """Last ``test_share`` of ratings by time as test, the ``validation_share`` before them as validation.

    Ties in time keep file order (a stable sort), so the split is deterministic.
    """
    ordered = ratings.iloc[np.argsort(ratings["timestamp"].to_numpy(), kind="stable")]
    n = len(ordered)
    test_start = n - round(n * test_share)
    validation_start = test_start - round(n * validation_share)
    return Split(ordered.iloc[:validation_start], ordered.iloc[validation_start:test_start], ordered.iloc[test_start:])


def eight_one_one(ratings: pd.DataFrame, seed: int = SPLIT_SEED) -> Split:
    """Random 80/10/10: a tenth for test, then a ninth of the rest (a tenth overall) for validation."""
    rest, test = train_test_split(ratings, test_size=0.1, random_state=seed)
    train, validation = train_test_split(rest, test_size=1 / 9, random_state=seed)
    return Split(train, validation, test)


def new_user_split(
    ratings: pd.DataFrame,
    seed: int = SPLIT_SEED,
    share: float = NEW_USER_SHARE,
    validation_size: float = VALIDATION_SIZE,
) -> Split:
    """People held out whole: every rating of a seeded ``share`` of users is the test part.

    The users are the sorted user ids permuted by ``default_rng(seed)``: the
    first ``share`` of them are the new people tested on, the next ``share``
    the new people choices are made on (``new_validation``). Neither group
    reaches the training or validation part. The other people's ratings are
    split at random into train and validation (``validation_size``,
    ``random_state=seed``).
    """
    users = np.sort(ratings["user_id"].unique())
    count = round(len(users) * share)
    if not 0 < 2 * count < len(users):
        raise ValueError(
            f"a new-user share of {share} of {len(users)} users leaves no new people or too few known ones "
            "(two groups of new people are held out: one to test on, one to choose on)"
        )
    order = np.random.default_rng(seed).permutation(users)
    is_new = ratings["user_id"].isin(order[:count]).to_numpy()
    is_chooser = ratings["user_id"].isin(order[count : 2 * count]).to_numpy()
    train, validation = train_test_split(ratings[~is_new & ~is_chooser], test_size=validation_size, random_state=seed)
    return Split(train, validation, ratings[is_new], ratings[is_chooser])
