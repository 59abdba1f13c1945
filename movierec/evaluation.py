"""Evaluating a model and the baselines on one held-out part of the split, under both protocols.

The part is ``test`` (the final numbers, read once) or ``validation`` (what
choices are made on). What counts as a user's history, excluded from their
full ranking and fitted on by the baselines, is every part before it: train
and validation for the test part, train alone for the validation part. In the
full-ranking protocol a user's context fields (rating year and month) are
those of the user's latest rated row in that history: the moment a
recommendation would have been asked for.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import numpy as np

from movierec import baselines, metrics
from movierec.features import labels, timestamp_year_month
from movierec.history import Histories
from movierec.interactions import rated_matrix
from movierec.prepared import Prepared, history_parts
from movierec.prior import EasePrior
from movierec.scoring import CandidateScorer, predict_rows, ranked_by, ranking_rule

USERS_PER_CHUNK = 64
# Every full ranking also reports its metrics over a fixed eighth of the people, those whose user id is a
# multiple of 8 (``sample_`` keys), so a check can re-rank just them against a recorded evaluation and still fail
# on a wrong model, weights or metric (tests/test_real_data.py) at an eighth of the cost.
SAMPLE_EVERY = 8
EASE_L2_GRID = (50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0, 5000.0)
# Graded EASE (``baselines.EASE`` with ``disliked_weight`` < 1) chooses its weight and l2 on validation from these
# (grown past an edge its best sits on: ``ease_on_validation``).
GRADED_DISLIKED_WEIGHTS = (0.25, 0.5, 0.75)
GRADED_L2_GRID = (200.0, 500.0, 1000.0, 2000.0)
# The ranking rules a two-output model chooses from on validation (``ranking_rule_on_validation``):
# P(rated) x P(like | rated) ** exponent, the prior's share of the logits times the gain. The model's
# own product, (1, 1), comes first, so it stays unless another rule ranks validation better. The exponents
# span their whole range (0: P(rated) alone; 1: the product as trained); the gains grow past an edge their
# best sits on, as EASE's grids do.
LIKE_EXPONENTS = (1.0, 0.75, 0.5, 0.25, 0.0)
PRIOR_GAINS = (1.0, 0.5, 1.5, 2.0, 3.0, 4.0, 6.0)
# How many values a grid grows past each of its edges at most (EASE's grids, the ranking rule's gains).
GRID_GROWTHS = 6


def full_ranking(
    prepared: Prepared,
    score_users: Callable[[np.ndarray], np.ndarray],
    part: str = "test",
    k: int = metrics.K,
    progress: bool = False,
    sample_only: bool = False,
) -> dict:
    """Full-ranking NDCG@k / Hit@k: ``score_users(user_positions)`` gives (users, catalogue movies) scores.

    The same metrics over the sample people (``SAMPLE_EVERY``) come as
    ``sample_ndcg@k``, ``sample_hit@k`` and ``sample_users``; with
    ``sample_only`` only they are ranked, and only those keys come back.
    """
    return full_rankings(prepared, lambda rows: {"": score_users(rows)}, ("",), part, k, progress, sample_only)[""]


# Scores of several methods for a chunk of people: user positions -> {name: (people, catalogue) scores}.
Scorings = Callable[[np.ndarray], dict[str, np.ndarray]]


def full_rankings(
    prepared: Prepared,
    score_users: Scorings,
    names,
    part: str = "test",
    k: int = metrics.K,
    progress: bool = False,
    sample_only: bool = False,
) -> dict[str, dict]:
    """``full_ranking`` of several scorings at once: ``score_users`` gives a dict of score matrices, one per name."""
    accumulators, _, in_sample = _accumulators(prepared, score_users, names, part, k, progress, sample_only)
    results = {}
    for name, accumulator in accumulators.items():
        sample = {f"sample_{key}": value for key, value in accumulator.result(in_sample).items()}
        results[name] = sample if sample_only else {**accumulator.result(), **sample}
    return results


def full_rankings_per_user(prepared: Prepared, score_users: Scorings, names, part: str = "test"):
    """The people ``full_rankings`` averages over (their user ids) and, per name, each one's NDCG@10 and Hit@10 in
    that order: the same people for every scoring, so they pair."""
    accumulators, evaluated, _ = _accumulators(prepared, score_users, names, part, metrics.K)
    people = prepared.user_index.to_numpy()[evaluated]
    return people, {name: accumulator.per_user() for name, accumulator in accumulators.items()}


def _accumulators(prepared, score_users, names, part, k, progress=False, sample_only=False):
    """Every person of ``part`` with a relevant movie ranked by each scoring: (accumulators by name, those people's
    positions in the order added, which of them are sample people)."""
    held_out = getattr(prepared.split, part)
    seen = rated_matrix(prepared.frame(*history_parts(part)), prepared.user_index, prepared.movie_index)
    relevant = rated_matrix(held_out[labels(held_out) > 0], prepared.user_index, prepared.movie_index)
    evaluated = np.flatnonzero(relevant.getnnz(axis=1) > 0)
    in_sample = prepared.user_index.to_numpy()[evaluated] % SAMPLE_EVERY == 0
    if sample_only:
        evaluated, in_sample = evaluated[in_sample], in_sample[in_sample]
    accumulators = {name: metrics.RankingAccumulator(k) for name in names}
    chunks = [evaluated[i : i + USERS_PER_CHUNK] for i in range(0, len(evaluated), USERS_PER_CHUNK)]
    if progress:
        from tqdm.auto import tqdm

        chunks = tqdm(chunks, desc="full ranking", unit="chunk", leave=False)
    for chunk in chunks:
        scores, chunk_seen, chunk_relevant = score_users(chunk), seen[chunk].toarray(), relevant[chunk].toarray()
        for name, accumulator in accumulators.items():
            accumulator.add(scores[name], chunk_seen, chunk_relevant)  # keeps every user: each has a relevant movie
    return accumulators, evaluated, in_sample


def latest_context(prepared: Prepared, part: str = "test") -> np.ndarray:
    """Context codes per user (rows aligned with the users frame) from the user's latest history row."""
    rated = prepared.frame(*history_parts(part))
    latest = rated.groupby("user_id")["timestamp"].max()
    fallback = int(rated["timestamp"].max())
    stamps = latest.reindex(prepared.data.users["user_id"]).fillna(fallback).to_numpy(dtype=np.int64)
    return prepared.encoder.encode_context(*timestamp_year_month(stamps))


def model_scorer(
    model, prepared: Prepared, part: str = "test", prior: EasePrior | None = None
) -> Callable[[np.ndarray], np.ndarray]:
    """``score_users(user positions) -> (users, catalogue)`` for the full ranking of ``part``.

    A model with an EASE prior reads ``prior`` (fitted here on the parts
    before ``part`` if not given).
    """
    scorer = CandidateScorer(model, prepared.encoder, prepared.data.movies)
    user_codes = prepared.encoder.encode_users(prepared.data.users)
    context_codes = latest_context(prepared, part)
    past = Histories.for_model(model, prepared, history_parts(part))
    if prior is None:
        prior = EasePrior.for_model(model, prepared, history_parts(part))

    def score(rows, terms: bool = False):
        history = None if past is None else past.codes[rows]
        priors = None if prior is None else prior.user_scores(rows, scorer.candidate_codes)
        method = scorer.score_terms if terms else scorer.score
        return method(user_codes[rows], context_codes[rows], history, priors)

    return score


def ranking_rules(model) -> list[tuple[float, float]]:
    """The (like exponent, prior gain) rules a model's choice starts from, only the knobs it has (the gains may
    grow past an edge: ``ranking_rule_on_validation``)."""
    exponents = LIKE_EXPONENTS if getattr(model, "num_outputs", 1) == 2 else (1.0,)
    gains = PRIOR_GAINS if getattr(model, "prior_logit", None) is not None else (1.0,)
    return [(exponent, gain) for exponent in exponents for gain in gains]


def rule_name(rule: tuple[float, float]) -> str:
    """A rule's name in manifests and results ("like^E prior xG"), which ``parse_rule_name`` reads back."""
    return f"like^{rule[0]:g} prior x{rule[1]:g}"


def parse_rule_name(name: str) -> tuple[float, float]:
    """The (like exponent, prior gain) of a rule named by ``rule_name``; ValueError for any other text."""
    match = re.fullmatch(r"like\^(\S+) prior x(\S+)", name)
    try:
        return float(match.group(1)), float(match.group(2))
    except (AttributeError, ValueError):  # no match, or a part that is no number
        raise ValueError(f"{name!r} is not a ranking rule's name (like^E prior xG)") from None


def ranking_rule_on_validation(
    model, prepared: Prepared, progress: bool = False
) -> tuple[tuple[float, float], dict, dict]:
    """The ranking rule with the best validation full-ranking NDCG@10, every rule's NDCG@10 and Hit@10, and the
    chosen rule's full ranking (``full_ranking``'s keys and its seconds), which ``evaluate_model`` can take.

    The model must have been fitted on the training part alone. Each person's
    logits are computed once for every rule of ``ranking_rules`` and ranked
    under all of them; ties go to the rule listed first, the model's own.
    Each gain added below costs one more such pass.

    The prior's gain grows where the best rule's sits on an edge of two or
    more gains, as EASE's grids do (``ease_on_validation``): a best at the
    largest gain adds the next value of the 1-2-5 series above it (10, 20,
    50, ...) for every exponent, a best at the smallest the next below it
    (0.2, 0.1, ...), each a pass over validation of its own, until the best
    is inside the grid or ``GRID_GROWTHS`` values were added past that edge
    (a gain of 0, the network alone, is an edge of its own). Both limits are
    smooth: a large gain ranks like the prior alone, a small one like the
    network without it. The grid's numbers then include every gain tried, in
    the order tried.
    """
    started = time.perf_counter()
    rules = ranking_rules(model)
    exponents = list(dict.fromkeys(exponent for exponent, _ in rules))
    gains = list(dict.fromkeys(gain for _, gain in rules))
    score_terms = model_scorer(model, prepared, "validation")
    ranked: dict[tuple[float, float], dict] = {}

    def rank(new_rules: list[tuple[float, float]]) -> None:
        names = [rule_name(rule) for rule in new_rules]

        def score(rows):
            logit, prior_logit = score_terms(rows, terms=True)
            users, movies, outputs = logit.shape
            logit, prior_logit = logit.reshape(-1, outputs), prior_logit.reshape(-1, outputs)
            return {name: ranked_by(logit, prior_logit, *rule).reshape(users, movies)
                    for name, rule in zip(names, new_rules, strict=True)}  # fmt: skip

        results = full_rankings(prepared, score, names, "validation", progress=progress)
        ranked.update((rule, results[name]) for rule, name in zip(new_rules, names, strict=True))

    def best() -> tuple[float, float]:  # max keeps the first of equals: the rule tried first
        return max(ranked, key=lambda rule: ranked[rule]["ndcg@10"])

    rank(rules)
    grown = {"up": 0, "down": 0}
    while len(gains) > 1 and (gain := best()[1]) in (max(gains), min(gains)):
        edge = "up" if gain == max(gains) else "down"
        if grown[edge] == GRID_GROWTHS or gain == 0.0:
            break
        grown[edge] += 1
        gains.append(_series_beyond(gain, up=edge == "up"))
        rank([(exponent, gains[-1]) for exponent in exponents])
    chosen = best()
    grid = {rule_name(rule): {"full_ndcg@10": result["ndcg@10"], "full_hit@10": result["hit@10"]}
            for rule, result in ranked.items()}  # fmt: skip
    seconds = time.perf_counter() - started
    return chosen, grid, {**ranked[chosen], "part": "validation", "rule": chosen, "seconds": seconds}


def _own_rows(frame, scores: np.ndarray, liked: np.ndarray) -> dict:
    return metrics.seed_protocol(frame["user_id"].to_numpy(), frame["movie_id"].to_numpy(), scores, liked)


def evaluate_model(
    model,
    prepared: Prepared,
    full: bool = True,
    progress: bool = False,
    part: str = "test",
    ranked: dict | None = None,
    sample_only: bool = False,
) -> dict:
    """AUC and log loss, seed protocol and (optionally) full ranking for one model on ``part``.

    The full ranking's keys are ``full_ndcg@10``, ``full_hit@10`` and
    ``full_users``, and the same over the sample people as
    ``full_sample_...`` (``SAMPLE_EVERY``); ``sample_only`` ranks the sample
    people alone and gives only their keys.

    ``ranked`` is the model's full ranking of ``part`` under its current rule
    if it was already measured (``ranking_rule_on_validation`` gives the
    chosen rule's, with its ``part`` and ``rule``, which must match): it is
    taken as it is instead of ranking the part again, and the rule grid's
    time is recorded as ``rule_grid_seconds`` (``full_seconds`` is one
    ranking's time, when it is made here; ``seconds`` this call's).
    """
    parts_before = history_parts(part)  # raises for a part that cannot be evaluated
    if sample_only and (ranked is not None or not full):
        raise ValueError("sample_only ranks the sample people here: give it with full=True and no ranking")
    given = None if ranked is None else (ranked.get("part"), tuple(ranked.get("rule", ())))
    if full and given is not None and given != (part, ranking_rule(model)):
        raise ValueError(f"the ranking given was measured on {ranked.get('part')!r} under the rule "
                         f"{ranked.get('rule')}, not on {part!r} under the model's {ranking_rule(model)}")  # fmt: skip
    started = time.perf_counter()
    encoded, frame = prepared.part(part), getattr(prepared.split, part)
    user_rows = prepared.user_index.get_indexer(frame["user_id"])
    past = Histories.for_model(model, prepared, parts_before)
    if past is not None:  # the held-out rows' movies are not in it, but a row never sees its own movie anyway
        past = past.for_rows(user_rows, encoded.codes[:, prepared.fields.index("movie_id")])
    fitted = EasePrior.for_model(model, prepared, parts_before)
    prior = None
    if fitted is not None:
        prior = fitted.pair_scores(user_rows, encoded.codes[:, prepared.fields.index("movie_id")])
    probabilities = predict_rows(model, encoded.codes, history=past, prior=prior)
    own_rows = _own_rows(frame, probabilities, encoded.labels)
    result = {
        "auc": metrics.auc(encoded.labels, probabilities),
        "logloss": metrics.logloss(encoded.labels, probabilities),
        "seed_ndcg@10": own_rows["ndcg@10"],
        "seed_hr@10": own_rows["hr@10"],
        "seed_users": own_rows["users"],
    }
    if full:
        if ranked is None:
            ranking_started = time.perf_counter()
            scorer = model_scorer(model, prepared, part, fitted)
            ranked = full_ranking(prepared, scorer, part, progress=progress, sample_only=sample_only)
            timing = {"full_seconds": round(time.perf_counter() - ranking_started, 1)}
        else:
            missing = [key for key in RANKING_KEYS if key not in ranked]
            if missing:
                raise ValueError(f"the ranking given lacks {missing}: give everyone's full ranking, or none")
            timing = {"rule_grid_seconds": round(ranked["seconds"], 1)}
        result.update({f"full_{key}": ranked[key] for key in RANKING_KEYS if key in ranked})
        result.update(timing)
    result["seconds"] = round(time.perf_counter() - started, 1)
    return result


# A saved model evaluated again must give these numbers of its manifest within this much (tests/test_real_data.py,
# ``movierec.evaluate --record-sample``). On another CPU the same code and weights gave AutoInt's seed NDCG@10
# 1.0e-6 off (its float kernels round differently, which flips a near-tie); a wrong model or metric moves them by far
# more.
REPRODUCED_WITHIN = 1e-5
REPRODUCED_KEYS = ("auc", "logloss", "seed_ndcg@10", "seed_hr@10", "full_ndcg@10", "full_hit@10")
# What a full ranking gives (``full_ranking``), as ``evaluate_model`` records it with a ``full_`` prefix.
RANKING_KEYS = ("ndcg@10", "hit@10", "users", "sample_ndcg@10", "sample_hit@10", "sample_users")


def ease_l2_on_validation(prepared: Prepared, grid=EASE_L2_GRID) -> tuple[float, dict[float, float]]:
    """EASE's l2 with the best validation full-ranking NDCG@10 (fitted on the training part), and every score.

    Ties go to the smaller l2. The grid grows past an edge its best sits on (``ease_on_validation``).
    """
    (l2, _), scores = ease_on_validation(prepared, grid)
    return l2, {l2: score for (l2, _), score in scores.items()}


def ease_on_validation(
    prepared: Prepared, grid=EASE_L2_GRID, disliked_weights=(1.0,)
) -> tuple[tuple[float, float], dict[tuple[float, float], float]]:
    """EASE's (l2, disliked weight) with the best validation full-ranking NDCG@10, fitted on the training part,
    and every pair's score. Ties go to the smaller l2, then to the pair scored first (for the grid as given:
    the weight listed first).

    The grid grows where its best sits on an edge: a best at the largest (or
    smallest) of two or more l2s adds the next l2 of the 1-2-5 series beyond it
    for every weight, and a best at the smallest (largest) of two or more
    weights adds the weight halfway to 0 (to 1) for every l2, until the best is
    inside the grid or ``GRID_GROWTHS`` values were added past that edge (a
    weight of 1, plain EASE, is an edge of its own). Both limits are smooth:
    a large l2 ranks like co-occurrence counts and a weight near 0 like liked
    movies alone, so six steps (l2 x 100, a weight of 1/64 of the smallest)
    come close to either. The scores of every pair tried come back; an axis
    given one value stays fixed.

    A grid is ranked once per ``prepared`` (kept in ``prepared.memo``): the
    baselines of both parts and the stacked model's prior all ask for it.
    """
    key = ("ease_on_validation", tuple(map(float, grid)), tuple(map(float, disliked_weights)))
    if key not in prepared.memo:
        prepared.memo[key] = _grown_ease_grid(prepared, list(map(float, grid)), list(map(float, disliked_weights)))
    best, scores = prepared.memo[key]
    return best, dict(scores)  # a copy: a caller's edits never reach the memo


def _grown_ease_grid(prepared: Prepared, l2s: list[float], weights: list[float]):
    users, catalogue = prepared.data.users["user_id"].to_numpy(), prepared.data.movies["movie_id"].to_numpy()
    scores: dict[tuple[float, float], float] = {}

    def score(pairs: list[tuple[float, float]]) -> None:
        by_weight: dict[float, list[float]] = {}
        for l2, weight in pairs:
            by_weight.setdefault(weight, []).append(l2)
        for weight, weight_l2s in by_weight.items():
            model = None  # one X'X per weight, refitted per l2 (EASE.with_l2), and one weight's at a time in memory
            for l2 in weight_l2s:
                model = (baselines.EASE(prepared.split.train, users, catalogue, l2, weight, keep_gram=True)
                         if model is None else model.with_l2(l2))  # fmt: skip
                scores[(l2, weight)] = full_ranking(prepared, model.score_rows, "validation")["ndcg@10"]

    def best() -> tuple[float, float]:
        order = list(scores)
        return max(order, key=lambda pair: (scores[pair], -pair[0], -order.index(pair)))

    score([(l2, weight) for weight in weights for l2 in l2s])
    grown = {"l2 up": 0, "l2 down": 0, "weight up": 0, "weight down": 0}
    while True:
        l2, weight = best()
        new_l2 = new_weight = None
        if len(l2s) > 1 and l2 in (max(l2s), min(l2s)):
            edge = "l2 up" if l2 == max(l2s) else "l2 down"
            if grown[edge] < GRID_GROWTHS:
                grown[edge] += 1
                new_l2 = _series_beyond(l2, up=edge == "l2 up")
        if len(weights) > 1 and weight in (max(weights), min(weights)) and weight < 1.0:
            edge = "weight up" if weight == max(weights) else "weight down"
            if grown[edge] < GRID_GROWTHS:
                grown[edge] += 1
                new_weight = (weight + 1.0) / 2 if edge == "weight up" else weight / 2
        if new_l2 is None and new_weight is None:
            return (l2, weight), scores
        if new_l2 is not None:
            l2s.append(new_l2)
            score([(new_l2, each) for each in weights])
        if new_weight is not None:
            weights.append(new_weight)
            score([(each, new_weight) for each in l2s])


def _series_beyond(value: float, up: bool) -> float:
    """The next value of the 1-2-5 series (..., 100, 200, 500, 1000, ...) above (below) ``value``."""
    decade = 10.0 ** np.floor(np.log10(value))
    steps = [decade * m for m in (0.5, 1.0, 2.0, 5.0, 10.0, 20.0)]
    if up:
        return float(min(step for step in steps if step > value * (1 + 1e-9)))
    return float(max(step for step in steps if step < value * (1 - 1e-9)))


def prior_on_validation(prepared: Prepared) -> tuple[float, float]:
    """The EASE a stacked model reads, as (``ease_l2``, ``ease_disliked_weight``): plain EASE at its validation l2
    or graded EASE at its validation l2 and weight, whichever ranks validation better (ties: plain)."""
    plain, plain_scores = ease_on_validation(prepared)
    graded, graded_scores = ease_on_validation(prepared, GRADED_L2_GRID, GRADED_DISLIKED_WEIGHTS)
    return graded if graded_scores[graded] > plain_scores[plain] else plain


def evaluate_baselines(prepared: Prepared, full: bool = True, part: str = "test") -> dict:
    """The same metrics for the popularity, movie-mean, item-kNN, EASE and graded EASE baselines (no log loss: no
    probabilities).

    EASE's l2 is chosen on validation (``ease_l2_on_validation``), graded
    EASE's l2 and disliked weight too (``ease_on_validation`` over
    ``GRADED_L2_GRID`` and ``GRADED_DISLIKED_WEIGHTS``), and the chosen values
    are reported with their numbers.
    """
    held_out = getattr(prepared.split, part)
    liked = labels(held_out)
    rated = prepared.frame(*history_parts(part))
    users, catalogue = prepared.data.users["user_id"].to_numpy(), prepared.data.movies["movie_id"].to_numpy()
    scorers = {}
    for name, fitted in baselines.fit(rated).items():
        catalogue_scores = baselines.score(fitted, catalogue)
        scorers[name] = (
            baselines.score(fitted, held_out["movie_id"].to_numpy()),
            lambda rows, s=catalogue_scores: np.broadcast_to(s, (len(rows), len(s))),
        )
    l2, plain_grid = ease_l2_on_validation(prepared)
    (graded_l2, weight), graded_grid = ease_on_validation(prepared, GRADED_L2_GRID, GRADED_DISLIKED_WEIGHTS)
    for name, model in (("item_knn", baselines.ItemKNN(rated, users, catalogue)),
                        ("ease", baselines.EASE(rated, users, catalogue, l2)),
                        ("ease_graded", baselines.EASE(rated, users, catalogue, graded_l2, weight))):  # fmt: skip
        pair_scores = model.score_pairs(held_out["user_id"].to_numpy(), held_out["movie_id"].to_numpy())
        scorers[name] = (pair_scores, model.score_rows)
    results = {}
    for name, (held_out_scores, score_users) in scorers.items():
        own_rows = _own_rows(held_out, held_out_scores, liked)
        entry = {"auc": metrics.auc(liked, held_out_scores), "seed_ndcg@10": own_rows["ndcg@10"],
                 "seed_hr@10": own_rows["hr@10"]}  # fmt: skip
        if full:
            ranked = full_ranking(prepared, score_users, part)
            entry.update({"full_ndcg@10": ranked["ndcg@10"], "full_hit@10": ranked["hit@10"]})
        results[name] = entry
    results["ease"].update({"l2": l2, "validation_ndcg@10": {
        f"l2 {each:.10g}": score for each, score in plain_grid.items()}})  # fmt: skip
    results["ease_graded"].update({"l2": graded_l2, "disliked_weight": weight, "validation_ndcg@10": {
        f"l2 {pair[0]:.10g}, disliked {pair[1]:.10g}": score for pair, score in graded_grid.items()}})  # fmt: skip
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
