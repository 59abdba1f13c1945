"""Sampled negatives: never a movie the user rated, fields swapped correctly, drawn as configured."""

import numpy as np
import pytest

from movierec import negatives, training
from movierec.features import FIELD_POSITION, MOVIE_FIELDS, USER_FIELDS
from movierec.interactions import rated_matrix
from movierec.objectives import RatingObjective
from movierec.prior import OutOfFoldPrior


def seen_in(prepared, frame):
    """An independent reference: the rated pairs of ``frame`` as a dense matrix (fine at fixture size)."""
    return rated_matrix(frame, prepared.user_index, prepared.movie_index).toarray()


@pytest.fixture(scope="module")
def sampler(prepared):
    return negatives.NegativeSampler.for_rows(prepared, prepared.split.train)


def test_numpy_sampler_never_returns_a_rated_movie(prepared, sampler):
    frame = prepared.split.train
    rows = prepared.user_index.get_indexer(frame["user_id"])
    movies = sampler.sample_numpy(rows, 5, np.random.default_rng(0))
    assert len(movies) == 5 * len(rows)
    assert not seen_in(prepared, frame)[np.repeat(rows, 5), movies].any()
    assert len(np.unique(movies)) > len(prepared.data.movies) // 2  # spread over the catalogue


def test_pipeline_negatives_are_unrated_movies_with_the_users_fields(prepared):
    settings = training.TrainSettings(batch_size=64, negatives=3, oov_rate=0.0)

    class RatingModel:  # the pipeline only asks the model for its objective's targets
        objective = RatingObjective(ordinal=True, rated_head=True)
        history_length = 0

    frame = prepared.split.train
    dataset = training.training_data(RatingModel(), prepared, ("train",), settings)
    movie_columns = [FIELD_POSITION[f] for f in MOVIE_FIELDS]
    user_columns = [FIELD_POSITION[f] for f in USER_FIELDS]
    user_row = {code: i for i, code in enumerate(prepared.encoder.encode_users(prepared.data.users)[:, 0])}
    movie_row = {tuple(c): i for i, c in enumerate(prepared.encoder.encode_movies(prepared.data.movies))}
    drawn = 0
    for codes, targets in dataset:
        codes, targets = codes.numpy(), targets.numpy()
        n = len(codes) // 4
        assert (targets[:n] > 0).all() and (targets[n:] == 0).all()
        positives, unrated = codes[:n], codes[n:]
        # Each negative keeps its rated row's user and context fields...
        repeated = np.repeat(positives, 3, axis=0)
        other = [c for c in range(codes.shape[1]) if c not in movie_columns]
        np.testing.assert_array_equal(unrated[:, other], repeated[:, other])
        # ...and is a movie that user never rated in the training rows.
        users = [user_row[c] for c in unrated[:, user_columns[0]]]
        movies = [movie_row[tuple(c)] for c in unrated[:, movie_columns]]
        assert not seen_in(prepared, frame)[users, movies].any()
        drawn += len(unrated)
    assert drawn == 3 * len(frame)


def test_popularity_sampling_favours_popular_movies(prepared):
    uniform = negatives.NegativeSampler.for_rows(prepared, prepared.split.train, "uniform")
    popular = negatives.NegativeSampler.for_rows(prepared, prepared.split.train, "popularity")
    counts = prepared.split.train["movie_id"].value_counts()
    rated = prepared.movie_index.get_indexer(counts.index)
    expected = counts.to_numpy() ** negatives.POPULARITY_EXPONENT
    np.testing.assert_allclose(popular.weights[rated], expected / expected.sum())
    assert counts.iloc[0] > counts.iloc[-1]  # so the weights really differ
    unrated = prepared.movie_index.get_indexer(sorted(set(prepared.data.movies["movie_id"]) - set(counts.index)))
    assert (popular.weights[unrated] == 0).all()
    assert uniform.weights.sum() == pytest.approx(1.0) and popular.weights.sum() == pytest.approx(1.0)


def test_the_sparse_rated_pairs_answer_like_the_dense_matrix_for_every_pair(prepared, sampler):
    dense = seen_in(prepared, prepared.split.train)
    users, movies = np.indices(dense.shape)
    np.testing.assert_array_equal(sampler.is_rated(users, movies), dense)
    assert sampler.seen_keys.nbytes == 8 * dense.sum()  # 8 bytes a rated pair, nothing per unrated one
    nobody = negatives.NegativeSampler.for_rows(prepared, prepared.split.train.head(0))
    assert not nobody.is_rated(users, movies).any()
    draw = nobody.graph_sampler(2, (1, 2, 3))  # no rated pair at all: nothing to redraw, and no search off the end
    assert np.asarray(draw(prepared.part("train").codes[:4], np.array([0, 1, 2, 3], np.int32))).shape == (8, 14)


def test_drawn_eagerly_the_graph_sampler_redraws_rated_movies_too(prepared, sampler):
    """Outside tf.data the redraw loop runs eagerly; with 30 of 80 movies rated, most batches need a redraw."""
    frame = prepared.split.train
    rows = prepared.user_index.get_indexer(frame["user_id"])[:200].astype(np.int32)
    draw = sampler.graph_sampler(3, (1, 2, 3))
    codes = np.asarray(draw(prepared.part("train").codes[:200], rows))
    movie_row = {tuple(c): i for i, c in enumerate(prepared.encoder.encode_movies(prepared.data.movies))}
    movies = [movie_row[tuple(c)] for c in codes[:, [FIELD_POSITION[f] for f in MOVIE_FIELDS]]]
    assert not seen_in(prepared, frame)[np.repeat(rows, 3), movies].any()


POOL = 5  # hard candidates per user at fixture size (80 movies)


def draws_both_ways(prepared, sampler, k: int = 4):
    """Every training row's user rows and ``k`` draws for each, as catalogue positions, in NumPy and in the graph."""
    rows = prepared.user_index.get_indexer(prepared.split.train["user_id"]).astype(np.int32)
    by_numpy = sampler.sample_numpy(rows, k, np.random.default_rng(0))
    codes = np.asarray(sampler.graph_sampler(k, (1, 2, 3))(prepared.part("train").codes, rows))
    movie_row = {tuple(c): i for i, c in enumerate(prepared.encoder.encode_movies(prepared.data.movies))}
    by_graph = np.array([movie_row[tuple(c)] for c in codes[:, [FIELD_POSITION[f] for f in MOVIE_FIELDS]]])
    return rows, by_numpy, by_graph


@pytest.fixture(scope="module")
def train_prior(prepared):
    return OutOfFoldPrior.of_parts(prepared, ("train",), 20.0)


def hard_sampler(prepared, prior, share, monkeypatch):
    monkeypatch.setattr(negatives, "HARD_POOL", POOL)
    return negatives.NegativeSampler.for_rows(prepared, prepared.split.train, "uniform", (prior, share))


def test_hard_pools_are_the_priors_best_unrated_movies_as_catalogue_positions(prepared, train_prior, monkeypatch):
    hard = hard_sampler(prepared, train_prior, 0.5, monkeypatch)
    assert hard.hard_pools.shape == (len(prepared.user_index), POOL) and hard.hard_share == 0.5
    codes = prepared.encoder.encode_movie_ids(prepared.data.movies["movie_id"])
    np.testing.assert_array_equal(codes[hard.hard_pools], train_prior.top_unrated(POOL))
    users = np.repeat(np.arange(hard.hard_pools.shape[0]), POOL)
    assert not hard.is_rated(users, hard.hard_pools.reshape(-1)).any()
    assert negatives.NegativeSampler.for_rows(prepared, prepared.split.train).hard_pools is None  # none asked


@pytest.mark.parametrize("share", [1.0, 0.5])
def test_a_share_of_the_negatives_comes_from_the_users_hard_pool_in_numpy_and_in_the_graph(
    prepared, train_prior, monkeypatch, share
):
    hard = hard_sampler(prepared, train_prior, share, monkeypatch)
    frame = prepared.split.train
    rows, by_numpy, by_graph = draws_both_ways(prepared, hard)
    users = np.repeat(rows, 4)
    by_chance = POOL / (len(prepared.data.movies) - 30)  # a uniform draw among a user's ~50 unrated movies
    for movies in (by_numpy, by_graph):
        assert not seen_in(prepared, frame)[users, movies].any()
        in_pool = (hard.hard_pools[users] == movies[:, None]).any(axis=1).mean()
        expected = share + (1 - share) * by_chance
        assert in_pool == pytest.approx(expected, abs=0.04)
        # Within the pool every slot is drawn, not only the first.
        slots = np.argmax(hard.hard_pools[users] == movies[:, None], axis=1)[
            (hard.hard_pools[users] == movies[:, None]).any(axis=1)]  # fmt: skip
        assert np.bincount(slots, minlength=POOL).min() > 0.5 * len(slots) / POOL


def test_hard_negatives_refuse_a_share_out_of_range_or_a_prior_fitted_on_other_rows(prepared, train_prior):
    with pytest.raises(ValueError, match=r"share must be in \(0, 1\], got 1.5"):
        negatives.NegativeSampler.for_rows(prepared, prepared.split.train, "uniform", (train_prior, 1.5))
    other = prepared.split.train.iloc[: len(prepared.split.train) // 2]
    with pytest.raises(ValueError, match="the prior fitted on the same rated rows"):
        negatives.NegativeSampler.for_rows(prepared, other, "uniform", (train_prior, 0.5))
    for bad in (0.0, float("nan")):  # not silently left out
        with pytest.raises(ValueError, match=rf"share must be in \(0, 1\], got {bad}"):
            negatives.NegativeSampler.for_rows(prepared, prepared.split.train, "uniform", (train_prior, bad))
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match=r"hard_negative_share must be in \[0, 1\], got"):
            training.TrainSettings(hard_negative_share=bad)

    class NoPrior:  # the pipeline asks the model for its objective's targets and what it reads
        objective = RatingObjective(ordinal=True, rated_head=True)
        history_length, ease_l2 = 0, 0.0

    with pytest.raises(ValueError, match="a model that reads one"):  # fit and refit alike build this
        training.training_data(NoPrior(), prepared, ("train",), training.TrainSettings(hard_negative_share=0.5))
    with pytest.raises(ValueError, match="they need negatives > 0"):
        training.training_data(NoPrior(), prepared, ("train",), training.TrainSettings(hard_negative_share=0.5,
                                                                                       negatives=0))  # fmt: skip
    training.training_data(NoPrior(), prepared, ("train",), training.TrainSettings())  # the default draws none


def test_rows_trained_as_newcomers_need_a_model_without_a_prior(prepared):
    """A prior is folded in on the whole rated set, which a row trained as a newcomer must not see."""
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match=r"newcomer_share must be in \[0, 1\], got"):
            training.TrainSettings(newcomer_share=bad)

    class Reader:
        objective = RatingObjective(ordinal=True, rated_head=True)
        history_length, ease_l2 = 0, 20.0

    with pytest.raises(ValueError, match="newcomer_share needs a model without one"):
        training.training_data(Reader(), prepared, ("train",), training.TrainSettings(newcomer_share=0.5))
    Reader.ease_l2 = 0.0
    training.training_data(Reader(), prepared, ("train",), training.TrainSettings(newcomer_share=0.5))


def test_newcomer_rows_read_the_first_ratings_of_the_parts_they_train_on(prepared, monkeypatch):
    """``newcomer_history``: the first networks' oldest-kept rule (the default), or the person's first ratings, for
    every newcomer row or only for those rated after them."""
    from movierec.history import Histories
    from movierec.pipeline import NEWCOMER_RATINGS

    with pytest.raises(ValueError, match="newcomer_history must be one of"):
        training.TrainSettings(newcomer_history="last_ratings")

    class Reader:
        objective = RatingObjective(ordinal=True, rated_head=True)
        history_length, history_field, ease_l2 = 25, FIELD_POSITION["movie_id"], 0.0

    given = []
    monkeypatch.setattr(training, "make_dataset", lambda *args: given.append(args[-2:]))
    for settings in (training.TrainSettings(newcomer_share=0.5, newcomer_history="first_ratings"),
                     training.TrainSettings(newcomer_share=0.5, newcomer_history="first_ratings_later_rows"),
                     training.TrainSettings(newcomer_share=0.0, newcomer_history="first_ratings"),
                     training.TrainSettings(newcomer_share=0.0, newcomer_history="first_ratings_later_rows"),
                     training.TrainSettings(newcomer_share=0.5)):  # fmt: skip
        training.training_data(Reader(), prepared, ("train", "validation"), settings, shared_history=True)
    frame = prepared.frame("train", "validation")
    expected = Histories.first_rated(frame, prepared.user_index, prepared.encoder, NEWCOMER_RATINGS + 1)
    for (first, later_rows_only), later in zip(given[:2], (False, True), strict=True):
        np.testing.assert_array_equal(first, expected)
        assert later_rows_only is later
    assert given[2:] == [(None, False)] * 3  # without newcomer rows no rule applies
    assert training.TrainSettings().newcomer_history == "oldest_kept"
    # Settings read from a manifest: one written before the setting, with newcomer rows, kept the oldest ones;
    # without newcomer rows, nothing was kept, and a newcomer network trained from it takes today's rule.
    assert training.TrainSettings.from_dict({"newcomer_share": 0.5}).newcomer_history == "oldest_kept"
    stored = {"negatives": 4, "newcomer_history": "first_ratings"}  # recorded where it shaped nothing
    assert training.TrainSettings.from_dict(stored).newcomer_history == "oldest_kept"
    stored["newcomer_share"] = 0.5
    assert training.TrainSettings.from_dict(stored).newcomer_history == "first_ratings"


def test_training_rows_get_hard_negatives_from_their_users_pool(prepared, train_prior, monkeypatch):
    """Through ``training_data``: a model that reads a prior, every negative from its user's pool at share 1."""
    monkeypatch.setattr(negatives, "HARD_POOL", POOL)
    settings = training.TrainSettings(batch_size=64, negatives=2, oov_rate=0.0, hard_negative_share=1.0)

    class PriorModel:
        objective = RatingObjective(ordinal=True, rated_head=True)
        history_length, ease_l2 = 0, 20.0

    pools = hard_sampler(prepared, train_prior, 1.0, monkeypatch).hard_pools
    user_row = {code: i for i, code in enumerate(prepared.encoder.encode_users(prepared.data.users)[:, 0])}
    movie_row = {tuple(c): i for i, c in enumerate(prepared.encoder.encode_movies(prepared.data.movies))}
    movie_columns = [FIELD_POSITION[f] for f in MOVIE_FIELDS]
    drawn = 0
    for inputs, _ in training.training_data(PriorModel(), prepared, ("train",), settings):
        codes = inputs["codes"].numpy()
        unrated = codes[len(codes) // 3 :]
        users = np.array([user_row[c] for c in unrated[:, FIELD_POSITION[USER_FIELDS[0]]]])
        movies = np.array([movie_row[tuple(c)] for c in unrated[:, movie_columns]])
        assert (pools[users] == movies[:, None]).any(axis=1).all()
        drawn += len(unrated)
    assert drawn == 2 * len(prepared.split.train)


def test_a_pool_with_empty_slots_falls_back_to_the_plain_draw(prepared, train_prior, monkeypatch):
    """A pool larger than a user's unrated movies has empty slots (-1): a draw landing there is an ordinary one."""
    monkeypatch.setattr(negatives, "HARD_POOL", 75)  # every fixture user has fewer than 75 unrated movies
    hard = negatives.NegativeSampler.for_rows(prepared, prepared.split.train, "uniform", (train_prior, 1.0))
    assert (hard.hard_pools == -1).any(axis=1).all()
    frame = prepared.split.train
    rows, by_numpy, by_graph = draws_both_ways(prepared, hard)
    for movies in (by_numpy, by_graph):
        assert (movies >= 0).all()
        assert not seen_in(prepared, frame)[np.repeat(rows, 4), movies].any()
