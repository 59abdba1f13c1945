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


@pytest.mark.parametrize("shipped", [True, False])
def test_a_set_stands_beside_the_one_it_replaced_on_validation_then_test(shipped):
    from scripts.report import succession_table

    old = ("plain prior", manifest(0.60, 0.10, (0.25, 2.0), chosen_again=True))
    new = ("graded prior", manifest(0.61, 0.12))
    text = succession_table("AutoInt+", old, new, shipped, {"ease": {"full_ndcg@10": 0.30}})
    status = "shipped" if shipped else "replaced"
    lines = text.splitlines()
    assert (f"## AutoInt+, graded prior ({status}; ranked like^0 prior x10) against the AutoInt+ it replaced, plain "
            "prior: validation, then test") in lines  # fmt: skip
    # Validation: the new set's training-run numbers, the old one's from the fit its rule was chosen again on.
    assert ("| | graded prior, train-only fit (training run) | plain prior, train-only fit (rule choice) |"
            in lines)  # fmt: skip
    assert "| auc | 0.6100 | 0.6010 |" in lines and "| full_ndcg@10 | 0.1200 | 0.1010 |" in lines
    # Test: each set's own numbers beside the linear baseline.
    assert f"| | graded prior ({status}) | plain prior (replaced) | ease |" in lines
    assert "| full_ndcg@10 | 0.3200 | 0.3000 | 0.3000 |" in lines and "| auc | 0.8100 | 0.8000 | — |" in lines
