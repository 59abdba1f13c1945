"""Training throughput of AutoInt+ against a straightforward reference, in one run.

    python bench/train_speed.py [--rows 400000] [--epochs 2]

Both models train at the reference settings (embedding 16, 3 interacting
layers x 2 heads of width 8, DNN 32-32, batch 2048) on the same synthetic
codes with ML-1M's vocabulary sizes. The reference fits a pandas frame with
default compile settings; ours runs exactly what ``python -m movierec.train``
runs (``movierec.training``: index-shuffled ``tf.data``, ordinal loss, AUC
metric, unknown-code dropout). Prints samples/s of each and the ratio. The
first epoch (tracing, compilation) is excluded from the timing for both.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import keras
import numpy as np
import pandas as pd
from reference_autoint import reference_autointp

from movierec import models, training
from movierec.features import FIELDS

# Vocabulary sizes (with the OOV row) of the 14 fields fitted on the ML-1M training split.
ML1M_VOCAB = [6041, 3663, 11, 82, 5, 13, 2, 19, 19, 17, 3, 8, 22, 3403]
# Rated rows only (no rated head, no sampled negatives): the reference is a plain CTR model.
SETTINGS = dict(
    embedding_dim=16, attention_layers=3, num_heads=2, attention_dim=8, dnn_units=[32, 32], rated_head=False
)


def synthetic(rows: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    codes = np.stack([rng.integers(1, v, rows) for v in ML1M_VOCAB], axis=1).astype(np.int32)
    return codes, (rng.random(rows) < 0.575).astype(np.float32)


def time_fit(fit_once, rows: int, epochs: int) -> float:
    fit_once(1)  # warm-up epoch: tracing and compilation
    started = time.perf_counter()
    fit_once(epochs)
    return rows * epochs / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=400_000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=2048)
    args = parser.parse_args()
    codes, labels = synthetic(args.rows)

    keras.utils.set_random_seed(0)
    reference = reference_autointp(ML1M_VOCAB)
    reference.compile(optimizer="adam", loss="binary_crossentropy", metrics=[keras.metrics.AUC()])
    frame = pd.DataFrame(codes, columns=list(FIELDS))
    target = pd.Series(labels)
    ref_speed = time_fit(
        lambda n: reference.fit(frame, target, batch_size=args.batch_size, epochs=n, verbose=0), args.rows, args.epochs
    )

    settings = training.TrainSettings(batch_size=args.batch_size, negatives=0)
    ours = models.create("autointp", ML1M_VOCAB, seed=0, **SETTINGS)
    training.compile_model(ours, settings)
    ratings = np.where(labels > 0, 5.0, 2.0).astype(np.float32)  # the ordinal model learns from ratings
    dataset = training.make_dataset(codes, ratings, args.batch_size, shuffle=True, seed=0, oov_rate=settings.oov_rate)
    our_speed = time_fit(lambda n: ours.fit(dataset, epochs=n, verbose=0), args.rows, args.epochs)

    print(f"rows={args.rows:,} epochs={args.epochs} batch={args.batch_size} cores={os.cpu_count()}")
    print(f"reference (tensordot per projection, fit on pandas): {ref_speed:>10,.0f} samples/s")
    print(f"movierec  (python -m movierec.train's pipeline):     {our_speed:>10,.0f} samples/s")
    print(f"speed-up: {our_speed / ref_speed:.2f}x")


if __name__ == "__main__":
    main()
