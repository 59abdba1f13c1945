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

from movierec import cli


def parse_args(argv=None) -> argparse.Namespace:
    parser = cli.tool_parser("python -m movierec.tune", __doc__, artifacts=False)
    cli.add_training_options(parser, 4, "maximum epochs per trial (early stopping applies)")
    parser.add_argument("--trials", type=cli.positive_int, default=10)
    parser.add_argument("--fixed", type=cli.json_object, default={}, help="model options held fixed, as JSON")
    parser.add_argument("--directory", type=Path, default=Path("tuning"))
    parser.add_argument("--project", default=None, help="default: the model name")
    parser.add_argument("--overwrite", action="store_true", help="discard an earlier search in the same place")
    parser.add_argument("--csv", type=Path, default=None)
    return parser.parse_args(argv)


def main(argv=None) -> list[dict]:
    return cli.run_tool(parse_args, run, argv)


def run(args: argparse.Namespace) -> list[dict]:
    """The search: trials trained on train, judged on validation."""
    from keras_tuner.src.distribute import utils as distribute

    from movierec import training, tuning
    from movierec.prepared import prepare

    strategy = training.distribution_strategy(args.strategy) if args.strategy != "default" else None
    settings = cli.train_settings(args, refit=False)
    prepared = prepare(cli.load_release(args))
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
