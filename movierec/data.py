"""Reading and fetching MovieLens.

Two GroupLens releases are supported, ML-1M (``::``-separated ``.dat`` files)
and ML-100K (``|``/tab-separated ``u.*`` files). Both are parsed into the same
tidy frames so everything downstream is release-agnostic:

* ``ratings``: ``user_id``, ``movie_id``, ``rating`` (1-5), ``timestamp`` (Unix seconds)
* ``users``: ``user_id``, ``gender`` (``M``/``F``), ``age`` (ML-1M age bracket code),
  ``occupation`` (name), ``zip``
* ``movies``: ``movie_id``, ``title``, ``year`` (nullable), ``genres`` (``|``-joined)

Where the files come from, in order: an explicit ``data_dir``; the
``MOVIELENS_DIR`` environment variable; the local cache (``MOVIELENS_CACHE`` or
the platform cache dir); otherwise the official GroupLens archive is downloaded
once with pooch, checked against a pinned MD5 and unpacked into the cache.
A blank ``data_dir`` (``--data-dir ""``) is an error, not "not given"; an
empty or blank ``MOVIELENS_DIR`` counts as unset, as an empty
``MOVIELENS_CACHE`` does. A download that fails (no network, say) raises
``DownloadError``, which says how to point the code at an existing copy.

Every value is checked before it is narrowed to its final dtype, and the first
bad one stops the load with a ``MalformedFileError`` naming the file, the
1-based line and the value. Integers are ASCII digits with an optional sign
(spaces or tabs around them are tolerated); ids must lie in 1..2**31-1,
ratings in 1..5, timestamps in 0..2**32-1 (unsigned 32-bit Unix seconds),
ML-1M ages and occupations must be codes from its README, ML-100K ages 1..120
years and its genre flags 0 or 1. Each line must have exactly the release's
number of fields; only ``\n`` and ``\r\n`` end a line.

A user who rates the same movie twice is rejected, naming both lines: the
GroupLens files have no such repeat, so one means a corrupt or concatenated
file, and keeping it could put the pair in both the training and the test
split. Users and movies may not repeat either, and every rating must refer to
a listed user and movie.

The licence of MovieLens forbids redistribution, so no file of it ever lives in
this repository; tests build small files in the same formats.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

ENV_DATA_DIR = "MOVIELENS_DIR"
ENV_CACHE_DIR = "MOVIELENS_CACHE"

AGE_BRACKETS: dict[int, str] = {
    1: "Under 18",
    18: "18-24",
    25: "25-34",
    35: "35-44",
    45: "45-49",
    50: "50-55",
    56: "56+",
}

# ML-1M stores occupations as codes; its README gives the names.
ML1M_OCCUPATIONS: tuple[str, ...] = (
    "other",
    "academic/educator",
    "artist",
    "clerical/admin",
    "college/grad student",
    "customer service",
    "doctor/health care",
    "executive/managerial",
    "farmer",
    "homemaker",
    "K-12 student",
    "lawyer",
    "programmer",
    "retired",
    "sales/marketing",
    "scientist",
    "self-employed",
    "technician/engineer",
    "tradesman/craftsman",
    "unemployed",
    "writer",
)

ML100K_GENRES: tuple[str, ...] = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
    "Romance", "Sci-Fi", "Thriller", "War", "Western",
)  # fmt: skip


class MovieLensError(Exception):
    """Base class of every data error raised here."""


class DataNotFoundError(MovieLensError, FileNotFoundError):
    """A MovieLens file or folder is missing."""


class MalformedFileError(MovieLensError, ValueError):
    """A line of a MovieLens file does not have the GroupLens format."""

    def __init__(self, path: Path | str, line: int | None, reason: str):
        self.path, self.line, self.reason = Path(path), line, reason
        where = f"{self.path}" + (f", line {line}" if line is not None else "")
        super().__init__(f"{where}: {reason}")


class ChecksumError(MovieLensError, ValueError):
    """A downloaded archive does not match its pinned checksum."""


class DownloadError(MovieLensError, OSError):
    """A release could not be downloaded: no network, or the server is unreachable or refused."""


@dataclass(frozen=True)
class Release:
    """One GroupLens release: where to get it and which files make it up."""

    name: str
    url: str
    md5: str
    files: tuple[str, ...]


RELEASES: dict[str, Release] = {
    "ml-1m": Release(
        "ml-1m",
        "https://files.grouplens.org/datasets/movielens/ml-1m.zip",
        "c4d9eecfca2ab87c1945afe126590906",
        ("ratings.dat", "users.dat", "movies.dat"),
    ),
    "ml-100k": Release(
        "ml-100k",
        "https://files.grouplens.org/datasets/movielens/ml-100k.zip",
        "0e33842e24a9c977be4e0107933c0723",
        ("u.data", "u.user", "u.item"),
    ),
}


@dataclass(frozen=True)
class MovieLens:
    """The three tidy frames of one release and where they were read from."""

    name: str
    path: Path
    ratings: pd.DataFrame
    users: pd.DataFrame
    movies: pd.DataFrame

    def fingerprint(self) -> str:
        """SHA-256 over the release's files, to tie trained artifacts to their data."""
        return fingerprint(self.path, RELEASES[self.name].files)


def fingerprint(folder: Path, files: tuple[str, ...]) -> str:
    digest = hashlib.sha256()
    for name in files:
        digest.update(name.encode())
        digest.update((folder / name).read_bytes())
    return digest.hexdigest()


# --------------------------------------------------------------------------- locating


def _release(name: str) -> Release:
    try:
        return RELEASES[name]
    except KeyError:
        raise ValueError(f"unknown MovieLens release {name!r}; choose one of {sorted(RELEASES)}") from None


def _holds(folder: Path, release: Release) -> bool:
    return all((folder / f).is_file() for f in release.files)


def cache_dir() -> Path:
    """Where downloaded archives are kept: ``MOVIELENS_CACHE`` or the platform cache."""
    env = os.environ.get(ENV_CACHE_DIR)
    if env:
        return Path(env).expanduser()
    import pooch

    return Path(pooch.os_cache("movierec"))


def find(name: str = "ml-1m", data_dir: str | Path | None = None) -> Path | None:
    """The folder holding ``name``'s files without downloading, or None.

    A folder given explicitly or through ``MOVIELENS_DIR`` may be the release
    folder itself or its parent (``.../data`` holding ``ml-1m/``). A blank
    ``data_dir`` is an error (``--data-dir ""`` would otherwise fall back to the
    cache or a download unnoticed); an empty or blank ``MOVIELENS_DIR`` counts
    as unset, as an empty ``MOVIELENS_CACHE`` does, so ``MOVIELENS_DIR= cmd``
    runs without it.
    """
    release = _release(name)
    if isinstance(data_dir, str) and not data_dir.strip():
        raise DataNotFoundError(
            f"data_dir={data_dir!r} is blank: give the folder holding MovieLens {name} (or its parent), "
            f"or leave it out to use {ENV_DATA_DIR}, the cache or a download"
        )
    env = os.environ.get(ENV_DATA_DIR, "")
    explicit = data_dir if data_dir is not None else env if env.strip() else None
    if explicit is not None:
        root = Path(explicit).expanduser()
        for folder in (root, root / name):
            if _holds(folder, release):
                return folder
        source = "data_dir" if data_dir is not None else ENV_DATA_DIR
        missing = [f for f in release.files if not (root / f).is_file() and not (root / name / f).is_file()]
        raise DataNotFoundError(
            f"{source}={str(root)!r} does not hold MovieLens {name}: missing {', '.join(missing)} "
            f"(looked in {root} and {root / name})"
        )
    cached = cache_dir() / name
    return cached if _holds(cached, release) else None


def fetch(name: str = "ml-1m", url: str | None = None, progressbar: bool = True) -> Path:
    """Download and unpack the official archive into the cache; return the release folder.

    The archive is verified against its pinned MD5 and kept, so later calls
    find it and never download again. ``url`` overrides the official address
    (a mirror, or a local server in tests) but never the checksum.
    """
    import pooch

    release = _release(name)
    address = url or release.url
    target = cache_dir()
    target.mkdir(parents=True, exist_ok=True)
    try:
        pooch.retrieve(
            address,
            known_hash=f"md5:{release.md5}",
            fname=f"{name}.zip",
            path=target,
            progressbar=progressbar,
            processor=pooch.Unzip(extract_dir="."),
        )
    except (ValueError, OSError) as err:  # requests' errors are OSErrors, some also ValueErrors
        if isinstance(err, ValueError) and "hash" in str(err).lower():
            raise ChecksumError(
                f"the archive downloaded from {address} does not match the pinned MD5 "
                f"{release.md5}; it was discarded. ({err})"
            ) from err
        if isinstance(err, OSError):
            raise DownloadError(
                f"downloading MovieLens {name} from {address} failed ({_reason(err)}); without network access, "
                f"set {ENV_DATA_DIR} or pass --data-dir to a folder holding a copy ({', '.join(release.files)})"
            ) from err
        raise
    folder = target / name
    if not _holds(folder, release):
        raise MalformedFileError(target / f"{name}.zip", None, f"archive does not contain {name}/{release.files}")
    return folder


def _reason(err: BaseException) -> str:
    """A download error in one line: its type and, when there is one, the innermost ``[Errno ...]``."""
    text = " ".join(str(err).split())
    errno = re.search(r"\[Errno -?\d+\][^'\"()]*", text)  # requests nests it in two layers of repr
    detail = errno.group(0).strip() if errno else text[:300]
    return f"{type(err).__name__}: {detail}" if detail else type(err).__name__


def locate(name: str = "ml-1m", data_dir: str | Path | None = None, download: bool = True) -> Path:
    """Find ``name`` locally, or fetch it when allowed."""
    folder = find(name, data_dir)
    if folder is not None:
        return folder
    if not download:
        raise DataNotFoundError(
            f"MovieLens {name} is not in the cache ({cache_dir() / name}); set {ENV_DATA_DIR} to a copy "
            f"or allow the download"
        )
    return fetch(name)


def load(name: str = "ml-1m", data_dir: str | Path | None = None, download: bool = True) -> MovieLens:
    """Locate (or fetch) a release and parse it into tidy frames."""
    folder = locate(name, data_dir, download)
    reader = _read_ml1m if name == "ml-1m" else _read_ml100k
    ratings, users, movies = reader(folder)
    _check_consistency(folder, _release(name), ratings, users, movies)
    return MovieLens(name, folder, ratings, users, _in_id_order(movies))


# --------------------------------------------------------------------------- parsing


# An integer field: ASCII digits with an optional sign, spaces or tabs around it. ``\d`` would also
# take other scripts' digits, and the C parser alone would take "4.0" and "1e3".
_INTEGER = re.compile(r"[ \t]*[+-]?[0-9]+[ \t]*")
_MAX_DIGITS = 18  # any longer integer may not fit int64, and every allowed range is far narrower
# Short integers, one per line; possessive, as there is nothing to backtrack into.
_SHORT_INTEGERS = re.compile(rf"(?:[ \t]*+[+-]?+[0-9]{{1,{_MAX_DIGITS}}}+[ \t]*+\n)*+")
_INTEGER_BYTES = b"0123456789+- \t\n"

ID_RANGE = range(1, 2**31)  # ids are narrowed to int32
RATING_RANGE = range(1, 6)
TIMESTAMP_RANGE = range(0, 2**32)  # unsigned 32-bit Unix seconds; MovieLens stamps have 9-10 digits
ML100K_AGE_RANGE = range(1, 121)  # years

Allowed = range | tuple[int, ...]


def _read_table(path: Path, sep: str, columns: list[str], ints: dict[str, Allowed]) -> pd.DataFrame:
    """Read one delimited latin-1 file, reporting the first bad line precisely.

    ``ints`` names the integer columns and the values each may take; they are
    checked here, on int64, so callers may narrow the dtype safely.
    """
    if not path.is_file():
        raise DataNotFoundError(f"{path} does not exist")
    raw = path.read_bytes()
    if b"\r" in raw:  # Windows line ends; a lone \r stays in its field and is reported there
        raw = raw.replace(b"\r\n", b"\n")
    if not raw.strip():
        raise MalformedFileError(path, None, "file is empty")
    lines = _check_field_counts(path, raw, sep.encode(), len(columns))
    if len(sep) > 1:  # the C parser takes one-character separators only
        if b"\x1f" in raw:
            line = raw.count(b"\n", 0, raw.index(b"\x1f")) + 1
            raise MalformedFileError(path, line, "unexpected control character '\\x1f'")
        raw, sep = raw.replace(sep.encode(), b"\x1f"), "\x1f"

    def parse(types: dict[str, type]) -> pd.DataFrame:
        try:
            frame = pd.read_csv(
                io.BytesIO(raw), sep=sep, header=None, names=columns, dtype=types, encoding="latin-1",
                keep_default_na=False, na_values=[], quoting=csv.QUOTE_NONE, engine="c",
                lineterminator="\n", skip_blank_lines=False,
            )  # fmt: skip
        except pd.errors.ParserError as err:  # a long and a short line evened out the fast count
            _check_field_counts(path, raw, sep.encode(), len(columns), fast=False)
            raise MalformedFileError(path, None, " ".join(str(err).split())) from err
        if len(frame) != lines:  # line numbers below are row numbers + 1
            raise MalformedFileError(path, None, f"{len(frame)} rows parsed from {lines} lines")
        return frame

    frame = None
    # The C reader parses integers several times faster than the text path, but it also takes
    # "4.0" and "1e3": it is trusted only when the file holds nothing but digits, signs and blanks.
    if len(ints) == len(columns) and not raw.translate(None, _INTEGER_BYTES + sep.encode()):
        try:
            frame = parse(dict.fromkeys(columns, np.int64))
        except MalformedFileError:  # the file's shape is wrong, whatever the types
            raise
        except (ValueError, OverflowError):  # some value is not an int64: the text path names it
            pass
    if frame is None:
        frame = parse({c: object if c in ints else str for c in columns})
        _parse_integers(path, frame, ints)
    for column, allowed in ints.items():
        _check_range(path, frame, column, allowed)
    return frame


def _parse_integers(path: Path, frame: pd.DataFrame, ints: dict[str, Allowed]) -> None:
    """Turn the text columns ``ints`` into int64 in place, or name the first line that is not an integer."""
    names = list(ints)
    values = frame[names].to_numpy(dtype=object).ravel()  # row by row: the first bad value is the first in the file
    # One regex over all values joined is far faster than a match per value; no value holds a \n.
    if not _SHORT_INTEGERS.fullmatch("\n".join(values) + "\n"):
        for index, value in enumerate(values):  # the first value that is not an integer, or too long for int64
            row, column = divmod(index, len(names))
            if not _INTEGER.fullmatch(value):
                raise MalformedFileError(path, row + 1, f"{names[column]} is not an integer: {value!r}")
            number = value.strip(" \t")
            if len(number.lstrip("+-").lstrip("0")) > _MAX_DIGITS:  # out of every range anyway
                reason = f"{names[column]} {number} is out of range ({_describe(ints[names[column]])})"
                raise MalformedFileError(path, row + 1, reason)
    numbers = values.astype(np.int64).reshape(-1, len(names))  # int() of text the regex accepted
    for column, name in enumerate(names):
        frame[name] = numbers[:, column]


def _check_field_counts(path: Path, raw: bytes, sep: bytes, expected: int, fast: bool = True) -> int:
    """Every line must have ``expected`` fields; counting separators finds the first that does not.

    The fast path compares totals and the first line (the parser would take a
    long first line for an index); the parser catches the rare file where a
    long and a short line cancel out, and then the slow path names the line.
    Returns the number of lines.
    """
    body = raw[:-1] if raw.endswith(b"\n") else raw
    lines = body.count(b"\n") + 1
    first = body[: body.find(b"\n")] if lines > 1 else body
    if fast and first.count(sep) == expected - 1 and body.count(sep) == lines * (expected - 1):
        return lines
    for number, line in enumerate(body.split(b"\n"), start=1):
        got = line.count(sep) + 1
        if got != expected:
            problem = "too many fields" if got > expected else "truncated or malformed line"
            raise MalformedFileError(path, number, f"{got} field(s), expected {expected} ({problem})")
    return lines


def _check_range(path: Path, frame: pd.DataFrame, column: str, allowed: Allowed | list[str]) -> None:
    values = frame[column].to_numpy()
    if isinstance(allowed, range):
        bad = (values < allowed.start) | (values >= allowed.stop)
    else:
        bad = ~np.isin(values, allowed)
    if bad.any():
        row = int(np.argmax(bad))
        value = _show(values[row])
        raise MalformedFileError(path, row + 1, f"{column} {value} is out of range ({_describe(allowed)})")


def _describe(allowed: Allowed | list[str]) -> str:
    if isinstance(allowed, range):
        return f"{allowed.start}..{allowed.stop - 1}"
    return "one of " + ", ".join(map(_show, allowed))


def _show(value) -> str:
    return repr(value) if isinstance(value, str) else str(value)


def _year_from_title(titles: pd.Series) -> pd.Series:
    return pd.to_numeric(titles.str.extract(r"\(([0-9]{4})\)\s*$")[0], errors="coerce").astype("Int64")


RATING_COLUMNS = ["user_id", "movie_id", "rating", "timestamp"]
RATING_RANGES: dict[str, Allowed] = {
    "user_id": ID_RANGE, "movie_id": ID_RANGE, "rating": RATING_RANGE, "timestamp": TIMESTAMP_RANGE,
}  # fmt: skip


def _read_ratings(path: Path, sep: str) -> pd.DataFrame:
    """Ratings have the same four integer columns in both releases; only the separator differs."""
    frame = _read_table(path, sep, RATING_COLUMNS, RATING_RANGES)
    return frame.astype({"user_id": np.int32, "movie_id": np.int32, "rating": np.int8, "timestamp": np.int64})


def _read_ml1m(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    ratings_path, users_path, movies_path = (folder / f for f in RELEASES["ml-1m"].files)
    ratings = _read_ratings(ratings_path, "::")
    users = _read_table(
        users_path, "::", ["user_id", "gender", "age", "occupation", "zip"],
        {"user_id": ID_RANGE, "age": tuple(AGE_BRACKETS), "occupation": range(len(ML1M_OCCUPATIONS))},
    )  # fmt: skip
    _check_range(users_path, users, "gender", ["M", "F"])
    users["occupation"] = np.asarray(ML1M_OCCUPATIONS, dtype=object)[users["occupation"].to_numpy()]
    movies = _read_table(movies_path, "::", ["movie_id", "title", "genres"], {"movie_id": ID_RANGE})
    movies["year"] = _year_from_title(movies["title"])
    return ratings, _tidy_users(users), _tidy_movies(movies)


def _age_bracket(ages: np.ndarray) -> np.ndarray:
    """Map ages in years (ML-100K) onto ML-1M's bracket codes."""
    edges = np.array([18, 25, 35, 45, 50, 56])
    return np.array(list(AGE_BRACKETS))[np.searchsorted(edges, ages, side="right")]


def _read_ml100k(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    ratings_path, users_path, movies_path = (folder / f for f in RELEASES["ml-100k"].files)
    ratings = _read_ratings(ratings_path, "\t")
    users = _read_table(
        users_path, "|", ["user_id", "age", "gender", "occupation", "zip"],
        {"user_id": ID_RANGE, "age": ML100K_AGE_RANGE},
    )  # fmt: skip
    _check_range(users_path, users, "gender", ["M", "F"])
    users["age"] = _age_bracket(users["age"].to_numpy())
    flags = [f"{genre} flag" for genre in ML100K_GENRES]
    movies = _read_table(
        movies_path, "|", ["movie_id", "title", "release_date", "video_date", "url", *flags],
        {"movie_id": ID_RANGE, **dict.fromkeys(flags, range(2))},
    )  # fmt: skip
    on = movies[flags].to_numpy(dtype=bool)
    movies["genres"] = ["|".join(g for g, f in zip(ML100K_GENRES, row, strict=True) if f) for row in on]
    # "01-Jan-1995"; anything else without four final ASCII digits has no year
    release_year = pd.to_numeric(movies["release_date"].str.extract(r"([0-9]{4})$")[0]).astype("Int64")
    movies["year"] = _year_from_title(movies["title"]).fillna(release_year)
    return ratings, _tidy_users(users), _tidy_movies(movies)


def _tidy_users(users: pd.DataFrame) -> pd.DataFrame:
    users = users[["user_id", "gender", "age", "occupation", "zip"]].copy()
    users["zip"] = users["zip"].str.strip()
    return users.astype({"user_id": np.int32, "age": np.int32})


def _tidy_movies(movies: pd.DataFrame) -> pd.DataFrame:
    movies = movies[["movie_id", "title", "year", "genres"]].copy()
    return movies.astype({"movie_id": np.int32})


def _in_id_order(movies: pd.DataFrame) -> pd.DataFrame:
    """The catalogue in movie-id order (GroupLens' files already are): ranking ties go to the lower position.

    Sorted only after the checks, so their messages name the file's own line numbers.
    """
    if movies["movie_id"].is_monotonic_increasing:
        return movies
    return movies.sort_values("movie_id", kind="stable").reset_index(drop=True)


def _check_consistency(
    folder: Path, release: Release, ratings: pd.DataFrame, users: pd.DataFrame, movies: pd.DataFrame
) -> None:
    """Ids are unique, a user rates a movie once, and every rating refers to a listed user and movie."""
    ratings_path, users_path, movies_path = (folder / f for f in release.files)
    _check_unique(users_path, users, ["user_id"])
    _check_unique(movies_path, movies, ["movie_id"])
    _check_unique(ratings_path, ratings, ["user_id", "movie_id"])
    for frame, key, path in ((users, "user_id", users_path), (movies, "movie_id", movies_path)):
        unknown = ~ratings[key].isin(frame[key]).to_numpy()
        if unknown.any():
            row = int(np.argmax(unknown))
            raise MalformedFileError(ratings_path, row + 1, f"{key} {ratings[key].iloc[row]} is not in {path.name}")


def _check_unique(path: Path, frame: pd.DataFrame, columns: list[str]) -> None:
    """No two lines may share the ids in ``columns``; a repeat is reported with both its lines."""
    key = frame[columns[0]].to_numpy(np.int64)
    if len(columns) == 2:  # two ids below 2**31 pack into one int64
        key = (key << 31) | frame[columns[1]].to_numpy(np.int64)
    ordered = np.sort(key)  # a sort finds whether anything repeats faster than a hash table
    if not (ordered[1:] == ordered[:-1]).any():
        return
    repeat = int(np.argmax(pd.Series(key).duplicated().to_numpy()))
    first = int(np.argmax(key == key[repeat]))
    ids = " and ".join(f"{c} {frame[c].iloc[repeat]}" for c in columns)
    if len(columns) == 1:
        raise MalformedFileError(path, repeat + 1, f"{ids} repeats line {first + 1}")
    raise MalformedFileError(
        path, repeat + 1,
        f"{ids} repeat line {first + 1}: a rating given twice means a corrupt or concatenated file",
    )  # fmt: skip
