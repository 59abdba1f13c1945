"""Time to compute the EASE prior of one training batch, against a pair-by-pair look-up, in one run.

    python bench/prior_speed.py --data-dir ../shared/data [--rounds 20] [--negatives 4]

A stacked model (``ease_l2`` > 0) reads, for every training row, the user's
out-of-fold EASE score of the row's movie, computed inside the ``tf.data``
pipeline (``movierec.prior.OutOfFoldPrior.graph_scorer``). On two cores that
work competes with the training step, so its cost is paid in full.

The batch is a real one: 2048 rated rows of ML-1M's training part, drawn at
random, and ``--negatives`` sampled unrated movies for each, user-major, as
``movierec.pipeline`` lays them out. The reference looks up each row on its
own, with ``B`` in its natural (rated movie, candidate) layout; ours looks up
each person's rated set once for the rated row and its negatives and reads a
candidate-major copy of ``B``. Both run as compiled ``tf.function`` calls,
alternating, after a warm-up; the script checks that they return the same
floats, then prints the median and p95 of each and the ratio.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import tensorflow as tf

from movierec import data
from movierec.negatives import NegativeSampler
from movierec.prepared import prepare
from movierec.prior import OutOfFoldPrior


def pair_by_pair(prior: OutOfFoldPrior):
    """The reference: ``(user rows (rows,), candidate codes (rows,)) -> priors (rows,)``, every row on its own."""
    n_codes = prior.weights.shape[1]
    flat = tf.constant(prior.weights.reshape(-1))  # (folds, rated movie, candidate)
    indptr = tf.constant(prior.rated.indptr.astype(np.int64))
    indices = tf.constant(prior.rated.indices.astype(np.int64))
    fold_of_user = tf.constant(prior.fold_of_user.astype(np.int64))

    @tf.function
    def score(users, candidates):
        users, candidates = tf.cast(users, tf.int64), tf.cast(candidates, tf.int64)
        positions = tf.ragged.range(tf.gather(indptr, users), tf.gather(indptr, users + 1))
        row = positions.value_rowids()
        items = tf.gather(indices, positions.flat_values)
        keys = (tf.gather(tf.gather(fold_of_user, users), row) * n_codes + items) * n_codes
        keys += tf.gather(candidates, row)
        return tf.math.unsorted_segment_sum(tf.gather(flat, keys), row, tf.shape(users)[0])

    return score


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--negatives", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=2048)
    parser.add_argument("--l2", type=float, default=2000.0)
    args = parser.parse_args()

    prepared = prepare(data.load("ml-1m", args.data_dir, download=False))
    frame = prepared.frame("train")
    user_rows = prepared.user_index.get_indexer(frame["user_id"]).astype(np.int32)
    prior = OutOfFoldPrior.of_parts(prepared, ("train",), args.l2)

    rng = np.random.default_rng(0)
    rows = rng.choice(len(frame), args.batch_size, replace=False)
    people = user_rows[rows]
    k = args.negatives
    sampler = NegativeSampler.for_rows(prepared, frame, "uniform")
    movie = prepared.fields.index("movie_id")
    rated_movies = prepared.codes("train")[rows, movie]
    unrated = np.asarray(sampler.negative_rows(prepared.codes("train")[rows], sampler.sample_numpy(people, k, rng), k))
    negative_movies = unrated[:, movie]  # user-major: rated row i's negatives are rows i*k .. i*k + k - 1

    reference = pair_by_pair(prior)
    ref_args = (tf.constant(np.concatenate([people, np.repeat(people, k)])),
                tf.constant(np.concatenate([rated_movies, negative_movies])))  # fmt: skip
    ours_score = tf.function(prior.graph_scorer())
    grouped = np.concatenate([rated_movies[:, None], negative_movies.reshape(-1, k)], axis=1)
    our_args = (tf.constant(people), tf.constant(grouped))

    expected = reference(*ref_args).numpy()
    got = ours_score(*our_args).numpy()
    got = np.concatenate([got[:, 0], got[:, 1:].reshape(-1)])  # back to the batch's row order
    if not np.array_equal(got, expected):
        raise SystemExit(f"the two disagree: largest difference {np.abs(got - expected).max():g}")

    times = {"reference": [], "ours": []}
    for _ in range(args.rounds):
        for name, (fn, fn_args) in {"reference": (reference, ref_args), "ours": (ours_score, our_args)}.items():
            started = time.perf_counter()
            fn(*fn_args)  # eager tensors come back computed
            times[name].append(time.perf_counter() - started)

    rated_per_row = np.diff(prior.rated.indptr)[people].mean()
    print(f"batch: {args.batch_size} rated rows + {k} negatives each = {args.batch_size * (k + 1):,} priors; "
          f"a row's user rated {rated_per_row:.0f} movies on average; {args.rounds} rounds; "
          "same floats: yes")  # fmt: skip
    medians = {}
    for name, label in (("reference", "pair by pair, B as fitted"), ("ours", "per person, B candidate-major")):
        ms = np.asarray(times[name]) * 1000
        medians[name] = float(np.median(ms))
        print(f"{label:<32} median {medians[name]:7.1f} ms   p95 {np.percentile(ms, 95):7.1f} ms")
    print(f"ratio (ours / reference, median): {medians['ours'] / medians['reference']:.2f}")


if __name__ == "__main__":
    main()
