"""Scoring every candidate movie for users, in large compiled batches.

A user's five fields and the three context fields are constant across the
candidates, so codes for ``users x movies`` are assembled by broadcasting the
pre-encoded movie table, and the model is called once per chunk of rows with
``predict_on_batch`` (the compiled inference step), never ``predict`` in a
loop.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from movierec.features import FeatureEncoder
from movierec.training import predict


class CandidateScorer:
    """Scores all movies of a catalogue for any number of (user, date) rows."""

    def __init__(self, model, encoder: FeatureEncoder, movies: pd.DataFrame, rows_per_call: int = 65536):
        self.model = model
        self.encoder = encoder
        self.movie_ids = movies["movie_id"].to_numpy()
        self.movie_codes = encoder.encode_movies(movies)
        self.rows_per_call = rows_per_call

    @property
    def n_movies(self) -> int:
        return len(self.movie_ids)

    def codes(self, user_codes: np.ndarray, context_codes: np.ndarray) -> np.ndarray:
        """Codes (users * movies, fields), user-major, for user and context code rows."""
        users = len(user_codes)
        movies = self.n_movies
        return self.encoder.assemble(
            np.repeat(user_codes, movies, axis=0),
            np.tile(self.movie_codes, (users, 1)),
            np.repeat(context_codes, movies, axis=0),
        )

    def score(self, user_codes: np.ndarray, context_codes: np.ndarray) -> np.ndarray:
        """Ranking scores (users, movies): what the model ranks recommendations by."""
        scores = predict(self.model, self.codes(user_codes, context_codes), self.rows_per_call, ranking=True)
        return scores.reshape(len(user_codes), self.n_movies)
