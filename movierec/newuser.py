"""The new-user protocol: people the model never saw, personalised from the first few ratings they give.

An onboarding page asks a newcomer to rate a handful of movies and then
ranks the rest. This protocol measures exactly that, on people whose every
rating was kept away from fitting:

* **Who is new**: a seeded 10% of users (``numpy.random.default_rng(42)``
  permutes the sorted user ids; the first tenth; ``split.new_user_split``),
  and the next tenth as *validation people*, new people too, on whom the
  choices about newcomers are made. None of their ratings reach the
  training part, the validation part or the vocabularies, so their
  ``user_id`` encodes as the unknown user. Everyone else's ratings are split
  at random into train and validation (90/10, ``random_state`` 42); models
  are fitted on train with early stopping and every choice (EASE's l2
  included) is made on validation.
* **What is inherited**: the shipped model's hyperparameters and its
  ranking rule (``ranking_like_exponent``, ``ranking_prior_gain``), the
  configuration under test, as every protocol that trains takes it. Both
  were chosen on the project's random split, whose validation part holds
  ratings of this protocol's test people: a weak, stated leak (a handful of
  scalars chosen from small grids), the price of measuring the newcomer
  rescaling under the rule it is served with.
* **Choice for newcomers**: a stacked model's ``prior_profile_power``
  (``movierec.prior``: how a prior summed over a few ratings is rescaled) is
  chosen from ``PROFILE_POWERS`` by the validation people's NDCG@10,
  averaged over K, under the inherited rule; the test people are then
  ranked once with it. Then which network serves newcomers
  (``choose_network``: the stacked model at that power, the network
  without the prior, or the ``newcomer`` network; the one without a history
  ignores their ratings) is chosen the same way, on the same validation
  people. The ``newcomer`` network is the one without the prior, trained
  with ``NEWCOMER_SHARE`` of its rated rows as a newcomer is served: the
  unknown user and only 1-20 of the person's movies, by default the oldest
  of the capped history (``TrainSettings.newcomer_history``, whose rules
  following the onboarding page's first ratings lost on the validation
  people). A
  network fitted on full profiles alone meets a 5-movie history and an
  unknown user together for the first time when serving. The stacked model's
  mean there is the best of its power grid, a selection that favours it
  slightly: any switch away from it is made against that bias.
* **What they reveal**: each new person's first K ratings by timestamp
  (ties by movie id), K in ``REVEAL`` (5, 10, 20): what an onboarding page
  collects. The model reads them as the person's history (and, if it
  stacks EASE, as the rated set its prior folds in), at the time of the
  K-th one, with the person's demographics.
* **What is measured**: every catalogue movie but the revealed ones is
  ranked; relevant = the person's remaining ratings >= 4; NDCG@10 (IDCG
  capped at 10) and Hit@10 over the people with at least one relevant
  movie left.

Same run, same people, same revealed ratings: the popularity ranking of the
training part, EASE folded in on the revealed movies (their 0/1 row times
B), graded EASE if asked (the revealed movies' cells by their stars), the
same network without a history or prior, the ``newcomer`` network, and,
for a stacked model, the network with its history but without the EASE
prior, and the stacked model
with its prior as trained (``model_unscaled``) when the chosen power is not
0.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from movierec import baselines, metrics
from movierec.features import rating_values, timestamp_year_month
from movierec.history import Histories
from movierec.interactions import last_cells, rated_matrix
from movierec.prepared import Prepared
from movierec.prior import EasePrior, disliked_weight
from movierec.scoring import CandidateScorer, ranked_by
from movierec.split import NEW_USER_SHARE, Split

REVEAL = (5, 10, 20)
PEOPLE_PER_CHUNK = 64
# 0 leaves the prior as trained; > 0 raises a few ratings' prior towards a typical profile's; < 0 lowers it.
PROFILE_POWERS = (-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0)
PEOPLE = {"test": "test", "validation": "new_validation"}
# The networks the protocol trains: the shipped kind, the same without its EASE prior, that one trained for
# newcomers too, and the shipped kind without anything the person rated. Only the first three may serve newcomers:
# the app promises a list that follows their ratings.
NETWORKS = ("model", "no_prior", "newcomer", "no_history")
MAY_SERVE_NEWCOMERS = ("model", "no_prior", "newcomer")
# The "newcomer" network trains this share of its rated rows as a newcomer is served: the unknown user and 1-20
# of the person's movies (``training.TrainSettings.newcomer_share``, ``newcomer_history``; ``pipeline``). Both
# shipped models' validation people preferred 0.8 to 0.5 (README, "How many rows train as newcomers").
NEWCOMER_SHARE = 0.8


def describe(split: Split) -> dict:
    return {
        **split.describe(),
        "method": "two seeded shares of users held out whole (split.new_user_split): the test people, and the "
        "validation people choices for newcomers are made on; the rest split at random into train and validation",
        "new_user_share": NEW_USER_SHARE,
        "new_users": int(split.test["user_id"].nunique()),
        "validation_people": int(split.new_validation["user_id"].nunique()),
        "validation_people_rows": len(split.new_validation),
        "reveal": "each new person's first K ratings by timestamp, ties by movie id",
        "relevant": "the remaining ratings >= 4; every movie but the revealed ones ranked",
    }


@dataclass(frozen=True)
class Onboarding:
    """The new people after revealing K ratings each, one entry per person (in user-id order).

    ``user_rows`` are positions in the users frame, ``revealed`` each
    person's revealed catalogue positions, oldest first, ``stars`` their
    ratings of them, ``stamps`` the time of each person's K-th revealed
    rating, ``relevant`` a sparse (people, catalogue) matrix of the liked
    movies they did not reveal.
    """

    k: int
    user_rows: np.ndarray
    revealed: list[np.ndarray]
    stamps: np.ndarray
    relevant: object
    stars: list[np.ndarray]

    def revealed_matrix(self, n_movies: int, cells: np.ndarray | None = None):
        """The revealed movies as a sparse (people, catalogue) matrix: boolean, or ``cells`` (one per revealed
        rating, in ``revealed``'s order; a movie revealed twice keeps its later cell) as float32."""
        from scipy import sparse

        rows = np.repeat(np.arange(len(self.revealed)), [len(r) for r in self.revealed])
        columns = np.concatenate(self.revealed) if self.revealed else np.array([], dtype=np.intp)
        if cells is not None:
            return last_cells(rows, columns, cells, (len(self.revealed), n_movies))
        return sparse.csr_matrix((np.ones(len(rows), bool), (rows, columns)), shape=(len(self.revealed), n_movies))


def onboard(prepared: Prepared, k: int, people: str = "test") -> Onboarding:
    """Each new person reveals their first ``k`` ratings; the rest are what is to be found.

    ``people`` is "test" (the test part) or "validation" (the new people choices are made on).
    """
    if k < 1:
        raise ValueError(f"a new person reveals at least one rating, got k={k}")
    if people not in PEOPLE:
        raise ValueError(f"people is one of {sorted(PEOPLE)}, got {people!r}")
    new = getattr(prepared.split, PEOPLE[people])
    if new is None:
        raise ValueError("this split holds no validation people (make it with split.new_user_split)")
    ordered = new.sort_values(["user_id", "timestamp", "movie_id"], kind="stable")
    position = ordered.groupby("user_id").cumcount().to_numpy()
    shown, rest = ordered[position < k], ordered[position >= k]
    people = pd.Index(np.sort(new["user_id"].unique()))
    movie_positions = prepared.movie_index.get_indexer(shown["movie_id"].to_numpy())
    owners = people.get_indexer(shown["user_id"].to_numpy())
    bounds = np.flatnonzero(np.diff(owners)) + 1
    revealed = np.split(movie_positions, bounds) if len(owners) else []
    stars = np.split(shown["rating"].to_numpy(), bounds) if len(owners) else []
    stamps = shown.groupby("user_id")["timestamp"].max().reindex(people).to_numpy(dtype=np.int64)
    relevant = rated_matrix(rest[rest["rating"] >= 4], people, prepared.movie_index)
    return Onboarding(k, prepared.user_index.get_indexer(people), revealed, stamps, relevant, stars)


def rank(onboarding: Onboarding, score: Callable[[np.ndarray], np.ndarray], n_movies: int) -> dict:
    """NDCG@10 and Hit@10 of ``score(person positions) -> (people, catalogue) scores``, revealed movies left out."""
    return _ranked(_accumulated(onboarding, score, n_movies))


def rank_per_person(
    onboarding: Onboarding, score: Callable[[np.ndarray], np.ndarray], n_movies: int
) -> tuple[np.ndarray, np.ndarray]:
    """``rank``'s NDCG@10 and Hit@10 of each person it averages over (those with a liked movie left to find), in
    onboarding order: the same people for every scoring of one onboarding, so two scorings pair."""
    return _accumulated(onboarding, score, n_movies).per_user()


def _accumulated(onboarding: Onboarding, score, n_movies: int) -> metrics.RankingAccumulator:
    seen = onboarding.revealed_matrix(n_movies)
    accumulator = metrics.RankingAccumulator()
    for start in range(0, len(onboarding.user_rows), PEOPLE_PER_CHUNK):
        people = np.arange(start, min(start + PEOPLE_PER_CHUNK, len(onboarding.user_rows)))
        accumulator.add(score(people), seen[people].toarray(), onboarding.relevant[people].toarray())
    return accumulator


def rank_rules(
    onboarding: Onboarding, score_terms: Callable, rules: Sequence[tuple[float, float]], n_movies: int
) -> dict[tuple[float, float], dict]:
    """``rank`` under every ranking rule in ``rules`` at once: ``score_terms(person positions)`` gives the
    network's and the prior's logits (``model_scores(...)(people, terms=True)``), computed once per person."""
    seen = onboarding.revealed_matrix(n_movies)
    accumulators = {rule: metrics.RankingAccumulator() for rule in rules}
    for start in range(0, len(onboarding.user_rows), PEOPLE_PER_CHUNK):
        people = np.arange(start, min(start + PEOPLE_PER_CHUNK, len(onboarding.user_rows)))
        logit, prior_logit = score_terms(people)
        outputs = logit.shape[-1]
        flat, flat_prior = logit.reshape(-1, outputs), prior_logit.reshape(-1, outputs)
        seen_people, relevant = seen[people].toarray(), onboarding.relevant[people].toarray()
        for rule, accumulator in accumulators.items():
            accumulator.add(ranked_by(flat, flat_prior, *rule).reshape(logit.shape[:2]), seen_people, relevant)
    return {rule: _ranked(accumulator) for rule, accumulator in accumulators.items()}


def _ranked(accumulator: metrics.RankingAccumulator) -> dict:
    ranked = accumulator.result()
    return {"full_ndcg@10": ranked["ndcg@10"], "full_hit@10": ranked["hit@10"], "users": ranked["users"]}


def model_scores(
    model,
    prepared: Prepared,
    onboarding: Onboarding,
    prior: EasePrior | None = None,
    scorer: CandidateScorer | None = None,
) -> Callable[[np.ndarray], np.ndarray]:
    """The network's scores for new people: demographics, the unknown user id, the K-th reveal's date, the history.

    A model with an EASE prior reads ``B`` fitted on the training part
    (``prior``, fitted here with the model's own rescaling if not given),
    folded in on the revealed movies (with their stars' cells, for a graded
    prior) as the EASE baseline is and rescaled as a newcomer's
    (``EasePrior.newcomer_scores``), a chunk of people at a time.
    ``scorer`` may be shared between calls for the same model.
    """
    scorer = scorer or CandidateScorer(model, prepared.encoder, prepared.data.movies)
    user_codes = prepared.encoder.encode_users(prepared.data.users.iloc[onboarding.user_rows])
    context_codes = prepared.encoder.encode_context(*timestamp_year_month(onboarding.stamps))
    movie_codes = scorer.candidate_codes
    history = None
    if model.history_length:
        history = np.stack([Histories.for_movie_codes(movie_codes[r], model.history_length)
                            for r in onboarding.revealed])  # fmt: skip
    if getattr(model, "ease_l2", 0.0) and (prior is None or prior_key(prior) != model_prior_key(model)):
        prior = EasePrior.for_model(model, prepared, ["train"])  # the part the model was fitted on

    def score(people, terms: bool = False):
        priors = None
        if getattr(model, "ease_l2", 0.0):
            priors = np.stack([prior.newcomer_scores(movie_codes[onboarding.revealed[p]], movie_codes,
                                                     prior.cells(onboarding.stars[p])) for p in people])  # fmt: skip
        method = scorer.score_terms if terms else scorer.score
        return method(user_codes[people], context_codes[people], None if history is None else history[people], priors)

    return score


def prior_key(prior: EasePrior) -> tuple[float, float]:
    return prior.l2, prior.disliked_weight


def model_prior_key(model) -> tuple[float, float]:
    """What tells one B a model reads from another: its l2 and the cell of a disliked movie."""
    return float(getattr(model, "ease_l2", 0.0)), disliked_weight(model)


@dataclass(frozen=True)
class Baselines:
    """What the baselines learn from the training part, fitted once for every K and both groups of people:
    popularity, EASE and, when asked, graded EASE. ``scorers`` folds them in on one onboarding's revealed movies."""

    popularity: np.ndarray
    ease: baselines.EASE
    graded: baselines.EASE | None = None

    @classmethod
    def fit(cls, prepared: Prepared, ease_l2: float, graded: tuple[float, float] | None = None) -> Baselines:
        """``graded`` = (l2, disliked weight) adds graded EASE."""
        catalogue = prepared.data.movies["movie_id"].to_numpy()
        users = prepared.data.users["user_id"].to_numpy()
        train = prepared.split.train
        return cls(
            baselines.score(baselines.fit(train)["popularity"], catalogue),
            baselines.EASE(train, users, catalogue, ease_l2),
            None if graded is None else baselines.EASE(train, users, catalogue, *graded),
        )

    def scorers(self, onboarding: Onboarding) -> dict[str, Callable]:
        """Popularity, and EASE folded in on the revealed movies (their 0/1 row); graded EASE on their cells."""
        n_movies = len(self.popularity)
        revealed = onboarding.revealed_matrix(n_movies)
        scorers = {
            "popularity": lambda people: np.broadcast_to(self.popularity, (len(people), n_movies)),
            "ease": lambda people: self.ease.score_matrix(revealed[people]),
        }
        if self.graded is not None:
            cells = onboarding.revealed_matrix(n_movies, rating_values(
                np.concatenate(onboarding.stars) if onboarding.stars else [], self.graded.disliked_weight))  # fmt: skip
            scorers["ease_graded"] = lambda people: self.graded.score_matrix(cells[people])
        return scorers


def training_median(release) -> float:
    """The median rated-set size of the known people in the protocol's training part: the reference its choice used."""
    from movierec.split import new_user_split

    train = new_user_split(release.ratings).train
    return float(train.groupby("user_id")["movie_id"].nunique().median())


def best_power(mean_ndcg: dict[float, float]) -> float:
    """The power with the highest mean NDCG@10; ties go to the one closest to 0 (the prior as trained), then lower."""
    best = max(mean_ndcg.values())
    return min((p for p, m in mean_ndcg.items() if m == best), key=lambda p: (abs(p), p))


def choose_profile_power(
    prepared: Prepared,
    model,
    prior: EasePrior,
    reveal: Sequence[int] = REVEAL,
    powers: Sequence[float] = PROFILE_POWERS,
) -> tuple[float, dict[str, dict[str, float]]]:
    """The power whose NDCG@10 on the validation people, averaged over ``reveal``, is highest, and every result.

    The reference profile size is the median of the people ``prior`` was
    fitted on (the training part), recorded with the choice so that serving
    rescales by exactly the factors measured here.
    """
    n_movies = len(prepared.data.movies)
    scorer = CandidateScorer(model, prepared.encoder, prepared.data.movies)
    measured = {str(p): {} for p in powers}
    for k in reveal:
        onboarding = onboard(prepared, k, "validation")
        for p in powers:
            rescaled = prior.with_profile(p, prior.fitted_median)
            ranked = rank(onboarding, model_scores(model, prepared, onboarding, rescaled, scorer), n_movies)
            measured[str(p)][str(k)] = ranked["full_ndcg@10"]
    chosen = best_power({float(p): float(np.mean(list(by_k.values()))) for p, by_k in measured.items()})
    return chosen, measured


def validation_means(validation: dict[str, dict[str, dict]], names: Sequence[str]) -> dict[str, float]:
    """Each named method's NDCG@10 on ``evaluate``'s validation table (``{"K": {name: metrics}}``), averaged over K."""
    return {name: float(np.mean([by_name[name]["full_ndcg@10"] for by_name in validation.values()]))
            for name in names}  # fmt: skip


def choose_network(validation: dict[str, dict[str, dict]], names: Sequence[str]) -> tuple[str, dict[str, float]]:
    """Which trained network serves newcomers: the highest NDCG@10 on the validation people, averaged over K.

    ``validation`` is ``evaluate``'s validation table (``{"K": {name:
    metrics}}``), ``names`` the networks to choose from. Ties go to the
    shipped kind (``"model"``), then by name. Returns the choice and every
    candidate's mean; the test people's numbers are never read.
    """
    if not names:
        raise ValueError("no network to choose from")
    means = validation_means(validation, names)
    best = max(means.values())
    return min((n for n in names if means[n] == best), key=lambda n: (n != "model", n)), means


def evaluate(
    prepared: Prepared,
    models: dict[str, object],
    ease_l2: float,
    reveal: Sequence[int] = REVEAL,
    graded: tuple[float, float] | None = None,
) -> tuple[dict[str, dict], dict[str, dict], dict[str, dict]]:
    """``{"K": {name: metrics}}`` for every model in ``models`` and the baselines, on the same test people.

    Also returns, per stacked model, its ``prior_profile_power`` chosen on the
    validation people and the grid measured there; the model is ranked with
    that power, and as ``<name>_unscaled`` with the prior as trained if the
    power is not 0. Last, the same table on the validation people: what a
    later choice between the methods (which one serves newcomers) is made on,
    never on the test people's numbers.
    """
    n_movies = len(prepared.data.movies)
    # One B per (l2, disliked weight) any model reads, fitted once on the training part for every K.
    priors = {key: EasePrior.of_parts(prepared, ["train"], *key)
              for key in {model_prior_key(m) for m in models.values()} if key[0]}  # fmt: skip
    choices, readers = {}, {}
    for name, model in models.items():
        prior = priors.get(model_prior_key(model))
        if prior is None:
            readers[name] = (model, None)
            continue
        power, grid = choose_profile_power(prepared, model, prior, reveal)
        choices[name] = {"prior_profile_power": power, "prior_profile_reference": prior.fitted_median,
                         "validation_ndcg@10": grid}  # fmt: skip
        readers[name] = (model, prior.with_profile(power, prior.fitted_median))
        if power:
            readers[f"{name}_unscaled"] = (model, prior)
    fitted_baselines = Baselines.fit(prepared, ease_l2, graded)
    measured = {}
    for people in ("validation", "test"):
        measured[people] = {}
        for k in reveal:
            onboarding = onboard(prepared, k, people)
            scorers = {name: model_scores(model, prepared, onboarding, prior)
                       for name, (model, prior) in readers.items()}  # fmt: skip
            scorers.update(fitted_baselines.scorers(onboarding))
            measured[people][str(k)] = {name: rank(onboarding, score, n_movies) for name, score in scorers.items()}
    return measured["test"], choices, measured["validation"]
