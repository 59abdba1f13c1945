"""A narrower tower for AutoInt+: what it costs on validation and what it saves in ranking time.

    python bench/tower_width.py --data-dir ../shared/data --units 256 256 256 [--save DIR] [--out FILE] [--reference D]

Half of the 400-wide AutoInt+'s ranking time was its DNN tower's two 400 x 400
layers, at near the arithmetic these cores allow (README, "The app"), so the
ranking-speed target needed a narrower tower, not more serving work. This fits
the reference set's configuration and training settings (``--reference DIR``;
by default the shipped set's) with ``dnn_units`` replaced on the training part
alone (early stopping on validation, no refit), chooses its ranking rule on
validation as training does, and prints its validation numbers beside the
reference configuration's own train-only fit (recorded in its manifest's
``serving.ranking.fit_validation``), both under their own chosen rules. The
test split is not read: this chooses nothing, it says whether a narrower
tower is worth a training run. ``--save`` writes the fit as an artifact set
(into a new or empty folder), which ``bench/rank_speed.py --model-dir DIR
--encoder-dir DIR`` times; run it in the same sitting as a run on the set it
is to be compared with, since this machine's timings drift between sessions.

The shipped AutoInt+ is distilled and records no such fit, so it cannot be the
reference: the widths of these results were fitted beside the 400-wide set it
replaced, ``--reference model/candidates/distilled128/teacher-400-refit``.

``--teacher DIR`` distils (``movierec.distillation``): the narrower tower
also learns to match a set this script saved with ``--save`` from a fit of
the reference's widths (so fitted on the training part alone, as the student is),
with ``--distillation-weight`` (1: the labels and the teacher count alike):

    python bench/tower_width.py --data-dir ../shared/data --units 400 400 400 --save TEACHER --reference REF
    python bench/tower_width.py --data-dir ../shared/data --units 128 128 128 --teacher TEACHER --reference REF

(REF: model/candidates/distilled128/teacher-400-refit, the set these runs compared with.)
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from movierec import artifacts, data, evaluation, experiment, models, training
from movierec.evaluation import rule_name
from movierec.files import recorded_path, sha256_file, write_json
from movierec.prepared import prepare

NAME = "autointp"
COMPARED = ("auc", "logloss", "seed_ndcg@10", "seed_hr@10", "full_ndcg@10", "full_hit@10")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--units", type=int, nargs="+", required=True, help="the tower's layer widths")
    parser.add_argument("--save", type=Path, default=None, help="write the fit here as an artifact set")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--teacher", type=Path, default=None, help="distil from this train-only set (--save's)")
    parser.add_argument("--reference", type=Path, default=None, help="the folder of the set whose configuration and "
                        "train-only fit to compare with (default: the shipped one; the 400-wide AutoInt+ these "
                        "results/tower_width_*.json came from is model/candidates/distilled128/teacher-400-refit)")
    parser.add_argument("--distillation-weight", type=float, default=None, help="with --teacher: the matching's "
                        "weight beside the labels (default 1)")  # fmt: skip
    args = parser.parse_args()
    if args.distillation_weight is not None and args.teacher is None:
        parser.error("--distillation-weight goes with --teacher")
    args.distillation_weight = 1.0 if args.distillation_weight is None else args.distillation_weight
    if not (0 < args.distillation_weight < float("inf")):
        parser.error(f"--distillation-weight must be a positive number, got {args.distillation_weight}")
    if any(width < 1 for width in args.units):
        parser.error(f"--units must be positive widths, got {args.units}")
    # Checked before a fit of half an hour: a set saved over another would replace it and delete its files.
    if args.save is not None and args.save.exists() and (not args.save.is_dir() or any(args.save.iterdir())):
        parser.error(f"--save {args.save}: not an empty folder; name a new one")
    if args.out is not None and args.out.is_dir():
        parser.error(f"--out {args.out} is a folder; name a JSON file")

    manifest = artifacts.read_manifest(artifacts.manifest_path(NAME, args.reference))
    reference = manifest.get("serving", {}).get("ranking", {})
    if "fit_validation" not in reference or "training" not in reference.get("fit", {}):
        raise SystemExit("the reference AutoInt+'s manifest records no train-only fit to compare with "
                         "(python -m movierec.evaluate --choose-ranking-rule makes one; the 400-wide set in "
                         "model/candidates/distilled128/teacher-400-refit has one: --reference it)")  # fmt: skip
    release = data.load("ml-1m", args.data_dir, download=False)
    if release.fingerprint() != manifest.get("data", {}).get("fingerprint"):
        raise SystemExit(f"the data in {release.path} is not the data the reference AutoInt+ was trained on")
    hyperparameters = {**artifacts.hyperparameters(manifest), "dnn_units": list(args.units)}
    # The reference fit's own settings, so the two fits differ in the tower alone.
    fitted_with = training.as_recorded_then(reference["fit"]["training"])
    if fitted_with.get("distillation_weight"):
        raise SystemExit("the reference AutoInt+ was distilled: a fit of another width from its settings would learn "
                         "from the labels alone, so the two fits would differ in more than the tower")  # fmt: skip
    settings = dataclasses.replace(training.TrainSettings.from_dict(fitted_with), refit=False)

    prepared = prepare(release)
    if prepared.split.describe() != manifest["data"].get("split"):
        raise SystemExit("this code splits the data otherwise than the reference AutoInt+'s split: the fits would "
                         "not compare")  # fmt: skip
    described = {"release": release.name, "fingerprint": release.fingerprint(), "split": prepared.split.describe()}
    teacher = None
    if args.teacher is not None:  # a fit of the training part alone, so validation judges it and its student alike
        student = models.create(NAME, prepared.vocab_sizes, seed=settings.seed, **hyperparameters)
        try:
            teacher = experiment.load_teacher(NAME, args.teacher, prepared, described, student,
                                              args.distillation_weight, refitted=False)  # fmt: skip
        except ValueError as err:
            raise SystemExit(f"--teacher {args.teacher}: {err}") from None
        settings = dataclasses.replace(settings, distillation_weight=args.distillation_weight)
    started = time.perf_counter()
    candidate = experiment.fit_candidate(NAME, prepared, settings, hyperparameters, verbose=2,
                                         teacher=None if teacher is None else teacher[0])  # fmt: skip
    seconds = time.perf_counter() - started
    shipped_rule = rule_name((reference["like_exponent"], reference["prior_gain"]))
    rule = rule_name((candidate.ranking["like_exponent"], candidate.ranking["prior_gain"]))
    columns = {f"reference {manifest['config']['dnn_units']}, {shipped_rule}": reference["fit_validation"]}
    if teacher is not None:
        theirs = artifacts.read_manifest(artifacts.manifest_path(NAME, args.teacher))
        taught = theirs.get("serving", {}).get("ranking") or {}
        teacher_rule = rule_name((taught["like_exponent"], taught["prior_gain"])) if taught else "plain rule"
        columns[f"teacher {theirs['config']['dnn_units']}, {teacher_rule}"] = theirs.get("validation", {})
    columns[f"tower {list(args.units)}{' distilled' if teacher else ''}, {rule}"] = candidate.validation
    print("validation, fits on the training part alone:")
    print(evaluation.table({name: {k: v for k, v in numbers.items() if k in COMPARED}
                            for name, numbers in columns.items()}))  # fmt: skip
    print(f"fit and rule choice: {seconds / 60:.1f} min")
    result = {"units": list(args.units), "hyperparameters": hyperparameters, "training": settings.to_dict(),
              "epochs_run": len(candidate.history["loss"]), "history": candidate.history,
              "ranking": candidate.ranking, "validation": candidate.validation,
              "data": described,
              "reference": {"units": manifest["config"]["dnn_units"], "ranking_rule": shipped_rule,
                            "train_only_fit": {k: reference["fit"].get(k) for k in ("folder", "weights_sha256")},
                            "shipped_weights_sha256": manifest["weights"]["sha256"],
                            "validation": reference["fit_validation"]},
              "seconds": round(seconds, 1)}  # fmt: skip
    if teacher is not None:
        result["teacher"] = {**teacher[1], "validation": theirs.get("validation"),
                             "distillation_weight": args.distillation_weight}  # fmt: skip
    if args.save is not None:
        paths = artifacts.save(
            candidate.model, prepared.encoder, NAME, args.save, args.save,
            data=described,
            training={**settings.to_dict(), "history": candidate.history,
                      **({"teachers": {"fit": teacher[1]}} if teacher else {})}, validation=candidate.validation,
            serving={"ranking": candidate.ranking, "trained_by": "bench/tower_width.py"},
        )  # fmt: skip
        result["saved"] = {"folder": recorded_path(args.save), "weights_sha256": sha256_file(paths.weights)}
        print(f"saved in {args.save}")
    if args.out is not None:
        write_json(args.out, result)
        print(f"written to {args.out}")


if __name__ == "__main__":
    main()
