"""The one ordering of the project: best score first, ties to the lower position.

Positions are catalogue positions, and the catalogue is in movie-id order, so
a tie goes to the lower movie id; the app, the evaluation and the baselines
all rank through ``top_k`` and so agree on every tie.
"""

from __future__ import annotations

import numpy as np


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Column positions of the ``k`` best scores of each row, best first; ties keep column order.

    ``scores`` is (rows, columns) or (columns,); the result has the same
    number of dimensions and ``min(k, columns)`` positions per row. Entries
    scored ``-inf`` (excluded ones) or NaN come last, so a caller that excludes
    positions that way should cut the result to the number it kept.

    A partial sort finds each row's k-th best score; everything at least as
    good (ties at the cut included, so the cut is deterministic) is then
    sorted by (score, position). That costs about a tenth of sorting all of a
    3,883-movie catalogue.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    scores = np.asarray(scores, dtype=np.float64)
    scores = np.where(np.isnan(scores), -np.inf, scores)  # a NaN ranks last, like an excluded position
    flat = scores.ndim == 1
    rows = scores[None, :] if flat else scores
    n_rows, n_columns = rows.shape
    k = min(k, n_columns)
    if n_columns == 0 or n_rows == 0:
        return np.zeros((0,) if flat else (n_rows, 0), dtype=np.intp)
    kth = np.partition(rows, n_columns - k, axis=1)[:, n_columns - k]
    row, column = np.nonzero(rows >= kth[:, None])  # row-major: columns ascend within a row
    order = np.lexsort((column, -rows[row, column], row))
    row, column = row[order], column[order]
    starts = np.searchsorted(row, np.arange(n_rows))
    rank = np.arange(len(row)) - starts[row]
    keep = rank < k
    out = np.empty((n_rows, k), dtype=np.intp)
    out[row[keep], rank[keep]] = column[keep]
    return out[0] if flat else out
