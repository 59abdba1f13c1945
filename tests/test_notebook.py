"""model_training.ipynb runs top to bottom, headless, and writes artifacts the app can rank with."""

import json
from pathlib import Path

import nbformat
import papermill
import pytest

from movierec import artifacts
from movierec.recommend import Recommender

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "model_training.ipynb"


def test_notebook_has_a_tagged_parameters_cell_with_the_documented_knobs():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    tagged = [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    for name in ("data_dir", "models", "epochs", "tuner_trials", "model_dir", "encoder_dir", "tuning_dir", "smoke"):
        assert f"{name} =" in tagged[0].source


def test_notebook_reads_the_test_part_only_after_the_choice():
    """Selection cells use validation metrics; the one test evaluation comes after the last selection."""
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    code = [c.source for c in notebook.cells if c.cell_type == "code"]
    choosing = [i for i, source in enumerate(code) if "select(" in source]
    testing = [i for i, source in enumerate(code) if "finish(" in source]
    assert choosing and testing and max(choosing) < min(testing)
    assert all(".evaluation" not in code[i] and "evaluate_baselines(prepared)" not in code[i] for i in choosing)


def test_notebook_defines_no_models_metrics_or_training_loops():
    """The notebook narrates and calls the package; the code lives in movierec/ and the model modules."""
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    code = "\n".join(c.source for c in notebook.cells if c.cell_type == "code")
    for forbidden in ("class ", "keras.layers", "GradientTape", "model.fit(", "roc_auc_score", "def ndcg"):
        assert forbidden not in code, forbidden


@pytest.fixture(scope="module")
def executed(tmp_path_factory, ml1m_dir):
    out = tmp_path_factory.mktemp("notebook")
    parameters = dict(data_dir=str(ml1m_dir), smoke=True, epochs=2, tuner_trials=2, tuner_epochs=1,
                      model_dir=str(out / "model"), encoder_dir=str(out / "data"),
                      tuning_dir=str(out / "tuning"))  # fmt: skip
    papermill.execute_notebook(
        str(NOTEBOOK), str(out / "executed.ipynb"), parameters=parameters, cwd=str(ROOT), progress_bar=False
    )
    return out


def test_notebook_runs_headless_and_its_artifacts_load_in_the_recommender(executed, ml1m):
    notebook = nbformat.read(executed / "executed.ipynb", as_version=4)
    errors = [o for c in notebook.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
    for name in ("autoint", "autointp"):
        model, encoder, manifest = artifacts.load(name, executed / "model", executed / "data")
        assert manifest["data"]["fingerprint"] == ml1m.fingerprint()
        recommender = Recommender(model, encoder, ml1m, manifest)
        profile = recommender.profile(int(ml1m.users["user_id"].iloc[0]))
        top = recommender.rank(profile, *recommender.latest, n=5)
        rated = recommender.movies["movie_id"].iloc[recommender.rated_positions(profile)]
        assert len(top) == 5 and not set(top["movie_id"]) & set(rated)


def test_notebook_exports_the_tuning_results_and_shows_the_plots(executed):
    rows = (executed / "tuning" / "autointp" / "results.csv").read_text().splitlines()
    assert len(rows) == 3  # header + two trials
    assert "val_seed_ndcg@10" in rows[0]
    notebook = nbformat.read(executed / "executed.ipynb", as_version=4)
    images = [o for c in notebook.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert len(images) == 2  # training curves and the tuning heat maps
    assert json.loads(json.dumps(notebook.metadata["papermill"]["parameters"]))["smoke"] is True
