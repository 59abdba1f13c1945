"""Atomic writes and checksums."""

import hashlib
from pathlib import Path

import pytest

from movierec import files


def test_atomic_write_leaves_the_old_file_when_writing_fails(tmp_path):
    target = tmp_path / "x.json"
    files.atomic_write_text(target, "old")
    with pytest.raises(TypeError):  # the payload cannot be written: fails after the temp file exists
        files.atomic_write_bytes(target, object())  # type: ignore[arg-type]
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]


def test_sha256_of_a_file_and_json_written_atomically(tmp_path):
    target = tmp_path / "sub" / "payload.json"
    files.write_json(target, {"title": "Amélie", "n": 1})
    assert target.read_text(encoding="utf-8") == '{\n "title": "Amélie",\n "n": 1\n}\n'
    assert files.sha256_file(target) == hashlib.sha256(target.read_bytes()).hexdigest()
    assert oct(target.stat().st_mode & 0o777) == "0o644"
    with pytest.raises(FileNotFoundError):
        files.sha256_file(tmp_path / "missing")


def test_a_recorded_path_is_relative_inside_the_repository_and_absolute_outside(tmp_path, monkeypatch):
    """A record names a folder of the repository the same way in every clone, any other folder in full, and
    ``recorded_location`` finds either again whatever the working directory."""
    clone = tmp_path / "clone"
    (clone / "model" / "teacher").mkdir(parents=True)
    assert files.recorded_path(clone / "model" / "teacher", root=clone) == "model/teacher"
    assert files.recorded_path(clone / "model" / ".." / "model" / "teacher", root=clone) == "model/teacher"
    assert files.recorded_path(clone, root=clone) == "."
    for outside in (tmp_path / "elsewhere", tmp_path / "clone2"):  # clone2 shares the root's name as a prefix
        assert files.recorded_path(outside, root=clone) == str(outside.resolve())
    monkeypatch.chdir(tmp_path)  # a relative path is the working directory's, resolved before it is recorded
    assert files.recorded_path("elsewhere", root=clone) == str((tmp_path / "elsewhere").resolve())
    assert files.recorded_path("clone/model", root=clone) == "model"
    for folder in (clone / "model" / "teacher", tmp_path / "elsewhere"):
        monkeypatch.chdir(clone / "model")
        assert files.recorded_location(files.recorded_path(folder, root=clone), root=clone) == folder.resolve()
    # Installed without -e, the package's folder is no clone: a relative record is the working directory's.
    monkeypatch.setattr(files, "REPOSITORY", tmp_path / "site-packages")
    monkeypatch.chdir(clone)
    assert files.recorded_location("model/teacher").resolve() == (clone / "model" / "teacher").resolve()
    monkeypatch.undo()
    # The default root is the repository this module lies in.
    assert files.recorded_path(Path(__file__)) == "tests/test_files.py"
    assert files.recorded_location("tests/test_files.py") == Path(__file__).resolve()
