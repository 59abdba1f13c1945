"""Print the README's result tables from the committed manifests and results/*.json.

The shipped models' test numbers beside the baselines, each set against the one it replaced, the ranking rules'
grids, the training objectives and hard negatives, the other protocols, and the new-user runs (the shipped models',
the variants of their newcomer network, and the runs of models since replaced).

    python scripts/report.py

Nothing is measured here: every number comes from a file that one command
wrote (see the README for which), so the tables can be checked and refreshed;
the one figure derived is the newcomer table's mean over K of the
recorded NDCG@10s (what ``newuser.validation_means`` chooses by).
"""

from __future__ import annotations

import json
from pathlib import Path

from movierec.evaluation import parse_rule_name, rule_name

ROOT = Path(__file__).resolve().parent.parent
METRICS = ("auc", "logloss", "seed_ndcg@10", "seed_hr@10", "full_ndcg@10", "full_hit@10")
BASELINES = ("popularity", "movie_mean", "item_knn", "ease", "ease_graded")
# The committed runs of the new-user protocol, per model: python -m movierec.evaluate --protocol newuser --model
# NAME --out results/FILE (tests/test_real_data.py checks the app serves newcomers as each chose).
NEWUSER_RUNS = {"autointp": "newuser.json", "autoint": "newuser_autoint.json"}
# Shipped models whose new-user run is still to be made (after a retrain): they serve newcomers with their own
# network and its prior as trained, and claim no choice (tests/test_real_data.py holds them to it).
PENDING_NEWUSER_RUNS: set[str] = set()
# Runs made for a model since replaced: (model, file, whose run), kept on record, printed as such, no longer what
# serves newcomers.
REPLACED_NEWUSER_RUNS = [("autoint", "newuser_autoint_plain_prior.json", "plain-prior AutoInt"),
                         ("autointp", "newuser_tower256.json", "256-wide AutoInt+"),
                         ("autointp", "newuser_tower400.json", "400-wide AutoInt+")]
# Each family's sets in the order each replaced the last, as (label, the replaced set's manifest kept in results/, or
# None for the shipped one in model/); a set replaced and later restored stands twice, from the same file (or None
# both times if it ships). The replaced sets' weights stay in git history: model/autointp-02d7554b6d9c and
# model/autointp-d745a4d23c44.weights.h5 (AutoInt+ with the plain prior, then the graded prior's 256-wide tower,
# whose newcomer network was model/newcomers/7161df613a0d/), model/autoint-54e7cfd7d47b.weights.h5 (AutoInt with
# the plain prior); the 400-wide AutoInt+'s set and newcomer network, which taught the distilled one, are also kept
# in model/candidates/distilled128/ (teacher-400-refit, teacher-400-newcomer).
SUCCESSIONS = {
    "autointp": [("plain prior", "autointp_plain_prior.json"),
                 ("graded prior, 400-wide tower", "autointp_tower400.json"),
                 ("graded prior, 256-wide tower", "autointp_tower256.json"),
                 ("graded prior, 400-wide tower restored", "autointp_tower400.json"),
                 ("graded prior, 128-wide tower distilled from the 400-wide", None)],
    "autoint": [("plain prior", "autoint_plain_prior.json"), ("graded prior", None)],
}
TITLES = {"autointp": "AutoInt+", "autoint": "AutoInt"}
# The runs whose newcomer network was trained otherwise than in the model's whole run (NEWUSER_RUNS): which
# movies its rows keep (``TrainSettings.newcomer_history``) or how many rows train as newcomers'
# (``newcomer_share``), per model. Each file's own record says which. A whole run stands here, renamed, once a newer
# whole run of the same configuration takes its file name in NEWUSER_RUNS; one of a replaced configuration goes to
# REPLACED_NEWUSER_RUNS and, if variants of its network are listed here, to NEWCOMER_VARIANT_BASES.
NEWCOMER_VARIANT_RUNS = {
    "autointp": ["newuser_newcomer_share_0.5.json", "newuser_first_ratings.json", "newuser_later_rows.json"],
    "autoint": ["newuser_autoint_newcomer_share_0.5.json", "newuser_autoint_first_ratings.json",
                "newuser_autoint_later_rows.json"],
}
# Where a model's variants were trained for a configuration since replaced, the whole run they stand beside (the
# replaced configuration's, still on file) and its column's title, instead of the shipped model's run.
NEWCOMER_VARIANT_BASES: dict[str, tuple[str, str]] = {"autointp": ("newuser_tower400.json", "400-wide AutoInt+")}


def load(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {}


def kept(file: str, model: str | None = None) -> dict:
    """A file this script's lists name in results/: it must be there, and a run must be of ``model``."""
    record = load(ROOT / "results" / file)
    if not record:
        raise SystemExit(f"report: results/{file} is missing (named in scripts/report.py)")
    if model is not None and record.get("model") != model:
        raise SystemExit(f"report: results/{file} holds a run for {record.get('model')!r}, not {model!r}")
    return record


def successions(manifests: dict[str, dict]) -> dict[str, list[tuple[str, dict]]]:
    """Each family's sets in SUCCESSIONS' order as (label, manifest): the replaced ones from results/, the shipped
    one (``manifests``) last, and where it stood before being replaced and restored."""
    return {name: [(label, manifests[name] if file is None else kept(file)) for label, file in chain]
            for name, chain in SUCCESSIONS.items()}  # fmt: skip


def cell(value) -> str:
    return "—" if value is None else f"{value:.4f}"


def table(columns: dict[str, dict], metrics=METRICS) -> str:
    lines = ["| | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for metric in metrics:
        if all(c.get(metric) is None for c in columns.values()):
            continue
        lines.append(f"| {metric} | " + " | ".join(cell(c.get(metric)) for c in columns.values()) + " |")
    return "\n".join(lines)


def ranking_rule_table(ranking: dict, title: str) -> str:
    """Validation full-ranking NDCG@10 of every ranking rule: a row per like exponent, a column per prior gain."""
    cells = {}
    for name, numbers in ranking["validation"].items():
        cells[parse_rule_name(name)] = numbers["full_ndcg@10"]
    exponents = sorted({e for e, _ in cells}, reverse=True)
    gains = sorted({g for _, g in cells})
    chosen = rule_name((ranking["like_exponent"], ranking["prior_gain"]))
    lines = [f"\n## {title} ranking rule, validation full_ndcg@10 (chosen: {chosen})\n",
             "| P(like) exponent \\ prior gain | " + " | ".join(f"{g:g}" for g in gains) + " |",
             "|---" * (len(gains) + 1) + "|"]
    for e in exponents:
        lines.append(f"| {e:g} | " + " | ".join(cell(cells.get((e, g))) for g in gains) + " |")
    return "\n".join(lines)


def rule_change_table(ranking: dict, evaluation: dict) -> str:
    """Test, the same weights under the rule their first test numbers were measured with and under the served one,
    for a rule chosen again (``evaluate --choose-ranking-rule`` keeps the first numbers); "" for any other."""
    if "evaluation_before" not in ranking:
        return ""
    from movierec.scoring import PRODUCT_RULE  # what a set saved before rules was first tested under

    before = ranking.get("evaluation_before_rule", PRODUCT_RULE)
    served = rule_name((ranking["like_exponent"], ranking["prior_gain"]))
    if tuple(before) == (ranking["like_exponent"], ranking["prior_gain"]):  # chosen again, unchanged: one set
        return f"\nTest: the rule chosen again is the one first tested ({served}); its test numbers are above."
    columns = {f"{rule_name(before)} (first tested)": ranking["evaluation_before"], f"{served} (served)": evaluation}
    return "\nTest, the same weights under each rule:\n\n" + table(columns)


def hard_negatives_table(run: dict) -> str:
    """Validation full ranking with hard negatives (bench/hard_negatives.py): the best rule of each kind."""
    grid, share = run["validation"], run["settings"]["hard_negative_share"]

    def best(rules: dict) -> tuple[str, dict]:
        return max(rules.items(), key=lambda item: item[1]["full_ndcg@10"])

    def with_c(c: float) -> dict:
        return {name: numbers for name, numbers in grid.items() if name.endswith(f" c{c:g}")}

    overall = best(grid)
    rows = {
        "uniform (the plain-prior AutoInt+'s train-only fit)": best(run["uniform_negatives_validation"]),
        f"share {share:g} hard, ranked as trained": best(with_c(0.0)),
        f"share {share:g} hard, rated logit corrected for the sampling bias (c = 1)": best(with_c(1.0)),
        f"share {share:g} hard, the grid's best (c = {overall[0].rsplit(' c', 1)[1]})": overall,
        f"EASE alone (l2 {run['ease_validation']['l2']:g})": ("", run["ease_validation"]),
    }
    lines = [f"\n## Hard negatives, validation full ranking ({len(grid)} rules; "
             f"{run['validation_liked_in_training_pools']:.1%} of liked validation movies in the training pools)\n",
             "| negatives | best rule | NDCG@10 | Hit@10 |", "|---|---|---|---|"]  # fmt: skip
    for label, (rule, numbers) in rows.items():
        lines.append(f"| {label} | {rule} | {cell(numbers['full_ndcg@10'])} | {cell(numbers['full_hit@10'])} |")
    return "\n".join(lines)


def train_only_fit(manifest: dict) -> tuple[dict, str]:
    """A manifest's validation numbers under its served rule, and where they come from: a rule chosen after the
    training run ranked its own train-only fit; else the training run's numbers hold."""
    chosen_again = manifest.get("serving", {}).get("ranking", {}).get("fit_validation")
    return (chosen_again, "rule choice") if chosen_again else (manifest.get("validation", {}), "training run")


def succession_table(title: str, old: tuple[str, dict], new: tuple[str, dict], linear: dict,
                     status: str = "replaced", old_status: str = "replaced") -> str:
    """A set (label, manifest) against the one it replaced: both configurations' fits on the training part on
    validation, then both sets' test numbers beside the linear baselines (``linear``). ``status`` says what became
    of the new set (shipped, replaced, or replaced and since restored), ``old_status`` of the old one."""
    (old_label, old_manifest), (new_label, new_manifest) = old, new
    ranking = new_manifest.get("serving", {}).get("ranking", {})
    rule = rule_name((ranking.get("like_exponent", 1), ranking.get("prior_gain", 1)))
    (new_fit, new_source), (old_fit, old_source) = train_only_fit(new_manifest), train_only_fit(old_manifest)
    return "\n".join([
        f"\n## {title}, {new_label} ({status}; ranked {rule}) against the {title} it replaced ({old_label}): "
        "validation, then test\n",
        table({f"{new_label}, train-only fit ({new_source})": new_fit,
               f"{old_label}, train-only fit ({old_source})": old_fit}),
        "",
        table({f"{new_label} ({status})": new_manifest.get("evaluation", {}),
               f"{old_label} ({old_status})": old_manifest.get("evaluation", {}), **linear}),
    ])  # fmt: skip


def same_set(one: dict, other: dict) -> bool:
    """Whether two manifests are of one set: the same weights (a manifest copied to results/ may differ from the
    shipped one in serving choices or notes added since), or, without a weights record, the same manifest."""
    weights = [m.get("weights", {}).get("sha256") for m in (one, other)]
    return weights[0] == weights[1] if all(weights) else one == other


def succession_tables(title: str, chain: list[tuple[str, dict]], linear: dict) -> list[str]:
    """Each set of a family's chain against the one before it. The last is the shipped one; a set restored after
    being replaced stands in the chain twice, and where it was first replaced is told as since restored (it ships
    again) or later restored (it was replaced again after)."""

    def status(position: int) -> str:
        if position == len(chain) - 1:
            return "shipped"
        again = [p for p in range(position + 1, len(chain)) if same_set(chain[p][1], chain[position][1])]
        if not again:
            return "replaced"
        return "replaced, since restored" if again[-1] == len(chain) - 1 else "replaced, later restored"

    return [succession_table(title, chain[i - 1], chain[i], linear, status(i), status(i - 1))
            for i in range(1, len(chain))]  # fmt: skip


def replaced_sets(sets: dict[str, list[tuple[str, dict]]], manifests: dict[str, dict]) -> list[tuple[dict, str]]:
    """The replaced sets of each family's chain as (manifest, title), each once, under the label it first stood
    by, but a shipped one restored after being replaced: its tables are the shipped model's."""
    replaced: list[tuple[dict, str]] = []
    for name, chain in sets.items():
        for label, old in chain[:-1]:
            if not same_set(old, manifests[name]) and not any(same_set(old, seen) for seen, _ in replaced):
                replaced.append((old, f"{TITLES[name]}, {label} (replaced)"))
    return replaced


def main() -> None:
    manifests = {name: load(ROOT / "model" / f"{name}.manifest.json") for name in ("autointp", "autoint")}
    full = load(ROOT / "results" / "full.json")  # python -m movierec.evaluate --model autointp --out ...
    columns = {f"{n} (shipped)": m.get("evaluation", {}) for n, m in manifests.items()}
    columns.update({b: full["baselines"][b] for b in BASELINES if b in full.get("baselines", {})})
    print("## Project split (test)\n")
    print(table(columns))
    if "ease" in full.get("baselines", {}):
        print(f"\nEASE l2 = {full['baselines']['ease']['l2']:g}, chosen on validation.")
    graded = full.get("baselines", {}).get("ease_graded")
    if graded:
        print(f"Graded EASE: l2 = {graded['l2']:g}, disliked movies weighted {graded['disliked_weight']:g}, chosen on "
              "validation:\n")
        grid = graded["validation_ndcg@10"]  # "l2 L, disliked W"
        cells = {tuple(float(part.split()[-1]) for part in key.split(", ")): value for key, value in grid.items()}
        weights, l2s = sorted({w for _, w in cells}), sorted({l2 for l2, _ in cells})
        print("| validation full_ndcg@10, disliked weight \\ l2 | " + " | ".join(f"{l2:g}" for l2 in l2s) + " |")
        print("|---" * (len(l2s) + 1) + "|")
        for w in weights:
            print(f"| {w:g} | " + " | ".join(cell(cells.get((l2, w))) for l2 in l2s) + " |")

    linear = {b: full["baselines"][b] for b in ("ease", "ease_graded") if b in full.get("baselines", {})}
    sets = successions(manifests)
    for name, chain in sets.items():
        for text in succession_tables(TITLES[name], chain, linear):
            print(text)

    shown = [(manifests[name], TITLES[name]) for name in ("autointp", "autoint")]
    shown += replaced_sets(sets, manifests)
    for manifest, title in shown:
        ranking = manifest.get("serving", {}).get("ranking")
        if ranking:  # chosen by the training run, or by python -m movierec.evaluate --choose-ranking-rule
            print(ranking_rule_table(ranking, title))
            if changed := rule_change_table(ranking, manifest.get("evaluation", {})):
                print(changed)

    objectives = load(ROOT / "results" / "objectives.json")
    if objectives:
        print(f"\n## Training objectives, AutoInt+, {objectives['epochs']} epochs each, no refit\n")
        if "validation" in objectives:
            floors = ", ".join(f"{m} >= {v}" for m, v in objectives.get("floors", {}).items()) or "none"
            print(f"Validation (chosen: {objectives['chosen']}, by {objectives['selection_metric']} among those with "
                  f"{floors}; by the metric alone: {objectives.get('best_without_floors', objectives['chosen'])}):\n")
            print(table(objectives["validation"]))
            print("\nTest:\n")
        else:  # written before the benchmark chose on validation
            print("Test (an earlier run with no validation table):\n")
        print(table(objectives["results"]))

    hard = load(ROOT / "results" / "hard_negatives.json")
    if hard:
        print(hard_negatives_table(hard))

    print("\n## Protocols\n")
    for name in ("temporal", "paper", "recbole"):
        result = load(ROOT / "results" / f"{name}.json")
        if not result:
            continue
        columns = {"AutoInt+ (ours)": result, **result.get("baselines", {})}
        for source, numbers in result["protocol"]["published"].items():
            columns[source] = numbers
        print(f"### {name}: {result['protocol']['summary']}\n")
        print(table(columns) + "\n")

    runs = {name: {} if name in PENDING_NEWUSER_RUNS else kept(file, name) for name, file in NEWUSER_RUNS.items()}
    bases = {name: NEWCOMER_VARIANT_BASES.get(name, (file, TITLES[name])) for name, file in NEWUSER_RUNS.items()}
    based = {name: runs[name] if file == NEWUSER_RUNS[name] else kept(file, name)
             for name, (file, _) in bases.items()}  # fmt: skip
    if any(based.values()):
        variants = {name: {file: load(ROOT / "results" / file) for file in files}
                    for name, files in NEWCOMER_VARIANT_RUNS.items()}  # fmt: skip
        variants = {name: {file: run for file, run in files.items() if run} for name, files in variants.items()}
        print("### newuser, the network trained for newcomers by which movies its rows keep and how many\n")
        print(newcomer_variant_table(based, variants, {name: file for name, (file, _) in bases.items()},
                                     {name: title for name, (_, title) in bases.items()}) + "\n")  # fmt: skip
    for name, run in runs.items():
        if run:
            print_newuser(run, TITLES[name])
    for name in sorted(PENDING_NEWUSER_RUNS):
        print(f"### newuser, {TITLES[name]}: the shipped model's run is still to be made; newcomers get its own "
              "network with its prior as trained\n")
    for name, file, label in REPLACED_NEWUSER_RUNS:
        print_newuser(kept(file, name), TITLES[name], replaced_as=label)


def newcomer_training(run: dict) -> tuple[str, float]:
    """How a run's newcomer network was trained: (which movies its rows keep, the share of rows trained so); runs
    before the rule was recorded kept the oldest of the history."""
    settings = run["settings"]["trained"]["newcomer"]["settings"]
    return settings.get("newcomer_history", "oldest_kept"), float(settings["newcomer_share"])


def trained_alike(run: dict) -> dict:
    """A run's newcomer network's hyperparameters and training settings but the two a variant may change."""
    record = run["settings"]["trained"]["newcomer"]
    settings = {k: v for k, v in record["settings"].items() if k not in ("newcomer_history", "newcomer_share")}
    return {"hyperparameters": record.get("hyperparameters"), "settings": settings}


def newcomer_variant_table(runs: dict[str, dict], variants: dict[str, dict[str, dict]],
                           files: dict[str, str] = NEWUSER_RUNS, titles: dict[str, str] = TITLES) -> str:
    """The network trained for newcomers by how it was trained (a row per rule and share): the validation people's
    mean NDCG@10 over K (what chooses) with each K, and the test people's NDCG@10 by K, for every model whose whole
    run (``runs``, written as ``files``, in columns titled ``titles``) trained one. ``variants`` holds, per model,
    the runs (by file name) that trained it otherwise; each must be of the whole run's model, data and split, train
    the network as the whole run did in all else, and no two may train it alike."""
    from movierec.pipeline import NEWCOMER_HISTORIES

    def numbers(run: dict) -> list[str]:
        on = {k: e["baselines"]["newcomer"]["full_ndcg@10"] for k, e in run["settings"]["validation_people"].items()}
        test = ", ".join(f"{e['baselines']['newcomer']['full_ndcg@10']:.4f}" for e in run["reveal"].values())
        return [f"{sum(on.values()) / len(on):.4f} (" + ", ".join(f"{v:.4f}" for v in on.values()) + ")", test]

    models = [name for name, run in runs.items() if "newcomer" in run.get("settings", {}).get("trained", {})]
    cells: dict[tuple[str, float], dict[str, list[str]]] = {}
    for name in models:
        whole = runs[name]
        cells.setdefault(newcomer_training(whole), {})[name] = [numbers(whole)[0], f"in {titles[name]}'s table below"]
        source = {newcomer_training(whole): f"its whole run, results/{files.get(name, '?')}"}
        for file, run in variants.get(name, {}).items():
            same = (run.get("model"), run["settings"]["split"], run["settings"]["data"]["fingerprint"])
            if same != (name, whole["settings"]["split"], whole["settings"]["data"]["fingerprint"]):
                raise SystemExit(f"results/{file} is not a run of {name!r} on its whole run's data and split")
            if trained_alike(run) != trained_alike(whole):
                raise SystemExit(f"results/{file} trained {name}'s newcomer network otherwise than its whole run in "
                                 "more than which movies its rows keep and how many rows train so")  # fmt: skip
            trained = newcomer_training(run)
            if trained in source:
                rule, share = trained
                raise SystemExit(f"results/{file} trained {name}'s newcomer network as {source[trained]} did "
                                 f"({rule}, share {share:g})")  # fmt: skip
            cells.setdefault(trained, {})[name], source[trained] = numbers(run), f"results/{file}"
    order = sorted(cells, key=lambda key: (NEWCOMER_HISTORIES.index(key[0]), key[1]))
    heads = [h for name in models for h in (f"{titles[name]}: validation mean (K = 5, 10, 20)",
                                            f"{titles[name]}: test, K = 5, 10, 20")]  # fmt: skip
    lines = ["| newcomer rows keep | share of rows trained as newcomers' | " + " | ".join(heads) + " |",
             "|---" * (len(heads) + 2) + "|"]  # fmt: skip
    lines += [f"| `{rule}` | {share:g} | " + " | ".join(c for name in models for c in cells[(rule, share)].get(
        name, ["—", "—"])) + " |" for rule, share in order]  # fmt: skip
    return "\n".join(lines)


def print_newuser(run: dict, title: str, replaced_as: str | None = None) -> None:
    """One new-user run: the networks, popularity and EASE fold-in for people held out whole, per K revealed; a run
    made for a model since replaced is headed by ``replaced_as``, what that model was."""
    if "partial" in run["settings"]:  # --networks: a network or two, no model column, no choice to report
        raise SystemExit(f"report: the {title} new-user file is a partial run (evaluate --networks), not a whole one")
    replaced = replaced_as is not None
    heading = f"{replaced_as} (replaced)" if replaced else title
    print(f"### newuser, {heading}: full ranking for people held out whole, after they reveal K ratings\n")
    first = next(iter(run["reveal"].values()))["baselines"]
    stacked = "no_prior" in first
    power = run["settings"].get("newcomers", {}).get("model", {}).get("prior_profile_power")
    trained = run["settings"].get("trained", {}).get("model", {}).get("hyperparameters", {})
    prior = "graded EASE prior" if trained.get("ease_disliked_weight", 1.0) != 1 else "plain EASE prior"
    names, heads = [], [f"{title} with history" + (f" and {prior}" if stacked else "")]
    if power is not None:
        heads[0] += f" (prior power {power:g}, chosen on validation people)"
    rule = run["settings"].get("trained", {}).get("model", {}).get("ranking")
    if rule:  # runs before the rule was recorded ranked by the plain product, and say nothing of it
        print(f"Every network ranked by the rule recorded with the run: P(rated) x P(like | rated) ** "
              f"{rule['ranking_like_exponent']:g}, the prior's share x {rule['ranking_prior_gain']:g}.\n")
    serving = run["settings"].get("newcomer_network")
    if serving:  # runs before the choice was recorded made none
        label = {"model": "the stacked model", "no_prior": "the network alone (history, no prior)",
                 "newcomer": "the network trained for newcomers", "no_history": "the network without history"}
        means = ", ".join(f"{label.get(n, n)} {v:.4f}" + (" (not a candidate: it ignores their ratings)"
                                                             if n == "no_history" else "")
                          for n, v in serving["validation_mean_ndcg@10"].items())  # fmt: skip
        served = label.get(serving["network"], serving["network"])
        print(f"Newcomers {'were' if replaced else 'are'} served by {served}, chosen on the "
              f"validation people by mean NDCG@10 over the three K ({means}).\n")  # fmt: skip
    if "model_unscaled" in first:
        names.append("model_unscaled")
        heads.append("same, prior as trained (power 0)")
    if stacked:
        names.append("no_prior")
        heads.append("network alone (history, no prior)")
    if "newcomer" in first:  # runs before it was trained have no such column
        names.append("newcomer")
        heads.append("network trained for newcomers (history, no prior)")
    for column, name in enumerate(names, start=1):  # heads[0] is the model's
        if serving and serving["network"] == name:
            heads[column] += ", served newcomers" if replaced else ", serves newcomers"
    graded = "ease_graded" in first  # runs before graded EASE have no such column
    heads += ["without history", "popularity", "plain EASE fold-in" if graded else "EASE fold-in"]
    if graded:
        heads.append("graded EASE fold-in")
    print("| K revealed | metric | " + " | ".join(heads) + " |")
    print("|---|---|" + "---|" * len(heads))
    for k, entry in run["reveal"].items():
        others = entry["baselines"]
        for metric in ("full_ndcg@10", "full_hit@10"):
            shown = [*names, "no_history", "popularity", "ease", *(["ease_graded"] if graded else [])]
            values = [entry["model"], *(others[n] for n in shown)]
            print(f"| {k} | {metric} | " + " | ".join(cell(v[metric]) for v in values) + " |")
    print()


if __name__ == "__main__":
    import sys

    sys.path.insert(0, str(ROOT))  # a clone's own package, installed or not
    main()
