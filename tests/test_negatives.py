"""Sampled negatives: never a movie the user rated, fields swapped correctly, drawn as configured."""

import numpy as np
import pytest

from movierec import negatives, training
from movierec.features import FIELD_POSITION, MOVIE_FIELDS, USER_FIELDS
from movierec.interactions import rated_matrix
from movierec.objectives import RatingObjective


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
    draw = nobody.graph_sampler(2, (1, 2))  # no rated pair at all: nothing to redraw, and no search off the end
    assert np.asarray(draw(prepared.part("train").codes[:4], np.array([0, 1, 2, 3], np.int32))).shape == (8, 14)


def test_drawn_eagerly_the_graph_sampler_redraws_rated_movies_too(prepared, sampler):
    """Outside tf.data the redraw loop runs eagerly; with 30 of 80 movies rated, most batches need a redraw."""
    frame = prepared.split.train
    rows = prepared.user_index.get_indexer(frame["user_id"])[:200].astype(np.int32)
    draw = sampler.graph_sampler(3, (1, 2))
    codes = np.asarray(draw(prepared.part("train").codes[:200], rows))
    movie_row = {tuple(c): i for i, c in enumerate(prepared.encoder.encode_movies(prepared.data.movies))}
    movies = [movie_row[tuple(c)] for c in codes[:, [FIELD_POSITION[f] for f in MOVIE_FIELDS]]]
    assert not seen_in(prepared, frame)[np.repeat(rows, 3), movies].any()

