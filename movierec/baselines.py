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
* ``EASE``: a closed-form linear item model on the same implicit matrix
  (Steck, WWW 2019); *graded* (``disliked_weight`` < 1), on rows where a
  movie rated but not liked counts less than a liked one, the strongest of
  these on full ranking.
"""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd

from movierec.features import rating_values
from movierec.interactions import last_cells, positions, rated_matrix


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


class ItemItemModel:
    """A user's score for a movie is their row of the rated matrix times an item x item weight matrix.

    The rows are 0/1 (``rated_rows``; graded EASE's weigh each rating).
    Subclasses differ in the weights (``item_weights``). A person the model
    was not fitted on is scored by *fold-in*: their own row times the same
    weights (``score_matrix``, or ``score_history`` for 0/1 rows), with
    nothing refitted.
    """

    def __init__(self, rated: pd.DataFrame, user_ids: np.ndarray, movie_ids: np.ndarray):
        self.user_index = pd.Index(np.asarray(user_ids))
        self.movie_index = pd.Index(np.asarray(movie_ids))
        self.matrix = self.rated_rows(rated)
        self.weights = self.item_weights(self.matrix).astype(np.float32)

    def rated_rows(self, rated: pd.DataFrame):
        """The (users, movies) float32 sparse rows the weights are fitted on and users are scored by: 0/1 here."""
        return rated_matrix(rated, self.user_index, self.movie_index).astype(np.float32)

    def item_weights(self, matrix) -> np.ndarray:
        raise NotImplementedError

    def score_rows(self, user_rows: np.ndarray) -> np.ndarray:
        """Scores (users, movies) for user positions in ``user_ids``."""
        return np.asarray(self.matrix[np.asarray(user_rows)] @ self.weights)

    def score_history(self, movie_positions: np.ndarray) -> np.ndarray:
        """Scores (movies,) for a person who rated the movies at these catalogue positions (fold-in, 0/1 rows:
        a model with graded rows scores people by ``score_matrix`` of their graded rows)."""
        if getattr(self, "disliked_weight", 1.0) != 1:
            raise ValueError("a graded model folds a person in by their ratings: use score_matrix on graded rows")
        return self.weights[np.unique(np.asarray(movie_positions, dtype=np.intp))].sum(axis=0)

    def score_matrix(self, rated) -> np.ndarray:
        """Scores (people, movies) for people the model was not fitted on, from their sparse rows (fold-in):
        0/1, or for a model with weighted rows, the cells ``rated_rows`` would give their ratings."""
        return np.asarray(rated.astype(np.float32) @ self.weights)

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


class ItemKNN(ItemItemModel):
    """Item-based nearest neighbours on implicit feedback (cosine similarity, all neighbours)."""

    def item_weights(self, matrix) -> np.ndarray:
        norms = np.sqrt(np.asarray(matrix.sum(axis=0)).ravel())
        inverse = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
        similarity = (matrix.T @ matrix).toarray() * inverse[:, None] * inverse[None, :]
        np.fill_diagonal(similarity, 0.0)
        return similarity


class EASE(ItemItemModel):
    """EASE, the embarrassingly shallow autoencoder (Steck, WWW 2019).

    A linear item x item model B learned in closed form to rebuild each user's
    0/1 row from the *other* movies they rated: minimise
    ||X - XB||^2 + l2 ||B||^2 with diag(B) = 0. With P = (X'X + l2 I)^-1 the
    answer is B_ij = -P_ij / P_jj off the diagonal. Unlike item-kNN's
    similarities, B learns how much each co-rated movie should count once the
    others are known, which makes it one of the strongest simple top-N
    baselines. ``l2`` is chosen on validation (``movierec.evaluation``).

    ``disliked_weight`` < 1 fits and scores *graded* rows: a movie rated but
    not liked counts that much, a liked one 1 (``features.rating_values``).
    Relevance is a liked movie, and a rating below 4 says less about what
    the person will like than a 4 or 5 does, though still that they watch
    such movies. Plain EASE is ``disliked_weight`` = 1.
    """

    def __init__(
        self,
        rated: pd.DataFrame,
        user_ids: np.ndarray,
        movie_ids: np.ndarray,
        l2: float = 500.0,
        disliked_weight: float = 1.0,
        keep_gram: bool = False,
    ):
        self.l2 = _positive_l2(l2)
        self.disliked_weight = float(disliked_weight)
        rating_values([], self.disliked_weight)  # refuses a weight outside (0, 1] before the fit
        self.keep_gram = keep_gram
        self.gram = None  # X'X of the rows, kept only with keep_gram (for ``with_l2``)
        super().__init__(rated, user_ids, movie_ids)

    def rated_rows(self, rated: pd.DataFrame):
        if self.disliked_weight == 1:
            return super().rated_rows(rated)
        rows, columns = positions(rated, self.user_index, self.movie_index)
        values = rating_values(rated["rating"].to_numpy(), self.disliked_weight)
        return last_cells(rows, columns, values, (len(self.user_index), len(self.movie_index)))

    def item_weights(self, matrix) -> np.ndarray:
        gram = gram_matrix(matrix)
        if self.keep_gram:
            gram.setflags(write=False)  # shared by every refit (with_l2)
            self.gram = gram
        return ease_from_gram(gram, self.l2, overwrite=not self.keep_gram)

    def with_l2(self, l2: float) -> EASE:
        """The same rows fitted at another ``l2``: bit for bit ``EASE(rated, ..., l2, disliked_weight)``.

        An l2 only shifts the diagonal of X'X, so an l2 grid on the same rows
        pays for X'X once and for one inverse per l2. Needs a model fitted
        with ``keep_gram``; the refit shares its X'X (read-only), so keeping
        any model of the grid keeps X'X too.
        """
        if self.gram is None:
            raise ValueError("with_l2 needs the Gram matrix: fit the first EASE with keep_gram=True")
        refit = copy.copy(self)  # shares the rows and X'X, which neither changes
        refit.l2 = _positive_l2(l2)
        refit.weights = ease_from_gram(self.gram, refit.l2).astype(np.float32)
        return refit


def _positive_l2(l2: float) -> float:
    if not l2 > 0:
        raise ValueError(f"l2 must be positive, got {l2}")
    return float(l2)


def gram_matrix(matrix) -> np.ndarray:
    """X'X (movies, movies) of a sparse (people, movies) matrix, summed in the rows' dtype and returned as float64."""
    return (matrix.T @ matrix).toarray().astype(np.float64)


def ease_from_gram(gram: np.ndarray, l2: float, overwrite: bool = False) -> np.ndarray:
    """EASE's closed form ``B`` from X'X and ``l2``; ``diag(B) = 0``. X'X is left as it was unless ``overwrite``
    (then its diagonal is shifted in place: one movies x movies matrix less at the peak)."""
    shifted = gram if overwrite else gram.copy()
    shifted[np.diag_indices_from(shifted)] += l2
    inverse = np.linalg.inv(shifted)
    del shifted
    inverse /= -np.diag(inverse).copy()[None, :]  # in place, the same floats as a new quotient
    np.fill_diagonal(inverse, 0.0)
    return inverse


def ease_weights(matrix, l2: float) -> np.ndarray:
    """EASE's closed form ``B`` (movies, movies) for a sparse (people, movies) matrix of 0/1 or graded rows;
    ``diag(B) = 0``."""
    return ease_from_gram(gram_matrix(matrix), l2, overwrite=True)
