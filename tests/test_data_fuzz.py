"""Property tests: a release with one corrupted file loads cleanly or raises a MovieLensError, never crashes.

Each example writes a small valid release in the GroupLens formats into a
temporary folder, corrupts one of its files with a few random edits (malformed
lines, wrong separators, huge or negative numbers, non-ASCII digits, NUL bytes,
lone carriage returns, cut-off bytes) and loads it. Anything but success or a
``MovieLensError`` (a KeyError, an OverflowError, a pandas ParserError...) is a
bug in the reader. A successful load must still honour the documented ranges.
"""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from movielens_fixtures import write_ml1m, write_ml100k

from movierec import data

FUZZ = settings(max_examples=60, deadline=None, database=None)

SEPARATORS = {"ml-1m": ["::"] * 3, "ml-100k": ["\t", "|"]}
ODD_FIELDS = [
    "", " ", "+", "-", "--5", "+-1", "²", "٣", "５", "1e3", "4.0", "3.5", "nan", "inf", "-inf", "0x10", "1_000",
    "\x00", "\r", "\x1f", "\x85", "\xa0", " 7 ", "\t7", "::", ":", "|", "\t", "\n", '"', "'", "#", "M", "F", "X",
    "0", "1", "5", "6", "-1", "2147483647", "2147483648", "4294967296", "99999999999999", "9" * 20, "9" * 40,
    "01-Jan--inf", "Up (1999)", "Down (1e99)",
]  # fmt: skip


def _field() -> st.SearchStrategy[bytes]:
    text = st.one_of(
        st.sampled_from(ODD_FIELDS),
        st.integers(-(10**25), 10**25).map(str),
        st.floats(allow_nan=True, allow_infinity=True).map(str),
        st.text(max_size=6),
    )
    return st.one_of(text.map(lambda s: s.encode("utf-8")), text.map(lambda s: s.encode("latin-1", "replace")),
                     st.binary(max_size=6))  # fmt: skip


@st.composite
def _line(draw, release: str) -> bytes:
    sep = draw(st.sampled_from([*SEPARATORS[release], "::", ":", "\t", "|", ","])).encode()
    fields = draw(st.lists(_field(), min_size=0, max_size=25 if release == "ml-100k" else 7))
    return sep.join(fields)


@st.composite
def _edit(draw, release: str):
    """One change to a file's lines: replace, insert or duplicate a line, or cut or overwrite bytes."""
    kind = draw(st.sampled_from(["replace", "insert", "duplicate", "cut", "overwrite", "field"]))
    where = draw(st.integers(0, 10_000))
    if kind in ("replace", "insert"):
        return kind, where, draw(_line(release))
    if kind == "field":  # one field of an otherwise valid line, so the other fields still parse
        return kind, where, (draw(st.integers(0, 30)), draw(_field()))
    if kind == "overwrite":
        return kind, where, draw(st.binary(min_size=1, max_size=4))
    return kind, where, None


def _apply(raw: bytes, edit, sep: bytes) -> bytes:
    kind, where, payload = edit
    if kind in ("cut", "overwrite"):
        at = where % (len(raw) + 1)
        return raw[:at] if kind == "cut" else raw[:at] + payload + raw[at + len(payload) :]
    lines = raw.split(b"\n")
    at = where % len(lines)
    if kind == "replace":
        lines[at] = payload
    elif kind == "insert":
        lines.insert(at, payload)
    elif kind == "duplicate":
        lines.insert(at, lines[(where // 7) % len(lines)])
    else:
        fields = lines[at].split(sep)
        index, value = payload
        fields[index % len(fields)] = value
        lines[at] = sep.join(fields)
    return b"\n".join(lines)


@functools.cache
def _template(release: str) -> dict[str, bytes]:
    """The files of a small valid release, built once."""
    with tempfile.TemporaryDirectory() as tmp:
        writer = write_ml1m if release == "ml-1m" else write_ml100k
        folder = writer(Path(tmp) / release, n_users=8, n_movies=10, per_user=4)
        return {f.name: f.read_bytes() for f in folder.iterdir()}


def _load_corrupted(release: str, file: str, edits: list) -> None:
    files = dict(_template(release))
    sep = (b"::" if release == "ml-1m" else b"\t" if file == "u.data" else b"|")
    for edit in edits:
        files[file] = _apply(files[file], edit, sep)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / release
        folder.mkdir()
        for name, raw in files.items():
            (folder / name).write_bytes(raw)
        try:
            loaded = data.load(release, folder, download=False)
        except data.MalformedFileError as err:
            assert err.path == folder or err.path.parent == folder
            if err.line is not None:  # a line that exists; a final \n ends the last line, it starts none
                raw = files[err.path.name]
                assert 1 <= err.line <= raw.count(b"\n") + (not raw.endswith(b"\n"))
            return
        except data.MovieLensError:
            return
    _assert_tidy(loaded)


def _assert_tidy(loaded: data.MovieLens) -> None:
    ratings, users, movies = loaded.ratings, loaded.users, loaded.movies
    assert ratings["user_id"].between(1, 2**31 - 1).all() and ratings["movie_id"].between(1, 2**31 - 1).all()
    assert ratings["rating"].between(1, 5).all() and ratings["timestamp"].between(0, 2**32 - 1).all()
    assert not ratings.duplicated(["user_id", "movie_id"]).any()
    assert users["user_id"].is_unique and movies["movie_id"].is_unique
    assert ratings["user_id"].isin(users["user_id"]).all() and ratings["movie_id"].isin(movies["movie_id"]).all()
    assert set(users["age"]) <= set(data.AGE_BRACKETS) and set(users["gender"]) <= {"M", "F"}
    assert [str(t) for t in (ratings["user_id"].dtype, ratings["rating"].dtype)] == ["int32", "int8"]
    assert np.all(movies["year"].dropna().between(0, 9999))


def _edits(release: str):
    return st.lists(_edit(release), min_size=1, max_size=3)


@FUZZ
@given(file=st.sampled_from(data.RELEASES["ml-1m"].files), edits=_edits("ml-1m"))
def test_a_corrupted_ml1m_file_loads_or_raises_a_movielens_error(file, edits):
    _load_corrupted("ml-1m", file, edits)


@FUZZ
@given(file=st.sampled_from(data.RELEASES["ml-100k"].files), edits=_edits("ml-100k"))
def test_a_corrupted_ml100k_file_loads_or_raises_a_movielens_error(file, edits):
    _load_corrupted("ml-100k", file, edits)
