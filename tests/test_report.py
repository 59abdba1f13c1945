"""scripts/report.py: the newcomer network's table across runs that trained it otherwise."""

from __future__ import annotations

import pytest

from scripts.report import newcomer_variant_table


def run(model: str, ndcg: float, share: float = 0.5, rule: str | None = None, split: str = "s",
        fingerprint: str = "f", epochs: int = 8) -> dict:  # fmt: skip
    """A new-user run's file, cut to what the table reads: the newcomer network's NDCG@10 by K (test = validation
    + 0.1, so a column mix-up shows) and how the network was trained."""
    settings = {"epochs": epochs, "newcomer_share": share, **({"newcomer_history": rule} if rule else {})}
    by_k = {k: {"baselines": {"newcomer": {"full_ndcg@10": ndcg + step}}} for k, step in
            (("5", 0.02), ("10", 0.01), ("20", 0.0))}  # fmt: skip
    test = {k: {"baselines": {"newcomer": {"full_ndcg@10": e["baselines"]["newcomer"]["full_ndcg@10"] + 0.1}}}
            for k, e in by_k.items()}  # fmt: skip
    return {"model": model, "reveal": test, "settings": {
        "split": split, "data": {"fingerprint": fingerprint}, "validation_people": by_k,
        "trained": {"newcomer": {"settings": settings}}}}  # fmt: skip


def test_a_row_per_rule_and_share_in_the_rules_order_with_each_model_where_it_was_measured():
    runs = {"autointp": run("autointp", 0.30), "autoint": run("autoint", 0.20, share=0.8)}
    variants = {"autoint": {"a.json": run("autoint", 0.21), "b.json": run("autoint", 0.22, rule="first_ratings")}}
    lines = newcomer_variant_table(runs, variants).splitlines()
    assert lines[0].startswith("| newcomer rows keep | share of rows trained as newcomers' | AutoInt+: validation")
    assert lines[1] == "|---" * 6 + "|"  # the header's cells, as Markdown wants
    assert [line.split(" | ")[:2] for line in lines[2:]] == [
        ["| `oldest_kept`", "0.5"], ["| `oldest_kept`", "0.8"], ["| `first_ratings`", "0.5"]]  # fmt: skip
    assert lines[2].split(" | ")[2:] == ["0.3100 (0.3200, 0.3100, 0.3000)", "in AutoInt+'s table below",
                                          "0.2200 (0.2300, 0.2200, 0.2100)", "0.3300, 0.3200, 0.3100 |"]  # fmt: skip
    assert lines[3].split(" | ")[2:] == ["—", "—", "0.2100 (0.2200, 0.2100, 0.2000)", "in AutoInt's table below |"]
    assert lines[4].split(" | ")[2:] == ["—", "—", "0.2300 (0.2400, 0.2300, 0.2200)", "0.3400, 0.3300, 0.3200 |"]


@pytest.mark.parametrize(
    "variant, says",
    [
        (run("autoint", 0.21, split="other"), "not a run of 'autoint' on its whole run's data and split"),
        (run("autoint", 0.21, fingerprint="other"), "not a run of 'autoint' on its whole run's data and split"),
        (run("autointp", 0.21), "not a run of 'autoint'"),
        (run("autoint", 0.21, share=0.8, epochs=4), "otherwise than its whole run in more than which movies"),
        (run("autoint", 0.21, rule="oldest_kept"), r"as its whole run, results/newuser_autoint.json did \(oldest_k"),
    ],
)
def test_a_run_of_other_data_split_model_or_training_or_a_second_of_one_training_is_refused(variant, says):
    with pytest.raises(SystemExit, match=says):
        newcomer_variant_table({"autoint": run("autoint", 0.20)}, {"autoint": {"x.json": variant}})


def test_two_variant_runs_trained_alike_are_refused_naming_the_first():
    variants = {"autoint": {"a.json": run("autoint", 0.21, share=0.8), "b.json": run("autoint", 0.22, share=0.8)}}
    with pytest.raises(SystemExit, match=r"results/b.json trained autoint's newcomer network as results/a.json did"):
        newcomer_variant_table({"autoint": run("autoint", 0.20)}, variants)


def test_a_rule_chosen_again_shows_the_first_test_numbers_beside_the_served_ones():
    from scripts.report import rule_change_table

    ranking = {"like_exponent": 0.0, "prior_gain": 10.0, "evaluation_before": {"full_ndcg@10": 0.40},
               "evaluation_before_rule": [0.0, 6.0]}  # fmt: skip
    lines = rule_change_table(ranking, {"full_ndcg@10": 0.39}).splitlines()
    assert "| | like^0 prior x6 (first tested) | like^0 prior x10 (served) |" in lines
    assert "| full_ndcg@10 | 0.4000 | 0.3900 |" in lines
    # A set saved before rules existed was first tested under the plain product.
    plain = {key: value for key, value in ranking.items() if key != "evaluation_before_rule"}
    assert "| | like^1 prior x1 (first tested) | like^0 prior x10 (served) |" in rule_change_table(plain, {})
    assert rule_change_table({"like_exponent": 0.0, "prior_gain": 10.0}, {}) == ""  # chosen by its training run


def test_a_rule_chosen_again_unchanged_is_one_line_not_two_equal_columns():
    from scripts.report import rule_change_table

    unchanged = {"like_exponent": 0.0, "prior_gain": 10.0, "evaluation_before": {"full_ndcg@10": 0.40},
                 "evaluation_before_rule": [0.0, 10.0]}  # fmt: skip
    assert "|" not in rule_change_table(unchanged, {"full_ndcg@10": 0.40})
    assert "chosen again is the one first tested (like^0 prior x10)" in rule_change_table(unchanged, {})


def test_a_run_named_by_another_file_and_title_is_so_named_in_the_cells_and_refusals():
    """A model's variants may stand beside a replaced configuration's whole run, kept under another file name."""
    files, titles = {"autoint": "newuser_old.json"}, {"autoint": "Old AutoInt"}
    lines = newcomer_variant_table({"autoint": run("autoint", 0.20)}, {}, files, titles).splitlines()
    assert "Old AutoInt: validation mean (K = 5, 10, 20)" in lines[0]
    assert lines[2].endswith("| in Old AutoInt's table below |")
    with pytest.raises(SystemExit, match=r"as its whole run, results/newuser_old.json did"):
        newcomer_variant_table({"autoint": run("autoint", 0.20)}, {"autoint": {"x.json": run("autoint", 0.2)}},
                               files, titles)  # fmt: skip


def manifest(auc: float, ndcg: float, rule: tuple[float, float] = (0.0, 10.0), chosen_again: bool = False) -> dict:
    """A manifest cut to what a succession table reads: validation and test numbers, the served rule and, for a
    rule chosen after training, the train-only fit's validation numbers (test = validation + 0.2)."""
    validation = {"auc": auc, "full_ndcg@10": ndcg}
    ranking = {"like_exponent": rule[0], "prior_gain": rule[1]}
    if chosen_again:
        ranking["fit_validation"] = {"auc": auc + 0.001, "full_ndcg@10": ndcg + 0.001}
    return {"validation": validation, "evaluation": {"auc": auc + 0.2, "full_ndcg@10": ndcg + 0.2},
            "serving": {"ranking": ranking}}


@pytest.mark.parametrize("status", ["shipped", "replaced"])
def test_a_set_stands_beside_the_one_it_replaced_on_validation_then_test(status):
    from scripts.report import succession_table

    old = ("plain prior", manifest(0.60, 0.10, (0.25, 2.0), chosen_again=True))
    new = ("graded prior", manifest(0.61, 0.12))
    text = succession_table("AutoInt+", old, new, {"ease": {"full_ndcg@10": 0.30}}, status)
    lines = text.splitlines()
    assert (f"## AutoInt+, graded prior ({status}; ranked like^0 prior x10) against the AutoInt+ it replaced (plain "
            "prior): validation, then test") in lines  # fmt: skip
    # Validation: the new set's training-run numbers, the old one's from the fit its rule was chosen again on.
    assert ("| | graded prior, train-only fit (training run) | plain prior, train-only fit (rule choice) |"
            in lines)  # fmt: skip
    assert "| auc | 0.6100 | 0.6010 |" in lines and "| full_ndcg@10 | 0.1200 | 0.1010 |" in lines
    # Test: each set's own numbers beside the linear baseline.
    assert f"| | graded prior ({status}) | plain prior (replaced) | ease |" in lines
    assert "| full_ndcg@10 | 0.3200 | 0.3000 | 0.3000 |" in lines and "| auc | 0.8100 | 0.8000 | — |" in lines


def test_a_set_or_run_the_lists_name_must_be_on_file_and_of_its_model(tmp_path, monkeypatch):
    import json

    from scripts import report

    monkeypatch.setattr(report, "ROOT", tmp_path)
    (tmp_path / "results").mkdir()
    monkeypatch.setattr(report, "SUCCESSIONS", {"autoint": [("old", "old.json"), ("new", None)]})
    with pytest.raises(SystemExit, match=r"results/old.json is missing"):  # not a table silently left out
        report.successions({"autoint": manifest(0.6, 0.1)})
    (tmp_path / "results" / "old.json").write_text(json.dumps(manifest(0.5, 0.1)))
    shipped = manifest(0.6, 0.1)
    assert report.successions({"autoint": shipped}) == {"autoint": [("old", manifest(0.5, 0.1)), ("new", shipped)]}
    (tmp_path / "results" / "run.json").write_text(json.dumps({"model": "autointp"}))
    with pytest.raises(SystemExit, match=r"results/run.json holds a run for 'autointp', not 'autoint'"):
        report.kept("run.json", "autoint")


def newuser_run(chosen: str) -> dict:
    """A whole new-user run's file, cut to what its table reads (every method at 0.3, popularity at 0.2)."""
    numbers = {"full_ndcg@10": 0.3, "full_hit@10": 0.8}
    others = {n: numbers for n in ("no_prior", "newcomer", "no_history", "ease", "ease_graded")}
    entry = {"model": numbers, "baselines": {**others, "popularity": {"full_ndcg@10": 0.2, "full_hit@10": 0.7}}}
    return {"reveal": {"5": entry}, "settings": {
        "newcomers": {"model": {"prior_profile_power": 0.0}},
        "newcomer_network": {"network": chosen, "validation_mean_ndcg@10": {"model": 0.31, chosen: 0.32}},
        "trained": {"model": {"hyperparameters": {"ease_disliked_weight": 0.5},
                              "ranking": {"ranking_like_exponent": 0.0, "ranking_prior_gain": 10.0}}}}}  # fmt: skip


@pytest.mark.parametrize("replaced_as", [None, "256-wide AutoInt+"])
def test_a_new_user_run_of_a_replaced_model_is_headed_as_such_and_told_in_the_past(capsys, replaced_as):
    from scripts.report import print_newuser

    print_newuser(newuser_run("no_prior"), "AutoInt+", replaced_as=replaced_as)
    out = capsys.readouterr().out
    heading = "256-wide AutoInt+ (replaced)" if replaced_as else "AutoInt+"
    assert f"### newuser, {heading}: full ranking for people held out whole" in out
    assert ("Newcomers were served by" if replaced_as else "Newcomers are served by") in out
    head = next(line for line in out.splitlines() if line.startswith("| K revealed"))
    served = "served newcomers" if replaced_as else "serves newcomers"
    assert f"| network alone (history, no prior), {served} |" in head
    assert "| 5 | full_ndcg@10 | 0.3000 | 0.3000 | 0.3000 | 0.3000 | 0.2000 | 0.3000 | 0.3000 |" in out


def test_a_set_restored_after_being_replaced_stands_twice_and_ships_only_last(tmp_path, monkeypatch):
    import json

    from scripts import report

    monkeypatch.setattr(report, "ROOT", tmp_path)
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "plain.json").write_text(json.dumps(manifest(0.4, 0.1)))
    (tmp_path / "results" / "narrow.json").write_text(json.dumps(manifest(0.5, 0.1)))
    chain = [("plain", "plain.json"), ("wide", None), ("narrow", "narrow.json"), ("wide restored", None)]
    monkeypatch.setattr(report, "SUCCESSIONS", {"autointp": chain})
    shipped = manifest(0.6, 0.1)
    sets = report.successions({"autointp": shipped})
    got = sets["autointp"]
    assert [label for label, _ in got] == ["plain", "wide", "narrow", "wide restored"]
    assert got[1][1] is shipped and got[3][1] is shipped and got[2][1] == manifest(0.5, 0.1)
    first, second, third = report.succession_tables("AutoInt+", got, {})
    heading = "## AutoInt+, {} ({}; ranked like^0 prior x10) against the AutoInt+ it replaced ({})"
    # The wide set, though shipped now, had been replaced where it first stood; only the chain's last ships.
    assert heading.format("wide", "replaced, since restored", "plain") in first
    assert "| | wide (replaced, since restored) | plain (replaced) |" in first
    assert heading.format("narrow", "replaced", "wide") in second
    assert "| | narrow (replaced) | wide (replaced, since restored) |" in second
    assert heading.format("wide restored", "shipped", "narrow") in third
    assert "| | wide restored (shipped) | narrow (replaced) |" in third
    # Ranking-rule grids: the replaced sets', not the restored one's again (the shipped model's grid is printed).
    assert report.replaced_sets(sets, {"autointp": shipped}) == [
        (manifest(0.4, 0.1), "AutoInt+, plain (replaced)"), (manifest(0.5, 0.1), "AutoInt+, narrow (replaced)")]


def test_a_set_restored_then_replaced_again_stands_twice_from_its_file_and_its_grid_once(tmp_path, monkeypatch):
    import json

    from scripts import report

    monkeypatch.setattr(report, "ROOT", tmp_path)
    (tmp_path / "results").mkdir()
    for file, auc in (("plain.json", 0.4), ("wide.json", 0.5), ("narrow.json", 0.55)):
        (tmp_path / "results" / file).write_text(json.dumps(manifest(auc, 0.1)))
    chain = [("plain", "plain.json"), ("wide", "wide.json"), ("narrow", "narrow.json"), ("wide restored", "wide.json"),
             ("distilled", None)]  # fmt: skip
    monkeypatch.setattr(report, "SUCCESSIONS", {"autointp": chain})
    shipped = manifest(0.6, 0.1)
    sets = report.successions({"autointp": shipped})
    tables = report.succession_tables("AutoInt+", sets["autointp"], {})
    heading = "## AutoInt+, {} ({}; ranked like^0 prior x10) against the AutoInt+ it replaced ({})"
    assert heading.format("wide", "replaced, later restored", "plain") in tables[0]
    assert heading.format("narrow", "replaced", "wide") in tables[1]
    assert "| | narrow (replaced) | wide (replaced, later restored) |" in tables[1]
    assert heading.format("wide restored", "replaced", "narrow") in tables[2]
    assert "| | wide restored (replaced) | narrow (replaced) |" in tables[2]
    assert "| | distilled (shipped) | wide restored (replaced) |" in tables[3]
    assert report.replaced_sets(sets, {"autointp": shipped}) == [
        (manifest(0.4, 0.1), "AutoInt+, plain (replaced)"), (manifest(0.5, 0.1), "AutoInt+, wide (replaced)"),
        (manifest(0.55, 0.1), "AutoInt+, narrow (replaced)")]  # fmt: skip


def test_a_set_is_known_by_its_weights_so_a_copy_with_later_notes_is_the_same_set():
    from scripts import report

    def weighed(auc: float, sha: str, **serving) -> dict:
        made = manifest(auc, 0.1)
        made["weights"] = {"sha256": sha}
        made["serving"].update(serving)
        return made

    shipped = weighed(0.6, "a" * 64, newcomers={"source": "newuser.json"})  # its new-user choice added since
    copy = weighed(0.6, "a" * 64)  # kept in results/ when it was first replaced
    chain = [("wide", copy), ("narrow", weighed(0.5, "b" * 64)), ("wide restored", shipped)]
    first, second = report.succession_tables("AutoInt+", chain, {})
    assert "| | narrow (replaced) | wide (replaced, since restored) |" in first
    assert "| | wide restored (shipped) | narrow (replaced) |" in second
    assert report.replaced_sets({"autointp": chain}, {"autointp": shipped}) == [
        (weighed(0.5, "b" * 64), "AutoInt+, narrow (replaced)")]
    assert not report.same_set(copy, weighed(0.6, "c" * 64))  # other weights: another set, however alike
