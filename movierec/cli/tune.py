"""Search AutoInt / AutoInt+ hyperparameters with keras-tuner (Bayesian optimisation on validation AUC).

    python -m movierec.tune --model autointp --trials 12 --data-dir ../shared/data

Trials train on the training part of the documented split and are judged on
its validation part; the test rows are never seen. The search resumes from
``--directory`` when rerun (``--overwrite`` starts over) and the results go
to a CSV (``--csv``, default ``<directory>/<project>/results.csv``).

Distributed: start one chief and any number of workers with the same
arguments, e.g. on one machine::

    export KERASTUNER_ORACLE_IP=127.0.0.1 KERASTUNER_ORACLE_PORT=8000
    KERASTUNER_TUNER_ID=chief   python -m movierec.tune ... &
    KERASTUNER_TUNER_ID=tuner0  python -m movierec.tune ... &
    KERASTUNER_TUNER_ID=tuner1  python -m movierec.tune ...

The chief only hands out trials and collects results; it writes the CSV when
every trial is done.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

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
    parser = Parser(prog="python -m movierec.tune", description=__doc__.split("\n\n")[0])
    add_data_options(parser)
    add_debug_option(parser)
    add_model_options(parser, artifacts=False)
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=4, help="maximum epochs per trial (early stopping applies)")
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--negatives", type=int, default=defaults.negatives)
    parser.add_argument("--negative-sampling", choices=training.SAMPLING, default=defaults.negative_sampling)
    parser.add_argument("--fixed", type=json_object, default={}, help="model options held fixed, as JSON")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--directory", type=Path, default=Path("tuning"))
    parser.add_argument("--project", default=None, help="default: the model name")
    parser.add_argument("--overwrite", action="store_true", help="discard an earlier search in the same place")
    parser.add_argument("--csv", type=Path, default=None)
    parser.add_argument("--strategy", choices=training.STRATEGIES, default="default")
    parser.add_argument("--quiet", action="store_true")
    return parser.parse_args(argv)


def main(argv=None) -> list[dict]:
    args = parse_args(argv)
    with one_line_errors(args.debug):
        return run(args)


def run(args: argparse.Namespace) -> list[dict]:
    """The tool's work, for parsed arguments."""
    from keras_tuner.src.distribute import utils as distribute

    from movierec import data, training, tuning
    from movierec.prepared import prepare

    strategy = training.distribution_strategy(args.strategy) if args.strategy != "default" else None
    try:
        release = data.load(args.dataset, args.data_dir, download=not args.no_download)
    except data.MovieLensError as err:
        fail(str(err))
    prepared = prepare(release)
    try:
        settings = training.TrainSettings(
            epochs=args.epochs, batch_size=args.batch_size, seed=args.seed, refit=False, negatives=args.negatives,
            negative_sampling=args.negative_sampling,
        )  # fmt: skip
    except ValueError as err:  # an out-of-range option: a usage error
        fail(f"{err} (see --help)")
    tuner = tuning.make_tuner(
        args.model, prepared, settings, args.trials, args.directory, args.project, args.overwrite,
        distribution_strategy=strategy, **args.fixed,
    )  # fmt: skip
    tuner.search(verbose=0 if args.quiet else 1)
    if distribute.has_chief_oracle() and not distribute.is_chief_oracle():
        return []  # a worker: the chief holds the complete results
    rows = tuning.results(tuner)
    out = args.csv or Path(tuner.project_dir) / "results.csv"
    tuning.write_csv(rows, out)
    if not args.quiet:
        top = tuning.best(tuner)
        print(f"{len(rows)} trials; best {tuning.OBJECTIVE} {top[tuning.OBJECTIVE]:.4f} "
              f"(val seed NDCG@10 {top['val_seed_ndcg@10']:.4f}) with {json.dumps(top)}")  # fmt: skip
        print(f"wrote {out}")
    return rows


if __name__ == "__main__":
    main()
