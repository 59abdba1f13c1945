"""The command-line tools end to end on the fixture data: train -> save -> load -> evaluate."""

import json
import re

import pytest

from movierec.cli import evaluate, train, tune


def test_training_writes_the_three_artifacts(trained):
    root, result = trained
    manifest = json.loads((root / "model" / "autointp.manifest.json").read_text())
    assert [p.name for p in (root / "model").glob("autointp-*.weights.h5")] == [manifest["weights"]["file"]]
    assert len(list((root / "data").glob("autointp-*.encoder.json"))) == 1
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


@pytest.mark.parametrize(
    ("tool", "argv", "message"),
    [
        (train, ["--epochs", "0"], "argument --epochs: must be a whole number >= 1, got '0'"),
        (train, ["--learning-rate", "-1"], "learning_rate must be positive"),
        (train, ["--negatives", "-2"], "negatives must be >= 0"),
        (train, ["--oov-rate", "1.5"], "oov_rate must be in"),
        (train, ["--hyperparameters", "[1]"], "argument --hyperparameters: must be a JSON object"),
        (train, ["--hyperparameters", "{bad"], "argument --hyperparameters: not valid JSON"),
        (train, ["--model", "deepfm"], "argument --model: invalid choice: 'deepfm'"),
        (train, ["--epochs", "three"], "argument --epochs: must be a whole number >= 1, got 'three'"),
        (train, ["--data-dir", ""], "data_dir='' is blank"),
        (evaluate, ["--model-dir", "/nonexistent/models"], "manifest /nonexistent/models/autointp.manifest.json does"),
        (evaluate, ["--data-dir", "/nonexistent/data"], "does not hold MovieLens ml-1m"),
        (tune, ["--data-dir", "/nonexistent/data", "--trials", "1"], "does not hold MovieLens ml-1m"),
    ],
    ids=["epochs", "learning-rate", "negatives", "oov-rate", "hyperparameters", "bad-json", "model", "epochs-text",
         "blank-data-dir", "no-artifacts",
         "no-data", "tune-no-data"],
)
def test_bad_arguments_and_data_end_in_one_line_and_status_two(tool, argv, message, ml1m_dir, capsys):
    base = [] if "--data-dir" in argv else ["--data-dir", str(ml1m_dir)]
    with pytest.raises(SystemExit) as stopped:
        tool.main([*base, "--no-download", *argv])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    assert re.search(message, err), err


def test_debug_shows_the_traceback(ml1m_dir):
    with pytest.raises(ValueError, match="learning_rate must be positive"):
        train.main(["--data-dir", str(ml1m_dir), "--no-download", "--learning-rate", "-1", "--debug"])


def test_a_protocol_run_refuses_zero_epochs(ml1m_dir, capsys):
    with pytest.raises(SystemExit) as stopped:
        evaluate.main(["--protocol", "temporal", "--epochs", "0", "--data-dir", str(ml1m_dir), "--no-download"])
    assert stopped.value.code == 2
    assert "argument --epochs: must be a whole number >= 1" in capsys.readouterr().err
