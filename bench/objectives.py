"""Training objectives for top-N recommendation, compared in one table on the project split.

    python bench/objectives.py --data-dir ../shared/data --epochs 3 --out results/objectives.json

Every variant is AutoInt+ with the default (untuned) hyperparameters of
``movierec.models``, trained for the same number of epochs (early stopping on
validation AUC may end it sooner, no refit) and evaluated on the test split
under both protocols:

* ``rating``: rated rows only, ordinal loss on the 1-5 rating (the core issue's model);
* ``implicit``: plus k sampled unrated movies per rated row as rating 0, one output;
* ``joint``: plus a rated head; ranks by P(rated) x P(like | rated) (uniform negatives);
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
from movierec.experiment import train_and_evaluate
from movierec.files import write_json
from movierec.prepared import prepare

VARIANTS = {
    "rating": ({"rated_head": False}, {"negatives": 0}),
    "implicit": ({"rated_head": False}, {"negatives": 4}),
    "joint": ({"rated_head": True}, {"negatives": 4}),
    "joint-popularity": ({"rated_head": True}, {"negatives": 4, "negative_sampling": "popularity"}),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    prepared = prepare(data.load("ml-1m", args.data_dir))
    base = training.TrainSettings(epochs=args.epochs, refit=False)
    rows = {}
    if args.out and args.out.exists():  # variants can be run one at a time into the same table
        earlier = json.loads(args.out.read_text())
        if earlier.get("epochs") == args.epochs:
            rows = {k: v for k, v in earlier["results"].items() if k in VARIANTS}
    for name in args.variants:
        model_options, setting_options = VARIANTS[name]
        settings = dataclasses.replace(base, **setting_options)
        started = time.perf_counter()
        trained = train_and_evaluate("autointp", prepared, settings, model_options, verbose=2)
        rows[name] = {**trained.evaluation, "epochs_run": len(trained.history["loss"]),
                      "train_seconds": round(trained.seconds, 1),
                      "total_seconds": round(time.perf_counter() - started, 1),
                      "model_options": model_options, "settings": settings.to_dict()}  # fmt: skip
        print(evaluation.table({name: rows[name]}), flush=True)
        if args.out:
            write_json(args.out, {"epochs": args.epochs, "split": prepared.split.describe(), "results": rows})
    rows.update(evaluation.evaluate_baselines(prepared))
    print(evaluation.table(rows))
    if args.out:
        write_json(args.out, {"epochs": args.epochs, "split": prepared.split.describe(), "results": rows})
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
