"""The Streamlit page both entry points share: ``show_st.py`` (AutoInt) and ``show_st_plus.py`` (AutoInt+).

A visitor searches any title and rates it with stars (or rates a starter
grid of popular, varied movies); every rating joins their history and the
list below refreshes, each pick with a reason in plain words ("Because you
liked ...", or an audience it is popular with). The ratings live in the
session, survive every rerun, and download and upload as a small CSV or
JSON file. An existing MovieLens user can be chosen instead, and ratings
added to theirs. Each entry point opens its model; the page can switch.

Each model, its encoder and the data load once per process
(``st.cache_resource``); a new visitor is served by the model's network for
newcomers when the new-user protocol chose one (``serving_folders``), a
MovieLens user by the shipped network.
A rating, a removal or a toggle reruns one fragment (``recommendations``:
the rating section, the picks and the explanations) with one batched model
call; the sidebar's controls rerun the page. Anything
missing or mismatched is shown as a message with the command that fixes it,
never as a traceback.

Settings come from the environment: ``MOVIELENS_DIR`` (data), and
``MOVIEREC_MODEL_DIR`` / ``MOVIEREC_ENCODER_DIR`` (artifacts; default
``model/`` and ``data/`` of this repository).
"""

from __future__ import annotations

import contextlib
import csv
import ctypes
import gc
import io
import json
import os
import re
import sys
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import streamlit as st

from movierec import artifacts, data
from movierec.data import AGE_BRACKETS, ML1M_OCCUPATIONS
from movierec.features import FIELDS
from movierec.models import TITLES
from movierec.recommend import FIELD_LABELS, GENDERS, Profile, Recommender, match_text

if TYPE_CHECKING:
    import altair as alt  # imported where a chart is drawn: only on request, so never on the way to a first page

ZIP_CODE = re.compile(r"[0-9]{5}")
STARTERS_SHOWN = 9  # movies in the "rate a few to start" grid
# Who a visitor is until they say otherwise: the "About you" defaults (the first gender, 25-34, programmer).
VISITOR = Profile(next(iter(GENDERS)), 25, "programmer", "")
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def keep_keras_session() -> None:
    """Stop Streamlit from clearing Keras' session after every run of the page.

    Streamlit's script runner calls ``keras.backend.clear_session()`` after
    each run (``_clean_problem_modules``, meant for apps that build a model
    per run). With TensorFlow that empties the eager kernel cache, so the next
    run's first model call instantiates the compiled scorer again: about 0.3 s
    of CPU added to every interaction. This app keeps its models for the life
    of the process (``st.cache_resource``) and has nothing to clear, so that
    one caller is skipped; every other caller still clears the session.
    """
    import keras

    clear = keras.backend.clear_session
    if getattr(clear, "keeps_streamlit_out", False):
        return

    def clear_session(*args, **kwargs):
        caller = sys._getframe(1)
        if caller.f_code.co_name == "_clean_problem_modules" and caller.f_globals.get("__name__", "").startswith(
            "streamlit."
        ):
            return None
        return clear(*args, **kwargs)

    clear_session.keeps_streamlit_out = True
    keras.backend.clear_session = clear_session


def return_freed_memory() -> None:
    """Give the heap memory that loading freed back to the system (glibc's ``malloc_trim``; elsewhere nothing).

    Parsing a million ratings and building the recommender free tens of MB
    that glibc would otherwise keep in the process for its whole life.
    """
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


class PageError(Exception):
    """Something the person running the app can fix; carries the fixing command."""

    def __init__(self, message: str, command: str | None = None):
        super().__init__(message)
        self.command = command


class StreamlitProgress:
    """Lets pooch report download progress through an ``st.progress`` bar."""

    def __init__(self):
        self.bar = st.progress(0.0, text="Downloading MovieLens 1M from GroupLens…")
        self.total, self.n = 1, 0

    def update(self, step: int) -> None:
        self.n += step
        self.bar.progress(min(self.n / max(self.total, 1), 1.0), text=f"Downloading… {self.n / 1e6:.1f} MB")

    def reset(self) -> None:
        self.n = 0

    def close(self) -> None:
        self.bar.empty()


@st.cache_data(show_spinner="Reading MovieLens…")
def load_movielens(movielens_dir: str | None) -> data.MovieLens:
    """MovieLens 1M from ``MOVIELENS_DIR`` (read by ``data.find``, so errors name it), the cache or a download.

    ``movielens_dir`` is that variable's value, passed in so that the cache is per value.
    """
    folder = data.find("ml-1m")
    if folder is None:
        progress = StreamlitProgress()
        try:
            folder = data.fetch("ml-1m", progressbar=progress)
        finally:  # a failed download must not leave a stale "Downloading…" bar above the message
            progress.close()
    return data.load("ml-1m", folder, download=False)


def serving_folders(name: str, model_dir: str | None, encoder_dir: str | None, newcomer: bool):
    """The artifact folders that serve this visitor: the newcomer set for a new visitor, if the model has one.

    The new-user protocol chose, on new people it held out, which network
    ranks best for someone the model never saw (``artifacts.newcomer_folders``);
    a new set lies in a folder named by its weights, so the cached
    recommender of a replaced one is never served.
    """
    if not newcomer:
        return model_dir, encoder_dir
    try:
        folders = artifacts.serving_folders(name, model_dir, encoder_dir, newcomer=True)
    except Exception as err:  # anything the files provoke is a message, not a traceback
        try:  # (read again only on this path: a visit's reruns read the manifests once each)
            artifacts.read_manifest(artifacts.manifest_path(name, model_dir))
        except Exception:  # the shipped set itself is broken: loading it says so, with the command that fixes it
            return model_dir, encoder_dir
        detail = str(err) if isinstance(err, artifacts.ArtifactError) else f"{type(err).__name__}: {err}"
        restore = ("git checkout -- model/   # the committed sets; or rerun the new-user protocol with "
                   "--save-networks, then --apply-newuser-choice (README: Other protocols)")
        raise PageError(f"The {TITLES[name]} model's network for newcomers could not be loaded: {detail}",
                        restore) from err  # fmt: skip
    return tuple(None if f is None else str(f) for f in folders)


@st.cache_resource(show_spinner="Loading the model…")
def load_recommender(
    name: str, model_dir: str | None, encoder_dir: str | None, movielens_dir: str | None
) -> Recommender:
    train = f"python -m movierec.train --model {name} --data-dir /path/to/movielens"
    point_at_a_copy = "export MOVIELENS_DIR=/path/to/ml-1m   # a folder with ratings.dat, users.dat, movies.dat"
    try:
        model, encoder, manifest = artifacts.load(name, model_dir, encoder_dir)
    except artifacts.ArtifactError as err:
        raise PageError(f"The {TITLES[name]} model could not be loaded: {err}", train) from err
    except Exception as err:  # anything else the files provoke is still a message, not a traceback
        raise PageError(f"The {TITLES[name]} model could not be loaded ({type(err).__name__}: {err}).", train) from err
    try:
        release = load_movielens(movielens_dir)
    except data.DownloadError as err:
        raise PageError(
            "MovieLens 1M is not on this machine yet, and downloading it from GroupLens failed: this looks like a "
            f"first run without network access. Point the app at a copy you already have. ({err})",
            point_at_a_copy,
        ) from err
    except data.MovieLensError as err:
        raise PageError(f"MovieLens 1M is not available: {err}", point_at_a_copy) from err
    except OSError as err:
        raise PageError(f"MovieLens 1M could not be read ({type(err).__name__}: {err}).", point_at_a_copy) from err
    return_freed_memory()  # the parser's buffers, before the recommender's own peak
    recommender = Recommender(model, encoder, release, manifest)
    return_freed_memory()
    # Streamlit runs a full garbage collection after every run of the page, holding the interpreter while it walks
    # every object; the model, TensorFlow's graph and the data live as long as the process, so they are moved out
    # of the collector's sight once (about 150 ms off every interaction), after a collection so no garbage is kept.
    gc.collect()
    gc.freeze()
    return recommender


MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$])")


def markdown_text(text: str) -> str:
    """``text`` shown as typed in Streamlit markdown: every character markdown would act on is escaped."""
    return MARKDOWN_SPECIAL.sub(r"\\\1", str(text))


def zip_code_input(rec: Recommender) -> str:
    """The zip code a visitor types: five digits or nothing; says what the model does with it."""
    typed = st.text_input("Zip code (5 digits, optional)", value="", max_chars=5, key="zip").strip()
    if typed and not ZIP_CODE.fullmatch(typed):
        st.error(f"“{markdown_text(typed)}” is not a zip code (5 digits, like 10001). The ranking uses no zip code.")
        typed = ""
    if not typed:
        st.caption("No zip code: the model uses what it learned for an unknown zip code.")
    elif not rec.knows("zip", typed):
        st.caption(f"No training user had zip code {typed}, so the model uses what it learned for an unknown one.")
    return typed


# ------------------------------------------------------------------ ratings given here, as a file

MAX_RATINGS_FILE = 1_000_000  # bytes: far more than anyone's ratings (MovieLens' heaviest user has 2,314)
MAX_RATINGS = 10_000


class RatingsFileError(ValueError):
    """An uploaded ratings file that cannot be used, with what is wrong in it."""


def ratings_csv(ratings: dict[int, int], titles: dict[int, str]) -> str:
    """The ratings as CSV: ``movie_id,stars,title`` (the title is for people; reading ignores it)."""
    frame = pd.DataFrame(
        {"movie_id": list(ratings), "stars": list(ratings.values()), "title": [titles.get(m, "") for m in ratings]}
    )
    return frame.to_csv(index=False)


def read_ratings_file(name: str, content: bytes, known: set[int]) -> dict[int, int]:
    """``{movie_id: stars}`` from an uploaded CSV (``movie_id,stars``) or JSON file; a specific error otherwise.

    JSON is a list of ``{"movie_id": .., "stars": ..}`` objects or one
    ``{"movie_id": stars}`` object. Every movie must be in the catalogue and
    every rating 1 to 5 whole stars; a movie listed twice keeps its last rating.
    """
    if len(content) > MAX_RATINGS_FILE:
        raise RatingsFileError(f"{name} is {len(content):,} bytes; a ratings file is at most {MAX_RATINGS_FILE:,}")
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise RatingsFileError(f"{name} is not UTF-8 text (byte {err.start}): save it as CSV or JSON") from None
    if name.lower().endswith(".json"):
        try:
            payload = json.loads(text)
        except json.JSONDecodeError as err:
            raise RatingsFileError(f"{name} is not valid JSON ({err.msg}, line {err.lineno})") from None
        except RecursionError:
            raise RatingsFileError(f"{name} nests too deeply to be a ratings file") from None
        if isinstance(payload, dict):
            rows = list(payload.items())
        elif isinstance(payload, list) and all(isinstance(r, dict) for r in payload):
            rows = [(r.get("movie_id"), r.get("stars")) for r in payload]
        else:
            raise RatingsFileError(f'{name}: expected [{{"movie_id": 260, "stars": 5}}, ...] or {{"260": 5, ...}}')
    else:
        lines = [line for line in csv.reader(io.StringIO(text)) if line]
        header = [column.strip() for column in lines[0]] if lines else []
        missing = [c for c in ("movie_id", "stars") if c not in header]
        if missing:
            raise RatingsFileError(f"{name} has no {' or '.join(missing)} column; the header is movie_id,stars")
        for number, line in enumerate(lines[1:], start=1):
            if len(line) != len(header):  # never guess which field is which
                raise RatingsFileError(f"{name}, rating {number}: {len(line)} fields under a header of {len(header)}")
        movie, stars = header.index("movie_id"), header.index("stars")
        rows = [(line[movie], line[stars]) for line in lines[1:]]
    if not rows:
        raise RatingsFileError(f"{name} holds no ratings")
    if len(rows) > MAX_RATINGS:
        raise RatingsFileError(f"{name} holds {len(rows):,} ratings; at most {MAX_RATINGS:,} are read")
    ratings = {}
    for line, (movie, stars) in enumerate(rows, start=1):
        try:
            movie_id, value = int(str(movie).strip()), int(str(stars).strip())
        except ValueError:
            raise RatingsFileError(f"{name}, rating {line}: movie_id and stars must be whole numbers, got "
                                   f"{movie!r} and {stars!r}") from None  # fmt: skip
        if not 1 <= value <= 5:
            raise RatingsFileError(f"{name}, rating {line}: stars are 1 to 5, got {value}")
        if movie_id not in known:
            raise RatingsFileError(f"{name}, rating {line}: movie {movie_id} is not in MovieLens 1M")
        ratings.pop(movie_id, None)
        ratings[movie_id] = value
    return ratings


# ------------------------------------------------------------------ session state

# Widgets whose choices must survive a rerun in which they are not drawn (Streamlit forgets those).
KEPT = ("mode", "user", "gender", "age", "occupation", "zip", "year", "month", "n", "genres", "decades", "model",
        "heatmap", "taste")


def keep_choices() -> None:
    for key in KEPT:
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]


def my_ratings() -> dict[int, int]:
    """The ratings given on this page for whoever the page is for (``owner``), ``{movie_id: stars}``, oldest first.

    Each person has their own: the visitor ("me") and every MovieLens user
    ratings were added for. Callbacks run before the page is drawn again, so
    they file a rating under the person the widgets were drawn for.
    """
    return st.session_state.setdefault("ratings", {}).setdefault(st.session_state.get("owner", "me"), {})


def add_rating(movie_id: int, stars: int) -> None:
    ratings = my_ratings()
    ratings.pop(int(movie_id), None)
    ratings[int(movie_id)] = int(stars)


def rate_from(key: str, movie_id: int | None = None) -> None:
    """Callback of a stars widget: record its rating (of ``movie_id``, or of the searched movie)."""
    index = st.session_state.get(key)
    movie = movie_id if movie_id is not None else st.session_state.get("search")
    if index is None or movie is None:
        return
    add_rating(int(movie), int(index) + 1)
    if movie_id is None:  # a rated search is done: clear it for the next title
        st.session_state["search"] = None
        st.session_state[key] = None


def remove_rating(movie_id: int) -> None:
    my_ratings().pop(int(movie_id), None)


def clear_ratings() -> None:
    my_ratings().clear()


# ------------------------------------------------------------------ controls


def _user_label(users: pd.DataFrame):
    labels = {
        int(r.user_id): f"User {r.user_id} · {r.gender} · {AGE_BRACKETS[int(r.age)]} · {r.occupation}"
        for r in users.itertuples()
    }
    return lambda user_id: labels[user_id]


def sidebar(rec: Recommender, name: str) -> tuple[Profile, int, int, int, list[str], list[int]]:
    """The controls; returns the person (without the ratings given here), the date, N and the filters."""
    with st.sidebar:
        st.header("Who is it for?")
        mode = st.radio("Recommendations for", ["Me", "A MovieLens user"], horizontal=True, key="mode")
        if mode == "A MovieLens user":
            users = rec.data.users
            user_id = st.selectbox(
                "MovieLens user (type to search)",
                users["user_id"].astype(int).tolist(),
                format_func=_user_label(users),
                key="user",
            )
            person = rec.profile(int(user_id))
            st.session_state["owner"] = int(user_id)
        else:
            with st.expander("About you (optional)", expanded=False):
                gender = st.radio("Gender", list(GENDERS), index=list(GENDERS).index(VISITOR.gender), key="gender",
                                  format_func=lambda g: GENDERS[g].capitalize(), horizontal=True)  # fmt: skip
                age = st.selectbox("Age", list(AGE_BRACKETS), index=list(AGE_BRACKETS).index(VISITOR.age),
                                   format_func=AGE_BRACKETS.get, key="age")  # fmt: skip
                occupation = st.selectbox("Occupation", list(ML1M_OCCUPATIONS), key="occupation",
                                          index=ML1M_OCCUPATIONS.index(VISITOR.occupation))  # fmt: skip
                zip_code = zip_code_input(rec)
            person = Profile(gender, int(age), occupation, zip_code)
            st.session_state["owner"] = "me"

        st.header("What?")
        n = st.slider("How many movies", 5, 50, 10, key="n")
        genres = st.multiselect("Genres (any of)", rec.genres, key="genres")
        decades = st.multiselect("Release decade", rec.decades, format_func=lambda d: f"{d}s", key="decades")

        with st.expander("Advanced"):
            low, high = rec.years
            st.caption(
                f"The model learned from ratings given in {low}-{high} and knows when each was given. "
                "Recommendations are for the data's last month unless you pick another."
            )
            year = st.selectbox("Year", list(range(low, high + 1)), index=high - low, key="year")
            month = st.selectbox("Month", list(range(1, 13)), index=rec.latest[1] - 1,
                                 format_func=lambda m: MONTHS[m - 1], key="month")  # fmt: skip
            st.radio(
                "Model", list(TITLES), index=list(TITLES).index(name), format_func=TITLES.get, key="model",
                horizontal=True, help="AutoInt: attention over the fields. AutoInt+: and a deep network.",
            )  # fmt: skip
    return person, int(year), int(month), int(n), genres, decades


def describe(profile: Profile) -> str:
    who = "You" if profile.user_id is None else f"User {profile.user_id}"
    place = f"zip {profile.zip}" if profile.zip else "no zip code"
    about = f"{GENDERS[profile.gender]}, age {AGE_BRACKETS[profile.age]}, {profile.occupation}, {place}"
    return f"**{who}** — {markdown_text(about)}"


def stars_text(stars: int) -> str:
    return "★" * int(stars) + "☆" * (5 - int(stars))


# ------------------------------------------------------------------ the page's sections


def rating_section(rec: Recommender, profile: Profile) -> None:
    """Search any title and rate it; a starter grid of popular, varied movies; the ratings given, as a file too."""
    titles = rec.display_titles()
    ratings = my_ratings()
    st.subheader("Tell it what you have seen", anchor=False)
    st.selectbox(
        "Find a movie you have seen",
        rec.search_order(),
        index=None,
        format_func=titles.get,
        placeholder=f"Type a title: any of {len(titles):,} movies",
        key="search",
    )
    if st.session_state.get("search") is not None:
        st.caption(f"How much did you like **{markdown_text(titles[st.session_state['search']])}**?")
        st.feedback("stars", key="search_stars", on_change=rate_from, args=("search_stars",))

    rated = set(ratings) | {int(m) for m in rec.movies["movie_id"].to_numpy()[rec.rated_positions(profile.person)]}
    starters = [m for m in rec.starters() if m not in rated][:STARTERS_SHOWN]
    with st.expander("Rate a few to start", expanded=len(ratings) < 3 and profile.user_id is None):
        st.caption("Popular movies from different genres; rate the ones you have seen, skip the rest.")
        cells = st.columns(3)
        for i, movie_id in enumerate(starters):
            with cells[i % 3]:
                st.markdown(f"**{markdown_text(titles[movie_id])}**")
                st.feedback("stars", key=f"starter_{movie_id}", on_change=rate_from,
                            args=(f"starter_{movie_id}", movie_id))  # fmt: skip

    label = "Your ratings" if profile.user_id is None else f"Ratings you add for user {profile.user_id}"
    with st.expander(f"{label} ({len(ratings)})", expanded=bool(ratings)):
        if not ratings:
            st.caption("None yet. Every rating refreshes the recommendations below.")
        for movie_id, stars in reversed(list(ratings.items())):
            left, right = st.columns([6, 1], vertical_alignment="center")
            left.markdown(f"{stars_text(stars)} {markdown_text(titles[movie_id])}")
            right.button("✕", key=f"remove_{movie_id}", help="Remove this rating", on_click=remove_rating,
                         args=(movie_id,))  # fmt: skip
        if ratings:
            st.download_button("Download them (CSV)", ratings_csv(ratings, titles), file_name="my-movie-ratings.csv",
                               mime="text/csv", key="download")  # fmt: skip
            st.button("Clear all", key="clear", on_click=clear_ratings)
        upload = st.file_uploader("Load ratings from a file (CSV or JSON)", type=["csv", "json"], key="upload")
        if upload is not None and st.session_state.get("loaded") != upload.file_id:
            try:
                loaded = read_ratings_file(upload.name, upload.getvalue(), set(titles))
            except RatingsFileError as err:
                st.error(f"{markdown_text(str(err))}. Your ratings are unchanged.")
            else:
                for movie_id, stars in loaded.items():
                    add_rating(movie_id, stars)
                st.session_state["loaded"] = upload.file_id
                # The whole page, not the fragment: a fragment-scoped rerun is refused during a full run.
                st.rerun()


def empty_reason(rec: Recommender, profile: Profile, genres: list[str], decades: list[int]) -> str:
    """Why a ranking came out empty, in a sentence: nothing matches the filters, or everything that does is rated."""
    kind = f"{' or '.join(genres)} movie" if genres else "movie"
    when = f" from {' or '.join(f'the {d}s' for d in decades)}" if decades else ""
    if not rec.matching(genres, decades).any():
        return f"MovieLens has no {kind}{when}. Widen the genres or decades."
    who = "You have" if profile.user_id is None else f"User {profile.user_id} has"
    return f"{who} rated every {kind}{when} in MovieLens. Widen the genres or decades."


def picks_section(rec: Recommender, profile: Profile, top: pd.DataFrame, reasons: list[str], unseen: int) -> None:
    st.subheader(f"Recommended for {'you' if profile.user_id is None else f'user {profile.user_id}'}", anchor=False)
    st.caption(
        f"Match: the share of the {unseen:,} movies {'you have' if profile.user_id is None else 'they have'} not "
        "rated that score no higher for this person (99% = in the top 1%). Movies already rated never appear."
    )
    for row, reason in zip(top.itertuples(), reasons, strict=True):
        with st.container(border=True):
            year = "" if pd.isna(row.year) else f" ({int(row.year)})"
            genres = ", ".join(g for g in row.genres.split("|") if g)
            lines = [f"**{row.rank}. {markdown_text(row.name)}**{year}",
                     f"{markdown_text(genres)} · {match_text(row.match)} match"]  # fmt: skip
            if reason:
                lines.append(f"_{markdown_text(reason)}_")
            st.markdown("  \n".join(lines))


def genre_mix(history: pd.DataFrame, top: pd.DataFrame) -> pd.DataFrame:
    """Share of each genre among liked movies and among recommendations, long format for a chart."""
    parts = []
    for source, frame in (("Liked", history), ("Recommended", top)):
        if frame.empty:
            continue
        genres = frame["genres"].str.split("|").explode()
        share = genres.value_counts(normalize=True).rename("share").reset_index()
        parts.append(share.rename(columns={"index": "genres"}).assign(source=source))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["genres", "share", "source"])


HEATMAP_FIELDS = {"genre1": "1st genre", "genre2": "2nd genre", "genre3": "3rd genre", "rating_year": "rated in",
                  "rating_month": "month rated", "rating_decade": "decade rated"}  # fmt: skip


def heatmap_labels(values: list[str], fields: tuple[str, ...]) -> list[str]:
    """One unique, readable label per field: "1st genre: Drama", "2nd genre: none", "age: 25-34"."""
    labels = []
    for field, value in zip(fields, values, strict=True):
        name = HEATMAP_FIELDS.get(field, FIELD_LABELS[field])
        shown = value.removeprefix(f"{FIELD_LABELS[field]} ").removeprefix("genre ")
        labels.append(f"{name}: {'none' if field.startswith('genre') and shown == 'no' else shown}")
    return labels


def heatmap(weights: np.ndarray, values: list[str], fields: tuple[str, ...] = FIELDS) -> alt.Chart:
    import altair as alt

    labels = heatmap_labels(values, fields)
    n = len(fields)
    cells = pd.DataFrame(
        [(labels[i], labels[j], float(weights[i, j]) * n) for i in range(n) for j in range(n)],
        columns=["query field", "attended field", "attention"],
    )
    return (
        alt.Chart(cells)
        .mark_rect()
        .encode(
            x=alt.X(
                "attended field:N", sort=labels, axis=alt.Axis(labelAngle=-45, labelLimit=260, labelOverlap=False)
            ),
            y=alt.Y("query field:N", sort=labels, axis=alt.Axis(labelLimit=260, labelOverlap=False)),
            color=alt.Color("attention:Q", scale=alt.Scale(scheme="blues"), title="× uniform"),
            tooltip=["query field", "attended field", alt.Tooltip("attention:Q", format=".3f")],
        )
        .properties(height=32 * n)
    )


def curious_section(rec: Recommender, profile: Profile, top: pd.DataFrame, year: int, month: int) -> None:
    with st.expander("How the model weighed the fields (for the curious)"):
        # Drawn on request only: the attention call and the chart would slow every other interaction.
        if st.toggle("Show the attention heat map", key="heatmap"):
            titles = rec.display_titles()
            choice = st.selectbox("Recommendation to explain", top["movie_id"].tolist(), format_func=titles.get,
                                  key="explain")  # fmt: skip
            weights = rec.attention(profile, [int(choice)], year, month)[0]
            values = rec.field_values(profile, int(choice), year, month)
            st.altair_chart(heatmap(weights, values, rec.field_names), width="stretch")
            st.caption(
                "First interacting layer, mean over heads, as a multiple of uniform attention (1.00 = every field "
                "weighted alike): row = the field that attends, column = the field it attends to."
            )
    with st.expander("Your taste: liked movies and their genres"):
        # Drawn on request only, like the heat map: the table and the chart cost more than the ranking.
        if not st.toggle("Show the liked movies and the genre mix", key="taste"):
            return
        history = rec.history(profile)
        if history.empty:
            st.caption("Nothing rated 4 or 5 yet.")
        else:
            st.caption(f"Rated 4 or 5: {len(history)} movies, the newest first.")
            st.dataframe(history.drop(columns="movie_id"), hide_index=True, width="stretch",
                         column_config={"year": st.column_config.NumberColumn("year", format="%d")},
                         key="history")  # fmt: skip
        mix = genre_mix(history, top)
        if not mix.empty:
            import altair as alt

            chart = (
                alt.Chart(mix)
                .mark_bar()
                .encode(
                    y=alt.Y("genres:N", sort="-x", title=None),
                    x=alt.X("share:Q", axis=alt.Axis(format="%"), title="share of movies"),
                    color=alt.Color("source:N", legend=alt.Legend(orient="bottom", title=None)),
                    yOffset="source:N",
                    tooltip=["source", "genres", alt.Tooltip("share:Q", format=".0%")],
                )
            )
            st.altair_chart(chart, width="stretch")


def open_recommender(name: str, newcomer: bool) -> tuple[Recommender, bool]:
    """The recommender that serves a visitor (``newcomer``) or a MovieLens user, with the settings' folders and data.

    Also says whether it is the model's network for newcomers rather than
    the shipped one. Raises ``PageError`` for anything the files provoke.
    """
    shipped = os.environ.get(artifacts.ENV_MODEL_DIR), os.environ.get(artifacts.ENV_ENCODER_DIR)
    folders = serving_folders(name, *shipped, newcomer)
    movielens_dir = (os.environ.get(data.ENV_DATA_DIR) or "").strip() or None  # blank counts as unset (data.find)
    return load_recommender(name, *folders, movielens_dir), folders != shipped


def preload(name: str) -> bool:
    """A first visit's loading, done before anyone visits (``movierec.server``): the recommender, a ranking, reasons.

    Loads what a new visitor's page loads, through the same cached loaders,
    and ranks once for a visitor who has rated nothing, so the first page
    finds the model loaded and its compiled scorer already run. Returns
    False, having loaded nothing, when MovieLens would have to be downloaded:
    the page downloads it with a progress bar the visitor can see.
    """
    if data.find("ml-1m") is None:
        return False
    rec, _ = open_recommender(name, newcomer=True)
    year, month = rec.latest
    top = rec.rank(VISITOR, year, month)
    rec.reasons(VISITOR, top["movie_id"].tolist(), year, month)
    return True


def page(name: str) -> None:
    st.set_page_config(page_title="Movie picks", page_icon=":material/movie:", layout="wide")
    keep_keras_session()
    keep_choices()
    name = st.session_state.get("model", name)
    st.title("Movies you have not seen yet", anchor=False)
    newcomer = st.session_state.get("mode", "Me") == "Me"  # the sidebar's first choice, as last made
    try:
        rec, for_newcomers = open_recommender(name, newcomer)
    except PageError as err:
        st.error(markdown_text(str(err)))
        if err.command:
            st.markdown("Fix it with:")
            st.code(err.command, language="bash")
        st.stop()
        return

    person, year, month, n, genres, decades = sidebar(rec, name)
    st.caption(
        f"{TITLES[name]} ranks all {len(rec.movies):,} MovieLens movies for {MONTHS[month - 1]} {year}. "
        "Rate movies you have seen and the list follows your taste."
        + (" As a new visitor you get its network for newcomers, the one that ranked best for new people in "
           "validation." if for_newcomers else "")
    )  # fmt: skip
    st.markdown(describe(person))
    recommendations(rec, person, year, month, n, genres, decades)


@st.fragment
def recommendations(
    rec: Recommender, person: Profile, year: int, month: int, n: int, genres: list[str], decades: list[int]
) -> None:
    """Rating, the picks and the explanations: a rating reruns this part alone, not the sidebar and the title.

    Streamlit reruns a fragment with the arguments of the last full run, so
    the ratings are read here, from the session, on every run.
    """
    profile = person.with_ratings(my_ratings())
    rating_section(rec, profile)
    top = rec.rank(profile, year, month, n=n, genres=genres, decades=decades)
    if top.empty:
        st.session_state.pop("picks", None)  # no list on the page, so none kept from an earlier run
        st.subheader("Recommended", anchor=False)
        st.info(empty_reason(rec, profile, genres, decades))
        return
    reasons = rec.reasons(profile, top["movie_id"].tolist(), year, month)
    st.session_state["picks"] = top.assign(reason=reasons)  # what the page shows, for tests and for debugging
    picks_section(rec, profile, top, reasons, len(rec.movies) - len(rec.rated_positions(profile)))
    curious_section(rec, profile, top, year, month)
