"""A narrower tower for AutoInt+: what it costs on validation and what it saves in ranking time.

    python bench/tower_width.py --data-dir ../shared/data --units 256 256 256 [--save DIR] [--out FILE]

Half of the shipped AutoInt+'s ranking time is its DNN tower's two 400 x 400
layers, at near the arithmetic these cores allow (README, "The app"), so the
ranking-speed target needs a narrower tower, not more serving work. This fits
the shipped configuration and training settings with ``dnn_units`` replaced on
the training part alone (early stopping on validation, no refit), chooses its
ranking rule on validation as training does, and prints its validation
numbers beside the shipped configuration's own train-only fit (recorded in the
shipped manifest's ``serving.ranking.fit_validation``), both under their own
chosen rules. The test split is not read: this chooses nothing, it says
whether a narrower tower is worth a training run. ``--save`` writes the fit
as an artifact set, which ``bench/rank_speed.py --model-dir DIR --encoder-dir
DIR`` times beside the shipped one.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from movierec import artifacts, data, evaluation, experiment, training
from movierec.files import write_json
from movierec.prepared import prepare

ROOT = Path(__file__).resolve().parents[1]
COMPARED = ("auc", "logloss", "seed_ndcg@10", "seed_hr@10", "full_ndcg@10", "full_hit@10")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--units", type=int, nargs="+", required=True, help="the tower's layer widths")
    parser.add_argument("--save", type=Path, default=None, help="write the fit here as an artifact set")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    if any(width < 1 for width in args.units):
        parser.error(f"--units must be positive widths, got {args.units}")

    manifest = artifacts.read_manifest(artifacts.manifest_path("autointp"))
    reference = manifest.get("serving", {}).get("ranking", {})
    if "fit_validation" not in reference:
        raise SystemExit("the shipped AutoInt+'s manifest records no train-only fit to compare with "
                         "(python -m movierec.evaluate --choose-ranking-rule makes one)")  # fmt: skip
    release = data.load("ml-1m", args.data_dir, download=False)
    if release.fingerprint() != manifest.get("data", {}).get("fingerprint"):
        raise SystemExit(f"the data in {release.path} is not the data the shipped AutoInt+ was trained on")
    hyperparameters = {**artifacts.hyperparameters(manifest), "dnn_units": list(args.units)}
    settings = dataclasses.replace(training.TrainSettings.from_dict(manifest["training"]), refit=False)

    prepared = prepare(release)
    started = time.perf_counter()
    candidate = experiment.fit_candidate("autointp", prepared, settings, hyperparameters, verbose=2)
    seconds = time.perf_counter() - started
    shipped_rule = f"like^{reference['like_exponent']:g} prior x{reference['prior_gain']:g}"
    rule = f"like^{candidate.ranking['like_exponent']:g} prior x{candidate.ranking['prior_gain']:g}"
    columns = {f"shipped {manifest['config']['dnn_units']}, {shipped_rule}": reference["fit_validation"],
               f"tower {list(args.units)}, {rule}": candidate.validation}  # fmt: skip
    print("validation, fits on the training part alone:")
    print(evaluation.table({name: {k: v for k, v in numbers.items() if k in COMPARED}
                            for name, numbers in columns.items()}))  # fmt: skip
    print(f"fit and rule choice: {seconds / 60:.1f} min")
    result = {"units": list(args.units), "hyperparameters": hyperparameters, "training": settings.to_dict(),
              "epochs_run": len(candidate.history["loss"]), "history": candidate.history,
              "ranking": candidate.ranking, "validation": candidate.validation,
              "reference": {"units": manifest["config"]["dnn_units"], "weights": manifest["weights"]["sha256"],
                            "ranking_rule": shipped_rule, "validation": reference["fit_validation"]},
              "seconds": round(seconds, 1)}  # fmt: skip
    if args.save is not None:
        paths = artifacts.save(
            candidate.model, prepared.encoder, "autointp", args.save, args.save,
            data={"release": release.name, "fingerprint": release.fingerprint(), "split": prepared.split.describe()},
            training={**settings.to_dict(), "history": candidate.history}, validation=candidate.validation,
            serving={"ranking": candidate.ranking, "trained_by": "bench/tower_width.py"},
        )  # fmt: skip
        result["saved"] = {"folder": str(args.save.resolve()), "weights": paths.weights.name}
        print(f"saved in {args.save}")
    if args.out is not None:
        write_json(args.out, result)
        print(f"written to {args.out}")


if __name__ == "__main__":
    main()
