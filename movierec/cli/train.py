"""Train AutoInt or AutoInt+ on MovieLens, evaluate it and save the artifacts.

    python -m movierec.train --model autointp --data-dir ../shared/data

Writes ``model/<name>.manifest.json`` (config, fields, vocabularies, data
fingerprint, training settings, history, the validation and test evaluations),
the weights it names in ``model/`` and the encoder in ``data/``, as one set
(``movierec.artifacts``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from movierec import cli


def parse_args(argv=None) -> argparse.Namespace:
    from movierec import training

    defaults = training.TrainSettings()
    parser = cli.tool_parser("python -m movierec.train", __doc__)
    cli.add_training_options(parser, defaults.epochs, "at most; early stopping on validation AUC decides")
    parser.add_argument("--learning-rate", type=float, default=defaults.learning_rate)
    parser.add_argument("--patience", type=int, default=defaults.patience, help="epochs without val AUC gain")
    parser.add_argument("--oov-rate", type=float, default=defaults.oov_rate, help="share of ids trained as unknown")
    parser.add_argument(
        "--no-refit", dest="refit", action="store_false", help="keep the early-stopped model, skip the final refit"
    )
    parser.add_argument(
        "--hyperparameters", type=cli.json_object, default={}, help="JSON overrides, e.g. '{\"embedding_dim\": 32}'"
    )
    parser.add_argument("--no-full-ranking", action="store_true", help="skip the (slower) full-ranking evaluation")
    parser.add_argument(
        "--teacher", type=Path, default=None, metavar="DIR",
        help="distil (movierec.distillation): the fit also learns to match this set, fitted on the training part "
        "alone on the same data and split (bench/tower_width.py --save writes one)",
    )  # fmt: skip
    parser.add_argument(
        "--refit-teacher", type=Path, default=None, metavar="DIR",
        help="with --teacher: the set the refit on train + validation learns to match, itself refitted so (the "
        "shipped set of the teacher's configuration)",
    )  # fmt: skip
    parser.add_argument(
        "--distillation-weight", type=float, default=None,
        help="with --teacher: the matching's weight beside the labels (default 1: they count alike)",
    )  # fmt: skip
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    return cli.run_tool(parse_args, run, argv)


def run(args: argparse.Namespace) -> dict:
    """Fit on train, measure on validation, refit on train + validation, test once, save."""
    from movierec import evaluation, training
    from movierec.artifacts import SERVING_OPTIONS
    from movierec.experiment import finish, fit_candidate
    from movierec.prepared import prepare

    serving = sorted(set(args.hyperparameters) & set(SERVING_OPTIONS))
    if serving:
        cli.fail(f"{serving} are chosen after training, not hyperparameters: the ranking rule by this command on "
                 "validation, the newcomer rescaling by `python -m movierec.evaluate --apply-newuser-choice`; leave "
                 "them out")  # fmt: skip
    if args.teacher is None and args.refit_teacher is not None:
        cli.fail("--refit-teacher goes with --teacher")
    if args.teacher is None and args.distillation_weight is not None:
        cli.fail("--distillation-weight goes with --teacher")
    if args.teacher is not None and args.refit != (args.refit_teacher is not None):
        cli.fail("--teacher teaches the fit on the training part; the refit on train + validation needs a teacher "
                 "refitted so: give --refit-teacher, or --no-refit and no --refit-teacher")  # fmt: skip
    training.distribution_strategy(args.strategy)  # first: MultiWorkerMirroredStrategy insists
    weight = (1.0 if args.distillation_weight is None else args.distillation_weight) if args.teacher else 0.0
    if args.teacher is not None and not (0 < weight < float("inf")):
        cli.fail(f"--distillation-weight must be a positive number, got {weight}")
    settings = cli.train_settings(args, distillation_weight=weight)
    release = cli.load_release(args)
    prepared, full, verbose = prepare(release), not args.no_full_ranking, 0 if args.quiet else "auto"
    teachers = load_teachers(args, release, prepared, weight)
    models = {stage: model for stage, (model, _) in teachers.items()}
    candidate = fit_candidate(args.model, prepared, settings, args.hyperparameters, args.strategy, full, verbose,
                              teacher=models.get("fit"))  # fmt: skip
    trained = finish(candidate, prepared, args.strategy, full, verbose, teacher=models.get("refit"))
    trained.teachers = {stage: record for stage, (_, record) in teachers.items()} or None
    paths = trained.save(args.model_dir, args.encoder_dir)
    if not args.quiet:
        if trained.ranking is None and len(evaluation.ranking_rules(trained.model)) > 1:
            print("ranking rule: not chosen (--no-full-ranking), so the catalogue is ranked by the plain product")
        print(evaluation.table({args.model: trained.evaluation}))
        print(f"saved {paths.weights}, {paths.manifest}, {paths.encoder}")
    return trained.evaluation


def load_teachers(args: argparse.Namespace, release, prepared, weight: float) -> dict[str, tuple]:
    """The teachers ``--teacher`` and ``--refit-teacher`` name, by stage ("fit", "refit"), each as (model, record),
    checked before any training (``experiment.load_teacher``): the first fitted on the training part alone, the
    second refitted, both on this data and split, reading the inputs and giving the outputs of the model to train."""
    from movierec import artifacts, models
    from movierec.experiment import load_teacher

    if args.teacher is None:
        return {}
    try:
        student = models.create(args.model, prepared.vocab_sizes, seed=args.seed, **args.hyperparameters)
    except (TypeError, ValueError) as err:
        cli.fail(f"--hyperparameters: {err}")
    data = {"fingerprint": release.fingerprint(), "split": prepared.split.describe()}
    teachers = {}
    for stage, option, folder in (("fit", "--teacher", args.teacher), ("refit", "--refit-teacher", args.refit_teacher)):
        if folder is None:
            continue
        if folder.resolve() == artifacts.set_folders(args.model_dir, args.encoder_dir)[0].resolve():
            cli.fail(f"{option} {folder} is where this run saves its set, which would replace the teacher's")
        try:
            teachers[stage] = load_teacher(args.model, folder, prepared, data, student, weight, stage == "refit")
        except ValueError as err:
            cli.fail(f"{option} {folder}: {err}")
    return teachers


if __name__ == "__main__":
    main()
