"""Evaluation protocols: the project's own split and the settings published numbers were measured on.

Numbers from different papers are only comparable under the same split,
label rule and inputs, so each protocol pins all three:

* ``seed`` and ``full``: the project's split (random 80/20 of ratings in file
  order, ``random_state=42``; validation a seeded 10% of train), label
  rating >= 4, all 14 fields. ``seed`` ranks each user's own test rows (the
  course project's protocol), ``full`` ranks every movie the user has not
  rated. They evaluate the shipped artifacts.
* ``temporal``: a global time split. Ratings sorted by time (file order breaks
  ties); the last 10% are the test rows, the 10% before them validation. Full
  ranking, as the app would meet the future. Users who first appear in the
  test period keep their demographics and go through the unknown-user slot.
* ``paper``: the AutoInt paper's MovieLens-1M setting: ratings of 3 dropped,
  label rating > 3, no user or movie id among the inputs (gender, age,
  occupation, zip, genres, release year and rating time), random 80/10/10.
  Published AutoInt+: AUC 0.8488, log loss 0.3753.
* ``recbole``: RecBole's benchmark setting: ratings of 3 dropped, label
  rating >= 4, ids plus side fields, random 8:1:1. Published: AutoInt AUC
  0.8987, DeepFM AUC 0.8997.
* ``newuser``: a seeded 10% of people held out whole (and the next 10% as
  validation people, on whom choices for newcomers are made), each revealing
  their first 5, 10 or 20 ratings (``movierec.newuser``).

The last four train a fresh model on their own split with the shipped
model's hyperparameters (``train_for_protocol``); test rows are used only
for the final numbers. ``paper`` and ``recbole`` are click-through protocols
whose published models read one rating row at a time, with no history of
the person's other movies, so their model reads none either (``paper`` has
no movie id to match a history against anyway); ``temporal`` and
``newuser`` keep the shipped model's history, drawn from their training part.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import pandas as pd

from movierec.features import FIELDS
from movierec.split import SPLIT_SEED, Split, eight_one_one, new_user_split, split_ratings, temporal_split

IDS = ("user_id", "movie_id")


@dataclass(frozen=True)
class Protocol:
    name: str
    summary: str
    split: str  # "random_80_20", "temporal", "random_80_10_10" or "new_users"
    drop_ratings: tuple[int, ...] = ()
    fields: tuple[str, ...] = FIELDS
    full_ranking: bool = False
    trains: bool = True  # a fresh model on this protocol's split; False: evaluate the shipped artifacts
    ranking_objective: bool = True  # keep the shipped model's sampled negatives / rated head
    published: dict[str, dict[str, float]] = field(default_factory=dict)

    def ratings(self, ratings: pd.DataFrame) -> pd.DataFrame:
        return ratings[~ratings["rating"].isin(self.drop_ratings)] if self.drop_ratings else ratings

    def make_split(self, ratings: pd.DataFrame, seed: int = SPLIT_SEED) -> Split:
        kept = self.ratings(ratings)
        if self.split == "temporal":
            return temporal_split(kept)
        if self.split == "random_80_10_10":
            return eight_one_one(kept, seed)
        if self.split == "new_users":
            return new_user_split(kept, seed)
        return split_ratings(kept, seed)

    def describe(self) -> dict:
        return {
            "name": self.name,
            "summary": self.summary,
            "split": self.split,
            "dropped_ratings": list(self.drop_ratings),
            "label": "rating >= 4",
            "fields": list(self.fields),
            "full_ranking": self.full_ranking,
            "published": self.published,
        }


PROTOCOLS: dict[str, Protocol] = {
    p.name: p
    for p in (
        Protocol(
            "seed",
            "project split, each test user's own test rows ranked (course project protocol)",
            "random_80_20",
            trains=False,
        ),
        Protocol(
            "full",
            "project split, every movie the user has not rated ranked",
            "random_80_20",
            full_ranking=True,
            trains=False,
        ),
        Protocol(
            "temporal",
            "global time split: last 10% of ratings as test, the 10% before as validation; full ranking",
            "temporal",
            full_ranking=True,
        ),
        Protocol(
            "paper",
            "AutoInt paper: rating 3 dropped, label rating > 3, no id fields, random 80/10/10",
            "random_80_10_10",
            drop_ratings=(3,),
            fields=tuple(f for f in FIELDS if f not in IDS),
            ranking_objective=False,
            published={"AutoInt+ (Song et al. 2019)": {"auc": 0.8488, "logloss": 0.3753}},
        ),
        Protocol(
            "recbole",
            "RecBole benchmark: rating 3 dropped, label rating >= 4, ids and side fields, random 8:1:1",
            "random_80_10_10",
            drop_ratings=(3,),
            ranking_objective=False,
            published={"AutoInt (RecBole)": {"auc": 0.8987}, "DeepFM (RecBole)": {"auc": 0.8997}},
        ),
        Protocol(
            "newuser",
            "seeded 10% of people held out whole (and 10% more to choose on), each revealing their first K ratings; "
            "full ranking of the rest",
            "new_users",
            full_ranking=True,
        ),
    )
}


def protocol_setup(
    protocol: Protocol,
    manifest: dict,
    epochs: int | None = None,
    overrides: dict | None = None,
    settings_overrides: dict | None = None,
):
    """The configuration and training settings ``train_for_protocol`` trains with, without training."""
    from movierec import artifacts, training

    config = {**artifacts.hyperparameters(manifest), "seed": manifest["config"].get("seed"), **(overrides or {})}
    settings = training.TrainSettings.from_dict(manifest.get("training", {}))
    settings = dataclasses.replace(settings, refit=False, **({} if epochs is None else {"epochs": epochs}),
                                   **(settings_overrides or {}))  # fmt: skip
    if not protocol.ranking_objective:
        config["rated_head"] = False
        config["history_length"] = 0
        config["ease_l2"] = 0.0
        settings.negatives = 0
    if not (config.get("ease_l2") and settings.negatives):  # drawn by the prior: a variant without one has none
        settings.hard_negative_share = 0.0
    return config, settings


def train_for_protocol(
    protocol: Protocol,
    prepared,
    manifest: dict,
    verbose: int | str = 0,
    epochs: int | None = None,
    overrides: dict | None = None,
    settings_overrides: dict | None = None,
    teacher=None,
):
    """A fresh model of the shipped family and hyperparameters (with ``overrides``), trained on the protocol's split.

    ``settings_overrides`` replace training settings of the shipped model's
    (``training.TrainSettings``), such as ``newcomer_share``.

    CTR protocols (``ranking_objective=False``) train the like output on rated
    rows only, as the published models did, with no history and no EASE prior; ranking
    protocols keep the shipped model's sampled negatives and rated head. No
    refit: these protocols fix their own validation part. A distilled
    model's network learns from ``teacher`` too (``training.fit``).
    """
    from movierec import models, training

    config, settings = protocol_setup(protocol, manifest, epochs, overrides, settings_overrides)
    model = models.MODELS[manifest["model"]].built(prepared.vocab_sizes, **config)
    history = training.fit(model, prepared, settings, verbose=verbose, teacher=teacher)
    return model, settings, history
