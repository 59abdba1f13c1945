"""The Streamlit page both entry points share: ``show_st.py`` (AutoInt) and ``show_st_plus.py`` (AutoInt+).

The model, encoder and data load once per process (``st.cache_resource``);
every interaction reruns only the ranking, one batched model call. Anything
missing or mismatched is shown as a message with the command that fixes it,
never as a traceback.

Settings come from the environment: ``MOVIELENS_DIR`` (data), and
``MOVIEREC_MODEL_DIR`` / ``MOVIEREC_ENCODER_DIR`` (artifacts; default
``model/`` and ``data/`` of this repository).
"""

from __future__ import annotations

import os
import re

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from movierec import artifacts, data
from movierec.data import AGE_BRACKETS, ML1M_OCCUPATIONS
from movierec.features import FIELDS
from movierec.models import TITLES
from movierec.recommend import FIELD_LABELS, GENDERS, Profile, Recommender

ZIP_CODE = re.compile(r"[0-9]{5}")
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


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
    return Recommender(model, encoder, release, manifest)


MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$])")


def markdown_text(text: str) -> str:
    """``text`` shown as typed in Streamlit markdown: every character markdown would act on is escaped."""
    return MARKDOWN_SPECIAL.sub(r"\\\1", str(text))


def zip_code_input(rec: Recommender) -> str:
    """The zip code a visitor types: five digits or nothing; says what the model does with it."""
    typed = st.text_input("Zip code (5 digits, optional)", value="10001", max_chars=5, key="zip").strip()
    if typed and not ZIP_CODE.fullmatch(typed):
        st.error(f"“{markdown_text(typed)}” is not a zip code (5 digits, like 10001). The ranking uses no zip code.")
        typed = ""
    if not typed:
        st.caption("No zip code: the model uses what it learned for an unknown zip code.")
    elif not rec.knows("zip", typed):
        st.caption(f"No training user had zip code {typed}, so the model uses what it learned for an unknown one.")
    return typed


def score_column(model):
    """What the score means depends on the model: P(like) alone, or P(rated) x P(like | rated)."""
    if getattr(model, "rated_head", False):
        return st.column_config.NumberColumn(
            "score",
            format="%.3f",
            width="small",
            help="P(would rate it) x P(would like it | rated): how likely this person is to watch and enjoy it",
        )
    return st.column_config.NumberColumn("P(like)", format="%.3f", width="small", help="P(rating >= 4)")


def _user_label(users: pd.DataFrame):
    labels = {
        int(r.user_id): f"User {r.user_id} · {r.gender} · {AGE_BRACKETS[int(r.age)]} · {r.occupation}"
        for r in users.itertuples()
    }
    return lambda user_id: labels[user_id]


def sidebar(rec: Recommender) -> tuple[Profile, int, int, int, list[str], list[int]]:
    """The controls; returns the profile, the target date, N and the filters."""
    with st.sidebar:
        st.header("Who is it for?")
        mode = st.radio("Profile", ["Existing user", "New profile"], horizontal=True, key="mode")
        if mode == "Existing user":
            users = rec.data.users
            user_id = st.selectbox(
                "MovieLens user (type to search)",
                users["user_id"].astype(int).tolist(),
                format_func=_user_label(users),
                key="user",
            )
            profile = rec.profile(int(user_id))
        else:
            gender = st.radio("Gender", list(GENDERS), format_func=lambda g: GENDERS[g].capitalize(), key="gender")
            age = st.selectbox("Age", list(AGE_BRACKETS), index=2, format_func=AGE_BRACKETS.get, key="age")
            occupation = st.selectbox("Occupation", list(ML1M_OCCUPATIONS), index=12, key="occupation")
            profile = Profile(gender, int(age), occupation, zip_code_input(rec))

        st.header("When?")
        low, high = rec.years
        year = st.selectbox("Year", list(range(low, high + 1)), index=high - low, key="year")
        month = st.selectbox("Month", list(range(1, 13)), index=rec.latest[1] - 1, format_func=lambda m: MONTHS[m - 1],
                             key="month")  # fmt: skip

        st.header("What?")
        n = st.slider("How many recommendations", 5, 50, 10, key="n")
        genres = st.multiselect("Genres (any of)", rec.genres, key="genres")
        decades = st.multiselect("Release decade", rec.decades, format_func=lambda d: f"{d}s", key="decades")
    return profile, int(year), int(month), int(n), genres, decades


def describe(profile: Profile) -> str:
    who = "A new visitor" if profile.user_id is None else f"User {profile.user_id}"
    place = f"zip {profile.zip}" if profile.zip else "no zip code"
    about = f"{GENDERS[profile.gender]}, age {AGE_BRACKETS[profile.age]}, {profile.occupation}, {place}"
    return f"**{who}** — {markdown_text(about)}"


def genre_mix(history: pd.DataFrame, top: pd.DataFrame) -> pd.DataFrame:
    """Share of each genre among liked movies and among recommendations, long format for a chart."""
    parts = []
    for source, frame in (("Liked history", history), ("Recommended", top)):
        if frame.empty:
            continue
        genres = frame["genres"].str.split("|").explode()
        share = genres.value_counts(normalize=True).rename("share").reset_index()
        parts.append(share.rename(columns={"index": "genres"}).assign(source=source))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["genres", "share", "source"])


def heatmap(weights: np.ndarray, values: list[str], fields: tuple[str, ...] = FIELDS) -> alt.Chart:
    labels = [f"{FIELD_LABELS[f]}: {v}" if FIELD_LABELS[f] not in v else v for f, v in zip(fields, values, strict=True)]
    n = len(fields)
    cells = pd.DataFrame(
        [(labels[i], labels[j], float(weights[i, j]) * n) for i in range(n) for j in range(n)],
        columns=["query field", "attended field", "attention"],
    )
    return (
        alt.Chart(cells)
        .mark_rect()
        .encode(
            x=alt.X("attended field:N", sort=labels, axis=alt.Axis(labelAngle=-40, labelLimit=160, labelOverlap=False)),
            y=alt.Y("query field:N", sort=labels, axis=alt.Axis(labelLimit=200, labelOverlap=False)),
            color=alt.Color("attention:Q", scale=alt.Scale(scheme="blues"), title="× uniform"),
            tooltip=["query field", "attended field", alt.Tooltip("attention:Q", format=".3f")],
        )
        .properties(height=460)
    )


def page(name: str) -> None:
    st.set_page_config(page_title=f"Movie picks · {TITLES[name]}", page_icon=":material/movie:", layout="wide")
    st.title(f"Movies you have not seen yet · {TITLES[name]}", anchor=False)
    try:
        rec = load_recommender(
            name, os.environ.get("MOVIEREC_MODEL_DIR"), os.environ.get("MOVIEREC_ENCODER_DIR"),
            (os.environ.get(data.ENV_DATA_DIR) or "").strip() or None,  # blank counts as unset, as in data.find
        )  # fmt: skip
    except PageError as err:
        st.error(markdown_text(str(err)))
        if err.command:
            st.markdown("Fix it with:")
            st.code(err.command, language="bash")
        st.stop()
        return

    profile, year, month, n, genres, decades = sidebar(rec)
    top = rec.rank(profile, year, month, n=n, genres=genres, decades=decades)
    history = rec.history(profile)
    evaluation = rec.manifest.get("evaluation") or {}
    measured = ", ".join(
        f"{label} {evaluation[key]:.3f}" for key, label in (("auc", "AUC"), ("full_ndcg@10", "full-ranking NDCG@10"))
        if isinstance(evaluation.get(key), int | float)
    )  # fmt: skip
    st.caption(
        f"Ranking all {len(rec.movies):,} MovieLens movies for {MONTHS[month - 1]} {year}; movies already rated "
        f"never appear." + (f" Model on the test split: {measured}." if measured else "")
    )
    st.markdown(describe(profile))

    st.subheader(f"Top {len(top)} recommendations")
    if top.empty:
        st.warning("No unseen movie matches these filters. Widen the genres or decades.")
    else:
        # One attention call explains every pick: two pairs in the table, three for the chosen movie.
        ids = top["movie_id"].tolist()
        explained = dict(zip(ids, rec.explanations(profile, ids, year, month, k=3), strict=True))
        why = [" · ".join(explained[m][:2]) for m in ids]
        st.dataframe(
            top.assign(why=why).drop(columns="movie_id"),
            hide_index=True,
            width="stretch",
            column_config={
                "rank": st.column_config.NumberColumn("#", width="small"),
                "title": st.column_config.TextColumn("title", width="medium"),
                "year": st.column_config.NumberColumn("year", format="%d", width="small"),
                "score": score_column(rec.model),
                "why": st.column_config.TextColumn("why: strongest person × movie attention pairs", width="large"),
            },
            key="recommendations",
        )

    left, right = st.columns([2, 3], gap="large")
    with left:
        st.subheader("Genre mix: history vs picks")
        mix = genre_mix(history, top)
        if mix.empty:
            st.info("No liked history and no recommendations to compare.")
        else:
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
                .properties(height=460)
            )
            st.altair_chart(chart, width="stretch")
    with right:
        st.subheader("Why this movie? The model's attention")
        if top.empty:
            st.info("Nothing to explain.")
        else:
            choice = st.selectbox("Recommendation to explain", top["title"].tolist(), key="explain")
            movie_id = int(top.loc[top["title"] == choice, "movie_id"].iloc[0])
            st.markdown("Strongest field pairs: " + " · ".join(f"`{p}`" for p in explained[movie_id]))
            weights = rec.attention(profile, [movie_id], year, month)[0]
            values = rec.field_values(profile, movie_id, year, month)
            st.altair_chart(heatmap(weights, values, rec.field_names), width="stretch")
            st.caption(
                "First interacting layer, mean over heads, as a multiple of uniform attention (1.00 = every field "
                "weighted alike): row = the field that attends, column = the field it attends to."
            )

    st.subheader("Liked history (rated 4 or 5)")
    if history.empty:
        st.info("A new profile has no history: the ranking comes from the profile fields alone.")
    else:
        st.dataframe(
            history.drop(columns="movie_id"),
            hide_index=True,
            width="stretch",
            column_config={"year": st.column_config.NumberColumn("year", format="%d")},
            key="history",
        )
