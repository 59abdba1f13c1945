"""Ranking unseen movies for one person, and explaining each pick in plain words.

A ``Profile`` is either an existing MovieLens user (their fields come from
``users.dat`` and their rated movies are excluded) or a new person described
by gender, age bracket, occupation and zip code, whose user id is the
out-of-vocabulary code the model was trained to use for unknown users.
Either can carry ratings given here (``Profile.rated``, in the order given):
they join the history and the EASE prior a model reads, and leave the ranking.

``Recommender.rank`` scores every catalogue movie for the profile at the
chosen date in one compiled, batched model call, removes the rated ones,
applies the filters and ranks by score (``movierec.ranking.top_k``; the
catalogue is kept in movie-id order, so ties go to the lower movie id); its
``match`` is the share of unseen movies scoring no higher. ``because`` names
the liked movies a pick's score leaned on, ``reasons`` turns that (or an
audience the movie is popular with) into a sentence, and ``attention`` gives
the first interacting layer's field-to-field attention for the curious.
``python -m movierec.recommend`` is the terminal tool (``movierec.cli.recommend``).
"""

from __future__ import annotations

import functools
import html
import math
import re
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from movierec.data import AGE_BRACKETS, MovieLens, cache_dir
from movierec.features import (
    FIELDS,
    MOVIE_FIELDS,
    NO_GENRE,
    FeatureEncoder,
    context_fields,
    user_fields,
)
from movierec.history import Histories
from movierec.prior import EasePrior, disliked_weight, model_profile, rated_codes
from movierec.ranking import top_k
from movierec.scoring import CandidateScorer

GENDERS = {"F": "female", "M": "male"}

FIELD_LABELS = {
    "user_id": "user", "movie_id": "movie", "movie_decade": "decade", "movie_year": "release year",
    "rating_year": "year", "rating_month": "month", "rating_decade": "rating decade", "genre1": "genre",
    "genre2": "genre", "genre3": "genre", "gender": "gender", "age": "age", "occupation": "occupation", "zip": "zip",
    "history": "rated movies",
}  # fmt: skip
HISTORY_FIELD = "history"  # the name of a history-aware model's extra field vector (the pooled rated movies)

# The person's fields an explanation may name: never the user id or the zip code.
AUDIENCE_FIELDS = ("age", "gender", "occupation")
POPULAR_LIFT = 1.2  # "popular with a group" needs its members to rate the movie at least this much more often
MIN_AUDIENCE = 20  # ... and the group to hold at least this many users
NEW_PEOPLE_REMEMBERED = 1024  # visitors' encoded fields kept, so a rerun does not encode them again
_OCCUPATION_PLURALS = {
    "other": "people of other occupations", "academic/educator": "educators", "artist": "artists",
    "clerical/admin": "clerical and admin workers", "college/grad student": "college students",
    "customer service": "customer-service workers", "doctor/health care": "health-care workers",
    "executive/managerial": "managers", "farmer": "farmers", "homemaker": "homemakers",
    "K-12 student": "school students", "lawyer": "lawyers", "programmer": "programmers", "retired": "retirees",
    "sales/marketing": "sales and marketing people", "scientist": "scientists", "self-employed": "self-employed people",
    "technician/engineer": "engineers", "tradesman/craftsman": "tradespeople", "unemployed": "people out of work",
    "writer": "writers",
}  # fmt: skip


def audience_name(field: str, value) -> str:
    """A group of people as a sentence names them: "25-34-year-olds", "women", "programmers"."""
    if field == "gender":
        return {"F": "women", "M": "men"}[value]
    if field == "age":
        label = AGE_BRACKETS[int(value)]
        return {"Under 18": "people under 18", "56+": "people 56 and over"}.get(label, f"{label}-year-olds")
    return _OCCUPATION_PLURALS.get(str(value), f"people in {value}")


# Articles GroupLens moves to the end of a title ("Shawshank Redemption, The"), in the languages of its titles.
ARTICLES = ("The", "A", "An", "La", "Les", "Le", "L'", "El", "Il", "Lo", "Gli", "Los", "Las", "Das", "Der", "Die",
            "Un", "Une", "Una", "De", "Het", "Den", "Det")  # fmt: skip
_YEAR_SUFFIX = re.compile(r"\s*\(\d{4}\)\s*$")
_PARENTHESES = re.compile(r"(\s*\([^()]*\))")
_MOVED_ARTICLE = re.compile(r"(?P<name>.+?), (?P<article>" + "|".join(map(re.escape, ARTICLES)) + r")")


def readable_title(title: str) -> str:
    """A GroupLens title as people write it: entities decoded, the article in front, no year.

    "Shawshank Redemption, The (1994)" -> "The Shawshank Redemption";
    "Postino, Il (The Postman) (1994)" -> "Il Postino (The Postman)";
    "Et Dieu&#8230;créa la femme (1956)" -> "Et Dieu…créa la femme".
    """
    text = _YEAR_SUFFIX.sub("", html.unescape(str(title)).strip())

    def front(segment: str) -> str:
        moved = _MOVED_ARTICLE.fullmatch(segment)
        if not moved:
            return segment
        gap = "" if moved["article"].endswith("'") else " "
        return f"{moved['article']}{gap}{moved['name']}"

    pieces = _PARENTHESES.split(text)  # the title, then any "(alternative title)" pieces, each fixed alone
    out = []
    for piece in pieces:
        inner = re.fullmatch(r"(\s*\()(.*)(\))", piece)
        out.append(f"{inner[1]}{front(inner[2])}{inner[3]}" if inner else front(piece))
    return "".join(out).strip() or str(title)


class UnknownUserError(KeyError):
    """The user id is not in the data set."""

    def __str__(self) -> str:
        return str(self.args[0])


class UnknownMovieError(KeyError):
    """The movie id is not in the catalogue."""

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class Profile:
    """Who the recommendations are for."""

    gender: str
    age: int
    occupation: str
    zip: str
    user_id: int | None = None  # None: a new person, encoded as the unknown user
    # Ratings the person gave here, oldest first, as (movie_id, stars 1-5): a visitor's, or an existing user's
    # additions to what the data holds. They join the history, the prior and the movies left out of a ranking.
    rated: tuple[tuple[int, int], ...] = ()

    def __post_init__(self) -> None:
        if self.gender not in GENDERS:
            raise ValueError(f"gender must be 'M' or 'F', got {self.gender!r}")
        if self.age not in AGE_BRACKETS:
            raise ValueError(f"age must be one of the bracket codes {sorted(AGE_BRACKETS)}, got {self.age!r}")
        latest: dict[int, int] = {}
        for movie, stars in self.rated:
            for value, what in ((movie, "a movie id"), (stars, "stars")):
                if isinstance(value, bool) or not isinstance(value, int | np.integer):
                    raise ValueError(f"{what} is a whole number, got {value!r}")
            if not 1 <= stars <= 5:
                raise ValueError(f"a rating is 1 to 5 stars, got {stars}")
            latest.pop(int(movie), None)  # rated again: the last rating counts, in its place
            latest[int(movie)] = int(stars)
        object.__setattr__(self, "rated", tuple(latest.items()))

    @property
    def person(self) -> Profile:
        """The same person without the ratings given here: who they are, not what they rated."""
        return replace(self, rated=()) if self.rated else self

    def with_ratings(self, ratings: dict[int, int]) -> Profile:
        """This person with exactly these ratings given here (``{movie_id: stars}``, oldest first)."""
        return replace(self, rated=tuple(ratings.items()))

    def rate(self, movie_id: int, stars: int) -> Profile:
        """This profile with one more rating; rating a movie again replaces the earlier rating (and its place)."""
        return replace(self, rated=(*self.rated, (movie_id, stars)))

    def as_frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "user_id": [self.user_id if self.user_id is not None else -1],
                "gender": [self.gender],
                "age": [self.age],
                "occupation": [self.occupation],
                "zip": [str(self.zip)],
            }
        )


class Recommender:
    """A loaded model, its encoder and the data, ready to rank for any profile.

    One recommender serves every session of the app, each in its own thread,
    and the thread that loads it ahead of the first visit: what it builds on
    first use is stored only once complete, so a thread never reads half of it.
    """

    def __init__(self, model, encoder: FeatureEncoder, data: MovieLens, manifest: dict | None = None):
        self.model = model
        self.encoder = encoder
        self.data = data
        self.manifest = manifest or {}
        self.movies = data.movies.reset_index(drop=True)  # in movie-id order (data._tidy_movies)
        self.scorer = CandidateScorer(model, encoder, self.movies, people_per_call=1)
        self._movie_position = pd.Index(self.movies["movie_id"].to_numpy())
        self._users = data.users.set_index("user_id", drop=False)
        # Per-request work is looked up, not recomputed: catalogue positions of each user's rated
        # movies, the encoded fields of every known profile, a movie x genre matrix, release decades.
        # One stable sort by user, then each user's slice (file order within a user): no per-user pandas work.
        order = np.argsort(data.ratings["user_id"].to_numpy(), kind="stable")
        users, movie_ids = data.ratings["user_id"].to_numpy()[order], data.ratings["movie_id"].to_numpy()[order]
        bounds = np.flatnonzero(np.diff(users)) + 1
        owners = users[np.r_[0, bounds]].tolist() if len(users) else []

        def by_user(values: np.ndarray) -> dict[int, np.ndarray]:
            return dict(zip(owners, np.split(values, bounds) if owners else [], strict=True))

        positions = self._movie_position.get_indexer(movie_ids)
        self._rated_positions = {u: p[p >= 0] for u, p in by_user(positions).items()}
        # Each user's stars in the same order as their movies, so explaining a pick scans no rating table.
        self._rated_stars = by_user(data.ratings["rating"].to_numpy()[order])
        self._rated_ids = by_user(movie_ids)
        columns = [data.users[c] for c in ("user_id", "gender", "age", "occupation", "zip")]
        known = [Profile(g, int(a), o, z, int(u)) for u, g, a, o, z in zip(*columns, strict=True)]
        self._profile_codes = dict(zip(known, encoder.encode_users(data.users), strict=True))
        # Visitors' fields, encoded once each; lru_cache is safe for the app's concurrent sessions.
        self._new_person_codes = functools.lru_cache(maxsize=NEW_PEOPLE_REMEMBERED)(self._encode_person)
        self._context_codes: dict[tuple[int, int], np.ndarray] = {}
        # A history-aware model reads each person's rated movies: every rating in the data counts when serving.
        self.history_length = int(getattr(model, "history_length", 0))
        self._user_row = pd.Index(data.users["user_id"].to_numpy())
        # A model with an EASE prior reads B fitted on every rating in the data, like the histories.
        ease_l2 = float(getattr(model, "ease_l2", 0.0))
        self._prior = None
        if ease_l2:
            weight = disliked_weight(model)  # a movie rated but not liked counts this much; the stars say which
            rated = rated_codes(data.ratings, self._user_row, encoder, weight)
            self._prior = EasePrior.fit(rated, ease_l2, store=cache_dir() / "ease", disliked_weight=weight,
                                        **model_profile(model))  # fmt: skip
        self._known: dict[str, set[str]] = {}
        stamps = pd.to_datetime(data.ratings["timestamp"], unit="s", utc=True)
        self.years = (int(stamps.dt.year.min()), int(stamps.dt.year.max()))
        latest = stamps.max()
        self.latest = (int(latest.year), int(latest.month))
        movie_genres = self.movies["genres"].str.split("|")
        self.genres = sorted({g for gs in movie_genres for g in gs if g})
        self._genre_matrix = np.array([[g in gs for g in self.genres] for gs in movie_genres], dtype=bool)
        self._decade = (self.movies["year"] // 10 * 10).to_numpy(dtype=float)  # NaN: unknown year
        self.decades = sorted({int(d) for d in self._decade if not np.isnan(d)})
        self._listing = {c: self.movies[c].array for c in ("movie_id", "title", "year", "genres")}
        self._listing["name"] = self.movies["title"].map(readable_title).array  # the title as people write it
        self._display_titles: dict[int, str] | None = None
        self._audience: dict | None = None
        self._search_order: list[int] | None = None
        self._starters: tuple[list[int], int] | None = None  # (movies, the size asked for)
        # Movie id of each movie_id code (0 for the unknown code), to name the movies in a history.
        self._movie_of_code = np.zeros(len(encoder.vocabularies["movie_id"]) + 1, dtype=np.int64)
        self._movie_of_code[1:] = np.asarray(encoder.vocabularies["movie_id"], dtype=np.int64)

    @functools.cached_property
    def _histories(self) -> Histories:
        """Every MovieLens user's most recent rated movies, built on first use: a visitor's page never needs them."""
        return Histories.from_ratings(self.data.ratings, self._user_row, self.encoder, self.history_length)

    def search_order(self) -> list[int]:
        """Every catalogue movie id, the most rated first: what a title search lists first among its matches."""
        if self._search_order is None:
            counts = self.data.ratings["movie_id"].value_counts()
            ids = self.movies["movie_id"].astype(int)
            order = np.lexsort((ids.to_numpy(), -counts.reindex(ids).fillna(0).to_numpy()))
            self._search_order = ids.to_numpy()[order].tolist()
        return self._search_order

    def starters(self, size: int = 24) -> list[int]:
        """Popular, varied movies for a visitor with nothing in mind: most rated first, spread over genres.

        Taken in rounds: within a round, a movie qualifies only if it shares
        no genre with the movies the round already took, and never a second
        movie of one franchise (the title before its ":" or " - ").
        """
        if self._starters is None or self._starters[1] != size:
            genres = dict(zip(self.movies["movie_id"].astype(int), self.movies["genres"].str.split("|"), strict=True))
            names = dict(zip(self.movies["movie_id"].astype(int), self._listing["name"], strict=True))
            franchise = {m: re.split(r":| - ", n)[0].strip().lower() for m, n in names.items()}
            order, chosen, franchises = self.search_order()[:500], [], set()
            while len(chosen) < size:
                covered, before = set(), len(chosen)
                for movie in order:
                    if movie in chosen or franchise[movie] in franchises or covered & set(genres[movie]):
                        continue
                    chosen.append(movie)
                    franchises.add(franchise[movie])
                    covered |= set(genres[movie])
                    if len(chosen) == size:
                        break
                if len(chosen) == before:  # nothing left that qualifies
                    break
            self._starters = (chosen, size)
        return self._starters[0]

    def display_titles(self) -> dict[int, str]:
        """``{movie_id: "The Shawshank Redemption (1994)"}``: the readable title and the year, once."""
        if self._display_titles is None:
            years = ["" if pd.isna(y) else f" ({int(y)})" for y in self._listing["year"]]
            names = zip(self._listing["movie_id"], self._listing["name"], years, strict=True)
            self._display_titles = {int(m): f"{name}{year}" for m, name, year in names}
        return self._display_titles

    # ------------------------------------------------------------------ profiles
    def knows(self, field: str, value: str) -> bool:
        """Whether ``value`` of a user or movie field has its own row in the model (else it encodes as unknown)."""
        if field not in self._known:
            self._known[field] = set(self.encoder.vocabularies[field])
        return str(value) in self._known[field]

    def profile(self, user_id: int) -> Profile:
        if user_id not in self._users.index:
            raise UnknownUserError(f"user {user_id} is not in {self.data.name}")
        row = self._users.loc[user_id]
        return Profile(row["gender"], int(row["age"]), row["occupation"], row["zip"], int(user_id))

    @property
    def field_names(self) -> tuple[str, ...]:
        """The fields the model's attention runs over: ``FIELDS``, then the history for a history-aware model."""
        return (*FIELDS, HISTORY_FIELD) if self.history_length else FIELDS

    def _user_position(self, profile: Profile) -> int | None:
        """The profile's row among the data's users (None for a new person); an unknown user id is an error."""
        if profile.user_id is None:
            return None
        if profile.user_id not in self._user_row:
            raise UnknownUserError(f"user {profile.user_id} is not in {self.data.name}")
        return int(self._user_row.get_loc(profile.user_id))

    def added_positions(self, profile: Profile) -> np.ndarray:
        """Catalogue positions of the movies rated here (``profile.rated``), oldest first."""
        ids = np.array([m for m, _ in profile.rated], dtype=np.int64)
        positions = self._movie_position.get_indexer(ids)
        if (positions < 0).any():
            raise UnknownMovieError(f"movie {ids[positions < 0][0]} is not in {self.data.name}")
        return positions

    def history_codes(self, profile: Profile) -> np.ndarray | None:
        """The history (1, history_length) the model reads for the profile (None if it reads none).

        An existing user's most recent rated movies in the data, then the
        ones rated here, which are the most recent of all; a new person's
        history is what they rated here (empty until they rate something).
        """
        if not self.history_length:
            return None
        row = self._user_position(profile)
        base = np.zeros((1, self.history_length), np.int32) if row is None else self._histories.codes[[row]]
        if not profile.rated:
            return base
        added = self.scorer.candidate_codes[self.added_positions(profile)]
        earlier = base[0][(base[0] != 0) & ~np.isin(base[0], added)][::-1]  # oldest first, re-rated ones moved
        return Histories.for_movie_codes(np.concatenate([earlier, added]), self.history_length)[None]

    def prior_scores(self, profile: Profile) -> np.ndarray | None:
        """The EASE prior (1, movies) of every catalogue movie for the profile (None if the model reads none).

        Folded in on everything the person rated, in the data and here (a
        movie rated here again counts with its stars here; a model whose prior
        weighs disliked movies less reads the stars too); a new person who has
        rated nothing yet gets 0 for every movie. A new
        person's prior is rescaled for how few movies they rated, as the
        model's ``prior_profile_power`` says (``movierec.prior``); a MovieLens
        user's never is.
        """
        if self._prior is None:
            return None
        row = self._user_position(profile)
        if not profile.rated:
            if row is None:
                return np.zeros((1, len(self.movies)), np.float32)
            return self._prior.user_scores([row], self.scorer.candidate_codes)
        rated = self.scorer.candidate_codes[self.added_positions(profile)]
        cells = self._prior.cells([stars for _, stars in profile.rated])
        if row is None:
            return self._prior.newcomer_scores(rated, self.scorer.candidate_codes, cells)[None]
        rated = np.concatenate([self._prior.movies_of(row), rated])
        cells = np.concatenate([self._prior.cells_of(row), cells])  # the last of a movie's cells counts
        return self._prior.scores_of_codes(rated, self.scorer.candidate_codes, cells)[None]

    def rated_positions(self, profile: Profile) -> np.ndarray:
        """Catalogue positions of the profile's rated movies, in the data and here."""
        known = self._rated_positions.get(profile.user_id, np.array([], dtype=np.intp))
        return np.union1d(known, self.added_positions(profile)) if profile.rated else known

    def history(self, profile: Profile, min_rating: int = 4) -> pd.DataFrame:
        """The profile's rated movies with at least ``min_rating``, newest first: the ones rated here, then the data's.

        ``rated_on`` is the rating's date, empty for a rating given here.
        """
        columns = ["movie_id", "title", "year", "genres", "rating", "rated_on"]
        here = pd.DataFrame(list(reversed(profile.rated)), columns=["movie_id", "rating"], dtype=np.int64)
        here = here[here["rating"] >= min_rating].merge(self.movies, on="movie_id").assign(rated_on=None)
        if profile.user_id is None:
            return here[columns].reset_index(drop=True)
        mine = self.data.ratings[(self.data.ratings["user_id"] == profile.user_id)]
        mine = mine[(mine["rating"] >= min_rating) & ~mine["movie_id"].isin([m for m, _ in profile.rated])]
        mine = mine.merge(self.movies, on="movie_id")
        mine = mine.assign(rated_on=pd.to_datetime(mine["timestamp"], unit="s", utc=True).dt.date)
        mine = mine.sort_values(["timestamp", "movie_id"], ascending=[False, True])
        if here.empty:
            return mine[columns].reset_index(drop=True)
        return pd.concat([here[columns], mine[columns]], ignore_index=True)

    # ------------------------------------------------------------------ ranking
    def _codes(self, profile: Profile, year: int, month: int) -> tuple[np.ndarray, np.ndarray]:
        self._check_date(year, month)
        user_codes = self._profile_codes.get(profile.person)
        if user_codes is None:  # a new person (or edited fields): encode through the vocabularies, once
            user_codes = self._new_person_codes(profile.person)
        key = (int(year), int(month))
        if key not in self._context_codes:
            self._context_codes[key] = self.encoder.encode_table(context_fields([year], [month]))[0]
        return user_codes[None, :], self._context_codes[key][None, :]

    def _encode_person(self, person: Profile) -> np.ndarray:
        codes = self.encoder.encode_table(user_fields(person.as_frame()))[0]
        codes.setflags(write=False)  # shared by every request for this person
        return codes

    def _check_date(self, year: int, month: int) -> None:
        if not 1 <= int(month) <= 12:
            raise ValueError(f"month must be 1-12, got {month}")
        low, high = self.years
        if not low <= int(year) <= high:
            raise ValueError(f"year must be within the data's years {low}-{high}, got {year}")

    def scores(self, profile: Profile, year: int, month: int) -> np.ndarray:
        """The model's ranking score for every catalogue movie (catalogue order, log scale), one batched call."""
        user_codes, context_codes = self._codes(profile, year, month)
        return self.scorer.score(user_codes, context_codes, self.history_codes(profile), self.prior_scores(profile))[0]

    def rank(
        self,
        profile: Profile,
        year: int,
        month: int,
        n: int = 10,
        genres: list[str] | None = None,
        decades: list[int] | None = None,
    ) -> pd.DataFrame:
        """Top-``n`` unseen movies with rank, movie id, GroupLens title, readable name, year, genres, score and match.

        ``match`` is the share of all the movies the person has not rated
        (whatever the filters) that score no higher: 0.99 is the top 1%.
        """
        if not 1 <= n <= 500:
            raise ValueError(f"n must be 1-500, got {n}")
        scores = self.scores(profile, year, month)
        keep = self.matching(genres, decades)
        keep[self.rated_positions(profile)] = False
        order = top_k(np.where(keep, scores, -np.inf), n)[: int(keep.sum())]
        top = {"rank": np.arange(1, len(order) + 1)}
        top.update({column: values[order] for column, values in self._listing.items()})
        # Match: the share of the movies the person has not rated that score no higher, filters aside.
        unseen = np.ones(len(self.movies), dtype=bool)
        unseen[self.rated_positions(profile)] = False
        ranked = np.sort(scores[unseen])
        match = np.searchsorted(ranked, scores[order], side="right") / max(len(ranked), 1)
        # The score a person reads: P(rated) x P(like | rated) ** exponent, back from the log scale it is ranked on.
        return pd.DataFrame({**top, "score": np.exp(scores[order].astype(np.float64)), "match": match})

    def matching(self, genres: list[str] | None = None, decades: list[int] | None = None) -> np.ndarray:
        """Which catalogue movies pass the filters (any of ``genres``, any of ``decades``), rated or not."""
        keep = np.ones(len(self.movies), dtype=bool)
        if genres:
            unknown = sorted(set(genres) - set(self.genres))
            if unknown:
                raise ValueError(f"unknown genres {unknown}; choose from {self.genres}")
            keep &= self._genre_matrix[:, [self.genres.index(g) for g in genres]].any(axis=1)
        if decades:
            keep &= np.isin(self._decade, decades)
        return keep

    # ------------------------------------------------------------------ explaining
    def model_inputs(self, profile: Profile, movie_ids, year: int, month: int):
        """What the model reads for the profile and each of ``movie_ids`` at that date (codes, or a dict)."""
        user_codes, context_codes = self._codes(profile, year, month)
        rows = self._movie_position.get_indexer(np.asarray(movie_ids))
        if (rows < 0).any():
            raise UnknownMovieError(f"movie {np.asarray(movie_ids)[rows < 0][0]} is not in the catalogue")
        codes = self.encoder.assemble(
            np.repeat(user_codes, len(rows), axis=0),
            self.scorer.movie_codes[rows],
            np.repeat(context_codes, len(rows), axis=0),
        )
        history, prior = self.history_codes(profile), self.prior_scores(profile)
        return self.model.pack_inputs(
            codes,
            None if history is None else np.repeat(history, len(rows), axis=0),
            None if prior is None else prior[0, rows],
        )

    def attention(self, profile: Profile, movie_ids: list[int], year: int, month: int) -> np.ndarray:
        """First-layer attention (movies, fields, fields), averaged over heads."""
        first = self.model.attention_maps(self.model_inputs(profile, movie_ids, year, month))[0]
        return np.asarray(first).mean(axis=1)

    def stars(self, profile: Profile) -> dict[int, int]:
        """Every rating the profile gave, ``{movie_id: stars}``: the data's, then the ones given here on top."""
        stars = {}
        if profile.user_id is not None:
            self._user_position(profile)
            ids, given = self._rated_ids.get(profile.user_id, ()), self._rated_stars.get(profile.user_id, ())
            stars = dict(zip(map(int, ids), map(int, given), strict=True))
        return {**stars, **dict(profile.rated)}

    def because(
        self, profile: Profile, movie_ids, year: int, month: int, k: int = 2, min_stars: int = 4
    ) -> list[list[int]]:
        """For each movie, the ``k`` movies the person liked (>= ``min_stars``) that its score leaned on most.

        With an EASE prior, the prior's share of the score is an exact sum
        over the rated movies (each movie's cell times ``B[rated, movie]``,
        ``movierec.prior``), so the liked movies with the largest positive
        terms are named. Without
        one, an attention-pooled history's weights for that candidate
        (``AutoInt.history_weights``) rank them. Empty lists when the model
        reads neither (or pools by the mean: every movie counts the same, so
        none is a reason), or the person liked nothing that counted.
        """
        movie_ids = [int(m) for m in movie_ids]
        stars = self.stars(profile)
        if self._prior is not None and movie_ids:
            rated = np.array(list(stars), dtype=np.int64)
            liked = np.array([stars[m] >= min_stars for m in rated], dtype=bool)
            codes = self.scorer.candidate_codes[self._movie_position.get_indexer(rated)]
            candidates = self.scorer.candidate_codes[self._movie_position.get_indexer(movie_ids)]
            cells = self._prior.cells([stars[m] for m in rated])
            terms = (self._prior.weights[np.ix_(codes, candidates)] * cells[:, None]).T  # (movies, rated): each share
            rated_ids, weights = rated, np.where(liked[None, :] & (codes[None, :] != 0), terms, 0.0)
        elif self.history_length and self.model.history_pooling == "attention" and movie_ids:
            inputs = self.model_inputs(profile, movie_ids, year, month)
            weights = np.asarray(self.model.history_weights(inputs))
            rated_ids = self._movie_of_code[inputs["history"][0]]  # the history's movie ids, 0 for empty slots
            liked = np.array([stars.get(int(m), 0) >= min_stars for m in rated_ids], dtype=bool)
            weights = np.where(liked[None, :], weights, 0.0)
        else:
            return [[] for _ in movie_ids]
        result = []
        for row in weights:
            order = [i for i in np.argsort(-row, kind="stable")[:k] if row[i] > 0]
            result.append([int(rated_ids[i]) for i in order])
        return result

    def _audiences(self) -> dict[str, tuple[np.ndarray, np.ndarray, dict]]:
        """Per audience field: ratings (values, movies) by each value's users, users per value, value -> row."""
        if self._audience is None:  # published whole: another session's thread may read it meanwhile
            audience = {}
            movie_rows = self._movie_position.get_indexer(self.data.ratings["movie_id"].to_numpy())
            user_rows = self._user_row.get_indexer(self.data.ratings["user_id"].to_numpy())
            known = (movie_rows >= 0) & (user_rows >= 0)
            for field in AUDIENCE_FIELDS:
                values, of_user = np.unique(self.data.users[field].astype(str).to_numpy(), return_inverse=True)
                counts = np.zeros((len(values), len(self.movies)), dtype=np.int32)
                np.add.at(counts, (of_user[user_rows[known]], movie_rows[known]), 1)
                audience[field] = (counts, np.bincount(of_user, minlength=len(values)), {v: i for i, v in
                                   enumerate(values)})  # fmt: skip
            self._audience = audience
        return self._audience

    def audience(self, profile: Profile, movie_id: int, fields=AUDIENCE_FIELDS) -> str:
        """ "More popular with women: 3.2% of them rated it, 1.3x the average", for the first field it holds.

        A group is the MovieLens users who share one of the profile's fields
        with it; it counts only if it holds ``MIN_AUDIENCE`` users and rated
        the movie ``POPULAR_LIFT`` times as often as everyone. Empty if no
        field qualifies.
        """
        position = self._movie_position.get_loc(int(movie_id))
        everyone = len(self.data.users)
        for field in fields:
            counts, sizes, row_of = self._audiences()[field]
            row = row_of.get(str(getattr(profile, field)))
            if row is None or sizes[row] < MIN_AUDIENCE:
                continue
            share = counts[row, position] / sizes[row]
            overall = counts[:, position].sum() / everyone
            if overall > 0 and share >= POPULAR_LIFT * overall:
                shown = f"{share:.0%}" if share >= 0.1 else f"{share:.1%}"
                return (f"More popular with {audience_name(field, getattr(profile, field))}: {shown} of them rated it, "
                        f"{share / overall:.1f}x the average")  # fmt: skip
        return ""

    def reasons(self, profile: Profile, movie_ids, year: int, month: int) -> list[str]:
        """One plain sentence per movie: the liked movies its score leaned on, else a group it is popular with.

        The group is tried in the order of the attention the model paid
        between that person field and the movie's fields (first layer, both
        ways), so the sentence names what the model looked at; never a user
        id or a zip code. Empty when neither applies.
        """
        movie_ids = [int(m) for m in movie_ids]
        if not movie_ids:
            return []
        titles = self.display_titles()
        liked = self.because(profile, movie_ids, year, month)
        out = ["Because you liked " + " and ".join(titles[m] for m in movies) if movies else "" for movies in liked]
        unexplained = [i for i, movies in enumerate(liked) if not movies]
        if unexplained:  # one attention call, for the picks no liked movie explains
            weights = self.attention(profile, [movie_ids[i] for i in unexplained], year, month)
            both_ways = weights + np.transpose(weights, (0, 2, 1))
            names = list(self.field_names)
            person = [names.index(f) for f in AUDIENCE_FIELDS]
            movie = [names.index(f) for f in MOVIE_FIELDS]
            for i, w in zip(unexplained, both_ways, strict=True):
                strength = w[np.ix_(person, movie)].sum(axis=1)
                order = [AUDIENCE_FIELDS[j] for j in np.argsort(-strength, kind="stable")]
                out[i] = self.audience(profile, movie_ids[i], order)
        return out

    def field_values(self, profile: Profile, movie_id: int, year: int, month: int) -> list[str]:
        """Readable ``field value`` labels of one (profile, movie, date) row, in ``field_names`` order."""
        movie = self.movies.iloc[self._movie_position.get_loc(movie_id)]
        user = user_fields(profile.as_frame()).iloc[0]
        context = context_fields([year], [month]).iloc[0]
        genres = ([g for g in movie["genres"].split("|") if g] + [NO_GENRE] * 3)[:3]
        raw = {
            "user_id": "new user" if profile.user_id is None else f"user {profile.user_id}",
            "movie_id": movie["title"],
            "movie_decade": f"decade {int(movie['year']) // 10 * 10}s" if pd.notna(movie["year"]) else "decade ?",
            "movie_year": f"released {movie['year']}" if pd.notna(movie["year"]) else "release year ?",
            "rating_year": f"in {context['rating_year']}",
            "rating_month": f"month {context['rating_month']}",
            "rating_decade": f"the {context['rating_decade']}",
            "genre1": f"genre {genres[0]}",
            "genre2": f"genre {genres[1]}",
            "genre3": f"genre {genres[2]}",
            "gender": GENDERS[user["gender"]],
            "age": f"age {AGE_BRACKETS[int(user['age'])]}",
            "occupation": str(user["occupation"]),
            "zip": f"zip {user['zip']}",
        }
        if self.history_length:
            count = int((self.history_codes(profile) != 0).sum())
            raw[HISTORY_FIELD] = f"{count} rated movies" if count else "no rated movies"
        return [raw[f] for f in self.field_names]


def match_text(match: float) -> str:
    """A match share as a percentage rounded down, so 100.0% means the very top and 99.9% the top 0.1%."""
    return f"{math.floor(match * 1000) / 10:.1f}%"


if __name__ == "__main__":  # python -m movierec.recommend: the terminal tool (movierec.cli.recommend)
    from movierec.cli.recommend import main

    main()

