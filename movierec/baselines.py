"""Non-learned reference scorers, fitted on the training rows only.

* ``popularity``: how many training ratings a movie has.
* ``movie_mean``: a movie's mean training rating (the global mean for movies
  with no training rating).

Both score a movie the same for every user, which is exactly what makes them
useful: a personalised model has to beat them to be worth serving.

* ``ItemKNN``: the classic personalised baseline for top-N. Movies are
  compared by the cosine of their columns in the implicit user x movie matrix
  (1 where the user rated the movie, whatever the rating), and a user's score
  for a movie is the summed similarity to every movie they rated.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from movierec.interactions import rated_matrix


def popularity(train: pd.DataFrame) -> pd.Series:
    return train.groupby("movie_id").size().astype(np.float64)


def movie_mean(train: pd.DataFrame) -> pd.Series:
    return train.groupby("movie_id")["rating"].mean().astype(np.float64)


BASELINES = {"popularity": popularity, "movie_mean": movie_mean}


def fit(train: pd.DataFrame) -> dict[str, tuple[pd.Series, float]]:
    """Each baseline's per-movie score and its fallback for unseen movies."""
    fallbacks = {"popularity": 0.0, "movie_mean": float(train["rating"].mean())}
    return {name: (scorer(train), fallbacks[name]) for name, scorer in BASELINES.items()}


def score(fitted: tuple[pd.Series, float], movie_ids: np.ndarray) -> np.ndarray:
    table, fallback = fitted
    return table.reindex(np.asarray(movie_ids)).fillna(fallback).to_numpy(dtype=np.float64)


class ItemKNN:
    """Item-based nearest neighbours on implicit feedback (cosine similarity, all neighbours)."""

    def __init__(self, rated: pd.DataFrame, user_ids: np.ndarray, movie_ids: np.ndarray):
        self.user_index = pd.Index(np.asarray(user_ids))
        self.movie_index = pd.Index(np.asarray(movie_ids))
        matrix = rated_matrix(rated, self.user_index, self.movie_index).astype(np.float32)
        self.matrix = matrix
        norms = np.sqrt(np.asarray(matrix.sum(axis=0)).ravel())
        inverse = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
        similarity = (matrix.T @ matrix).toarray() * inverse[:, None] * inverse[None, :]
        np.fill_diagonal(similarity, 0.0)
        self.similarity = similarity.astype(np.float32)

    def score_rows(self, user_rows: np.ndarray) -> np.ndarray:
        """Scores (users, movies) for user positions in ``user_ids``."""
        return np.asarray(self.matrix[np.asarray(user_rows)] @ self.similarity)

    def score_pairs(self, user_ids: np.ndarray, movie_ids: np.ndarray, chunk: int = 256) -> np.ndarray:
        """Scores of (user, movie) pairs; unknown users or movies score 0."""
        users = self.user_index.get_indexer(np.asarray(user_ids))
        movies = self.movie_index.get_indexer(np.asarray(movie_ids))
        out = np.zeros(len(users), dtype=np.float64)
        known = (users >= 0) & (movies >= 0)
        order = np.flatnonzero(known)
        distinct = np.unique(users[order])
        for start in range(0, len(distinct), chunk):
            block = distinct[start : start + chunk]
            scores = self.score_rows(block)
            pick = order[np.isin(users[order], block)]
            out[pick] = scores[np.searchsorted(block, users[pick]), movies[pick]]
        return out
