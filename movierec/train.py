"""Train AutoInt or AutoInt+ on MovieLens, evaluate it and save the artifacts.

    python -m movierec.train --model autointp --data-dir ../shared/data

Writes ``model/<name>.weights.h5``, ``model/<name>.manifest.json`` (config,
fields, vocabularies, data fingerprint, training settings, history and the
test evaluation) and ``data/<name>.encoder.json``.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass

from movierec.cli import add_data_options, add_model_options, fail


def parse_args(argv=None) -> argparse.Namespace:
    from movierec import training

    defaults = training.TrainSettings()
    parser = argparse.ArgumentParser(prog="python -m movierec.train", description=__doc__.split("\n\n")[0])
    add_data_options(parser)
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
        "--hyperparameters", type=json.loads, default={}, help="JSON overrides, e.g. '{\"embedding_dim\": 32}'"
    )
    parser.add_argument(
        "--strategy", choices=training.STRATEGIES, default="default",
        help="tf.distribute strategy: mirrored (all local devices) or multiworker (machines from TF_CONFIG)",
    )  # fmt: skip
    parser.add_argument("--no-full-ranking", action="store_true", help="skip the (slower) full-ranking evaluation")
    parser.add_argument("--quiet", action="store_true")
    return parser.parse_args(argv)


@dataclass
class Trained:
    """What one training run produced: the model, its history and test evaluation, and how it was trained."""

    name: str
    model: object
    prepared: object
    settings: object
    history: dict[str, list[float]]
    evaluation: dict
    seconds: float
    refitted: dict | None = None
    strategy: dict | None = None

    def save(self, model_dir=None, encoder_dir=None):
        """Write weights, manifest and encoder (atomically) where the app reads them, or under the given dirs."""
        from movierec import artifacts

        release = self.prepared.data
        return artifacts.save(
            self.model,
            self.prepared.encoder,
            self.name,
            artifacts.ArtifactPaths.for_model(self.name, model_dir, encoder_dir),
            data={"release": release.name, "fingerprint": release.fingerprint(),
                  "split": self.prepared.split.describe()},
            training={**self.settings.to_dict(), "seconds": round(self.seconds, 1),
                      "epochs_run": len(self.history["loss"]), "history": self.history, "refitted": self.refitted,
                      "strategy": self.strategy},
            evaluation=self.evaluation,
        )  # fmt: skip


def train_and_evaluate(
    name: str,
    prepared,
    settings,
    hyperparameters: dict | None = None,
    strategy: str = "default",
    full_ranking: bool = True,
    verbose: int | str = "auto",
) -> Trained:
    """Train model family ``name`` on a prepared split and evaluate it on the test part.

    The one recipe the CLI and the notebook share: the early-stopped fit, the
    optional refit on train + validation, then the test evaluation under both
    protocols. ``Trained.save`` writes the artifacts.
    """
    from movierec import evaluation, models, training

    distribution = training.distribution_strategy(strategy)
    started = time.perf_counter()
    with distribution.scope():  # variables, optimizer and training steps live on the strategy's devices
        model = models.create(name, prepared.vocab_sizes, seed=settings.seed, **(hyperparameters or {}))
        history = training.fit(model, prepared, settings, verbose=verbose)
        refitted = None
        if settings.refit:
            model, refitted = training.refit(model, prepared, settings, history, verbose=verbose)
    seconds = time.perf_counter() - started
    result = evaluation.evaluate_model(model, prepared, full=full_ranking, progress=verbose not in (0, 2))
    replicas = {"name": strategy, "replicas": distribution.num_replicas_in_sync}
    return Trained(name, model, prepared, settings, history, result, seconds, refitted, replicas)


def main(argv=None) -> dict:
    args = parse_args(argv)
    from movierec import data, evaluation, training

    training.distribution_strategy(args.strategy)  # first: MultiWorkerMirroredStrategy insists
    settings = training.TrainSettings(
        epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.learning_rate, patience=args.patience,
        seed=args.seed, oov_rate=args.oov_rate, refit=args.refit, negatives=args.negatives,
        negative_sampling=args.negative_sampling,
    )  # fmt: skip
    try:
        release = data.load(args.dataset, args.data_dir, download=not args.no_download)
    except data.MovieLensError as err:
        fail(str(err))
    trained = train_and_evaluate(
        args.model, training.prepare(release), settings, args.hyperparameters, args.strategy,
        full_ranking=not args.no_full_ranking, verbose=0 if args.quiet else "auto",
    )  # fmt: skip
    paths = trained.save(args.model_dir, args.encoder_dir)
    if not args.quiet:
        print(evaluation.table({args.model: trained.evaluation}))
        print(f"saved {paths.weights}, {paths.manifest}, {paths.encoder}")
    return trained.evaluation


if __name__ == "__main__":
    main()
