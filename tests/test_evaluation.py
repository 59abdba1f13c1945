"""Evaluating models and baselines on the test part."""

import numpy as np
import pytest

from movierec import baselines, evaluation, metrics


def test_item_knn_is_a_baseline_in_every_evaluation(prepared):

    result = evaluation.evaluate_baselines(prepared)
    assert set(result) == {"popularity", "movie_mean", "item_knn", "ease", "ease_graded"}
    assert 0 < result["item_knn"]["full_ndcg@10"] <= 1


def test_validation_is_judged_against_the_training_history_only(prepared):
    """On validation, a user's history is the training part: validation movies are ranked, not excluded."""
    from movierec.interactions import rated_matrix

    seen_by_part = {}

    def spy(part):
        def score(rows):
            seen_by_part.setdefault(part, []).extend(rows.tolist())
            return np.zeros((len(rows), len(prepared.data.movies)))

        return score

    for part in ("validation", "test"):
        result = evaluation.full_ranking(prepared, spy(part), part)
        held_out = getattr(prepared.split, part)
        liked_users = held_out.loc[held_out["rating"] >= 4, "user_id"].nunique()
        assert result["users"] == liked_users == len(seen_by_part[part])
    assert evaluation.history_parts("validation") == ("train",)
    assert evaluation.history_parts("test") == ("train", "validation")
    # A validation row's movie is a candidate in the validation ranking, never excluded as "seen".
    history = rated_matrix(prepared.frame("train"), prepared.user_index, prepared.movie_index)
    validation = prepared.split.validation
    rows = prepared.user_index.get_indexer(validation["user_id"])
    columns = prepared.movie_index.get_indexer(validation["movie_id"])
    assert not np.asarray(history[rows, columns]).any()
    with pytest.raises(ValueError, match="can evaluate on"):
        evaluation.history_parts("train")


def test_the_sample_people_are_those_whose_id_is_a_multiple_of_8_and_rank_alike_alone_or_with_everyone(prepared):
    asked = []

    def score(rows):
        asked.extend(rows.tolist())
        ids = prepared.user_index.to_numpy()[rows]
        return np.sin(ids[:, None] * 7.0 + np.arange(len(prepared.data.movies))[None, :])  # differs per person

    everyone = evaluation.full_ranking(prepared, score)
    alone = evaluation.full_ranking(prepared, score, sample_only=True)
    ids = prepared.user_index.to_numpy()[asked[everyone["users"]:]]
    assert len(ids) == alone["sample_users"] == everyone["sample_users"] > 0
    assert (ids % evaluation.SAMPLE_EVERY == 0).all()
    assert set(alone) == {"sample_ndcg@10", "sample_hit@10", "sample_users"}
    assert {k: everyone[k] for k in alone} == alone
    assert everyone["sample_users"] < everyone["users"]


def test_baselines_on_validation_are_fitted_on_the_training_part(prepared):
    result = evaluation.evaluate_baselines(prepared, full=False, part="validation")
    fitted = baselines.fit(prepared.split.train)
    validation = prepared.split.validation
    expected = metrics.auc((validation["rating"] >= 4).astype(int), baselines.score(fitted["movie_mean"],
                                                                                   validation["movie_id"]))  # fmt: skip
    assert result["movie_mean"]["auc"] == pytest.approx(expected)


@pytest.mark.parametrize("pooling", ["mean", "attention"])
@pytest.mark.parametrize("part", ["validation", "test"])
def test_a_history_model_is_ranked_with_the_history_of_the_parts_before_the_evaluated_one(prepared, pooling, part):
    from model_fixtures import log_ranked

    from movierec import models
    from movierec.history import Histories

    tiny = {"embedding_dim": 4, "attention_layers": 1, "num_heads": 1, "attention_dim": 4, "dnn_units": [8]}
    model = models.create("autointp", prepared.vocab_sizes, seed=1, history_length=20, history_pooling=pooling, **tiny)
    users = np.array([0, 3, 7])
    got = evaluation.model_scorer(model, prepared, part)(users)
    past = Histories.of_parts(prepared, evaluation.history_parts(part), 20).codes[users]
    assert (past != 0).any()
    encoder, movies = prepared.encoder, prepared.data.movies
    context = evaluation.latest_context(prepared, part)[users]
    for i, user in enumerate(users):
        rows = encoder.assemble(
            np.repeat(encoder.encode_users(prepared.data.users.iloc[[user]]), len(movies), axis=0),
            encoder.encode_movies(movies), np.repeat(context[i : i + 1], len(movies), axis=0),
        )  # fmt: skip
        direct = model({"codes": rows, "history": np.repeat(past[i : i + 1], len(movies), axis=0)})
        np.testing.assert_allclose(got[i], log_ranked(np.asarray(direct)), rtol=1e-5, atol=1e-6)
    # The seed protocol's rows get the same history, without their own movie.
    from movierec import metrics
    from movierec.scoring import predict_rows

    frame, encoded = getattr(prepared.split, part), prepared.part(part)
    every = Histories.of_parts(prepared, evaluation.history_parts(part), 20)
    rows = every.codes[prepared.user_index.get_indexer(frame["user_id"])]
    assert not (rows == encoded.codes[:, [1]]).any()  # a held-out movie is never in the parts before it
    expected = predict_rows(model, encoded.codes, history=rows)
    result = evaluation.evaluate_model(model, prepared, full=False, part=part)
    assert result["auc"] == pytest.approx(metrics.auc(encoded.labels, expected))
    assert result["auc"] != pytest.approx(metrics.auc(encoded.labels, predict_rows(model, encoded.codes,
                                                                                   history=0 * rows)))  # fmt: skip


@pytest.mark.parametrize(("part", "fitted_on"), [("validation", ("train",)), ("test", ("train", "validation"))])
def test_a_stacked_models_prior_is_fitted_on_the_parts_before_the_one_measured(prepared, monkeypatch, part, fitted_on):
    from movierec import models
    from movierec.prior import EasePrior

    asked = []
    real = EasePrior.for_model.__func__

    def spy(cls, model, prepared_, parts):
        asked.append(tuple(parts))
        return real(cls, model, prepared_, parts)

    monkeypatch.setattr(EasePrior, "for_model", classmethod(spy))
    model = models.create("autointp", prepared.vocab_sizes, seed=0, embedding_dim=4, attention_layers=1,
                          dnn_units=[8], rated_head=True, ease_l2=20.0)  # fmt: skip
    result = evaluation.evaluate_model(model, prepared, part=part)
    assert asked == [fitted_on]  # once, shared by the seed rows and the full ranking
    assert 0 <= result["full_ndcg@10"] <= 1


def _rules_peaked_at(peak: tuple[float, float], passes: list):
    """A stand-in for ``full_rankings`` whose NDCG@10 falls with a rule's distance from ``peak`` (log gain)."""
    import math

    def full_rankings(prepared, score_users, names, part, progress=False):
        assert part == "validation"
        passes.append(list(names))
        results = {}
        for name in names:
            exponent, gain = evaluation.parse_rule_name(name)
            distance = abs(exponent - peak[0]) + abs(math.log(max(gain, 1e-12)) - math.log(peak[1]))
            results[name] = {"ndcg@10": 1.0 / (1.0 + distance), "hit@10": 0.5, "users": 3}
        return results

    return full_rankings


@pytest.mark.parametrize("rule", [(1.0, 1.0), (0.25, 0.5), (0.0, 10.0), (0.5, 0.05), (1.0, 1e-12)])
def test_a_rule_name_reads_back_as_its_rule(rule):
    assert evaluation.parse_rule_name(evaluation.rule_name(rule)) == pytest.approx(rule)


@pytest.mark.parametrize("name", ["like^0, prior x10", "like^a prior x1", "prior x1", "like^1 prior x1 c2", ""])
def test_a_text_that_is_no_rule_name_is_refused(name):
    with pytest.raises(ValueError, match="ranking rule"):
        evaluation.parse_rule_name(name)


@pytest.mark.parametrize(
    ("peak", "chosen", "grown"),
    [
        ((0.5, 3.0), (0.5, 3.0), []),  # inside the grid: one pass, nothing added
        ((0.0, 20.0), (0.0, 20.0), [10.0, 20.0, 50.0]),  # past the largest gain: 1-2-5 upwards until inside
        ((1.0, 0.1), (1.0, 0.1), [0.2, 0.1, 0.05]),  # below the smallest: the series continues downwards
        # Beyond what the growth allows: it stops at GRID_GROWTHS past the edge, the best of what was tried chosen.
        ((0.25, 1e9), (0.25, 500.0), [10.0, 20.0, 50.0, 100.0, 200.0, 500.0]),
    ],
)
def test_the_ranking_rule_grows_its_prior_gain_past_the_edge_its_best_sits_on(monkeypatch, peak, chosen, grown):
    from types import SimpleNamespace

    assert evaluation.GRID_GROWTHS == 6  # the limit the last case reaches
    passes = []
    monkeypatch.setattr(evaluation, "full_rankings", _rules_peaked_at(peak, passes))
    monkeypatch.setattr(evaluation, "model_scorer", lambda model, prepared, part: None)
    stacked = SimpleNamespace(num_outputs=2, prior_logit=object())  # what ranking_rules reads: both knobs
    rule, grid, ranked = evaluation.ranking_rule_on_validation(stacked, prepared=None)
    assert rule == chosen and ranked["rule"] == chosen and ranked["part"] == "validation"
    first = [evaluation.rule_name(each) for each in evaluation.ranking_rules(stacked)]
    assert passes[0] == first  # the written grid first, in its order (the model's own product first)
    # then one pass per gain added, every exponent at it, each gain beyond the last
    assert passes[1:] == [[evaluation.rule_name((e, g)) for e in evaluation.LIKE_EXPONENTS] for g in grown]
    assert list(grid) == [name for names in passes for name in names]
    assert grid[evaluation.rule_name(chosen)]["full_ndcg@10"] == max(v["full_ndcg@10"] for v in grid.values())


def test_a_single_gain_never_grows(monkeypatch):
    """A model without a prior (one gain, 1) or a grid of one gain is an axis that stays fixed."""
    from types import SimpleNamespace

    passes = []
    monkeypatch.setattr(evaluation, "full_rankings", _rules_peaked_at((0.0, 50.0), passes))
    monkeypatch.setattr(evaluation, "model_scorer", lambda model, prepared, part: None)
    rule, grid, _ = evaluation.ranking_rule_on_validation(SimpleNamespace(num_outputs=2, prior_logit=None), None)
    assert rule == (0.0, 1.0) and len(passes) == 1 and len(grid) == len(evaluation.LIKE_EXPONENTS)
    monkeypatch.setattr(evaluation, "PRIOR_GAINS", (3.0,))
    passes.clear()
    rule, _, _ = evaluation.ranking_rule_on_validation(SimpleNamespace(num_outputs=2, prior_logit=object()), None)
    assert rule == (0.0, 3.0) and len(passes) == 1


def test_a_tie_keeps_the_rule_listed_first_and_stops_the_growth(monkeypatch):
    """A plateau from gain 6 on: x10 ties x6, so x6 (listed first) stays chosen and nothing more is added."""
    from types import SimpleNamespace

    passes = []

    def plateau(prepared, score_users, names, part, progress=False):
        passes.append(list(names))
        return {name: {"ndcg@10": 0.2 if name.startswith("like^0.5 ") and float(name.split(" prior x")[1]) >= 6
                       else 0.1, "hit@10": 0.5, "users": 3} for name in names}  # fmt: skip

    monkeypatch.setattr(evaluation, "full_rankings", plateau)
    monkeypatch.setattr(evaluation, "model_scorer", lambda model, prepared, part: None)
    rule, _, _ = evaluation.ranking_rule_on_validation(SimpleNamespace(num_outputs=2, prior_logit=object()), None)
    assert rule == (0.5, 6.0) and len(passes) == 2  # the grid, then x10 once
    # A grid all alike: the model's own product, first, is kept, and no gain is added past the smallest either.
    passes.clear()
    monkeypatch.setattr(evaluation, "full_rankings", _rules_peaked_at((1.0, 1.0), passes))
    monkeypatch.setattr(evaluation, "PRIOR_GAINS", (1.0, 0.5, 2.0))
    rule, _, _ = evaluation.ranking_rule_on_validation(SimpleNamespace(num_outputs=2, prior_logit=object()), None)
    assert rule == (1.0, 1.0) and len(passes) == 1


def test_a_one_output_model_grows_its_gain_alone_and_a_gain_of_zero_is_an_edge(monkeypatch):
    from types import SimpleNamespace

    passes = []
    monkeypatch.setattr(evaluation, "full_rankings", _rules_peaked_at((1.0, 1e-9), passes))
    monkeypatch.setattr(evaluation, "model_scorer", lambda model, prepared, part: None)
    one_output = SimpleNamespace(num_outputs=1, prior_logit=object())
    rule, grid, _ = evaluation.ranking_rule_on_validation(one_output, None)
    assert len(grid) == len(evaluation.PRIOR_GAINS) + evaluation.GRID_GROWTHS
    assert rule == (1.0, 0.005) and len(passes) == 1 + evaluation.GRID_GROWTHS  # 0.2, 0.1, ..., 0.005: the limit
    assert all(len(names) == 1 for names in passes[1:])  # one exponent, so one rule per gain added
    passes.clear()
    monkeypatch.setattr(evaluation, "PRIOR_GAINS", (0.0, 1.0))
    monkeypatch.setattr(evaluation, "full_rankings", _rules_peaked_at((1.0, 1e-9), passes))
    rule, _, _ = evaluation.ranking_rule_on_validation(one_output, None)
    assert rule == (1.0, 0.0) and len(passes) == 1  # nothing below a gain of 0


def test_per_person_rankings_are_the_people_and_values_the_means_are_made_of(prepared):
    """Each scoring's per-person NDCG@10 and Hit@10 average to ``full_rankings``' numbers, over the same people in
    the same order for every scoring (what a paired bootstrap needs), and each person is one with a liked movie."""

    def score(rows):
        ids = prepared.user_index.to_numpy()[rows]
        wavy = np.sin(ids[:, None] * 7.0 + np.arange(len(prepared.data.movies))[None, :])
        return {"wavy": wavy, "flat": np.broadcast_to(np.arange(len(prepared.data.movies), 0, -1.0), wavy.shape)}

    means = evaluation.full_rankings(prepared, score, ("wavy", "flat"))
    people, per_person = evaluation.full_rankings_per_user(prepared, score, ("wavy", "flat"))
    liked = prepared.split.test[evaluation.labels(prepared.split.test) > 0]
    assert sorted(people.tolist()) == sorted(set(liked["user_id"].tolist()))
    for name in ("wavy", "flat"):
        ndcg, hit = per_person[name]
        assert len(ndcg) == len(hit) == len(people) == means[name]["users"]
        assert ndcg.mean() == pytest.approx(means[name]["ndcg@10"])
        assert hit.mean() == pytest.approx(means[name]["hit@10"])
        assert set(np.unique(hit)) <= {0.0, 1.0}
    assert not np.array_equal(per_person["wavy"][0], per_person["flat"][0])  # two scorings, two rankings


def test_each_persons_values_stand_beside_that_person(prepared):
    """A scoring perfect for odd user ids and upside down for even ones: the per-person values must follow the
    people returned, person by person (a bootstrap pairs two methods by this order)."""
    held_out = prepared.split.test
    liked = evaluation.rated_matrix(held_out[evaluation.labels(held_out) > 0], prepared.user_index,
                                    prepared.movie_index).toarray()  # fmt: skip

    def score(rows):
        odd = (prepared.user_index.to_numpy()[rows] % 2 == 1)[:, None]
        return {"half": np.where(odd, 1.0, -1.0) * liked[rows]}

    people, per_person = evaluation.full_rankings_per_user(prepared, score, ("half",))
    ndcg, hit = per_person["half"]
    odd = people % 2 == 1
    assert odd.any() and (~odd).any()
    assert ndcg[odd] == pytest.approx(1.0) and (hit[odd] == 1.0).all()
    assert (ndcg[~odd] < 1.0).all()
