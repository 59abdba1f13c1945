"""The command-line tools end to end on the fixture data: train -> save -> load -> evaluate."""

import json
import re
import shutil

import pytest
from conftest import TINY
from model_fixtures import serve_newcomers_with

from movierec.cli import evaluate, recommend, train, tune


def test_training_writes_the_three_artifacts(trained):
    root, result = trained
    manifest = json.loads((root / "model" / "autointp.manifest.json").read_text())
    assert [p.name for p in (root / "model").glob("autointp-*.weights.h5")] == [manifest["weights"]["file"]]
    assert len(list((root / "data").glob("autointp-*.encoder.json"))) == 1
    assert manifest["class"] == "AutoIntPlus"
    assert manifest["config"]["embedding_dim"] == 4
    assert manifest["evaluation"] == result
    assert 0 <= manifest["validation"]["full_ndcg@10"] <= 1  # measured on validation before the refit
    assert manifest["training"]["epochs_run"] == 2
    assert manifest["training"]["refitted"]["epochs"] in (1, 2)  # retrained on train + validation
    assert len(manifest["data"]["fingerprint"]) == 64
    assert not list((root / "model").glob(".*tmp*")), "temporary files left behind"
    for key in ("auc", "logloss", "seed_ndcg@10", "seed_hr@10", "full_ndcg@10", "full_hit@10"):
        assert 0 <= result[key] <= 10


def test_loaded_model_reproduces_the_saved_evaluation(trained, ml1m_dir, tmp_path):
    root, result = trained
    out = tmp_path / "results.json"
    payload = evaluate.main(
        ["--model", "autointp", "--data-dir", str(ml1m_dir), "--no-download", "--model-dir", str(root / "model"),
         "--encoder-dir", str(root / "data"), "--out", str(out)]
    )  # fmt: skip
    saved = json.loads(out.read_text())
    assert saved == json.loads(json.dumps(payload))
    for key in ("auc", "logloss", "seed_ndcg@10", "seed_hr@10", "full_ndcg@10", "full_hit@10"):
        assert saved[key] == pytest.approx(result[key], abs=1e-6)
    for name in ("popularity", "movie_mean"):
        assert {"auc", "seed_ndcg@10", "seed_hr@10", "full_ndcg@10", "full_hit@10"} <= set(saved["baselines"][name])


def test_training_records_the_sample_peoples_ranking_and_record_sample_restores_it_only_if_everyone_reproduces(
    trained, ml1m_dir, tmp_path, capsys
):
    from movierec import artifacts, data, evaluation
    from movierec.prepared import prepare

    root = tmp_path / "set"
    shutil.copytree(trained[0], root)
    path = root / "model" / "autointp.manifest.json"
    manifest = json.loads(path.read_text())
    recorded = manifest["evaluation"]
    sample = {key: recorded[key] for key in recorded if key.startswith("full_sample_")}
    assert set(sample) == {"full_sample_ndcg@10", "full_sample_hit@10", "full_sample_users"}
    assert 0 < sample["full_sample_users"] < recorded["full_users"]
    argv = ["--model", "autointp", "--data-dir", str(ml1m_dir), "--no-download", "--model-dir", str(root / "model"),
            "--encoder-dir", str(root / "data"), "--quiet"]  # fmt: skip
    # The sample alone, ranked anew, gives what training recorded (ranked with everyone).
    model, encoder, _ = artifacts.load("autointp", root / "model", root / "data")
    prepared = prepare(data.load("ml-1m", ml1m_dir, download=False), encoder=encoder)
    alone = evaluation.evaluate_model(model, prepared, sample_only=True)
    assert "full_ndcg@10" not in alone
    assert {key: alone[key] for key in sample} == pytest.approx(sample, abs=1e-9)
    # A set saved before the sample was recorded gets it back.
    manifest["evaluation"] = {k: v for k, v in recorded.items() if k not in sample}
    path.write_text(json.dumps(manifest))
    written = evaluate.main([*argv, "--record-sample"])
    assert json.loads(path.read_text())["evaluation"] == written["evaluation"]
    assert written["evaluation"] == pytest.approx(recorded, abs=1e-9)
    # A manifest whose numbers the model no longer gives gets nothing.
    manifest["evaluation"] = {**manifest["evaluation"], "full_ndcg@10": recorded["full_ndcg@10"] + 0.01}
    path.write_text(json.dumps(manifest))
    before = path.read_bytes()
    with pytest.raises(SystemExit):
        evaluate.main([*argv, "--record-sample"])
    assert "no longer gives its manifest's numbers (full_ndcg@10" in capsys.readouterr().err
    assert path.read_bytes() == before
    assert evaluation.SAMPLE_EVERY == 8  # the README and the option's help say "a multiple of 8"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--out", "x.json"], "--record-sample only writes into the shipped manifest"),
        (["--no-full-ranking"], "--record-sample only writes into the shipped manifest"),
        (["--choose-ranking-rule"], "give --choose-ranking-rule and --record-sample one at a time"),
        (["--allow-other-data"], "--allow-other-data does not go with it"),
    ],
)
def test_record_sample_refuses_options_that_do_not_fit_it(trained, ml1m_dir, extra, message, capsys):
    root = trained[0]
    path = root / "model" / "autointp.manifest.json"
    before = path.read_bytes()
    with pytest.raises(SystemExit):
        evaluate.main(["--model", "autointp", "--data-dir", str(ml1m_dir), "--no-download", "--record-sample",
                       "--model-dir", str(root / "model"), "--encoder-dir", str(root / "data"), *extra])  # fmt: skip
    assert message in capsys.readouterr().err
    assert path.read_bytes() == before


def test_evaluate_refuses_data_the_model_was_not_trained_on(trained, tmp_path, capsys):
    from movielens_fixtures import write_ml1m

    root, _ = trained
    other = write_ml1m(tmp_path / "ml-1m", seed=5)
    with pytest.raises(SystemExit):
        evaluate.main(["--model", "autointp", "--data-dir", str(other), "--model-dir", str(root / "model"),
                       "--encoder-dir", str(root / "data")])  # fmt: skip
    assert "not the data autointp was trained on" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("tool", "argv", "message"),
    [
        (train, ["--epochs", "0"], "argument --epochs: must be a whole number >= 1, got '0'"),
        (train, ["--learning-rate", "-1"], "learning_rate must be positive"),
        (train, ["--negatives", "-2"], "negatives must be >= 0"),
        (train, ["--oov-rate", "1.5"], "oov_rate must be in"),
        (train, ["--hyperparameters", "[1]"], "argument --hyperparameters: must be a JSON object"),
        (train, ["--hyperparameters", "{bad"], "argument --hyperparameters: not valid JSON"),
        (train, ["--model", "deepfm"], "argument --model: invalid choice: 'deepfm'"),
        (train, ["--epochs", "three"], "argument --epochs: must be a whole number >= 1, got 'three'"),
        (train, ["--data-dir", ""], "data_dir='' is blank"),
        (evaluate, ["--model-dir", "/nonexistent/models"], "manifest /nonexistent/models/autointp.manifest.json does"),
        (evaluate, ["--data-dir", "/nonexistent/data"], "does not hold MovieLens ml-1m"),
        (tune, ["--data-dir", "/nonexistent/data", "--trials", "1"], "does not hold MovieLens ml-1m"),
    ],
    ids=["epochs", "learning-rate", "negatives", "oov-rate", "hyperparameters", "bad-json", "model", "epochs-text",
         "blank-data-dir", "no-artifacts",
         "no-data", "tune-no-data"],
)
def test_bad_arguments_and_data_end_in_one_line_and_status_two(tool, argv, message, ml1m_dir, capsys):
    base = [] if "--data-dir" in argv else ["--data-dir", str(ml1m_dir)]
    with pytest.raises(SystemExit) as stopped:
        tool.main([*base, "--no-download", *argv])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    assert re.search(message, err), err


def test_debug_shows_the_traceback(ml1m_dir):
    with pytest.raises(ValueError, match="learning_rate must be positive"):
        train.main(["--data-dir", str(ml1m_dir), "--no-download", "--learning-rate", "-1", "--debug"])


def test_a_protocol_run_refuses_zero_epochs(ml1m_dir, capsys):
    with pytest.raises(SystemExit) as stopped:
        evaluate.main(["--protocol", "temporal", "--epochs", "0", "--data-dir", str(ml1m_dir), "--no-download"])
    assert stopped.value.code == 2
    assert "argument --epochs: must be a whole number >= 1" in capsys.readouterr().err


# ------------------------------------------------------------------ recommend


@pytest.fixture(scope="module")
def stacked_artifacts(tmp_path_factory, ml1m_dir):
    """A tiny AutoInt+ with an attention-pooled history and an EASE prior, trained by the training CLI."""
    root = tmp_path_factory.mktemp("stacked")
    hyper = ('{"embedding_dim": 4, "attention_layers": 1, "num_heads": 2, "attention_dim": 2, "dnn_units": [8], '
             '"history_length": 10, "history_pooling": "attention", "ease_l2": 50.0}')  # fmt: skip
    train.main(["--model", "autointp", "--data-dir", str(ml1m_dir), "--no-download", "--model-dir", str(root),
                "--encoder-dir", str(root), "--epochs", "1", "--batch-size", "256", "--no-refit", "--no-full-ranking",
                "--hyperparameters", hyper, "--quiet"])  # fmt: skip
    return ["--data-dir", str(ml1m_dir), "--no-download", "--model-dir", str(root), "--encoder-dir", str(root)]


def test_recommend_prints_the_top_n_for_a_new_persons_ratings_with_the_liked_movies_behind_each(
    stacked_artifacts, ml1m, capsys
):
    liked, disliked = [int(m) for m in ml1m.movies["movie_id"].head(2)]
    picks = recommend.main([*stacked_artifacts, "--rated", f"{liked}:5,{disliked}:1", "--n", "7", "--json"])
    printed = json.loads(capsys.readouterr().out)
    assert printed == picks and len(picks) == 7
    assert [set(p) for p in picks] == [{"movie_id", "title", "score", "match", "because"}] * 7
    assert not {liked, disliked} & {p["movie_id"] for p in picks}  # rated movies are never recommended
    # Only the liked movie can be a reason (never the one-star one), where its share of the score is positive.
    assert all(p["because"] in ([liked], []) for p in picks) and any(p["because"] for p in picks)
    assert [p["score"] for p in picks] == sorted((p["score"] for p in picks), reverse=True)
    assert [p["match"] for p in picks] == sorted((p["match"] for p in picks), reverse=True)
    assert all(0 < p["match"] <= 1 for p in picks) and picks[0]["match"] == 1.0  # the top pick scores highest
    from movierec.recommend import readable_title

    movies = ml1m.movies.set_index("movie_id")
    ids = [p["movie_id"] for p in picks]
    expected = [f"{readable_title(movies.at[m, 'title'])} ({movies.at[m, 'year']})" for m in ids]
    assert [p["title"] for p in picks] == expected
    recommend.main([*stacked_artifacts, "--rated", f"{liked}:5", "--n", "3", "--user", "3"])
    text = capsys.readouterr().out
    assert text.startswith("Top 3 for user 3 (") and "1 ratings given here" in text
    assert text.count("because you liked") >= 1
    assert "  1. 100.0% match  " in text  # the match, as the page shows it, not a saturated probability


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--rated", "260:7"], "argument --rated: stars are 1 to 5, got '260:7'"),
        (["--rated", "Star Wars"], "argument --rated: each rating is movie_id:stars, such as 260:5"),
        (["--rated", ","], "argument --rated: give at least one movie_id:stars"),
        (["--rated", "999999:5"], "movie 999999 is not in ml-1m"),
        (["--user", "999999"], "user 999999 is not in ml-1m"),
        (["--rated", "260:5,260:1"], "argument --rated: movie 260 is rated twice"),
        (["--n", "0"], "argument --n: must be a whole number >= 1"),
        (["--n", "501"], "argument --n: at most 500 movies, got 501"),
        (["--age", "30"], "argument --age: invalid choice: 30"),
        (["--occupation", "astronaut"], "argument --occupation: invalid choice: 'astronaut'"),
        (["--zip", "1234"], "argument --zip: a zip code is 5 digits"),
        (["--month", "13"], "argument --month: invalid choice: 13"),
        (["--month", "0"], "argument --month: invalid choice: 0"),
        (["--user", "3", "--gender", "F"], "--gender describe a new person; a MovieLens user (--user) has their own"),
    ],
    ids=["stars", "format", "empty", "unknown-movie", "unknown-user", "twice", "n", "n-too-many", "age", "occupation",
         "zip", "month", "month-zero", "user-and-person"],
)
def test_recommend_rejects_bad_input_in_one_line(stacked_artifacts, argv, message, capsys):
    with pytest.raises(SystemExit) as stopped:
        recommend.main([*stacked_artifacts, *argv])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and message in err, err
    assert "Error:" not in err  # a usage error, said plainly, not an exception's name


def test_recommend_serves_a_new_person_by_the_newcomer_network_when_the_model_has_one(
    stacked_artifacts, ml1m, tmp_path, monkeypatch, capsys
):
    import shutil

    from movierec import artifacts

    root = tmp_path / "sets"
    shutil.copytree(stacked_artifacts[stacked_artifacts.index("--model-dir") + 1], root)
    record = serve_newcomers_with(root, *artifacts.load("autointp", root, root)[:2])
    loaded_from, load = [], artifacts.load
    monkeypatch.setattr(artifacts, "load", lambda name, *folders: loaded_from.append(folders) or load(name, *folders))
    argv = ["--data-dir", stacked_artifacts[1], "--no-download", "--model-dir", str(root), "--encoder-dir", str(root),
            "--rated", f"{int(ml1m.movies['movie_id'].iloc[0])}:5", "--n", "3", "--json"]  # fmt: skip
    recommend.main(argv)
    recommend.main([*argv, "--user", "3"])
    capsys.readouterr()
    assert loaded_from == [(root / record["folder"],) * 2, (root, root)]


def test_python_dash_m_movierec_recommend_is_the_tool():
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "movierec.recommend", "--help"], capture_output=True, text=True,
                          timeout=120, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: python -m movierec.recommend") and "--rated" in done.stdout


# ------------------------------------------------------------------ choosing the ranking rule

STACKED_TINY = json.dumps({**json.loads(TINY), "ease_l2": 50.0})


def _train(ml1m_dir, root, *extra):
    folders = ["--model-dir", str(root / "model"), "--encoder-dir", str(root / "data")]
    train.main(["--model", "autointp", "--data-dir", str(ml1m_dir), "--no-download", *folders, "--epochs", "1",
                "--batch-size", "256", "--quiet", *extra])  # fmt: skip


@pytest.fixture(scope="module")
def shipped_and_fit(tmp_path_factory, ml1m_dir):
    """A refitted tiny stacked AutoInt+ (the 'shipped' one) and a fit of its configuration on train alone."""
    root = tmp_path_factory.mktemp("rule")
    _train(ml1m_dir, root / "shipped", "--hyperparameters", STACKED_TINY)
    _train(ml1m_dir, root / "fit", "--hyperparameters", STACKED_TINY, "--no-refit")
    return root


def _choose(ml1m_dir, root, *extra):
    return evaluate.main(["--model", "autointp", "--data-dir", str(ml1m_dir), "--no-download", "--model-dir",
                          str(root / "model"), "--encoder-dir", str(root / "data"), "--choose-ranking-rule", "--quiet",
                          *extra])  # fmt: skip


@pytest.mark.parametrize("reuse_fit", [True, False], ids=["given fit", "fits one"])
def test_choosing_the_ranking_rule_serves_and_tests_the_shipped_model_with_it(
    shipped_and_fit, ml1m_dir, tmp_path, reuse_fit
):
    from movierec import artifacts, evaluation

    root = tmp_path / "shipped"
    shutil.copytree(shipped_and_fit / "shipped", root)
    before = artifacts.read_manifest(root / "model" / "autointp.manifest.json")
    extra = ["--train-only-fit", str(shipped_and_fit / "fit")] if reuse_fit else []
    result = _choose(ml1m_dir, root, *extra)
    after = artifacts.read_manifest(root / "model" / "autointp.manifest.json")
    note = after["serving"]["ranking"]
    rule = (note["like_exponent"], note["prior_gain"])
    assert evaluation.rule_name(rule) in note["validation"]  # one of the rules tried (a gain may have grown)
    assert (after["config"]["ranking_like_exponent"], after["config"]["ranking_prior_gain"]) == rule
    assert max(v["full_ndcg@10"] for v in note["validation"].values()) == note["validation"][
        evaluation.rule_name(rule)]["full_ndcg@10"]  # fmt: skip
    assert after["weights"] == before["weights"] and note["evaluation_before"] == before["evaluation"]
    assert after["evaluation"] == result["evaluation"]
    # What the manifest now says is what evaluating the shipped set gives.
    again = evaluate.main(["--model", "autointp", "--data-dir", str(ml1m_dir), "--no-download", "--model-dir",
                           str(root / "model"), "--encoder-dir", str(root / "data"), "--quiet"])  # fmt: skip
    for key in ("auc", "full_ndcg@10", "full_hit@10"):
        assert again[key] == pytest.approx(after["evaluation"][key], abs=1e-9), key
    assert again["auc"] == pytest.approx(before["evaluation"]["auc"], abs=1e-9)  # the rule never moves a probability


@pytest.mark.parametrize(
    "chosen_under", [None, [1.0, 2.0], [0.5, 3.0]], ids=["unrecorded (plain product)", "another rule", "the new rule"]
)
def test_a_new_ranking_rule_withdraws_a_newcomer_rescaling_chosen_under_another(
    shipped_and_fit, ml1m_dir, tmp_path, monkeypatch, chosen_under
):
    from movierec import artifacts, evaluation

    monkeypatch.setattr(evaluation, "LIKE_EXPONENTS", (0.5, 0.5))  # one rule, listed twice: (0.5, 3) is chosen
    monkeypatch.setattr(evaluation, "PRIOR_GAINS", (3.0,))
    root = tmp_path / "shipped"
    shutil.copytree(shipped_and_fit / "shipped", root)
    note = {"prior_profile_power": 1.0, "prior_profile_reference": 20.0}
    if chosen_under is not None:
        note["ranking"] = dict(zip(("ranking_like_exponent", "ranking_prior_gain"), chosen_under, strict=True))
    artifacts.update_manifest("autointp", root / "model", config={k: note[k] for k in list(note)[:2]},
                              serving={"newcomers": note})  # fmt: skip
    _choose(ml1m_dir, root, "--train-only-fit", str(shipped_and_fit / "fit"))
    after = artifacts.read_manifest(root / "model" / "autointp.manifest.json")
    assert (after["config"]["ranking_like_exponent"], after["config"]["ranking_prior_gain"]) == (0.5, 3.0)
    if chosen_under != [0.5, 3.0]:  # measured under another rule: served no more, and the old choice kept on record
        assert after["config"]["prior_profile_power"] == 0.0
        withdrawn = after["serving"]["newcomers"]
        assert withdrawn["previous"] == note and "rerun --protocol newuser" in withdrawn["withdrawn"]
    else:
        assert after["config"]["prior_profile_power"] == 1.0 and after["serving"]["newcomers"] == note


def test_a_new_ranking_rule_withdraws_a_newcomer_network_even_at_power_0(shipped_and_fit, ml1m_dir, tmp_path,
                                                                          monkeypatch):  # fmt: skip
    from movierec import artifacts, evaluation

    monkeypatch.setattr(evaluation, "LIKE_EXPONENTS", (0.5, 0.5))  # one rule, listed twice: (0.5, 3) is chosen
    monkeypatch.setattr(evaluation, "PRIOR_GAINS", (3.0,))
    root = tmp_path / "shipped"
    shutil.copytree(shipped_and_fit / "shipped", root)
    serve_newcomers_with(root / "model", *artifacts.load("autointp", root / "model", root / "data")[:2])
    note = artifacts.read_manifest(root / "model" / "autointp.manifest.json")["serving"]["newcomers"]
    assert artifacts.newcomer_folders("autointp", root / "model") is not None  # chosen under the plain product
    _choose(ml1m_dir, root, "--train-only-fit", str(shipped_and_fit / "fit"))
    after = artifacts.read_manifest(root / "model" / "autointp.manifest.json")
    assert after["serving"]["newcomers"]["previous"] == note and "newcomer network" in after["serving"]["newcomers"][
        "withdrawn"]  # fmt: skip
    assert artifacts.newcomer_folders("autointp", root / "model") is None
    assert not any((root / "model" / "newcomers").iterdir())  # its set removed once no manifest names it


def _changed(manifest: dict, dotted: str, value) -> None:
    *path, last = dotted.split(".")
    for key in path:
        manifest = manifest[key]
    manifest[last] = value


@pytest.mark.parametrize(
    ("extra", "change", "message"),
    [
        (["--out", "x.json"], None, "--choose-ranking-rule only writes into the shipped manifest"),
        (["--train-only-fit", "FIT", "--apply-newuser-choice", "x.json"], None, "one at a time"),
        (["--train-only-fit", "SHIPPED"], None, "may have been refitted on train + validation"),
        (["--train-only-fit", "FIT"], ("training.learning_rate", 0.5), "another configuration than the shipped "
                                                                          "autointp's (differs in ['learning_rate'])"),
        (["--train-only-fit", "FIT"], ("training.epochs", 9), "(differs in ['epochs'])"),
        (["--train-only-fit", "FIT"], ("training.hard_negative_share", 0.5), "(differs in ['hard_negative_share'])"),
        (["--train-only-fit", "FIT"], ("config.dropout", 0.3), "(differs in ['dropout'])"),
        (["--train-only-fit", "FIT"], ("training.refitted", {"epochs": 1}), "says refit False, refitted {'epochs': 1}"),
        (["--train-only-fit", "FIT"], ("training", {}), "records no training settings"),
        (["--train-only-fit", "FIT"], ("data.fingerprint", "0" * 64), "its data.fingerprint differs"),
        (["--train-only-fit", "FIT"], ("data.split", {"rows": {}}), "its data.split differs"),
        (["--train-only-fit", "MISSING"], None, "--train-only-fit MISSING: "),
    ],
)
def test_choosing_the_ranking_rule_refuses_what_it_cannot_trust(shipped_and_fit, ml1m_dir, tmp_path, extra, change,
                                                                 message, capsys):  # fmt: skip
    root = tmp_path / "shipped"
    shutil.copytree(shipped_and_fit / "shipped", root)
    before = (root / "model" / "autointp.manifest.json").read_bytes()
    folders = {"FIT": tmp_path / "fit", "SHIPPED": shipped_and_fit / "shipped", "MISSING": tmp_path / "none"}
    shutil.copytree(shipped_and_fit / "fit", folders["FIT"])
    if change is not None:  # the reused fit's manifest, changed in one field
        path = folders["FIT"] / "model" / "autointp.manifest.json"
        manifest = json.loads(path.read_text())
        _changed(manifest, *change)
        path.write_text(json.dumps(manifest))
    with pytest.raises(SystemExit) as stop:
        _choose(ml1m_dir, root, *[str(folders.get(a, a)) for a in extra])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert message.replace("MISSING", str(folders["MISSING"])) in err, err
    assert (root / "model" / "autointp.manifest.json").read_bytes() == before  # nothing written


def test_a_training_setting_a_manifest_predates_counts_as_its_default():
    """Manifests written before ``hard_negative_share`` or ``newcomer_share`` existed trained with neither."""
    shipped = {"config": {}, "training": {"negatives": 4}}
    for setting, differ in (("hard_negative_share", []), ("newcomer_share", ["newcomer_history"])):
        assert evaluate.configuration_differences(shipped, {}, {"negatives": 4, setting: 0.0}) == []
        # (newcomer rows without a record of which movies they kept kept the oldest of the capped history)
        assert evaluate.configuration_differences(shipped, {}, {"negatives": 4, setting: 0.5}) == [setting, *differ]
    # A setting with no entry there is not assumed: a manifest without it differs from any value of it.
    assert evaluate.configuration_differences({"config": {}, "training": {}}, {}, {"negatives": 4}) == ["negatives"]


def test_which_movies_newcomer_rows_kept_counts_only_where_there_were_newcomer_rows():
    """Newcomer networks trained before ``newcomer_history`` kept the oldest of the capped history."""
    earlier = {"config": {}, "training": {"negatives": 4, "newcomer_share": 0.5}}
    now = {"negatives": 4, "newcomer_share": 0.5, "newcomer_history": "first_ratings"}
    assert evaluate.configuration_differences(earlier, {}, now) == ["newcomer_history"]
    assert evaluate.configuration_differences(earlier, {}, {**now, "newcomer_history": "oldest_kept"}) == []
    # without newcomer rows the rule shaped nothing, whatever either record says
    shipped = {"config": {}, "training": {"negatives": 4}}
    assert evaluate.configuration_differences(shipped, {}, {**now, "newcomer_share": 0.0}) == []
    assert evaluate.configuration_differences(shipped, {}, now) == ["newcomer_share", "newcomer_history"]


def test_a_hyperparameter_a_manifest_predates_counts_as_its_default():
    """Manifests written before ``ease_disliked_weight`` existed read a plain (0/1) EASE prior."""
    old = {"config": {"ease_l2": 2000.0}, "training": {}}
    assert evaluate.configuration_differences(old, {"ease_l2": 2000.0, "ease_disliked_weight": 1.0}, {}) == []
    assert evaluate.configuration_differences(old, {"ease_l2": 2000.0, "ease_disliked_weight": 0.5}, {}) == [
        "ease_disliked_weight"]  # fmt: skip
    new = {"config": {"ease_l2": 2000.0, "ease_disliked_weight": 0.5}, "training": {}}
    assert evaluate.configuration_differences(new, {"ease_l2": 2000.0}, {}) == ["ease_disliked_weight"]


def test_a_reused_fit_of_the_shipped_weights_themselves_is_refused(shipped_and_fit, ml1m_dir, tmp_path, capsys):
    root, fake = tmp_path / "shipped", tmp_path / "fake"
    shutil.copytree(shipped_and_fit / "shipped", root)
    shutil.copytree(shipped_and_fit / "shipped", fake)
    path = fake / "model" / "autointp.manifest.json"
    manifest = json.loads(path.read_text())
    manifest["training"].update(refit=False, refitted=None)  # a refitted model passed off as a fit on train alone
    path.write_text(json.dumps(manifest))
    with pytest.raises(SystemExit):
        _choose(ml1m_dir, root, "--train-only-fit", str(fake))
    assert "holds the shipped weights themselves" in capsys.readouterr().err


def test_train_only_fit_goes_with_choosing_and_serving_options_are_no_hyperparameters(ml1m_dir, tmp_path, capsys):
    with pytest.raises(SystemExit):
        evaluate.main(["--data-dir", str(ml1m_dir), "--no-download", "--train-only-fit", str(tmp_path)])
    assert "--train-only-fit goes with --choose-ranking-rule" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        _train(ml1m_dir, tmp_path, "--hyperparameters", '{"ranking_prior_gain": 2.0}')
    assert "['ranking_prior_gain'] are chosen after training" in capsys.readouterr().err
    assert not (tmp_path / "model").exists()


def test_choosing_again_keeps_the_first_numbers_and_the_rule_they_were_measured_under(
    shipped_and_fit, ml1m_dir, tmp_path
):
    from movierec import artifacts

    root = tmp_path / "shipped"
    shutil.copytree(shipped_and_fit / "shipped", root)
    path = root / "model" / "autointp.manifest.json"
    manifest = json.loads(path.read_text())  # a set saved before rules existed, with a marked evaluation
    manifest["config"].update(ranking_like_exponent=1.0, ranking_prior_gain=1.0)
    manifest["serving"].pop("ranking", None)
    manifest["evaluation"]["full_ndcg@10"] = 0.123456
    path.write_text(json.dumps(manifest))
    for _ in range(2):
        _choose(ml1m_dir, root, "--train-only-fit", str(shipped_and_fit / "fit"))
    after = artifacts.read_manifest(path)
    note = after["serving"]["ranking"]
    assert note["evaluation_before"]["full_ndcg@10"] == 0.123456 != after["evaluation"]["full_ndcg@10"]
    assert note["evaluation_before_rule"] == [1.0, 1.0]
    assert note["fit"]["made here"] is False and len(note["fit"]["weights_sha256"]) == 64


def test_a_first_choice_on_a_set_train_gave_a_rule_records_that_rule_with_its_numbers(
    shipped_and_fit, ml1m_dir, tmp_path
):
    from movierec import artifacts

    root = tmp_path / "shipped"
    shutil.copytree(shipped_and_fit / "shipped", root)
    before = artifacts.read_manifest(root / "model" / "autointp.manifest.json")
    _choose(ml1m_dir, root, "--train-only-fit", str(shipped_and_fit / "fit"))
    note = artifacts.read_manifest(root / "model" / "autointp.manifest.json")["serving"]["ranking"]
    assert note["evaluation_before"] == before["evaluation"]
    assert note["evaluation_before_rule"] == [before["config"]["ranking_like_exponent"],
                                              before["config"]["ranking_prior_gain"]]  # fmt: skip


def test_networks_names_a_partial_new_user_run_checked_before_any_work(tmp_path, capsys):
    """``--networks``: the protocol's order, every network named is a whole run, and bad names, a newcomer rule
    without the newcomer network or an --out holding a whole run stop the command."""
    import argparse

    stacked, plain = {"config": {"ease_l2": 500.0}}, {"config": {}}

    def asked(networks, manifest=stacked, out=None, newcomer_history=None):
        args = argparse.Namespace(networks=networks, newcomer_history=newcomer_history, out=out, model="autoint")
        return evaluate.partial_networks(args, manifest)

    assert asked(None) is None
    assert asked("no_history, newcomer") == ["newcomer", "no_history"]
    assert asked("model,no_prior,newcomer,no_history") is None  # a whole run
    assert asked("model,newcomer,no_history", manifest=plain) is None
    whole, partial = tmp_path / "whole.json", tmp_path / "partial.json"
    whole.write_text(json.dumps({"settings": {"trained": {}}}))
    partial.write_text(json.dumps({"settings": {"trained": {}, "partial": {}}}))
    assert asked("newcomer", out=partial, newcomer_history="first_ratings") == ["newcomer"]
    bad = [(("no_prior", plain, None, None), "trains ['model', 'newcomer', 'no_history'] for the shipped autoint, "
                                             "not ['no_prior']"),
           ((" , ", stacked, None, None), "the new-user protocol trains"),
           (("model", stacked, None, "first_ratings"), "which --networks 'model' leaves out"),
           (("newcomer", stacked, whole, None), "holds a whole new-user run")]  # fmt: skip
    for (networks, manifest, out, rule), message in bad:
        with pytest.raises(SystemExit):
            asked(networks, manifest, out, rule)
        assert message in capsys.readouterr().err
    shared = argparse.Namespace(networks="no_history", newcomer_history=None, newcomer_share=0.8, out=None,
                                model="autoint")  # fmt: skip
    with pytest.raises(SystemExit):
        evaluate.partial_networks(shared, stacked)
    assert "--newcomer-share shapes the 'newcomer' network" in capsys.readouterr().err


def test_the_readme_gives_the_protocol_tables_scripts_report_prints(capsys):
    """The new-user and other protocols' tables are printed from results/*.json; the README holds them as printed."""
    from pathlib import Path

    from scripts import report

    report.main()
    printed = capsys.readouterr().out
    tables = re.findall(r"((?:^\|.*\|\n)+)", printed[printed.index("## Protocols"):], re.M)
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    assert len(tables) >= 3  # the rules' table and a new-user table per model at least
    for table in tables:
        assert table in readme, f"README lacks this table of scripts/report.py:\n{table}"


def test_train_distils_from_a_fit_and_a_refit_of_the_same_split_checked_before_any_training(
    ml1m_dir, tmp_path, capsys, monkeypatch
):
    from movierec import artifacts, files

    def set_in(folder, *extra):
        train.main(["--model", "autointp", "--data-dir", str(ml1m_dir), "--no-download", "--model-dir", str(folder),
                    "--encoder-dir", str(folder), "--epochs", "1", "--batch-size", "256", "--quiet",
                    "--no-full-ranking", "--hyperparameters", TINY, *extra])  # fmt: skip
        return folder

    fit, refit = set_in(tmp_path / "fit", "--no-refit"), set_in(tmp_path / "refit")
    refused = [
        (["--refit-teacher", str(refit)], "--refit-teacher goes with --teacher"),
        (["--teacher", str(fit)], "give --refit-teacher, or --no-refit"),
        (["--teacher", str(refit), "--no-refit"], "a fit judged on validation needs a teacher that never trained"),
        (["--teacher", str(fit), "--refit-teacher", str(fit)], "a refit's teacher must be refitted"),
        (["--teacher", str(fit), "--no-refit", "--distillation-weight", "0"], "--distillation-weight must be"),
        (["--teacher", str(tmp_path / "nowhere"), "--no-refit"], "autointp.manifest.json does not exist"),
        (["--distillation-weight", "2"], "--distillation-weight goes with --teacher"),
        (["--teacher", str(fit), "--no-refit", "--model-dir", str(fit)], "where this run saves its set"),
    ]
    for options, message in refused:
        with pytest.raises(SystemExit):
            set_in(tmp_path / "student", *options)
        assert message in capsys.readouterr().err
        assert not (tmp_path / "student").exists()
    monkeypatch.setattr(files, "REPOSITORY", tmp_path)  # the teachers lie in the repository: recorded relative to it
    student = set_in(tmp_path / "student", "--teacher", str(fit), "--refit-teacher", str(refit))
    manifest = artifacts.read_manifest(artifacts.manifest_path("autointp", student))
    assert manifest["training"]["distillation_weight"] == 1.0
    taught = manifest["training"]["teachers"]
    for stage, teacher in (("fit", fit), ("refit", refit)):
        theirs = artifacts.read_manifest(artifacts.manifest_path("autointp", teacher))
        assert taught[stage]["weights_sha256"] == theirs["weights"]["sha256"]
        assert taught[stage]["folder"] == teacher.name
    plain = artifacts.read_manifest(artifacts.manifest_path("autointp", refit))
    assert plain["training"]["distillation_weight"] == 0.0 and "teachers" not in plain["training"]
    capsys.readouterr()
    evaluate.main(["--protocol", "temporal", "--data-dir", str(ml1m_dir), "--no-download", "--model-dir", str(student),
                   "--encoder-dir", str(student), "--epochs", "1", "--no-full-ranking", "--quiet",
                   "--out", str(tmp_path / "temporal.json")])  # fmt: skip
    assert "--protocol temporal trains its configuration from its labels alone" in capsys.readouterr().out
    trained = json.loads((tmp_path / "temporal.json").read_text())["trained"]
    assert trained["settings"]["distillation_weight"] == 0.0
