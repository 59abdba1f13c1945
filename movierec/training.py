"""Splitting, input pipelines and training.

The split is the one every number in this project is measured on:
``train_test_split(ratings in file order, test_size=0.2, random_state=42)``,
then a seeded 10% of the training part as validation (``random_state=42``).
Vocabularies are fitted on the training part only, so validation and test
rows see out-of-vocabulary codes exactly where a deployed model would.

Training streams int32 code matrices through ``tf.data`` (shuffled row
indices, one gather per batch, prefetch) into a Keras ``fit``; early stopping
watches the validation AUC and restores the best epoch, a plateau schedule
lowers the learning rate, and a final refit replays that schedule on train +
validation. XLA and several steps per execution are available in
``TrainSettings`` but measured no faster for these models on CPU.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from movierec.data import MovieLens
from movierec.features import FIELD_POSITION, LIKE_THRESHOLD, FeatureEncoder, labels

SPLIT_SEED = 42
TEST_SIZE = 0.2
VALIDATION_SIZE = 0.1
# Fields replaced by the out-of-vocabulary code now and then during training,
# so the "unknown" rows learn what an average new user, movie or zip code looks like.
OOV_FIELDS = ("user_id", "movie_id", "zip")


@dataclass
class Split:
    train: pd.DataFrame
    validation: pd.DataFrame
    test: pd.DataFrame

    def describe(self) -> dict:
        return {
            "method": "sklearn train_test_split on ratings in file order",
            "test_size": TEST_SIZE,
            "validation_size": VALIDATION_SIZE,
            "random_state": SPLIT_SEED,
            "rows": {"train": len(self.train), "validation": len(self.validation), "test": len(self.test)},
        }


def split_ratings(ratings: pd.DataFrame, seed: int = SPLIT_SEED) -> Split:
    train_full, test = train_test_split(ratings, test_size=TEST_SIZE, random_state=seed)
    train, validation = train_test_split(train_full, test_size=VALIDATION_SIZE, random_state=seed)
    return Split(train, validation, test)


@dataclass
class Prepared:
    """A release, its split, the encoder fitted on the training part, and the encoded arrays."""

    data: MovieLens
    split: Split
    encoder: FeatureEncoder
    arrays: dict[str, tuple[np.ndarray, np.ndarray]] = field(repr=False)

    def xy(self, part: str) -> tuple[np.ndarray, np.ndarray]:
        return self.arrays[part]


def prepare(data: MovieLens, seed: int = SPLIT_SEED, encoder: FeatureEncoder | None = None) -> Prepared:
    split = split_ratings(data.ratings, seed)
    encoder = encoder or FeatureEncoder.fit(split.train, data.users, data.movies)
    arrays = {
        part: (encoder.encode_ratings(frame, data.users, data.movies), labels(frame))
        for part, frame in (("train", split.train), ("validation", split.validation), ("test", split.test))
    }
    return Prepared(data, split, encoder, arrays)


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
    steps_per_execution: int = 1
    jit_compile: bool = False

    def to_dict(self) -> dict:
        return asdict(self)


def make_dataset(
    codes: np.ndarray,
    targets: np.ndarray,
    batch_size: int,
    shuffle: bool = False,
    seed: int = 0,
    oov_rate: float = 0.0,
):
    """A ``tf.data`` pipeline of (codes, target) batches.

    Only row indices go through the shuffle; each batch is then gathered from
    the arrays in one vectorised op. Shuffling whole rows element by element
    made the input pipeline, not the model, the bottleneck on two cores.
    """
    import tensorflow as tf

    x = tf.convert_to_tensor(codes.astype(np.int32))
    y = tf.convert_to_tensor(targets.astype(np.float32))
    indices = tf.data.Dataset.range(len(codes))
    if shuffle:
        indices = indices.shuffle(len(codes), seed=seed, reshuffle_each_iteration=True)
    indices = indices.batch(batch_size)
    droppable = np.zeros(codes.shape[1], dtype=bool)
    droppable[[FIELD_POSITION[f] for f in OOV_FIELDS if f in FIELD_POSITION]] = True

    def gather(batch):
        rows = tf.gather(x, batch)
        if oov_rate > 0:
            drop = tf.random.uniform(tf.shape(rows), seed=seed) < oov_rate
            rows = tf.where(drop & droppable, tf.zeros_like(rows), rows)
        return rows, tf.gather(y, batch)

    return indices.map(gather, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).prefetch(tf.data.AUTOTUNE)


def like_auc(ordinal: bool):
    """AUC of the like probability, whether targets are ratings (ordinal) or 0/1 labels."""
    import keras

    class LikeAUC(keras.metrics.AUC):
        def update_state(self, y_true, y_pred, sample_weight=None):
            if ordinal:
                y_true = keras.ops.cast(y_true >= LIKE_THRESHOLD, "float32")
            return super().update_state(y_true, y_pred, sample_weight)

    return LikeAUC(name="auc", num_thresholds=1000)


def targets(model, frame: pd.DataFrame) -> np.ndarray:
    """What the model learns from: the rating for an ordinal model, else the like label."""
    return frame["rating"].to_numpy(np.float32) if getattr(model, "ordinal", False) else labels(frame)


def compile_model(model, settings: TrainSettings) -> None:
    import keras

    model.compile(
        optimizer=keras.optimizers.Adam(settings.learning_rate),
        loss=None if model.ordinal else keras.losses.BinaryCrossentropy(),  # the ordinal model brings its own
        metrics=[like_auc(model.ordinal)],
        # XLA's random-number kernels are slow on CPU: with dropout the plain
        # graph trained ~4x faster than the XLA one when we measured it.
        jit_compile=settings.jit_compile and not model.dropout,
        steps_per_execution=settings.steps_per_execution,
    )


def fit(
    model,
    prepared: Prepared,
    settings: TrainSettings,
    verbose: int | str = "auto",
    callbacks: Sequence = (),
) -> dict[str, list[float]]:
    """Train with early stopping on validation AUC; the best epoch's weights are kept."""
    import keras

    keras.utils.set_random_seed(settings.seed)
    compile_model(model, settings)
    x_train, _ = prepared.xy("train")
    x_val, _ = prepared.xy("validation")
    y_train, y_val = targets(model, prepared.split.train), targets(model, prepared.split.validation)
    train = make_dataset(x_train, y_train, settings.batch_size, True, settings.seed, settings.oov_rate)
    validation = make_dataset(x_val, y_val, 16384)
    stopper = keras.callbacks.EarlyStopping(
        monitor="val_auc", mode="max", patience=settings.patience, restore_best_weights=True
    )
    slower = keras.callbacks.ReduceLROnPlateau(
        monitor="val_auc", mode="max", factor=settings.lr_factor, patience=0, min_delta=5e-4
    )
    history = model.fit(
        train,
        validation_data=validation,
        epochs=settings.epochs,
        callbacks=[stopper, slower, *callbacks],
        verbose=verbose,
    )
    return {k: [float(v) for v in vs] for k, vs in history.history.items()}


def refit(model, prepared: Prepared, settings: TrainSettings, history: dict[str, list[float]], verbose="auto"):
    """A fresh model trained on train + validation, replaying the validated schedule.

    Early stopping on the validation rows chose how many epochs to run and the
    plateau callback chose the learning rate of each; a new model with the
    same config and seed now runs exactly that schedule on all 80% of the
    training part. The test rows stay untouched throughout.
    """
    import keras

    best = int(np.argmax(history["val_auc"])) + 1
    rates = history.get("learning_rate", [settings.learning_rate] * best)[:best]
    keras.utils.set_random_seed(settings.seed)
    fresh = type(model).built(**model.get_config())
    compile_model(fresh, settings)
    frames = (prepared.split.train, prepared.split.validation)
    codes = np.concatenate([prepared.xy("train")[0], prepared.xy("validation")[0]])
    y = np.concatenate([targets(fresh, frame) for frame in frames])
    data = make_dataset(codes, y, settings.batch_size, True, settings.seed, settings.oov_rate)
    schedule = keras.callbacks.LearningRateScheduler(lambda epoch, _: float(rates[epoch]))
    fresh.fit(data, epochs=best, callbacks=[schedule], verbose=verbose)
    return fresh, {"epochs": best, "learning_rates": [float(r) for r in rates]}


def predict(model, codes: np.ndarray, batch_size: int = 32768) -> np.ndarray:
    """Scores for many rows in fixed-size batches (a compiled call each, no ``predict`` loop)."""
    out = np.empty(len(codes), dtype=np.float32)
    for start in range(0, len(codes), batch_size):
        chunk = codes[start : start + batch_size]
        out[start : start + len(chunk)] = np.asarray(model.predict_on_batch(chunk)).reshape(-1)
    return out
