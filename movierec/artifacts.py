"""Saved models: weights + JSON encoder + JSON manifest, saved and loaded as one set.

Nothing executable is ever read from disk: the architecture is rebuilt from
the manifest's config through the registered Keras classes, and only then are
the weights loaded. The manifest pins everything the weights depend on (model
class and config, field order, vocabulary sizes, the files of the set and their
SHA-256), its every key and type is checked, and loading refuses, with an
``ArtifactError`` naming the file and the field, anything that does not match
the code. The SHA-256 checksums catch corruption (a truncated copy, a bad
disk, a half-finished download), not tampering: whoever can change a weights
file can change the manifest beside it.

Layout (``name`` is ``autoint`` or ``autointp``)::

    model/<name>.manifest.json            names the other two and their checksums
    model/<name>-<sha256[:12]>.weights.h5
    data/<name>-<sha256[:12]>.encoder.json

The new-user protocol may choose, on its validation people, another
network than the shipped one for people the model never saw; that set
(encoder beside its weights) lies in a folder named by its weights, and the
shipped manifest names the folder and the weights' checksum
(``save_newcomer_set``, ``newcomer_folders``)::

    model/newcomers/<sha256[:12]>/<name>.manifest.json   (its weights and encoder beside it)

A set is saved so that a crash at any point leaves the previous set loadable:
the weights and the encoder are written under names of their own content,
next to the previous ones; the manifest is then replaced in one atomic rename,
the moment the new set takes over; only after that are the previous set's
files removed. Files named by a manifest must lie in the model or encoder
folder.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import shutil
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

from movierec.features import FIELDS, EncoderMismatchError, FeatureEncoder
from movierec.files import atomic_write_bytes, fsync_folder, sha256_file, write_json
from movierec.models import MODELS
from movierec.objectives import steps_from_offsets

MANIFEST_FORMAT = "movierec.model-manifest"
MANIFEST_VERSION = 1
ENV_MODEL_DIR = "MOVIEREC_MODEL_DIR"
ENV_ENCODER_DIR = "MOVIEREC_ENCODER_DIR"
# A source checkout (or an editable install) keeps the shipped sets beside the package; an installed copy
# reads ./model and ./data of the working directory unless the environment names the folders.
CHECKOUT = Path(__file__).resolve().parent.parent
# How the ordinal cut-points are stored: earlier sets stored the offsets themselves in the same weight.
CUT_POINTS = "softplus-steps"
_SHA256 = re.compile(r"[0-9a-f]{64}")
# The manifest sections written as they are (``save``'s keyword arguments); each must be an object.
SECTIONS = ("data", "training", "validation", "evaluation", "serving")
# Config keys that change how a saved model is served, not its weights: ``update_manifest`` may set them.
SERVING_OPTIONS = ("prior_profile_power", "prior_profile_reference", "ranking_like_exponent", "ranking_prior_gain")


NEWCOMERS = "newcomers"  # the model folder's subfolder holding the sets chosen to serve newcomers


class ArtifactError(RuntimeError):
    """Saved artifacts are missing, corrupt, or do not match this code."""


@dataclass(frozen=True)
class ArtifactPaths:
    """The files of one saved set."""

    weights: Path
    manifest: Path
    encoder: Path


def default_folders() -> tuple[Path, Path]:
    """The model and encoder folders when none is given: the environment's, the checkout's, or ./model and ./data."""
    base = CHECKOUT if (CHECKOUT / "model").is_dir() and (CHECKOUT / "movierec").is_dir() else Path.cwd()
    model = os.environ.get(ENV_MODEL_DIR, "").strip() or base / "model"
    encoder = os.environ.get(ENV_ENCODER_DIR, "").strip() or base / "data"
    return Path(model), Path(encoder)


def set_folders(model_dir: str | Path | None, encoder_dir: str | Path | None) -> tuple[Path, Path]:
    """The folders of a set. A model folder given alone holds the encoder too, so a set saved elsewhere
    (``--model-dir /tmp/m``) never writes into, or removes anything from, the shipped ``data/``."""
    if model_dir is None and encoder_dir is None:
        return default_folders()
    model = Path(model_dir) if model_dir is not None else default_folders()[0]
    encoder = Path(encoder_dir) if encoder_dir is not None else model if model_dir is not None else default_folders()[1]
    return model, encoder


def manifest_path(name: str, model_dir: str | Path | None = None) -> Path:
    return set_folders(model_dir, None)[0] / f"{name}.manifest.json"


def library_versions() -> dict[str, str]:
    """The Keras and TensorFlow versions a manifest records its set was saved with."""
    import keras
    import tensorflow as tf

    return {"keras": keras.__version__, "tensorflow": tf.__version__}


def save(model, encoder, name: str, model_dir=None, encoder_dir=None, **sections) -> ArtifactPaths:
    """Save a model and its encoder as a new set; the previous set stays loadable until the manifest is replaced.

    ``sections`` (``data``, ``training``, ``validation``, ``evaluation``,
    ``serving``) go into the manifest as they are and must be JSON-serialisable objects.
    """
    import keras

    unknown = sorted(set(sections) - set(SECTIONS))
    if unknown:
        raise ValueError(f"unknown manifest sections {unknown}; choose from {SECTIONS}")
    model_folder, encoder_folder = set_folders(model_dir, encoder_dir)
    manifest = manifest_path(name, model_folder)
    previous = _files_named_by(manifest, (model_folder, encoder_folder))
    weights = _save_weights(model, name, model_folder)
    encoder_bytes = (json.dumps(encoder.to_json(), indent=1, ensure_ascii=False) + "\n").encode("utf-8")
    encoder_file = encoder_folder / f"{name}-{hashlib.sha256(encoder_bytes).hexdigest()[:12]}.encoder.json"
    atomic_write_bytes(encoder_file, encoder_bytes)
    payload = {
        "format": MANIFEST_FORMAT,
        "version": MANIFEST_VERSION,
        "model": name,
        "class": type(model).__name__,
        "registered_name": keras.saving.get_registered_name(type(model)),
        "config": _plain(model.get_config()),
        "fields": list(FIELDS),
        "vocab_sizes": encoder.vocab_sizes,
        "weights": {"file": os.path.relpath(weights, manifest.parent), "sha256": sha256_file(weights)},
        "encoder": {"file": os.path.relpath(encoder_file, manifest.parent), "sha256": sha256_file(encoder_file)},
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "versions": library_versions(),
        "cut_points": CUT_POINTS,
        **sections,
    }
    write_json(manifest, _plain(payload))  # the commit point: the new set takes over here
    for path in previous - {weights.resolve(), encoder_file.resolve()}:
        path.unlink(missing_ok=True)
    prune_newcomer_sets(model_folder)  # a retrained model starts with no newcomer network of its own
    return ArtifactPaths(weights, manifest, encoder_file)


def update_manifest(
    name: str, model_dir=None, config: dict | None = None, expect_weights: str | None = None, **sections
) -> Path:
    """Set serving options (``SERVING_OPTIONS``) of a saved set and replace manifest sections, in one atomic write.

    The weights and the encoder are untouched; the manifest is checked
    before it is written, so a bad value never replaces a good set. With
    ``expect_weights`` (a SHA-256), a set whose weights changed meanwhile
    (retrained) is refused rather than given options chosen for the old one.
    """
    config = config or {}
    unknown = sorted(set(config) - set(SERVING_OPTIONS))
    if unknown:
        raise ValueError(f"{unknown} are not serving options; only {SERVING_OPTIONS} change without retraining")
    unknown = sorted(set(sections) - set(SECTIONS))
    if unknown:
        raise ValueError(f"unknown manifest sections {unknown}; choose from {SECTIONS}")
    path = manifest_path(name, set_folders(model_dir, None)[0])
    manifest = read_manifest(path)
    if expect_weights is not None and manifest["weights"]["sha256"] != expect_weights:
        raise ArtifactError(f"{path} names other weights than the ones the options were chosen for (retrained?)")
    manifest["config"].update(config)
    manifest.update(sections)
    model_class = MODELS[manifest["model"]]
    try:  # the class must accept the changed config, or the set would no longer load
        model_class(**manifest["config"])
    except (TypeError, ValueError) as err:
        raise ValueError(f"{path}: the new config does not fit {manifest['class']}: {err}") from err
    check_manifest(manifest, path)
    write_json(path, _plain(manifest))
    return path


def _files_named_by(manifest: Path, folders: tuple[Path, Path]) -> set[Path]:
    """The weights and encoder files a readable earlier manifest names inside the folders (to remove once replaced)."""
    try:
        earlier = read_manifest(manifest)
    except ArtifactError:
        return set()
    named = set()
    for part in ("weights", "encoder"):
        try:
            named.add(_confined(manifest, earlier[part]["file"], f"{part}.file", folders))
        except ArtifactError:
            continue
    return named


def _save_weights(model, name: str, folder: Path) -> Path:
    """The serving weights (no optimizer state) under a name of their own content."""
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".weights.h5")
    os.close(fd)
    serving = type(model).built(**model.get_config())
    serving.set_weights(model.get_weights())
    try:
        serving.save_weights(tmp, overwrite=True)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        final = folder / f"{name}-{sha256_file(tmp)[:12]}.weights.h5"
        os.replace(tmp, final)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_folder(folder)  # the rename is on disk before a manifest names the file (the encoder's write does the same)
    return final


def read_manifest(path: str | Path) -> dict:
    """A manifest, its format, version and every key the loader reads checked."""
    path = Path(path)
    if not path.is_file():
        raise ArtifactError(f"manifest {path} does not exist")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as err:
        raise ArtifactError(f"manifest {path} is not valid JSON (corrupt or truncated): {err}") from err
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
        raise ArtifactError(f"{path} is not a movierec model manifest")
    if manifest.get("version") != MANIFEST_VERSION:
        raise ArtifactError(
            f"{path} has manifest version {manifest.get('version')}; this code reads {MANIFEST_VERSION}"
        )
    check_manifest(manifest, path)
    return manifest


# Config keys that are Keras bookkeeping, the data's shape, the run's seed or how a trained model is served,
# not choices a new model of the same kind is trained with.
NOT_HYPERPARAMETERS = ("name", "trainable", "dtype", "vocab_sizes", "seed", *SERVING_OPTIONS)


def hyperparameters(manifest: dict) -> dict:
    """The hyperparameters a manifest's model was built with, ready for ``models.create`` on new vocabularies.

    Serving options are left out: they were chosen for the trained weights, not for a model trained anew (the
    new-user protocol alone sets the ranking rule of its fresh networks to the shipped one, on purpose).
    """
    return {k: v for k, v in manifest["config"].items() if k not in NOT_HYPERPARAMETERS}


def check_manifest(manifest: dict, path: Path) -> None:
    """Keys and types of everything ``load`` reads; the first problem raises, naming the file and the field."""

    def need(condition: bool, field: str, expected: str) -> None:
        if not condition:
            value = _lookup(manifest, field)
            shown = "missing" if value is _MISSING else f"{json.dumps(value)[:80]}"
            raise ArtifactError(f"{path}: field {field!r} must be {expected}, found {shown}")

    def sizes(value) -> bool:
        return isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value)

    for key in ("model", "class", "registered_name"):
        need(isinstance(manifest.get(key), str), key, "a string")
    need(isinstance(manifest.get("fields"), list), "fields", "a list of field names")
    need(sizes(manifest.get("vocab_sizes")), "vocab_sizes", "a list of positive integers")
    need(len(manifest["vocab_sizes"]) == len(manifest["fields"]), "vocab_sizes", "one size per field")
    config = manifest.get("config")
    need(isinstance(config, dict), "config", "an object of model options")
    need(sizes(config.get("vocab_sizes")), "config.vocab_sizes", "a list of positive integers")
    for part in ("weights", "encoder"):
        need(isinstance(manifest.get(part), dict), part, "an object with 'file' and 'sha256'")
        need(isinstance(manifest[part].get("file"), str) and manifest[part]["file"], f"{part}.file", "a file name")
        sha = manifest[part].get("sha256")
        need(isinstance(sha, str) and bool(_SHA256.fullmatch(sha)), f"{part}.sha256", "64 hexadecimal digits")
    for section in SECTIONS:
        need(isinstance(manifest.get(section, {}), dict), section, "an object")
    for section in ("validation", "evaluation"):
        numbers = manifest.get(section, {})
        for key, value in numbers.items():
            need(value is None or isinstance(value, int | float), f"{section}.{key}", "a number")
    need(manifest.get("cut_points", CUT_POINTS) == CUT_POINTS, "cut_points", f"{CUT_POINTS!r} (or absent)")


_MISSING = object()


def _lookup(manifest: dict, dotted: str):
    value = manifest
    for key in dotted.split("."):
        if not isinstance(value, dict) or key not in value:
            return _MISSING
        value = value[key]
    return value


def _confined(manifest: Path, name: str, field: str, folders: tuple[Path, ...]) -> Path:
    """The file a manifest field names (relative to the manifest), which must lie in the artifact folders."""
    target = (manifest.parent / name).resolve()
    if not any(target.parent == folder.resolve() for folder in folders):
        shown = " or ".join(str(f) for f in dict.fromkeys(folders))
        raise ArtifactError(f"{manifest}: field {field!r} names {name!r}, outside the artifact folders ({shown})")
    return target


def save_newcomer_set(model, encoder, name: str, model_dir=None, **sections) -> dict:
    """Save a set that is to serve ``name``'s newcomers; returns the record the shipped manifest names it by.

    The set (manifest, weights and encoder together) goes into a folder of
    its own, ``newcomers/<sha256[:12]>`` of the weights inside the model
    folder, so the set in service is never touched: it takes over only when
    the shipped manifest records ``{"folder", "weights_sha256"}`` under
    ``serving.newcomers.network`` (``update_manifest``), and
    ``prune_newcomer_sets`` removes the sets no manifest names after that.
    """
    root = set_folders(model_dir, None)[0] / NEWCOMERS
    root.mkdir(parents=True, exist_ok=True)
    incoming = Path(tempfile.mkdtemp(prefix=".incoming-", dir=root))
    try:
        os.chmod(incoming, 0o755)  # mkdtemp's folder is private; a set is as readable as the files in it
        paths = save(model, encoder, name, incoming, incoming, **sections)
        weights_sha = sha256_file(paths.weights)
        folder = root / weights_sha[:12]
        if folder.exists():  # the same weights again: the set already there is kept
            shutil.rmtree(incoming)
        else:
            os.replace(incoming, folder)
            fsync_folder(root)
    except BaseException:
        shutil.rmtree(incoming, ignore_errors=True)
        raise
    return {"folder": f"{NEWCOMERS}/{folder.name}", "weights_sha256": weights_sha}


def prune_newcomer_sets(model_dir=None) -> list[Path]:
    """Remove the newcomer sets no model's manifest in the folder names (once a manifest switched); returns them."""
    model_folder = set_folders(model_dir, None)[0]
    root = model_folder / NEWCOMERS
    if not root.is_dir():
        return []
    named = set()
    for name in MODELS:
        if manifest_path(name, model_folder).is_file():
            try:
                record = _newcomer_record(name, model_folder)
            except ArtifactError:  # a manifest that cannot be read might name any of them: keep them all
                return []
            if record:
                named.add(record["folder"].split("/")[-1])
    # (a dot-folder is a save under way, perhaps in another process: never removed here)
    removed = [p for p in root.iterdir() if p.is_dir() and p.name not in named and not p.name.startswith(".")]
    for folder in removed:
        shutil.rmtree(folder)
    return removed


_NEWCOMER_FOLDER = re.compile(NEWCOMERS + r"/[0-9a-f]{12}")


def _newcomer_record(name: str, model_folder: Path) -> dict | None:
    shipped = manifest_path(name, model_folder)
    newcomers = (read_manifest(shipped).get("serving") or {}).get("newcomers") or {}
    network = newcomers.get("network") if isinstance(newcomers, dict) else None
    if network is None:
        return None
    if (not isinstance(network, dict) or not _SHA256.fullmatch(str(network.get("weights_sha256", "")))
            or not _NEWCOMER_FOLDER.fullmatch(str(network.get("folder", "")))):  # fmt: skip
        raise ArtifactError(f"{shipped}: field 'serving.newcomers.network' must be an object with a folder "
                            "newcomers/<12 hex digits> and a weights_sha256")  # fmt: skip
    return network


def serving_folders(name: str, model_dir=None, encoder_dir=None, newcomer: bool = False) -> tuple:
    """The (model, encoder) folders that serve a person: the newcomer set for a newcomer if ``name`` has one."""
    return (newcomer_folders(name, model_dir) if newcomer else None) or (model_dir, encoder_dir)


def newcomer_folders(name: str, model_dir=None) -> tuple[Path, Path] | None:
    """The (model, encoder) folders of the set that serves ``name``'s newcomers, or None if the shipped set does.

    The shipped manifest names such a set under ``serving.newcomers.network``
    (``python -m movierec.evaluate --apply-newuser-choice``) by its folder
    and its weights' SHA-256; a set there whose manifest names other weights
    is refused with an ``ArtifactError``, as is a record that is not an
    object with both. The set keeps its encoder beside its weights, so only
    the model folder is needed.
    """
    model_folder = set_folders(model_dir, None)[0]
    network = _newcomer_record(name, model_folder)
    if network is None:
        return None
    folder = model_folder / network["folder"]
    theirs = read_manifest(manifest_path(name, folder))
    if theirs["weights"]["sha256"] != network["weights_sha256"]:
        shipped = manifest_path(name, model_folder)
        raise ArtifactError(f"{manifest_path(name, folder)} names other weights than the newcomer network "
                            f"{shipped} was given; apply the new-user choice again")  # fmt: skip
    return folder, folder


def load(name: str, model_dir: str | Path | None = None, encoder_dir: str | Path | None = None):
    """Rebuild a saved model and its encoder, checking every link between them.

    Returns ``(model, encoder, manifest)``. Raises ``ArtifactError`` naming
    the first thing that does not match.
    """
    import keras

    if name not in MODELS:
        raise ArtifactError(f"unknown model {name!r}; choose one of {sorted(MODELS)}")
    folders = set_folders(model_dir, encoder_dir)
    if encoder_dir is None:  # a set saved with the model folder given alone, or beside the default encoders
        folders = (*folders, default_folders()[1])
    path = manifest_path(name, folders[0])
    manifest = read_manifest(path)
    if manifest["model"] != name:
        raise ArtifactError(f"{path}: field 'model' is {manifest['model']!r}, expected {name!r}")
    model_class = MODELS[name]
    if manifest["registered_name"] != keras.saving.get_registered_name(model_class):
        raise ArtifactError(
            f"{path} was written for class {manifest['registered_name']}, "
            f"the code has {keras.saving.get_registered_name(model_class)}"
        )
    if manifest["fields"] != list(FIELDS):
        raise ArtifactError(f"{path} lists fields {manifest['fields']}, the code uses {list(FIELDS)}")
    files = {}
    for part in ("weights", "encoder"):
        file = _confined(path, manifest[part]["file"], f"{part}.file", folders)
        if not file.is_file():
            raise ArtifactError(f"{part} file {file} named by {path} does not exist")
        if sha256_file(file) != manifest[part]["sha256"]:
            raise ArtifactError(f"{part} file {file} does not match the checksum in {path}")
        files[part] = file
    try:
        encoder = FeatureEncoder.load(files["encoder"])
    except EncoderMismatchError as err:
        raise ArtifactError(str(err)) from err
    if encoder.vocab_sizes != manifest["vocab_sizes"] or encoder.vocab_sizes != manifest["config"]["vocab_sizes"]:
        raise ArtifactError(f"vocabulary sizes in {files['encoder']} do not match {path}")
    try:
        model = model_class.built(**manifest["config"])
        # Keras only warns when a layer finds no weights in the file and keeps
        # its random ones; for a served model that is an error.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model.load_weights(files["weights"])
        skipped = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
        if skipped:
            raise ValueError("; ".join(skipped))
        if model.ordinal and "cut_points" not in manifest:
            _offsets_to_steps(model, path)
    except (TypeError, ValueError, KeyError, OSError) as err:
        raise ArtifactError(f"{files['weights']} does not fit the {manifest['class']} in this code: {err}") from err
    return model, encoder, manifest


def _offsets_to_steps(model, path: Path) -> None:
    """Convert an earlier set's ordinal cut-point offsets, stored in the same weight, to today's steps."""
    offsets = model.cut_steps.numpy()
    try:
        steps = steps_from_offsets(offsets)
    except ValueError as err:
        raise ArtifactError(f"{path}: its ordinal cut-points {offsets.tolist()} cannot be converted: {err}") from err
    model.cut_steps.assign(steps)


def _plain(value):
    """Turn numpy scalars and tuples into JSON-native values, recursively."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        return value.item()
    return value
