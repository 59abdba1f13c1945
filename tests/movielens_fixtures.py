"""Small synthetic data sets written in the exact GroupLens file formats.

MovieLens itself may not be redistributed, so tests build look-alikes: the
same separators, encodings (latin-1 titles included), field orders and value
ranges, with a planted taste structure (each user prefers some genres) so
that trained models have something to learn.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np

GENRES = ["Action", "Comedy", "Drama", "Sci-Fi", "Romance", "Thriller", "Children's", "Horror"]
AGES = [1, 18, 25, 35, 45, 50, 56]
TITLES = ["Amélie", "Señorita Café", "Le Dîner", "Straße", "Plain Title", "Björk's Song", "Noël"]


def synthetic_tables(n_users: int = 60, n_movies: int = 80, per_user: int = 30, seed: int = 0):
    """Rows of (users, movies, ratings) as Python tuples, deterministic for a seed."""
    rng = np.random.default_rng(seed)
    users = []
    for u in range(1, n_users + 1):
        users.append(
            (u, "MF"[u % 2], AGES[u % len(AGES)], int(rng.integers(0, 21)), f"{int(rng.integers(10000, 99999))}")
        )
    movies = []
    movie_genres = {}
    for m in range(1, n_movies + 1):
        k = int(rng.integers(1, 4))
        genres = list(rng.choice(GENRES, size=k, replace=False))
        movie_genres[m] = set(genres)
        title = f"{TITLES[m % len(TITLES)]} {m} ({int(rng.integers(1930, 2001))})"
        movies.append((m, title, "|".join(genres)))
    taste = {u: set(rng.choice(GENRES, size=2, replace=False)) for u in range(1, n_users + 1)}
    ratings = []
    for u in range(1, n_users + 1):
        for m in rng.choice(np.arange(1, n_movies + 1), size=per_user, replace=False):
            m = int(m)
            base = 2.0 + 2.0 * len(taste[u] & movie_genres[m]) / 2 + (m % 5) * 0.2
            rating = int(np.clip(round(base + rng.normal(0, 0.7)), 1, 5))
            timestamp = int(956703932 + rng.integers(0, 3 * 365 * 86400))
            ratings.append((u, m, rating, timestamp))
    return users, movies, ratings


def write_ml1m(folder: Path, **kwargs) -> Path:
    """ML-1M layout: ``::``-separated ``.dat`` files in latin-1."""
    folder.mkdir(parents=True, exist_ok=True)
    users, movies, ratings = synthetic_tables(**kwargs)
    _write(folder / "users.dat", ["::".join(map(str, row)) for row in users])
    _write(folder / "movies.dat", ["::".join(map(str, row)) for row in movies])
    _write(folder / "ratings.dat", ["::".join(map(str, row)) for row in ratings])
    return folder


OCCUPATIONS_100K = ["administrator", "artist", "doctor", "educator", "engineer", "student", "writer", "other"]


def write_ml100k(folder: Path, **kwargs) -> Path:
    """ML-100K layout: tab-separated ``u.data``, ``|``-separated ``u.user`` and ``u.item``."""
    from movierec.data import ML100K_GENRES

    folder.mkdir(parents=True, exist_ok=True)
    users, movies, ratings = synthetic_tables(**kwargs)
    _write(folder / "u.data", ["\t".join(map(str, row)) for row in ratings])
    _write(
        folder / "u.user",
        [f"{u}|{20 + u % 40}|{g}|{OCCUPATIONS_100K[u % len(OCCUPATIONS_100K)]}|{z}" for u, g, _, _, z in users],
    )
    lines = []
    for m, title, genres in movies:
        flags = "|".join("1" if g in genres.split("|") else "0" for g in ML100K_GENRES)
        lines.append(f"{m}|{title}|01-Jan-{title[-5:-1]}||http://example.invalid/{m}|{flags}")
    _write(folder / "u.item", lines)
    return folder


def zip_release(folder: Path, name: str) -> bytes:
    """The release folder packed like GroupLens' archive (members under ``name/``)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.iterdir()):
            archive.write(path, f"{name}/{path.name}")
    return buffer.getvalue()


def _write(path: Path, lines: list[str]) -> None:
    path.write_bytes(("\n".join(lines) + "\n").encode("latin-1"))
