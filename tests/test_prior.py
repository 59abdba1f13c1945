"""The EASE prior: EASE's own scores in code space, out-of-fold for training rows, the same in NumPy and tf.data."""

import json

import numpy as np
import pytest

from movierec import baselines, pipeline
from movierec.features import FIELDS
from movierec.history import EMPTY
from movierec.negatives import NegativeSampler
from movierec.prior import EasePrior, OutOfFoldPrior, rated_codes, user_folds

L2 = 20.0


@pytest.fixture(scope="module")
def train_rated(prepared):
    return rated_codes(prepared.split.train, prepared.user_index, prepared.encoder)


def test_the_prior_is_the_ease_baselines_score_written_in_movie_codes(prepared, train_rated):
    """Same B as ``baselines.EASE`` on the same ratings, so stacking feeds the network the baseline it must beat."""
    train = prepared.split.train
    users, catalogue = prepared.data.users["user_id"].to_numpy(), prepared.data.movies["movie_id"].to_numpy()
    ease = baselines.EASE(train, users, catalogue, L2)
    prior = EasePrior.fit(train_rated, L2)
    codes = prepared.encoder.encode_movie_ids(catalogue)
    assert (codes != 0).all()  # every fixture movie is rated in train
    got = prior.user_scores(np.arange(len(users)), codes)
    assert np.abs(got).max() > 0.05  # scores with something in them
    np.testing.assert_allclose(got, ease.score_rows(np.arange(len(users))), rtol=1e-4, atol=1e-5)
    # A movie the encoder does not know is code 0, whose prior is 0 for everyone.
    assert prepared.encoder.encode_movie_ids([10**7]).tolist() == [0]
    assert not prior.user_scores(np.arange(len(users)), [0]).any()
    # One pair at a time, and one outside person from their codes, agree with the whole rows.
    rows = np.array([3, 0, 3, 7])
    np.testing.assert_allclose(prior.pair_scores(rows, codes[:4]), got[rows, np.arange(4)], rtol=1e-5, atol=1e-6)
    mine = train_rated.indices[train_rated.indptr[3] : train_rated.indptr[4]]
    np.testing.assert_allclose(prior.scores_of_codes([0, *mine, *mine], codes), got[3], rtol=1e-5, atol=1e-6)


def test_a_graded_prior_is_graded_ease_written_in_movie_codes(prepared):
    """With disliked movies counting half, the prior is still the baseline's score: graded EASE, fitted and folded
    in on the same weighted rows; a newcomer's cells come from their stars the same way."""
    train = prepared.split.train
    assert set(train["rating"]) & {1, 2, 3} and set(train["rating"]) & {4, 5}  # both kinds of cell occur
    users, catalogue = prepared.data.users["user_id"].to_numpy(), prepared.data.movies["movie_id"].to_numpy()
    ease = baselines.EASE(train, users, catalogue, L2, disliked_weight=0.5)
    prior = EasePrior.of_parts(prepared, ["train"], L2, disliked_weight=0.5)
    assert sorted(set(prior.rated.data.tolist())) == [0.5, 1.0] and prior.disliked_weight == 0.5
    codes = prepared.encoder.encode_movie_ids(catalogue)
    got = prior.user_scores(np.arange(len(users)), codes)
    np.testing.assert_allclose(got, ease.score_rows(np.arange(len(users))), rtol=1e-4, atol=1e-5)
    plain = EasePrior.of_parts(prepared, ["train"], L2).user_scores(np.arange(len(users)), codes)
    assert np.abs(got - plain).max() > 1e-3  # the cells change the scores
    rows = np.array([3, 0, 3, 7])
    np.testing.assert_allclose(prior.pair_scores(rows, codes[:4]), got[rows, np.arange(4)], rtol=1e-5, atol=1e-6)
    mine = train[train["user_id"] == users[3]]
    my_codes = prepared.encoder.encode_movie_ids(mine["movie_id"].to_numpy())
    stars = prior.cells(mine["rating"].to_numpy())
    np.testing.assert_allclose(prior.scores_of_codes(my_codes, codes, stars), got[3], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(prior.cells_of(3), stars[np.argsort(my_codes)])
    assert np.abs(prior.scores_of_codes(my_codes, codes) - got[3]).max() > 1e-4  # cells of 1 are another person
    with pytest.raises(ValueError, match="3 movie codes but 2 cells"):
        prior.scores_of_codes(my_codes[:3], codes, stars[:2])
    for bad in (0.0, 1.5, float("nan")):
        with pytest.raises(ValueError, match=r"weight must be in \(0, 1\]"):
            EasePrior.of_parts(prepared, ["train"], L2, disliked_weight=bad)
    # A prior told another weight than its rows were made with would grade a visitor's stars otherwise: refused.
    with pytest.raises(ValueError, match=r"hold cells \[0.5\], not 1 and the disliked weight 1.0"):
        EasePrior.fit(prior.rated, L2)
    for not_cells in ([5.0, 1.0, 1.0], [0.0, 1.0, 1.0], [float("nan"), 1.0, 1.0]):  # stars are not cells
        with pytest.raises(ValueError, match=r"cells are in \(0, 1\]"):
            prior.scores_of_codes(my_codes[:3], codes, not_cells)
    with pytest.raises(ValueError, match="missing or not a number"):
        prior.cells([4, float("nan")])


def test_a_movie_rated_twice_counts_once_and_unknown_movies_are_left_out(prepared):
    frame = prepared.split.train.head(3)
    twice = frame.iloc[[0, 0, 1]].copy()
    twice.loc[twice.index[2], "movie_id"] = -5  # not a movie the encoder knows
    rated = rated_codes(twice, prepared.user_index, prepared.encoder)
    assert rated.nnz == 1 and rated.data.tolist() == [1.0]
    # Graded, a movie rated twice keeps its later rating's cell.
    for stars, cell in (((5, 2), 0.5), ((2, 5), 1.0)):
        again = frame.iloc[[0, 0]].assign(rating=list(stars))
        graded = rated_codes(again, prepared.user_index, prepared.encoder, disliked_weight=0.5)
        assert graded.nnz == 1 and graded.data.tolist() == [cell]
    with pytest.raises(KeyError, match="user_id -1"):
        rated_codes(frame.assign(user_id=-1), prepared.user_index, prepared.encoder)


def test_folds_are_seeded_and_balanced():
    fold = user_folds(103, 5, seed=1)
    assert sorted(np.bincount(fold)) == [20, 20, 21, 21, 21]
    np.testing.assert_array_equal(fold, user_folds(103, 5, seed=1))
    assert not np.array_equal(fold, user_folds(103, 5, seed=2))
    with pytest.raises(ValueError, match="at least 2 folds"):
        user_folds(10, 1)


def test_no_training_row_reads_a_b_fitted_on_its_own_user(train_rated):
    """The leakage guard of stacking: a fold's B is unchanged by anything its own users rated."""
    oof = OutOfFoldPrior.fit(train_rated, L2, folds=3)
    user = int(np.flatnonzero(train_rated.getnnz(axis=1) > 5)[0])
    fold = oof.fold_of_user[user]
    changed = train_rated.tolil()
    changed[user, :] = 0  # the user rated nothing at all
    changed[user, 1:4] = 1  # or something else
    again = OutOfFoldPrior.fit(changed.tocsr(), L2, folds=3)
    np.testing.assert_array_equal(again.weights[fold], oof.weights[fold])
    assert not all(np.array_equal(again.weights[f], oof.weights[f]) for f in range(3) if f != fold)


@pytest.mark.parametrize("disliked_weight", [1.0, 0.5])
def test_the_graph_scorer_gives_each_person_every_candidates_prior_in_one_look_up(prepared, disliked_weight):
    """A rated row and its negatives come as one person with several candidates: each cell is that pair's prior,
    the same floats whether the pair comes alone or among others, and a person who rated nothing scores 0.
    Graded rows weight each movie rated by its cell in both."""
    train_rated = rated_codes(prepared.split.train, prepared.user_index, prepared.encoder, disliked_weight)
    oof = OutOfFoldPrior.fit(train_rated, L2, folds=3)
    score = oof.graph_scorer()
    rng = np.random.default_rng(0)
    people = np.array([5, 0, 5, 2, 9], dtype=np.int32)
    candidates = rng.integers(0, train_rated.shape[1], (len(people), 4)).astype(np.int32)
    got = score(people, candidates).numpy()
    assert got.shape == candidates.shape and np.abs(got).max() > 0.01
    expected = oof.pair_scores(np.repeat(people, 4), candidates.reshape(-1)).reshape(got.shape)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    one_at_a_time = np.stack([score(people, candidates[:, [j]]).numpy()[:, 0] for j in range(4)], axis=1)
    np.testing.assert_array_equal(got, one_at_a_time)
    empty = train_rated.tolil()
    empty[5, :] = 0
    nothing = OutOfFoldPrior(oof.weights, oof.fold_of_user, empty.tocsr()).graph_scorer()
    assert not nothing(people[:1], candidates[:1]).numpy().any()


def test_the_tf_data_prior_equals_the_numpy_one_for_rated_rows_and_their_negatives(prepared, train_rated):
    k, movie = 2, FIELDS.index("movie_id")
    frame = prepared.split.train
    users = prepared.user_index.get_indexer(frame["user_id"])
    oof = OutOfFoldPrior.fit(train_rated, L2, folds=3)
    sampler = NegativeSampler.for_rows(prepared, frame, "uniform")
    dataset = pipeline.make_dataset(
        prepared.codes("train"), np.ones(len(frame), np.float32), 128, shuffle=True, seed=5, oov_rate=0.1,
        negatives=(sampler, users, k), prior=(oof, users),
    )  # fmt: skip
    user_of_code_row = {}
    for i, row in enumerate(prepared.codes("train")):
        user_of_code_row.setdefault(tuple(row), users[i])
    checked = 0
    for inputs, targets in dataset:
        rated = int(targets.numpy().sum())
        codes, got = inputs["codes"].numpy(), inputs["prior"].numpy()
        # Rows are gathered by index, so the rated rows' users are recovered from their (unique) code rows
        # where no code was made unknown; negatives are their rated row's user, k each, user-major.
        row_users = np.array([user_of_code_row.get(tuple(r), -1) for r in codes[:rated]])
        people = np.concatenate([row_users, np.repeat(row_users, k)])
        ok = people >= 0
        # A row whose movie was made unknown has no EASE score, as an unknown movie has none when serving.
        dropped = codes[:, movie] == 0
        assert dropped.any() and not got[dropped].any()
        ok &= ~dropped
        expected = oof.pair_scores(people[ok], codes[ok, movie])
        np.testing.assert_allclose(got[ok], expected, rtol=1e-4, atol=1e-5)
        checked += int(ok.sum())
    assert checked > len(frame)  # rated rows and negatives


def test_rows_that_are_only_scored_read_the_one_b_fitted_on_the_whole_part(train_rated):
    prior = EasePrior.fit(train_rated, L2)
    only = OutOfFoldPrior.scoring_only(prior)
    rows = np.arange(train_rated.shape[0])
    candidates = np.arange(train_rated.shape[0]) % prior.n_codes
    np.testing.assert_allclose(only.pair_scores(rows, candidates), prior.pair_scores(rows, candidates), rtol=1e-6)


def test_a_stored_b_is_read_back_and_a_damaged_one_is_fitted_again(train_rated, tmp_path, monkeypatch, caplog):
    from movierec import prior as prior_module

    fitted = prior_module.fitted_weights(train_rated, L2)
    first = EasePrior.fit(train_rated, L2, store=tmp_path)
    np.testing.assert_array_equal(first.weights, fitted)
    stored = sorted(p.name for p in tmp_path.iterdir())
    assert len(stored) == 2 and stored[0].endswith(".json") and stored[1].endswith(".npy")

    def no_fit(*args):
        raise AssertionError("B was fitted again although it is stored")

    monkeypatch.setattr(prior_module, "fitted_weights", no_fit)
    np.testing.assert_array_equal(EasePrior.fit(train_rated, L2, store=tmp_path).weights, fitted)
    with pytest.raises(AssertionError, match="fitted again"):  # another l2 is another B
        EasePrior.fit(train_rated, L2 * 2, store=tmp_path)
    graded = train_rated.copy()
    graded.data[::2] = 0.5  # the same rated sets, other cells: another B
    with pytest.raises(AssertionError, match="fitted again"):
        EasePrior.fit(graded, L2, store=tmp_path)
    monkeypatch.undo()

    note_file = next(tmp_path.glob("*.json"))
    note = note_file.read_text()
    for not_a_note in ("null", "[]", '"x"', "3", "{"):
        note_file.write_text(not_a_note)
        with caplog.at_level("WARNING", logger="movierec.prior"):
            np.testing.assert_array_equal(EasePrior.fit(train_rated, L2, store=tmp_path).weights, fitted)
        assert "cannot be used" in caplog.text
        caplog.clear()
    assert note_file.read_text() != "{" and json.loads(note_file.read_text())["sha256"] == json.loads(note)["sha256"]

    array_file = next(tmp_path.glob("*.npy"))
    for damage in (lambda b: b[: len(b) // 2], lambda b: b[:-8] + b"\x00" * 8):  # truncated; altered
        array_file.write_bytes(damage(array_file.read_bytes()))
        with caplog.at_level("WARNING", logger="movierec.prior"):
            again = EasePrior.fit(train_rated, L2, store=tmp_path)
        assert "cannot be used" in caplog.text
        np.testing.assert_array_equal(again.weights, fitted)
        np.testing.assert_array_equal(EasePrior.fit(train_rated, L2, store=tmp_path).weights, fitted)  # rewritten
        caplog.clear()


def test_only_the_newest_stored_bs_are_kept(train_rated, tmp_path):
    import os

    from movierec.prior import STORED_KEPT

    seen = set()
    for i, l2 in enumerate((5.0, 6.0, 7.0, 8.0, 9.0)):
        EasePrior.fit(train_rated, l2, store=tmp_path)
        for path in set(tmp_path.glob("*")) - seen:  # date each B in fitting order: the clock may be coarse
            os.utime(path, (1_000_000 + i, 1_000_000 + i))
            seen.add(path)
    notes = [json.loads(p.read_text()) for p in tmp_path.glob("*.json")]
    assert sorted(n["l2"] for n in notes) == [7.0, 8.0, 9.0] and STORED_KEPT == 3
    assert len(list(tmp_path.glob("*.npy"))) == STORED_KEPT


def test_a_folder_that_cannot_be_written_costs_the_store_nothing_but_time(train_rated, tmp_path):
    blocked = tmp_path / "a-file-not-a-folder"
    blocked.write_text("")
    got = EasePrior.fit(train_rated, L2, store=blocked / "ease")
    np.testing.assert_array_equal(got.weights, EasePrior.fit(train_rated, L2).weights)


def test_a_newcomers_prior_is_rescaled_for_a_small_rated_set_and_a_fitted_users_never(train_rated):
    prior = EasePrior.fit(train_rated, L2)
    reference = prior.reference_size
    sizes = np.diff(train_rated.indptr)
    assert reference == prior.fitted_median == np.median(sizes[sizes > 0])
    assert (prior.profile_scale([0, 1, reference, 10 * reference]) == 1).all()  # the default power changes nothing
    raised = prior.with_profile(1.0)
    np.testing.assert_allclose(raised.profile_scale([0, 1, reference / 2, reference, 10 * reference]),
                               [1, reference, 2, 1, 1], rtol=1e-6)  # fmt: skip
    np.testing.assert_allclose(prior.with_profile(-1.0).profile_scale([reference / 4]), [0.25], rtol=1e-6)
    np.testing.assert_allclose(prior.with_profile(1.0, 30.0).profile_scale([10]), [3.0], rtol=1e-6)  # a reference
    small = int(np.flatnonzero((sizes > 0) & (sizes < reference))[0])
    codes = np.arange(1, train_rated.shape[1])
    mine = train_rated.indices[train_rated.indptr[small] : train_rated.indptr[small + 1]]
    base = prior.user_scores([small], codes)[0]
    factor = raised.profile_scale([len(mine)])[0]
    assert factor > 1
    # The same movies rated by a newcomer are rescaled (repeats and unknown movies do not count) ...
    np.testing.assert_allclose(raised.newcomer_scores([0, *mine, *mine], codes), base * factor, rtol=1e-5, atol=1e-6)
    # ... while a fitted user's prior, however it is read, is the plain sum.
    np.testing.assert_array_equal(raised.user_scores([small], codes)[0], base)
    np.testing.assert_array_equal(raised.pair_scores([small], codes[:3]), prior.pair_scores([small], codes[:3]))
    np.testing.assert_array_equal(raised.scores_of_codes(mine, codes), prior.scores_of_codes(mine, codes))


def test_each_users_hard_pool_is_their_best_scored_unrated_movies_by_their_out_of_fold_prior(train_rated):
    """The movies hard negatives come from: what the prior the user's rows read ranks highest, never one they rated."""
    oof = OutOfFoldPrior.fit(train_rated, L2, folds=3)
    n_users, n_codes = train_rated.shape
    pools = oof.top_unrated(5, chunk=4)  # several chunks in every fold
    assert pools.shape == (n_users, 5) and pools.dtype == np.int32
    for user in range(n_users):
        rated = set(train_rated.indices[train_rated.indptr[user] : train_rated.indptr[user + 1]].tolist())
        scores = oof.pair_scores(np.full(n_codes, user), np.arange(n_codes))
        unrated = np.array([c for c in range(1, n_codes) if c not in rated])
        assert len(unrated) >= 5
        assert not rated & set(pools[user].tolist()) and EMPTY not in pools[user]
        best = np.sort(scores[unrated])[::-1][:5]
        np.testing.assert_allclose(np.sort(scores[pools[user]])[::-1], best, rtol=1e-5)  # ties may swap movies
    # Asked for exactly what a user has left: their unrated known movies, never EMPTY (which is no movie).
    for user in (0, n_users - 1):
        rated = set(train_rated.indices[train_rated.indptr[user] : train_rated.indptr[user + 1]].tolist())
        left = n_codes - 1 - len(rated)
        assert sorted(oof.top_unrated(left)[user].tolist()) == [c for c in range(1, n_codes) if c not in rated]
    # Asked for more: every unrated known movie once, then EMPTY to fill.
    everything = oof.top_unrated(n_codes)
    kept = everything[0][everything[0] != EMPTY]
    assert len(kept) == len(set(kept.tolist())) == n_codes - 1 - train_rated.getnnz(axis=1)[0]
