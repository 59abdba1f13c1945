"""Sampled negatives: movies a user has not rated, as model input rows with target rating 0.

A model trained on rated rows only learns "did they like what they rated";
ranking every unseen movie also needs "would they watch it at all". Each rated
row therefore gets ``k`` unrated movies, drawn fresh every epoch inside the
input pipeline (uniformly, or by popularity), never a movie that user rated in
the rows being trained on. A negative copies its rated row's user and context
fields (the moment the user rated something else and not this movie) and
takes the sampled movie's fields.

Hard negatives. A model that reads EASE's prior (``movierec.prior``) tells
most uniform draws from the rated movie by the prior alone: a random
unrated movie is rarely one the person's co-ratings point to. Its top ten,
which is what the catalogue ranking is judged on, is decided among the few
hundred unrated movies the prior scores highest. With ``hard_share`` > 0,
that share of the negatives is drawn uniformly from the user's
``HARD_POOL`` best-scored unrated movies by the out-of-fold prior their
rows read (``OutOfFoldPrior.top_unrated``), the rest as before, so the
network sees more of the movies that decide the top of the list. Some of
those movies are ones the person rates later (in validation or test).

It is an experiment, and it lost (``bench/hard_negatives.py``, README).
P(rated) learnt against these negatives is biased down on exactly the
pool's movies, which are drawn far more often than uniformly: ranking the
catalogue by it collapses, and correcting the logits for the sampling bias
recovers only part of the loss (likely because half of the movies people
like next lie in their pool).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from movierec.features import FIELD_POSITION, MOVIE_FIELDS
from movierec.history import EMPTY
from movierec.interactions import rated_matrix
from movierec.prepared import Prepared
from movierec.prior import OutOfFoldPrior, rated_codes

SAMPLING = ("uniform", "popularity")
POPULARITY_EXPONENT = 0.75  # word2vec's smoothing: popular movies drawn more often, not overwhelmingly
HARD_POOL = 100  # a user's best-scored unrated movies that hard negatives are drawn from


def catalogue_pools(prepared: Prepared, prior: OutOfFoldPrior) -> np.ndarray:
    """Each user's ``HARD_POOL`` best-scored unrated movies by ``prior``, as catalogue positions (-1: none).

    ``OutOfFoldPrior.top_unrated`` in the catalogue's order rather than the
    encoder's codes (a movie the encoder does not know has no prior score).
    """
    codes = prepared.encoder.encode_movie_ids(prepared.data.movies["movie_id"])
    position_of_code = np.full(prior.weights.shape[1], -1, dtype=np.int32)  # EMPTY stays -1
    position_of_code[codes[codes != EMPTY]] = np.flatnonzero(codes != EMPTY)
    return position_of_code[prior.top_unrated(HARD_POOL)]


def movie_field_mask(n_fields: int) -> np.ndarray:
    """True at the positions of the movie fields in a row of ``n_fields`` codes."""
    mask = np.zeros(n_fields, dtype=bool)
    mask[[FIELD_POSITION[f] for f in MOVIE_FIELDS]] = True
    return mask


@dataclass
class NegativeSampler:
    """Draws unrated movies for users, as encoded rows, inside or outside a ``tf.data`` graph.

    ``seen_keys`` are the rated pairs that must never come out as negatives,
    each as ``user * movies + movie`` (user row, catalogue position), sorted:
    8 bytes a rating (8 MB per million), looked up by binary search, where a
    dense users x movies table would grow with their product (9.6 GB for
    MovieLens 25M's 162,541 users x 59,047 movies). ``movie_rows`` holds each catalogue movie's codes at the
    movie-field positions (zeros elsewhere); ``weights`` is the probability
    of drawing each movie. ``hard_pools`` (user rows, pool) holds each
    user's hard candidates as catalogue positions (-1: an empty slot, for a
    user with fewer unrated movies than the pool), and ``hard_share`` is the
    chance that a negative is drawn from a slot of them (an empty slot
    falls back to the plain draw).
    """

    seen_keys: np.ndarray
    movie_rows: np.ndarray
    weights: np.ndarray
    hard_pools: np.ndarray | None = None
    hard_share: float = 0.0

    @classmethod
    def for_rows(
        cls,
        prepared: Prepared,
        rated: pd.DataFrame,
        sampling: str = "uniform",
        hard: tuple[OutOfFoldPrior, float] | None = None,
    ) -> NegativeSampler:
        """A sampler avoiding the pairs of ``rated``; ``hard = (prior fitted on rated, share)`` adds hard negatives."""
        if sampling not in SAMPLING:
            raise ValueError(f"sampling must be one of {SAMPLING}, got {sampling!r}")
        movies = prepared.data.movies
        seen = rated_matrix(rated, prepared.user_index, prepared.movie_index)
        seen.sort_indices()
        users = np.repeat(np.arange(seen.shape[0], dtype=np.int64), np.diff(seen.indptr))
        seen_keys = users * len(movies) + seen.indices  # sorted: rows in order, columns sorted within a row
        movie_rows = np.zeros((len(movies), len(prepared.encoder.fields)), dtype=np.int32)
        movie_rows[:, movie_field_mask(movie_rows.shape[1])] = prepared.encoder.encode_movies(movies)
        if sampling == "uniform":
            weights = np.ones(len(movies))
        else:
            counts = np.bincount(seen.indices, minlength=len(movies)).astype(np.float64)
            weights = counts**POPULARITY_EXPONENT
        sampler = cls(seen_keys, movie_rows, weights / weights.sum())
        if hard is not None:
            prior, share = hard
            if not 0 < share <= 1:  # NaN fails too
                raise ValueError(f"the hard negatives' share must be in (0, 1], got {share}")
            fitted_on = rated_codes(rated, prepared.user_index, prepared.encoder)
            if not (np.array_equal(prior.rated.indptr, fitted_on.indptr)
                    and np.array_equal(prior.rated.indices, fitted_on.indices)):  # fmt: skip
                raise ValueError("hard negatives need the prior fitted on the same rated rows as the sampler")
            sampler.hard_pools = catalogue_pools(prepared, prior)
            sampler.hard_share = float(share)
        return sampler

    @property
    def n_movies(self) -> int:
        return len(self.weights)

    def is_rated(self, user_rows: np.ndarray, movies: np.ndarray) -> np.ndarray:
        """Whether each (user row, catalogue position) pair is a rated one (broadcast shapes)."""
        keys = np.asarray(user_rows, dtype=np.int64) * self.n_movies + np.asarray(movies, dtype=np.int64)
        if not len(self.seen_keys):
            return np.zeros(keys.shape, dtype=bool)
        found = np.minimum(np.searchsorted(self.seen_keys, keys), len(self.seen_keys) - 1)
        return self.seen_keys[found] == keys

    def sample_numpy(self, user_rows: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
        """Catalogue positions (len(user_rows) * k,) of unrated movies, user-major."""
        users = np.repeat(user_rows, k)
        movies = rng.choice(len(self.weights), size=len(users), p=self.weights)
        if self.hard_pools is not None:
            hard = rng.random(len(users)) < self.hard_share
            picked = self.hard_pools[users, rng.integers(0, self.hard_pools.shape[1], size=len(users))]
            movies = np.where(hard & (picked >= 0), picked, movies)
        while (clash := self.is_rated(users, movies)).any():
            movies[clash] = rng.choice(len(self.weights), size=int(clash.sum()), p=self.weights)
        return movies

    def negative_rows(self, codes, movies, k: int):
        """``k`` copies of each code row, user-major, with the movie fields of ``movies`` (rows * k,).

        A TensorFlow op: it runs inside the ``tf.data`` graph and, eagerly, on NumPy arrays.
        """
        import tensorflow as tf

        is_movie_field = tf.constant(movie_field_mask(self.movie_rows.shape[1]))
        return tf.where(is_movie_field, tf.gather(self.movie_rows, movies), tf.repeat(codes, k, axis=0))

    def graph_sampler(self, k: int, seeds: tuple[int, int, int]):
        """A ``tf.function``-compatible ``(codes, users) -> negative codes`` for use in ``tf.data``.

        ``seeds`` are the op seeds of the first draw, of the redraws of
        movies the user rated, and of the hard draws: two ops of one graph
        with the same seed would repeat each other's numbers.
        """
        import tensorflow as tf

        # One sentinel past every real key, so a search never runs off the end (and an empty set works).
        seen_keys = tf.constant(np.append(self.seen_keys, np.iinfo(np.int64).max))
        cdf = tf.constant(np.cumsum(self.weights), tf.float64)
        n_movies = self.n_movies
        first_seed, redraw_seed, hard_seed = seeds
        if self.hard_pools is not None:
            pools = tf.constant(self.hard_pools.reshape(-1))
            pool_size = self.hard_pools.shape[1]

        def draw(n, seed):
            u = tf.random.uniform((n,), dtype=tf.float64, seed=seed)
            return tf.cast(tf.minimum(tf.searchsorted(cdf, u, side="right"), n_movies - 1), tf.int32)

        def sample(codes, users):
            users = tf.repeat(users, k)
            movies = draw(tf.shape(users)[0], first_seed)
            if self.hard_pools is not None:
                # One draw decides both: below the share, hard, and the same number picks the pool slot.
                u = tf.random.uniform(tf.shape(users), dtype=tf.float64, seed=hard_seed)
                slot = tf.cast(tf.minimum(u / self.hard_share, 1.0 - 1e-9) * pool_size, tf.int32)
                picked = tf.gather(pools, users * pool_size + slot)
                movies = tf.where((u < self.hard_share) & (picked >= 0), picked, movies)

            def clashes(m):
                keys = tf.cast(users, tf.int64) * n_movies + tf.cast(m, tf.int64)
                return tf.equal(tf.gather(seen_keys, tf.searchsorted(seen_keys, keys)), keys)

            def redraw(m):
                return [tf.where(clashes(m), draw(tf.shape(m)[0], redraw_seed), m)]  # a list, as eager loops need

            movies = tf.while_loop(lambda m: tf.reduce_any(clashes(m)), redraw, [movies])[0]
            return self.negative_rows(codes, movies, k)

        return sample
