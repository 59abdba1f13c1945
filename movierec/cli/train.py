"""Train AutoInt or AutoInt+ on MovieLens, evaluate it and save the artifacts.

    python -m movierec.train --model autointp --data-dir ../shared/data

Writes ``model/<name>.manifest.json`` (config, fields, vocabularies, data
fingerprint, training settings, history, the validation and test evaluations),
the weights it names in ``model/`` and the encoder in ``data/``, as one set
(``movierec.artifacts``).
"""

from __future__ import annotations

import argparse

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
    training.distribution_strategy(args.strategy)  # first: MultiWorkerMirroredStrategy insists
    settings = cli.train_settings(args)
    prepared, full, verbose = prepare(cli.load_release(args)), not args.no_full_ranking, 0 if args.quiet else "auto"
    candidate = fit_candidate(args.model, prepared, settings, args.hyperparameters, args.strategy, full, verbose)
    trained = finish(candidate, prepared, args.strategy, full, verbose)
    paths = trained.save(args.model_dir, args.encoder_dir)
    if not args.quiet:
        if trained.ranking is None and len(evaluation.ranking_rules(trained.model)) > 1:
            print("ranking rule: not chosen (--no-full-ranking), so the catalogue is ranked by the plain product")
        print(evaluation.table({args.model: trained.evaluation}))
        print(f"saved {paths.weights}, {paths.manifest}, {paths.encoder}")
    return trained.evaluation


if __name__ == "__main__":
    main()
