"""Who rated what, as a sparse users x movies matrix.

Negative sampling (which movies a user never rated), the full-ranking
evaluation (which movies to leave out of a user's ranking, which are
relevant) and the item-kNN baseline all need the same thing: a 0/1 matrix
with a row per user and a column per catalogue movie. It is built here, once
per use, as a boolean compressed sparse row matrix, whose size grows with
the number of ratings rather than with users x movies. Graded EASE's rows,
which weigh each rating, are float32 ones of the same shape (``last_cells``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import sparse


def rated_matrix(ratings: pd.DataFrame, user_index: pd.Index, movie_index: pd.Index) -> sparse.csr_matrix:
    """True where a user (row in ``user_index``) rated a movie (column in ``movie_index``).

    A pair that occurs more than once is still one True. Raises ``KeyError``
    for a user or movie that the indexes do not hold.
    """
    rows, columns = positions(ratings, user_index, movie_index)
    shape = (len(user_index), len(movie_index))
    return sparse.csr_matrix((np.ones(len(rows), dtype=bool), (rows, columns)), shape=shape)


def positions(ratings: pd.DataFrame, user_index: pd.Index, movie_index: pd.Index) -> tuple[np.ndarray, np.ndarray]:
    """Each rating's (row in ``user_index``, column in ``movie_index``); ``KeyError`` for one they do not hold."""
    rows = user_index.get_indexer(ratings["user_id"].to_numpy())
    columns = movie_index.get_indexer(ratings["movie_id"].to_numpy())
    for found, key in ((rows, "user_id"), (columns, "movie_id")):
        if (found < 0).any():
            raise KeyError(f"{key} {ratings[key].to_numpy()[found < 0][0]} is not in the index")
    return rows, columns


def last_cells(rows: np.ndarray, columns: np.ndarray, values: np.ndarray, shape: tuple[int, int]) -> sparse.csr_matrix:
    """A float32 CSR matrix holding each (row, column) pair once, with the value it is given last.

    For rated rows whose cells carry a weight per rating (``features.rating_values``):
    a movie rated twice is one rated movie, with its later rating.
    """
    rows, columns = np.asarray(rows, np.int64), np.asarray(columns, np.int64)
    _, last = np.unique((rows * shape[1] + columns)[::-1], return_index=True)
    keep = len(rows) - 1 - last
    matrix = sparse.csr_matrix((np.asarray(values, np.float32)[keep], (rows[keep], columns[keep])), shape=shape)
    matrix.sort_indices()
    return matrix
