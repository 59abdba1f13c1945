"""Sampled negatives: movies a user has not rated, as model input rows with target rating 0.

A model trained on rated rows only learns "did they like what they rated";
ranking every unseen movie also needs "would they watch it at all". Each rated
row therefore gets ``k`` unrated movies, drawn fresh every epoch inside the
input pipeline (uniformly, or by popularity), never a movie that user rated in
the rows being trained on. A negative copies its rated row's user and context
fields (the moment the user rated something else and not this movie) and
takes the sampled movie's fields.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from movierec.features import FIELD_POSITION, MOVIE_FIELDS
from movierec.interactions import rated_matrix
from movierec.prepared import Prepared

SAMPLING = ("uniform", "popularity")
POPULARITY_EXPONENT = 0.75  # word2vec's smoothing: popular movies drawn more often, not overwhelmingly


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
    of drawing each movie.
    """

    seen_keys: np.ndarray
    movie_rows: np.ndarray
    weights: np.ndarray

    @classmethod
    def for_rows(cls, prepared: Prepared, rated: pd.DataFrame, sampling: str = "uniform") -> NegativeSampler:
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
        return cls(seen_keys, movie_rows, weights / weights.sum())

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

    def graph_sampler(self, k: int, seeds: tuple[int, int]):
        """A ``tf.function``-compatible ``(codes, users) -> negative codes`` for use in ``tf.data``.

        ``seeds`` are the op seeds of the first draw and of the redraws of
        movies the user rated: two ops of one graph with the same seed would
        repeat each other's numbers.
        """
        import tensorflow as tf

        # One sentinel past every real key, so a search never runs off the end (and an empty set works).
        seen_keys = tf.constant(np.append(self.seen_keys, np.iinfo(np.int64).max))
        cdf = tf.constant(np.cumsum(self.weights), tf.float64)
        n_movies = self.n_movies
        first_seed, redraw_seed = seeds

        def draw(n, seed):
            u = tf.random.uniform((n,), dtype=tf.float64, seed=seed)
            return tf.cast(tf.minimum(tf.searchsorted(cdf, u, side="right"), n_movies - 1), tf.int32)

        def sample(codes, users):
            users = tf.repeat(users, k)
            movies = draw(tf.shape(users)[0], first_seed)

            def clashes(m):
                keys = tf.cast(users, tf.int64) * n_movies + tf.cast(m, tf.int64)
                return tf.equal(tf.gather(seen_keys, tf.searchsorted(seen_keys, keys)), keys)

            def redraw(m):
                return [tf.where(clashes(m), draw(tf.shape(m)[0], redraw_seed), m)]  # a list, as eager loops need

            movies = tf.while_loop(lambda m: tf.reduce_any(clashes(m)), redraw, [movies])[0]
            return self.negative_rows(codes, movies, k)

        return sample
