"""Classification and ranking metrics, vectorised over users.

Two ranking protocols are used in this project:

* **seed protocol** (the course project's, kept to compare with its 0.654 /
  0.625): each test user's *own test rows* are ranked by score and the top 10
  taken. Relevant items are that user's test rows with label 1.
  ``HR = |top10 ∩ relevant| / |relevant|`` and ``NDCG = DCG@10 / IDCG`` where
  IDCG sums ``1/log2(i+2)`` over *all* relevant items (not capped at 10), so a
  user with more than 10 liked test items can never reach 1.
* **full ranking** (what the app does): every movie the user has not rated in
  training is a candidate. Standard NDCG@10 with IDCG capped at 10, and
  Hit@10 = at least one relevant item in the top 10.

Both average over users with at least one relevant item (NaN when there is
none). Ties go to the item given first (``movierec.ranking.top_k``'s rule), so
results are deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.metrics import log_loss, roc_auc_score

from movierec.ranking import top_k

K = 10


def auc(labels: np.ndarray, scores: np.ndarray) -> float:
    return float(roc_auc_score(labels, scores))


def logloss(labels: np.ndarray, probabilities: np.ndarray) -> float:
    p = np.clip(np.asarray(probabilities, dtype=np.float64), 1e-7, 1 - 1e-7)
    return float(log_loss(labels, p, labels=[0, 1]))


def _discounts(k: int) -> np.ndarray:
    return 1.0 / np.log2(np.arange(k) + 2.0)


def seed_protocol(users: np.ndarray, items: np.ndarray, scores: np.ndarray, labels: np.ndarray, k: int = K) -> dict:
    """NDCG@k and HR@k of ranking each user's own test rows (see module doc)."""
    users, items = np.asarray(users), np.asarray(items)
    scores, labels = np.asarray(scores, dtype=np.float64), np.asarray(labels) > 0
    if not len(users) == len(items) == len(scores) == len(labels):
        raise ValueError("users, items, scores and labels must have the same length")
    if len(users) == 0:
        return {f"ndcg@{k}": float("nan"), f"hr@{k}": float("nan"), "users": 0}
    # Sort by user, then score descending, then item id: deterministic ties.
    order = np.lexsort((items, -scores, users))
    users, labels = users[order], labels[order]
    starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]])
    sizes = np.diff(np.r_[starts, len(users)])
    rank = np.arange(len(users)) - np.repeat(starts, sizes)
    in_top = rank < k
    gain = np.where(labels & in_top, 1.0 / np.log2(rank + 2.0), 0.0)
    dcg = np.add.reduceat(gain, starts)
    hits = np.add.reduceat((labels & in_top).astype(np.float64), starts)
    relevant = np.add.reduceat(labels.astype(np.int64), starts)
    # IDCG over all relevant items, uncapped: cumulative discount sums.
    cumulative = np.r_[0.0, np.cumsum(1.0 / np.log2(np.arange(max(int(relevant.max(initial=0)), 1)) + 2.0))]
    idcg = cumulative[relevant]
    keep = relevant > 0
    return {
        f"ndcg@{k}": float(np.mean(dcg[keep] / idcg[keep])) if keep.any() else float("nan"),
        f"hr@{k}": float(np.mean(hits[keep] / relevant[keep])) if keep.any() else float("nan"),
        "users": int(keep.sum()),
    }


@dataclass
class RankingAccumulator:
    """Collects per-user full-ranking NDCG@k and Hit@k chunk by chunk."""

    k: int = K

    def __post_init__(self) -> None:
        self.ndcg: list[np.ndarray] = []
        self.hit: list[np.ndarray] = []

    def add(self, scores: np.ndarray, seen: np.ndarray, relevant: np.ndarray) -> None:
        """Add a chunk of users.

        ``scores`` (users, items); ``seen`` marks items excluded from ranking
        (the training rows); ``relevant`` marks each user's relevant items.
        Users with no relevant item are skipped.
        """
        keep = relevant.any(axis=1)
        if not keep.any():
            return
        scores, seen, relevant = scores[keep], seen[keep], relevant[keep]
        masked = np.where(seen, -np.inf, scores.astype(np.float64))
        top = top_k(masked, self.k)
        hits = np.take_along_axis(relevant & ~seen, top, axis=1)
        discounts = _discounts(self.k)
        dcg = (hits * discounts).sum(axis=1)
        ideal = np.minimum((relevant & ~seen).sum(axis=1), self.k)
        idcg = np.cumsum(discounts)[np.maximum(ideal, 1) - 1]
        self.ndcg.append(np.where(ideal > 0, dcg / idcg, 0.0))
        self.hit.append(hits.any(axis=1).astype(np.float64))

    def per_user(self) -> tuple[np.ndarray, np.ndarray]:
        """Each user's NDCG@k and Hit@k (0 or 1), in the order added: what a bootstrap over people resamples."""
        ndcg = np.concatenate(self.ndcg) if self.ndcg else np.array([])
        hit = np.concatenate(self.hit) if self.hit else np.array([])
        return ndcg, hit

    def result(self, among: np.ndarray | None = None) -> dict:
        """Mean NDCG@k and Hit@k over the users added, or over those ``among`` marks (one flag per user added, in
        order: a user skipped for having no relevant item has no flag)."""
        ndcg, hit = self.per_user()
        if among is not None:
            among = np.asarray(among, dtype=bool)
            if among.shape != ndcg.shape:
                raise ValueError(f"{len(among)} flags for {len(ndcg)} users")
            ndcg, hit = ndcg[among], hit[among]
        return {
            f"ndcg@{self.k}": float(ndcg.mean()) if len(ndcg) else float("nan"),
            f"hit@{self.k}": float(hit.mean()) if len(hit) else float("nan"),
            "users": len(ndcg),
        }


def bootstrap_interval(
    values: np.ndarray,
    baseline: np.ndarray | None = None,
    resamples: int = 2000,
    level: float = 0.95,
    seed: int = 0,
    relative: bool = False,
) -> tuple[float, float, float]:
    """A mean over people and how far another draw of people could move it: (mean, low, high).

    People are drawn with replacement ``resamples`` times (seeded) and the
    interval is the percentile one at ``level``. With ``baseline`` (the same
    people's values under another method, in the same order) it is the paired
    difference ``values - baseline``: each draw keeps a person's two values
    together, which is what makes a small lead between two rankings of the
    same people measurable. ``relative`` makes it the lead as a share of the
    baseline's mean instead, ``mean(values) / mean(baseline) - 1``, each draw's
    own (what a bar of "5% better" is stated in).
    """
    values = np.asarray(values, dtype=np.float64)
    if relative and baseline is None:
        raise ValueError("a relative lead needs the baseline's values")
    if baseline is not None:
        baseline = np.asarray(baseline, dtype=np.float64)
        if baseline.shape != values.shape:
            raise ValueError(f"paired values differ in shape: {values.shape} and {baseline.shape}")
    else:
        baseline = np.zeros_like(values)
    if values.ndim != 1 or len(values) == 0:
        raise ValueError(f"need one value per person, got shape {values.shape}")
    if relative and baseline.mean() == 0:
        raise ValueError("a relative lead over a baseline whose mean is 0 is undefined")
    if not 0 < level < 1 or resamples < 1:
        raise ValueError(f"level must lie in (0, 1) and resamples be positive, got {level} and {resamples}")

    def statistic(ours: np.ndarray, theirs: np.ndarray) -> np.ndarray:  # over the last axis: people
        return ours.mean(axis=-1) / theirs.mean(axis=-1) - 1 if relative else (ours - theirs).mean(axis=-1)

    rng = np.random.default_rng(seed)
    draws = np.empty(resamples)
    for start in range(0, resamples, 256):  # draws in blocks: (256, people) indices at a time, not all at once
        picked = rng.integers(0, len(values), size=(min(256, resamples - start), len(values)))
        draws[start : start + len(picked)] = statistic(values[picked], baseline[picked])
    low, high = np.quantile(draws, [(1 - level) / 2, (1 + level) / 2])
    return float(statistic(values, baseline)), float(low), float(high)
