import hashlib
import http.server
import re
import socket
import threading
from pathlib import Path

import pytest
from movielens_fixtures import write_ml1m, zip_release

from movierec import data


def test_ml1m_fixture_parses_into_tidy_frames(ml1m):
    assert list(ml1m.ratings.columns) == ["user_id", "movie_id", "rating", "timestamp"]
    assert list(ml1m.users.columns) == ["user_id", "gender", "age", "occupation", "zip"]
    assert list(ml1m.movies.columns) == ["movie_id", "title", "year", "genres"]
    assert ml1m.ratings["rating"].between(1, 5).all()
    assert set(ml1m.users["occupation"]) <= set(data.ML1M_OCCUPATIONS)
    assert ml1m.movies["year"].notna().all()


def test_latin1_titles_survive(ml1m):
    titles = set(ml1m.movies["title"])
    assert any("Amélie" in t for t in titles)
    assert any("Señorita Café" in t for t in titles)


def test_ml100k_has_the_same_columns(ml100k_dir, ml1m):
    small = data.load("ml-100k", ml100k_dir, download=False)
    for column in ("ratings", "users", "movies"):
        assert list(getattr(small, column).columns) == list(getattr(ml1m, column).columns)
    assert set(small.users["age"]) <= set(data.AGE_BRACKETS)
    # genres come back from the flag columns in u.genre's order
    assert small.movies["genres"].str.len().gt(0).all()


@pytest.mark.parametrize(
    ("ages", "brackets"),
    [([5, 17, 18, 24, 25, 34, 35, 44, 45, 49, 50, 55, 56, 80], [1, 1, 18, 18, 25, 25, 35, 35, 45, 45, 50, 50, 56, 56])],
)
def test_ml100k_ages_map_to_ml1m_brackets(ages, brackets):
    import numpy as np

    assert data._age_bracket(np.array(ages)).tolist() == brackets


def _copy(release_dir: Path, tmp_path: Path) -> Path:
    target = tmp_path / release_dir.name
    target.mkdir()
    for f in release_dir.iterdir():
        (target / f.name).write_bytes(f.read_bytes())
    return target


def _replace_line(path: Path, number: int, text: str) -> None:
    lines = path.read_bytes().decode("latin-1").split("\n")
    lines[number - 1] = text
    path.write_bytes("\n".join(lines).encode("latin-1"))


@pytest.mark.parametrize(
    ("file", "line", "text", "message"),
    [
        ("ratings.dat", 7, "1::2::5", "line 7: 3 field(s), expected 4"),
        ("ratings.dat", 3, "1::2::5::978300760::9", "line 3: 5 field(s), expected 4 (too many fields)"),
        ("ratings.dat", 5, "1::2::five::978300760", "line 5: rating is not an integer: 'five'"),
        ("ratings.dat", 6, "1::2::::978300760", "line 6: rating is not an integer: ''"),
        ("users.dat", 4, "4::M::25::3.5::12345", "line 4: occupation is not an integer: '3.5'"),
        ("ratings.dat", 4, "1::2::7::978300760", "line 4: rating 7 is out of range"),
        ("users.dat", 2, "2::X::25::3::12345", "line 2: gender 'X' is out of range"),
        ("users.dat", 3, "3::M::26::3::12345", "line 3: age 26 is out of range"),
        ("movies.dat", 2, "2", "line 2: 1 field(s), expected 3"),
    ],
)
def test_malformed_lines_are_reported_precisely(ml1m_dir, tmp_path, file, line, text, message):
    folder = _copy(ml1m_dir, tmp_path)
    _replace_line(folder / file, line, text)
    with pytest.raises(data.MalformedFileError, match=message.replace("(", r"\(").replace(")", r"\)")) as caught:
        data.load("ml-1m", folder, download=False)
    assert caught.value.line == line
    assert caught.value.path.name == file


def _utf8_seen_as_latin1(text: str) -> str:
    """What a UTF-8 writer's ``text`` looks like to the latin-1 reader."""
    return text.encode("utf-8").decode("latin-1")


ML1M_BAD_VALUES = [
    # ids wider than int32 used to wrap silently onto other users and movies
    ("ratings.dat", 3, "2147483648::2::5::978300760", "line 3: user_id 2147483648 is out of range (1..2147483647)"),
    ("ratings.dat", 4, "4294967297::2::5::978300760", "line 4: user_id 4294967297 is out of range (1..2147483647)"),
    ("ratings.dat", 2, "1::0::5::978300760", "line 2: movie_id 0 is out of range (1..2147483647)"),
    ("ratings.dat", 5, "1::-3::5::978300760", "line 5: movie_id -3 is out of range (1..2147483647)"),
    ("users.dat", 2, "2147483648::M::25::3::12345", "line 2: user_id 2147483648 is out of range (1..2147483647)"),
    ("movies.dat", 3, "4294967299::Up (1999)::Drama", "line 3: movie_id 4294967299 is out of range (1..2147483647)"),
    # a 20-digit value used to raise a bare OverflowError, a 14-digit one to pass
    (
        "ratings.dat", 6, "1::2::5::99999999999999999999",
        "line 6: timestamp 99999999999999999999 is out of range (0..4294967295)",
    ),
    ("ratings.dat", 7, "1::2::5::99999999999999", "line 7: timestamp 99999999999999 is out of range (0..4294967295)"),
    ("ratings.dat", 8, "1::2::5::-1", "line 8: timestamp -1 is out of range (0..4294967295)"),
    ("users.dat", 3, "3::M::25::21::12345", "line 3: occupation 21 is out of range (0..20)"),
    (
        "users.dat", 4, "4::M::99999999999999999999::3::12345",
        "line 4: age 99999999999999999999 is out of range (one of 1, 18, 25, 35, 45, 50, 56)",
    ),
    # integers are ASCII digits with an optional sign, nothing else
    ("ratings.dat", 2, "1::2::²::978300760", "line 2: rating is not an integer: '²'"),
    ("ratings.dat", 3, "1::2::--5::978300760", "line 3: rating is not an integer: '--5'"),
    ("ratings.dat", 4, _utf8_seen_as_latin1("1::٣::5::978300760"), "line 4: movie_id is not an integer: 'Ù£'"),
    ("ratings.dat", 5, "1::2::4.0::978300760", "line 5: rating is not an integer: '4.0'"),
    ("ratings.dat", 6, "1::2::5::1e9", "line 6: timestamp is not an integer: '1e9'"),
    ("users.dat", 5, "5::F::1.8e1::3::12345", "line 5: age is not an integer: '1.8e1'"),
    # control characters stay in their field; only \n and \r\n end a line
    ("ratings.dat", 2, "1::2::5::9783\r00760", "line 2: timestamp is not an integer: '9783\\r00760'"),
    ("ratings.dat", 3, "1::2\x00::5::978300760", "line 3: movie_id is not an integer: '2\\x00'"),
    ("ratings.dat", 4, "1::2::5::978300760\x1f", "line 4: unexpected control character '\\x1f'"),
]


@pytest.mark.parametrize(("file", "line", "text", "message"), ML1M_BAD_VALUES)
def test_bad_ml1m_values_are_reported_with_file_line_and_value(ml1m_dir, tmp_path, file, line, text, message):
    folder = _copy(ml1m_dir, tmp_path)
    _replace_line(folder / file, line, text)
    with pytest.raises(data.MalformedFileError, match=re.escape(message)) as caught:
        data.load("ml-1m", folder, download=False)
    assert (caught.value.path.name, caught.value.line) == (file, line)
    assert str(caught.value).startswith(str(folder / file))


def _ml100k_item(movie_id: int, flags: list[int], release: str = "01-Jan-1995") -> str:
    return f"{movie_id}|Up ({release[-4:]})|{release}||http://example.invalid/|" + "|".join(map(str, flags))


ML100K_BAD_VALUES = [
    ("u.data", 2, "1\t2147483648\t5\t874965758", "line 2: movie_id 2147483648 is out of range (1..2147483647)"),
    ("u.data", 4, "1\t2\t5\t-874965758", "line 4: timestamp -874965758 is out of range (0..4294967295)"),
    ("u.data", 3, " \t \t \t ", "line 3: user_id is not an integer: ' '"),
    ("u.user", 2, "2|0|F|other|94043", "line 2: age 0 is out of range (1..120)"),
    ("u.user", 3, "3|200|M|writer|32067", "line 3: age 200 is out of range (1..120)"),
    ("u.user", 4, "4|٢٤|M|writer|32067", f"line 4: age is not an integer: {_utf8_seen_as_latin1('٢٤')!r}"),
    ("u.item", 2, _ml100k_item(2, [0, 1, 2] + [0] * 16), "line 2: Adventure flag 2 is out of range (0..1)"),
    ("u.item", 3, _ml100k_item(3, [0, -1] + [0] * 17), "line 3: Action flag -1 is out of range (0..1)"),
]


@pytest.mark.parametrize(("file", "line", "text", "message"), ML100K_BAD_VALUES)
def test_bad_ml100k_values_are_reported_with_file_line_and_value(ml100k_dir, tmp_path, file, line, text, message):
    folder = _copy(ml100k_dir, tmp_path)
    _replace_line(folder / file, line, _utf8_seen_as_latin1(text) if "٢" in text else text)
    with pytest.raises(data.MalformedFileError, match=re.escape(message)) as caught:
        data.load("ml-100k", folder, download=False)
    assert (caught.value.path.name, caught.value.line) == (file, line)


def test_a_long_first_line_is_not_taken_for_an_index(ml1m_dir, tmp_path):
    """A long first line and a short later one even out the separator count; neither may shift columns."""
    folder = _copy(ml1m_dir, tmp_path)
    _replace_line(folder / "movies.dat", 1, "1::Up (1999)::Drama::extra")
    _replace_line(folder / "movies.dat", 5, "5::Down (1999)")
    with pytest.raises(data.MalformedFileError, match=re.escape("line 1: 4 field(s), expected 3 (too many fields)")):
        data.load("ml-1m", folder, download=False)


@pytest.mark.parametrize(
    ("release", "file", "edits", "message"),
    [
        ("ml-1m", "ratings.dat", {3: "1::2::5::978300760::9", 6: "1::2::5"}, "line 3: 5 field(s), expected 4"),
        # "::" inside an ML-100K field is text, not a separator
        (
            "ml-100k", "u.user", {2: "2|53|F|odd::job|94043", 4: "4|24|M|writer|85711|x|y", 6: "6|42|M"},
            "line 4: 7 field(s), expected 5",
        ),
    ],
)
def test_a_long_and_a_short_line_that_even_out_are_still_named(
    ml1m_dir, ml100k_dir, tmp_path, release, file, edits, message
):
    folder = _copy(ml1m_dir if release == "ml-1m" else ml100k_dir, tmp_path)
    for line, text in edits.items():
        _replace_line(folder / file, line, text)
    with pytest.raises(data.MalformedFileError, match=re.escape(message)) as caught:
        data.load(release, folder, download=False)
    assert caught.value.path.name == file


def test_padded_integers_read_the_same_on_the_fast_and_the_text_path(ml1m_dir, tmp_path):
    folder = _copy(ml1m_dir, tmp_path)
    reference = data.load("ml-1m", folder, download=False).ratings
    lines = (folder / "ratings.dat").read_text("latin-1").splitlines()
    padded = [" +" + line.replace("::", " ::\t") for line in lines]
    (folder / "ratings.dat").write_text("\n".join(padded) + "\n", "latin-1")
    assert data.load("ml-1m", folder, download=False).ratings.equals(reference)  # only blanks and signs: fast path
    users = [f"\t{'0' * 20}{line}" for line in (folder / "users.dat").read_text("latin-1").splitlines()]
    (folder / "users.dat").write_text("\n".join(users) + "\n", "latin-1")
    # text columns: the text path, where leading zeros do not count towards int64's width
    users = data.load("ml-1m", folder, download=False).users
    assert users["user_id"].tolist() == list(range(1, len(users) + 1))


def test_ml100k_release_dates_without_a_year_are_no_year(ml100k_dir, tmp_path):
    folder = _copy(ml100k_dir, tmp_path)
    flags = [0, 1] + [0] * 17
    _replace_line(folder / "u.item", 2, _ml100k_item(2, flags, "01-Jan--inf").replace("Up (-inf)", "Up"))
    _replace_line(folder / "u.item", 3, _ml100k_item(3, flags, "1e99").replace("Up (1e99)", "Up"))
    movies = data.load("ml-100k", folder, download=False).movies.set_index("movie_id")
    assert movies.loc[[2, 3], "year"].isna().all()


def test_truncated_file_names_its_last_line(ml1m_dir, tmp_path):
    folder = _copy(ml1m_dir, tmp_path)
    raw = (folder / "ratings.dat").read_bytes()
    cut = raw[: len(raw) // 2]
    cut = cut[: cut.rindex(b"::") + 1]  # stop in the middle of a line
    (folder / "ratings.dat").write_bytes(cut)
    with pytest.raises(data.MalformedFileError, match="truncated or malformed"):
        data.load("ml-1m", folder, download=False)


def test_empty_and_missing_files(ml1m_dir, tmp_path):
    folder = _copy(ml1m_dir, tmp_path)
    (folder / "movies.dat").write_bytes(b"")
    with pytest.raises(data.MalformedFileError, match="empty"):
        data.load("ml-1m", folder, download=False)
    (folder / "movies.dat").unlink()
    with pytest.raises(data.DataNotFoundError, match=r"missing movies\.dat"):
        data.load("ml-1m", folder, download=False)


def test_ratings_of_unknown_users_are_rejected(ml1m_dir, tmp_path):
    folder = _copy(ml1m_dir, tmp_path)
    with open(folder / "ratings.dat", "ab") as handle:
        handle.write(b"99999::1::5::978300760\n")
    with pytest.raises(data.MalformedFileError, match="user_id 99999"):
        data.load("ml-1m", folder, download=False)


def _line(path: Path, number: int) -> str:
    return path.read_bytes().decode("latin-1").split("\n")[number - 1]


@pytest.mark.parametrize(("release", "file", "sep"), [("ml-1m", "ratings.dat", "::"), ("ml-100k", "u.data", "\t")])
def test_a_repeated_rating_names_both_lines_and_the_pair(ml1m_dir, ml100k_dir, tmp_path, release, file, sep):
    folder = _copy(ml1m_dir if release == "ml-1m" else ml100k_dir, tmp_path)
    user, movie, *_ = _line(folder / file, 4).split(sep)
    _replace_line(folder / file, 9, sep.join([user, movie, "1", "978300000"]))  # another rating, another time
    message = f"line 9: user_id {user} and movie_id {movie} repeat line 4"
    with pytest.raises(data.MalformedFileError, match=re.escape(message)) as caught:
        data.load(release, folder, download=False)
    assert (caught.value.path.name, caught.value.line) == (file, 9)
    assert "corrupt or concatenated" in str(caught.value)


@pytest.mark.parametrize(("file", "key"), [("users.dat", "user_id"), ("movies.dat", "movie_id")])
def test_a_repeated_user_or_movie_names_both_lines(ml1m_dir, tmp_path, file, key):
    folder = _copy(ml1m_dir, tmp_path)
    _replace_line(folder / file, 5, _line(folder / file, 2))
    with pytest.raises(data.MalformedFileError, match=re.escape(f"line 5: {key} 2 repeats line 2")) as caught:
        data.load("ml-1m", folder, download=False)
    assert caught.value.path.name == file


def test_a_rating_of_an_unknown_movie_names_its_line(ml1m_dir, tmp_path):
    folder = _copy(ml1m_dir, tmp_path)
    _replace_line(folder / "ratings.dat", 3, "1::9999::5::978300760")
    message = "line 3: movie_id 9999 is not in movies.dat"
    with pytest.raises(data.MalformedFileError, match=re.escape(message)) as caught:
        data.load("ml-1m", folder, download=False)
    assert caught.value.path.name == "ratings.dat"


def test_data_dir_may_be_the_parent_folder(ml1m_dir, monkeypatch):
    assert data.find("ml-1m", ml1m_dir.parent) == ml1m_dir
    monkeypatch.setenv("MOVIELENS_DIR", str(ml1m_dir.parent))
    assert data.locate("ml-1m", download=False) == ml1m_dir


@pytest.mark.parametrize("blank", ["", "  "])
def test_a_blank_data_dir_is_an_error_not_a_fallback(ml1m_dir, monkeypatch, blank):
    monkeypatch.setenv("MOVIELENS_DIR", str(ml1m_dir))  # a usable fallback must not be taken either
    for call in (data.find, data.locate, data.load):
        with pytest.raises(data.DataNotFoundError, match=re.escape(f"data_dir={blank!r} is blank")) as caught:
            call("ml-1m", blank)
        assert "MOVIELENS_DIR" in str(caught.value)


@pytest.mark.parametrize("blank", ["", "  "])
def test_a_blank_movielens_dir_counts_as_unset(ml1m_dir, monkeypatch, blank):
    monkeypatch.setenv("MOVIELENS_DIR", blank)
    assert data.find("ml-1m") is None  # the empty test cache
    assert data.find("ml-1m", ml1m_dir) == ml1m_dir
    with pytest.raises(data.DataNotFoundError, match="is not in the cache"):
        data.load("ml-1m", download=False)


def test_missing_dataset_without_download_says_how_to_fix():
    with pytest.raises(data.DataNotFoundError, match="MOVIELENS_DIR"):
        data.load("ml-1m", download=False)


def test_unknown_release_name():
    with pytest.raises(ValueError, match="unknown MovieLens release"):
        data.find("ml-42m")


class _ArchiveServer:
    """Serves one archive on 127.0.0.1 and counts requests."""

    def __init__(self, payload: bytes):
        self.requests = 0
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                server.requests += 1
                self.send_response(200)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/ml-1m.zip"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def archive(tmp_path):
    folder = write_ml1m(tmp_path / "src" / "ml-1m", n_users=10, n_movies=12, per_user=5)
    return zip_release(folder, "ml-1m")


def _pin(monkeypatch, url: str, md5: str) -> None:
    release = data.RELEASES["ml-1m"]
    monkeypatch.setitem(data.RELEASES, "ml-1m", data.Release(release.name, url, md5, release.files))


def test_fetch_downloads_verifies_unpacks_and_caches(archive, monkeypatch):
    with _ArchiveServer(archive) as server:
        _pin(monkeypatch, server.url, hashlib.md5(archive).hexdigest())
        first = data.load("ml-1m")  # nothing local: downloads
        assert server.requests == 1
        second = data.load("ml-1m")  # cached: never downloads again
        assert server.requests == 1
        data.fetch("ml-1m", progressbar=False)  # archive present and valid: no request either
        assert server.requests == 1
    assert first.path == second.path == data.cache_dir() / "ml-1m"
    assert len(first.ratings) == 50


def test_fetch_rejects_a_wrong_checksum_and_keeps_nothing(archive, monkeypatch):
    with _ArchiveServer(archive) as server:
        _pin(monkeypatch, server.url, "0" * 32)
        with pytest.raises(data.ChecksumError, match="does not match the pinned MD5"):
            data.load("ml-1m")
    assert not (data.cache_dir() / "ml-1m.zip").exists()
    assert not (data.cache_dir() / "ml-1m").exists()


@pytest.fixture
def refused_url():
    """An address on 127.0.0.1 where nothing listens: the socket is bound, so no one else takes the port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/ml-1m.zip"


def _assert_offline_error(error: data.DownloadError, url: str) -> None:
    message = str(error)
    assert isinstance(error, data.MovieLensError) and isinstance(error, OSError)
    assert message.startswith(f"downloading MovieLens ml-1m from {url} failed (ConnectionError: [Errno 111]")
    assert "Connection refused" in message and "\n" not in message
    assert "set MOVIELENS_DIR or pass --data-dir to a folder holding a copy" in message
    assert error.__cause__ is not None


def test_an_offline_fetch_says_the_download_failed_and_how_to_fix_it(refused_url):
    with pytest.raises(data.DownloadError) as caught:
        data.fetch("ml-1m", url=refused_url, progressbar=False)
    _assert_offline_error(caught.value, refused_url)
    assert not (data.cache_dir() / "ml-1m.zip").exists()


def test_an_offline_first_load_raises_download_error(refused_url, monkeypatch):
    _pin(monkeypatch, refused_url, data.RELEASES["ml-1m"].md5)
    with pytest.raises(data.DownloadError) as caught:
        data.load("ml-1m")  # no data_dir, no MOVIELENS_DIR, empty cache: downloads
    _assert_offline_error(caught.value, refused_url)


def test_official_checksums_are_pinned():
    assert data.RELEASES["ml-1m"].md5 == "c4d9eecfca2ab87c1945afe126590906"
    assert data.RELEASES["ml-100k"].md5 == "0e33842e24a9c977be4e0107933c0723"
    assert data.RELEASES["ml-1m"].url.startswith("https://files.grouplens.org/")


@pytest.mark.real_data
def test_real_ml1m_matches_its_readme(real_data_dir):
    ml = data.load("ml-1m", real_data_dir, download=False)
    assert (len(ml.ratings), len(ml.users), len(ml.movies)) == (1_000_209, 6_040, 3_883)
    counts = ml.ratings["rating"].value_counts().sort_index().tolist()
    assert counts == [56_174, 107_557, 261_197, 348_971, 226_310]


@pytest.mark.real_data
def test_real_ml100k_loads(real_data_dir):
    ml = data.load("ml-100k", real_data_dir, download=False)
    assert (len(ml.ratings), len(ml.users), len(ml.movies)) == (100_000, 943, 1_682)


def test_the_catalogue_is_in_movie_id_order_whatever_the_file_order(ml1m_dir, tmp_path):
    folder = _copy(ml1m_dir, tmp_path)
    lines = (folder / "movies.dat").read_bytes().split(b"\n")
    body = [line for line in lines if line]
    (folder / "movies.dat").write_bytes(b"\n".join(body[::-1]) + b"\n")
    movies = data.load("ml-1m", folder, download=False).movies
    assert movies["movie_id"].is_monotonic_increasing and list(movies.index) == list(range(len(movies)))


def test_repeated_movie_ids_are_named_by_the_files_own_lines_even_when_unsorted(ml1m_dir, tmp_path):
    folder = _copy(ml1m_dir, tmp_path)
    lines = [line for line in (folder / "movies.dat").read_bytes().split(b"\n") if line]
    lines = [lines[2], lines[0], lines[1], lines[2].replace(b"::", b"::Again ", 1), *lines[3:]]
    (folder / "movies.dat").write_bytes(b"\n".join(lines) + b"\n")
    with pytest.raises(data.MalformedFileError, match=r"line 4: movie_id 3 repeats line 1"):
        data.load("ml-1m", folder, download=False)
