"""Atomic writes and checksums."""

import hashlib

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


def test_a_recorded_path_is_relative_inside_the_repository_and_absolute_outside(tmp_path):
    """A manifest names a folder of the repository the same way in every clone, and any other folder in full."""
    clone = tmp_path / "clone"
    (clone / "model" / "teacher").mkdir(parents=True)
    assert files.recorded_path(clone / "model" / "teacher", root=clone) == "model/teacher"
    assert files.recorded_path(clone / "model" / ".." / "model" / "teacher", root=clone) == "model/teacher"
    outside = tmp_path / "elsewhere"
    assert files.recorded_path(outside, root=clone) == str(outside.resolve())
    assert files.recorded_path(files.REPOSITORY / "model") == "model"
