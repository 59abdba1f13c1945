"""Each evaluation protocol's split, label and field rules on the fixture data, and the item-kNN baseline."""

import json

import numpy as np
import pandas as pd
import pytest

from movierec import baselines, evaluate, protocols, training
from movierec.features import FIELDS


def test_temporal_split_puts_every_test_row_after_every_training_row(ml1m):
    split = protocols.PROTOCOLS["temporal"].make_split(ml1m.ratings)
    assert split.train["timestamp"].max() <= split.validation["timestamp"].min()
    assert split.validation["timestamp"].max() <= split.test["timestamp"].min()
    n = len(ml1m.ratings)
    assert len(split.test) == round(0.1 * n) and len(split.validation) == round(0.1 * n)
    assert len(split.train) + len(split.validation) + len(split.test) == n


def test_temporal_split_keeps_file_order_among_equal_times():
    ratings = pd.DataFrame({"timestamp": [5, 1, 5, 1, 3, 5, 5, 5, 5, 5], "rating": 4, "row": range(10)})
    split = protocols.temporal_split(ratings, test_share=0.2, validation_share=0.2)
    assert split.train["row"].tolist() == [1, 3, 4, 0, 2, 5]
    assert split.test["row"].tolist() == [8, 9]


@pytest.mark.parametrize("name", ["paper", "recbole"])
def test_ctr_protocols_drop_rating_three_and_split_eighty_ten_ten(ml1m, name):
    protocol = protocols.PROTOCOLS[name]
    split = protocol.make_split(ml1m.ratings)
    parts = (split.train, split.validation, split.test)
    assert all(not (part["rating"] == 3).any() for part in parts)
    kept = (ml1m.ratings["rating"] != 3).sum()
    assert sum(len(p) for p in parts) == kept
    assert len(split.test) == pytest.approx(0.1 * kept, abs=1)
    assert len(split.validation) == pytest.approx(0.1 * kept, abs=1)
    again = protocol.make_split(ml1m.ratings)
    pd.testing.assert_frame_equal(again.test, split.test)  # seeded


def test_paper_protocol_leaves_the_id_fields_out_and_recbole_keeps_them(ml1m):
    paper, recbole = protocols.PROTOCOLS["paper"], protocols.PROTOCOLS["recbole"]
    assert set(FIELDS) - set(paper.fields) == {"user_id", "movie_id"}
    assert recbole.fields == FIELDS
    prepared = training.prepare(ml1m, split=paper.make_split(ml1m.ratings), fields=paper.fields)
    codes, y = prepared.xy("train")
    assert codes.shape[1] == len(FIELDS) - 2 == len(prepared.vocab_sizes)
    full = prepared.encoder.encode_ratings(prepared.split.train, ml1m.users, ml1m.movies)
    np.testing.assert_array_equal(codes, np.delete(full, [0, FIELDS.index("movie_id")], axis=1))
    np.testing.assert_array_equal(y, (prepared.split.train["rating"] > 3).astype("float32"))


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


def test_item_knn_is_a_baseline_in_every_evaluation(prepared):
    from movierec import evaluation

    result = evaluation.evaluate_baselines(prepared)
    assert set(result) == {"popularity", "movie_mean", "item_knn"}
    assert 0 < result["item_knn"]["full_ndcg@10"] <= 1


@pytest.fixture(scope="module")
def shipped_tiny(tmp_path_factory, ml1m_dir):
    from movierec import train

    root = tmp_path_factory.mktemp("protocol-artifacts")
    tiny = json.dumps({"embedding_dim": 4, "attention_layers": 1, "num_heads": 1, "attention_dim": 4,
                       "dnn_units": [8], "rated_head": True})  # fmt: skip
    train.main(["--model", "autointp", "--data-dir", str(ml1m_dir), "--no-download", "--model-dir",
                str(root), "--encoder-dir", str(root), "--epochs", "1", "--batch-size", "256", "--negatives", "2",
                "--hyperparameters", tiny, "--no-full-ranking", "--quiet"])  # fmt: skip
    return root


@pytest.mark.parametrize("name", ["temporal", "paper", "recbole"])
def test_evaluate_trains_and_reports_each_protocol(shipped_tiny, ml1m_dir, tmp_path, name):
    out = tmp_path / f"{name}.json"
    payload = evaluate.main(
        ["--protocol", name, "--data-dir", str(ml1m_dir), "--no-download", "--model-dir", str(shipped_tiny),
         "--encoder-dir", str(shipped_tiny), "--out", str(out), "--quiet"]
    )  # fmt: skip
    saved = json.loads(out.read_text())
    protocol = protocols.PROTOCOLS[name]
    assert saved["protocol"]["fields"] == list(protocol.fields)
    assert saved["protocol"]["published"] == protocol.published
    assert set(saved["baselines"]) == {"popularity", "movie_mean", "item_knn"}
    assert 0 <= saved["auc"] <= 1 and saved["logloss"] > 0
    assert ("full_ndcg@10" in saved) == protocol.full_ranking
    # CTR protocols train the like output on rated rows; the ranking one keeps the shipped objective.
    assert saved["trained"]["config"]["rated_head"] == protocol.ranking_objective
    assert (saved["trained"]["settings"]["negatives"] > 0) == protocol.ranking_objective
    assert saved["trained"]["config"]["vocab_sizes"] and payload["model"] == "autointp"
