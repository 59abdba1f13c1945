"""How far another draw of people could move the ranking numbers: bootstrap intervals over test people.

    python bench/ranking_uncertainty.py --data-dir ../shared/data [--resamples 2000] [--out FILE]

The README compares means over people with baselines and bars to the fourth
decimal. This ranks again, once per method, for every person those means
are over, checks that each method's mean reproduces its recorded number,
then draws the people with replacement (seeded) and prints each mean with a
95% percentile interval and each lead with a paired one (a person's two
values drawn together). Two sets of people:

* **catalogue**: the seed split's test people, the shipped AutoInt+ and AutoInt
  under their served rules, plain and graded EASE with the l2 and weight
  ``results/full.json`` records as chosen on validation, popularity; leads are
  differences from graded EASE.
* **newcomers**: the new-user protocol's test people after revealing K
  ratings, the network serving AutoInt+'s newcomers (``results/newuser.json``'s
  choice), popularity and EASE fold-ins with that run's l2 and weight; leads
  are the network's NDCG@10 over each baseline's, as a share of the
  baseline's (the history issue's bar: 5% at every K).

It chooses nothing and changes nothing: the numbers were read on test once
already, and this only says how precisely.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

from movierec import artifacts, baselines, data, evaluation, metrics, newuser
from movierec.files import write_json
from movierec.prepared import prepare
from movierec.split import new_user_split

ROOT = Path(__file__).resolve().parent.parent
MODELS = ("autointp", "autoint")
REFERENCE = "ease_graded"  # the strongest simple baseline on this split: every difference is against it
NEWCOMER_BASELINES = ("popularity", "ease", "ease_graded")  # what the history issue's new-user bar is over


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--resamples", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    if args.resamples < 100:
        parser.error(f"--resamples {args.resamples}: at least 100 draws make a 95% interval")
    if args.out is not None and args.out.is_dir():
        parser.error(f"--out {args.out} is a folder; name a JSON file")

    started = time.perf_counter()
    release = data.load("ml-1m", args.data_dir, download=False)
    draw = {"resamples": args.resamples, "seed": args.seed}
    served = newcomer_network(release)  # its checks are quick: made before the catalogue's minutes of ranking
    result = {"level": 0.95, **draw, "catalogue": catalogue(release, draw), "newcomers": newcomers(served, draw)}
    result["seconds"] = round(time.perf_counter() - started, 1)
    print(f"\n{result['seconds'] / 60:.1f} min")
    if args.out is not None:
        write_json(args.out, result)
        print(f"written to {args.out}")


def catalogue(release, draw: dict) -> dict:
    """Every method's full ranking of the seed split's test people, against graded EASE."""
    recorded = json.loads((ROOT / "results" / "full.json").read_text())["baselines"]
    per_person, people, expected = {}, None, {}
    for name in MODELS:
        model, encoder, manifest = artifacts.load(name)
        if release.fingerprint() != manifest.get("data", {}).get("fingerprint"):
            raise SystemExit(f"the data in {release.path} is not the data the shipped {name} was trained on")
        prepared = prepare(release, encoder=encoder)
        scorers = {name: evaluation.model_scorer(model, prepared, "test")}
        if name == MODELS[0]:  # the baselines need any one preparation of the split: the first model's
            scorers.update(baseline_scorers(prepared, recorded))
        ranked_people, ranked = evaluation.full_rankings_per_user(prepared, scoring(scorers), tuple(scorers))
        if people is not None and not np.array_equal(people, ranked_people):
            raise SystemExit(f"{name} was ranked for other test people than {MODELS[0]}: the split differs")
        people = ranked_people
        per_person.update(ranked)
        evaluated = manifest["evaluation"]
        if len(people) != evaluated["full_users"]:
            raise SystemExit(f"{len(people)} test people ranked; {name}'s manifest averages over "
                             f"{evaluated['full_users']}")
        expected[name] = (evaluated["full_ndcg@10"], evaluated["full_hit@10"])
    expected.update({method: (recorded[method]["full_ndcg@10"], recorded[method]["full_hit@10"])
                     for method in per_person if method not in MODELS})  # fmt: skip
    for method, values in per_person.items():  # the people and rankings the README's numbers came from
        reproduces(method, values, expected[method])

    result = {"people": len(people), "methods": {}}
    print(f"catalogue: full ranking of the seed split's test people ({len(people):,}), 95% percentile bootstrap "
          f"intervals over people ({draw['resamples']} draws, seed {draw['seed']}); differences paired, against "
          f"{REFERENCE}:\n")  # fmt: skip
    print("| method | NDCG@10 | minus graded EASE | Hit@10 | minus graded EASE |")
    print("|---|---|---|---|---|")
    for method, (ndcg, hit) in per_person.items():
        entry = {}
        for metric, values in (("full_ndcg@10", ndcg), ("full_hit@10", hit)):
            entry[metric] = metrics.bootstrap_interval(values, **draw)
            if method != REFERENCE:
                reference = per_person[REFERENCE][0 if metric == "full_ndcg@10" else 1]
                entry[f"{metric} minus {REFERENCE}"] = metrics.bootstrap_interval(values, reference, **draw)
        result["methods"][method] = named(entry)
        cells = [interval(entry["full_ndcg@10"]), interval(entry.get(f"full_ndcg@10 minus {REFERENCE}"), sign=True),
                 interval(entry["full_hit@10"]), interval(entry.get(f"full_hit@10 minus {REFERENCE}"), sign=True)]
        print(f"| {method} | " + " | ".join(cells) + " |")
    return result


def newcomer_network(release) -> tuple[dict, str, object, object]:
    """``results/newuser.json``, the network it chose for AutoInt+'s newcomers, that network as it serves them and
    the protocol's split prepared for it; refused unless the shipped model serves newcomers as the run chose, on the
    run's data and split."""
    run = json.loads((ROOT / "results" / "newuser.json").read_text())
    settings, name = run["settings"], run["model"]
    chosen = settings["newcomer_network"]["network"]
    if release.fingerprint() != settings["data"]["fingerprint"]:
        raise SystemExit(f"the data in {release.path} is not the data results/newuser.json's run was made on")
    serving = artifacts.read_manifest(artifacts.manifest_path(name)).get("serving", {}).get("newcomers", {})
    variant = serving.get("network", {}).get("variant", "model")
    if serving.get("source") != "newuser.json" or variant != chosen:
        raise SystemExit(f"results/newuser.json chose {chosen!r} for newcomers, and the shipped {name} serves them "
                         f"with {variant!r} (recorded from {serving.get('source')!r}): apply the run's choice first")
    model, encoder, _ = artifacts.load(name, *(artifacts.newcomer_folders(name) or ()))
    prepared = prepare(release, encoder=encoder, split=new_user_split(release.ratings))
    if newuser.describe(prepared.split) != settings["split"]:
        raise SystemExit("this code splits the people otherwise than results/newuser.json's run did")
    return run, chosen, model, prepared


def newcomers(served: tuple, draw: dict) -> dict:
    """The network serving AutoInt+'s newcomers on the new-user protocol's test people, per K revealed, against
    popularity and the EASE fold-ins, its leads as shares of theirs."""
    run, chosen, model, prepared = served
    settings, name = run["settings"], run["model"]
    graded = settings["ease_graded"]
    fitted = newuser.Baselines.fit(prepared, settings["ease_l2"], (graded["l2"], graded["disliked_weight"]))
    n_movies = len(prepared.data.movies)
    result = {"network": chosen, "reveal": {}}
    print(f"\nnewcomers: the new-user protocol's test people, {name}'s network serving newcomers ({chosen}), NDCG@10 "
          "with 95% intervals; its lead over each baseline as a share of the baseline's NDCG@10, paired:\n")
    print("| K revealed | people | network NDCG@10 | over popularity | over plain EASE fold-in | "
          "over graded EASE fold-in |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    for k, recorded in run["reveal"].items():
        onboarding = newuser.onboard(prepared, int(k), "test")
        scorers = {chosen: newuser.model_scores(model, prepared, onboarding), **fitted.scorers(onboarding)}
        per_person = {method: newuser.rank_per_person(onboarding, score, n_movies) for method, score in scorers.items()}
        numbers = recorded["model"] if chosen == "model" else recorded["baselines"][chosen]
        expected = {chosen: numbers, **{b: recorded["baselines"][b] for b in NEWCOMER_BASELINES}}
        for method, values in per_person.items():
            if len(values[0]) != expected[method]["users"]:
                raise SystemExit(f"{method} at K = {k}: {len(values[0])} people ranked, the run's "
                                 f"{expected[method]['users']}")
            reproduces(f"{method} at K = {k}", values, (expected[method]["full_ndcg@10"],
                                                        expected[method]["full_hit@10"]))  # fmt: skip
        ndcg = per_person[chosen][0]
        entry = {"full_ndcg@10": metrics.bootstrap_interval(ndcg, **draw)}
        for baseline in NEWCOMER_BASELINES:
            entry[f"full_ndcg@10 over {baseline}"] = metrics.bootstrap_interval(
                ndcg, per_person[baseline][0], relative=True, **draw)  # fmt: skip
        result["reveal"][k] = {"people": len(ndcg), **named(entry)}
        cells = [interval(entry["full_ndcg@10"])]
        cells += [share(entry[f"full_ndcg@10 over {baseline}"]) for baseline in NEWCOMER_BASELINES]
        print(f"| {k} | {len(ndcg)} | " + " | ".join(cells) + " |")
    return result


def reproduces(method: str, values: tuple[np.ndarray, np.ndarray], expected: tuple[float, float]) -> None:
    """A method's per-person numbers must average to its recorded ones: the same people, the same ranking."""
    for got, want, metric in zip((v.mean() for v in values), expected, ("NDCG@10", "Hit@10"), strict=True):
        if abs(got - want) > evaluation.REPRODUCED_WITHIN:
            raise SystemExit(f"{method}'s {metric} here is {got:.6f}, its recorded one {want:.6f}: not the ranking "
                             "the README reports")  # fmt: skip


def named(entry: dict) -> dict:
    return {key: dict(zip(("mean", "low", "high"), value, strict=True)) for key, value in entry.items()}


def scoring(scorers: dict):
    """One call scoring a chunk of people by every method: what ``full_rankings_per_user`` asks for."""
    return lambda rows: {method: score(rows) for method, score in scorers.items()}


def baseline_scorers(prepared, recorded: dict) -> dict:
    """Popularity, plain EASE and graded EASE fitted on the training part, with the l2 and disliked weight chosen on
    validation as ``results/full.json`` records them."""
    rated = prepared.frame(*evaluation.history_parts("test"))
    users, catalogue = prepared.data.users["user_id"].to_numpy(), prepared.data.movies["movie_id"].to_numpy()
    popular = baselines.score(baselines.fit(rated)["popularity"], catalogue)
    plain = baselines.EASE(rated, users, catalogue, recorded["ease"]["l2"])
    graded = baselines.EASE(rated, users, catalogue, recorded[REFERENCE]["l2"], recorded[REFERENCE]["disliked_weight"])
    return {"popularity": lambda rows: np.broadcast_to(popular, (len(rows), len(popular))),
            "ease": plain.score_rows, REFERENCE: graded.score_rows}  # fmt: skip


def share(value: tuple[float, float, float]) -> str:
    mean, low, high = (100 * v for v in value)
    return f"{mean:+.1f}% [{low:+.1f}%, {high:+.1f}%]"


def interval(value: tuple[float, float, float] | None, sign: bool = False) -> str:
    if value is None:
        return "—"
    mean, low, high = value
    form = "+.4f" if sign else ".4f"
    return f"{mean:{form}} [{low:{form}}, {high:{form}}]"


if __name__ == "__main__":
    main()
