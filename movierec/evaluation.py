"""Evaluating a model and the baselines on the test split, under both protocols.

``rated`` below means the user's rows in the training part of the split
(train + validation, the 80%). Baselines are fitted on those rows too. In the
full-ranking protocol a user's context fields (rating year and month) are
those of the user's latest rated row: the moment a recommendation would have
been asked for.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from movierec import baselines, metrics
from movierec.features import labels, timestamp_year_month
from movierec.interactions import rated_matrix
from movierec.prepared import Prepared
from movierec.scoring import CandidateScorer, predict_rows

USERS_PER_CHUNK = 64


RATED_PARTS = ("train", "validation")


def full_ranking(
    prepared: Prepared, score_users: Callable[[np.ndarray], np.ndarray], k: int = metrics.K, progress: bool = False
) -> dict:
    """Full-ranking NDCG@k / Hit@k: ``score_users(user_positions)`` gives (users, catalogue movies) scores."""
    test = prepared.split.test
    seen = rated_matrix(prepared.frame(*RATED_PARTS), prepared.user_index, prepared.movie_index)
    relevant = rated_matrix(test[labels(test) > 0], prepared.user_index, prepared.movie_index)
    evaluated = np.flatnonzero(relevant.getnnz(axis=1) > 0)
    accumulator = metrics.RankingAccumulator(k)
    chunks = [evaluated[i : i + USERS_PER_CHUNK] for i in range(0, len(evaluated), USERS_PER_CHUNK)]
    if progress:
        from tqdm.auto import tqdm

        chunks = tqdm(chunks, desc="full ranking", unit="chunk", leave=False)
    for chunk in chunks:
        accumulator.add(score_users(chunk), seen[chunk].toarray(), relevant[chunk].toarray())
    return accumulator.result()


def latest_context(prepared: Prepared) -> np.ndarray:
    """Context codes per user (rows aligned with the users frame) from the user's latest rated row."""
    rated = prepared.frame(*RATED_PARTS)
    latest = rated.groupby("user_id")["timestamp"].max()
    fallback = int(rated["timestamp"].max())
    stamps = latest.reindex(prepared.data.users["user_id"]).fillna(fallback).to_numpy(dtype=np.int64)
    return prepared.encoder.encode_context(*timestamp_year_month(stamps))


def model_scorer(model, prepared: Prepared) -> Callable[[np.ndarray], np.ndarray]:
    scorer = CandidateScorer(model, prepared.encoder, prepared.data.movies)
    user_codes = prepared.encoder.encode_users(prepared.data.users)
    context_codes = latest_context(prepared)
    return lambda rows: scorer.score(user_codes[rows], context_codes[rows])


def evaluate_model(model, prepared: Prepared, full: bool = True, progress: bool = False) -> dict:
    """Test AUC and log loss, seed protocol and (optionally) full ranking for one model."""
    started = time.perf_counter()
    part, test = prepared.part("test"), prepared.split.test
    probabilities = predict_rows(model, part.codes)
    own_rows = metrics.seed_protocol(
        test["user_id"].to_numpy(), test["movie_id"].to_numpy(), probabilities, part.labels
    )
    result = {
        "auc": metrics.auc(part.labels, probabilities),
        "logloss": metrics.logloss(part.labels, probabilities),
        "seed_ndcg@10": own_rows["ndcg@10"],
        "seed_hr@10": own_rows["hr@10"],
        "seed_users": own_rows["users"],
    }
    if full:
        ranking_started = time.perf_counter()
        ranked = full_ranking(prepared, model_scorer(model, prepared), progress=progress)
        result.update(
            {
                "full_ndcg@10": ranked["ndcg@10"],
                "full_hit@10": ranked["hit@10"],
                "full_users": ranked["users"],
                "full_seconds": round(time.perf_counter() - ranking_started, 1),
            }
        )
    result["seconds"] = round(time.perf_counter() - started, 1)
    return result


def evaluate_baselines(prepared: Prepared, full: bool = True) -> dict:
    """The same metrics for the popularity, movie-mean and item-kNN baselines (no probabilities, so no log loss)."""
    test = prepared.split.test
    y = labels(test)
    rated = prepared.frame(*RATED_PARTS)
    catalogue = prepared.data.movies["movie_id"].to_numpy()
    scorers = {}
    for name, fitted in baselines.fit(rated).items():
        catalogue_scores = baselines.score(fitted, catalogue)
        scorers[name] = (
            baselines.score(fitted, test["movie_id"].to_numpy()),
            lambda rows, s=catalogue_scores: np.broadcast_to(s, (len(rows), len(s))),
        )
    knn = baselines.ItemKNN(rated, prepared.data.users["user_id"].to_numpy(), catalogue)
    scorers["item_knn"] = (knn.score_pairs(test["user_id"].to_numpy(), test["movie_id"].to_numpy()), knn.score_rows)
    results = {}
    for name, (test_scores, score_users) in scorers.items():
        own_rows = metrics.seed_protocol(test["user_id"].to_numpy(), test["movie_id"].to_numpy(), test_scores, y)
        entry = {"auc": metrics.auc(y, test_scores), "seed_ndcg@10": own_rows["ndcg@10"],
                 "seed_hr@10": own_rows["hr@10"]}  # fmt: skip
        if full:
            ranked = full_ranking(prepared, score_users)
            entry.update({"full_ndcg@10": ranked["ndcg@10"], "full_hit@10": ranked["hit@10"]})
        results[name] = entry
    return results


METRIC_COLUMNS = ("auc", "logloss", "seed_ndcg@10", "seed_hr@10", "full_ndcg@10", "full_hit@10")


def table(rows: dict[str, dict]) -> str:
    """A plain-text table of metric rows, for terminals and logs."""
    header = f"{'':<14}" + "".join(f"{c:>14}" for c in METRIC_COLUMNS)
    lines = [header, "-" * len(header)]
    for name, values in rows.items():
        cells = "".join(f"{values[c]:>14.4f}" if c in values else f"{'—':>14}" for c in METRIC_COLUMNS)
        lines.append(f"{name:<14}{cells}")
    return "\n".join(lines)
