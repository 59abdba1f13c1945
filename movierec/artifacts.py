"""Saved models: ``.weights.h5`` + a JSON manifest + a JSON encoder, written atomically.

Nothing executable is ever read from disk: the architecture is rebuilt from
the manifest's config through the registered Keras classes, and only then are
the weights loaded. The manifest pins everything the weights depend on (model
class and config, field order, vocabulary sizes, SHA-256 of the weights and
the encoder), and loading refuses, with a specific message, anything that
does not match the code.

Layout (``name`` is ``autoint`` or ``autointp``)::

    model/<name>.weights.h5
    model/<name>.manifest.json
    data/<name>.encoder.json
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

from movierec.features import FIELDS, EncoderMismatchError, FeatureEncoder
from movierec.files import sha256_file, write_json
from movierec.models import MODELS

MANIFEST_FORMAT = "movierec.model-manifest"
MANIFEST_VERSION = 1
ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MODEL_DIR = ROOT / "model"
DEFAULT_ENCODER_DIR = ROOT / "data"


class ArtifactError(RuntimeError):
    """Saved artifacts are missing, corrupt, or do not match this code."""


@dataclass(frozen=True)
class ArtifactPaths:
    weights: Path
    manifest: Path
    encoder: Path

    @classmethod
    def for_model(cls, name: str, model_dir: str | Path | None = None, encoder_dir: str | Path | None = None):
        model_dir = Path(model_dir) if model_dir is not None else DEFAULT_MODEL_DIR
        encoder_dir = Path(encoder_dir) if encoder_dir is not None else DEFAULT_ENCODER_DIR
        return cls(
            model_dir / f"{name}.weights.h5", model_dir / f"{name}.manifest.json", encoder_dir / f"{name}.encoder.json"
        )


def save(model, encoder, name: str, paths: ArtifactPaths, **sections) -> ArtifactPaths:
    """Write weights, encoder and manifest; the manifest last, so it only ever names complete files.

    ``sections`` (e.g. ``data``, ``training``, ``evaluation``) go into the
    manifest as they are and must be JSON-serialisable.
    """
    import keras

    paths.weights.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=paths.weights.parent, prefix=f".{name}.", suffix=".weights.h5")
    os.close(fd)
    # A compiled model would also write its optimizer state; serving needs only the weights.
    serving = type(model).built(**model.get_config())
    serving.set_weights(model.get_weights())
    try:
        serving.save_weights(tmp, overwrite=True)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, paths.weights)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    encoder.save(paths.encoder)
    import tensorflow as tf

    manifest = {
        "format": MANIFEST_FORMAT,
        "version": MANIFEST_VERSION,
        "model": name,
        "class": type(model).__name__,
        "registered_name": keras.saving.get_registered_name(type(model)),
        "config": _plain(model.get_config()),
        "fields": list(FIELDS),
        "vocab_sizes": encoder.vocab_sizes,
        "weights": {"file": paths.weights.name, "sha256": sha256_file(paths.weights)},
        "encoder": {
            "file": os.path.relpath(paths.encoder, paths.manifest.parent),
            "sha256": sha256_file(paths.encoder),
        },
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "versions": {"keras": keras.__version__, "tensorflow": tf.__version__},
        **sections,
    }
    write_json(paths.manifest, _plain(manifest))
    return paths


def read_manifest(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise ArtifactError(f"manifest {path} does not exist")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ArtifactError(f"manifest {path} is not valid JSON (corrupt or truncated): {err}") from err
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
        raise ArtifactError(f"{path} is not a movierec model manifest")
    if manifest.get("version") != MANIFEST_VERSION:
        raise ArtifactError(
            f"{path} has manifest version {manifest.get('version')}; this code reads {MANIFEST_VERSION}"
        )
    return manifest


def load(name: str, model_dir: str | Path | None = None, encoder_dir: str | Path | None = None):
    """Rebuild a saved model and its encoder, checking every link between them.

    Returns ``(model, encoder, manifest)``. Raises ``ArtifactError`` naming
    the first thing that does not match.
    """
    import keras


    paths = ArtifactPaths.for_model(name, model_dir, encoder_dir)
    manifest = read_manifest(paths.manifest)
    if manifest.get("model") != name or name not in MODELS:
        raise ArtifactError(f"{paths.manifest} describes model {manifest.get('model')!r}, expected {name!r}")
    model_class = MODELS[name]
    if manifest.get("registered_name") != keras.saving.get_registered_name(model_class):
        raise ArtifactError(
            f"{paths.manifest} was written for class {manifest.get('registered_name')}, "
            f"the code has {keras.saving.get_registered_name(model_class)}"
        )
    if manifest.get("fields") != list(FIELDS):
        raise ArtifactError(f"{paths.manifest} lists fields {manifest.get('fields')}, the code uses {list(FIELDS)}")
    encoder_path = (paths.manifest.parent / manifest["encoder"]["file"]).resolve()
    for label, file, expected in (
        ("weights", paths.weights, manifest["weights"]["sha256"]),
        ("encoder", encoder_path, manifest["encoder"]["sha256"]),
    ):
        if not file.is_file():
            raise ArtifactError(f"{label} file {file} named by {paths.manifest} does not exist")
        if sha256_file(file) != expected:
            raise ArtifactError(f"{label} file {file} does not match the checksum in {paths.manifest}")
    try:
        encoder = FeatureEncoder.load(encoder_path)
    except EncoderMismatchError as err:
        raise ArtifactError(str(err)) from err
    if encoder.vocab_sizes != manifest.get("vocab_sizes") or encoder.vocab_sizes != manifest["config"].get(
        "vocab_sizes"
    ):
        raise ArtifactError(f"vocabulary sizes in {encoder_path} do not match {paths.manifest}")
    try:
        model = model_class.built(**manifest["config"])
        # Keras only warns when a layer finds no weights in the file and keeps
        # its random ones; for a served model that is an error.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model.load_weights(paths.weights)
        skipped = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
        if skipped:
            raise ValueError("; ".join(skipped))
    except (TypeError, ValueError, KeyError) as err:
        raise ArtifactError(f"{paths.weights} does not fit the {manifest['class']} in this code: {err}") from err
    return model, encoder, manifest


def _plain(value):
    """Turn numpy scalars and tuples into JSON-native values, recursively."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        return value.item()
    return value
