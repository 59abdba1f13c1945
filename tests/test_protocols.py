"""Each evaluation protocol's split, label and field rules on the fixture data, and evaluate's protocol runs."""

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from movierec import files, protocols
from movierec.cli import evaluate, train
from movierec.features import FIELDS
from movierec.prepared import prepare


def test_the_temporal_protocol_splits_by_time(ml1m):
    from movierec.split import temporal_split

    got, expected = protocols.PROTOCOLS["temporal"].make_split(ml1m.ratings), temporal_split(ml1m.ratings)
    for part in ("train", "validation", "test"):
        pd.testing.assert_frame_equal(getattr(got, part), getattr(expected, part))


@pytest.mark.parametrize("name", ["paper", "recbole"])
def test_ctr_protocols_drop_rating_three_and_split_eighty_ten_ten(ml1m, name):
    protocol = protocols.PROTOCOLS[name]
    split = protocol.make_split(ml1m.ratings)
    parts = (split.train, split.validation, split.test)
    assert all(not (part["rating"] == 3).any() for part in parts)
    kept = (ml1m.ratings["rating"] != 3).sum()
    assert sum(len(p) for p in parts) == kept
    assert len(split.test) == pytest.approx(0.1 * kept, abs=1)
    assert len(split.validation) == pytest.approx(0.1 * kept, abs=1)
    again = protocol.make_split(ml1m.ratings)
    pd.testing.assert_frame_equal(again.test, split.test)  # seeded


def test_paper_protocol_leaves_the_id_fields_out_and_recbole_keeps_them(ml1m):
    paper, recbole = protocols.PROTOCOLS["paper"], protocols.PROTOCOLS["recbole"]
    assert set(FIELDS) - set(paper.fields) == {"user_id", "movie_id"}
    assert recbole.fields == FIELDS
    prepared = prepare(ml1m, split=paper.make_split(ml1m.ratings), fields=paper.fields)
    codes, y = prepared.part("train").codes, prepared.part("train").labels
    assert codes.shape[1] == len(FIELDS) - 2 == len(prepared.vocab_sizes)
    full = prepared.encoder.encode_ratings(prepared.split.train, ml1m.users, ml1m.movies)
    np.testing.assert_array_equal(codes, np.delete(full, [0, FIELDS.index("movie_id")], axis=1))
    np.testing.assert_array_equal(y, (prepared.split.train["rating"] > 3).astype("float32"))


@pytest.fixture(scope="module")
def shipped_tiny(tmp_path_factory, ml1m_dir):
    root = tmp_path_factory.mktemp("protocol-artifacts")
    tiny = json.dumps({"embedding_dim": 4, "attention_layers": 1, "num_heads": 1, "attention_dim": 4,
                       "dnn_units": [8], "rated_head": True})  # fmt: skip
    train.main(["--model", "autointp", "--data-dir", str(ml1m_dir), "--no-download", "--model-dir",
                str(root), "--encoder-dir", str(root), "--epochs", "1", "--batch-size", "256", "--negatives", "2",
                "--hyperparameters", tiny, "--no-full-ranking", "--quiet"])  # fmt: skip
    return root


@pytest.mark.parametrize("name", ["temporal", "paper", "recbole"])
def test_evaluate_trains_and_reports_each_protocol(shipped_tiny, ml1m_dir, tmp_path, name):
    out = tmp_path / f"{name}.json"
    payload = evaluate.main(
        ["--protocol", name, "--data-dir", str(ml1m_dir), "--no-download", "--model-dir", str(shipped_tiny),
         "--encoder-dir", str(shipped_tiny), "--out", str(out), "--quiet"]
    )  # fmt: skip
    saved = json.loads(out.read_text())
    protocol = protocols.PROTOCOLS[name]
    assert saved["protocol"]["fields"] == list(protocol.fields)
    assert saved["protocol"]["published"] == protocol.published
    assert set(saved["baselines"]) == {"popularity", "movie_mean", "item_knn", "ease", "ease_graded"}
    assert 0 <= saved["auc"] <= 1 and saved["logloss"] > 0
    assert ("full_ndcg@10" in saved) == protocol.full_ranking
    # CTR protocols train the like output on rated rows; the ranking one keeps the shipped objective.
    assert saved["trained"]["config"]["rated_head"] == protocol.ranking_objective
    assert (saved["trained"]["settings"]["negatives"] > 0) == protocol.ranking_objective
    assert saved["trained"]["config"]["vocab_sizes"] and payload["model"] == "autointp"
    # A ranking protocol chooses the ranking rule on its own validation part and ranks its test part with it.
    ranking = saved["trained"]["ranking"]
    assert (ranking is not None) == protocol.full_ranking
    if ranking is not None:
        chosen = (saved["trained"]["config"]["ranking_like_exponent"], saved["trained"]["config"]["ranking_prior_gain"])
        assert chosen == (ranking["like_exponent"], ranking["prior_gain"])
        assert len(ranking["validation"]) > 1
    # --refresh-baselines measures the baselines again on the run's own split; the model's numbers stay.
    common = ["--data-dir", str(ml1m_dir), "--no-download", "--model-dir", str(shipped_tiny), "--encoder-dir",
              str(shipped_tiny), "--quiet"]  # fmt: skip
    stale = tmp_path / "stale.json"
    stale.write_text(json.dumps({**saved, "baselines": {"popularity": {"auc": 0.5}}}))
    elsewhere = tmp_path / "refreshed.json"
    evaluate.main(["--protocol", name, *common, "--refresh-baselines", str(stale), "--out", str(elsewhere)])
    assert json.loads(stale.read_text())["baselines"] == {"popularity": {"auc": 0.5}}  # --out: the run's file stays
    evaluate.main(["--protocol", name, *common, "--refresh-baselines", str(stale)])
    refreshed = json.loads(stale.read_text())
    assert refreshed == json.loads(elsewhere.read_text())
    assert refreshed.pop("baselines_refreshed").startswith("the baselines were measured again after the run")
    assert refreshed == saved  # the same code measures the same numbers; nothing else in the file moved


@pytest.mark.parametrize(
    ("change", "options", "message"),
    [
        (lambda run: run["protocol"].update(name="paper"), [], "run of the paper protocol, not temporal"),
        (lambda run: run["data"].update(fingerprint="0" * 64), [], "other data"),
        (lambda run: run["protocol"].update(dropped_ratings=[3]), [], "dropped_ratings differ"),
        (lambda run: run["data"]["rows"].update(test=1), [], "split has"),
        (lambda run: run.pop("baselines"), [], "holds no protocol run"),
        (lambda run: run.update(baselines=[0.5]), [], "holds no protocol run"),
        (lambda run: run.update(baselines={"ease": 0.5}), [], "holds no protocol run"),
        (None, ["--epochs", "1"], "baselines only"),
        (None, ["--allow-other-data"], "baselines only"),
    ],
)  # fmt: skip
def test_refreshing_baselines_refuses_a_run_of_another_split_and_leaves_the_file_alone(
    shipped_tiny, ml1m_dir, tmp_path, capsys, change, options, message
):
    from movierec import data
    from movierec.prepared import prepare

    release = data.load("ml-1m", ml1m_dir, download=False)
    protocol = protocols.PROTOCOLS["temporal"]
    split = prepare(release, split=protocol.make_split(release.ratings), fields=protocol.fields).split
    run = {"protocol": protocol.describe(), "data": {"fingerprint": release.fingerprint(), "rows": split.rows()},
           "baselines": {}, "auc": 0.5}  # fmt: skip
    if change is not None:
        change(run)
    path = tmp_path / "temporal.json"
    path.write_text(json.dumps(run))
    before = path.read_bytes()
    with pytest.raises(SystemExit):
        evaluate.main(["--protocol", "temporal", "--data-dir", str(ml1m_dir), "--no-download", "--model-dir",
                       str(shipped_tiny), "--encoder-dir", str(shipped_tiny), "--refresh-baselines", str(path),
                       *options])  # fmt: skip
    assert message in capsys.readouterr().err
    assert path.read_bytes() == before
    path.write_text('{"protocol": {"na')  # a truncated file
    with pytest.raises(SystemExit):
        evaluate.main(["--protocol", "temporal", "--data-dir", str(ml1m_dir), "--no-download", "--model-dir",
                       str(shipped_tiny), "--encoder-dir", str(shipped_tiny), "--refresh-baselines", str(path)])
    assert "holds no protocol run" in capsys.readouterr().err
    assert path.read_text() == '{"protocol": {"na'
    with pytest.raises(SystemExit):
        evaluate.main(["--protocol", "newuser", "--data-dir", str(ml1m_dir), "--no-download", "--model-dir",
                       str(shipped_tiny), "--encoder-dir", str(shipped_tiny), "--refresh-baselines", str(path)])
    assert "run it again instead" in capsys.readouterr().err


def test_evaluate_runs_the_new_user_protocol_with_and_without_a_history(
    shipped_tiny, ml1m_dir, tmp_path, monkeypatch, capsys
):
    from movierec import artifacts, training
    from movierec.newuser import NEWCOMER_SHARE

    out, networks = tmp_path / "newuser.json", tmp_path / "networks"
    evaluate.main(
        ["--protocol", "newuser", "--data-dir", str(ml1m_dir), "--no-download", "--model-dir", str(shipped_tiny),
         "--encoder-dir", str(shipped_tiny), "--out", str(out), "--quiet", "--save-networks", str(networks)]
    )  # fmt: skip
    saved = json.loads(out.read_text())
    assert list(saved["reveal"]) == ["5", "10", "20"]
    for entry in saved["reveal"].values():
        assert set(entry) == {"model", "baselines"}
        assert set(entry["baselines"]) == {"popularity", "ease", "ease_graded", "no_history", "newcomer"}
        for numbers in (entry["model"], *entry["baselines"].values()):
            assert 0 <= numbers["full_ndcg@10"] <= numbers["full_hit@10"] <= 1
            assert numbers["users"] == entry["model"]["users"] > 0  # the same people for every method
    settings = saved["settings"]
    assert settings["split"]["new_users"] == 6 and settings["ease_l2"] > 0
    graded = settings["ease_graded"]  # chosen on the protocol's validation part, as EASE's l2 is
    assert graded["l2"] > 0 and 0 < graded["disliked_weight"] < 1  # from its grid, grown past an edge if need be
    # Every method measured on the validation people too, for choices between them: same methods, other people.
    on_validation = settings["validation_people"]
    assert list(on_validation) == list(saved["reveal"])
    for k, entry in on_validation.items():
        assert set(entry["baselines"]) == set(saved["reveal"][k]["baselines"])
        assert 0 < entry["model"]["users"] <= settings["split"]["validation_people"]
    assert settings["trained"]["model"]["overrides"]["history_length"] > 0
    assert settings["trained"]["no_history"]["overrides"] == {"history_length": 0, "ease_l2": 0.0}
    # The network trained for newcomers: the shipped kind's history, no prior, a share of rows as a newcomer's.
    newcomer = settings["trained"]["newcomer"]
    assert newcomer["overrides"] == {**settings["trained"]["model"]["overrides"], "ease_l2": 0.0}
    assert newcomer["settings"]["newcomer_share"] == NEWCOMER_SHARE
    assert newcomer["settings"]["newcomer_history"] == "oldest_kept"
    assert settings["trained"]["model"]["settings"]["newcomer_share"] == 0.0
    # Which network serves newcomers is chosen on the validation people's numbers, never the test people's.
    serving = settings["newcomer_network"]
    # (the network without a history ignores a newcomer's ratings: it is measured, never a candidate)
    assert set(serving["validation_mean_ndcg@10"]) == {"model", "newcomer"}
    assert set(settings["trained"]) == {"model", "newcomer", "no_history"}
    for name, mean in serving["validation_mean_ndcg@10"].items():
        rows = [entry["model"] if name == "model" else entry["baselines"][name] for entry in on_validation.values()]
        assert mean == pytest.approx(np.mean([row["full_ndcg@10"] for row in rows]))
    assert serving["validation_mean_ndcg@10"][serving["network"]] == max(serving["validation_mean_ndcg@10"].values())
    # Every network is saved as a loadable set, its weights' checksum recorded with it.
    for name, trained in settings["trained"].items():
        model, encoder, manifest = artifacts.load("autointp", networks / name, networks / name)
        assert manifest["weights"]["sha256"] == trained["saved"]["weights_sha256"]
        assert manifest["serving"]["variant"] == name
        assert model.history_length == trained["overrides"]["history_length"]
        # the new people are not in the set's vocabularies: they encode as the unknown user
        known = 60 - settings["split"]["new_users"] - settings["split"]["validation_people"]
        assert 0 < len(encoder.vocabularies["user_id"]) <= known

    # Run again reusing the saved networks: nothing is trained, and every number comes out the same.
    def run_again(earlier, out, *options):
        evaluate.main(["--protocol", "newuser", "--data-dir", str(ml1m_dir), "--no-download", "--model-dir",
                       str(shipped_tiny), "--encoder-dir", str(shipped_tiny), "--out", str(out), "--quiet",
                       "--reuse-networks", str(earlier), *options])  # fmt: skip
        return json.loads(out.read_text())

    fits = []  # (model, settings) of every fit
    monkeypatch.setattr(training, "fit", lambda model, prepared, settings, **k: fits.append((model, settings)) or {})
    again = run_again(out, tmp_path / "again.json")
    assert fits == [] and again["reveal"] == saved["reveal"]
    assert again["settings"]["validation_people"] == settings["validation_people"]
    for name, trained in again["settings"]["trained"].items():
        assert trained["reused_from"] == {"run": str(out), **settings["trained"][name]["saved"]}
        assert trained["saved"] == settings["trained"][name]["saved"]
        assert trained["history"] == settings["trained"][name]["history"]
    # A folder recorded relative to the repository is found there from any working directory.
    repository = files.REPOSITORY
    monkeypatch.setattr(files, "REPOSITORY", tmp_path)
    (tmp_path / "pyproject.toml").touch()  # what marks a clone (installed without -e, records read from the cwd)
    relative = json.loads(out.read_text())
    for record in relative["settings"]["trained"].values():
        record["saved"]["folder"] = files.recorded_path(record["saved"]["folder"])
        assert not Path(record["saved"]["folder"]).is_absolute()
    (tmp_path / "relative.json").write_text(json.dumps(relative))
    monkeypatch.chdir(ml1m_dir)
    found = run_again(tmp_path / "relative.json", tmp_path / "found.json")
    assert found["reveal"] == saved["reveal"] and fits == []
    for name, trained in found["settings"]["trained"].items():  # and what it reused is recorded relative too
        assert trained["reused_from"]["folder"] == f"networks/{name}"
    monkeypatch.setattr(files, "REPOSITORY", repository)
    # A network the earlier run trained otherwise is trained again, and only it.
    otherwise = json.loads(out.read_text())
    # (records made before the setting of which movies newcomer rows keep count as the oldest-kept rule, today's
    # default, so they are reused; a newcomer network trained by another rule is not)
    for record in otherwise["settings"]["trained"].values():
        del record["settings"]["newcomer_history"]
    otherwise["settings"]["trained"]["newcomer"]["settings"]["newcomer_history"] = "first_ratings"
    (tmp_path / "otherwise.json").write_text(json.dumps(otherwise))
    capsys.readouterr()
    retrained = run_again(tmp_path / "otherwise.json", tmp_path / "retrained.json")["settings"]["trained"]
    (network, trained_with), = fits
    assert network.history_length > 0 and network.ease_l2 == 0.0 and trained_with.newcomer_share == NEWCOMER_SHARE
    assert "reused_from" not in retrained["newcomer"]
    assert all("reused_from" in retrained[name] for name in retrained if name != "newcomer")
    assert trained_with.newcomer_history == "oldest_kept"
    assert "trained otherwise (in ['newcomer_history'])" in capsys.readouterr().out
    # A partial run (--networks) trains and measures only the networks named, by the newcomer rule asked for,
    # beside the same baselines, and chooses nothing: --apply-newuser-choice refuses it.
    fits.clear()
    with pytest.raises(SystemExit):  # a partial run's file over a whole run's
        run_again(out, tmp_path / "retrained.json", "--networks", "newcomer")
    assert "holds a whole new-user run" in capsys.readouterr().err and fits == []
    partial = run_again(out, tmp_path / "partial.json", "--networks", "newcomer,no_history", "--newcomer-history",
                        "first_ratings_later_rows", "--newcomer-share", "0.8")  # fmt: skip
    (network, trained_with), = fits
    assert trained_with.newcomer_history == "first_ratings_later_rows" and trained_with.newcomer_share == 0.8
    assert set(partial["settings"]["trained"]) == {"newcomer", "no_history"}
    assert "reused_from" in partial["settings"]["trained"]["no_history"]
    assert partial["settings"]["partial"]["networks"] == ["newcomer", "no_history"]
    assert "newcomer_network" not in partial["settings"]
    for k, entry in partial["reveal"].items():
        assert set(entry) == {"baselines"}
        assert set(entry["baselines"]) == {"popularity", "ease", "ease_graded", "no_history", "newcomer"}
        for name in ("popularity", "ease", "ease_graded", "no_history"):  # the same people, the same numbers
            assert entry["baselines"][name] == saved["reveal"][k]["baselines"][name]
    assert "chooses no network for newcomers" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        evaluate.main(["--apply-newuser-choice", str(tmp_path / "partial.json"), "--data-dir", str(ml1m_dir),
                       "--no-download", "--model-dir", str(shipped_tiny), "--encoder-dir", str(shipped_tiny)])
    assert "partial new-user run" in capsys.readouterr().err
    bad_options = {("--networks", "stacked"): "not ['stacked']", ("--networks", ","): "trains",
                   ("--networks", "model", "--newcomer-history", "first_ratings"): "leaves out",
                   # a network trained here saved over one the earlier run names would stop that run's loading
                   ("--networks", "newcomer", "--newcomer-history", "first_ratings", "--save-networks",
                    str(networks)): "over the folder " + str(out) + " names for its 'newcomer' network"}  # fmt: skip
    for options, reason in bad_options.items():
        with pytest.raises(SystemExit):
            run_again(out, tmp_path / "never.json", *options)
        assert reason in capsys.readouterr().err and not (tmp_path / "never.json").exists()
    fits.clear()
    # Another model's run, other rows, or weights that are not the ones measured stop the run before it trains.
    bad_runs = {
        "not a new-user run of": lambda run: run.update(model="autoint"),
        "other data or another split": lambda run: run["settings"]["split"]["rows"].update(train=1),
        "holds no new-user run": lambda run: run.pop("settings"),
        "holds other weights than the 'no_history' network": lambda run: run["settings"]["trained"]["no_history"][
            "saved"].update(weights_sha256="0" * 64),
    }  # fmt: skip
    for reason, edit in bad_runs.items():
        run = json.loads(out.read_text())
        edit(run)
        (tmp_path / "bad.json").write_text(json.dumps(run))
        with pytest.raises(SystemExit):
            run_again(tmp_path / "bad.json", tmp_path / "never.json")
        assert reason in capsys.readouterr().err and not (tmp_path / "never.json").exists()
    # Saving a reused network over the folder it is reused from would break the earlier run's file.
    with pytest.raises(SystemExit):
        evaluate.main(["--protocol", "newuser", "--data-dir", str(ml1m_dir), "--no-download", "--model-dir",
                       str(shipped_tiny), "--encoder-dir", str(shipped_tiny), "--out", str(tmp_path / "never.json"),
                       "--quiet", "--reuse-networks", str(out), "--save-networks", str(networks)])  # fmt: skip
    assert "over the folder it is reused from" in capsys.readouterr().err
    assert fits == [] and not (tmp_path / "never.json").exists()


def test_the_new_user_protocol_chooses_a_stacked_models_prior_power_on_the_validation_people(
    tmp_path_factory, ml1m_dir, tmp_path, capsys, monkeypatch
):
    from movierec.newuser import PROFILE_POWERS

    root = tmp_path_factory.mktemp("stacked-artifacts")
    tiny = json.dumps({"embedding_dim": 4, "attention_layers": 1, "num_heads": 1, "attention_dim": 4,
                       "dnn_units": [8], "rated_head": True, "history_length": 8, "ease_l2": 50.0})  # fmt: skip
    train.main(["--model", "autointp", "--data-dir", str(ml1m_dir), "--no-download", "--model-dir",
                str(root), "--encoder-dir", str(root), "--epochs", "1", "--batch-size", "256", "--negatives", "2",
                "--hyperparameters", tiny, "--no-full-ranking", "--quiet"])  # fmt: skip
    from movierec import artifacts

    # A shipped rule that is not the plain product: every network of the protocol ranks by it.
    rule = {"ranking_like_exponent": 0.5, "ranking_prior_gain": 2.0}
    artifacts.update_manifest("autointp", root, config=rule)
    from movierec import newuser, scoring

    scorers_built_with = []  # the rule each scorer compiles in, when it is built

    class RecordingScorer(scoring.CandidateScorer):
        def __init__(self, model, *args, **kwargs):
            scorers_built_with.append(scoring.ranking_rule(model))
            super().__init__(model, *args, **kwargs)

    monkeypatch.setattr(newuser, "CandidateScorer", RecordingScorer)
    out = tmp_path / "newuser.json"
    evaluate.main(
        ["--protocol", "newuser", "--data-dir", str(ml1m_dir), "--no-download", "--model-dir", str(root),
         "--encoder-dir", str(root), "--out", str(out), "--quiet", "--epochs", "1",
         "--save-networks", str(tmp_path / "networks")]
    )  # fmt: skip
    saved = json.loads(out.read_text())
    assert all(trained["ranking"] == rule for trained in saved["settings"]["trained"].values())
    assert scorers_built_with and set(scorers_built_with) == {tuple(rule.values())}
    choice = saved["settings"]["newcomers"]["model"]
    grid = choice["validation_ndcg@10"]
    assert set(grid) == {str(p) for p in PROFILE_POWERS} and all(set(g) == {"5", "10", "20"} for g in grid.values())
    best = max(np.mean(list(g.values())) for g in grid.values())
    assert np.mean(list(grid[str(choice["prior_profile_power"])].values())) == best
    for k, entry in saved["settings"]["validation_people"].items():  # the chosen power's cell, measured again
        assert entry["model"]["full_ndcg@10"] == pytest.approx(grid[str(choice["prior_profile_power"])][k], abs=1e-9)
    for entry in saved["reveal"].values():
        names = set(entry["baselines"])
        assert {"popularity", "ease", "no_history", "no_prior", "newcomer"} <= names
        # the prior as trained is reported beside the chosen power whenever the two differ
        assert ("model_unscaled" in names) == (choice["prior_profile_power"] != 0)
    assert choice["prior_profile_reference"] > 0
    assert saved["settings"]["trained"]["model"]["hyperparameters"]["ease_l2"] == 50.0
    # The choice is applied to the shipped set: its manifest serves the rescaling, weights and numbers untouched.
    before = artifacts.read_manifest(artifacts.manifest_path("autointp", root))
    applied = evaluate.main(
        ["--data-dir", str(ml1m_dir), "--no-download", "--model-dir", str(root), "--encoder-dir", str(root),
         "--apply-newuser-choice", str(out), "--quiet"]
    )  # fmt: skip
    after = artifacts.read_manifest(artifacts.manifest_path("autointp", root))
    serving = {"prior_profile_power": choice["prior_profile_power"],
               "prior_profile_reference": choice["prior_profile_reference"]}  # fmt: skip
    assert applied == {"model": "autointp", **serving}
    assert after["config"] == {**before["config"], **serving}
    assert after["serving"]["newcomers"]["prior_profile_power"] == choice["prior_profile_power"]
    for kept in ("weights", "encoder", "validation", "evaluation"):
        assert after[kept] == before[kept]
    model, _, _ = artifacts.load("autointp", root, root)
    assert (model.prior_profile_power, model.prior_profile_reference) == tuple(serving.values())
    assert "prior_profile_power" not in artifacts.hyperparameters(after)  # a retrain starts without it
    with pytest.raises(ValueError, match="not serving options"):
        artifacts.update_manifest("autointp", root, config={"ease_l2": 1.0})
    with pytest.raises(artifacts.ArtifactError, match="other weights"):
        artifacts.update_manifest("autointp", root, config=serving, expect_weights="0" * 64)
    # A file with no choice, or a power outside the grid, changes nothing.
    broken, nan = tmp_path / "broken.json", tmp_path / "nan.json"
    broken.write_text('{"settings": {}}')
    saved["settings"]["newcomers"]["model"]["prior_profile_power"] = float("nan")
    nan.write_text(json.dumps(saved))
    for extra in (["--protocol", "temporal"], ["--out", str(tmp_path / "x.json")]):  # nothing else is done with it
        with pytest.raises(SystemExit):
            evaluate.main(["--data-dir", str(ml1m_dir), "--no-download", "--model-dir", str(root), "--encoder-dir",
                           str(root), "--apply-newuser-choice", str(out), "--quiet", *extra])  # fmt: skip
    # A file written before the full configuration and the reference were recorded still applies, the same way.
    old_format = tmp_path / "old.json"
    legacy = json.loads(out.read_text())
    del legacy["settings"]["trained"]["model"]["hyperparameters"]
    del legacy["settings"]["newcomers"]["model"]["prior_profile_reference"]
    old_format.write_text(json.dumps(legacy))
    evaluate.main(["--data-dir", str(ml1m_dir), "--no-download", "--model-dir", str(root), "--encoder-dir", str(root),
                   "--apply-newuser-choice", str(old_format), "--quiet"])  # fmt: skip
    again = artifacts.read_manifest(artifacts.manifest_path("autointp", root))
    assert again["config"] == after["config"]
    after = again
    # A choice made under another ranking rule (or before the rule was recorded: the plain product) is refused.
    other_rule, unrecorded = tmp_path / "other-rule.json", tmp_path / "unrecorded-rule.json"
    legacy["settings"]["trained"]["model"]["ranking"] = {**rule, "ranking_prior_gain": 1.0}
    other_rule.write_text(json.dumps(legacy))
    half_rule = tmp_path / "half-rule.json"
    legacy["settings"]["trained"]["model"]["ranking"] = {"ranking_prior_gain": 2.0}
    half_rule.write_text(json.dumps(legacy))
    del legacy["settings"]["trained"]["model"]["ranking"]
    unrecorded.write_text(json.dumps(legacy))
    capsys.readouterr()

    def refused(bad, reason: str, unchanged: dict) -> None:
        with pytest.raises(SystemExit):
            evaluate.main(["--data-dir", str(ml1m_dir), "--no-download", "--model-dir", str(root), "--encoder-dir",
                           str(root), "--apply-newuser-choice", str(bad), "--quiet"])  # fmt: skip
        assert reason in capsys.readouterr().err
        assert artifacts.read_manifest(artifacts.manifest_path("autointp", root)) == unchanged

    for bad, reason in ((broken, "holds no new-user choice"), (nan, "not one of the powers"),
                        (other_rule, "'ranking_prior_gain': 1.0}, but"), (unrecorded, "'ranking_like_exponent': 1.0"),
                        (half_rule, "does not give exactly")):  # fmt: skip
        refused(bad, reason, after)
    # A run that chose the network without the prior for newcomers (set here: on fixture data either may win):
    # applying it copies that network beside the shipped set and names it, with its checksum, in the manifest.
    # (the applications above installed whatever network the run itself chose)
    run_chose = saved["settings"]["newcomer_network"]["network"]
    assert (artifacts.newcomer_folders("autointp", root) is None) == (run_chose == "model")
    before = artifacts.read_manifest(artifacts.manifest_path("autointp", root))
    chose_no_prior = tmp_path / "no-prior.json"
    run = json.loads(out.read_text())
    run["settings"]["newcomer_network"]["network"] = "no_prior"  # with the best mean, as the apply step asks
    means = run["settings"]["newcomer_network"]["validation_mean_ndcg@10"]
    means["no_prior"] = max(means.values()) + 0.01
    chose_no_prior.write_text(json.dumps(run))
    ignores_ratings = tmp_path / "no-history.json"
    run["settings"]["newcomer_network"]["network"] = "no_history"
    ignores_ratings.write_text(json.dumps(run))
    run["settings"]["newcomer_network"]["network"] = "no_prior"
    unsaved, moved = tmp_path / "unsaved.json", tmp_path / "moved.json"
    del run["settings"]["trained"]["no_prior"]["saved"]
    unsaved.write_text(json.dumps(run))
    run["settings"]["trained"]["no_prior"]["saved"] = {"folder": str(tmp_path / "nowhere"), "weights_sha256": "0"}
    moved.write_text(json.dumps(run))
    for bad, reason in ((unsaved, "did not save it"), (moved, "cannot be loaded"),
                        (ignores_ratings, "may not serve newcomers")):  # fmt: skip
        refused(bad, reason, before)
    evaluate.main(["--data-dir", str(ml1m_dir), "--no-download", "--model-dir", str(root), "--encoder-dir", str(root),
                   "--apply-newuser-choice", str(chose_no_prior), "--quiet"])  # fmt: skip
    folders = artifacts.newcomer_folders("autointp", root)
    network = artifacts.read_manifest(artifacts.manifest_path("autointp", root))["serving"]["newcomers"]["network"]
    assert folders == (root / network["folder"],) * 2 and network["variant"] == "no_prior"
    assert [p.name for p in (root / "newcomers").iterdir()] == [folders[0].name]  # earlier sets pruned
    newcomer_model, _, newcomer_manifest = artifacts.load("autointp", *folders)
    run = json.loads(chose_no_prior.read_text())
    assert newcomer_manifest["weights"]["sha256"] == run["settings"]["trained"]["no_prior"]["saved"]["weights_sha256"]
    assert newcomer_model.ease_l2 == 0.0 and scoring.ranking_rule(newcomer_model) == tuple(rule.values())
    assert network["validation_mean_ndcg@10"] == run["settings"]["newcomer_network"]["validation_mean_ndcg@10"]
    assert artifacts.load("autointp", root, root)[0].ease_l2 == 50.0  # MovieLens users keep the stacked network


@pytest.mark.parametrize(
    ("protocol", "overrides", "share"),
    [("full", {}, 0.5), ("full", {"ease_l2": 0.0}, 0.0), ("paper", {}, 0.0)],
    ids=["stacked-keeps-them", "no-prior-variant", "ctr-protocol"],
)
def test_hard_negatives_go_only_to_a_protocols_models_that_read_a_prior_and_sample_negatives(
    prepared, monkeypatch, protocol, overrides, share
):
    """They are drawn by the EASE prior: a variant without one (or without negatives) trains on the plain draw."""
    from movierec import training

    trained = []
    monkeypatch.setattr(training, "fit", lambda model, prepared, settings, **k: trained.append(settings) or {})
    manifest = {"model": "autointp", "config": {"embedding_dim": 4, "attention_layers": 1, "num_heads": 1,
                                                "attention_dim": 4, "dnn_units": [8], "ease_l2": 20.0, "seed": 0},
                "training": {"negatives": 4, "hard_negative_share": 0.5}}  # fmt: skip
    protocols.train_for_protocol(protocols.PROTOCOLS[protocol], prepared, manifest, overrides=overrides)
    assert trained[0].hard_negative_share == share


def test_a_protocol_trains_with_settings_of_its_own_on_top_of_the_shipped_ones(prepared, monkeypatch):
    from movierec import training

    trained = []
    monkeypatch.setattr(training, "fit", lambda model, prepared, settings, **k: trained.append(settings) or {})
    manifest = {"model": "autoint", "config": {"embedding_dim": 4, "attention_layers": 1, "num_heads": 1,
                                               "attention_dim": 4, "seed": 0},
                "training": {"negatives": 4, "oov_rate": 0.02, "newcomer_history": "first_ratings"}}  # fmt: skip
    protocols.train_for_protocol(protocols.PROTOCOLS["newuser"], prepared, manifest, epochs=3,
                                 settings_overrides={"newcomer_share": 0.5})  # fmt: skip
    settings = trained[0]
    assert (settings.newcomer_share, settings.oov_rate, settings.epochs, settings.refit) == (0.5, 0.02, 3, False)
    # the manifest had no newcomer rows, so the rule it records shaped nothing: the newcomer network takes today's
    assert settings.newcomer_history == "oldest_kept"
    with pytest.raises(ValueError, match="newcomer_share must be in"):
        protocols.train_for_protocol(protocols.PROTOCOLS["newuser"], prepared, manifest,
                                     settings_overrides={"newcomer_share": 2.0})  # fmt: skip


def test_a_distilled_models_new_user_networks_learn_from_the_teachers_given_and_the_rest_from_labels(
    shipped_tiny, ml1m_dir, tmp_path, capsys, monkeypatch
):
    """``--teachers``: checked before any training (a model that was not distilled, an unknown network, a set
    trained on another split), then each named network learns from its teacher, and the record says from which."""
    from movierec import artifacts, training

    def run(model_dir, out, *options):
        return evaluate.main(["--protocol", "newuser", "--data-dir", str(ml1m_dir), "--no-download", "--model-dir",
                              str(model_dir), "--encoder-dir", str(model_dir), "--out", str(out), "--quiet",
                              "--epochs", "1", *options])  # fmt: skip

    first = tmp_path / "first"
    run(shipped_tiny, tmp_path / "first.json", "--networks", "no_history", "--save-networks", str(first))
    teacher = first / "no_history"
    distilled = tmp_path / "distilled"
    shutil.copytree(shipped_tiny, distilled)
    path = distilled / "autointp.manifest.json"
    manifest = json.loads(path.read_text())
    manifest["training"]["distillation_weight"] = 1.0
    path.write_text(json.dumps(manifest))

    refused = [
        (shipped_tiny, f"no_history={teacher}", "was not distilled"),
        (distilled, f"stacked={teacher}", "NAME one of the networks this run trains"),
        (distilled, f"no_history={shipped_tiny}", "trained on other data than its student (its data ['split']"),
        (distilled, f"no_history={tmp_path / 'nowhere'}", "autointp.manifest.json does not exist"),
    ]
    for model_dir, teachers, message in refused:
        with pytest.raises(SystemExit):
            run(model_dir, tmp_path / "refused.json", "--networks", "no_history", "--teachers", teachers)
        assert message in capsys.readouterr().err
        assert not (tmp_path / "refused.json").exists()

    taught = run(distilled, tmp_path / "taught.json", "--networks", "no_history,newcomer", "--teachers",
                 f"no_history={teacher}", "--save-networks", str(tmp_path / "taught"))  # fmt: skip
    taught = taught["settings"]["trained"]
    shipped_teacher = artifacts.read_manifest(teacher / "autointp.manifest.json")
    assert taught["no_history"]["teacher"]["weights_sha256"] == shipped_teacher["weights"]["sha256"]
    assert taught["no_history"]["settings"]["distillation_weight"] == 1.0
    assert "teacher" not in taught["newcomer"]  # no teacher given: the labels alone
    assert taught["newcomer"]["settings"]["distillation_weight"] == 0.0
    assert "no --teachers for it, so it learns from its labels alone" in capsys.readouterr().out
    with pytest.raises(SystemExit):  # the newcomer network reads what 'model' does, but is another variant
        run(distilled, tmp_path / "refused.json", "--networks", "model", "--teachers",
            f"model={tmp_path / 'taught' / 'newcomer'}")  # fmt: skip
    assert "is the 'newcomer' network of its run, not 'model'" in capsys.readouterr().err
    # Reused only by a run that would train it so: with the same teacher; without one it is trained again.
    fits = []
    monkeypatch.setattr(training, "fit", lambda model, prepared, settings, **k: fits.append(settings) or {})
    again = run(distilled, tmp_path / "again.json", "--networks", "no_history", "--teachers", f"no_history={teacher}",
                "--reuse-networks", str(tmp_path / "taught.json"))["settings"]["trained"]  # fmt: skip
    assert fits == [] and again["no_history"]["teacher"] == taught["no_history"]["teacher"]
    run(distilled, tmp_path / "alone.json", "--networks", "no_history", "--reuse-networks",
        str(tmp_path / "taught.json"))  # fmt: skip
    assert [settings.distillation_weight for settings in fits] == [0.0]
