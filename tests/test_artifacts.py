"""Saved artifacts: what loads, and every mismatch refused with a specific error."""

import json
import shutil

import keras
import pytest

from movierec import artifacts


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
