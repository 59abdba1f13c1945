"""Train AutoInt or AutoInt+ on MovieLens, evaluate it and save the artifacts.

    python -m movierec.train --model autointp --data-dir ../shared/data

Writes ``model/<name>.manifest.json`` (config, fields, vocabularies, data
fingerprint, training settings, history, the validation and test evaluations),
the weights it names in ``model/`` and the encoder in ``data/``, as one set
(``movierec.artifacts``).
"""

from __future__ import annotations

import argparse

from movierec.cli import (
    Parser,
    add_data_options,
    add_debug_option,
    add_model_options,
    fail,
    json_object,
    one_line_errors,
)


def parse_args(argv=None) -> argparse.Namespace:
    from movierec import training

    defaults = training.TrainSettings()
    parser = Parser(prog="python -m movierec.train", description=__doc__.split("\n\n")[0])
    add_data_options(parser)
    add_debug_option(parser)
    add_model_options(parser)
    parser.add_argument("--epochs", type=int, default=defaults.epochs)
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--learning-rate", type=float, default=defaults.learning_rate)
    parser.add_argument("--patience", type=int, default=defaults.patience, help="epochs without val AUC gain")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--oov-rate", type=float, default=defaults.oov_rate, help="share of ids trained as unknown")
    parser.add_argument(
        "--negatives", type=int, default=defaults.negatives, help="sampled unrated movies per rated row (0: none)"
    )
    parser.add_argument("--negative-sampling", choices=training.SAMPLING, default=defaults.negative_sampling)
    parser.add_argument(
        "--no-refit", dest="refit", action="store_false", help="keep the early-stopped model, skip the final refit"
    )
    parser.add_argument(
        "--hyperparameters", type=json_object, default={}, help="JSON overrides, e.g. '{\"embedding_dim\": 32}'"
    )
    parser.add_argument(
        "--strategy", choices=training.STRATEGIES, default="default",
        help="tf.distribute strategy: mirrored (all local devices) or multiworker (machines from TF_CONFIG)",
    )  # fmt: skip
    parser.add_argument("--no-full-ranking", action="store_true", help="skip the (slower) full-ranking evaluation")
    parser.add_argument("--quiet", action="store_true")
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    with one_line_errors(args.debug):
        return run(args)


def run(args: argparse.Namespace) -> dict:
    """The tool's work, for parsed arguments."""
    from movierec import data, evaluation, training
    from movierec.experiment import train_and_evaluate
    from movierec.prepared import prepare

    training.distribution_strategy(args.strategy)  # first: MultiWorkerMirroredStrategy insists
    try:
        settings = training.TrainSettings(
            epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.learning_rate, patience=args.patience,
            seed=args.seed, oov_rate=args.oov_rate, refit=args.refit, negatives=args.negatives,
            negative_sampling=args.negative_sampling,
        )  # fmt: skip
    except ValueError as err:  # an out-of-range option: a usage error
        fail(f"{err} (see --help)")
    try:
        release = data.load(args.dataset, args.data_dir, download=not args.no_download)
    except data.MovieLensError as err:
        fail(str(err))
    trained = train_and_evaluate(
        args.model, prepare(release), settings, args.hyperparameters, args.strategy,
        full_ranking=not args.no_full_ranking, verbose=0 if args.quiet else "auto",
    )  # fmt: skip
    paths = trained.save(args.model_dir, args.encoder_dir)
    if not args.quiet:
        print(evaluation.table({args.model: trained.evaluation}))
        print(f"saved {paths.weights}, {paths.manifest}, {paths.encoder}")
    return trained.evaluation


if __name__ == "__main__":
    main()
