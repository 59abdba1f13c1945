"""Training step of a shipped history-aware model: one history per rated row against a copy per row, in one run.

    python bench/history_speed.py --data-dir ../shared/data [--model autointp] [--steps 30] [--rounds 3]

The model is the shipped configuration of ``--model`` (history, EASE prior,
sampled negatives), freshly initialised, trained on ML-1M's training part
exactly as ``python -m movierec.train`` does (``movierec.training``). The
two pipelines differ in one thing: with a shared history the batch holds one
history per rated row and the model pools it for the row and its sampled
negatives (``AutoInt.pool_history``); the reference copies it to every row,
as the pipeline did before (and still does under a strategy with several
replicas). Both models are warmed up (tracing), then each round times
``--steps`` training steps of each, back to back, so a slow spell of the
machine hits both. Prints every round, the medians and their ratio.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

from movierec import artifacts, data, models, training
from movierec.prepared import prepare


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--model", default="autointp", choices=sorted(models.MODELS))
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    manifest = artifacts.read_manifest(artifacts.manifest_path(args.model))
    settings = training.TrainSettings.from_dict(manifest["training"])
    prepared = prepare(data.load("ml-1m", args.data_dir, download=False))
    runs = {}
    for name, shared in (("copy per row", False), ("shared", True)):
        model = models.create(args.model, prepared.vocab_sizes, seed=settings.seed,
                              **artifacts.hyperparameters(manifest))  # fmt: skip
        if not model.history_length:
            raise SystemExit(f"the shipped {args.model} reads no history: nothing to compare")
        training.compile_model(model, settings)
        batches = training.training_data(model, prepared, ("train",), settings, shared_history=shared).repeat()
        model.fit(batches, steps_per_epoch=3, epochs=1, verbose=0)  # warm-up: tracing
        runs[name] = (model, batches)

    print(f"model={args.model} (shipped configuration: history {runs['shared'][0].history_length} movies, "
          f"{runs['shared'][0].history_pooling} pooling, {settings.negatives} negatives per rated row, "
          f"batch {settings.batch_size} rated rows) steps per round={args.steps} cores={os.cpu_count()}")  # fmt: skip
    times = {name: [] for name in runs}
    for round_ in range(1, args.rounds + 1):
        for name, (model, batches) in runs.items():
            started = time.perf_counter()
            model.fit(batches, steps_per_epoch=args.steps, epochs=1, verbose=0)
            times[name].append((time.perf_counter() - started) / args.steps * 1000)
        print(f"round {round_}: " + "  ".join(f"{name} {v[-1]:.0f} ms/step" for name, v in times.items()), flush=True)
    medians = {name: float(np.median(v)) for name, v in times.items()}
    print("median: " + "  ".join(f"{name} {v:.0f} ms/step" for name, v in medians.items())
          + f"  ratio (shared / copy per row) {medians['shared'] / medians['copy per row']:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
