"""Bad inputs a person can give the project, each with where it goes in and the message it must produce.

One list serves two readers: ``tests/test_bad_inputs.py`` runs every case and
checks its message (a project error, one line for the CLIs, never a
traceback), and ``scripts/bad_inputs.py`` runs the same cases to write the
table in ``docs/bad_inputs.md``. Each case starts from pristine fixture data
and pristine tiny artifacts, copied into a fresh folder.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Workspace:
    data: Path  # a pristine ML-1M fixture folder
    artifacts: Path  # pristine tiny AutoInt+ artifacts: model/ and data/
    scratch: Path  # an empty folder for this case

    def data_copy(self) -> Path:
        return Path(shutil.copytree(self.data, self.scratch / "ml-1m"))

    def artifacts_copy(self) -> Path:
        return Path(shutil.copytree(self.artifacts, self.scratch / "artifacts"))


@dataclass(frozen=True)
class Case:
    where: str
    input: str
    expected: str  # a regular expression the message must match
    run: Callable[[Workspace], str]  # returns the message the person sees


# ----------------------------------------------------------------- data files


def _load_error(folder: Path) -> str:
    from movierec import data

    try:
        data.load("ml-1m", folder, download=False)
    except data.MovieLensError as err:
        return str(err)
    raise AssertionError("the bad input was accepted")


def _data_line(file: str, number: int, text: str) -> Callable[[Workspace], str]:
    def run(ws: Workspace) -> str:
        folder = ws.data_copy()
        lines = (folder / file).read_bytes().decode("latin-1").split("\n")
        lines[number - 1] = text
        (folder / file).write_bytes("\n".join(lines).encode("latin-1"))
        return _load_error(folder)

    return run


def _data_file(file: str, change: Callable[[bytes], bytes]) -> Callable[[Workspace], str]:
    def run(ws: Workspace) -> str:
        folder = ws.data_copy()
        (folder / file).write_bytes(change((folder / file).read_bytes()))
        return _load_error(folder)

    return run


def _repeat_first_rating(raw: bytes) -> bytes:
    first = raw.split(b"\n")[0]
    return raw + first + b"\n"


def _missing_file(ws: Workspace) -> str:
    folder = ws.data_copy()
    (folder / "users.dat").unlink()
    return _load_error(folder)


def _blank_data_dir(ws: Workspace) -> str:
    from movierec import data

    try:
        data.load("ml-1m", "", download=False)
    except data.MovieLensError as err:
        return str(err)
    raise AssertionError("a blank data_dir was accepted")


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _offline_download(ws: Workspace) -> str:
    from movierec import data

    previous = os.environ.get(data.ENV_CACHE_DIR)
    os.environ[data.ENV_CACHE_DIR] = str(ws.scratch / "cache")
    try:
        data.fetch("ml-1m", url=f"http://127.0.0.1:{_closed_port()}/ml-1m.zip", progressbar=False)
    except data.MovieLensError as err:
        return str(err)
    finally:
        if previous is None:
            os.environ.pop(data.ENV_CACHE_DIR)
        else:
            os.environ[data.ENV_CACHE_DIR] = previous
    raise AssertionError("the download did not fail")


# ----------------------------------------------------------------- artifacts


def _artifact_error(root: Path) -> str:
    from movierec import artifacts

    try:
        artifacts.load("autointp", root / "model", root / "data")
    except artifacts.ArtifactError as err:
        return str(err)
    raise AssertionError("the bad artifacts were accepted")


def _manifest(root: Path) -> Path:
    return root / "model" / "autointp.manifest.json"


def _named(root: Path, part: str) -> Path:
    return _manifest(root).parent / json.loads(_manifest(root).read_text())[part]["file"]


def _edit_manifest(change: Callable[[dict], None]) -> Callable[[Workspace], str]:
    def run(ws: Workspace) -> str:
        root = ws.artifacts_copy()
        manifest = json.loads(_manifest(root).read_text())
        change(manifest)
        _manifest(root).write_text(json.dumps(manifest))
        return _artifact_error(root)

    return run


def _edit_file(change: Callable[[Path], None]) -> Callable[[Workspace], str]:
    def run(ws: Workspace) -> str:
        root = ws.artifacts_copy()
        change(root)
        return _artifact_error(root)

    return run


def _flip_a_byte(root: Path) -> None:
    weights = bytearray(_named(root, "weights").read_bytes())
    weights[len(weights) // 2] ^= 1
    _named(root, "weights").write_bytes(bytes(weights))


def _edit_encoder(change: Callable[[dict], None]) -> Callable[[Workspace], str]:
    """Change the encoder and re-pin its checksum, so only the content check can object."""

    def run(ws: Workspace) -> str:
        from movierec.files import sha256_file

        root = ws.artifacts_copy()
        path = _named(root, "encoder")
        payload = json.loads(path.read_text())
        change(payload)
        path.write_text(json.dumps(payload))
        manifest = json.loads(_manifest(root).read_text())
        manifest["encoder"]["sha256"] = sha256_file(path)
        _manifest(root).write_text(json.dumps(manifest))
        return _artifact_error(root)

    return run


# ----------------------------------------------------------------- command line


def _cli(tool: str, argv: list[str], with_data: bool = True) -> Callable[[Workspace], str]:
    def run(ws: Workspace) -> str:
        import importlib

        main = importlib.import_module(f"movierec.cli.{tool}").main
        base = ["--data-dir", str(ws.data), "--no-download"] if with_data else ["--no-download"]
        if tool in ("evaluate", "recommend") and "--model-dir" not in argv:
            base += ["--model-dir", str(ws.artifacts / "model"), "--encoder-dir", str(ws.artifacts / "data")]
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.suppress(SystemExit):
            main([*base, *argv])
        text = err.getvalue()
        assert text.startswith("error: ") and text.count("\n") == 1, f"not a one-line error: {text!r}"
        return text.strip()

    return run


def _newcomer_network_replaced(ws: Workspace) -> str:
    """A newcomer set beside the shipped one whose weights are not the ones the shipped manifest names."""
    from model_fixtures import serve_newcomers_with

    from movierec import artifacts

    root = ws.artifacts_copy()
    model, encoder, _ = artifacts.load("autointp", root / "model", root / "data")
    record = serve_newcomers_with(root / "model", model, encoder)
    named = root / "model" / record["folder"] / "autointp.manifest.json"
    named.write_text(named.read_text().replace(record["weights_sha256"], "0" * 64))
    try:
        artifacts.newcomer_folders("autointp", root / "model")
    except artifacts.ArtifactError as err:
        return str(err)
    raise AssertionError("the bad artifacts were accepted")


def _cli_with_file(tool: str, option: str, content: dict) -> Callable[[Workspace], str]:
    """``tool`` given ``option`` naming a JSON file with ``content``, written into the case's folder."""

    def run(ws: Workspace) -> str:
        path = ws.scratch / "given.json"
        path.write_text(json.dumps(content))
        message = _cli(tool, [option, str(path)])(ws)
        return message.replace(str(path), "given.json")

    return run


def _save_networks_over_the_shipped_set(ws: Workspace) -> str:
    """--save-networks naming the folder that holds the shipped model/ (its network "model" would land there)."""
    return _cli("evaluate", ["--protocol", "newuser", "--out", str(ws.scratch / "newuser.json"), "--model-dir",
                             str(ws.artifacts / "model"), "--encoder-dir", str(ws.artifacts / "data"),
                             "--save-networks", str(ws.artifacts)])(ws).replace(str(ws.artifacts), "<artifacts>")


# A new-user run's record whose network's ranking rule names one of the two options only.
HALF_A_RULE = {"model": "autointp", "settings": {
    "newcomers": {"model": {"prior_profile_power": 1.0}}, "data": {"fingerprint": "x"},
    "trained": {"model": {"overrides": {}, "settings": {}, "ranking": {"ranking_prior_gain": 2.0}}}}}  # fmt: skip


# ----------------------------------------------------------------- app


@contextlib.contextmanager
def _environment(**values: str):
    previous = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _app(
    typed_zip: str | None = None,
    model_dir: str | None = None,
    data_dir: str | None = None,
    upload: tuple[str, bytes] | None = None,
) -> Callable[[Workspace], str]:
    def run(ws: Workspace) -> str:
        from streamlit.testing.v1 import AppTest

        root = Path(__file__).resolve().parent.parent
        settings = {
            "MOVIELENS_DIR": data_dir if data_dir is not None else str(ws.data),
            "MOVIEREC_MODEL_DIR": model_dir if model_dir is not None else str(ws.artifacts / "model"),
            "MOVIEREC_ENCODER_DIR": str(ws.artifacts / "data"),
        }
        with _environment(**settings):
            at = AppTest.from_file(str(root / "show_st_plus.py"), default_timeout=120).run()
            if typed_zip is not None:
                at.text_input(key="zip").input(typed_zip).run()
            if upload is not None:
                at.file_uploader(key="upload").set_value((*upload, "text/plain")).run()
        assert not at.exception, "the page showed a traceback"
        shown = " ".join(e.value for e in at.error)
        return re.sub(r"\\(.)", r"\1", shown)  # as the person reads it: the markdown escapes rendered

    return run


CASES: list[Case] = [
    Case("ratings.dat", "user id 4294967297 (above 2^31)", r"ratings.dat, line 3: user_id 4294967297 is out of range",
         _data_line("ratings.dat", 3, "4294967297::2::5::978300760")),
    Case("ratings.dat", "a 20-digit timestamp", r"line 3: timestamp 99999999999999999999 is out of range",
         _data_line("ratings.dat", 3, "1::2::5::99999999999999999999")),
    Case("ratings.dat", "timestamp 99999999999999 (year 3170000)", r"line 3: timestamp 99999999999999 is out of range",
         _data_line("ratings.dat", 3, "1::2::5::99999999999999")),
    Case("ratings.dat", "rating 6", r"line 2: rating 6 is out of range \(1..5\)",
         _data_line("ratings.dat", 2, "1::2::6::978300760")),
    Case("ratings.dat", "rating 3.5", r"line 2: rating is not an integer: '3.5'",
         _data_line("ratings.dat", 2, "1::2::3.5::978300760")),
    Case("ratings.dat", "rating ² (a Unicode digit)", r"line 2: rating is not an integer: '²'",
         _data_line("ratings.dat", 2, "1::2::²::978300760")),
    Case("ratings.dat", "movie id --5", r"line 2: movie_id is not an integer: '--5'",
         _data_line("ratings.dat", 2, "1::--5::4::978300760")),
    Case("ratings.dat", "a line with a field missing", r"line 4: 3 field\(s\), expected 4",
         _data_line("ratings.dat", 4, "1::2::5")),
    Case("ratings.dat", "the same (user, movie) rated twice", r"repeat line 1",
         _data_file("ratings.dat", _repeat_first_rating)),
    Case("ratings.dat", "an empty file", r"ratings.dat: file is empty", _data_file("ratings.dat", lambda raw: b"")),
    Case("users.dat", "gender X", r"users.dat, line 2: gender 'X' is out of range",
         _data_line("users.dat", 2, "2::X::25::3::10001")),
    Case("users.dat", "occupation 21", r"users.dat, line 2: occupation 21 is out of range \(0..20\)",
         _data_line("users.dat", 2, "2::M::25::21::10001")),
    Case("users.dat", "the file is missing", r"users.dat", _missing_file),
    Case("movies.dat", "movie id 0", r"movies.dat, line 1: movie_id 0 is out of range",
         _data_line("movies.dat", 1, "0::Toy Story (1995)::Animation")),
    Case("data folder", '--data-dir ""', r"data_dir='' is blank", _blank_data_dir),
    Case("download", "no copy and no network", r"downloading MovieLens ml-1m from .* failed .* set MOVIELENS_DIR",
         _offline_download),
    Case("manifest", "the encoder key removed", r"field 'encoder' must be an object .* found missing",
         _edit_manifest(lambda m: m.pop("encoder"))),
    Case("manifest", 'weights: "x"', r"field 'weights' must be an object",
         _edit_manifest(lambda m: m.update(weights="x"))),
    Case("manifest", "config: []", r"field 'config' must be an object", _edit_manifest(lambda m: m.update(config=[]))),
    Case("manifest", "an encoder path outside the artifact folders", r"outside the artifact folders",
         _edit_manifest(lambda m: m["encoder"].update(file="../../../etc/passwd"))),
    Case("manifest", "truncated JSON", r"not valid JSON \(corrupt or truncated\)",
         _edit_file(lambda r: _manifest(r).write_text(_manifest(r).read_text()[:40]))),
    Case("manifest", "an option the code does not know", r"does not fit the AutoIntPlus",
         _edit_manifest(lambda m: m["config"].update(no_such_option=1))),
    Case("manifest", "a newcomer network replaced by other weights than the ones it names",
         r"names other weights than the newcomer network .* apply the new-user choice again",
         _newcomer_network_replaced),
    Case("weights", "one byte changed", r"weights file .* does not match the checksum",
         _edit_file(_flip_a_byte)),
    Case("encoder", "vocabularies removed", r"field 'vocabularies' is missing",
         _edit_encoder(lambda e: e.pop("vocabularies"))),
    Case("encoder", 'a vocabulary given as the string "FM"', r"'vocabularies.gender' must be a list of strings",
         _edit_encoder(lambda e: e["vocabularies"].update(gender="FM"))),
    Case("CLI train", "--epochs 0", r"^error: argument --epochs: must be a whole number >= 1, got '0'",
         _cli("train", ["--epochs", "0"])),
    Case("CLI train", "--learning-rate -1", r"^error: learning_rate must be positive, got -1.0 \(see --help\)$",
         _cli("train", ["--learning-rate", "-1"])),
    Case("CLI train", "--hyperparameters '[1]'", r"^error: argument --hyperparameters: must be a JSON object",
         _cli("train", ["--hyperparameters", "[1]"])),
    Case("CLI train", "--model deepfm", r"^error: argument --model: invalid choice: 'deepfm'",
         _cli("train", ["--model", "deepfm"])),
    Case("CLI train", "--oov-rate 1.5", r"^error: oov_rate must be in \[0, 1\)", _cli("train", ["--oov-rate", "1.5"])),
    Case("CLI evaluate", "no artifacts in --model-dir", r"^error: manifest .* does not exist; retrain with",
         _cli("evaluate", ["--model-dir", "/nonexistent/models"])),
    Case("CLI evaluate", "--protocol temporal --epochs 0", r"^error: argument --epochs: must be a whole number >= 1",
         _cli("evaluate", ["--protocol", "temporal", "--epochs", "0"])),
    Case("CLI evaluate", "--data-dir that holds no MovieLens", r"^error: data_dir='/nonexistent' does not hold",
         _cli("evaluate", ["--data-dir", "/nonexistent"], with_data=False)),
    Case("CLI evaluate", "--apply-newuser-choice naming a missing file",
         r"^error: /nonexistent/newuser\.json holds no new-user choice \(FileNotFoundError",
         _cli("evaluate", ["--apply-newuser-choice", "/nonexistent/newuser.json"])),
    Case("CLI evaluate", "--apply-newuser-choice with a ranking rule that names one option",
         r"^error: given\.json holds no new-user choice \(ValueError: its ranking record .* does not give exactly",
         _cli_with_file("evaluate", "--apply-newuser-choice", HALF_A_RULE)),
    Case("CLI evaluate", "--save-networks without --protocol newuser",
         r"^error: --save-networks goes with --protocol newuser and --out",
         _cli("evaluate", ["--save-networks", "/x"])),
    Case("CLI evaluate", "--save-networks naming the folder that holds the shipped model/",
         r"^error: --save-networks <artifacts> would save a network into <artifacts>/model, where the shipped",
         _save_networks_over_the_shipped_set),
    Case("CLI evaluate", "--networks without --protocol newuser", r"^error: --networks goes with --protocol newuser$",
         _cli("evaluate", ["--networks", "newcomer"])),
    Case("CLI evaluate", "--networks naming a network the protocol does not train",
         r"^error: --networks 'newcomer,stacked': the new-user protocol trains \[.*\] for the shipped autointp, "
         r"not \['stacked'\]$",
         _cli("evaluate", ["--protocol", "newuser", "--networks", "newcomer,stacked"])),
    Case("CLI evaluate", "--newcomer-history for a partial run without the newcomer network",
         r"^error: --newcomer-history shapes the 'newcomer' network, which --networks 'model' leaves out$",
         _cli("evaluate", ["--protocol", "newuser", "--networks", "model", "--newcomer-history", "first_ratings"])),
    Case("CLI evaluate", "--refresh-baselines of the new-user protocol",
         r"^error: --refresh-baselines: the new-user protocol measures its baselines per K beside the networks it "
         r"trains; run it again instead$",
         _cli("evaluate", ["--protocol", "newuser", "--refresh-baselines", "/x/newuser.json"])),
    Case("CLI evaluate", "--out naming a folder", r"^error: --out /tmp is a folder: give the file to write the results "
         r"to$", _cli("evaluate", ["--out", "/tmp"])),
    Case("CLI evaluate", "--newcomer-share 1.5", r"^error: argument --newcomer-share: must be a number in \(0, 1\], "
         r"got '1\.5'", _cli("evaluate", ["--protocol", "newuser", "--newcomer-share", "1.5"])),
    Case("CLI tune", "--trials two", r"^error: argument --trials: must be a whole number >= 1, got 'two'",
         _cli("tune", ["--trials", "two"])),
    Case("app", "zip code 12a45", r"“12a45” is not a zip code \(5 digits", _app(typed_zip="12a45")),
    Case("app", "zip code *1*", r"“\*1\*” is not a zip code", _app(typed_zip="*1*")),
    Case("app", "a ratings file rating a movie 7 stars", r"mine\.csv, rating 1: stars are 1 to 5, got 7\. Your ratings",
         _app(upload=("mine.csv", b"movie_id,stars\n1,7\n"))),
    Case("app", "a ratings file with more fields than its header", r"rating 1: 3 fields under a header of 2",
         _app(upload=("mine.csv", b"movie_id,stars\n260,5,4\n"))),
    Case("app", "a ratings file naming an unknown movie", r"movie 999999 is not in MovieLens 1M",
         _app(upload=("mine.json", b'[{"movie_id": 999999, "stars": 4}]'))),
    Case("CLI recommend", "--rated 260:9", r"^error: argument --rated: stars are 1 to 5, got '260:9'",
         _cli("recommend", ["--rated", "260:9"])),
    Case("CLI recommend", "--rated naming an unknown movie", r"^error: movie 999999 is not in ml-1m",
         _cli("recommend", ["--rated", "999999:5"])),
    Case("app", "no artifacts where MOVIEREC_MODEL_DIR points", r"The AutoInt\+ model could not be loaded",
         _app(model_dir="/nonexistent/models")),
    Case("app", "MOVIELENS_DIR pointing at an empty folder", r"MovieLens 1M is not available: .* does not hold",
         _app(data_dir="/nonexistent")),
]  # fmt: skip
