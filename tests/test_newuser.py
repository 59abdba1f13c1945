"""The new-user protocol: people held out whole, the first K ratings revealed, the rest ranked."""

import dataclasses

import numpy as np
import pytest
from model_fixtures import log_ranked

from movierec import baselines, models, newuser
from movierec.history import Histories
from movierec.prepared import prepare
from movierec.split import NEW_USER_SHARE, new_user_split


@pytest.fixture(scope="module")
def prepared_new(ml1m):
    return prepare(ml1m, split=new_user_split(ml1m.ratings))


def test_new_people_are_held_out_whole_and_unknown_to_the_vocabularies(ml1m, prepared_new):
    split = prepared_new.split
    new = set(split.test["user_id"])
    assert len(new) == round(ml1m.users["user_id"].nunique() * NEW_USER_SHARE)
    assert set(split.test["user_id"]) == new and len(split.test) == ml1m.ratings["user_id"].isin(new).sum()
    assert not new & set(split.train["user_id"]) and not new & set(split.validation["user_id"])
    assert not new & set(prepared_new.encoder.vocabularies["user_id"])
    choosers = set(split.new_validation["user_id"])  # the second group: new people the choices are made on
    assert len(choosers) == len(new) and not choosers & new
    assert not choosers & set(split.train["user_id"]) and not choosers & set(split.validation["user_id"])
    assert not choosers & set(prepared_new.encoder.vocabularies["user_id"])
    assert len(split.new_validation) == ml1m.ratings["user_id"].isin(choosers).sum()
    assert sum(split.rows().values()) == len(ml1m.ratings)
    again = new_user_split(ml1m.ratings)
    assert again.test.index.equals(split.test.index) and again.train.index.equals(split.train.index)
    other = new_user_split(ml1m.ratings, seed=7)
    assert set(other.test["user_id"]) != new


@pytest.mark.parametrize("k", [1, 5, 20])
def test_each_person_reveals_their_first_k_ratings_by_time_and_the_rest_is_to_be_found(prepared_new, k):
    onboarding = newuser.onboard(prepared_new, k)
    new = prepared_new.split.test
    people = np.sort(new["user_id"].unique())
    assert len(onboarding.revealed) == len(people) == len(onboarding.user_rows)
    movie_ids = prepared_new.movie_index
    for i, user in enumerate(people):
        mine = new[new["user_id"] == user]
        ordered = sorted(zip(mine["timestamp"], mine["movie_id"], mine["rating"], strict=True))  # ties by movie id
        shown, rest = ordered[:k], ordered[k:]
        assert movie_ids[onboarding.revealed[i]].tolist() == [m for _, m, _ in shown]
        assert onboarding.stamps[i] == max(t for t, _, _ in shown)
        liked = sorted(m for _, m, r in rest if r >= 4)
        assert movie_ids[onboarding.relevant[i].indices].sort_values().tolist() == liked
        assert prepared_new.data.users["user_id"].iloc[onboarding.user_rows[i]] == user


def test_the_ranking_leaves_the_revealed_movies_out_and_scores_a_perfect_ranker_one(prepared_new):
    onboarding = newuser.onboard(prepared_new, 5)
    n = len(prepared_new.data.movies)
    relevant = onboarding.relevant.toarray()
    revealed = onboarding.revealed_matrix(n).toarray()

    def perfect(people):  # relevant movies first; revealed movies above everything, to show they are left out
        return relevant[people] * 1.0 + revealed[people] * 10.0

    result = newuser.rank(onboarding, perfect, n)
    assert result["users"] == int(relevant.any(axis=1).sum()) > 0
    assert result["full_ndcg@10"] == pytest.approx(1.0) and result["full_hit@10"] == 1.0
    worst = newuser.rank(onboarding, lambda people: -1.0 * relevant[people], n)
    assert worst["full_hit@10"] < 1.0


def test_per_person_numbers_are_the_people_and_values_rank_averages(prepared_new):
    onboarding = newuser.onboard(prepared_new, 5)
    n = len(prepared_new.data.movies)
    relevant = onboarding.relevant.toarray()
    scorings = {"perfect": lambda people: relevant[people] * 1.0,
                "wavy": lambda people: np.sin(np.arange(n)[None, :] * 3.0 + people[:, None])}  # fmt: skip
    for score in scorings.values():
        ndcg, hit = newuser.rank_per_person(onboarding, score, n)
        result = newuser.rank(onboarding, score, n)
        assert len(ndcg) == len(hit) == result["users"] == int(relevant.any(axis=1).sum())
        assert ndcg.mean() == pytest.approx(result["full_ndcg@10"]) and hit.mean() == result["full_hit@10"]
    assert newuser.rank_per_person(onboarding, scorings["perfect"], n)[0] == pytest.approx(1.0)


def test_baselines_are_training_popularity_and_ease_folded_in_on_the_revealed_movies(prepared_new):
    onboarding = newuser.onboard(prepared_new, 5)
    scorers = newuser.Baselines.fit(prepared_new, ease_l2=100.0).scorers(onboarding)
    catalogue = prepared_new.data.movies["movie_id"].to_numpy()
    ease = baselines.EASE(prepared_new.split.train, prepared_new.data.users["user_id"].to_numpy(), catalogue, 100.0)
    got = scorers["ease"](np.arange(3))
    for i in range(3):
        np.testing.assert_allclose(got[i], ease.score_history(onboarding.revealed[i]), rtol=1e-5, atol=1e-6)
    counts = prepared_new.split.train["movie_id"].value_counts().reindex(catalogue).fillna(0).to_numpy()
    popularity = scorers["popularity"](np.arange(2))
    assert (np.argsort(-popularity[0], kind="stable")[:5] == np.argsort(-counts, kind="stable")[:5]).all()
    assert "ease_graded" not in scorers
    # Graded EASE folds in each revealed movie by its stars' cell: a disliked one counts the weight, a liked one 1.
    fitted = newuser.Baselines.fit(prepared_new, ease_l2=100.0, graded=(60.0, 0.25))
    graded = fitted.scorers(onboarding)["ease_graded"]
    model = baselines.EASE(prepared_new.split.train, prepared_new.data.users["user_id"].to_numpy(), catalogue, 60.0,
                           0.25)  # fmt: skip
    stars = np.concatenate(onboarding.stars[:3])
    assert set(stars.tolist()) & {1, 2, 3} and set(stars.tolist()) & {4, 5}  # both kinds of cell occur
    got = graded(np.arange(3))
    for i in range(3):
        cells = np.where(onboarding.stars[i] >= 4, 1.0, 0.25)
        np.testing.assert_allclose(got[i], cells @ model.weights[onboarding.revealed[i]], rtol=1e-5, atol=1e-6)
    # Fitted once, they fold in any other onboarding (the protocol's every K and both groups of people).
    later = newuser.onboard(prepared_new, 10, "validation")
    scorers = fitted.scorers(later)
    got, got_graded = scorers["ease"](np.arange(3)), scorers["ease_graded"](np.arange(3))
    for i in range(3):
        assert len(later.revealed[i]) == 10
        np.testing.assert_allclose(got[i], ease.score_history(later.revealed[i]), rtol=1e-5, atol=1e-6)
        cells = np.where(later.stars[i] >= 4, 1.0, 0.25)
        np.testing.assert_allclose(got_graded[i], cells @ model.weights[later.revealed[i]], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(scorers["popularity"](np.arange(2)), popularity)


@pytest.mark.parametrize("pooling", ["mean", "attention"])
def test_the_model_reads_the_revealed_movies_as_history_with_the_unknown_user_id(prepared_new, pooling):
    from model_fixtures import randomised

    model = randomised(models.create("autointp", prepared_new.vocab_sizes, seed=0, embedding_dim=4,
                                     attention_layers=1, num_heads=1, attention_dim=4, dnn_units=[8],
                                     history_length=8, history_pooling=pooling), seed=1)  # fmt: skip
    onboarding = newuser.onboard(prepared_new, 5)
    got = newuser.model_scores(model, prepared_new, onboarding)(np.array([0, 2]))
    encoder, movies = prepared_new.encoder, prepared_new.data.movies
    movie_codes = encoder.encode_movies(movies)
    for row, person in enumerate([0, 2]):
        user = encoder.encode_users(prepared_new.data.users.iloc[[onboarding.user_rows[person]]])
        assert user[0, 0] == 0  # never seen: the unknown user's row
        year, month = np.datetime64(int(onboarding.stamps[person]), "s").astype(object).timetuple()[:2]
        rows = encoder.assemble(np.repeat(user, len(movies), 0), movie_codes,
                                np.repeat(encoder.encode_context([year], [month]), len(movies), 0))  # fmt: skip
        past = Histories.for_movie_codes(movie_codes[onboarding.revealed[person], 0], 8)
        assert (past != 0).sum() == 5
        direct = model({"codes": rows, "history": np.repeat(past[None], len(rows), 0)})
        np.testing.assert_allclose(got[row], log_ranked(np.asarray(direct)), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("disliked_weight", [1.0, 0.5])
def test_a_stacked_model_reads_ease_fitted_on_train_and_folded_in_on_the_revealed_movies(prepared_new, disliked_weight):
    from model_fixtures import randomised

    model = randomised(models.create("autointp", prepared_new.vocab_sizes, seed=0, embedding_dim=4,
                                     attention_layers=1, num_heads=1, attention_dim=4, dnn_units=[8],
                                     history_length=8, history_pooling="attention", ease_l2=40.0,
                                     ease_disliked_weight=disliked_weight), seed=4)  # fmt: skip
    onboarding = newuser.onboard(prepared_new, 5)
    got = newuser.model_scores(model, prepared_new, onboarding)(np.array([1]))
    encoder, movies = prepared_new.encoder, prepared_new.data.movies
    catalogue = movies["movie_id"].to_numpy()
    ease = baselines.EASE(prepared_new.split.train, prepared_new.data.users["user_id"].to_numpy(), catalogue, 40.0,
                          disliked_weight)  # fmt: skip
    cells = np.where(onboarding.stars[1] >= 4, 1.0, disliked_weight)  # the revealed movies' stars, graded
    assert disliked_weight == 1 or (cells < 1).any()
    prior = cells @ ease.weights[onboarding.revealed[1]]
    assert np.abs(prior).max() > 0
    movie_codes = encoder.encode_movies(movies)
    user = encoder.encode_users(prepared_new.data.users.iloc[[onboarding.user_rows[1]]])
    year, month = np.datetime64(int(onboarding.stamps[1]), "s").astype(object).timetuple()[:2]
    rows = encoder.assemble(np.repeat(user, len(movies), 0), movie_codes,
                            np.repeat(encoder.encode_context([year], [month]), len(movies), 0))  # fmt: skip
    past = Histories.for_movie_codes(movie_codes[onboarding.revealed[1], 0], 8)
    direct = model({"codes": rows, "history": np.repeat(past[None], len(rows), 0), "prior": prior.astype("float32")})
    np.testing.assert_allclose(got[0], log_ranked(np.asarray(direct)), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("ease_l2", [40.0, 0.0])  # a stacked network, and one without a prior (no_prior)
def test_every_ranking_rule_ranks_from_one_pass_as_a_model_with_that_rule_does(prepared_new, ease_l2):
    from model_fixtures import randomised

    from movierec.scoring import set_ranking_rule

    model = randomised(models.create("autointp", prepared_new.vocab_sizes, seed=0, embedding_dim=4,
                                     attention_layers=1, num_heads=1, attention_dim=4, dnn_units=[8],
                                     history_length=8, history_pooling="attention", ease_l2=ease_l2,
                                     ease_disliked_weight=0.5), seed=4)  # fmt: skip
    onboarding, n_movies = newuser.onboard(prepared_new, 5, "validation"), len(prepared_new.data.movies)
    rules = [(1.0, 1.0), (0.0, 6.0), (0.5, 0.0)] if ease_l2 else [(1.0, 1.0), (0.0, 1.0), (0.5, 1.0)]
    score = newuser.model_scores(model, prepared_new, onboarding)
    together = newuser.rank_rules(onboarding, lambda people: score(people, terms=True), rules, n_movies)
    assert list(together) == rules
    for rule in rules:
        set_ranking_rule(model, rule)  # a scorer built now compiles this rule in
        alone = newuser.rank(onboarding, newuser.model_scores(model, prepared_new, onboarding), n_movies)
        assert together[rule]["users"] == alone["users"] > 0
        assert together[rule]["full_ndcg@10"] == pytest.approx(alone["full_ndcg@10"], abs=1e-6)
        assert together[rule]["full_hit@10"] == pytest.approx(alone["full_hit@10"], abs=1e-6)
    assert len({round(r["full_ndcg@10"], 6) for r in together.values()}) > 1  # the rules rank differently here


def test_the_power_is_chosen_on_the_validation_people_and_ties_go_to_the_prior_as_trained(prepared_new):
    from model_fixtures import randomised

    from movierec.prior import EasePrior

    assert newuser.best_power({-1.0: 0.3, 0.0: 0.3, 1.0: 0.2}) == 0.0
    assert newuser.best_power({-1.0: 0.3, 1.0: 0.3, 2.0: 0.1}) == -1.0
    assert newuser.best_power({-1.0: 0.1, 0.5: 0.2, 2.0: 0.4}) == 2.0
    model = randomised(models.create("autointp", prepared_new.vocab_sizes, seed=0, embedding_dim=4,
                                     attention_layers=1, num_heads=1, attention_dim=4, dnn_units=[8],
                                     history_length=8, history_pooling="attention", ease_l2=40.0), seed=4)  # fmt: skip
    prior = EasePrior.of_parts(prepared_new, ["train"], 40.0)
    chosen, grid = newuser.choose_profile_power(prepared_new, model, prior, reveal=(5,), powers=(0.0, 2.0))
    assert set(grid) == {"0.0", "2.0"} and chosen in (0.0, 2.0)
    # The test people play no part: scrambling their ratings changes neither the grid nor the choice.
    test = prepared_new.split.test.copy()
    test["rating"] = 6 - test["rating"]
    test["timestamp"] = test["timestamp"].to_numpy()[::-1]
    scrambled = dataclasses.replace(prepared_new, split=dataclasses.replace(prepared_new.split, test=test))
    assert newuser.choose_profile_power(scrambled, model, prior, reveal=(5,), powers=(0.0, 2.0)) == (chosen, grid)


def test_the_recomputed_training_median_is_the_reference_a_run_rescales_towards(ml1m, prepared_new):
    from movierec.prior import EasePrior

    assert newuser.training_median(ml1m) == EasePrior.of_parts(prepared_new, ["train"], 40.0).fitted_median


def test_the_validation_people_onboard_like_the_test_people(prepared_new):
    onboarding = newuser.onboard(prepared_new, 5, "validation")
    people = np.sort(prepared_new.split.new_validation["user_id"].unique())
    assert len(onboarding.revealed) == len(people) and all(len(r) == 5 for r in onboarding.revealed)
    assert prepared_new.data.users["user_id"].iloc[onboarding.user_rows].tolist() == people.tolist()
    with pytest.raises(ValueError, match="people is one of"):
        newuser.onboard(prepared_new, 5, "everyone")


@pytest.mark.parametrize("share", [0.0, 0.001, 0.5, 1.0])
def test_a_share_that_leaves_no_new_or_no_known_people_is_an_error(ml1m, share):
    with pytest.raises(ValueError, match="leaves no new people or too few known ones"):
        new_user_split(ml1m.ratings, share=share)


def test_the_network_for_newcomers_is_chosen_on_the_validation_table_alone():
    def table(model, no_prior):
        return {k: {"model": {"full_ndcg@10": model}, "no_prior": {"full_ndcg@10": no_prior}} for k in ("5", "10")}

    chosen, means = newuser.choose_network(table(0.30, 0.35), ["model", "no_prior"])
    assert (chosen, means) == ("no_prior", {"model": 0.30, "no_prior": 0.35})
    assert newuser.choose_network(table(0.35, 0.30), ["model", "no_prior"])[0] == "model"
    tie = table(0.30, 0.30)
    assert newuser.choose_network(tie, ["no_prior", "model"])[0] == "model"  # a tie keeps the shipped kind
    mixed = table(0.30, 0.35)
    mixed["10"]["model"]["full_ndcg@10"] = 0.50  # the mean over K decides, not one K
    chosen, means = newuser.choose_network(mixed, ["model", "no_prior"])
    assert chosen == "model" and means == pytest.approx({"model": 0.40, "no_prior": 0.35})
    assert newuser.MAY_SERVE_NEWCOMERS == ("model", "no_prior", "newcomer")  # one that ignores ratings never serves
    with pytest.raises(ValueError, match="no network"):
        newuser.choose_network(mixed, [])
