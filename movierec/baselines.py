"""Non-learned reference scorers, fitted on the training rows only.

* ``popularity``: how many training ratings a movie has.
* ``movie_mean``: a movie's mean training rating (the global mean for movies
  with no training rating).

Both score a movie the same for every user, which is exactly what makes them
useful: a personalised model has to beat them to be worth serving.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


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
