"""Train -> save -> load -> evaluate, end to end on the fixture data, and artifact checks."""

import json
import shutil

import keras
import numpy as np
import pytest

from movierec import artifacts, evaluate, models, train, training

TINY = json.dumps({"embedding_dim": 4, "attention_layers": 1, "num_heads": 1, "attention_dim": 4, "dnn_units": [8]})


@pytest.fixture(scope="module")
def trained(tmp_path_factory, ml1m_dir):
    root = tmp_path_factory.mktemp("artifacts")
    args = ["--model", "autointp", "--data-dir", str(ml1m_dir), "--no-download", "--model-dir", str(root / "model"),
            "--encoder-dir", str(root / "data"), "--epochs", "2", "--batch-size", "256", "--hyperparameters", TINY,
            "--quiet"]  # fmt: skip
    result = train.main(args)
    return root, result


def test_training_writes_the_three_artifacts(trained):
    root, result = trained
    assert (root / "model" / "autointp.weights.h5").is_file()
    assert (root / "data" / "autointp.encoder.json").is_file()
    manifest = json.loads((root / "model" / "autointp.manifest.json").read_text())
    assert manifest["class"] == "AutoIntPlus"
    assert manifest["config"]["embedding_dim"] == 4
    assert manifest["evaluation"] == result
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


@pytest.fixture
def copy_of(trained, tmp_path):
    root, _ = trained
    shutil.copytree(root, tmp_path / "a")
    return tmp_path / "a"


def _load(root):
    return artifacts.load("autointp", root / "model", root / "data")


def test_loading_checks_pass_on_untouched_artifacts(copy_of, prepared):
    model, encoder, manifest = _load(copy_of)
    assert encoder.vocab_sizes == manifest["vocab_sizes"]
    assert isinstance(model, keras.Model)


def _edit_manifest(root, change):
    path = root / "model" / "autointp.manifest.json"
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest))


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        (lambda r: (r / "model" / "autointp.weights.h5").write_bytes(b"garbage"), "weights file .* does not match"),
        (lambda r: (r / "data" / "autointp.encoder.json").unlink(), "encoder file .* does not exist"),
        (lambda r: (r / "model" / "autointp.manifest.json").write_text('{"format": "movierec.model'), "corrupt"),
        (lambda r: (r / "model" / "autointp.manifest.json").unlink(), "does not exist"),
        (lambda r: _edit_manifest(r, lambda m: m.update(fields=m["fields"][::-1])), "lists fields"),
        (lambda r: _edit_manifest(r, lambda m: m.update(registered_name="autoint>Other")), "written for class"),
        (lambda r: _edit_manifest(r, lambda m: m.update(version=7)), "manifest version 7"),
        (lambda r: _edit_manifest(r, lambda m: m["config"].update(embedding_dim=6)), "does not fit"),
        (lambda r: _edit_manifest(r, lambda m: m.update(vocab_sizes=[1] * 14)), "vocabulary sizes"),
    ],
    ids=["weights", "no-encoder", "corrupt", "no-manifest", "fields", "class", "version", "config", "vocab"],
)
def test_mismatched_artifacts_are_refused_with_a_specific_error(copy_of, tamper, message):
    tamper(copy_of)
    with pytest.raises(artifacts.ArtifactError, match=message):
        _load(copy_of)


def test_atomic_write_leaves_the_old_file_when_writing_fails(tmp_path):
    target = tmp_path / "x.json"
    artifacts.atomic_write_text(target, "old")
    with pytest.raises(TypeError):  # the payload cannot be written: fails after the temp file exists
        artifacts.atomic_write_bytes(target, object())  # type: ignore[arg-type]
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]


def test_oov_dropout_only_touches_id_fields():
    x = np.arange(1, 1 + 14 * 4000, dtype=np.int32).reshape(4000, 14) % 50 + 1
    y = np.zeros(4000, dtype=np.float32)
    batch = next(iter(training.make_dataset(x, y, 4000, oov_rate=0.2, seed=1)))[0].numpy()
    dropped = (batch == 0).mean(axis=0)
    from movierec.features import FIELDS

    for j, field in enumerate(FIELDS):
        if field in training.OOV_FIELDS:
            assert 0.15 < dropped[j] < 0.25, field
        else:
            assert dropped[j] == 0, field


def test_input_pipeline_keeps_every_row_once_per_epoch_in_a_seeded_order_without_the_autotuner():
    x = np.arange(1000 * 14, dtype=np.int32).reshape(1000, 14) + 1
    y = np.arange(1000, dtype=np.float32)

    def epoch(dataset):
        return np.concatenate([targets.numpy() for _, targets in dataset])

    dataset = training.make_dataset(x, y, 128, shuffle=True, seed=7)
    first, second = epoch(dataset), epoch(dataset)
    assert sorted(first) == sorted(second) == list(y)  # every row exactly once per epoch
    assert first.tolist() != second.tolist()  # reshuffled each epoch
    assert first.tolist() == epoch(training.make_dataset(x, y, 128, shuffle=True, seed=7)).tolist()
    # tf.data's autotuner halved whole training epochs on two cores (README, "Speed").
    assert dataset.options().autotune.enabled is False


def test_the_same_seed_trains_the_same_weights(prepared):
    """Sampled negatives and unknown-code dropout included: a seed fixes the run exactly."""
    settings = training.TrainSettings(epochs=2, batch_size=256, refit=False, oov_rate=0.2)

    def run():
        model = models.create("autointp", prepared.vocab_sizes, seed=0, **json.loads(TINY))
        history = training.fit(model, prepared, settings, verbose=0)
        return [w.numpy() for w in model.weights], history

    (first, first_history), (second, second_history) = run(), run()
    assert first_history == second_history
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)
