"""The command-line tools end to end on the fixture data: train -> save -> load -> evaluate."""

import json

import pytest

from movierec.cli import evaluate


def test_training_writes_the_three_artifacts(trained):
    root, result = trained
    assert (root / "model" / "autointp.weights.h5").is_file()
    assert (root / "data" / "autointp.encoder.json").is_file()
    manifest = json.loads((root / "model" / "autointp.manifest.json").read_text())
    assert manifest["class"] == "AutoIntPlus"
    assert manifest["config"]["embedding_dim"] == 4
    assert manifest["evaluation"] == result
    assert 0 <= manifest["validation"]["full_ndcg@10"] <= 1  # measured on validation before the refit
    assert manifest["training"]["epochs_run"] == 2
    assert manifest["training"]["refitted"]["epochs"] in (1, 2)  # retrained on train + validation
    assert len(manifest["data"]["fingerprint"]) == 64
    assert not list((root / "model").glob(".*tmp*")), "temporary files left behind"
    for key in ("auc", "logloss", "seed_ndcg@10", "seed_hr@10", "full_ndcg@10", "full_hit@10"):
        assert 0 <= result[key] <= 10


def test_loaded_model_reproduces_the_saved_evaluation(trained, ml1m_dir, tmp_path):
    root, result = trained
    out = tmp_path / "results.json"
    payload = evaluate.main(
        ["--model", "autointp", "--data-dir", str(ml1m_dir), "--no-download", "--model-dir", str(root / "model"),
         "--encoder-dir", str(root / "data"), "--out", str(out)]
    )  # fmt: skip
    saved = json.loads(out.read_text())
    assert saved == json.loads(json.dumps(payload))
    for key in ("auc", "logloss", "seed_ndcg@10", "seed_hr@10", "full_ndcg@10", "full_hit@10"):
        assert saved[key] == pytest.approx(result[key], abs=1e-6)
    for name in ("popularity", "movie_mean"):
        assert {"auc", "seed_ndcg@10", "seed_hr@10", "full_ndcg@10", "full_hit@10"} <= set(saved["baselines"][name])


def test_evaluate_refuses_data_the_model_was_not_trained_on(trained, tmp_path, capsys):
    from movielens_fixtures import write_ml1m

    root, _ = trained
    other = write_ml1m(tmp_path / "ml-1m", seed=5)
    with pytest.raises(SystemExit):
        evaluate.main(["--model", "autointp", "--data-dir", str(other), "--model-dir", str(root / "model"),
                       "--encoder-dir", str(root / "data")])  # fmt: skip
    assert "not the data autointp was trained on" in capsys.readouterr().err
