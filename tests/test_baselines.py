"""Popularity, movie mean and item-kNN."""

import numpy as np
import pandas as pd
import pytest

from movierec import baselines


def test_baselines_score_by_count_and_mean_with_fallbacks():
    train = pd.DataFrame({"movie_id": [1, 1, 2, 3, 3, 3], "rating": [5, 3, 4, 1, 2, 3]})
    fitted = baselines.fit(train)
    ids = np.array([1, 2, 3, 99])
    assert baselines.score(fitted["popularity"], ids).tolist() == [2, 1, 3, 0]
    assert baselines.score(fitted["movie_mean"], ids).tolist() == [4, 4, 2, pytest.approx(18 / 6)]


def test_item_knn_ranks_by_summed_cosine_similarity():
    # Users 1-3 over movies 10, 20, 30, 40 (1 = rated).
    rated = pd.DataFrame({"user_id": [1, 1, 2, 2, 3, 3, 3], "movie_id": [10, 20, 10, 20, 20, 30, 40]})
    knn = baselines.ItemKNN(rated, np.array([1, 2, 3, 4]), np.array([10, 20, 30, 40]))
    # Columns: 10 = {1,2}, 20 = {1,2,3}, 30 = {3}, 40 = {3}.
    cos = {(10, 20): 2 / np.sqrt(6), (10, 30): 0.0, (20, 30): 1 / np.sqrt(3), (20, 40): 1 / np.sqrt(3), (30, 40): 1.0}
    scores = knn.score_rows(np.array([0, 2, 3]))
    # User 1 rated 10 and 20: movie 30 scores cos(10,30) + cos(20,30), 40 the same.
    assert scores[0, 2] == pytest.approx(cos[10, 30] + cos[20, 30])
    assert scores[0, 0] == pytest.approx(cos[10, 20])  # own items score by their neighbours too
    # User 3 rated 20, 30, 40: movie 10 scores cos(10,20) only.
    assert scores[1, 0] == pytest.approx(cos[10, 20])
    assert scores[1, 3] == pytest.approx(cos[20, 40] + cos[30, 40])
    assert (scores[2] == 0).all()  # user 4 has no history
    pairs = knn.score_pairs(np.array([3, 1, 9]), np.array([10, 30, 10]))
    assert pairs.tolist() == pytest.approx([cos[10, 20], cos[20, 30], 0.0])


def test_ease_is_the_closed_form_of_its_ridge_regression():
    """Column j of B is the ridge regression of movie j's column on every other movie's (no self-loop)."""
    rng = np.random.default_rng(0)
    users, movies = np.arange(1, 41), np.arange(10, 17)
    mask = rng.random((len(users), len(movies))) < 0.4
    rated = pd.DataFrame({"user_id": np.repeat(users, len(movies))[mask.ravel()],
                          "movie_id": np.tile(movies, len(users))[mask.ravel()]})  # fmt: skip
    model = baselines.EASE(rated, users, movies, l2=3.0)
    x = mask.astype(np.float64)
    for j in range(len(movies)):
        others = [k for k in range(len(movies)) if k != j]
        a = x[:, others]
        expected = np.linalg.solve(a.T @ a + 3.0 * np.eye(len(others)), a.T @ x[:, j])
        np.testing.assert_allclose(model.weights[others, j], expected, rtol=1e-4, atol=1e-6)
        assert model.weights[j, j] == 0
    # A known user's scores equal their fold-in from the same rated movies.
    row = 5
    np.testing.assert_allclose(model.score_rows(np.array([row]))[0], model.score_history(np.flatnonzero(mask[row])),
                               rtol=1e-5)  # fmt: skip
    with pytest.raises(ValueError, match="l2 must be positive"):
        baselines.EASE(rated, users, movies, l2=0)


def test_graded_ease_is_the_ridge_regression_of_the_weighted_rows():
    """Disliked movies count ``disliked_weight`` in the rows B is fitted on and in the rows it scores."""
    rng = np.random.default_rng(1)
    users, movies = np.arange(1, 41), np.arange(10, 17)
    mask = rng.random((len(users), len(movies))) < 0.4
    stars = rng.integers(1, 6, mask.shape)
    rated = pd.DataFrame({"user_id": np.repeat(users, len(movies))[mask.ravel()],
                          "movie_id": np.tile(movies, len(users))[mask.ravel()],
                          "rating": stars[mask]})  # fmt: skip
    model = baselines.EASE(rated, users, movies, l2=3.0, disliked_weight=0.25)
    x = np.where(mask, np.where(stars >= 4, 1.0, 0.25), 0.0)
    for j in range(len(movies)):
        others = [k for k in range(len(movies)) if k != j]
        a = x[:, others]
        expected = np.linalg.solve(a.T @ a + 3.0 * np.eye(len(others)), a.T @ x[:, j])
        np.testing.assert_allclose(model.weights[others, j], expected, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(model.score_rows(np.arange(len(users))), x @ model.weights, rtol=1e-4, atol=1e-6)
    plain = baselines.EASE(rated, users, movies, l2=3.0)
    assert np.abs(plain.weights - model.weights).max() > 1e-3
    with pytest.raises(ValueError, match="folds a person in by their ratings"):  # 0/1 fold-in would ignore them
        model.score_history(np.array([0, 1]))
    for bad in (0.0, -1.0, 2.0, float("nan")):
        with pytest.raises(ValueError, match=r"weight must be in \(0, 1\]"):
            baselines.EASE(rated, users, movies, l2=3.0, disliked_weight=bad)


@pytest.mark.parametrize("disliked_weight", [1.0, 0.5])
def test_an_l2_grid_sharing_one_gram_matrix_fits_what_each_fresh_fit_gives(disliked_weight):
    """``with_l2`` refits the same rows at another l2 from the kept X'X, bit for bit a fresh fit at that l2."""
    rng = np.random.default_rng(2)
    users, movies = np.arange(1, 31), np.arange(10, 19)
    mask = rng.random((len(users), len(movies))) < 0.5
    rated = pd.DataFrame({"user_id": np.repeat(users, len(movies))[mask.ravel()],
                          "movie_id": np.tile(movies, len(users))[mask.ravel()],
                          "rating": rng.integers(1, 6, mask.sum())})  # fmt: skip
    first = baselines.EASE(rated, users, movies, 2.0, disliked_weight, keep_gram=True)
    before, refit = first.weights.copy(), first
    for l2 in (2.0, 7.0, 40.0):
        refit = refit.with_l2(l2)  # chained, as the validation grid does
        fresh = baselines.EASE(rated, users, movies, l2, disliked_weight)
        assert refit.l2 == l2 and refit.disliked_weight == disliked_weight
        np.testing.assert_array_equal(refit.weights, fresh.weights)
        np.testing.assert_array_equal(refit.score_rows(np.arange(len(users))), fresh.score_rows(np.arange(len(users))))
    np.testing.assert_array_equal(first.weights, before)  # a refit leaves the model it came from alone
    np.testing.assert_array_equal(first.gram, baselines.gram_matrix(fresh.matrix))  # no refit shifted X'X in place
    assert fresh.gram is None  # kept only when asked: twice the size of B (float64)
    with pytest.raises(ValueError, match="keep_gram"):
        fresh.with_l2(5.0)
    with pytest.raises(ValueError, match="l2 must be positive"):
        first.with_l2(0.0)


def test_the_ease_penalty_is_chosen_on_validation(prepared):
    from movierec import evaluation

    l2, scores = evaluation.ease_l2_on_validation(prepared, grid=(1.0, 50.0, 5000.0))
    assert {1.0, 50.0, 5000.0} <= set(scores)  # and whatever the grid grew past its edges
    assert scores[l2] == max(scores.values())
    (l2, weight), scores = evaluation.ease_on_validation(prepared, (1.0, 50.0), (0.25, 1.0))
    assert {(1.0, 0.25), (50.0, 0.25), (1.0, 1.0), (50.0, 1.0)} <= set(scores)
    assert scores[(l2, weight)] == max(scores.values())
    result = evaluation.evaluate_baselines(prepared, full=True)
    plain = result["ease"]["validation_ndcg@10"]  # every l2 tried, the chosen one best
    assert result["ease"]["l2"] == evaluation.ease_l2_on_validation(prepared)[0]
    assert plain[f"l2 {result['ease']['l2']:.10g}"] == max(plain.values())
    assert len(plain) >= len(evaluation.EASE_L2_GRID)
    assert 0 < result["ease"]["full_ndcg@10"] <= 1
    graded = result["ease_graded"]
    graded_grid = (evaluation.GRADED_L2_GRID, evaluation.GRADED_DISLIKED_WEIGHTS)
    choice, grid = evaluation.ease_on_validation(prepared, *graded_grid)
    assert (graded["l2"], graded["disliked_weight"]) == choice and grid[choice] == max(grid.values())
    recorded = {f"l2 {l2:.10g}, disliked {w:.10g}": score for (l2, w), score in grid.items()}
    assert graded["validation_ndcg@10"] == recorded
    # The entry is graded EASE at the chosen pair, fitted on train + validation: the same numbers measured directly.
    rated = prepared.frame("train", "validation")
    users, catalogue = prepared.data.users["user_id"].to_numpy(), prepared.data.movies["movie_id"].to_numpy()
    direct = baselines.EASE(rated, users, catalogue, graded["l2"], graded["disliked_weight"])
    ranked = evaluation.full_ranking(prepared, direct.score_rows)
    assert graded["full_ndcg@10"] == pytest.approx(ranked["ndcg@10"]) and 0 < graded["full_ndcg@10"] <= 1
    assert graded["full_hit@10"] == pytest.approx(ranked["hit@10"])


def test_an_ease_grid_is_ranked_once_per_prepared_split(prepared, monkeypatch):
    import dataclasses

    from movierec import evaluation

    rankings = []
    full_ranking = evaluation.full_ranking
    monkeypatch.setattr(evaluation, "full_ranking", lambda *a, **k: rankings.append(a[2]) or full_ranking(*a, **k))
    fresh = dataclasses.replace(prepared)  # an empty memo, whatever other tests ranked on the fixture
    first = evaluation.ease_on_validation(fresh, (1.0, 50.0), (0.25, 1.0))
    first_grid = len(first[1])  # 4, or more where the grid grew past an edge
    assert first_grid >= 4 and rankings == ["validation"] * first_grid
    first[1].clear()  # a caller's edit does not reach the memo
    again = evaluation.ease_on_validation(fresh, (1.0, 50.0), (0.25, 1.0))
    assert len(rankings) == first_grid and len(again[1]) == first_grid and again[0] == first[0]
    second_grid = len(evaluation.ease_on_validation(fresh, (1.0, 50.0))[1])  # another grid is another key
    assert len(rankings) == first_grid + second_grid
    ranked = len(rankings)
    evaluation.prior_on_validation(fresh)
    both_grids = len(evaluation.ease_on_validation(fresh)[1]) + len(
        evaluation.ease_on_validation(fresh, evaluation.GRADED_L2_GRID, evaluation.GRADED_DISLIKED_WEIGHTS)[1]
    )
    assert len(rankings) == ranked + both_grids
    evaluation.evaluate_baselines(fresh, full=False)  # both grids already ranked: no ranking at all
    evaluation.ease_l2_on_validation(fresh)
    assert rankings == ["validation"] * (ranked + both_grids)
    # A copy with another split ranks its own grid, never reading a choice made on this one.
    other = dataclasses.replace(fresh, split=dataclasses.replace(fresh.split, train=fresh.split.train.iloc[::2]))
    other_grid = len(evaluation.ease_on_validation(other, (1.0, 50.0))[1])
    assert len(rankings) == ranked + both_grids + other_grid


def _validation_peaked_at(peak: tuple[float, float]):
    """A stand-in for ``full_ranking`` whose validation NDCG@10 falls with the log distance from ``peak``."""

    def full_ranking(prepared, score_rows, part, *args, **kwargs):
        model = score_rows.__self__
        assert part == "validation"
        distance = abs(np.log(model.l2 / peak[0])) + abs(np.log(model.disliked_weight / peak[1]))
        return {"ndcg@10": 1.0 / (1.0 + distance)}

    return full_ranking


def test_plain_ease_grows_its_l2_only_and_a_weight_of_one_is_an_edge_of_its_own(prepared, monkeypatch):
    import dataclasses

    from movierec import evaluation

    monkeypatch.setattr(evaluation, "full_ranking", _validation_peaked_at((5000.0, 1.0)))
    l2s = (200.0, 500.0, 1000.0, 2000.0, 5000.0, 10000.0)
    best, scores = evaluation.ease_on_validation(dataclasses.replace(prepared), (200.0, 500.0, 1000.0), (1.0,))
    assert best == (5000.0, 1.0) and set(scores) == {(l2, 1.0) for l2 in l2s}
    best, scores = evaluation.ease_on_validation(dataclasses.replace(prepared), (200.0, 500.0, 1000.0), (0.25, 1.0))
    assert best == (5000.0, 1.0) and set(scores) == {(l2, w) for l2 in l2s for w in (0.25, 1.0)}  # no weight past 1


@pytest.mark.parametrize(
    ("peak", "chosen", "tried"),
    [
        # Inside the grid: nothing is added.
        ((500.0, 0.5), (500.0, 0.5), {(l2, w) for l2 in (200.0, 500.0, 1000.0) for w in (0.25, 0.5, 0.75)}),
        # Past the largest l2 and below the smallest weight: both axes grow until the peak is inside.
        ((5000.0, 0.125), (5000.0, 0.125),
         {(l2, w) for l2 in (200.0, 500.0, 1000.0, 2000.0, 5000.0, 10000.0) for w in (0.25, 0.5, 0.75, 0.125, 0.0625)}),
        # Beyond what the growth allows (GRID_GROWTHS = 6 past an edge): the search stops at its limit.
        ((1e9, 0.999), (1e5, 0.99609375),
         {(l2, w) for l2 in (200.0, 500.0, 1000.0, 2000.0, 5000.0, 1e4, 2e4, 5e4, 1e5)
          for w in (0.25, 0.5, 0.75, 0.875, 0.9375, 0.96875, 0.984375, 0.9921875, 0.99609375)}),
        # Below the smallest l2: the series continues downwards.
        ((50.0, 0.5), (50.0, 0.5), {(l2, w) for l2 in (200.0, 500.0, 1000.0, 100.0, 50.0, 20.0)
                                    for w in (0.25, 0.5, 0.75)}),
    ],
)  # fmt: skip
def test_an_ease_grid_grows_past_the_edge_its_best_sits_on(prepared, monkeypatch, peak, chosen, tried):
    import dataclasses

    from movierec import evaluation

    assert evaluation.GRID_GROWTHS == 6  # the limit the third case reaches

    monkeypatch.setattr(evaluation, "full_ranking", _validation_peaked_at(peak))
    grid = ((200.0, 500.0, 1000.0), (0.25, 0.5, 0.75))
    best, scores = evaluation.ease_on_validation(dataclasses.replace(prepared), *grid)
    assert best == chosen
    assert set(scores) == tried
    fixed, scores = evaluation.ease_on_validation(dataclasses.replace(prepared), (1000.0,), (0.25,))
    assert fixed == (1000.0, 0.25) and set(scores) == {(1000.0, 0.25)}  # an axis of one value never grows


def test_a_stacked_model_reads_the_better_of_plain_and_graded_ease_on_validation(prepared, monkeypatch):
    from movierec import evaluation

    def choices(plain: float, graded: float):
        def ease_on_validation(prepared, grid=evaluation.EASE_L2_GRID, disliked_weights=(1.0,)):
            if disliked_weights == (1.0,):
                return (500.0, 1.0), {(500.0, 1.0): plain, (50.0, 1.0): plain - 0.1}
            return (200.0, 0.5), {(200.0, 0.5): graded, (1000.0, 0.25): graded - 0.1}

        monkeypatch.setattr(evaluation, "ease_on_validation", ease_on_validation)
        return evaluation.prior_on_validation(prepared)

    assert choices(0.17, 0.18) == (200.0, 0.5)
    assert choices(0.18, 0.17) == (500.0, 1.0)
    assert choices(0.18, 0.18) == (500.0, 1.0)  # a tie keeps plain EASE
