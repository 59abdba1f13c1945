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

**Sampled negatives** (``TrainSettings.negatives = k``) teach a model what a
user does *not* watch, which a top-N recommender needs and rated rows alone
never show. Each batch of rated rows gets ``k`` unrated movies per row, drawn
fresh every epoch inside the input pipeline (uniformly, or by popularity),
never a movie that user rated in the rows being trained on. A negative copies
its rated row's user and context fields (the moment the user rated something
else and not this movie) and takes the sampled movie's fields; its target is
rating 0. Validation gets a fixed, seeded set of negatives the same way, so
the monitored AUC ranks liked movies above disliked *and* unrated ones.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from movierec.data import MovieLens
from movierec.features import FIELD_POSITION, FIELDS, LIKE_THRESHOLD, MOVIE_FIELDS, FeatureEncoder, labels

SPLIT_SEED = 42
TEST_SIZE = 0.2
VALIDATION_SIZE = 0.1
# Fields replaced by the out-of-vocabulary code now and then during training,
# so the "unknown" rows learn what an average new user, movie or zip code looks like.
OOV_FIELDS = ("user_id", "movie_id", "zip")
PREFETCH_BATCHES = 2  # batches the input pipeline prepares ahead of the training step


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


@dataclass
class Prepared:
    """A release, its split, the encoder fitted on the training part, and the encoded arrays.

    ``fields`` are the model's input columns, a subset of the encoder's in
    ``FIELDS`` order (all of them unless a protocol leaves some out).
    """

    data: MovieLens
    split: Split
    encoder: FeatureEncoder
    arrays: dict[str, tuple[np.ndarray, np.ndarray]] = field(repr=False)
    fields: tuple[str, ...] = FIELDS

    @property
    def vocab_sizes(self) -> list[int]:
        sizes = self.encoder.vocab_sizes
        return [sizes[FIELD_POSITION[f]] for f in self.fields]

    def xy(self, part: str) -> tuple[np.ndarray, np.ndarray]:
        return self.arrays[part]

    @property
    def user_index(self) -> pd.Index:
        """Row positions of user ids in ``data.users`` (and in negative-sampling matrices)."""
        return pd.Index(self.data.users["user_id"].to_numpy())

    @property
    def movie_index(self) -> pd.Index:
        """Positions of movie ids in the catalogue ``data.movies``."""
        return pd.Index(self.data.movies["movie_id"].to_numpy())

    def frame(self, *parts: str) -> pd.DataFrame:
        return pd.concat([getattr(self.split, part) for part in parts])

    def codes(self, *parts: str) -> np.ndarray:
        return np.concatenate([self.xy(part)[0] for part in parts])


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
    arrays = {
        part: (encoder.encode_ratings(frame, data.users, data.movies)[:, columns], labels(frame))
        for part, frame in (("train", split.train), ("validation", split.validation), ("test", split.test))
    }
    return Prepared(data, split, encoder, arrays, fields)


SAMPLING = ("uniform", "popularity")
POPULARITY_EXPONENT = 0.75  # word2vec's smoothing: popular movies drawn more often, not overwhelmingly


@dataclass
class NegativeSampler:
    """Draws unrated movies for users, as encoded rows, inside or outside a ``tf.data`` graph.

    ``seen`` is a (users, catalogue movies) boolean matrix of the rated pairs
    that must never come out as negatives; ``movie_rows`` holds each catalogue
    movie's codes at the movie-field positions (zeros elsewhere).
    """

    seen: np.ndarray
    movie_rows: np.ndarray
    weights: np.ndarray

    @classmethod
    def for_rows(cls, prepared: Prepared, rated: pd.DataFrame, sampling: str = "uniform") -> NegativeSampler:
        users, movies = prepared.data.users, prepared.data.movies
        seen = np.zeros((len(users), len(movies)), dtype=bool)
        seen[prepared.user_index.get_indexer(rated["user_id"]), prepared.movie_index.get_indexer(rated["movie_id"])] = 1
        movie_rows = np.zeros((len(movies), len(prepared.encoder.fields)), dtype=np.int32)
        movie_rows[:, _movie_field_mask(movie_rows.shape[1])] = prepared.encoder.encode_movies(movies)
        if sampling == "uniform":
            weights = np.ones(len(movies))
        else:
            counts = np.bincount(prepared.movie_index.get_indexer(rated["movie_id"]), minlength=len(movies))
            weights = counts.astype(np.float64) ** POPULARITY_EXPONENT
        return cls(seen, movie_rows, weights / weights.sum())

    def sample_numpy(self, user_rows: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
        """Catalogue positions (len(user_rows) * k,) of unrated movies, user-major."""
        users = np.repeat(user_rows, k)
        movies = rng.choice(len(self.weights), size=len(users), p=self.weights)
        while (clash := self.seen[users, movies]).any():
            movies[clash] = rng.choice(len(self.weights), size=int(clash.sum()), p=self.weights)
        return movies

    def graph_sampler(self, k: int, seed: int):
        """A ``tf.function``-compatible ``(codes, users) -> negative codes`` for use in ``tf.data``."""
        import tensorflow as tf

        seen = tf.constant(self.seen)
        cdf = tf.constant(np.cumsum(self.weights), tf.float64)
        movie_rows = tf.constant(self.movie_rows)
        is_movie_field = tf.constant(_movie_field_mask(self.movie_rows.shape[1]))
        n_movies = len(self.weights)

        def draw(n):
            u = tf.random.uniform((n,), dtype=tf.float64, seed=seed)
            return tf.minimum(tf.searchsorted(cdf, u, side="right"), n_movies - 1)

        def sample(codes, users):
            users = tf.repeat(users, k)
            movies = tf.cast(draw(tf.shape(users)[0]), tf.int32)

            def clashes(m):
                return tf.gather_nd(seen, tf.stack([users, m], axis=1))

            def redraw(m):
                c = clashes(m)
                return tf.where(c, tf.cast(draw(tf.shape(m)[0]), tf.int32), m)

            movies = tf.while_loop(lambda m: tf.reduce_any(clashes(m)), redraw, [movies])[0]
            return tf.where(is_movie_field, tf.gather(movie_rows, movies), tf.repeat(codes, k, axis=0))

        return sample


def _movie_field_mask(n_fields: int) -> np.ndarray:
    mask = np.zeros(n_fields, dtype=bool)
    mask[[FIELD_POSITION[f] for f in MOVIE_FIELDS]] = True
    return mask


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
    negatives: int = 4  # sampled unrated movies per rated row; 0 trains on rated rows only
    negative_sampling: str = "uniform"  # or "popularity": p(movie) ~ training ratings ** 0.75

    def __post_init__(self) -> None:
        if self.negatives < 0:
            raise ValueError(f"negatives must be >= 0, got {self.negatives}")
        if self.negative_sampling not in SAMPLING:
            raise ValueError(f"negative_sampling must be one of {SAMPLING}, got {self.negative_sampling!r}")

    def to_dict(self) -> dict:
        return asdict(self)


STRATEGIES = ("default", "mirrored", "multiworker")


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


def make_dataset(
    codes: np.ndarray,
    targets: np.ndarray,
    batch_size: int,
    shuffle: bool = False,
    seed: int = 0,
    oov_rate: float = 0.0,
    negatives: tuple[NegativeSampler, np.ndarray, int] | None = None,
    fields: Sequence[str] = FIELDS,
):
    """A ``tf.data`` pipeline of (codes, target) batches.

    Only row indices go through the shuffle; each batch is then gathered from
    the arrays in one vectorised op. Shuffling whole rows element by element
    made the input pipeline, not the model, the bottleneck on two cores.
    ``negatives = (sampler, user row of each code row, k)`` appends k fresh
    unrated movies per row to every batch, with target 0.
    """
    import tensorflow as tf

    x = tf.convert_to_tensor(codes.astype(np.int32))
    y = tf.convert_to_tensor(targets.astype(np.float32))
    indices = tf.data.Dataset.range(len(codes))
    if shuffle:
        indices = indices.shuffle(len(codes), seed=seed, reshuffle_each_iteration=True)
    indices = indices.batch(batch_size)
    droppable = np.isin(np.asarray(fields), OOV_FIELDS)
    if negatives is not None:
        sampler, user_rows, k = negatives
        sample = sampler.graph_sampler(k, seed)
        users = tf.convert_to_tensor(user_rows.astype(np.int32))

    def gather(batch):
        rows, targets = tf.gather(x, batch), tf.gather(y, batch)
        if negatives is not None:
            unrated = sample(rows, tf.gather(users, batch))
            rows = tf.concat([rows, unrated], axis=0)
            targets = tf.concat([targets, tf.zeros(tf.shape(unrated)[:1])], axis=0)
        if oov_rate > 0:
            drop = tf.random.uniform(tf.shape(rows), seed=seed) < oov_rate
            rows = tf.where(drop & droppable, tf.zeros_like(rows), rows)
        return rows, targets

    # One batch at a time, prepared ahead of the step: the random draws (negatives, unknown codes)
    # then come in the same order on every run, so a seed fixes the trained weights exactly; two
    # parallel calls were no faster and made identical runs differ. tf.data's autotuner, left on,
    # now and then took a core from the training step on these two-core machines (whole epochs ran
    # at exactly half speed), so it is off.
    options = tf.data.Options()
    options.autotune.enabled = False
    return indices.map(gather).prefetch(PREFETCH_BATCHES).with_options(options)


def rating_targets(model) -> bool:
    """Whether the model learns from ratings (ordinal or rated head) rather than 0/1 like labels."""
    return bool(getattr(model, "ordinal", False) or getattr(model, "rated_head", False))


def ranking_auc(model):
    """AUC of what the model ranks by, against the like label.

    On rated rows only this is the plain like AUC; with sampled negatives in
    the validation data, unrated movies count as not liked, so it rewards
    ranking liked movies above both disliked and unwatched ones.
    """
    import keras

    from_ratings = rating_targets(model)

    class RankingAUC(keras.metrics.AUC):
        def update_state(self, y_true, y_pred, sample_weight=None):
            liked = keras.ops.cast(y_true >= LIKE_THRESHOLD, "float32") if from_ratings else y_true
            score = model.ranking_scores(y_pred)
            return super().update_state(keras.ops.reshape(liked, (-1,)), score, sample_weight)

    return RankingAUC(name="auc", num_thresholds=1000)


def targets(model, frame: pd.DataFrame) -> np.ndarray:
    """What the model learns from: the rating for an ordinal or rated-head model, else the like label."""
    return frame["rating"].to_numpy(np.float32) if rating_targets(model) else labels(frame)


def compile_model(model, settings: TrainSettings) -> None:
    import keras

    model.compile(
        optimizer=keras.optimizers.Adam(settings.learning_rate),
        # Ordinal and rated-head models bring their own loss (``compute_loss``).
        loss=None if rating_targets(model) else keras.losses.BinaryCrossentropy(),
        metrics=[ranking_auc(model)],
        # XLA's random-number kernels are slow on CPU: with dropout the plain
        # graph trained ~4x faster than the XLA one when we measured it.
        jit_compile=settings.jit_compile and not model.dropout,
        steps_per_execution=settings.steps_per_execution,
    )


def training_data(model, prepared: Prepared, parts: Sequence[str], settings: TrainSettings):
    """The shuffled training pipeline over ``parts`` of the split, with negatives if the settings ask."""
    frame = prepared.frame(*parts)
    negatives = None
    if settings.negatives:
        if prepared.fields != FIELDS:
            raise ValueError("negative sampling needs every field (it swaps in the sampled movie's fields)")
        sampler = NegativeSampler.for_rows(prepared, frame, settings.negative_sampling)
        negatives = (sampler, prepared.user_index.get_indexer(frame["user_id"]), settings.negatives)
    return make_dataset(
        prepared.codes(*parts), targets(model, frame), settings.batch_size, True, settings.seed, settings.oov_rate,
        negatives, prepared.fields,
    )  # fmt: skip


def validation_data(model, prepared: Prepared, settings: TrainSettings, batch_size: int = 16384):
    """Validation rows, plus a fixed seeded draw of unrated movies when training samples negatives."""
    codes, y = prepared.xy("validation")[0], targets(model, prepared.split.validation)
    if settings.negatives:
        frame = prepared.split.validation
        sampler = NegativeSampler.for_rows(prepared, prepared.frame("train", "validation"), settings.negative_sampling)
        rows = prepared.user_index.get_indexer(frame["user_id"])
        movies = sampler.sample_numpy(rows, settings.negatives, np.random.default_rng(settings.seed))
        unrated = np.where(
            _movie_field_mask(codes.shape[1]), sampler.movie_rows[movies], np.repeat(codes, settings.negatives, 0)
        )
        codes, y = np.concatenate([codes, unrated]), np.concatenate([y, np.zeros(len(unrated), np.float32)])
    return make_dataset(codes, y, batch_size)


def check_settings(model, settings: TrainSettings) -> None:
    if getattr(model, "rated_head", False) and not settings.negatives:
        raise ValueError("a model with a rated head needs sampled negatives (TrainSettings.negatives > 0)")


def fit(
    model,
    prepared: Prepared,
    settings: TrainSettings,
    verbose: int | str = "auto",
    callbacks: Sequence = (),
) -> dict[str, list[float]]:
    """Train with early stopping on validation AUC; the best epoch's weights are kept."""
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
    history = model.fit(
        training_data(model, prepared, ("train",), settings),
        validation_data=validation_data(model, prepared, settings),
        epochs=settings.epochs,
        callbacks=[stopper, slower, *callbacks],
        verbose=verbose,
        shuffle=False,  # the pipeline shuffles
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
    schedule = keras.callbacks.LearningRateScheduler(lambda epoch, _: float(rates[epoch]))
    data = training_data(fresh, prepared, ("train", "validation"), settings)
    fresh.fit(data, epochs=best, callbacks=[schedule], verbose=verbose, shuffle=False)
    return fresh, {"epochs": best, "learning_rates": [float(r) for r in rates]}


def predict(model, codes: np.ndarray, batch_size: int = 32768) -> np.ndarray:
    """Like probabilities for many rows in fixed-size batches (a compiled call each, no ``predict`` loop).

    Ranking every movie for people goes through ``movierec.ranking.CandidateScorer`` instead.
    """
    out = np.empty(len(codes), dtype=np.float32)
    for start in range(0, len(codes), batch_size):
        chunk = codes[start : start + batch_size]
        out[start : start + len(chunk)] = np.asarray(model.predict_on_batch(chunk)).reshape(len(chunk), -1)[:, 0]
    return out
