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
