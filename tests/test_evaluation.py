"""Evaluating models and baselines on the test part."""

from movierec import evaluation


def test_item_knn_is_a_baseline_in_every_evaluation(prepared):

    result = evaluation.evaluate_baselines(prepared)
    assert set(result) == {"popularity", "movie_mean", "item_knn"}
    assert 0 < result["item_knn"]["full_ndcg@10"] <= 1
