"""Fitting a model on a prepared split: early stopping, the learning-rate schedule, the final refit.

Early stopping watches the validation AUC of what the model ranks by and
restores the best epoch, a plateau schedule lowers the learning rate, and a
final refit replays that schedule on train + validation. With sampled
negatives (``TrainSettings.negatives = k``, see ``movierec.negatives``)
validation gets a fixed, seeded set of negatives the same way (uniform or
by popularity, never hard ones), so the monitored AUC ranks liked movies
above disliked *and* unrated ones. The test part of the split is never read
here.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from movierec.features import FIELDS
from movierec.history import Histories
from movierec.negatives import SAMPLING, NegativeSampler
from movierec.objectives import ranking_scores
from movierec.pipeline import NEWCOMER_HISTORIES, NEWCOMER_RATINGS, make_dataset
from movierec.prepared import Prepared, history_parts
from movierec.prior import EasePrior, OutOfFoldPrior, disliked_weight

STRATEGIES = ("default", "mirrored", "multiworker")
# What training did before a setting was recorded: a record without it was trained so.
BEFORE = {"hard_negative_share": 0.0, "newcomer_share": 0.0, "newcomer_history": "oldest_kept",
          "distillation_weight": 0.0}  # fmt: skip


@dataclass
class TrainSettings:
    epochs: int = 12
    batch_size: int = 2048
    learning_rate: float = 2e-3
    patience: int = 2
    lr_factor: float = 0.3  # learning rate x this when validation AUC stalls for an epoch
    refit: bool = True  # finally retrain on train + validation with the epochs and rates found
    seed: int = 42
    oov_rate: float = 0.01
    negatives: int = 4  # sampled unrated movies per rated row; 0 trains on rated rows only
    negative_sampling: str = "uniform"  # or "popularity": p(movie) ~ training ratings ** 0.75
    # Share of the negatives drawn from the user's best-scored unrated movies by the EASE prior (a prior model).
    # An experiment that lost to uniform negatives on validation (bench/hard_negatives.py); not served.
    hard_negative_share: float = 0.0
    # Share of rated rows trained as a newcomer (unknown user, 1-20 of the person's movies, ``newcomer_history``; see
    # ``movierec.pipeline``), for a network that serves people with a handful of ratings. 0 for the shipped models.
    newcomer_share: float = 0.0
    # Which movies a newcomer row keeps (``pipeline.NEWCOMER_HISTORIES``): "oldest_kept", the oldest of its capped
    # history, chosen on the new-user protocol's validation people (README, "Other protocols and published numbers").
    newcomer_history: str = "oldest_kept"
    # Weight of matching a teacher's outputs beside the labels (``movierec.distillation``); 0 trains on the labels
    # alone. A weight above 0 needs the teacher given to ``fit`` (and to ``refit``).
    distillation_weight: float = 0.0

    def __post_init__(self) -> None:
        for name, low in (("epochs", 1), ("batch_size", 1), ("patience", 0)):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {getattr(self, name)!r}")
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be positive, got {self.learning_rate}")
        if not 0 < self.lr_factor <= 1:
            raise ValueError(f"lr_factor must be in (0, 1], got {self.lr_factor}")
        if not 0 <= self.oov_rate < 1:
            raise ValueError(f"oov_rate must be in [0, 1), got {self.oov_rate}")
        if self.negatives < 0:
            raise ValueError(f"negatives must be >= 0, got {self.negatives}")
        if self.negative_sampling not in SAMPLING:
            raise ValueError(f"negative_sampling must be one of {SAMPLING}, got {self.negative_sampling!r}")
        if not 0 <= self.hard_negative_share <= 1:  # NaN fails too
            raise ValueError(f"hard_negative_share must be in [0, 1], got {self.hard_negative_share}")
        if not 0 <= self.newcomer_share <= 1:
            raise ValueError(f"newcomer_share must be in [0, 1], got {self.newcomer_share}")
        if self.newcomer_history not in NEWCOMER_HISTORIES:
            raise ValueError(f"newcomer_history must be one of {NEWCOMER_HISTORIES}, got {self.newcomer_history!r}")
        if not (np.isfinite(self.distillation_weight) and self.distillation_weight >= 0):
            raise ValueError(f"distillation_weight must be a number >= 0, got {self.distillation_weight}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, stored: dict) -> TrainSettings:
        """Settings from a manifest's ``training`` section, filled in by ``as_recorded_then`` (which drops a
        newcomer rule recorded without newcomer rows, so a newcomer network trained from a shipped model's settings
        takes today's rule); keys this code does not know are ignored. A recorded ``distillation_weight`` is not
        carried over: the teacher it needs is no setting, so whoever trains with one sets the weight beside it."""
        filled = {**as_recorded_then(stored), "distillation_weight": 0.0}
        return cls(**{k: filled[k] for k in cls.__dataclass_fields__ if k in filled})


def as_recorded_then(stored: dict) -> dict:
    """A ``training`` record with the settings it predates filled in as training did then (``BEFORE``); which
    movies newcomer rows kept only where there were any (without them the rule shaped nothing, so a newcomer
    network trained from such a record takes today's rule)."""
    filled = {**BEFORE, **stored}
    if not filled["newcomer_share"]:
        del filled["newcomer_history"]
    return filled


@functools.cache  # one strategy per process: TensorFlow allows a single multi-worker setup
def distribution_strategy(name: str = "default"):
    """A ``tf.distribute`` strategy by name; build and train models inside its ``scope()``.

    ``mirrored`` copies the model to every local GPU (or the CPU when there is
    none) and averages gradients; ``multiworker`` does the same across
    machines described by the ``TF_CONFIG`` environment variable (create it
    first thing in the process, as TensorFlow requires).
    """
    import tensorflow as tf

    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ValueError(f"unknown strategy {name!r}; choose one of {STRATEGIES}")


def ranking_auc(model):
    """AUC of what the model ranks by, against the like label.

    On rated rows only this is the plain like AUC; with sampled negatives in
    the validation data, unrated movies count as not liked, so it rewards
    ranking liked movies above both disliked and unwatched ones.
    """
    import keras

    class RankingAUC(keras.metrics.AUC):
        def update_state(self, y_true, y_pred, sample_weight=None):
            liked = model.objective.liked(y_true)
            return super().update_state(keras.ops.reshape(liked, (-1,)), ranking_scores(y_pred), sample_weight)

    return RankingAUC(name="auc", num_thresholds=1000)


def targets(model, frame) -> np.ndarray:
    """What the model learns from for rating rows ``frame``."""
    return model.objective.targets(frame["rating"].to_numpy())


def compile_model(model, settings: TrainSettings) -> None:
    import keras

    model.compile(
        optimizer=keras.optimizers.Adam(settings.learning_rate),
        # Ordinal and rated-head models bring their own loss (``compute_loss``).
        loss=None if model.objective.learns_from_ratings else keras.losses.BinaryCrossentropy(),
        metrics=[ranking_auc(model)],
        jit_compile=False,  # XLA was slower for these models (its random-number kernels slow dropout)
    )


def training_data(
    model, prepared: Prepared, parts: Sequence[str], settings: TrainSettings, shared_history: bool | None = None
):
    """The shuffled training pipeline over ``parts`` of the split, with negatives and histories as asked.

    A row's history comes from the same parts it is trained on, without the
    row's own movie (``movierec.pipeline``); its EASE prior, for a model that
    reads one, from the ``B`` fitted without its user (``movierec.prior``).
    A rated row's negatives share its history (``shared_history``; by
    default when the model reads a history and its distribution strategy
    has one replica). With ``hard_negative_share``, that share of the
    negatives comes from each user's best-scored unrated movies by the same
    out-of-fold prior (``movierec.negatives``; an experiment). With
    ``newcomer_share``, that share of rated rows is trained with the unknown
    user and 1-20 of the oldest movies of its history (``newcomer_history``
    "oldest_kept"), or of the person's first ratings in ``parts``
    ("first_ratings"; "first_ratings_later_rows" makes only rows rated after
    them newcomers; see ``movierec.pipeline``).
    """
    frame = prepared.frame(*parts)
    user_rows = prepared.user_index.get_indexer(frame["user_id"])
    l2 = float(getattr(model, "ease_l2", 0.0))
    if settings.hard_negative_share and not settings.negatives:
        raise ValueError("hard negatives are a share of the sampled negatives: they need negatives > 0")
    if settings.hard_negative_share and not l2:
        raise ValueError("hard negatives are drawn by the EASE prior: they need a model that reads one (ease_l2 > 0)")
    if settings.newcomer_share and l2:
        raise ValueError("rows trained as newcomers cannot read an EASE prior (it is folded in on the whole rated "
                         "set): newcomer_share needs a model without one (ease_l2 = 0)")  # fmt: skip
    fitted = OutOfFoldPrior.of_parts(prepared, parts, l2, disliked_weight(model)) if l2 else None
    negatives = None
    if settings.negatives:
        if prepared.fields != FIELDS:
            raise ValueError("negative sampling needs every field (it swaps in the sampled movie's fields)")
        hard = (fitted, settings.hard_negative_share) if settings.hard_negative_share else None
        sampler = NegativeSampler.for_rows(prepared, frame, settings.negative_sampling, hard)
        negatives = (sampler, user_rows, settings.negatives)
    past = Histories.for_model(model, prepared, parts)
    if past is not None and prepared.fields.index("movie_id") != model.history_field:
        raise ValueError(f"the model matches histories against field {model.history_field}, the data's movie_id is "
                         f"field {prepared.fields.index('movie_id')}")  # fmt: skip
    prior = None if fitted is None else (fitted, user_rows)
    first = None
    if past is not None and settings.newcomer_share and settings.newcomer_history != "oldest_kept":
        # one more than a newcomer row keeps: the row's own movie may be among them
        first = Histories.first_rated(frame, prepared.user_index, prepared.encoder, NEWCOMER_RATINGS + 1)
    # Several replicas each take a slice of every input of a batch, which would part a shared history
    # from its negatives: they get a copy per row.
    if shared_history is None:  # the model's own strategy: keras-tuner fits outside the scope it built in
        shared_history = past is not None and model.distribute_strategy.num_replicas_in_sync == 1
    return make_dataset(
        prepared.codes(*parts), targets(model, frame), settings.batch_size, True, settings.seed, settings.oov_rate,
        negatives, prepared.fields, None if past is None else (past.codes, user_rows), prior, shared_history,
        settings.newcomer_share, first, first is not None and settings.newcomer_history == "first_ratings_later_rows",
    )  # fmt: skip


def validation_data(model, prepared: Prepared, settings: TrainSettings, batch_size: int = 16384):
    """Validation rows, plus a fixed seeded draw of unrated movies when training samples negatives.

    Histories and EASE priors, for a model that reads them, come from the
    training part alone, as they will when the fitted model is measured on
    validation.
    """
    frame = prepared.split.validation
    codes, y = prepared.part("validation").codes, targets(model, frame)
    user_rows = prepared.user_index.get_indexer(frame["user_id"])
    if settings.negatives:
        sampler = NegativeSampler.for_rows(prepared, prepared.frame("train", "validation"), settings.negative_sampling)
        movies = sampler.sample_numpy(user_rows, settings.negatives, np.random.default_rng(settings.seed))
        unrated = np.asarray(sampler.negative_rows(codes, movies, settings.negatives))
        codes, y = np.concatenate([codes, unrated]), np.concatenate([y, np.zeros(len(unrated), np.float32)])
        user_rows = np.concatenate([user_rows, np.repeat(user_rows, settings.negatives)])
    past = Histories.for_model(model, prepared, history_parts("validation"))
    fitted = EasePrior.for_model(model, prepared, history_parts("validation"))
    prior = None if fitted is None else (OutOfFoldPrior.scoring_only(fitted), user_rows)
    return make_dataset(codes, y, batch_size, fields=prepared.fields,
                        history=None if past is None else (past.codes, user_rows), prior=prior)  # fmt: skip


@contextlib.contextmanager
def taught_by(model, teacher, settings: TrainSettings):
    """``model`` matching ``teacher`` with the settings' ``distillation_weight`` for the duration; neither or both."""
    from movierec.distillation import Distillation

    if bool(settings.distillation_weight) != (teacher is not None):
        given = "a" if teacher is not None else "no"
        raise ValueError(f"distillation needs both a teacher and distillation_weight > 0, got {given} teacher and "
                         f"weight {settings.distillation_weight}")  # fmt: skip
    # Keras traces the loss into its train and test functions once: drop them, so they are traced with (and, after,
    # without) the teacher, whatever was traced before.
    model.train_function = model.test_function = None
    model.distillation = None if teacher is None else Distillation(model, teacher, settings.distillation_weight)
    try:
        yield
    finally:
        model.distillation = None
        model.train_function = model.test_function = None


def check_settings(model, settings: TrainSettings) -> None:
    if model.rated_head and not settings.negatives:
        raise ValueError("a model with a rated head needs sampled negatives (TrainSettings.negatives > 0)")


def fit(
    model,
    prepared: Prepared,
    settings: TrainSettings,
    verbose: int | str = "auto",
    callbacks: Sequence = (),
    teacher=None,
) -> dict[str, list[float]]:
    """Train with early stopping on validation AUC; the best epoch's weights are kept.

    With ``settings.distillation_weight`` > 0, ``teacher`` is a trained model
    whose outputs the model also learns to match (``movierec.distillation``).
    """
    import keras

    check_settings(model, settings)
    keras.utils.set_random_seed(settings.seed)
    compile_model(model, settings)
    stopper = keras.callbacks.EarlyStopping(
        monitor="val_auc", mode="max", patience=settings.patience, restore_best_weights=True
    )
    slower = keras.callbacks.ReduceLROnPlateau(
        monitor="val_auc", mode="max", factor=settings.lr_factor, patience=0, min_delta=5e-4
    )
    with taught_by(model, teacher, settings):
        history = model.fit(
            training_data(model, prepared, ("train",), settings),
            validation_data=validation_data(model, prepared, settings),
            epochs=settings.epochs,
            callbacks=[stopper, slower, *callbacks],
            verbose=verbose,
            shuffle=False,  # the pipeline shuffles
        )
    return {k: [float(v) for v in vs] for k, vs in history.history.items()}


def refit(
    model, prepared: Prepared, settings: TrainSettings, history: dict[str, list[float]], verbose="auto", teacher=None
):
    """A fresh model trained on train + validation, replaying the validated schedule.

    Early stopping on the validation rows chose how many epochs to run and the
    plateau callback chose the learning rate of each; a new model with the
    same config and seed now runs exactly that schedule on all 80% of the
    training part. The test rows stay untouched throughout. A distilled
    model's ``teacher`` here must itself be trained on train + validation.
    """
    import keras

    best = int(np.argmax(history["val_auc"])) + 1
    rates = history.get("learning_rate", [settings.learning_rate] * best)[:best]
    keras.utils.set_random_seed(settings.seed)
    fresh = type(model).built(**model.get_config())
    compile_model(fresh, settings)
    schedule = keras.callbacks.LearningRateScheduler(lambda epoch, _: float(rates[epoch]))
    data = training_data(fresh, prepared, ("train", "validation"), settings)
    with taught_by(fresh, teacher, settings):
        fresh.fit(data, epochs=best, callbacks=[schedule], verbose=verbose, shuffle=False)
    return fresh, {"epochs": best, "learning_rates": [float(r) for r in rates]}
