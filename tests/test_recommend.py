"""The ranking function behind the app, on fixture data and a small untrained model."""

import numpy as np
import pytest

from movierec import models
from movierec.recommend import Profile, Recommender, UnknownMovieError, UnknownUserError, readable_title


@pytest.fixture(scope="module")
def recommender(ml1m, prepared):
    model = models.create("autointp", prepared.encoder.vocab_sizes, seed=0, embedding_dim=4, attention_layers=2,
                          num_heads=2, attention_dim=2, dnn_units=[8])  # fmt: skip
    return Recommender(model, prepared.encoder, ml1m)


def test_rank_order_equals_sorting_by_the_models_own_scores(recommender, ml1m):
    profile = recommender.profile(3)
    year, month = recommender.latest
    top = recommender.rank(profile, year, month, n=500)
    # score every unseen movie with a direct model call, independently of rank()
    user_codes = recommender.encoder.encode_users(ml1m.users[ml1m.users["user_id"] == 3])
    context = recommender.encoder.encode_context([year], [month])
    codes = recommender.encoder.assemble(
        np.repeat(user_codes, len(ml1m.movies), 0), recommender.encoder.encode_movies(ml1m.movies),
        np.repeat(context, len(ml1m.movies), 0),
    )  # fmt: skip
    outputs = np.asarray(recommender.model(codes))
    assert outputs.shape == (len(ml1m.movies), 2)  # P(like | rated), P(rated)
    direct = outputs[:, 0] * outputs[:, 1]  # what a recommendation ranks by
    rated = set(ml1m.ratings.loc[ml1m.ratings["user_id"] == 3, "movie_id"])
    unseen = [(-s, m) for s, m in zip(direct, ml1m.movies["movie_id"], strict=True) if m not in rated]
    expected = [m for _, m in sorted(unseen)]
    assert top["movie_id"].tolist() == expected
    np.testing.assert_allclose(top["score"], -np.sort([s for s, _ in unseen]), rtol=1e-5)


def test_rated_movies_never_appear(recommender, ml1m):
    for user_id in ml1m.users["user_id"].head(10):
        top = recommender.rank(recommender.profile(int(user_id)), 2001, 5, n=50)
        rated = set(ml1m.ratings.loc[ml1m.ratings["user_id"] == user_id, "movie_id"])
        assert not set(top["movie_id"]) & rated


def test_ties_break_by_movie_id(recommender, monkeypatch):
    monkeypatch.setattr(recommender, "scores", lambda *a: np.zeros(len(recommender.movies), dtype=np.float32))
    top = recommender.rank(Profile("F", 25, "writer", "12345"), 2001, 5, n=20)
    assert top["movie_id"].tolist() == sorted(top["movie_id"].tolist())


def test_filters_by_genre_and_decade_and_score_only_what_they_allow(recommender):
    top = recommender.rank(recommender.profile(2), 2001, 5, n=50, genres=["Comedy", "Drama"], decades=[1990])
    assert len(top) > 0
    assert all({"Comedy", "Drama"} & set(g.split("|")) for g in top["genres"])
    assert all(1990 <= year < 2000 for year in top["year"])
    everything = recommender.rank(recommender.profile(2), 2001, 5, n=500)
    assert len(everything) < 500  # the fixture catalogue is smaller: every unseen movie is listed
    wanted = everything["genres"].map(lambda g: bool({"Comedy", "Drama"} & set(g.split("|"))))
    wanted &= everything["year"].between(1990, 1999)
    assert top["movie_id"].tolist() == everything.loc[wanted, "movie_id"].head(50).tolist()


def test_new_profile_uses_the_unknown_user_and_has_no_history(recommender):
    profile = Profile("M", 35, "farmer", "not-a-zip")
    assert recommender.history(profile).empty
    top = recommender.rank(profile, 2001, 5, n=10)
    assert len(top) == 10
    reasons = recommender.reasons(profile, top["movie_id"].tolist(), 2001, 5)
    assert len(reasons) == 10 and not any("new user" in r or "not-a-zip" in r for r in reasons)


def test_attention_rows_sum_to_one(recommender):
    weights = recommender.attention(recommender.profile(1), [1, 2, 3], 2001, 5)
    assert weights.shape == (3, 14, 14)
    np.testing.assert_allclose(weights.sum(-1), 1.0, rtol=1e-5)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda r: r.profile(10**6), UnknownUserError, "user 1000000 is not in"),
        (lambda r: r.rank(r.profile(1), 2001, 13), ValueError, "month must be 1-12"),
        (lambda r: r.rank(r.profile(1), 1990, 5), ValueError, "within the data's years"),
        (lambda r: r.rank(r.profile(1), 2001, 5, n=0), ValueError, "n must be"),
        (lambda r: r.rank(r.profile(1), 2001, 5, genres=["Drama", "Polka"]), ValueError, r"unknown genres \['Polka'\]"),
        (lambda r: r.attention(r.profile(1), [10**6], 2001, 5), KeyError, "not in the catalogue"),
        (lambda r: Profile("X", 25, "writer", "1"), ValueError, "gender"),
        (lambda r: Profile("F", 26, "writer", "1"), ValueError, "bracket"),
    ],
)
def test_bad_input_gets_a_specific_error(recommender, call, error, message):
    with pytest.raises(error, match=message):
        call(recommender)


@pytest.mark.parametrize("disliked_weight", [1.0, 0.5])
def test_a_stacked_model_ranks_with_the_ease_prior_of_every_rating_in_the_data(ml1m, prepared, disliked_weight):
    from model_fixtures import log_ranked, randomised

    from movierec import baselines

    model = randomised(models.create("autointp", prepared.encoder.vocab_sizes, seed=0, embedding_dim=4,
                                     attention_layers=1, num_heads=1, attention_dim=4, dnn_units=[8],
                                     ease_l2=30.0, ease_disliked_weight=disliked_weight), seed=3)  # fmt: skip
    rec = Recommender(model, prepared.encoder, ml1m)
    profile, year, month = rec.profile(3), *rec.latest
    prior = rec.prior_scores(profile)
    # EASE (graded as the model's prior is) fitted on every rating the app knows, scored for the user's rated set.
    ease = baselines.EASE(ml1m.ratings, ml1m.users["user_id"].to_numpy(), ml1m.movies["movie_id"].to_numpy(), 30.0,
                          disliked_weight)  # fmt: skip
    np.testing.assert_allclose(prior[0], ease.score_rows(np.array([2]))[0], rtol=1e-4, atol=1e-5)
    codes = rec.encoder.assemble(
        np.repeat(rec.encoder.encode_users(ml1m.users[ml1m.users["user_id"] == 3]), len(ml1m.movies), 0),
        rec.encoder.encode_movies(ml1m.movies),
        np.repeat(rec.encoder.encode_context([year], [month]), len(ml1m.movies), 0),
    )
    direct = log_ranked(np.asarray(model({"codes": codes, "prior": prior[0]})))
    np.testing.assert_allclose(rec.scores(profile, year, month), direct, rtol=1e-5, atol=1e-6)
    assert rec.attention(profile, [int(ml1m.movies["movie_id"].iloc[0])], year, month).shape == (1, 14, 14)
    # A new person has rated nothing: every prior is 0. An unknown user id is an error.
    new = Profile(profile.gender, profile.age, profile.occupation, profile.zip)
    assert not rec.prior_scores(new).any()
    with pytest.raises(UnknownUserError, match="user 999999 is not in"):
        rec.prior_scores(Profile(profile.gender, profile.age, profile.occupation, profile.zip, user_id=999999))
    assert len(rec.rank(new, year, month, n=5)) == 5
    # The next start reads the stored B (mapped, not refitted) and ranks exactly alike.
    again = Recommender(model, prepared.encoder, ml1m)
    assert isinstance(again._prior.weights, np.memmap)
    np.testing.assert_array_equal(again.scores(profile, year, month), rec.scores(profile, year, month))


def test_a_newcomers_prior_is_rescaled_for_their_few_ratings_and_a_known_users_never(ml1m, prepared):
    from model_fixtures import randomised

    model = randomised(models.create("autointp", prepared.encoder.vocab_sizes, seed=0, embedding_dim=4,
                                     attention_layers=1, num_heads=1, attention_dim=4, dnn_units=[8],
                                     ease_l2=30.0, prior_profile_power=1.0, prior_profile_reference=40.0),
                       seed=3)  # fmt: skip
    plain = randomised(models.create("autointp", prepared.encoder.vocab_sizes, seed=0, embedding_dim=4,
                                     attention_layers=1, num_heads=1, attention_dim=4, dnn_units=[8],
                                     ease_l2=30.0), seed=3)  # fmt: skip
    rec, unscaled = Recommender(model, prepared.encoder, ml1m), Recommender(plain, prepared.encoder, ml1m)
    rated = {int(m): 5 for m in ml1m.movies["movie_id"].iloc[:4]}
    visitor = Profile("F", 25, "writer", "").with_ratings(rated)
    np.testing.assert_allclose(rec.prior_scores(visitor), unscaled.prior_scores(visitor) * 40.0 / 4, rtol=1e-5)
    known = rec.profile(3).with_ratings(rated)
    np.testing.assert_array_equal(rec.prior_scores(known), unscaled.prior_scores(known))
    np.testing.assert_array_equal(rec.prior_scores(rec.profile(3)), unscaled.prior_scores(rec.profile(3)))


@pytest.mark.parametrize("pooling", ["mean", "attention"])
def test_a_history_aware_model_ranks_with_the_persons_rated_movies(ml1m, prepared, pooling):
    from model_fixtures import log_ranked, randomised

    from movierec.history import Histories

    model = randomised(models.create("autointp", prepared.encoder.vocab_sizes, seed=0, embedding_dim=4,
                                     attention_layers=1, num_heads=1, attention_dim=4, dnn_units=[8],
                                     history_length=10, history_pooling=pooling), seed=2)  # fmt: skip
    rec = Recommender(model, prepared.encoder, ml1m)
    profile, year, month = rec.profile(3), *rec.latest
    past = rec.history_codes(profile)
    # The most recent 10 of every rating the user has in the data (serving sees them all).
    expected = Histories.from_ratings(ml1m.ratings, prepared.user_index, prepared.encoder, 10).codes[[2]]
    np.testing.assert_array_equal(past, expected)
    assert (past != 0).sum() == min(10, (ml1m.ratings["user_id"] == 3).sum())
    scores = rec.scores(profile, year, month)
    codes = rec.encoder.assemble(
        np.repeat(rec.encoder.encode_users(ml1m.users[ml1m.users["user_id"] == 3]), len(ml1m.movies), 0),
        rec.encoder.encode_movies(ml1m.movies),
        np.repeat(rec.encoder.encode_context([year], [month]), len(ml1m.movies), 0),
    )
    direct = log_ranked(np.asarray(model({"codes": codes, "history": np.repeat(past, len(codes), 0)})))
    np.testing.assert_allclose(scores, direct, rtol=1e-5, atol=1e-6)
    # The history matters: the same rows with nothing rated score differently.
    empty = log_ranked(np.asarray(model({"codes": codes, "history": np.zeros((len(codes), 10), np.int32)})))
    assert not np.allclose(scores, empty, rtol=1e-3)
    # A new person has rated nothing yet; a user id the data does not hold is an error, not an empty history.
    assert not (rec.history_codes(Profile(profile.gender, profile.age, profile.occupation, profile.zip)) != 0).any()
    with pytest.raises(UnknownUserError, match="user 999999 is not in"):
        rec.history_codes(Profile(profile.gender, profile.age, profile.occupation, profile.zip, user_id=999999))
    attention = rec.attention(profile, [int(ml1m.movies["movie_id"].iloc[0])], year, month)
    assert attention.shape == (1, 15, 15) and len(rec.field_values(profile, 1, year, month)) == 15


# ------------------------------------------------------------------ ratings given here


def test_a_profile_keeps_its_ratings_in_order_and_a_new_rating_of_a_movie_replaces_the_old():
    profile = Profile("F", 25, "writer", "12345").rate(10, 5).rate(20, 2).rate(10, 4)
    assert profile.rated == ((20, 2), (10, 4))
    assert profile.person == Profile("F", 25, "writer", "12345")
    with pytest.raises(ValueError, match="a rating is 1 to 5 stars, got 6"):
        profile.rate(30, 6)
    assert Profile("F", 25, "writer", "", rated=((1, 5), (2, 3), (1, 4))).rated == ((2, 3), (1, 4))
    for bad, message in (((1, 4.7), "stars is a whole number, got 4.7"), ((1, True), "stars is a whole number"),
                         (("1", 5), "a movie id is a whole number, got '1'")):  # fmt: skip
        with pytest.raises(ValueError, match=message):
            Profile("F", 25, "writer", "", rated=(bad,))


@pytest.fixture(scope="module")
def stacked(ml1m, prepared):
    """A history-aware (attention) model with an EASE prior, random weights: every input a visitor changes."""
    from model_fixtures import randomised

    model = randomised(models.create("autointp", prepared.encoder.vocab_sizes, seed=0, embedding_dim=4,
                                     attention_layers=1, num_heads=1, attention_dim=4, dnn_units=[8],
                                     history_length=6, history_pooling="attention", ease_l2=30.0,
                                     ease_disliked_weight=0.5), seed=5)  # fmt: skip
    return Recommender(model, prepared.encoder, ml1m)


def test_ratings_given_here_are_the_newest_history_join_the_prior_and_leave_the_ranking(stacked, ml1m):
    rec = stacked
    movie_ids = ml1m.movies["movie_id"].to_numpy()
    code = dict(zip(movie_ids, rec.scorer.candidate_codes, strict=True))
    visitor = Profile("M", 35, "programmer", "").rate(int(movie_ids[4]), 5).rate(int(movie_ids[9]), 2)
    # A new person's history is what they rated here, newest first.
    assert rec.history_codes(visitor)[0].tolist() == [code[movie_ids[9]], code[movie_ids[4]], 0, 0, 0, 0]
    # An existing user's: the data's most recent, with the ones rated here in front (a re-rated movie moves).
    user = rec.profile(3)
    before = rec.history_codes(user)[0]
    again = int(rec._movie_of_code[before[2]])
    unseen = int(next(m for m in movie_ids if m not in rec.stars(user)))
    added = user.rate(again, 5).rate(unseen, 4)
    after = rec.history_codes(added)[0]
    assert after[:2].tolist() == [code[unseen], code[again]]
    assert after[2:].tolist() == [c for c in before if c != code[again]][:4]
    # The prior is EASE folded in on everything the person rated, in the data and here, each movie by the cell of
    # its latest stars (the model's prior counts a disliked movie half).
    stars = rec.stars(added)
    rated_codes, cells = [code[m] for m in stars], np.where(np.array(list(stars.values())) >= 4, 1.0, 0.5)
    expected = rec._prior.scores_of_codes(rated_codes, rec.scorer.candidate_codes, cells)
    np.testing.assert_allclose(rec.prior_scores(added)[0], expected, rtol=1e-5, atol=1e-6)
    unweighted = rec._prior.scores_of_codes(rated_codes, rec.scorer.candidate_codes)
    assert np.abs(rec.prior_scores(added)[0] - unweighted).max() > 1e-4  # the stars count
    # A visitor's prior folds in their stars' cells too: a 2-star movie counts half a 5-star one.
    two = rec._prior.scores_of_codes([code[movie_ids[4]], code[movie_ids[9]]], rec.scorer.candidate_codes, [1.0, 0.5])
    np.testing.assert_allclose(rec.prior_scores(visitor)[0], two * rec._prior.profile_scale(2), rtol=1e-5, atol=1e-6)
    assert not np.allclose(rec.prior_scores(added), rec.prior_scores(user))
    assert rec.stars(added)[again] == 5  # a rating given here overrides the data's
    # What was rated here is never recommended, and the ranking follows the ratings.
    year, month = rec.latest
    top = rec.rank(visitor, year, month, n=500)
    assert not {int(movie_ids[4]), int(movie_ids[9])} & set(top["movie_id"])
    assert not np.allclose(rec.scores(visitor, year, month), rec.scores(visitor.person, year, month))
    with pytest.raises(UnknownMovieError, match="movie 999999 is not in"):
        rec.history_codes(visitor.rate(999999, 5))


def test_because_names_liked_movies_by_their_share_of_the_score(stacked, ml1m, prepared):
    """With a prior, by each liked movie's exact EASE term; with an attention-pooled history alone, by its weight."""
    from model_fixtures import randomised

    movie_ids = [int(m) for m in ml1m.movies["movie_id"].head(12)]
    visitor = Profile("F", 18, "artist", "").rate(movie_ids[0], 5).rate(movie_ids[1], 1).rate(movie_ids[2], 4)
    picks = movie_ids[5:10]
    year, month = stacked.latest
    liked = {movie_ids[0], movie_ids[2]}
    code = dict(zip(ml1m.movies["movie_id"].astype(int), stacked.scorer.candidate_codes, strict=True))
    for pick, reasons in zip(picks, stacked.because(visitor, picks, year, month, k=3), strict=True):
        terms = {m: stacked._prior.weights[code[m], code[pick]] for m in liked}
        assert reasons == sorted((m for m in liked if terms[m] > 0), key=lambda m: -terms[m])  # never the 1-star one
    # Counting every rating (min_stars 1), each movie's term is its cell times B: the 1-star one counts half.
    cell = {movie_ids[0]: 1.0, movie_ids[1]: 0.5, movie_ids[2]: 1.0}
    for pick, reasons in zip(picks, stacked.because(visitor, picks, year, month, k=3, min_stars=1), strict=True):
        terms = {m: c * stacked._prior.weights[code[m], code[pick]] for m, c in cell.items()}
        assert reasons == sorted((m for m in cell if terms[m] > 0), key=lambda m: -terms[m])
    attending = Recommender(
        randomised(models.create("autointp", prepared.encoder.vocab_sizes, seed=0, embedding_dim=4,
                                 attention_layers=1, num_heads=1, attention_dim=4, dnn_units=[8],
                                 history_length=6, history_pooling="attention"), seed=6),
        prepared.encoder, ml1m,
    )  # fmt: skip
    because = attending.because(visitor, picks, year, month, k=3)
    inputs = attending.model_inputs(visitor, picks, year, month)
    weights = np.asarray(attending.model.history_weights(inputs))
    slot = {int(attending._movie_of_code[c]): i for i, c in enumerate(inputs["history"][0]) if c}
    for row, reasons in zip(weights, because, strict=True):
        assert sorted(reasons) == sorted(liked)  # liked (4-5 stars) only, by weight, never the 1
        assert [row[slot[m]] for m in reasons] == sorted((row[slot[m]] for m in reasons), reverse=True)
    assert attending.because(visitor.person, picks, year, month) == [[]] * 5  # nothing rated: no reason
    assert stacked.because(visitor.person, picks, year, month) == [[]] * 5


@pytest.mark.parametrize(
    ("grouplens", "readable"),
    [
        ("Shawshank Redemption, The (1994)", "The Shawshank Redemption"),
        ("Bug's Life, A (1998)", "A Bug's Life"),
        ("Postino, Il (The Postman) (1994)", "Il Postino (The Postman)"),
        ("Star Maker, The (Uomo delle stelle, L') (1995)", "The Star Maker (L'Uomo delle stelle)"),
        ("Et Dieu&#8230;créa la femme (1956)", "Et Dieu…créa la femme"),
        ("Wallace & Gromit: The Best of Aardman Animation (1996)", "Wallace & Gromit: The Best of Aardman Animation"),
        ("1900 (1976)", "1900"),
        ("Untitled", "Untitled"),
    ],
)
def test_titles_read_as_people_write_them(grouplens, readable):
    assert readable_title(grouplens) == readable


def test_a_ranking_lists_the_readable_title_beside_grouplens_own(recommender):
    top = recommender.rank(recommender.profile(3), *recommender.latest, n=5)
    assert [readable_title(t) for t in top["title"]] == top["name"].tolist()


def test_match_is_the_share_of_unseen_movies_scoring_no_higher(recommender):
    profile = recommender.profile(3)
    year, month = recommender.latest
    top = recommender.rank(profile, year, month, n=500)
    assert top["match"].iloc[0] == 1.0 and top["match"].is_monotonic_decreasing
    scores = top["score"].to_numpy()
    np.testing.assert_allclose(top["match"], [(scores <= s).mean() for s in scores])
    filtered = recommender.rank(profile, year, month, n=5, genres=["Comedy"])
    expected = top.set_index("movie_id").loc[filtered["movie_id"], "match"].to_numpy()
    np.testing.assert_allclose(filtered["match"], expected)  # against every unseen movie, not the filtered ones


def test_audience_reasons_are_true_of_the_data_and_never_name_an_id_or_zip(stacked, ml1m):
    from movierec.recommend import MIN_AUDIENCE, POPULAR_LIFT, audience_name

    rec = stacked
    ratings = ml1m.ratings.merge(ml1m.users, on="user_id")
    said = 0
    for movie_id in ml1m.movies["movie_id"].head(40):
        for gender in ("F", "M"):
            profile = Profile(gender, 25, "programmer", "")
            sentence = rec.audience(profile, int(movie_id), ["gender"])
            group = ml1m.users[ml1m.users["gender"] == gender]
            share = (ratings[(ratings["movie_id"] == movie_id) & (ratings["gender"] == gender)]["user_id"].nunique()
                     / len(group))  # fmt: skip
            overall = (ratings["movie_id"] == movie_id).sum() / len(ml1m.users)
            popular = len(group) >= MIN_AUDIENCE and overall > 0 and share >= POPULAR_LIFT * overall
            assert bool(sentence) == popular
            if sentence:
                said += 1
                shown = f"{share:.0%}" if share >= 0.1 else f"{share:.1%}"
                assert sentence.startswith(f"More popular with {audience_name('gender', gender)}: {shown} of them")
    assert said > 0
    visitor = Profile("F", 25, "programmer", "12345").rate(int(ml1m.movies["movie_id"].iloc[0]), 5)
    picks = rec.rank(visitor, *rec.latest, n=8)["movie_id"].tolist()
    reasons = rec.reasons(visitor, picks, *rec.latest)
    assert len(reasons) == 8 and any(reasons)
    assert not any("12345" in r or "user" in r for r in reasons)
    assert all(r.startswith(("Because you liked", "More popular with")) or r == "" for r in reasons)


def test_search_lists_the_most_rated_first_and_starters_are_popular_and_varied(recommender, ml1m):
    counts = ml1m.ratings["movie_id"].value_counts()
    order = recommender.search_order()
    assert sorted(order) == sorted(ml1m.movies["movie_id"].astype(int))
    assert [counts.get(m, 0) for m in order] == sorted((counts.get(m, 0) for m in order), reverse=True)
    assert len(recommender.starters()) == 24
    starters = recommender.starters(size=8)
    assert len(starters) == len(set(starters)) == 8
    genres = dict(zip(ml1m.movies["movie_id"], ml1m.movies["genres"].str.split("|"), strict=True))
    first_round = []
    for movie in starters:  # the first round shares no genre; a later round starts when none is left
        if any(set(genres[movie]) & set(genres[m]) for m in first_round):
            break
        first_round.append(movie)
    assert len(first_round) >= 2 and starters[0] == order[0]


def test_the_audience_table_is_published_only_when_complete(recommender, ml1m, monkeypatch):
    """The app's sessions and its preloading thread share one recommender: none may read a half-built table."""
    from movierec import recommend

    fresh = Recommender(recommender.model, recommender.encoder, ml1m)
    seen = []

    class Watched(tuple):
        def __iter__(self):
            for field in tuple.__iter__(self):
                yield field
                seen.append(fresh._audience)  # what another thread reads while this one is still building

    monkeypatch.setattr(recommend, "AUDIENCE_FIELDS", Watched(recommend.AUDIENCE_FIELDS))
    built = fresh._audiences()
    assert len(seen) == len(recommend.AUDIENCE_FIELDS) and all(table is None for table in seen)
    assert set(built) == set(recommend.AUDIENCE_FIELDS) and fresh._audience is built
