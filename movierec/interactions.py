"""Who rated what, as a sparse users x movies matrix.

Negative sampling (which movies a user never rated), the full-ranking
evaluation (which movies to leave out of a user's ranking, which are
relevant) and the item-kNN baseline all need the same thing: a 0/1 matrix
with a row per user and a column per catalogue movie. It is built here, once
per use, as a boolean compressed sparse row matrix, whose size grows with
the number of ratings rather than with users x movies.
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
    rows = user_index.get_indexer(ratings["user_id"].to_numpy())
    columns = movie_index.get_indexer(ratings["movie_id"].to_numpy())
    for positions, key in ((rows, "user_id"), (columns, "movie_id")):
        if (positions < 0).any():
            raise KeyError(f"{key} {ratings[key].to_numpy()[positions < 0][0]} is not in the index")
    shape = (len(user_index), len(movie_index))
    return sparse.csr_matrix((np.ones(len(rows), dtype=bool), (rows, columns)), shape=shape)
