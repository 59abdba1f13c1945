"""How far another draw of people could move the catalogue-ranking numbers: bootstrap intervals over test people.

    python bench/ranking_uncertainty.py --data-dir ../shared/data [--resamples 2000] [--out FILE]

The shipped models' full-ranking NDCG@10 and Hit@10 on the seed split's test
people are means over about 6,000 people, and the README compares them with
baselines and bars to the fourth decimal. This ranks the catalogue for every
test person once per method (the shipped AutoInt+ and AutoInt under their
served rules, plain and graded EASE with the l2 and weight ``results/full.json``
records as chosen on validation, popularity), checks that each method's mean
reproduces its recorded number, then draws the people with replacement
(seeded) and prints, for each method, its mean with a 95% percentile interval,
and each difference from graded EASE with a paired interval (a person's two
values drawn together). It chooses nothing and changes nothing: the numbers
were read on test once already, and this only says how precisely.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

from movierec import artifacts, baselines, data, evaluation, metrics
from movierec.files import write_json
from movierec.prepared import prepare

ROOT = Path(__file__).resolve().parent.parent
MODELS = ("autointp", "autoint")
REFERENCE = "ease_graded"  # the strongest simple baseline on this split: every difference is against it


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
        expected[name] = (evaluated["full_ndcg@10"], evaluated["full_hit@10"])
    expected.update({method: (recorded[method]["full_ndcg@10"], recorded[method]["full_hit@10"])
                     for method in per_person if method not in MODELS})  # fmt: skip

    # Each mean must be the recorded one: the people and the rankings are those the README's numbers came from.
    for method, (ndcg, hit) in per_person.items():
        for got, want, metric in ((ndcg.mean(), expected[method][0], "NDCG@10"), (hit.mean(), expected[method][1],
                                                                                 "Hit@10")):  # fmt: skip
            if abs(got - want) > evaluation.REPRODUCED_WITHIN:
                raise SystemExit(f"{method}'s {metric} here is {got:.6f}, its recorded one {want:.6f}: not the "
                                 "ranking the README reports")  # fmt: skip

    draw = {"resamples": args.resamples, "seed": args.seed}
    result = {"people": len(people), "level": 0.95, **draw, "methods": {}}
    print(f"full ranking of the seed split's test people ({len(people):,}), 95% percentile bootstrap intervals over "
          f"people ({args.resamples} draws, seed {args.seed}); differences paired, against {REFERENCE}:\n")  # fmt: skip
    print("| method | NDCG@10 | minus graded EASE | Hit@10 | minus graded EASE |")
    print("|---|---|---|---|---|")
    for method, (ndcg, hit) in per_person.items():
        entry = {}
        for metric, values in (("full_ndcg@10", ndcg), ("full_hit@10", hit)):
            entry[metric] = metrics.bootstrap_interval(values, **draw)
            if method != REFERENCE:
                reference = per_person[REFERENCE][0 if metric == "full_ndcg@10" else 1]
                entry[f"{metric} minus {REFERENCE}"] = metrics.bootstrap_interval(values, reference, **draw)
        result["methods"][method] = {key: dict(zip(("mean", "low", "high"), value, strict=True))
                                     for key, value in entry.items()}  # fmt: skip
        cells = [interval(entry["full_ndcg@10"]), interval(entry.get(f"full_ndcg@10 minus {REFERENCE}"), sign=True),
                 interval(entry["full_hit@10"]), interval(entry.get(f"full_hit@10 minus {REFERENCE}"), sign=True)]
        print(f"| {method} | " + " | ".join(cells) + " |")
    result["seconds"] = round(time.perf_counter() - started, 1)
    print(f"\n{result['seconds'] / 60:.1f} min")
    if args.out is not None:
        write_json(args.out, result)
        print(f"written to {args.out}")


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


def interval(value: tuple[float, float, float] | None, sign: bool = False) -> str:
    if value is None:
        return "—"
    mean, low, high = value
    form = "+.4f" if sign else ".4f"
    return f"{mean:{form}} [{low:{form}}, {high:{form}}]"


if __name__ == "__main__":
    main()
