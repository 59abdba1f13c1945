"""Both Streamlit pages through streamlit.testing.v1.AppTest, on fixture data and tiny artifacts."""

import json
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from movierec.cli import train

ROOT = Path(__file__).resolve().parent.parent
PAGES = {"show_st.py": "autoint", "show_st_plus.py": "autointp"}
TINY = '{"embedding_dim": 4, "attention_layers": 1, "num_heads": 2, "attention_dim": 2, "dnn_units": [8]}'


@pytest.fixture(scope="module")
def tiny_artifacts(tmp_path_factory, ml1m_dir):
    root = tmp_path_factory.mktemp("app-artifacts")
    for name in PAGES.values():
        # The AutoInt+ page reads a history (attention-pooled) and an EASE prior, the AutoInt page neither: both
        # paths go through the app.
        stacked = ', "history_length": 10, "history_pooling": "attention", "ease_l2": 50.0}'
        hyper = (TINY.replace("}", stacked) if name == "autointp"
                 else TINY.replace(', "dnn_units": [8]', ""))  # fmt: skip
        train.main(["--model", name, "--data-dir", str(ml1m_dir), "--no-download", "--model-dir", str(root / "model"),
                    "--encoder-dir", str(root / "data"), "--epochs", "2", "--batch-size", "256", "--no-refit",
                    "--no-full-ranking", "--hyperparameters", hyper, "--quiet"])  # fmt: skip
    manifest = json.loads((root / "model" / "autointp.manifest.json").read_text())
    assert manifest["config"]["history_length"] == 10 and manifest["config"]["ease_l2"] == 50.0
    return root


@pytest.fixture
def app_env(monkeypatch, ml1m_dir, tiny_artifacts):
    monkeypatch.setenv("MOVIELENS_DIR", str(ml1m_dir))
    monkeypatch.setenv("MOVIEREC_MODEL_DIR", str(tiny_artifacts / "model"))
    monkeypatch.setenv("MOVIEREC_ENCODER_DIR", str(tiny_artifacts / "data"))


def run_page(page: str) -> AppTest:
    return AppTest.from_file(str(ROOT / page), default_timeout=120).run()


def table_with(at: AppTest, column: str) -> pd.DataFrame:
    """The shown table that has ``column`` (AppTest does not expose dataframe keys)."""
    return next(df.value for df in at.dataframe if column in df.value.columns)


def recommendations(at: AppTest) -> pd.DataFrame:
    return table_with(at, "rank")


def rated_titles(ml1m, user_id: int) -> set[str]:
    rated = ml1m.ratings.loc[ml1m.ratings["user_id"] == user_id, "movie_id"]
    return set(ml1m.movies.loc[ml1m.movies["movie_id"].isin(rated), "title"])


@pytest.mark.parametrize("page", list(PAGES))
def test_default_run_shows_ten_unseen_movies(app_env, ml1m, page):
    at = run_page(page)
    assert not at.exception
    assert not at.error
    top = recommendations(at)
    assert len(top) == 10
    assert top["rank"].tolist() == list(range(1, 11))
    assert top["score"].is_monotonic_decreasing
    user = at.selectbox(key="user").value
    assert not set(top["title"]) & rated_titles(ml1m, user), "a rated movie was recommended"
    assert table_with(at, "rating")["rating"].min() >= 4
    assert "Strongest field pairs" in " ".join(m.value for m in at.markdown)


@pytest.mark.parametrize("page", list(PAGES))
def test_every_control_reruns_and_changes_the_list(app_env, ml1m, page):
    at = run_page(page)
    before = recommendations(at)

    at.selectbox(key="user").set_value(7).run()
    assert not at.exception
    after_user = recommendations(at)
    assert not after_user.equals(before)
    assert not set(after_user["title"]) & rated_titles(ml1m, 7)

    at.selectbox(key="year").set_value(2000).run()
    assert not at.exception
    after_year = recommendations(at)
    assert not after_year.equals(after_user)  # the context fields move the scores

    at.selectbox(key="month").set_value(6).run()
    assert not at.exception
    assert not recommendations(at).equals(after_year)

    at.slider(key="n").set_value(25).run()
    assert not at.exception
    assert len(recommendations(at)) == 25

    at.multiselect(key="genres").select("Comedy").run()
    assert not at.exception
    filtered = recommendations(at)
    assert filtered["genres"].str.contains("Comedy").all()

    at.multiselect(key="decades").select(1990).run()
    assert not at.exception
    assert recommendations(at)["year"].between(1990, 1999).all()


@pytest.mark.parametrize("page", list(PAGES))
def test_new_profile_with_an_unseen_zip_code(app_env, page):
    at = run_page(page)
    at.radio(key="mode").set_value("New profile").run()
    at.text_input(key="zip").input("00404").run()
    at.selectbox(key="occupation").set_value("farmer").run()
    assert not at.exception and not at.error
    top = recommendations(at)
    assert len(top) == 10
    assert "A new visitor" in " ".join(m.value for m in at.markdown)
    assert "zip 00404" in " ".join(m.value for m in at.markdown)
    assert "No training user had zip code 00404" in " ".join(c.value for c in at.caption)


@pytest.mark.parametrize("typed", ["ZZ-40", "1234", "*bold"])
def test_a_zip_code_that_is_not_five_digits_is_refused_and_the_page_still_ranks(app_env, typed):
    at = run_page("show_st_plus.py")
    at.radio(key="mode").set_value("New profile").run()
    at.text_input(key="zip").input(typed).run()
    assert not at.exception
    assert "is not a zip code (5 digits" in at.error[0].value
    assert len(recommendations(at)) == 10
    assert "no zip code" in " ".join(m.value for m in at.markdown)


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


def test_an_offline_first_run_says_so_and_how_to_fix_it(monkeypatch, tmp_path, tiny_artifacts):
    import socket

    from movierec import data

    with socket.socket() as probe:  # a port on this machine with nothing listening: the download fails at once
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
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
        code = [line for line in (ROOT / page).read_text().splitlines() if line.strip()]
        assert len(code) <= 5, f"{page} should only call the shared app body"
