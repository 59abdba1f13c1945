"""Training objectives for top-N recommendation, compared in one table on the project split.

    python bench/objectives.py --data-dir ../shared/data --epochs 3 --out results/objectives.json

Every variant is AutoInt+ with the default (untuned) hyperparameters of
``movierec.models``, trained for the same number of epochs (early stopping on
validation AUC may end it sooner, no refit) and measured on the validation
split; the default objective is the one with the best validation full-ranking
NDCG@10 among those whose validation AUC clears the like bar
(``movierec.experiment.select`` with ``LIKE_FLOOR``). Each variant is then
evaluated on the test split, under both protocols, for the report.
``--reselect FILE`` redoes only the choice from the validation numbers a
run saved. The variants:

* ``rating``: rated rows only, ordinal loss on the 1-5 rating (the core issue's model);
* ``implicit``: plus k sampled unrated movies per rated row as rating 0, one output;
* ``joint``: plus a rated head; ranks by P(rated) x P(like | rated) (uniform negatives), raised to the
  exponent its ranking rule chose on validation (``results/objectives.json`` predates the rule: the plain product);
* ``joint-popularity``: the same with negatives drawn by popularity ** 0.75.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from movierec import data, evaluation, training
from movierec.experiment import LIKE_FLOOR, SELECTION_METRIC, finish, fit_candidate, select
from movierec.files import write_json
from movierec.prepared import prepare

VARIANTS = {
    "rating": ({"rated_head": False}, {"negatives": 0}),
    "implicit": ({"rated_head": False}, {"negatives": 4}),
    "joint": ({"rated_head": True}, {"negatives": 4}),
    "joint-popularity": ({"rated_head": True}, {"negatives": 4, "negative_sampling": "popularity"}),
}


def choice(validation: dict[str, dict], variants: list[str]) -> dict:
    """The chosen variant (the floors applied) and the one the metric alone would pick, from validation numbers."""
    among = {name: validation[name] for name in variants}
    return {"chosen": select(among, floors=LIKE_FLOOR), "best_without_floors": select(among),
            "selection_metric": SELECTION_METRIC, "floors": LIKE_FLOOR}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--reselect", type=Path, default=None, help="only redo the choice in this saved run")
    args = parser.parse_args()
    if args.reselect:
        saved = json.loads(args.reselect.read_text())
        chosen = choice(saved["validation"], [name for name in VARIANTS if name in saved["results"]])
        write_json(args.reselect, {**saved, **chosen})
        print(f"chosen on validation: {chosen}")
        return

    prepared = prepare(data.load("ml-1m", args.data_dir))
    base = training.TrainSettings(epochs=args.epochs, refit=False)
    candidates = {}
    for name in args.variants:  # stage 1: fit on train, measure on validation
        model_options, setting_options = VARIANTS[name]
        settings = dataclasses.replace(base, **setting_options)
        candidates[name] = fit_candidate("autointp", prepared, settings, model_options, verbose=2)
        print(evaluation.table({name: candidates[name].validation}), flush=True)
    validation = {name: c.validation for name, c in candidates.items()}
    chosen = choice(validation, list(candidates))  # stage 2: the choice, from validation numbers only
    print(f"chosen on validation: {chosen}")
    results = {}
    for name, candidate in candidates.items():  # stage 3: the test split, read once per variant for the report
        started = time.perf_counter()
        trained = finish(candidate, prepared, verbose=2)
        results[name] = {**trained.evaluation, "epochs_run": len(trained.history["loss"]),
                         "train_seconds": round(candidate.seconds, 1),
                         "test_seconds": round(time.perf_counter() - started, 1),
                         "model_options": VARIANTS[name][0], "settings": candidate.settings.to_dict()}  # fmt: skip
    validation.update(evaluation.evaluate_baselines(prepared, part="validation"))
    results.update(evaluation.evaluate_baselines(prepared))
    print("validation\n" + evaluation.table(validation) + "\ntest\n" + evaluation.table(results))
    if args.out:
        write_json(args.out, {"epochs": args.epochs, "split": prepared.split.describe(), **chosen,
                              "validation": validation, "results": results})  # fmt: skip
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
