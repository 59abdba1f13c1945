"""Saved artifacts: what loads, every mismatch refused with a specific error, and a save that survives a crash."""

import json
import shutil
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
from model_fixtures import serve_newcomers_with

from movierec import artifacts


@pytest.fixture
def copy_of(trained, tmp_path):
    root, _ = trained
    shutil.copytree(root, tmp_path / "a")
    return tmp_path / "a"


def _load(root):
    return artifacts.load("autointp", root / "model", root / "data")


def _manifest_path(root):
    return root / "model" / "autointp.manifest.json"


def _named(root, part):
    """The weights or encoder file the manifest names."""
    return (_manifest_path(root).parent / json.loads(_manifest_path(root).read_text())[part]["file"]).resolve()


def _edit_manifest(root, change):
    path = _manifest_path(root)
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest))


def test_loading_checks_pass_on_untouched_artifacts(copy_of):
    model, encoder, manifest = _load(copy_of)
    assert encoder.vocab_sizes == manifest["vocab_sizes"]
    assert isinstance(model, keras.Model)
    assert _named(copy_of, "weights").name.startswith("autointp-") and _named(copy_of, "weights").parent.name == "model"
    assert _named(copy_of, "encoder").parent.name == "data"


def _drop(key):
    return lambda m: m.pop(key)


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        (lambda r: _named(r, "weights").write_bytes(b"garbage"), "weights file .* does not match"),
        (lambda r: _named(r, "encoder").unlink(), "encoder file .* does not exist"),
        (lambda r: _manifest_path(r).write_text('{"format": "movierec.model'), "corrupt"),
        (lambda r: _manifest_path(r).unlink(), "does not exist"),
        (lambda r: _edit_manifest(r, lambda m: m.update(fields=m["fields"][::-1])), "lists fields"),
        (lambda r: _edit_manifest(r, lambda m: m.update(registered_name="autoint>Other")), "written for class"),
        (lambda r: _edit_manifest(r, lambda m: m.update(version=7)), "manifest version 7"),
        (lambda r: _edit_manifest(r, lambda m: m["config"].update(embedding_dim=6)), "does not fit"),
        (lambda r: _edit_manifest(r, lambda m: m["config"].update(no_such_option=1)), "does not fit"),
        (lambda r: _edit_manifest(r, lambda m: m.update(vocab_sizes=[1] * 14)), "vocabulary sizes"),
        (lambda r: _edit_manifest(r, _drop("encoder")), "field 'encoder' must be an object .* missing"),
        (lambda r: _edit_manifest(r, lambda m: m.update(weights="x")), "field 'weights' must be an object"),
        (lambda r: _edit_manifest(r, lambda m: m.update(config=[])), "field 'config' must be an object"),
        (lambda r: _edit_manifest(r, lambda m: m["weights"].update(sha256="abc")), "'weights.sha256' must be 64"),
        (lambda r: _edit_manifest(r, lambda m: m.update(vocab_sizes=[0] * 14)), "'vocab_sizes' must be a list of pos"),
        (lambda r: _edit_manifest(r, lambda m: m.update(model="autoint")), "field 'model' is 'autoint'"),
        (lambda r: _edit_manifest(r, lambda m: m["encoder"].update(file="../../../etc/passwd")), "outside the artif"),
        (lambda r: _edit_manifest(r, lambda m: m["weights"].update(file="/tmp/other.weights.h5")), "outside the art"),
        (lambda r: _edit_manifest(r, lambda m: m.update(evaluation=[1])), "field 'evaluation' must be an object"),
        (lambda r: _manifest_path(r).write_text("[]"), "is not a movierec model manifest"),
    ],
    ids=["weights", "no-encoder", "corrupt", "no-manifest", "fields", "class", "version", "config", "unknown-option",
         "vocab", "encoder-key", "weights-type", "config-type", "sha", "sizes", "model", "escape", "absolute",
         "section", "not-an-object"],
)
def test_mismatched_artifacts_are_refused_with_a_specific_error(copy_of, tamper, message):
    tamper(copy_of)
    with pytest.raises(artifacts.ArtifactError, match=message):
        _load(copy_of)


def _edit_encoder(root, change):
    """Change the encoder file and re-pin its checksum, so only the content check can object."""
    path = _named(root, "encoder")
    payload = json.loads(path.read_text())
    change(payload)
    path.write_text(json.dumps(payload))
    _edit_manifest(root, lambda m: m["encoder"].update(sha256=artifacts.sha256_file(path)))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda e: e.pop("vocabularies"), "field 'vocabularies' is missing"),
        (lambda e: e["vocabularies"].update(gender="FM"), "'vocabularies.gender' must be a list of strings"),
        (lambda e: e["vocabularies"].update(age=[1, 2]), "vocabulary of 'age' must be a list of strings"),
        (lambda e: e.update(oov_index=3), "field 'oov_index' is 3"),
    ],
    ids=["no-vocabularies", "string-vocabulary", "numbers", "oov-index"],
)
def test_bad_encoder_content_is_refused_naming_the_field(copy_of, change, message):
    _edit_encoder(copy_of, change)
    with pytest.raises(artifacts.ArtifactError, match=message):
        _load(copy_of)


def test_an_unknown_model_name_is_an_artifact_error(copy_of):
    with pytest.raises(artifacts.ArtifactError, match="unknown model 'autoint2'"):
        artifacts.load("autoint2", copy_of / "model", copy_of / "data")


def test_saving_again_replaces_the_set_and_removes_the_previous_files(copy_of):
    model, encoder, _ = _load(copy_of)
    old = {_named(copy_of, "weights"), _named(copy_of, "encoder")}
    model.weights[0].assign(model.weights[0] + 1.0)
    paths = artifacts.save(model, encoder, "autointp", copy_of / "model", copy_of / "data", evaluation={"auc": 0.5})
    again, _, manifest = _load(copy_of)
    np.testing.assert_array_equal(again.weights[0].numpy(), model.weights[0].numpy())
    assert manifest["evaluation"] == {"auc": 0.5}
    assert paths.weights not in old and not any(p.exists() for p in old - {paths.encoder})
    assert sorted(p.name for p in (copy_of / "model").iterdir()) == sorted([paths.weights.name, paths.manifest.name])


CRASHING_SAVE = """
import os, sys
from movierec import artifacts

stage, root = sys.argv[1], sys.argv[2]
model, encoder, _ = artifacts.load("autointp", root + "/model", root + "/data")
model.weights[0].assign(model.weights[0] + 1.0)
replace = os.replace

def crash_at(src, dst):
    # A hard kill (no cleanup, no exception handlers) at the chosen step of the save.
    if stage == "before-manifest" and str(dst).endswith(".manifest.json"):
        os._exit(17)
    replace(src, dst)
    if stage == "after-weights" and str(dst).endswith(".weights.h5"):
        os._exit(17)

os.replace = crash_at
artifacts.save(model, encoder, "autointp", root + "/model", root + "/data")
"""


@pytest.mark.parametrize("stage", ["after-weights", "before-manifest"])
def test_a_save_killed_midway_leaves_the_previous_set_loadable(copy_of, stage):
    before, _, manifest_before = _load(copy_of)
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(CRASHING_SAVE), stage, str(copy_of)],
                            capture_output=True, text=True, timeout=300)  # fmt: skip
    assert result.returncode == 17, result.stderr[-2000:]
    after, _, manifest_after = _load(copy_of)
    assert manifest_after == manifest_before
    for a, b in zip(before.weights, after.weights, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_saving_one_model_never_touches_another_models_files(copy_of):
    """Two sets share the folders (autoint and autointp); saving one removes only what its old manifest named."""
    model, encoder, _ = _load(copy_of)
    shutil.copy(_manifest_path(copy_of), copy_of / "model" / "other.manifest.json")
    bystanders = [copy_of / "data" / "autointp.encoder.json", copy_of / "model" / "autoint-0123456789ab.weights.h5"]
    for path in bystanders:
        path.write_text("not ours")
    model.weights[0].assign(model.weights[0] + 1.0)
    artifacts.save(model, encoder, "autointp", copy_of / "model", copy_of / "data")
    assert all(path.read_text() == "not ours" for path in bystanders)
    assert _load(copy_of)[0] is not None


def test_a_model_folder_given_alone_holds_the_encoder_too(copy_of, tmp_path):
    model, encoder, _ = _load(copy_of)
    paths = artifacts.save(model, encoder, "autointp", tmp_path / "elsewhere")
    assert paths.encoder.parent == paths.weights.parent == tmp_path / "elsewhere"
    again, _, _ = artifacts.load("autointp", tmp_path / "elsewhere")
    np.testing.assert_array_equal(again.weights[0].numpy(), model.weights[0].numpy())


def test_an_earlier_sets_ordinal_offsets_are_converted_to_steps(copy_of):
    """Sets saved before the ordered cut-points stored the offsets in the same weight, with no 'cut_points' key."""
    from movierec.objectives import cut_offsets

    model, encoder, _ = _load(copy_of)
    assert model.ordinal
    legacy_offsets = np.array([3.6, 1.95, -2.2], dtype="float32")
    model.cut_steps.assign(legacy_offsets)
    artifacts.save(model, encoder, "autointp", copy_of / "model", copy_of / "data")
    _edit_manifest(copy_of, lambda m: m.pop("cut_points"))
    loaded, _, _ = _load(copy_of)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(cut_offsets(loaded.cut_steps)), legacy_offsets, rtol=1e-5)
    _edit_manifest(copy_of, lambda m: m.update(cut_points="raw"))
    with pytest.raises(artifacts.ArtifactError, match="field 'cut_points' must be"):
        _load(copy_of)


def _serve_newcomers_with_a_copy(root) -> dict:
    model, encoder, _ = _load(root)
    return serve_newcomers_with(root / "model", model, encoder)


def test_the_set_serving_newcomers_is_found_only_when_the_shipped_manifest_names_it(copy_of):
    assert artifacts.newcomer_folders("autointp", copy_of / "model") is None
    first = _serve_newcomers_with_a_copy(copy_of)
    folders = artifacts.newcomer_folders("autointp", copy_of / "model")
    assert folders == (copy_of / "model" / first["folder"],) * 2
    model, _, manifest = artifacts.load("autointp", *folders)
    assert manifest["weights"]["sha256"] == first["weights_sha256"]
    assert _load(copy_of)[0].get_config() == model.get_config()
    # Other weights go into a folder of their own; the one in service is untouched until the manifest switches,
    # and pruning then removes only the sets no manifest names.
    model.set_weights([w * 0.5 for w in model.get_weights()])
    second = artifacts.save_newcomer_set(model, _load(copy_of)[1], "autointp", copy_of / "model")
    assert second["folder"] != first["folder"]
    assert artifacts.newcomer_folders("autointp", copy_of / "model") == folders
    assert artifacts.prune_newcomer_sets(copy_of / "model") == [copy_of / "model" / second["folder"]]
    assert artifacts.newcomer_folders("autointp", copy_of / "model") == folders
    _load(copy_of)  # the shipped set itself is never touched
    # A retrained (saved again) model starts with no newcomer network: its set goes with the old manifest.
    shipped, encoder, _ = _load(copy_of)
    artifacts.save(shipped, encoder, "autointp", copy_of / "model", copy_of / "data")
    assert artifacts.newcomer_folders("autointp", copy_of / "model") is None
    assert not any((copy_of / "model" / "newcomers").iterdir())


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        (lambda r: _edit_manifest(r, lambda m: m["serving"]["newcomers"]["network"].update(weights_sha256="0" * 64)),
         "names other weights than the newcomer network"),
        (lambda r: _edit_manifest(r, lambda m: m["serving"]["newcomers"].update(network="no_prior")),
         "must be an object with a folder"),
        (lambda r: _edit_manifest(r, lambda m: m["serving"]["newcomers"]["network"].update(folder="../../etc")),
         "must be an object with a folder newcomers/<12 hex digits>"),
        (lambda r: shutil.rmtree(r / "model" / "newcomers"), "does not exist"),
    ],
)
def test_a_newcomer_set_that_is_not_the_recorded_one_is_refused(copy_of, tamper, message):
    _serve_newcomers_with_a_copy(copy_of)
    tamper(copy_of)
    with pytest.raises(artifacts.ArtifactError, match=message):
        artifacts.newcomer_folders("autointp", copy_of / "model")


def test_pruning_keeps_every_newcomer_set_while_a_manifest_cannot_be_read(copy_of):
    _serve_newcomers_with_a_copy(copy_of)
    _manifest_path(copy_of).write_text("{")
    assert artifacts.prune_newcomer_sets(copy_of / "model") == []
    assert any((copy_of / "model" / "newcomers").iterdir())
