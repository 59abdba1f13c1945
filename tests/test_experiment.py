"""A run's stages: candidates fitted and measured on validation, chosen on validation, tested once."""

import json

import pytest
from conftest import TINY

from movierec import experiment, training
from movierec.prepared import Prepared


class HeldOutPartRead(AssertionError):
    pass


class GuardedSplit:
    """A split whose test part cannot be read: any access fails the test."""

    def __init__(self, split):
        self._split = split

    def __getattr__(self, name):
        if name == "test":
            raise HeldOutPartRead("the test part was read before the choice was made")
        return getattr(self._split, name)


def guarded(prepared: Prepared) -> Prepared:
    parts = {name: part for name, part in prepared.parts.items() if name != "test"}
    return Prepared(prepared.data, GuardedSplit(prepared.split), prepared.encoder, parts, prepared.fields)


@pytest.fixture(scope="module")
def settings():
    return training.TrainSettings(epochs=1, batch_size=256, negatives=2)


def test_fitting_measuring_and_choosing_never_read_the_test_part(prepared, settings):
    blind = guarded(prepared)
    with pytest.raises(HeldOutPartRead):
        blind.split.test  # noqa: B018  (the guard works)
    with pytest.raises(KeyError):
        blind.part("test")
    tiny = json.loads(TINY)
    candidates = {
        "small": experiment.fit_candidate("autointp", blind, settings, tiny, verbose=0),
        "wider": experiment.fit_candidate("autointp", blind, settings, {**tiny, "embedding_dim": 6}, verbose=0),
    }
    for candidate in candidates.values():
        assert {"auc", "seed_ndcg@10", "full_ndcg@10", "full_hit@10"} <= set(candidate.validation)
    choice = experiment.select({key: c.validation for key, c in candidates.items()})
    assert choice in candidates
    # Only now, with the choice made, may the test part be read.
    trained = experiment.finish(candidates[choice], prepared, verbose=0)
    assert trained.validation == candidates[choice].validation
    assert {"auc", "full_ndcg@10"} <= set(trained.evaluation)
    assert trained.refitted["epochs"] == 1


@pytest.mark.parametrize("pooling", ["mean", "attention"])
def test_a_history_aware_model_goes_through_every_stage_with_the_test_part_unread_until_the_end(prepared, pooling):
    tiny = {**json.loads(TINY), "history_length": 12, "history_pooling": pooling}
    candidate = experiment.fit_candidate("autointp", guarded(prepared), training.TrainSettings(epochs=1,
                                         batch_size=256, negatives=2), tiny, verbose=0)  # fmt: skip
    assert 0 < candidate.validation["full_ndcg@10"] <= 1
    trained = experiment.finish(candidate, prepared, verbose=0)
    assert trained.model.history_length == 12 and trained.model.history_pooling == pooling
    assert {"auc", "seed_ndcg@10", "full_ndcg@10", "full_hit@10"} <= set(trained.evaluation)


def test_selection_takes_the_best_validation_ranking_and_keeps_the_first_on_ties():
    assert experiment.select({"a": {"full_ndcg@10": 0.2}, "b": {"full_ndcg@10": 0.3}}) == "b"
    assert experiment.select({"untuned": {"full_ndcg@10": 0.3}, "tuned": {"full_ndcg@10": 0.3}}) == "untuned"
    assert experiment.select({"a": {"auc": 0.9}, "b": {"auc": 0.8}}, metric="auc") == "a"
    with pytest.raises(ValueError, match="no candidates"):
        experiment.select({})
    with pytest.raises(ValueError, match="lack a validation full_ndcg@10"):
        experiment.select({"a": {"auc": 0.9}})


def test_selection_skips_candidates_below_a_floor():
    validation = {"joint": {"full_ndcg@10": 0.13, "auc": 0.82}, "implicit": {"full_ndcg@10": 0.14, "auc": 0.72}}
    assert experiment.select(validation) == "implicit"
    assert experiment.select(validation, floors=experiment.LIKE_FLOOR) == "joint"
    with pytest.raises(ValueError, match="no candidate clears"):
        experiment.select(validation, floors={"auc": 0.9})
    with pytest.raises(ValueError, match="lack a validation full_ndcg@10 or logloss"):
        experiment.select(validation, floors={"logloss": 0.1})


def test_the_ranking_rule_is_chosen_on_validation_and_kept_through_the_refit(prepared, settings, tmp_path, monkeypatch):
    """Every rule is ranked from one pass over validation; the best is set, measured, refitted with and saved."""
    from movierec import artifacts, evaluation

    tiny = {**json.loads(TINY), "ease_l2": 50.0}
    rankings = []  # every ranking of a part outside the rule grid's own pass
    full_ranking = evaluation.full_ranking
    monkeypatch.setattr(evaluation, "full_ranking", lambda *a, **k: rankings.append(1) or full_ranking(*a, **k))
    candidate = experiment.fit_candidate("autointp", guarded(prepared), settings, tiny, verbose=0)
    monkeypatch.setattr(evaluation, "full_ranking", full_ranking)
    assert rankings == []  # validation was ranked once, by the grid
    assert candidate.validation["rule_grid_seconds"] >= 0 and "full_seconds" not in candidate.validation
    ranking = candidate.ranking
    grid = ranking["validation"]
    rules = evaluation.ranking_rules(candidate.model)
    assert len(rules) == len(evaluation.LIKE_EXPONENTS) * len(evaluation.PRIOR_GAINS)
    assert rules[0] == (1.0, 1.0)  # the model's own product first: it keeps ties
    # The written grid first, in its order; then any gain grown past an edge, at every exponent.
    assert list(grid)[: len(rules)] == [evaluation.rule_name(rule) for rule in rules]
    assert (len(grid) - len(rules)) % len(evaluation.LIKE_EXPONENTS) == 0
    scores = [values["full_ndcg@10"] for values in grid.values()]
    best = (ranking["like_exponent"], ranking["prior_gain"])
    assert evaluation.rule_name(best) == list(grid)[scores.index(max(scores))]
    assert (candidate.model.ranking_like_exponent, candidate.model.ranking_prior_gain) == best
    # Validation is ranked once: the candidate's numbers are the grid's for the chosen rule, and they are what
    # ranking validation again through the evaluation's own path, under that rule, gives.
    chosen = grid[evaluation.rule_name(best)]
    assert (candidate.validation["full_ndcg@10"], candidate.validation["full_hit@10"]) == (
        chosen["full_ndcg@10"], chosen["full_hit@10"])  # fmt: skip
    again = evaluation.full_ranking(prepared, evaluation.model_scorer(candidate.model, prepared, "validation"),
                                    "validation")  # fmt: skip
    assert again["ndcg@10"] == pytest.approx(chosen["full_ndcg@10"], abs=1e-6)
    assert again["hit@10"] == pytest.approx(chosen["full_hit@10"], abs=1e-6)
    assert again["users"] == candidate.validation["full_users"]
    # A ranking measured on another part, or under another rule, is refused rather than reported.
    _, _, ranked = evaluation.ranking_rule_on_validation(candidate.model, prepared)
    with pytest.raises(ValueError, match="measured on 'validation'"):
        evaluation.evaluate_model(candidate.model, prepared, part="test", ranked=ranked)
    other = next(rule for rule in rules if rule != best)
    with pytest.raises(ValueError, match="under the rule"):
        evaluation.evaluate_model(candidate.model, prepared, part="validation", ranked={**ranked, "rule": other})
    sample_alone = {k: v for k, v in ranked.items() if k not in ("ndcg@10", "hit@10", "users")}
    with pytest.raises(ValueError, match=r"lacks \['ndcg@10', 'hit@10', 'users'\]"):
        evaluation.evaluate_model(candidate.model, prepared, part="validation", ranked=sample_alone)
    with pytest.raises(ValueError, match="sample_only ranks the sample people here"):
        evaluation.evaluate_model(candidate.model, prepared, part="validation", ranked=ranked, sample_only=True)
    trained = experiment.finish(candidate, prepared, verbose=0)
    assert (trained.model.ranking_like_exponent, trained.model.ranking_prior_gain) == best
    paths = trained.save(tmp_path / "model", tmp_path / "data")
    manifest = artifacts.read_manifest(paths.manifest)
    assert manifest["serving"]["ranking"]["validation"] == grid
    assert (manifest["config"]["ranking_like_exponent"], manifest["config"]["ranking_prior_gain"]) == best
    assert "ranking_prior_gain" not in artifacts.hyperparameters(manifest)  # a retrain chooses afresh


def test_a_model_without_a_rule_to_choose_is_left_as_it_is(prepared, settings):
    tiny = {**json.loads(TINY), "rated_head": False}
    candidate = experiment.fit_candidate("autointp", guarded(prepared), training.TrainSettings(epochs=1,
                                         batch_size=256, negatives=0), tiny, verbose=0)  # fmt: skip
    assert candidate.ranking is None
    assert (candidate.model.ranking_like_exponent, candidate.model.ranking_prior_gain) == (1.0, 1.0)


def test_a_chosen_rule_other_than_the_plain_product_survives_the_refit_the_save_and_the_load(
    prepared, settings, tmp_path, monkeypatch
):
    from movierec import artifacts, evaluation

    monkeypatch.setattr(evaluation, "LIKE_EXPONENTS", (0.5, 0.25))  # only rules that differ from the plain product
    monkeypatch.setattr(evaluation, "PRIOR_GAINS", (3.0,))
    tiny = {**json.loads(TINY), "ease_l2": 50.0}
    candidate = experiment.fit_candidate("autointp", guarded(prepared), settings, tiny, verbose=0)
    chosen = (candidate.ranking["like_exponent"], candidate.ranking["prior_gain"])
    assert chosen in {(0.5, 3.0), (0.25, 3.0)}
    paths = experiment.finish(candidate, prepared, verbose=0).save(tmp_path / "model", tmp_path / "data")
    loaded, _, _ = artifacts.load("autointp", tmp_path / "model", tmp_path / "data")
    assert (loaded.ranking_like_exponent, loaded.ranking_prior_gain) == chosen
    # A manifest written before the rule existed loads with the plain product.
    manifest = json.loads(paths.manifest.read_text())
    for key in ("ranking_like_exponent", "ranking_prior_gain"):
        del manifest["config"][key]
    paths.manifest.write_text(json.dumps(manifest))
    old, _, _ = artifacts.load("autointp", tmp_path / "model", tmp_path / "data")
    assert (old.ranking_like_exponent, old.ranking_prior_gain) == (1.0, 1.0)
