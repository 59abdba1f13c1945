"""Both Streamlit pages through streamlit.testing.v1.AppTest, on fixture data and tiny artifacts."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from model_fixtures import serve_newcomers_with
from streamlit.testing.v1 import AppTest

from movierec.cli import train

ROOT = Path(__file__).resolve().parent.parent
PAGES = {"show_st.py": "autoint", "show_st_plus.py": "autointp"}
TINY = '{"embedding_dim": 4, "attention_layers": 1, "num_heads": 2, "attention_dim": 2, "dnn_units": [8]}'


@pytest.fixture(scope="module")
def tiny_artifacts(tmp_path_factory, ml1m_dir):
    root = tmp_path_factory.mktemp("app-artifacts")
    for name in PAGES.values():
        # The tiny AutoInt+ reads a history (attention-pooled) and an EASE prior, the tiny AutoInt neither (the
        # shipped AutoInt reads both now): both paths go through the app.
        stacked = ', "history_length": 10, "history_pooling": "attention", "ease_l2": 50.0}'
        hyper = (TINY.replace("}", stacked) if name == "autointp"
                 else TINY.replace(', "dnn_units": [8]', ""))  # fmt: skip
        train.main(["--model", name, "--data-dir", str(ml1m_dir), "--no-download", "--model-dir", str(root / "model"),
                    "--encoder-dir", str(root / "data"), "--epochs", "2", "--batch-size", "256", "--no-refit",
                    "--no-full-ranking", "--hyperparameters", hyper, "--quiet"])  # fmt: skip
    manifest = json.loads((root / "model" / "autointp.manifest.json").read_text())
    assert manifest["config"]["history_length"] == 10 and manifest["config"]["ease_l2"] == 50.0
    return root


@pytest.fixture(scope="module")
def with_newcomer_network(tmp_path_factory, ml1m_dir, tiny_artifacts):
    """The tiny sets, with AutoInt+'s newcomers served by a network of their own (history only, no EASE prior)."""
    import shutil

    from movierec import artifacts

    root = tmp_path_factory.mktemp("app-newcomers")
    shutil.copytree(tiny_artifacts, root, dirs_exist_ok=True)
    alone = root / "history-only"
    train.main(["--model", "autointp", "--data-dir", str(ml1m_dir), "--no-download", "--model-dir", str(alone),
                "--encoder-dir", str(alone), "--epochs", "1", "--batch-size", "256", "--no-refit",
                "--no-full-ranking", "--hyperparameters", TINY.replace("}", ', "history_length": 10}'),
                "--quiet"])  # fmt: skip
    serve_newcomers_with(root / "model", *artifacts.load("autointp", alone, alone)[:2])
    return root


@pytest.fixture
def app_env(monkeypatch, ml1m_dir, tiny_artifacts):
    monkeypatch.setenv("MOVIELENS_DIR", str(ml1m_dir))
    monkeypatch.setenv("MOVIEREC_MODEL_DIR", str(tiny_artifacts / "model"))
    monkeypatch.setenv("MOVIEREC_ENCODER_DIR", str(tiny_artifacts / "data"))


def run_page(page: str) -> AppTest:
    return AppTest.from_file(str(ROOT / page), default_timeout=120).run()


def picks(at: AppTest) -> pd.DataFrame:
    """The recommendations the page showed (it keeps them in the session for exactly this)."""
    return at.session_state["picks"]


def ratings(at: AppTest, owner="me") -> list[tuple[int, int]]:
    """The ratings given on the page for ``owner`` ("me" or a MovieLens user id), in the order given."""
    kept = at.session_state["ratings"] if "ratings" in at.session_state else {}  # noqa: SIM401 (no .get here)
    return list(kept.get(owner, {}).items())


def shown_text(at: AppTest) -> str:
    return " ".join(m.value for m in at.markdown) + " " + " ".join(c.value for c in at.caption)


def rated_ids(ml1m, user_id: int) -> set[int]:
    return set(ml1m.ratings.loc[ml1m.ratings["user_id"] == user_id, "movie_id"].astype(int))


@pytest.mark.parametrize("page", list(PAGES))
def test_a_first_visit_lists_ten_movies_as_readable_cards(app_env, ml1m, page):
    at = run_page(page)
    assert not at.exception and not at.error
    top = picks(at)
    assert len(top) == 10 and top["rank"].tolist() == list(range(1, 11))
    assert top["score"].is_monotonic_decreasing and top["match"].is_monotonic_decreasing
    text = shown_text(at)
    assert f"**1. {top['name'].iloc[0]}**" in text.replace("\\", "")  # a card per pick, the readable title
    assert "% match" in text and "Match: the share of the" in text  # the score, and what it means
    assert "user 1" not in text.lower() and "zip" not in " ".join(top["reason"])  # no ids or zips as reasons
    import gc

    assert gc.get_freeze_count() > 0  # the loaded model and data are out of the per-run collection's way
    assert at.radio(key="mode").value == "Me" and not ratings(at)


@pytest.mark.parametrize("page", list(PAGES))
def test_rating_a_searched_title_refreshes_the_list_without_it(app_env, ml1m, page):
    at = run_page(page)
    before = picks(at)
    movie = int(before["movie_id"].iloc[0])  # rate the top pick: it must leave the list
    at.selectbox(key="search").set_value(movie).run()
    at.feedback(key="search_stars").set_value(4).run()  # the fifth star
    assert not at.exception and not at.error
    assert ratings(at) == [(movie, 5)]
    after = picks(at)
    assert movie not in set(after["movie_id"]) and not after["movie_id"].equals(before["movie_id"])
    assert at.selectbox(key="search").value is None  # ready for the next title
    assert any("Your ratings (1)" in e.label for e in at.expander)


def test_the_starter_grid_rates_and_reasons_name_the_liked_movies(app_env, ml1m):
    at = run_page("show_st_plus.py")
    starters = [f.key for f in at.feedback if f.key and f.key.startswith("starter_")]
    assert len(starters) == 9
    for key in starters[:3]:
        at.feedback(key=key).set_value(4).run()
    assert not at.exception
    liked = [int(k.removeprefix("starter_")) for k in starters[:3]]
    assert ratings(at) == [(m, 5) for m in liked]
    assert not set(liked) & set(picks(at)["movie_id"])
    # The AutoInt+ page reads an attention-pooled history: its picks say which liked movies they lean on.
    assert any(r.startswith("Because you liked") for r in picks(at)["reason"])
    at.button(key=f"remove_{starters[0].removeprefix('starter_')}").click().run()
    assert len(ratings(at)) == 2
    at.button(key="clear").click().run()
    assert ratings(at) == []


def test_ratings_download_and_upload_round_trip(app_env, ml1m):
    from movierec.app import ratings_csv, read_ratings_file

    ids = [int(m) for m in ml1m.movies["movie_id"].head(3)]
    given = {ids[0]: 5, ids[1]: 2, ids[2]: 4}
    csv = ratings_csv(given, {m: f"title {m}" for m in ids})
    assert read_ratings_file("mine.csv", csv.encode(), set(ids)) == given
    at = run_page("show_st_plus.py")
    at.file_uploader(key="upload").set_value(("mine.csv", csv.encode(), "text/csv")).run()
    assert not at.exception and not at.error
    assert ratings(at) == list(given.items())
    assert not set(given) & set(picks(at)["movie_id"])
    payload = json.dumps([{"movie_id": ids[0], "stars": 1}]).encode()
    at.file_uploader(key="upload").set_value(("more.json", payload, "application/json")).run()
    assert ratings(at) == [(ids[1], 2), (ids[2], 4), (ids[0], 1)]  # a re-rated movie takes the new rating, last


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("r.csv", b"\xff\xfe\x00bad", "is not UTF-8 text"),
        ("r.csv", b"film,score\n1,5\n", "has no movie_id or stars column"),
        ("r.csv", b"movie_id,stars\n1,7\n", "rating 1: stars are 1 to 5, got 7"),
        ("r.csv", b"movie_id,stars\n1,5\nabc,4\n", "rating 2: movie_id and stars must be whole numbers"),
        ("r.csv", b"movie_id,stars\n999999,4\n", "movie 999999 is not in MovieLens 1M"),
        ("r.json", b"{not json", "is not valid JSON"),
        ("r.json", b"[1, 2]", "expected [{"),
    ],
    ids=["not-utf8", "columns", "stars", "not-a-number", "unknown-movie", "bad-json", "json-shape"],
)
def test_a_bad_ratings_file_is_refused_and_loses_nothing(app_env, ml1m, name, content, message):
    at = run_page("show_st_plus.py")
    movie = int(ml1m.movies["movie_id"].iloc[5])
    at.selectbox(key="search").set_value(movie).run()
    at.feedback(key="search_stars").set_value(2).run()
    at.file_uploader(key="upload").set_value((name, content, "text/plain")).run()
    assert not at.exception
    shown = at.error[0].value.replace("\\", "")  # the message is markdown-escaped
    assert message in shown and "Your ratings are unchanged" in shown
    assert ratings(at) == [(movie, 3)]


@pytest.mark.parametrize("page", list(PAGES))
def test_every_control_reruns_and_changes_the_list(app_env, ml1m, page):
    at = run_page(page)
    at.radio(key="mode").set_value("A MovieLens user").run()
    before = picks(at)
    at.selectbox(key="user").set_value(7).run()
    assert not at.exception
    after_user = picks(at)
    changed = not after_user["movie_id"].equals(before["movie_id"])
    assert changed or not np.allclose(after_user["score"], before["score"])
    assert not set(after_user["movie_id"]) & rated_ids(ml1m, 7)
    at.selectbox(key="year").set_value(2000).run()
    assert not at.exception
    after_year = picks(at)
    assert not np.allclose(after_year["score"], after_user["score"])  # the context fields move the scores
    at.selectbox(key="month").set_value(6).run()
    assert not at.exception and not np.allclose(picks(at)["score"], after_year["score"])
    at.slider(key="n").set_value(25).run()
    assert len(picks(at)) == 25
    at.multiselect(key="genres").select("Comedy").run()
    assert picks(at)["genres"].str.contains("Comedy").all()
    at.multiselect(key="decades").select(1990).run()
    assert picks(at)["year"].between(1990, 1999).all()
    assert not at.exception and not at.error


def test_choices_survive_switching_between_me_and_a_movielens_user(app_env):
    at = run_page("show_st_plus.py")
    at.selectbox(key="occupation").set_value("farmer").run()
    at.radio(key="mode").set_value("A MovieLens user").run()
    at.selectbox(key="user").set_value(7).run()
    at.radio(key="mode").set_value("Me").run()
    assert at.selectbox(key="occupation").value == "farmer"
    at.radio(key="mode").set_value("A MovieLens user").run()
    assert at.selectbox(key="user").value == 7  # not back to user 1
    assert not at.exception


def test_each_person_keeps_their_own_ratings(app_env, ml1m):
    at = run_page("show_st_plus.py")
    mine, theirs = (int(m) for m in ml1m.movies["movie_id"].iloc[[3, 4]])
    at.selectbox(key="search").set_value(mine).run()
    at.feedback(key="search_stars").set_value(4).run()
    at.radio(key="mode").set_value("A MovieLens user").run()
    at.selectbox(key="user").set_value(7).run()
    assert ratings(at, 7) == [] and any("Ratings you add for user 7 (0)" in e.label for e in at.expander)
    at.selectbox(key="search").set_value(theirs).run()
    at.feedback(key="search_stars").set_value(1).run()
    assert ratings(at, 7) == [(theirs, 2)] and ratings(at) == [(mine, 5)]
    assert any("Ratings you add for user 7 (1)" in e.label for e in at.expander)
    at.radio(key="mode").set_value("Me").run()
    assert any("Your ratings (1)" in e.label for e in at.expander) and ratings(at) == [(mine, 5)]
    assert not at.exception


def test_the_page_switches_models(app_env):
    at = run_page("show_st_plus.py")
    at.radio(key="model").set_value("autoint").run()
    assert not at.exception and not at.error
    assert "AutoInt ranks all" in shown_text(at)
    assert len(picks(at)) == 10


def test_a_new_visitor_is_served_by_the_newcomer_network_and_a_movielens_user_by_the_shipped_one(
    monkeypatch, ml1m_dir, with_newcomer_network, ml1m
):
    monkeypatch.setenv("MOVIELENS_DIR", str(ml1m_dir))
    monkeypatch.setenv("MOVIEREC_MODEL_DIR", str(with_newcomer_network / "model"))
    monkeypatch.setenv("MOVIEREC_ENCODER_DIR", str(with_newcomer_network / "data"))
    from movierec import artifacts

    loaded_from, load = [], artifacts.load
    monkeypatch.setattr(artifacts, "load", lambda name, *folders: loaded_from.append(folders) or load(name, *folders))
    newcomers = artifacts.newcomer_folders("autointp", with_newcomer_network / "model")
    at = run_page("show_st_plus.py")
    newcomer_note = "its network for newcomers"
    assert not at.exception and newcomer_note in shown_text(at)
    assert loaded_from == [tuple(map(str, newcomers))]  # the newcomer set alone: the shipped one is not needed yet
    liked = int(ml1m.movies["movie_id"].iloc[3])
    at.selectbox(key="search").set_value(liked).run()
    at.feedback(key="search_stars").set_value(4).run()
    assert not at.exception and liked not in set(picks(at)["movie_id"]) and len(picks(at)) == 10
    at.radio(key="mode").set_value("A MovieLens user").run()
    assert not at.exception and newcomer_note not in shown_text(at) and len(picks(at)) == 10
    assert loaded_from[1:] == [(str(with_newcomer_network / "model"), str(with_newcomer_network / "data"))]
    # a newcomer set that is not the one the manifest names is a message with the fix, not a traceback

    newcomer_manifest = artifacts.manifest_path("autointp", artifacts.newcomer_folders(
        "autointp", with_newcomer_network / "model")[0])  # fmt: skip
    saved = newcomer_manifest.read_text()
    try:
        other = json.loads(saved)
        other["weights"]["sha256"] = "0" * 64
        newcomer_manifest.write_text(json.dumps(other))
        at = run_page("show_st_plus.py")
        assert not at.exception and "names other weights than the newcomer network" in at.error[0].value
        assert "git checkout -- model/" in at.code[0].value and "--apply-newuser-choice" in at.code[0].value
    finally:
        newcomer_manifest.write_text(saved)


def test_an_empty_list_says_why(app_env, ml1m):
    at = run_page("show_st_plus.py")
    movies = ml1m.movies.dropna(subset=["year"])
    decade = movies["year"].astype(int) // 10 * 10
    genres = sorted(set("|".join(movies["genres"]).split("|")) - {""})
    # A genre and a decade that both exist, with no movie of that genre from that decade.
    genre, empty = next((g, d) for g in genres for d in sorted(set(decade))
                        if not (movies["genres"].str.contains(g, regex=False) & (decade == d)).any())  # fmt: skip
    at.multiselect(key="genres").select(genre).run()
    at.multiselect(key="decades").select(int(empty)).run()
    assert not at.exception
    said = at.info[0].value.replace("\\", "")
    assert f"MovieLens has no {genre} movie from the {empty}s. Widen the genres or decades." in said


@pytest.mark.parametrize("page", list(PAGES))
def test_a_visitor_with_an_unseen_zip_code(app_env, page):
    at = run_page(page)
    at.text_input(key="zip").input("00404").run()
    at.selectbox(key="occupation").set_value("farmer").run()
    assert not at.exception and not at.error
    assert len(picks(at)) == 10
    assert "You" in shown_text(at) and "zip 00404" in shown_text(at)
    assert "No training user had zip code 00404" in shown_text(at)


@pytest.mark.parametrize("typed", ["1234", "abcde", "12 45"])
def test_a_zip_code_that_is_not_five_digits_is_refused_and_the_page_still_ranks(app_env, typed):
    at = run_page("show_st_plus.py")
    at.text_input(key="zip").input(typed).run()
    assert not at.exception
    assert "is not a zip code (5 digits" in at.error[0].value.replace("\\", "")
    assert len(picks(at)) == 10
    assert "no zip code" in shown_text(at)


def test_heat_map_labels_are_unique_and_readable():
    from movierec.app import heatmap_labels
    from movierec.features import FIELDS

    values = ["new user", "Toy Story (1995)", "decade 1990s", "released 1995", "in 2000", "month 12", "the 2000s",
              "genre Animation", "genre no", "genre no", "female", "age 25-34", "programmer", "zip 12345"]  # fmt: skip
    labels = heatmap_labels(values, FIELDS)
    assert len(set(labels)) == len(FIELDS)
    assert "2nd genre: none" in labels and "3rd genre: none" in labels and "1st genre: Animation" in labels


def test_markdown_in_typed_text_is_shown_as_typed():
    from movierec.app import markdown_text

    assert markdown_text("*a* _b_ [c](d) <e> #f") == r"\*a\* \_b\_ \[c\]\(d\) \<e\> \#f"


@pytest.mark.parametrize("page", list(PAGES))
def test_missing_artifacts_show_the_fixing_command(monkeypatch, ml1m_dir, tmp_path, page):
    monkeypatch.setenv("MOVIELENS_DIR", str(ml1m_dir))
    monkeypatch.setenv("MOVIEREC_MODEL_DIR", str(tmp_path / "nowhere"))
    at = run_page(page)
    assert not at.exception
    assert "could not be loaded" in at.error[0].value
    assert f"python -m movierec.train --model {PAGES[page]}" in at.code[0].value


def test_missing_data_shows_the_fixing_command(monkeypatch, tmp_path, tiny_artifacts):
    monkeypatch.setenv("MOVIELENS_DIR", str(tmp_path / "empty"))
    monkeypatch.setenv("MOVIEREC_MODEL_DIR", str(tiny_artifacts / "model"))
    monkeypatch.setenv("MOVIEREC_ENCODER_DIR", str(tiny_artifacts / "data"))
    at = run_page("show_st_plus.py")
    assert not at.exception
    assert "MovieLens 1M is not available" in at.error[0].value
    assert "MOVIELENS_DIR" in at.code[0].value


def free_port() -> int:
    """A port on this machine with nothing listening on it (for now)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_an_offline_first_run_says_so_and_how_to_fix_it(monkeypatch, tmp_path, tiny_artifacts):
    from movierec import data

    port = free_port()  # nothing listens there: the download fails at once
    official = data.RELEASES["ml-1m"]
    offline = data.Release(official.name, f"http://127.0.0.1:{port}/ml-1m.zip", official.md5, official.files)
    monkeypatch.setitem(data.RELEASES, "ml-1m", offline)
    monkeypatch.setenv("MOVIEREC_MODEL_DIR", str(tiny_artifacts / "model"))
    monkeypatch.setenv("MOVIEREC_ENCODER_DIR", str(tiny_artifacts / "data"))
    at = run_page("show_st_plus.py")
    assert not at.exception
    assert "first run without network access" in at.error[0].value
    assert "MOVIELENS_DIR" in at.code[0].value
    assert not at.get("progress"), "a failed download must not leave its progress bar behind"


def test_pages_are_thin():
    for page in PAGES:
        code = [line for line in (ROOT / page).read_text().splitlines()[1:] if line.strip()]  # after the docstring
        assert len(code) <= 6, f"{page} should only draw the shared page and define the server's st.App"


def test_an_empty_list_of_a_movielens_user_says_they_rated_everything_that_matches(ml1m, prepared):
    from movierec import models
    from movierec.app import empty_reason
    from movierec.recommend import Recommender

    rec = Recommender(models.create("autoint", prepared.encoder.vocab_sizes, embedding_dim=4, attention_layers=1),
                      prepared.encoder, ml1m)  # fmt: skip
    movies = ml1m.movies.dropna(subset=["year"]).assign(decade=lambda f: f["year"].astype(int) // 10 * 10)
    rated = ml1m.ratings.groupby("user_id")["movie_id"].apply(set)
    for genre in rec.genres:
        for decade, group in movies[movies["genres"].str.contains(genre, regex=False)].groupby("decade"):
            fans = [u for u, seen in rated.items() if set(group["movie_id"]) <= seen]
            if fans:
                profile = rec.profile(int(fans[0]))
                assert rec.rank(profile, *rec.latest, genres=[genre], decades=[int(decade)]).empty
                said = empty_reason(rec, profile, [genre], [int(decade)])
                assert said == f"User {fans[0]} has rated every {genre} movie from the {decade}s in MovieLens. " \
                               "Widen the genres or decades."
                return
    pytest.fail("the fixture has no user who rated every movie of some genre and decade")


@pytest.mark.parametrize("page", list(PAGES))
def test_the_attention_heat_map_is_drawn_on_request(app_env, page):
    at = run_page(page)
    assert not any("First interacting layer" in c.value for c in at.caption)
    at.toggle(key="heatmap").set_value(True).run()
    assert not at.exception and any("First interacting layer" in c.value for c in at.caption)
    at.selectbox(key="explain").set_value(int(picks(at)["movie_id"].iloc[2])).run()
    assert not at.exception and not at.error


def test_the_taste_profile_is_drawn_on_request(app_env, ml1m):
    at = run_page("show_st_plus.py")
    assert not at.dataframe and not any("Rated 4 or 5" in c.value for c in at.caption)
    at.toggle(key="taste").set_value(True).run()
    assert not at.exception and any("Nothing rated 4 or 5 yet" in c.value for c in at.caption)
    at.radio(key="mode").set_value("A MovieLens user").run()
    at.selectbox(key="user").set_value(3).run()
    assert not at.exception
    liked = ml1m.ratings[(ml1m.ratings["user_id"] == 3) & (ml1m.ratings["rating"] >= 4)]
    assert any(f"Rated 4 or 5: {len(liked)} movies" in c.value for c in at.caption)  # the toggle stayed on
    assert len(at.dataframe[0].value) == len(liked)


def test_streamlit_no_longer_clears_the_keras_session_after_each_run(monkeypatch):
    """Streamlit clears Keras' session after every run, which empties TensorFlow's kernel cache (0.3 s per rerun)."""
    import keras
    from streamlit.runtime.scriptrunner import script_runner

    from movierec.app import keep_keras_session

    monkeypatch.setattr(keras.backend, "clear_session", keras.backend.clear_session)  # restored afterwards

    keep_keras_session()
    keep_keras_session()  # twice is once
    keras.layers.Dense(1)
    script_runner._clean_problem_modules()  # what Streamlit runs after each run of a page
    assert keras.layers.Dense(1).name != "dense"  # the layer-name counter survived: nothing was cleared
    keras.backend.clear_session()  # anyone else still clears it
    assert keras.layers.Dense(1).name == "dense"


def test_a_match_share_is_rounded_down_so_100_percent_means_the_top():
    from movierec.app import match_text

    assert match_text(1.0) == "100.0%"
    assert match_text(3872 / 3873) == "99.9%"  # 99.97%: in the top 0.1%, not the top itself
    assert match_text(0.5) == "50.0%" and match_text(0.0) == "0.0%"


def test_preloading_loads_what_the_first_visit_reads_so_the_page_loads_nothing(
    monkeypatch, ml1m_dir, with_newcomer_network
):
    """What ``streamlit run``'s server does before anyone visits (movierec/server.py) serves the first page.

    With a network for newcomers in service, the first visitor is a newcomer:
    preloading must load that set, not the shipped one, or the page loads again.
    """
    from movierec import app, artifacts, recommend

    monkeypatch.setenv("MOVIELENS_DIR", str(ml1m_dir))
    monkeypatch.setenv("MOVIEREC_MODEL_DIR", str(with_newcomer_network / "model"))
    monkeypatch.setenv("MOVIEREC_ENCODER_DIR", str(with_newcomer_network / "data"))
    built, loaded_from, load = [], [], artifacts.load
    real_init = recommend.Recommender.__init__
    monkeypatch.setattr(recommend.Recommender, "__init__",
                        lambda self, *a, **k: built.append(a[0]) or real_init(self, *a, **k))  # fmt: skip
    monkeypatch.setattr(artifacts, "load", lambda name, *folders: loaded_from.append(folders) or load(name, *folders))
    app.load_recommender.clear()
    assert app.preload("autointp") and len(built) == 1
    assert loaded_from == [tuple(map(str, artifacts.newcomer_folders("autointp", with_newcomer_network / "model")))]
    at = run_page("show_st_plus.py")
    assert not at.exception and not at.error and len(picks(at)) == 10
    assert "its network for newcomers" in shown_text(at)
    assert len(built) == 1 and len(loaded_from) == 1  # the page found the preloaded recommender in the cache


def test_a_visit_during_preloading_waits_for_it_instead_of_loading_again(app_env, monkeypatch):
    """The page's cached loader waits for the load the server's thread has under way (movierec/server.py)."""
    import threading
    import time

    from movierec import app, recommend, server

    entered, arrived, release, built = threading.Event(), threading.Event(), threading.Event(), []
    real_init, real_load = recommend.Recommender.__init__, app.load_recommender

    def slow_init(self, *args, **kwargs):
        built.append(threading.current_thread().name)
        entered.set()
        release.wait(60)  # the model is still loading when the visitor arrives
        real_init(self, *args, **kwargs)

    def page_loads(*args):
        if not threading.current_thread().name.startswith(server.THREAD_PREFIX):
            arrived.set()  # the visit asks for the model the preloading thread is still building
        return real_load(*args)

    def release_after_the_visit_arrives():
        arrived.wait(60)
        time.sleep(0.3)  # the visit is inside the cached loader by now: waiting, or building a second one
        release.set()

    monkeypatch.setattr(recommend.Recommender, "__init__", slow_init)
    monkeypatch.setattr(app, "load_recommender", page_loads)
    real_load.clear()
    thread = server.preload_in_background("autointp")
    assert entered.wait(60)
    threading.Thread(target=release_after_the_visit_arrives, daemon=True).start()
    at = run_page("show_st_plus.py")
    thread.join(60)
    assert arrived.is_set() and not at.exception and not at.error and len(picks(at)) == 10
    assert built == [f"{server.THREAD_PREFIX}-autointp"]  # built once, by the preloading thread


def test_a_failed_preload_leaves_the_visit_its_usual_message_and_fix(monkeypatch, ml1m_dir, tmp_path, caplog):
    import logging

    from movierec import server

    monkeypatch.setenv("MOVIELENS_DIR", str(ml1m_dir))
    monkeypatch.setenv("MOVIEREC_MODEL_DIR", str(tmp_path / "nowhere"))
    monkeypatch.setattr(server.LOG, "propagate", True)  # Streamlit's loggers print to the console only
    with caplog.at_level(logging.WARNING, logger=server.LOG.name):
        server.preload("autointp")  # logged, not raised, and not cached
    assert "ahead of the first visit failed" in caplog.text and "PageError" in caplog.text
    at = run_page("show_st_plus.py")
    assert not at.exception and "could not be loaded" in at.error[0].value
    assert "python -m movierec.train --model autointp" in at.code[0].value


@pytest.mark.parametrize("page", list(PAGES))
def test_streamlit_run_loads_the_model_before_anyone_visits(app_env, page):
    """The real server, started as the README starts it: its log says the model loaded, with no browser."""
    import subprocess
    import sys
    import threading
    import time
    import urllib.request

    port = free_port()
    command = [sys.executable, "-m", "streamlit", "run", page, "--server.headless", "true",
               "--server.address", "127.0.0.1", "--server.port", str(port)]  # fmt: skip
    server = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines, said = [], threading.Event()

    def read_log():  # in a thread: a server that hangs silently fails the test at the deadline, not never
        for line in server.stdout:
            lines.append(line)
            if "ahead of the first visit" in line:
                said.set()

    threading.Thread(target=read_log, daemon=True).start()
    try:
        deadline = time.monotonic() + 240
        while not said.wait(0.5) and server.poll() is None and time.monotonic() < deadline:
            pass  # a server that dies (a port taken, an import error) ends the wait at once
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=30) as health:
            answer = health.read().decode()
    finally:
        server.terminate()
        try:
            server.wait(60)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(60)
        server.stdout.close()
    log = "".join(lines)
    assert f"{PAGES[page]} loaded ahead of the first visit in" in log, log[-3000:]
    assert answer == "ok" and "Traceback" not in log


def test_preloading_never_downloads_movielens(monkeypatch, tmp_path, tiny_artifacts):
    """Without a copy on disk, preloading stops: the visit downloads it where a progress bar can be seen."""
    from movierec import app

    monkeypatch.delenv("MOVIELENS_DIR", raising=False)
    monkeypatch.setenv("MOVIELENS_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.setenv("MOVIEREC_MODEL_DIR", str(tiny_artifacts / "model"))
    monkeypatch.setenv("MOVIEREC_ENCODER_DIR", str(tiny_artifacts / "data"))
    monkeypatch.setattr(app.data, "fetch", lambda *a, **k: pytest.fail("preloading must not download"))
    assert app.preload("autointp") is False
