"""Evaluate saved AutoInt / AutoInt+ artifacts against the baselines on the test split.

    python -m movierec.evaluate --model autointp --data-dir ../shared/data --out results.json

Prints a table and writes JSON whose top level holds the model's ``auc``,
``logloss``, ``seed_ndcg@10``, ``seed_hr@10``, ``full_ndcg@10`` and
``full_hit@10``, with the same metrics for ``popularity`` and ``movie_mean``
under ``baselines`` (AUC and ranking only: they give no probabilities).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from movierec.cli import add_data_options, add_model_options, fail, write_json


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m movierec.evaluate", description=__doc__.split("\n\n")[0])
    add_data_options(parser)
    add_model_options(parser)
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    parser.add_argument("--no-full-ranking", action="store_true", help="skip the full-ranking protocol")
    parser.add_argument(
        "--allow-other-data", action="store_true", help="evaluate even if the data differs from the training data"
    )
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    from movierec import artifacts, data, evaluation, training

    try:
        model, encoder, manifest = artifacts.load(args.model, args.model_dir, args.encoder_dir)
    except artifacts.ArtifactError as err:
        fail(f"{err}\nretrain with: python -m movierec.train --model {args.model} --data-dir DIR")
    try:
        release = data.load(args.dataset, args.data_dir, download=not args.no_download)
    except data.MovieLensError as err:
        fail(str(err))
    trained_on = manifest.get("data", {}).get("fingerprint")
    if trained_on != release.fingerprint() and not args.allow_other_data:
        fail(
            f"the data in {release.path} is not the data {args.model} was trained on (fingerprint differs), "
            "so its test split would overlap the training rows; pass --allow-other-data to evaluate anyway"
        )
    prepared = training.prepare(release, encoder=encoder)
    full = not args.no_full_ranking
    result = evaluation.evaluate_model(model, prepared, full=full, progress=True)
    reference = evaluation.evaluate_baselines(prepared, full=full)
    print(evaluation.table({args.model: result, **reference}))
    print(f"evaluated in {result['seconds']:.1f} s (model); {len(prepared.split.test):,} test rows")
    payload = {
        "model": args.model,
        **result,
        "baselines": reference,
        "data": {"release": release.name, "path": str(release.path), "split": prepared.split.describe()},
        "protocols": {
            "seed": "rank each test user's own test rows; HR=hits/relevant; IDCG over all relevant (uncapped)",
            "full": "rank every catalogue movie the user has not rated in train+validation; IDCG capped at 10",
        },
    }
    if args.out:
        write_json(args.out, payload)
        print(f"wrote {args.out}")
    return payload


if __name__ == "__main__":
    main()
